# Which cells to blank: rank cells by how far the fitted scale under-predicts them and,
# with psd_rounds > 0, blank those above psd_threshold and refit (the scale then uses the
# resulting masks, see scale_mask in common.smk).


rule psd_candidates:
    input:
        table="results/{scale}/work/table.parquet",
        info="results/{scale}/work/table.json",
        blanked="results/{scale}/work/blanked.parquet",
        classification=classification_files,
        recodes=recodes_file,
    output:
        candidates="results/{scale}/psd_candidates.tsv",
        rounds="results/{scale}/psd_rounds.tsv",
        blanked="results/{scale}/work/blanked_rounds.parquet",
        info="results/{scale}/work/psd_rounds.json",
    params:
        row=scale_row,
        options=scale_options,
        rounds=config["psd_rounds"],
        threshold=config["psd_threshold"],
        top=config["psd_top"],
        min_count=config["psd_min_count"],
        classifications=config["classifications"],
    log:
        "logs/{scale}/psd_candidates.log",
    resources:
        mem_mb=1500,
        runtime=30,
    script:
        "../scripts/psd_candidates.py"

# Stages 4-7: sparse merging, correspondence analysis, smoothing, standardisation; and,
# from the same fit, the cells the scale under-predicts most (candidate pseudo-diagonals).


rule score_units:
    input:
        table="results/{scale}/work/table.parquet",
        info="results/{scale}/work/table.json",
        blanked=scale_mask,
        classification=classification_files,
        recodes=recodes_file,
    output:
        scores="results/{scale}/work/unit_scores.tsv",
        info="results/{scale}/work/scaling.json",
        candidates="results/{scale}/psd_candidates.tsv",
    params:
        row=scale_row,
        options=scale_options,
        top=config["psd_top"],
        min_count=config["psd_min_count"],
        classifications=config["classifications"],
    log:
        "logs/{scale}/score_units.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/score_units.py"

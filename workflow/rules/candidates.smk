# Blanking rounds (psd_rounds > 0): blank the cells the fitted scale under-predicts above
# psd_threshold and refit, k times; the scale is then built on the resulting masks (see
# scale_mask in common.smk). The candidates of the published scale come from score_units.


rule psd_rounds:
    input:
        table="results/{scale}/work/table.parquet",
        table_info="results/{scale}/work/table.json",
        blanked="results/{scale}/work/blanked.parquet",
        classification=classification_files,
        recodes=recodes_file,
    output:
        rounds_file="results/{scale}/psd_rounds.tsv",
        blanked_rounds="results/{scale}/work/blanked_rounds.parquet",
        rounds_info="results/{scale}/work/psd_rounds.json",
    params:
        options=scale_options,
        rounds=config["psd_rounds"],
        threshold=config["psd_threshold"],
        top=config["psd_top"],
        min_count=config["psd_min_count"],
    log:
        "logs/{scale}/psd_rounds.log",
    resources:
        mem_mb=1500,
        runtime=30,
    script:
        "../scripts/psd_rounds.py"

# Stages 4-7: sparse merging, correspondence analysis, smoothing, standardisation; and,
# from the same fit, every cell the scale under-predicts, ranked (candidate pseudo-diagonals);
# rule psd_candidates keeps the first psd_top of those with psd_min_count pairs, so changing
# either reruns only it.


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
        ranking="results/{scale}/work/psd_ranking.tsv",
    params:
        options=scale_options,
    log:
        "logs/{scale}/score_units.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/score_units.py"


rule psd_candidates:
    input:
        ranking="results/{scale}/work/psd_ranking.tsv",
    output:
        candidates="results/{scale}/psd_candidates.tsv",
    params:
        top=config["psd_top"],
        min_count=config["psd_min_count"],
    log:
        "logs/{scale}/psd_candidates.log",
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/psd_candidates.py"

# Stages 4-7: sparse merging, correspondence analysis, smoothing, standardisation (by status: on
# (occupation, status) units with the title-only masks expanded to every status); and,
# from the same fit, every cell the scale under-predicts, ranked (candidate pseudo-diagonals);
# rule psd_candidates keeps the first psd_top of those with psd_min_count pairs, so changing
# either reruns only it.


rule score_units:
    input:
        table="results/{scale}/work{variant}/table.parquet",
        table_info="results/{scale}/work{variant}/table.json",
        blanked=scale_mask,
        classification=classification_files,
        scheme=variant_scheme_files,
        recodes=recodes_file,
    output:
        scores="results/{scale}/work{variant}/unit_scores.tsv",
        scaling="results/{scale}/work{variant}/scaling.json",
        ranking="results/{scale}/work{variant}/psd_ranking.tsv",
    params:
        options=scale_options,
    log:
        "logs/{scale}/score_units{variant}.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/score_units.py"


rule psd_candidates:
    input:
        ranking="results/{scale}/work{variant}/psd_ranking.tsv",
    output:
        candidates="results/{scale}/psd_candidates{variant}.tsv",
    params:
        top=config["psd_top"],
        min_count=config["psd_min_count"],
    log:
        "logs/{scale}/psd_candidates{variant}.log",
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/psd_candidates.py"

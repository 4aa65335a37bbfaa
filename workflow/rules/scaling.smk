# Stages 4-7: sparse merging, correspondence analysis, smoothing, standardisation (by status: on
# (occupation, status) units with the title-only masks expanded to every status); and,
# from the same fit, every cell the scale under-predicts, ranked (candidate pseudo-diagonals);
# rule psd_candidates keeps the first psd_top of those with psd_min_count pairs, so changing
# either reruns only it.


SCORE_UNITS = Stage(
    "score_units",
    input=dict(
        table="results/{scale}/work{variant}/table.parquet",
        table_info="results/{scale}/work{variant}/table.json",
        blanked=scale_mask,
        classification=classification_files,
        scheme=variant_scheme_files,
        recodes=recodes_file,
    ),
    output=dict(
        scores="results/{scale}/work{variant}/unit_scores.tsv",
        scaling="results/{scale}/work{variant}/scaling.json",
        ranking="results/{scale}/work{variant}/psd_ranking.tsv",
    ),
    params=dict(options=scale_options),
    log="logs/{scale}/score_units{variant}.log",
    resources=dict(mem_mb=2000, runtime=20),
)


rule score_units:
    input:
        **SCORE_UNITS.input,
    output:
        **SCORE_UNITS.output,
    params:
        **SCORE_UNITS.params,
    log:
        SCORE_UNITS.log,
    wildcard_constraints:
        scale=OWN_JOBS,
    resources:
        **SCORE_UNITS.resources,
    script:
        "../scripts/score_units.py"


PSD_CANDIDATES = Stage(
    "psd_candidates",
    input=dict(ranking="results/{scale}/work{variant}/psd_ranking.tsv"),
    output=dict(candidates="results/{scale}/psd_candidates{variant}.tsv"),
    params=dict(top=config["psd_top"], min_count=config["psd_min_count"]),
    log="logs/{scale}/psd_candidates{variant}.log",
    resources=dict(mem_mb=500, runtime=5),
)


rule psd_candidates:
    input:
        **PSD_CANDIDATES.input,
    output:
        **PSD_CANDIDATES.output,
    params:
        **PSD_CANDIDATES.params,
    log:
        PSD_CANDIDATES.log,
    wildcard_constraints:
        scale=OWN_JOBS,
    resources:
        **PSD_CANDIDATES.resources,
    script:
        "../scripts/psd_candidates.py"

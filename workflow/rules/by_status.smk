# Occupation-by-status units (scales whose sheet row names status1, status2 and statuses):
# the (occ1, status1) x (occ2, status2) table, stages 4-7 on it with the title-only masks
# expanded to every status, and the by-status score file in the layout of the published v2.


rule tabulate_by_status:
    input:
        data=input_file,
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        table="results/{scale}/work/by_status/table.parquet",
        info="results/{scale}/work/by_status/table.json",
    params:
        occ1=sheet("occ1"),
        occ2=sheet("occ2"),
        status1=sheet("status1"),
        status2=sheet("status2"),
        weight=sheet("weight"),
        where=sheet("filter"),
        sep=sheet("sep"),
        encoding=sheet("encoding"),
        weight_type=sheet("weight_type", "survey"),
        chunksize=config["chunksize"],
        on_missing_weight=config["on_missing_weight"],
    log:
        "logs/{scale}/tabulate_by_status.log",
    resources:
        mem_mb=3000,
        runtime=60,
    script:
        "../scripts/tabulate_by_status.py"


rule score_units_by_status:
    input:
        table="results/{scale}/work/by_status/table.parquet",
        info="results/{scale}/work/by_status/table.json",
        blanked=scale_mask,
        classification=classification_files,
        scheme=status_scheme_files,
        recodes=recodes_file,
    output:
        scores="results/{scale}/work/by_status/unit_scores.tsv",
        scaling="results/{scale}/work/by_status/scaling.json",
    params:
        options=scale_options,
    log:
        "logs/{scale}/score_units_by_status.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/score_units_by_status.py"


rule score_file_by_status:
    input:
        scores="results/{scale}/work/by_status/unit_scores.tsv",
        scaling="results/{scale}/work/by_status/scaling.json",
        table="results/{scale}/work/by_status/table.json",
        title="results/{scale}/{scale}.csv",
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        dta=report("results/{scale}/{scale}_by_status.dta", caption="../report/by_status_file.rst", category="Score files"),
        csv="results/{scale}/{scale}_by_status.csv",
    params:
        sheet_row=sheet_row,  # provenance: the notes record the whole row and config, as score_file's do
        config=dict(sorted(config.items())),
    log:
        "logs/{scale}/score_file_by_status.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/score_file_by_status.py"

# Stages 8-9: every code of the classification scored, written as .dta, .csv and a summary.


rule score_file:
    input:
        unpack(score_file_extras),
        scores="results/{scale}/work/unit_scores.tsv",
        scaling="results/{scale}/work/scaling.json",
        table="results/{scale}/work/table.json",
        blanking="results/{scale}/work/blanking.json",
        classification=classification_files,
    output:
        dta=report("results/{scale}/{scale}.dta", caption="../report/score_file.rst", category="Score files"),
        csv="results/{scale}/{scale}.csv",
        summary="results/{scale}/summary.json",
    params:
        sheet_row=sheet_row,  # provenance: the notes and summary.json record the whole row and config
        config=dict(sorted(config.items())),  # in a fixed order, or the order of --config options would force a rerun
    log:
        "logs/{scale}/score_file.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/score_file.py"


# snakemake release: every scale's published files (README "Publishing a scale").
rule release_scale:
    input:
        dta="results/{scale}/{scale}.dta",
        summary="results/{scale}/summary.json",
    output:
        folder=directory("results/{scale}/release"),
        zip="results/{scale}/{scale}_release.zip",
    params:
        version=sheet("version", ""),
        title=sheet("title", ""),
        author=sheet("author", ""),
        defaults=config["release"],
    log:
        "logs/{scale}/release.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/release.py"

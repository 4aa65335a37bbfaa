# Stages 8-9: every code of the classification scored, written as .dta, .csv and a summary; by status,
# the by-status file in the layout of the published v2 (its status-0 rows are the title-only file's).


SCORE_FILE = Stage(
    "score_file",
    input=dict(
        scores="results/{scale}/work{variant}/unit_scores.tsv",
        scaling="results/{scale}/work{variant}/scaling.json",
        table_info="results/{scale}/work{variant}/table.json",
        blanking="results/{scale}/work/blanking.json",
        classification=classification_files,
        scheme=variant_scheme_files,
        bootstrap=input_if("results/{scale}/bootstrap{variant}/summary.tsv", bootstrap_on),
        bootstrap_info=input_if("results/{scale}/bootstrap{variant}/bootstrap.json", bootstrap_on),
        psd_rounds=input_if("results/{scale}/work/psd_rounds.json",
                            lambda wildcards: config["psd_rounds"] > 0 and not wildcards.variant),
        title_csv=input_if("results/{scale}/{scale}.csv", by_status_job),
        by_status_table=input_if("results/{scale}/work_by_status/table.json", title_job_of_a_scale_by_status),
        by_status_scaling=input_if("results/{scale}/work_by_status/scaling.json", title_job_of_a_scale_by_status),
        by_status_bootstrap_info=input_if("results/{scale}/bootstrap_by_status/bootstrap.json",
                                          lambda wildcards: title_job_of_a_scale_by_status(wildcards)
                                          and bootstrap_on(wildcards)),
    ),
    output=dict(
        dta=Reported("results/{scale}/{scale}{variant}.dta", caption="../report/score_file.rst",
                     category="Score files"),
        csv="results/{scale}/{scale}{variant}.csv",
        summary="results/{scale}/summary{variant}.json",
    ),
    params=dict(
        sheet_row=sheet_row,  # provenance: the notes and summary.json record the cells and config that make the numbers
        config=PROVENANCE_CONFIG,
    ),
    log="logs/{scale}/score_file{variant}.log",
    resources=dict(mem_mb=1500, runtime=10),
)


rule score_file:
    input:
        **SCORE_FILE.input,
    output:
        **SCORE_FILE.output,
    params:
        **SCORE_FILE.params,
    log:
        SCORE_FILE.log,
    wildcard_constraints:
        scale=OWN_JOBS,
    resources:
        **SCORE_FILE.resources,
    script:
        "../scripts/score_file.py"


# snakemake release: every scale's published files (docs/publishing.md). Every file of
# results/{scale}/release/ is a declared output (no directory() output, whose marker file
# .snakemake_timestamp would sit in the published folder outside SHA256SUMS and the zip).


rule release_table:
    input:
        dta="results/{scale}/{table}.dta",
        summary="results/{scale}/summary.json",
    output:
        dta="results/{scale}/release/{table}.dta",
        sav="results/{scale}/release/{table}.sav",
        tsv="results/{scale}/release/{table}.tsv",
    wildcard_constraints:
        table="[^/]+",
    log:
        "logs/{scale}/release_{table}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/release_table.py"


rule release_scale:
    input:
        tables=release_tables,
        summary="results/{scale}/summary.json",
        scheme=release_scheme_files,
    output:
        readme="results/{scale}/release/{scale}_readme.txt",
        do="results/{scale}/release/{scale}_match.do",
        sps="results/{scale}/release/{scale}_match.sps",
        r="results/{scale}/release/{scale}_match.R",
        cff="results/{scale}/release/CITATION.cff",
        sums="results/{scale}/release/SHA256SUMS",
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

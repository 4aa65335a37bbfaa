# Stages 1-3: read the pairs into an occ1 x occ2 table, then mark the blanked cells.
#
# Rules with a {variant} wildcard serve both kinds of units: "" the title-only scale, "_by_status"
# its occupation-by-status units (scales whose sheet row names statuses; docs/by-status.md). The
# variant's step is the same function, given the status scheme's files (variant_scheme_files).


# An IPUMS extract is decoded once for the whole sheet: its scales (one per sample) read the
# variables they use from results/inputs/work/{extract}.parquet, not from the fixed-width records.
rule decode_input:
    input:
        data=extract_files,
    output:
        cache="results/inputs/work/{extract}.parquet",
        info="results/inputs/work/{extract}.json",
    wildcard_constraints:
        extract="|".join(re.escape(key) for key in EXTRACTS) or r"(?!)",
    params:
        variables=lambda wildcards: extract_variables(wildcards.extract),
        chunksize=config["chunksize"],
        input_sha256=lambda wildcards: contents_checksum(EXTRACTS[wildcards.extract]),
    log:
        "logs/inputs/{extract}.log",
    resources:
        mem_mb=3000,
        runtime=120,
    script:
        "../scripts/decode_input.py"


# One rule for both units: a scale whose sheet row names a status scheme is also tabulated by
# (occupation, status), the same rule with {variant} "_by_status" (its work files under
# results/{scale}/work_by_status/); its title-only table is the same rule's other job. Declared
# as a Stage (common.smk), so that with scales_per_job > 1 a job of rules/batches.smk can
# tabulate a batch of scales.
TABULATE = Stage(
    "tabulate",
    input=dict(
        data=input_file,
        decoded=decoded_files,
        classification=classification_files,
        scheme=variant_scheme_files,
    ),
    output=dict(
        table="results/{scale}/work{variant}/table.parquet",
        table_info="results/{scale}/work{variant}/table.json",
    ),
    params=dict(
        occ1=sheet("occ1"),
        occ2=sheet("occ2"),
        status1=variant_sheet("status1"),
        status2=variant_sheet("status2"),
        weight=sheet("weight"),
        where=sheet("filter"),
        sep=sheet("sep"),
        encoding=sheet("encoding"),
        weight_type=sheet("weight_type", "survey"),
        layout=sheet("layout", "couples"),
        person=sheet("person"),
        partner=sheet("partner"),
        household=sheet("household"),
        sex=sheet("sex"),
        first_sex=sheet("first_sex"),
        occ=sheet("occ"),
        status=variant_sheet("status"),
        wave=sheet("wave"),
        repeat_couples=sheet("repeat_couples", config["repeat_couples"]),
        chunksize=config["chunksize"],
        on_missing_weight=config["on_missing_weight"],
        input_sha256=input_checksum,
    ),
    log="logs/{scale}/tabulate{variant}.log",
    resources=dict(mem_mb=3000, runtime=60),
)


rule tabulate:
    input:
        **TABULATE.input,
    output:
        **TABULATE.output,
    params:
        **TABULATE.params,
    log:
        TABULATE.log,
    wildcard_constraints:
        scale=OWN_JOBS,
    resources:
        **TABULATE.resources,
    script:
        "../scripts/tabulate.py"


BLANK = Stage(
    "blank",
    input=dict(
        table="results/{scale}/work/table.parquet",
        table_info="results/{scale}/work/table.json",
        classification=classification_files,
        psds=sheet_file("psds", "pseudo-diagonal file"),
        psds_smooth=sheet_file("psds_smooth", "pseudo-diagonal file"),
    ),
    output=dict(
        blanked="results/{scale}/work/blanked.parquet",
        blanking="results/{scale}/work/blanking.json",
    ),
    params=dict(
        diagonal_digits=sheet("diagonal_digits"),
        diagonal_groups=sheet("diagonal_groups", ""),
    ),
    log="logs/{scale}/blank.log",
    resources=dict(mem_mb=1500, runtime=10),
)


rule blank:
    input:
        **BLANK.input,
    output:
        **BLANK.output,
    params:
        **BLANK.params,
    log:
        BLANK.log,
    wildcard_constraints:
        scale=OWN_JOBS,
    resources:
        **BLANK.resources,
    script:
        "../scripts/blank.py"

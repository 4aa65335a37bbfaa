# Uncertainty: B bootstrap replicates of the couples, each its own job (they spread over cores
# and cluster nodes), gathered into per-code bootstrap SEs and intervals, and plausible values.


rule bootstrap_replicate:
    input:
        table="results/{scale}/work/table.parquet",
        info="results/{scale}/work/table.json",
        blanked=scale_mask,
        classification=classification_files,
        recodes=recodes_file,
    output:
        scores="results/{scale}/bootstrap/replicate_{r}.tsv",
    wildcard_constraints:
        r=r"\d+",
    params:
        options=SCALE_OPTIONS,
        seed=config["bootstrap_seed"],
    log:
        "logs/{scale}/bootstrap/replicate_{r}.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/bootstrap_replicate.py"


rule bootstrap_gather:
    input:
        replicates=bootstrap_replicates,
        scores="results/{scale}/work/unit_scores.tsv",
        classification=classification_files,
    output:
        summary="results/{scale}/bootstrap/summary.tsv",
        replicates="results/{scale}/bootstrap/replicates.parquet",
        info="results/{scale}/bootstrap/bootstrap.json",
    params:
        seed=config["bootstrap_seed"],
    log:
        "logs/{scale}/bootstrap/gather.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/bootstrap_gather.py"


rule plausible_values:
    input:
        replicates="results/{scale}/bootstrap/replicates.parquet",
        classification=classification_files,
    output:
        dta="results/{scale}/plausible.dta",
    params:
        m=config["plausible_values"],
        seed=config["bootstrap_seed"],
    log:
        "logs/{scale}/plausible_values.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/plausible_values.py"

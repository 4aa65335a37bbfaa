# Uncertainty: B bootstrap replicates of the couples, drawn and rebuilt in batches (one job per
# batch of bootstrap_batch replicates: the batches spread over cores and cluster nodes, the
# replicates of a batch share one process), gathered into per-code bootstrap SEs and intervals,
# and plausible values. By status ({variant} "_by_status"), replicate r resamples the couples of the
# title-only replicate r (the same stream), spread over the statuses of each occupation cell.


rule bootstrap_batch:
    input:
        table="results/{scale}/work/table.parquet",
        table_info="results/{scale}/work/table.json",
        blanked=scale_mask,
        classification=classification_files,
        scheme=variant_scheme_files,
        status_table=input_if("results/{scale}/work{variant}/table.parquet", by_status_job),
        status_table_info=input_if("results/{scale}/work{variant}/table.json", by_status_job),
        recodes=recodes_file,
    output:
        batch="results/{scale}/bootstrap{variant}/batch_{b}.parquet",
    wildcard_constraints:
        b=r"\d+",
    params:
        options=scale_options,
        replicates=batch_replicates,
        seed=config["bootstrap_seed"],
    log:
        "logs/{scale}/bootstrap{variant}/batch_{b}.log",
    # The longest jobs of a build: started first, so the rest of the build fills the other cores.
    priority: 10
    resources:
        mem_mb=2000,
        # a replicate takes about 0.1 s of CPU on the demo (412 units); a minute a replicate is ample
        runtime=lambda wildcards: 10 + len(batch_replicates(wildcards)),
    script:
        "../scripts/bootstrap_batch.py"


rule bootstrap_gather:
    input:
        batches=bootstrap_batch_files,
        scores="results/{scale}/work{variant}/unit_scores.tsv",
        classification=classification_files,
        scheme=variant_scheme_files,
    output:
        summary="results/{scale}/bootstrap{variant}/summary.tsv",
        replicates="results/{scale}/bootstrap{variant}/replicates.parquet",
        bootstrap_info="results/{scale}/bootstrap{variant}/bootstrap.json",
    params:
        bootstrap=config["bootstrap"],
        seed=config["bootstrap_seed"],
    log:
        "logs/{scale}/bootstrap{variant}/gather.log",
    # On the way from the batches to the score files: before the side jobs that wait with it.
    priority: 5
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/bootstrap_gather.py"


rule plausible_values:
    input:
        replicates="results/{scale}/bootstrap{variant}/replicates.parquet",
        summary="results/{scale}/bootstrap{variant}/summary.tsv",
        classification=classification_files,
        scheme=variant_scheme_files,
        title_replicates=input_if("results/{scale}/bootstrap/replicates.parquet", by_status_job),
        title_summary=input_if("results/{scale}/bootstrap/summary.tsv", by_status_job),
    output:
        dta="results/{scale}/plausible{variant}.dta",
    params:
        m=config["plausible_values"],
        seed=config["bootstrap_seed"],
        clip=config["clip"],
    log:
        "logs/{scale}/plausible_values{variant}.log",
    # A file no later job reads: after the score files on the way to the plots, not before them.
    priority: -10
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/plausible_values.py"

# Many scales in few jobs (config scales_per_job > 1; docs/census.md): each batched stage of a batch
# of scales (common.smk, scale_batches) is one job, which runs the stage's own rule script for each
# of its scales (camsis.runner.run_batch). Such a job declares what its scales' own jobs would (the
# stage's Stage data, filled in for each scale), so the files, params and logs are the same, and
# the per-scale rule leaves these scales to it (wildcard_constraints: scale=OWN_JOBS).

BATCHED_STAGES = [TABULATE, BLANK, SCORE_UNITS, PSD_CANDIDATES, SCORE_FILE] + ([PLOTS] if config["plots"] else [])


def batch_input(jobs):
    """Every input file of the batch's scales, once each, in order."""
    files = [path for job in jobs for value in job["input"].values()
             for path in ([value] if isinstance(value, str) else value)]
    return list(dict.fromkeys(files))


for number, batch in enumerate(SCALE_BATCHES, start=1):
    for stage in BATCHED_STAGES:
        jobs = [stage.job(scale) for scale in batch]

        rule:
            name:
                f"{stage.name}_batch{number}"
            input:
                batch_input(jobs),
            output:
                stage.batch_output(batch),
            params:
                rule=stage.name,
                jobs=jobs,
            log:
                [job["log"][0] for job in jobs],
            resources:
                mem_mb=stage.resources["mem_mb"],
                runtime=stage.resources["runtime"] * len(batch),
            script:
                "../scripts/batch.py"

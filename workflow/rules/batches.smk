# Many scales in few jobs (config scales_per_job > 1; docs/census.md): a batch of scales
# (common.smk, scale_batches) is built in few jobs, each running a run of consecutive stages for
# every scale of the batch, one scale after another, by the stages' own rule scripts
# (camsis.runner.run_batch). By default that is two jobs: tabulate to score_file, then the plots. A
# run is cut where a stage needs a file that another rule makes from the run's own (the psd rounds'
# masks before score_units, the bootstrap's summary before score_file), so that no job waits on
# itself. Such a job declares what its scales' own jobs would (the stages' Stage data, filled in
# for each scale), so the files, params and logs are the same, and the per-scale rules leave these
# scales to it (wildcard_constraints: scale=OWN_JOBS).

SCORING_STAGES = [TABULATE, BLANK, SCORE_UNITS, PSD_CANDIDATES, SCORE_FILE]


def files_of(jobs, kind):
    """The files of the jobs' inputs or outputs, once each, in order."""
    files = [str(path) for job in jobs for value in job[kind].values()
             for path in ([value] if isinstance(value, (str, Path)) else value)]
    return list(dict.fromkeys(files))


def made_by_a_rule(path):
    return any(rule.is_producer(path) for rule in workflow.rules)


def batch_runs(batch):
    """The batch's jobs as runs of consecutive stages (stage -> its jobs, one a scale), cut where a
    stage needs a file some rule makes that the run's earlier stages do not."""
    runs, made = [], set()
    for stage in SCORING_STAGES:
        jobs = [stage.job(scale) for scale in batch]
        if not runs or any(path not in made and made_by_a_rule(path) for path in files_of(jobs, "input")):
            runs.append({})
            made = set()
        runs[-1][stage] = jobs
        made |= set(files_of(jobs, "output"))
    if config["plots"]:
        runs.append({PLOTS: [PLOTS.job(scale) for scale in batch]})
    return runs


for number, batch in enumerate(SCALE_BATCHES, start=1):
    for run in batch_runs(batch):
        members = list(run)
        jobs = [job for stage_jobs in run.values() for job in stage_jobs]
        made = set(files_of(jobs, "output"))

        rule:
            name:
                f"{'_to_'.join(dict.fromkeys([members[0].name, members[-1].name]))}_batch{number}"
            input:
                [path for path in files_of(jobs, "input") if path not in made],
            output:
                [path for stage in members for path in stage.batch_output(batch)],
            params:
                stages={stage.name: stage_jobs for stage, stage_jobs in run.items()},
            log:
                [job["log"][0] for job in jobs],
            resources:
                mem_mb=max(stage.resources["mem_mb"] for stage in members),
                runtime=sum(stage.resources["runtime"] for stage in members) * len(batch),
            script:
                "../scripts/batch.py"

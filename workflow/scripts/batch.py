"""Rules <stage>_batch<n> (scales_per_job > 1): the stage's rule script, run for each scale of the batch
(camsis.runner.run_batch)."""

from pathlib import Path

from camsis.runner import run_batch

run_batch(snakemake.params.rule, snakemake.params.jobs, Path(snakemake.scriptdir) / f"{snakemake.params.rule}.py")

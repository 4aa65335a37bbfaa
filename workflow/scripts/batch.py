"""Rules scores_batch<n> and plots_batch<n> (scales_per_job > 1): each of the batch's scales through
the job's stages, by the stages' own rule scripts (camsis.runner.run_batch)."""

from pathlib import Path

from camsis.runner import run_batch

run_batch(snakemake.rule, snakemake.params.stages, Path(snakemake.scriptdir))

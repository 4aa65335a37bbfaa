"""Rules <first stage>_to_<last stage>_batch<n> and plots_batch<n> (scales_per_job > 1, rules/batches.smk):
each of the batch's scales through the job's stages, by the stages' own rule scripts (camsis.runner.run_batch)."""

from pathlib import Path

from camsis.runner import run_batch

run_batch(snakemake.rule, snakemake.params.stages, Path(snakemake.scriptdir))

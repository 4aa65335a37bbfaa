"""Rule bootstrap_batch: resample the couples and rebuild the unit scores, once per replicate of the batch (camsis.steps.bootstrap_batch)."""

from camsis import steps
from camsis.runner import first, run


def main(snakemake):
    i, p = snakemake.input, snakemake.params
    files = steps.ScaleFiles(i.table, i.info, i.blanked, i.classification, first(i.recodes))
    steps.bootstrap_batch(files, snakemake.output.batch, replicates=p.replicates, seed=p.seed, **p.options)


run(main, snakemake)

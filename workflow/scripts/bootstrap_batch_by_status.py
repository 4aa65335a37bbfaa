"""Rule bootstrap_batch_by_status: one batch's title-only and by-status replicates, the couples drawn once (camsis.steps.bootstrap_batch_by_status)."""

from camsis import steps
from camsis.runner import first, run


def main(snakemake):
    i, p = snakemake.input, snakemake.params
    files = steps.ScaleFiles(i.title_table, i.title_info, i.blanked, i.classification, first(i.recodes))
    steps.bootstrap_batch_by_status(files, i.table, i.info, i.scheme, snakemake.output.title_batch,
                                    snakemake.output.batch, replicates=p.replicates, seed=p.seed, **p.options)


run(main, snakemake)

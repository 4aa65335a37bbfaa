"""Rule bootstrap_batch_by_status: the by-status replicates of one batch, the same couples as the title-only ones (camsis.steps.bootstrap_batch_by_status)."""

from camsis import steps
from camsis.runner import first, run


def main(snakemake):
    i, p = snakemake.input, snakemake.params
    steps.bootstrap_batch_by_status(i.title_table, i.title_info, i.table, i.info, i.blanked, i.classification,
                                    i.scheme, snakemake.output.batch, replicates=p.replicates, seed=p.seed,
                                    recodes=first(i.recodes), **p.options)


run(main, snakemake)

"""Rule bootstrap_batch: resample the couples and rebuild the unit scores, once per replicate of the batch (camsis.steps.bootstrap_batch)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, p = snakemake.input, snakemake.params
    files = steps.ScaleFiles(table=i.table, table_info=i.table_info, blanked=i.blanked,
                             classification=i.classification, recodes=given(i.recodes))
    status_table = given(i.status_table) and steps.StatusTableFiles(table=given(i.status_table),
                                                                     table_info=given(i.status_table_info))
    steps.bootstrap_batch(files, batch=snakemake.output.batch, replicates=p.replicates, seed=p.seed, scheme=given(i.scheme),
                          status_table=status_table, **p.options)


run(main, snakemake)

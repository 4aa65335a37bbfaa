"""Rule bootstrap_batch: resample the couples and rebuild the unit scores, once per replicate of the batch (camsis.steps.bootstrap_batch)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, p = snakemake.input, snakemake.params
    files = steps.ScaleFiles(i.table, i.info, i.blanked, i.classification, given(i.recodes))
    status_table = steps.StatusTableFiles(i.status_table, i.status_info) if "status_table" in i.keys() else None
    steps.bootstrap_batch(files, snakemake.output.batch, replicates=p.replicates, seed=p.seed, scheme=given(i.scheme),
                          status_table=status_table, **p.options)


run(main, snakemake)

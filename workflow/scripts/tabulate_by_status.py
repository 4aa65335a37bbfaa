"""Rule tabulate_by_status: the (occ1, status1) x (occ2, status2) table (camsis.steps.tabulate_by_status)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    steps.tabulate_by_status(i.data, i.classification, i.scheme, o.table, o.info, **dict(snakemake.params.items()))


run(main, snakemake)

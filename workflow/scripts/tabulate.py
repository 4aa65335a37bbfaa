"""Rule tabulate: read the couples in chunks into an occ1 x occ2 table (camsis.steps.tabulate)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    steps.tabulate(i.data, i.classification, o.table, o.info, decoded=list(i.get("decoded", [])),
                   **dict(snakemake.params.items()))


run(main, snakemake)

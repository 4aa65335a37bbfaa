"""Rule tabulate: read the couples in chunks into an occ1 x occ2 table (camsis.steps.tabulate)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    params = dict(snakemake.params.items())
    checksum = params.pop("input_sha256", None)
    steps.tabulate(data=i.data, classification=i.classification, table=o.table, table_info=o.table_info,
                   spec=steps.InputSpec(**params), scheme=given(i.scheme), decoded=list(i.decoded),
                   input_sha256=checksum)


run(main, snakemake)

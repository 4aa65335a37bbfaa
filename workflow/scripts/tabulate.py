"""Rule tabulate: read the couples in chunks into an occ1 x occ2 table (camsis.steps.tabulate)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    params = dict(snakemake.params.items())
    checksum = params.pop("input_sha256", None)
    steps.tabulate(i.data, i.classification, o.table, o.info, steps.InputSpec(**params),
                   scheme=given(i.scheme), decoded=list(i.get("decoded", [])), input_sha256=checksum)


run(main, snakemake)

"""Rule tabulate_by_status: the title-only and the (occ1, status1) x (occ2, status2) tables (camsis.steps.tabulate_by_status)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    params = dict(snakemake.params.items())
    checksum = params.pop("input_sha256", None)
    steps.tabulate_by_status(i.data, i.classification, i.scheme, o.title_table, o.title_info, o.table, o.info,
                             steps.InputSpec(**params), decoded=list(i.get("decoded", [])), input_sha256=checksum)


run(main, snakemake)

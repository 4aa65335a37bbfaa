"""Rule blank: mark the diagonal and pseudo-diagonal cells (camsis.steps.blank)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    steps.blank(table=i.table, table_info=i.table_info, classification=i.classification, blanked=o.blanked,
                blanking=o.blanking, scale=snakemake.wildcards.scale, psds=given(i.psds),
                psds_smooth=given(i.psds_smooth), **dict(snakemake.params.items()))


run(main, snakemake)

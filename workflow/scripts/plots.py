"""Rule plots (both variants): the diagnostic figures of one scale (camsis.diagnostics.plots)."""

from camsis import diagnostics
from camsis.runner import given, run


def main(snakemake):
    i = snakemake.input
    diagnostics.plots(scores=i.scores, scaling=i.scaling, csv=i.csv, classification=i.classification,
                figures=dict(snakemake.output.items()),
                scale=snakemake.wildcards.scale, scheme=given(i.scheme), **dict(snakemake.params.items()))


run(main, snakemake)

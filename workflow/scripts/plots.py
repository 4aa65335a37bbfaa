"""Rules plots(_by_status): the diagnostic figures of one scale (camsis.steps.plots)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i = snakemake.input
    steps.plots(scores=i.scores, scaling=i.scaling, csv=i.csv, classification=i.classification,
                figures=dict(snakemake.output.items()),
                scale=snakemake.wildcards.scale, scheme=given(i.scheme), **dict(snakemake.params.items()))


run(main, snakemake)

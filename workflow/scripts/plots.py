"""Rule plots: the diagnostic figures of one scale (camsis.steps.plots)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i = snakemake.input
    steps.plots(i.scores, i.scaling, i.csv, i.classification, dict(snakemake.output.items()),
                scale=snakemake.wildcards.scale, **dict(snakemake.params.items()))


run(main, snakemake)

"""Rule score_units: stages 4-7, and the ranked candidate pseudo-diagonals of the same fit (camsis.steps.score_units)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    files = steps.ScaleFiles(i.table, i.info, i.blanked, i.classification, given(i.recodes))
    steps.score_units(files, o.scores, o.info, o.ranking, scheme=given(i.scheme), **p.options)


run(main, snakemake)

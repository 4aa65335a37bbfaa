"""Rule score_units: stages 4-7, and the ranked candidate pseudo-diagonals of the same fit (camsis.steps.score_units)."""

from camsis import steps
from camsis.runner import first, run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    steps.score_units(i.table, i.info, i.blanked, i.classification, o.scores, o.info, o.ranking,
                      recodes=first(i.recodes), **p.options)


run(main, snakemake)

"""Rule score_units: stages 4-7, and the ranked candidate pseudo-diagonals of the same fit (camsis.steps.score_units)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    files = steps.ScaleFiles(table=i.table, table_info=i.table_info, blanked=i.blanked,
                             classification=i.classification, recodes=given(i.recodes))
    steps.score_units(files, scores=o.scores, scaling=o.scaling, ranking=o.ranking, scheme=given(i.scheme),
                      **p.options)


run(main, snakemake)

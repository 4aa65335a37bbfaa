"""Rule score_units_by_status: stages 4-7 on (occupation, status) units (camsis.steps.score_units_by_status)."""

from camsis import steps
from camsis.runner import first, run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    steps.score_units_by_status(i.table, i.info, i.blanked, i.classification, i.scheme, o.scores, o.scaling,
                                recodes=first(i.recodes), **snakemake.params.options)


run(main, snakemake)

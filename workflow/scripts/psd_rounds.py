"""Rule psd_rounds: blank the cells the fitted scale under-predicts most, and refit, k times (camsis.steps.psd_rounds)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    files = steps.ScaleFiles(i.table, i.info, i.blanked, i.classification, given(i.recodes))
    steps.psd_rounds(files, o.rounds, o.blanked, o.info, rounds=p.rounds, threshold=p.threshold, top=p.top,
                     min_count=p.min_count, **p.options)


run(main, snakemake)

"""Rule psd_rounds: blank the cells the fitted scale under-predicts most, and refit, k times (camsis.steps.psd_rounds)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    files = steps.ScaleFiles(table=i.table, table_info=i.table_info, blanked=i.blanked,
                             classification=i.classification, recodes=given(i.recodes))
    steps.psd_rounds(files, rounds_file=o.rounds_file, blanked_rounds=o.blanked_rounds, rounds_info=o.rounds_info, rounds=p.rounds, threshold=p.threshold, top=p.top,
                     min_count=p.min_count, **p.options)


run(main, snakemake)

"""Rule score_file: score every code; write the .dta, .csv and summary.json (camsis.steps.score_file)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    extras = {key: i.get(key) for key in ("bootstrap", "bootstrap_info", "psd_rounds", "by_status_table",
                                          "by_status_scaling", "by_status_bootstrap_info")}
    steps.score_file(i.scores, i.scaling, i.table, i.blanking, i.classification, o.dta, o.csv, o.summary,
                     scale=snakemake.wildcards.scale, **extras, **dict(snakemake.params.items()))


run(main, snakemake)

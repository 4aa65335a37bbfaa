"""Rule score_file_by_status: the by-status score file, v2 layout (camsis.steps.score_file_by_status)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    provenance = steps.Provenance(scale=snakemake.wildcards.scale, **dict(snakemake.params.items()))
    steps.score_file_by_status(i.scores, i.scaling, i.table, i.title, i.classification, i.scheme, o.dta, o.csv,
                               provenance, bootstrap=i.get("bootstrap"))


run(main, snakemake)

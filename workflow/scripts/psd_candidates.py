"""Rule psd_candidates: the first psd_top cells of score_units' ranking (camsis.steps.psd_candidates)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    p = snakemake.params
    steps.psd_candidates(ranking=snakemake.input.ranking, candidates=snakemake.output.candidates, top=p.top,
                         min_count=p.min_count)


run(main, snakemake)

"""Rule psd_candidates: the first psd_top cells of score_units' ranking (camsis.steps.psd_candidates)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    steps.psd_candidates(snakemake.input.ranking, snakemake.output.candidates, top=snakemake.params.top)


run(main, snakemake)

"""Rule psd_rounds: blank the cells the fitted scale under-predicts most, and refit, k times."""

from camsis.blanking import save_masks
from camsis.candidates import CANDIDATE_COLUMNS, blank_in_rounds, summarise_rounds, write_candidates
from camsis.runner import run, scale_inputs
from camsis.writing import write_json


def main(snakemake):
    p = snakemake.params
    # The same reader as score_units and bootstrap_replicate, so the rounds refit the scale's own build.
    classification, table, ca_blank, smooth_blank, options = scale_inputs(snakemake)
    result = blank_in_rounds(
        table, ca_blank, smooth_blank, classification, options,
        rounds=p.rounds, threshold=p.threshold, min_count=p.min_count,
    )
    write_candidates(result.rounds[["round"] + CANDIDATE_COLUMNS], snakemake.output.rounds)
    save_masks(result.ca_blank, result.smooth_blank, snakemake.output.blanked)
    write_json(summarise_rounds(result, p.rounds, p.threshold), snakemake.output.info)


run(main, snakemake)

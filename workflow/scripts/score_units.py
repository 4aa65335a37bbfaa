"""Rule score_units: stages 4-7, and the candidate pseudo-diagonals of the same fit."""

from camsis.candidates import psd_candidates, write_candidates
from camsis.runner import run, scale_inputs
from camsis.scale import build_unit_scores
from camsis.writing import atomic_path, write_json


def main(snakemake):
    classification, table, ca_blank, smooth_blank, options = scale_inputs(snakemake)
    result = build_unit_scores(table, ca_blank, smooth_blank, classification, options)
    with atomic_path(snakemake.output.scores) as path:
        result.scores.join(result.population.add_prefix("population_")).to_csv(path, sep="\t")
    write_json(result.diagnostics, snakemake.output.info)
    candidates = psd_candidates(
        table, ca_blank, result, classification, top=snakemake.params.top, min_count=snakemake.params.min_count
    )
    write_candidates(candidates, snakemake.output.candidates)


run(main, snakemake)

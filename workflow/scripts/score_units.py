"""Rule score_units: merge sparse units, CA, smoothing and standardisation (stages 4-7)."""

from camsis.runner import run, scale_inputs
from camsis.scale import build_unit_scores
from camsis.writing import atomic_path, write_json


def main(snakemake):
    classification, table, ca_blank, smooth_blank, options = scale_inputs(snakemake)
    result = build_unit_scores(table, ca_blank, smooth_blank, classification, options)
    with atomic_path(snakemake.output.scores) as path:
        result.scores.join(result.population.add_prefix("population_")).to_csv(path, sep="\t")
    write_json(result.diagnostics, snakemake.output.info)


run(main, snakemake)

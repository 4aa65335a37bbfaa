"""Rule bootstrap_replicate: resample the couples once and rebuild the unit scores (stages 4-7)."""

from camsis.runner import run, scale_inputs
from camsis.scale import build_unit_scores
from camsis.uncertainty import replicate_rng, resample_table
from camsis.writing import atomic_path


def main(snakemake):
    classification, table, ca_blank, smooth_blank, options = scale_inputs(snakemake)
    replicate = resample_table(table, replicate_rng(snakemake.params.seed, int(snakemake.wildcards.r)))
    result = build_unit_scores(replicate, ca_blank, smooth_blank, classification, options)
    columns = ["mcamsis", "fcamsis", "mcamsis2", "fcamsis2", "n_m", "n_f"]
    scores = result.scores[[c for c in columns if c in result.scores]]
    with atomic_path(snakemake.output.scores) as path:
        scores.join(result.population.add_prefix("population_")).to_csv(path, sep="\t")


run(main, snakemake)

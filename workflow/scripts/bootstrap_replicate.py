"""Rule bootstrap_replicate: resample the couples once and rebuild the unit scores (stages 4-7)."""

from camsis.blanking import load_masks
from camsis.classification import load_classification
from camsis.config import read_recodes
from camsis.runner import run
from camsis.scale import ScaleOptions, build_unit_scores
from camsis.tables import PairTable
from camsis.uncertainty import replicate_rng, resample_table
from camsis.writing import atomic_path


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    table = PairTable.load(snakemake.input.table, snakemake.input.info, classification.units)
    ca_blank, smooth_blank = load_masks(snakemake.input.blanked, classification.units)
    recodes = read_recodes(row["recodes"]) if row["recodes"] else {}
    options = ScaleOptions(**snakemake.params.options, recodes=recodes)
    replicate = resample_table(table, replicate_rng(snakemake.params.seed, int(snakemake.wildcards.r)))
    result = build_unit_scores(replicate, ca_blank, smooth_blank, classification, options)
    columns = ["mcamsis", "fcamsis", "mcamsis2", "fcamsis2", "n_m", "n_f"]
    scores = result.scores[[c for c in columns if c in result.scores]]
    with atomic_path(snakemake.output.scores) as path:
        scores.join(result.population.add_prefix("population_")).to_csv(path, sep="\t")


run(main, snakemake)

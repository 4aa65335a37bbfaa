"""Rule score_units: merge sparse units, CA, smoothing and standardisation (stages 4-7)."""

from camsis.blanking import load_masks
from camsis.classification import load_classification
from camsis.config import read_recodes
from camsis.runner import run
from camsis.scale import ScaleOptions, build_unit_scores
from camsis.tables import PairTable
from camsis.writing import atomic_path, write_json


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    table = PairTable.load(snakemake.input.table, snakemake.input.info, classification.units)
    ca_blank, smooth_blank = load_masks(snakemake.input.blanked, classification.units)
    recodes = read_recodes(row["recodes"]) if row["recodes"] else {}
    options = ScaleOptions(**snakemake.params.options, recodes=recodes)
    result = build_unit_scores(table, ca_blank, smooth_blank, classification, options)
    with atomic_path(snakemake.output.scores) as path:
        result.scores.join(result.population.add_prefix("population_")).to_csv(path, sep="\t")
    write_json(result.diagnostics, snakemake.output.info)


run(main, snakemake)

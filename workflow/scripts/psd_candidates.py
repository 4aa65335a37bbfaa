"""Rule psd_candidates: cells the fitted scale under-predicts most; optionally blank them in rounds."""

from camsis.blanking import load_masks, save_masks
from camsis.candidates import CANDIDATE_COLUMNS, blank_in_rounds, summarise_rounds, write_candidates
from camsis.classification import load_classification
from camsis.config import read_recodes
from camsis.runner import run
from camsis.scale import ScaleOptions
from camsis.tables import PairTable
from camsis.writing import write_json


def main(snakemake):
    row = snakemake.params.row
    p = snakemake.params
    classification = load_classification(row["classification"], p.classifications)
    table = PairTable.load(snakemake.input.table, snakemake.input.info, classification.units)
    ca_blank, smooth_blank = load_masks(snakemake.input.blanked, classification.units)
    recodes = read_recodes(row["recodes"]) if row["recodes"] else {}
    options = ScaleOptions(**p.options, recodes=recodes)
    result = blank_in_rounds(
        table, ca_blank, smooth_blank, classification, options,
        rounds=p.rounds, threshold=p.threshold, top=p.top, min_count=p.min_count,
    )
    write_candidates(result.candidates, snakemake.output.candidates)
    write_candidates(result.rounds[["round"] + CANDIDATE_COLUMNS], snakemake.output.rounds)
    save_masks(result.ca_blank, result.smooth_blank, snakemake.output.blanked)
    write_json(summarise_rounds(result, p.rounds, p.threshold), snakemake.output.info)


run(main, snakemake)

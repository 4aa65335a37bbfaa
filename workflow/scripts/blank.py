"""Rule blank: mark the diagonal and pseudo-diagonal cells, for the CA and for the smoothing."""

from camsis.blanking import blank_cells, read_psd_file, save_masks, summarise_blanking
from camsis.classification import load_classification
from camsis.config import parse_groups
from camsis.runner import run
from camsis.tables import PairTable
from camsis.writing import write_json


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    table = PairTable.load(snakemake.input.table, snakemake.input.info, classification.units)
    units = classification.units
    diagonal = dict(
        diagonal_digits=int(row["diagonal_digits"]),
        diagonal_groups=parse_groups(row["diagonal_groups"], f"scale {row['scale']}, diagonal_groups") or None,
        classification=classification,
    )
    ca_psds = read_psd_file(row["psds"]) if row["psds"] else None
    ca = blank_cells(units, units, psds=ca_psds, **diagonal)
    smooth = blank_cells(units, units, psds=read_psd_file(row["psds_smooth"]), **diagonal) if row["psds_smooth"] else ca
    save_masks(ca, smooth, snakemake.output.blanked)
    write_json(
        {
            "ca": summarise_blanking(ca, table.weighted, table.counts),
            "smooth": summarise_blanking(smooth, table.weighted, table.counts),
            "same_sets": bool(smooth is ca),
        },
        snakemake.output.info,
    )


run(main, snakemake)

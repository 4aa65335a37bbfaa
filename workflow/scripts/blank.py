"""Rule blank: mark the diagonal and pseudo-diagonal cells, for the CA and for the smoothing."""

import pandas as pd

from camsis.blanking import blank_cells, read_psd_file, summarise_blanking
from camsis.classification import load_classification
from camsis.config import parse_groups
from camsis.runner import run
from camsis.tables import PairTable
from camsis.writing import atomic_path, write_json


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
    masks = pd.DataFrame({"ca": ca.stack(), "smooth": smooth.stack()})
    masks = masks[masks["ca"] | masks["smooth"]].reset_index()
    with atomic_path(snakemake.output.blanked) as path:
        masks.to_parquet(path, index=False)
    write_json(
        {
            "ca": summarise_blanking(ca, table.weighted, table.counts),
            "smooth": summarise_blanking(smooth, table.weighted, table.counts),
            "same_sets": bool(smooth is ca),
        },
        snakemake.output.info,
    )


run(main, snakemake)

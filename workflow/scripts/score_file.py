"""Rule score_file: score every code of the classification and write the published files."""

import datetime
import json

import pandas as pd

import camsis
from camsis.classification import load_classification
from camsis.filling import fill_classification
from camsis.runner import run
from camsis.writing import score_file_labels, write_csv, write_dta, write_json


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def main(snakemake):
    row = snakemake.params.row
    scale = row["scale"]
    classification = load_classification(row["classification"], snakemake.params.classifications)
    units = pd.read_csv(snakemake.input.scores, sep="\t", index_col=0)
    population = units[["population_m", "population_f"]].rename(columns=lambda c: c.removeprefix("population_"))
    extras = dict(snakemake.input.items())
    bootstrap = pd.read_csv(extras["bootstrap"], sep="\t", index_col=0) if "bootstrap" in extras else None
    table = fill_classification(units, population, classification, bootstrap)

    built = datetime.date.today().isoformat()
    pairs = read_json(snakemake.input.table)
    scaling = read_json(snakemake.input.scaling)
    file_label = f"CAMSIS {scale} for {classification.variable.upper()} [camsis {camsis.__version__}, {built}]"
    value_labels = {classification.variable: classification.value_labels()} | classification.link_value_labels
    # The notes trace a published file to what made it, as summary.json does.
    notes = [
        f"CAMSIS scale {scale} for {classification.variable}, built {built} by camsis {camsis.__version__}",
        f"input {row['input']} sha256 {pairs.get('input_sha256')}",
        "sheet row: " + json.dumps(dict(row), sort_keys=True),
        "config: " + json.dumps(snakemake.params.config, sort_keys=True, default=str),
    ] + [f"warning: {text}" for text in scaling.get("warnings", [])]
    labels = score_file_labels(classification, table.columns)
    write_dta(table, snakemake.output.dta, labels, value_labels, file_label, notes=notes)
    write_csv(table, snakemake.output.csv)

    summary = {
        "scale": scale,
        "camsis_version": camsis.__version__,
        "built": built,
        "input": {"path": row["input"], "sha256": pairs.get("input_sha256")},
        "pairs_read": pairs["read"],
        "pairs_used": pairs["used"],
        "dropped": pairs["dropped"],
        "blanking": read_json(snakemake.input.blanking),
        **scaling,
        "codes_written": len(table),
        "units_imputed": {side: int((table[f"{side}_imputed"] > 0).sum()) for side in ("m", "f")},
        **({"bootstrap": read_json(extras["bootstrap_info"])} if "bootstrap_info" in extras else {}),
        **({"psd_rounds": read_json(extras["psd_rounds"])} if "psd_rounds" in extras else {}),
        "sheet_row": dict(row),
        "config": snakemake.params.config,
    }
    write_json(summary, snakemake.output.summary)


run(main, snakemake)

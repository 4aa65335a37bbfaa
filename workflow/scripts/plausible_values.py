"""Rule plausible_values: M plausible values per code and sex from the bootstrap replicates, long .dta."""

import pandas as pd

from camsis.classification import load_classification
from camsis.runner import run
from camsis.uncertainty import plausible_values
from camsis.writing import write_dta


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    m = snakemake.params.m
    values = plausible_values(pd.read_parquet(snakemake.input.replicates), m, snakemake.params.seed)
    variable = classification.variable
    frame = values.rename(columns={"code": variable})[[variable, "sex", "pv", "camsis"]]
    labels = {
        variable: classification.label,
        "sex": "Sex of the person the score describes",
        "pv": f"Plausible value number (1-{m}), one bootstrap replicate each",
        "camsis": f"CAMSIS for {variable.upper()}: plausible value pv",
    }
    value_labels = {variable: classification.value_labels(), "sex": {1: "male", 2: "female"}}
    file_label = f"CAMSIS {row['scale']} plausible values ({m} per code and sex)"
    write_dta(frame, snakemake.output.dta, labels, value_labels, file_label)


run(main, snakemake)

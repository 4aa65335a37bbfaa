"""Rule plots: the diagnostic figures of one scale, from its work file and score file."""

import json

import pandas as pd

from camsis.classification import load_classification
from camsis.plots import (
    ca_axis_labels,
    ca_map_figure,
    linked_figure,
    save_figure,
    score_caterpillar_figure,
    sex_figure,
    shrinkage_figure,
    units_for_plots,
)
from camsis.runner import run


def main(snakemake):
    row = snakemake.params.row
    scale = row["scale"]
    classification = load_classification(row["classification"], snakemake.params.classifications)
    unit_scores = pd.read_csv(snakemake.input.scores, sep="\t", index_col=0)
    score_file = pd.read_csv(snakemake.input.csv)
    units = units_for_plots(unit_scores, score_file, classification.variable, classification.frame["title"])
    with open(snakemake.input.scaling) as handle:
        ca = json.load(handle)["ca"]
    out = snakemake.output
    save_figure(score_caterpillar_figure(units, "m", scale), out.caterpillar_m)
    save_figure(score_caterpillar_figure(units, "f", scale), out.caterpillar_f)
    save_figure(shrinkage_figure(units, scale, snakemake.params.mean, snakemake.params.sd), out.shrinkage)
    save_figure(sex_figure(units, scale), out.male_female)
    save_figure(ca_map_figure(units, scale, ca_axis_labels(ca)), out.ca_map)
    save_figure(linked_figure(units, scale), out.linked)


run(main, snakemake)

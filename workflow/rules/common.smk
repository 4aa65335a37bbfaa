# Config helpers: validate the config and the sheet first, then answer the rules' questions.

import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from camsis.config import load_scales
from camsis.errors import CamsisError

min_version("8.0")


configfile: "config/config.yaml"


validate(config, "../schemas/config.schema.yaml")

try:
    scales = load_scales(config["scales"], config["classifications"])
except CamsisError as error:
    sys.exit(f"camsis: error: {error}")
validate(scales, "../schemas/scales.schema.yaml")


wildcard_constraints:
    scale="|".join(scales.index),


def scale_row(wildcards):
    return scales.loc[wildcards.scale]


def input_file(wildcards):
    return scale_row(wildcards)["input"]


def classification_files(wildcards):
    name = scale_row(wildcards)["classification"]
    folder = Path(config["classifications"])
    return [folder / f"{name}.tsv", folder / f"{name}.yaml"]


def blanking_files(wildcards):
    row = scale_row(wildcards)
    return [path for path in (row["psds"], row["psds_smooth"], row["recodes"]) if path]


def all_outputs():
    return [
        f"results/{scale}/{scale}.{ext}" for scale in scales.index for ext in ("dta", "csv")
    ] + [f"results/{scale}/summary.json" for scale in scales.index]


def scale_options(wildcards):
    """Keyword arguments of camsis.scale.ScaleOptions (recodes are read by the rule)."""
    keys = ("min_n", "reference_measure", "disconnected", "reml", "mean", "sd", "clip")
    return {key: config[key] for key in keys} | {"n_components": config["ca_dimensions"]}

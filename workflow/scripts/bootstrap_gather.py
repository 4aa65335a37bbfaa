"""Rule bootstrap_gather: every code's scores in every replicate, and per code the bootstrap SE and interval."""

import pandas as pd

from camsis.classification import load_classification
from camsis.runner import run
from camsis.uncertainty import DISAGREEMENT, bootstrap_summary, fill_replicate, gather_replicates, replicate_agreement
from camsis.writing import atomic_path, write_json


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    replicates = [pd.read_csv(path, sep="\t", index_col=0) for path in snakemake.input.replicates]
    long = gather_replicates(replicates, classification)
    summary = bootstrap_summary(long)
    own = fill_replicate(pd.read_csv(snakemake.input.scores, sep="\t", index_col=0), classification)
    agreement = replicate_agreement(long, own)
    with atomic_path(snakemake.output.summary) as path:
        summary.to_csv(path, sep="\t")
    with atomic_path(snakemake.output.replicates) as path:
        long.to_parquet(path, index=False)
    write_json(
        {
            "replicates": len(replicates),
            "seed": snakemake.params.seed,
            "resampling": "multinomial draw of the pairs over all cells of the table, each pair with its cell's mean weight",
            "correlation_with_scale": {
                side: {"min": float(agreement[side].min()), "median": float(agreement[side].median())}
                for side in ("m", "f")
            },
            "replicates_disagreeing": [int(r) for r in agreement.index[(agreement < DISAGREEMENT).any(axis=1)]],
        },
        snakemake.output.info,
    )


run(main, snakemake)

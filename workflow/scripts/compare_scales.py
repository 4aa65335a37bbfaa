"""Rule compare_scales: the sheet's scales against one another (camsis.diagnostics.compare_scales)."""

from camsis import diagnostics
from camsis.runner import run


def main(snakemake):
    outputs = {key: snakemake.output[key] for key in snakemake.output.keys()}
    diagnostics.compare_scales(snakemake.input.scores, snakemake.input.classification, outputs,
                         **dict(snakemake.params.items()))


run(main, snakemake)

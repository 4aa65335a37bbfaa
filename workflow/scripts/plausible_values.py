"""Rule plausible_values: M plausible values per code and sex, long .dta (camsis.steps.plausible_values)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i = snakemake.input
    steps.plausible_values(i.replicates, i.classification, snakemake.output.dta, scale=snakemake.wildcards.scale,
                           **dict(snakemake.params.items()))


run(main, snakemake)

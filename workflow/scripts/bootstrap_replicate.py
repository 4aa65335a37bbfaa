"""Rule bootstrap_replicate: resample the couples once and rebuild the unit scores (camsis.steps.bootstrap_replicate)."""

from camsis import steps
from camsis.runner import first, run


def main(snakemake):
    i, p = snakemake.input, snakemake.params
    steps.bootstrap_replicate(i.table, i.info, i.blanked, i.classification, snakemake.output.scores,
                              replicate=int(snakemake.wildcards.r), seed=p.seed, recodes=first(i.recodes), **p.options)


run(main, snakemake)

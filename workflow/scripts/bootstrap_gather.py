"""Rule bootstrap_gather: per code the bootstrap SE and interval (camsis.steps.bootstrap_gather)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    steps.bootstrap_gather(list(i.replicates), i.scores, i.classification, o.summary, o.replicates, o.info,
                           seed=snakemake.params.seed)


run(main, snakemake)

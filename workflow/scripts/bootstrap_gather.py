"""Rules bootstrap_gather(_by_status): per code the bootstrap SE and interval (camsis.steps.bootstrap_gather)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    steps.bootstrap_gather(list(i.batches), i.scores, i.classification, o.summary, o.replicates, o.info,
                           replicates=p.replicates, seed=p.seed, scheme=given(i.scheme))


run(main, snakemake)

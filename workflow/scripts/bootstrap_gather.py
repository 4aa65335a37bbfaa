"""Rules bootstrap_gather(_by_status): per code the bootstrap SE and interval (camsis.steps.bootstrap_gather)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    steps.bootstrap_gather(batches=list(i.batches), scores=i.scores, classification=i.classification,
                           summary=o.summary, replicates=o.replicates, bootstrap_info=o.bootstrap_info,
                           bootstrap=p.bootstrap, seed=p.seed, scheme=given(i.scheme))


run(main, snakemake)

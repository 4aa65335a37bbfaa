"""Rule simulate_demo: the embedded default input, synthetic couples with known true scores (camsis.steps.simulate_demo)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    steps.simulate_demo(classification=i.classification, psds=i.psds, scheme=i.scheme, couples=o.couples,
                        truth=o.truth, truth_by_status=o.truth_by_status,
                        n_couples=p.couples, seed=p.seed)


run(main, snakemake)

"""Rule simulate_demo: the embedded default input, synthetic couples with known true scores (camsis.steps.simulate_demo)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    steps.simulate_demo(i.classification, i.psds, i.scheme, o.couples, o.truth, o.truth_by_status,
                        n_couples=p.couples, seed=p.seed)


run(main, snakemake)

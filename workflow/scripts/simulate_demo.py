"""Rule simulate_demo: the embedded default input, synthetic couples with known true scores."""

from camsis.blanking import read_psd_file
from camsis.classification import load_classification
from camsis.runner import run
from camsis.synthetic import simulate_couples, write_couples
from camsis.writing import atomic_path


def main(snakemake):
    classification = load_classification("soc2020", snakemake.params.classifications)
    demo = simulate_couples(
        classification.units,
        n_couples=snakemake.params.couples,
        seed=snakemake.params.seed,
        blocks=read_psd_file(snakemake.input.psds),
    )
    write_couples(demo.couples, snakemake.output.couples)
    with atomic_path(snakemake.output.truth) as path:
        demo.truth.to_csv(path, sep="\t")


run(main, snakemake)

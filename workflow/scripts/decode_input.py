"""Rule decode_input: an IPUMS extract's variables decoded once into Parquet (camsis.steps.decode_input)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    steps.decode_input(data=snakemake.input.data[0], cache=snakemake.output.cache, info=snakemake.output.info,
                       **dict(snakemake.params.items()))


run(main, snakemake)

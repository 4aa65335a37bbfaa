"""Rule compare (both variants): this build's score file against the one compare_to names (camsis.diagnostics.compare)."""

from camsis import diagnostics
from camsis.runner import given, run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    diagnostics.compare(csv=i.csv, old=i.old, classification=i.classification, correlations=o.correlations,
                  top_file=o.top_file, html=o.html, plot=o.plot,
                  scale=snakemake.wildcards.scale, scheme=given(i.scheme), **dict(snakemake.params.items()))


run(main, snakemake)

"""Rule release_scale: readme, matching syntax, citation, checksums and zip of one scale's release."""

from pathlib import Path

from camsis import steps
from camsis.runner import given, run
from results_layout import drop_snakemake_marker


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    drop_snakemake_marker(Path(o.readme).parent)
    steps.release(list(i.tables), i.summary, o.readme, o.zip, scale=snakemake.wildcards.scale,
                  scheme=given(i.scheme), version=p.version, title=p.title, author=p.author,
                  defaults=p.defaults)


run(main, snakemake)

"""Rule release_scale: the published files of one scale (results/{scale}/release/) and their zip."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    steps.release(i.dta, i.summary, o.folder, o.zip, scale=snakemake.wildcards.scale, version=p.version,
                  title=p.title, author=p.author, defaults=p.defaults)


run(main, snakemake)

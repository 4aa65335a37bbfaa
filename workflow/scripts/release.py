"""Rule release_scale: the published files of one scale (results/{scale}/release/) and their zip."""

from camsis.release import release_scale
from camsis.runner import run


def main(snakemake):
    p = snakemake.params
    release_scale(snakemake.input.dta, snakemake.input.summary, snakemake.output.folder, snakemake.output.zip,
                  snakemake.wildcards.scale, version=p.version, title=p.title, author=p.author, defaults=p.defaults)


run(main, snakemake)

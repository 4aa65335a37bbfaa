"""Rule release_table: one score table of a release as .dta, .sav and .tsv (camsis.steps.release_table)."""

from camsis import steps
from camsis.runner import run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    steps.release_table(dta=i.dta, summary=i.summary, out_dta=o.dta, out_sav=o.sav, out_tsv=o.tsv)


run(main, snakemake)

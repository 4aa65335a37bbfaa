"""Rules plausible_values(_by_status): M plausible values per code (and status) and sex, long .dta (camsis.steps.plausible_values)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i = snakemake.input
    steps.plausible_values(replicates=i.replicates, summary=i.summary, classification=i.classification,
                           dta=snakemake.output.dta,
                           scale=snakemake.wildcards.scale, scheme=given(i.scheme),
                           title_replicates=given(i.title_replicates), title_summary=given(i.title_summary),
                           **dict(snakemake.params.items()))


run(main, snakemake)

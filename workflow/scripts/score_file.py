"""Rule score_file: score every code; write the .dta, .csv and summary.json (camsis.steps.score_file)."""

from camsis import steps
from camsis.runner import given, run


def main(snakemake):
    i, o = snakemake.input, snakemake.output
    extras = {key: given(getattr(i, key)) for key in ("bootstrap", "bootstrap_info", "psd_rounds", "by_status_table",
                                                   "by_status_scaling", "by_status_bootstrap_info")}
    records = steps.BuildRecords(table_info=i.table_info, blanking=i.blanking, **extras)
    provenance = steps.Provenance(scale=snakemake.wildcards.scale, **dict(snakemake.params.items()))
    steps.score_file(scores=i.scores, scaling=i.scaling, records=records, classification=i.classification,
                     dta=o.dta, csv=o.csv, summary=o.summary, provenance=provenance, scheme=given(i.scheme),
                     title_csv=given(i.title_csv))


run(main, snakemake)

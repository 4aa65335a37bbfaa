# CAMSIS scales from microdata on couples. Quick start: `snakemake --cores 2`.
# What to build is config/scales.tsv; options are config/config.yaml; see README.md.

report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/scaling.smk"
include: "workflow/rules/output.smk"
include: "workflow/rules/diagnostics.smk"
include: "workflow/rules/bootstrap.smk"
include: "workflow/rules/candidates.smk"


rule all:
    input:
        all_outputs(),
    default_target: True

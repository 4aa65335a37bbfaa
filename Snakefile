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
include: "workflow/rules/batches.smk"


# A failed rebuild must not leave the previous products looking current: those this run
# rebuilds are moved to results/{scale}/stale/ first, and removed once the run succeeds.
SET_ASIDE = {}


onstart:
    SET_ASIDE.update(set_aside_before_rebuild(workflow))


onsuccess:
    clear_stale(SET_ASIDE)


rule all:
    input:
        all_outputs(),
    default_target: True


rule release:
    input:
        all_outputs(),
        [f"results/{scale}/{scale}_release.zip" for scale in scales.index],

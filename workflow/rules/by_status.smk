# Occupation-by-status units (scales whose sheet row names status1, status2 and statuses, or for a
# person file status and statuses):
# the (occ1, status1) x (occ2, status2) table, counted in the same reading as the title-only
# table (rule tabulate serves only scales without statuses), stages 4-7 on it with the title-only masks
# expanded to every status, and the by-status score file in the layout of the published v2;
# then what the title-only scale has: bootstrap (replicate r resamples the same couples as the
# title-only replicate r), plausible values, plots and the comparison with compare_to.


rule tabulate_by_status:
    input:
        data=input_file,
        decoded=decoded_files,
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        title_table="results/{scale}/work/table.parquet",
        title_info="results/{scale}/work/table.json",
        table="results/{scale}/work/by_status/table.parquet",
        info="results/{scale}/work/by_status/table.json",
    wildcard_constraints:
        scale=scales_pattern(with_statuses=True),
    params:
        occ1=sheet("occ1"),
        occ2=sheet("occ2"),
        status1=sheet("status1"),
        status2=sheet("status2"),
        weight=sheet("weight"),
        where=sheet("filter"),
        sep=sheet("sep"),
        encoding=sheet("encoding"),
        weight_type=sheet("weight_type", "survey"),
        layout=sheet("layout", "couples"),
        person=sheet("person"),
        partner=sheet("partner"),
        household=sheet("household"),
        sex=sheet("sex"),
        first_sex=sheet("first_sex"),
        occ=sheet("occ"),
        status=sheet("status"),
        wave=sheet("wave"),
        repeat_couples=sheet("repeat_couples", config["repeat_couples"]),
        chunksize=config["chunksize"],
        on_missing_weight=config["on_missing_weight"],
        input_sha256=input_checksum,
    log:
        "logs/{scale}/tabulate_by_status.log",
    resources:
        mem_mb=3000,
        runtime=60,
    script:
        "../scripts/tabulate_by_status.py"


rule score_units_by_status:
    input:
        table="results/{scale}/work/by_status/table.parquet",
        info="results/{scale}/work/by_status/table.json",
        blanked=scale_mask,
        classification=classification_files,
        scheme=status_scheme_files,
        recodes=recodes_file,
    output:
        scores="results/{scale}/work/by_status/unit_scores.tsv",
        scaling="results/{scale}/work/by_status/scaling.json",
    params:
        options=scale_options,
    log:
        "logs/{scale}/score_units_by_status.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/score_units_by_status.py"


rule score_file_by_status:
    input:
        unpack(by_status_bootstrap),
        scores="results/{scale}/work/by_status/unit_scores.tsv",
        scaling="results/{scale}/work/by_status/scaling.json",
        table="results/{scale}/work/by_status/table.json",
        title="results/{scale}/{scale}.csv",
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        dta=report("results/{scale}/{scale}_by_status.dta", caption="../report/by_status_file.rst", category="Score files"),
        csv="results/{scale}/{scale}_by_status.csv",
    params:
        sheet_row=sheet_row,  # provenance: as score_file's
        config=PROVENANCE_CONFIG,
    log:
        "logs/{scale}/score_file_by_status.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/score_file_by_status.py"


rule bootstrap_batch_by_status:
    input:
        title_table="results/{scale}/work/table.parquet",
        title_info="results/{scale}/work/table.json",
        table="results/{scale}/work/by_status/table.parquet",
        info="results/{scale}/work/by_status/table.json",
        blanked=scale_mask,
        classification=classification_files,
        scheme=status_scheme_files,
        recodes=recodes_file,
    output:
        # The title-only replicates of the same couples too: a scale with statuses gets them
        # here, not from rule bootstrap_batch (one job and one reading of the inputs per batch).
        title_batch="results/{scale}/bootstrap/batch_{b}.parquet",
        batch="results/{scale}/bootstrap/by_status/batch_{b}.parquet",
    wildcard_constraints:
        scale=scales_pattern(with_statuses=True),
        b=r"\d+",
    params:
        options=scale_options,
        replicates=batch_replicates,
        seed=config["bootstrap_seed"],
    log:
        "logs/{scale}/bootstrap/by_status/batch_{b}.log",
    # The longest jobs of a build: started first, so the rest of the build fills the other cores.
    priority: 10
    resources:
        mem_mb=2000,
        runtime=lambda wildcards: 10 + 2 * len(batch_replicates(wildcards)),
    script:
        "../scripts/bootstrap_batch_by_status.py"


rule bootstrap_gather_by_status:
    input:
        batches=bootstrap_batch_files_by_status,
        scores="results/{scale}/work/by_status/unit_scores.tsv",
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        summary="results/{scale}/bootstrap/by_status/summary.tsv",
        replicates="results/{scale}/bootstrap/by_status/replicates.parquet",
        info="results/{scale}/bootstrap/by_status/bootstrap.json",
    params:
        replicates=config["bootstrap"],
        seed=config["bootstrap_seed"],
    log:
        "logs/{scale}/bootstrap/by_status/gather.log",
    # On the way from the batches to the score files: before the side jobs that wait with it.
    priority: 5
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/bootstrap_gather.py"


rule plausible_values_by_status:
    input:
        replicates="results/{scale}/bootstrap/by_status/replicates.parquet",
        title_replicates="results/{scale}/bootstrap/replicates.parquet",
        summary="results/{scale}/bootstrap/by_status/summary.tsv",
        title_summary="results/{scale}/bootstrap/summary.tsv",
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        dta="results/{scale}/plausible_by_status.dta",
    params:
        m=config["plausible_values"],
        seed=config["bootstrap_seed"],
        clip=config["clip"],
    log:
        "logs/{scale}/plausible_values_by_status.log",
    # A file no later job reads: after the score files on the way to the plots, not before them.
    priority: -10
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/plausible_values.py"


rule plots_by_status:
    input:
        scores="results/{scale}/work/by_status/unit_scores.tsv",
        scaling="results/{scale}/work/by_status/scaling.json",
        csv="results/{scale}/{scale}_by_status.csv",
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        caterpillar_m=report("results/{scale}/plots/by_status/caterpillar_m.png", caption="../report/caterpillar.rst",
                             category="Plots by status", subcategory="{scale}",
                             labels={"scale": "{scale}", "figure": "male scores by status, ranked"}),
        caterpillar_f=report("results/{scale}/plots/by_status/caterpillar_f.png", caption="../report/caterpillar.rst",
                             category="Plots by status", subcategory="{scale}",
                             labels={"scale": "{scale}", "figure": "female scores by status, ranked"}),
        shrinkage=report("results/{scale}/plots/by_status/shrinkage.png", caption="../report/shrinkage.rst",
                         category="Plots by status", subcategory="{scale}",
                         labels={"scale": "{scale}", "figure": "raw CA vs smoothed, by status"}),
        male_female=report("results/{scale}/plots/by_status/male_female.png", caption="../report/male_female.rst",
                           category="Plots by status", subcategory="{scale}",
                           labels={"scale": "{scale}", "figure": "male vs female, by status"}),
        ca_map=report("results/{scale}/plots/by_status/ca_map.png", caption="../report/ca_map.rst",
                      category="Plots by status", subcategory="{scale}",
                      labels={"scale": "{scale}", "figure": "CA map, by status"}),
        linked=report("results/{scale}/plots/by_status/linked_measures.png", caption="../report/linked_measures.rst",
                      category="Plots by status", subcategory="{scale}",
                      labels={"scale": "{scale}", "figure": "linked measures, by status"}),
    params:
        mean=config["mean"],
        sd=config["sd"],
        dpi=config["plot_dpi"],
    log:
        "logs/{scale}/plots_by_status.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/plots.py"


rule compare_by_status:
    input:
        csv="results/{scale}/{scale}_by_status.csv",
        old=compare_input,
        classification=classification_files,
        scheme=status_scheme_files,
    output:
        correlations="results/{scale}/compare_by_status.tsv",
        top="results/{scale}/compare_by_status_top.tsv",
        html=report("results/{scale}/plots/by_status/compare.html", caption="../report/compare_by_status.rst",
                    category="Comparison", subcategory="{scale}",
                    labels={"scale": "{scale}", "table": "correlations and movers, by status"}),
        plot=report("results/{scale}/plots/by_status/compare.png", caption="../report/compare_by_status.rst",
                    category="Comparison", subcategory="{scale}",
                    labels={"scale": "{scale}", "figure": "new vs old scores, by status"}),
    params:
        top=20,
    log:
        "logs/{scale}/compare_by_status.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/compare.py"

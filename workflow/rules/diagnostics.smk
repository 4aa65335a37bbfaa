# Seeing a scale: diagnostic plots per scale and, with compare_to, its comparison with an
# existing score file; every product is declared with report() for `snakemake --report`.


def figure(file, caption, label):
    """A diagnostic plot of a scale, shown in the report under its scale with this label."""
    return Reported(f"results/{{scale}}/plots{{variant}}/{file}", caption=f"../report/{caption}", category="Plots",
                    subcategory="{scale}{variant}", labels={"scale": "{scale}{variant}", "figure": label})


PLOTS = Stage(
    "plots",
    input=dict(
        scores="results/{scale}/work{variant}/unit_scores.tsv",
        scaling="results/{scale}/work{variant}/scaling.json",
        csv="results/{scale}/{scale}{variant}.csv",
        classification=classification_files,
        scheme=variant_scheme_files,
    ),
    output=dict(
        caterpillar_m=figure("caterpillar_m.png", "caterpillar.rst", "male scores, ranked"),
        caterpillar_f=figure("caterpillar_f.png", "caterpillar.rst", "female scores, ranked"),
        shrinkage=figure("shrinkage.png", "shrinkage.rst", "raw CA vs smoothed"),
        male_female=figure("male_female.png", "male_female.rst", "male vs female"),
        ca_map=figure("ca_map.png", "ca_map.rst", "CA map"),
        linked=figure("linked_measures.png", "linked_measures.rst", "linked measures"),
    ),
    params=dict(mean=config["mean"], sd=config["sd"], dpi=config["plot_dpi"]),
    log="logs/{scale}/plots{variant}.log",
    resources=dict(mem_mb=1500, runtime=10),
)


rule plots:
    input:
        **PLOTS.input,
    output:
        **PLOTS.output,
    params:
        **PLOTS.params,
    log:
        PLOTS.log,
    wildcard_constraints:
        scale=OWN_JOBS,
    resources:
        **PLOTS.resources,
    script:
        "../scripts/plots.py"


rule compare:
    input:
        csv="results/{scale}/{scale}{variant}.csv",
        old=compare_input,
        classification=classification_files,
        scheme=variant_scheme_files,
    output:
        correlations="results/{scale}/compare{variant}.tsv",
        top_file="results/{scale}/compare{variant}_top.tsv",
        html=report("results/{scale}/plots{variant}/compare.html", caption="../report/compare.rst",
                    category="Comparison", subcategory="{scale}{variant}",
                    labels={"scale": "{scale}{variant}", "table": "correlations and movers"}),
        plot=report("results/{scale}/plots{variant}/compare.png", caption="../report/compare_plot.rst",
                    category="Comparison", subcategory="{scale}{variant}",
                    labels={"scale": "{scale}{variant}", "figure": "new vs old scores"}),
    params:
        top=20,
        status_variables=status_variables(),
    log:
        "logs/{scale}/compare{variant}.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/compare.py"


# A sheet of several scales: every pair compared (camsis.publish.scalecompare); a sheet of one scale writes none.
rule compare_scales:
    input:
        scores=[f"results/{scale}/work/unit_scores.tsv" for scale in scales.index],
        classification=sheet_classification_files(),
    output:
        mcamsis="results/comparison/mcamsis.tsv",
        fcamsis="results/comparison/fcamsis.tsv",
        mcamsis_n="results/comparison/mcamsis_n.tsv",
        fcamsis_n="results/comparison/fcamsis_n.tsv",
        pairs="results/comparison/pairs.tsv",
        heatmap=report("results/comparison/heatmap.png", caption="../report/compare_scales.rst",
                       category="Comparison", subcategory="the sheet's scales", labels={"figure": "correlations"}),
        against_mean=report("results/comparison/against_mean.png", caption="../report/against_mean.rst",
                            category="Comparison", subcategory="the sheet's scales", labels={"figure": "against the mean"}),
    params:
        scales=list(scales.index),
        classifications=list(scales["classification"]),
        dpi=config["plot_dpi"],
    log:
        "logs/compare_scales.log",
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../scripts/compare_scales.py"

"""Rule compare: this build's score file against the existing one named by compare_to."""

from pathlib import Path

from camsis.classification import load_classification
from camsis.compare import compare_scores, comparison_html, read_score_file
from camsis.plots import comparison_figure, save_figure
from camsis.runner import run
from camsis.writing import atomic_path


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    code = classification.variable
    new = read_score_file(snakemake.input.csv, code)
    old = read_score_file(snakemake.input.old, code)
    comparison = compare_scores(new, old, code, units=classification.units,
                                titles=classification.frame["title"], top=snakemake.params.top)
    out = snakemake.output
    with atomic_path(out.correlations) as path:
        comparison.correlations.to_csv(path, sep="\t", index=False)
    with atomic_path(out.top) as path:
        comparison.top.to_csv(path, sep="\t", index=False)
    with atomic_path(out.html) as path:
        Path(path).write_text(comparison_html(comparison, row["scale"], snakemake.input.old), encoding="utf-8")
    save_figure(comparison_figure(comparison.scores, row["scale"], Path(snakemake.input.old).name), out.plot)


run(main, snakemake)

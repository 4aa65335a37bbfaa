"""What the diagnostic rules do: rules plots, compare and compare_scales, one function per rule.

Kept apart from ``camsis.steps`` because they draw: matplotlib (through ``camsis.publish.plots``) is
slower to import than the whole of a scoring job, so only the jobs that draw pay for it. A rule
script calls its function here as the other rule scripts call theirs in ``camsis.steps``
(paths as keywords named as in the rule, inside ``camsis.runner.run``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from camsis.classifications.classification import Classification, read_classification
from camsis.classifications.statuses import split
from camsis.io.writing import atomic_path
from camsis.publish import plots as draw
from camsis.publish import scalecompare
from camsis.publish.compare import by_status_rows, compare_scores, comparison_html, read_score_file, title_only_rows
from camsis.scaling.scale import UnitScores
from camsis.steps import classification_from, scheme_from
from camsis.vocabulary import SIDES

log = logging.getLogger("camsis.diagnostics")


def by_status_rows_of(csv, frame: Classification, statuses) -> tuple[pd.DataFrame, str, pd.Series]:
    """The scored statuses' rows of a by-status score file keyed by combined code, that code's column and titles.

    The status-0 and group rows are the title-only scale's, which has its own plots and comparison.
    """
    code = f"{frame.variable}_{statuses.name}"
    table = pd.read_csv(csv)
    table = table[table[statuses.variable] != statuses.unknown].drop(columns=[frame.variable, statuses.variable])
    occupation, status = split(table[code])
    titles = [f"{frame.frame.at[o, 'title']} ({statuses.labels[s]})" for o, s in zip(occupation, status)]
    return table, code, pd.Series(titles, index=table[code].to_numpy())


def plots(scores, scaling, csv, classification, figures: Mapping, *, scale: str, mean: float = 50.0,
          sd: float = 15.0, dpi: int = 100, scheme=None) -> None:
    """Rule plots: the diagnostic figures of one scale, from its unit file and score file.

    ``figures`` maps a figure's name (``caterpillar_m``, ``caterpillar_f``, ``shrinkage``,
    ``male_female``, ``ca_map``, ``linked``) to its output path. By status (``scheme``
    given) the files are the by-status build's and the units its (occupation,
    status) units.
    """
    frame = classification_from(classification)
    units = UnitScores.load(scores, scaling)
    if scheme is None:
        table = draw.units_for_plots(units, pd.read_csv(csv), frame.variable, frame.frame["title"])
    else:
        rows, code, titles = by_status_rows_of(csv, frame, scheme_from(scheme))
        table = draw.units_for_plots(units, rows, code, titles)
        scale = f"{scale} by status"
    axes = draw.ca_axis_labels(units.diagnostics.ca)
    made = {
        "caterpillar_m": lambda: draw.score_caterpillar_figure(table, "m", scale),
        "caterpillar_f": lambda: draw.score_caterpillar_figure(table, "f", scale),
        "shrinkage": lambda: draw.shrinkage_figure(table, scale, mean, sd,
                                                   "CA" if units.diagnostics.rc2 is None else "RC"),
        "male_female": lambda: draw.sex_figure(table, scale),
        "ca_map": lambda: draw.ca_map_figure(table, scale, axes),
        "linked": lambda: draw.linked_figure(table, scale),
    }
    for name, path in figures.items():
        draw.save_figure(made[name](), path, dpi=dpi)


def compare(csv, old, classification, correlations, top_file, html, plot, *, scale: str, top: int = 20,
            status_variables: Sequence = (), scheme=None) -> None:
    """Rule compare: this build's score file against the existing one named by compare_to.

    The existing file may be title-only or by status (one row per code x status, such as
    the published gb_soc2020_v2.dta: ``status_variables`` lists the (status variable,
    no-information status) pairs that mark one). The title-only scale is compared with a
    by-status file's no-information rows. By status (``scheme`` given) ``csv``
    is the by-status file and the (occupation, status) units are compared unit x status;
    a title-only existing file then gives every status its occupation's score.
    """
    frame = classification_from(classification)
    code = frame.variable
    if scheme is None:
        new, existing = read_score_file(csv, code), title_only_rows(old, code, [tuple(v) for v in status_variables])
        units, titles = frame.units, frame.frame["title"]
    else:
        statuses = scheme_from(scheme)
        new, combined, titles = by_status_rows_of(csv, frame, statuses)
        existing = by_status_rows(old, code, statuses.variable, statuses.scored)
        existing = existing[existing[code] % 10 != statuses.unknown].rename(columns={code: combined})
        code, units, scale = combined, titles.index, f"{scale} by status"
    comparison = compare_scores(new, existing, code, units=units, titles=titles, top=top)
    with atomic_path(correlations) as path:
        comparison.correlations.to_csv(path, sep="\t", index=False)
    with atomic_path(top_file) as path:
        comparison.top.to_csv(path, sep="\t", index=False)
    with atomic_path(html) as path:
        Path(path).write_text(comparison_html(comparison, scale, old), encoding="utf-8")
    draw.save_figure(draw.comparison_figure(comparison.scores, scale, Path(old).name), plot)


def compare_scales(scores: Sequence, classification: Sequence, outputs: Mapping, *, scales: Sequence[str],
                   classifications: Sequence[str], dpi: int = 100) -> None:
    """Rule compare_scales: every pair of the sheet's scales, per side (``camsis.publish.scalecompare``).

    Parameters
    ----------
    scores : sequence of paths
        Each scale's ``unit_scores.tsv``, in the order of ``scales``.
    classification : sequence of paths
        The ``.tsv`` and ``.yaml`` of every classification in ``classifications``.
    outputs : mapping
        ``mcamsis``, ``fcamsis`` (square matrices of r, first column ``scale``), ``mcamsis_n``,
        ``fcamsis_n`` (the codes each r rests on), ``pairs`` (long: how each pair was joined),
        ``heatmap`` and ``against_mean`` (figures).
    scales, classifications : sequence of str
        The sheet's scales and the classification of each.
    """
    files = [Path(f) for f in classification]
    frames = {}
    for name in dict.fromkeys(classifications):
        tsv = next(f for f in files if f.name == f"{name}.tsv")
        frames[name] = read_classification(tsv, next((f for f in files if f.name == f"{name}.yaml"), None))
    units = {scale: UnitScores.load(path).scores for scale, path in zip(scales, scores)}
    of_scale = {scale: frames[name] for scale, name in zip(scales, classifications)}
    comparison = scalecompare.compare_scales(units, of_scale)
    for row in comparison.pairs[comparison.pairs["side"] == SIDES[0]].itertuples():
        if row.joined == scalecompare.NO_LINK:
            a, b = of_scale[row.scale_a], of_scale[row.scale_b]
            log.warning("scales %s (%s) and %s (%s) are not compared: neither code frame has a link column named "
                        "after the other's variable (%s, %s)", row.scale_a, a.name, row.scale_b, b.name,
                        b.variable, a.variable)
    for side in SIDES:
        for key, matrix in ((f"{side}camsis", comparison.correlations[side]), (f"{side}camsis_n", comparison.counts[side])):
            with atomic_path(outputs[key]) as path:
                matrix.to_csv(path, sep="\t", float_format="%.6f")
    with atomic_path(outputs["pairs"]) as path:
        comparison.pairs.to_csv(path, sep="\t", index=False, float_format="%.6f")
    panels = {side: {} for side in SIDES}
    for name in dict.fromkeys(classifications):
        members = {scale: units[scale] for scale, of in zip(scales, classifications) if of == name}
        for side in SIDES:
            table = scalecompare.mean_scale(members, side)
            for scale in members:
                panels[side][scale] = pd.DataFrame({"score": table[scale], "mean": table["mean"]})
    panels = {side: {scale: panels[side][scale] for scale in scales} for side in SIDES}
    draw.save_figure(draw.scales_heatmap_figure(comparison.correlations, comparison.counts), outputs["heatmap"], dpi=dpi)
    draw.save_figure(draw.against_mean_figure(panels), outputs["against_mean"], dpi=dpi)
    log.info("compared %d scales: %d pairs per side, %d not joined", len(scales), len(comparison.pairs) // len(SIDES),
             int((comparison.pairs["joined"] == scalecompare.NO_LINK).sum()) // len(SIDES))

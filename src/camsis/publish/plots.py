"""Plots of scores, drawn off-screen (Agg) so they work on servers and cluster nodes.

Each ``*_figure`` function returns a matplotlib Figure so that tests and notebooks can
inspect it; ``save_figure`` writes it and frees it. The scale plots take the unit frame
of a build (``camsis.scaling.scale.UnitScores.scores`` with ``title``, the linked measures and
any bootstrap interval columns joined, see ``units_for_plots``), where side ``m`` is
husbands (occ1) and ``f`` wives (occ2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.layout_engine import TightLayoutEngine  # noqa: E402

from camsis.method.correlation import pearson  # noqa: E402
from camsis.method.standardising import fit_standardisation  # noqa: E402
from camsis.vocabulary import OCCUPATION_COLUMNS, PARTNER_NAMES, SEX_NAMES, SIDE_NAMES, SIDES, TABLE_AXES  # noqa: E402

# A side's scores in titles: its sex, and who it is in the table.
SIDE_TITLES = {side: f"{SEX_NAMES[side]} ({PARTNER_NAMES[side]}, {OCCUPATION_COLUMNS[side]})" for side in SIDES}
SIDE_COLOURS = {"m": "tab:blue", "f": "tab:red"}
LINKED_MEASURES = {"isei": "ISEI", "siops": "SIOPS", "icam": "ICAM"}

# Every figure function builds its axes with titles placed once, where matplotlib's automatic
# placement puts them on these axes (just above the top: no tick labels up there), rather than
# placed anew on each drawing, which measures all of an axes' y tick labels once more: about a
# twentieth of a scale's figures' CPU for the same pixels.
_titles_in_place = matplotlib.rc_context({"axes.titley": 1.0})


def save_figure(fig: Figure, path, fmt: str | None = None, dpi: int = 100) -> None:
    """Write the figure and close it (figures otherwise stay in pyplot's memory).

    A PNG is compressed at zlib level 1: these flat-coloured figures come out the same size as
    at the default level 6 (within 0.01% on a scale's six), in a tenth less of their drawing time.
    """
    png = (fmt or Path(str(path)).suffix.lstrip(".")).lower() == "png"
    try:
        fig.savefig(path, dpi=dpi, format=fmt, **({"pil_kwargs": {"compress_level": 1}} if png else {}))
    finally:
        plt.close(fig)


def tight_layout(fig: Figure) -> None:
    """Lay the figure out as ``fig.tight_layout()`` does, leaving no layout engine on it.

    ``Figure.tight_layout`` leaves a placeholder engine behind, and ``savefig`` then draws
    the whole figure once more, without rendering, before the drawing it writes: the same
    pixels for about a fifth more of a figure's time.
    """
    TightLayoutEngine().execute(fig)


def correlation(x: pd.Series, y: pd.Series) -> tuple[float, int]:
    """Pearson r over the rows where both are known (NaN below 3), and how many rows that is."""
    return pearson(x, y, at_least=3)


def _labelled_positions(n: int, max_labels: int) -> list[int]:
    """All positions when they fit; otherwise `max_labels` evenly spaced ones, both ends included."""
    if n <= max_labels:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, max_labels).round().astype(int).tolist()))


@_titles_in_place
def caterpillar_figure(scores: pd.DataFrame, label_col: str, estimate_col: str, title: str,
                       se_col: str | None = None, lower_col: str | None = None,
                       upper_col: str | None = None, back_transform: Callable | None = None,
                       xlabel: str | None = None, max_labels: int = 90) -> Figure:
    """Categories ranked by estimate with intervals, as many labelled as stay readable.

    The interval is ``lower_col``..``upper_col`` when given, else estimate +- 1.96 se.
    With `back_transform` (e.g. np.exp for a log-scale model) the estimate and the
    interval ends are transformed after the interval is formed on the model scale. With
    more than `max_labels` categories the figure stops growing and labels evenly spaced
    ones, the highest and the lowest included.
    """
    frame = scores.sort_values(estimate_col, kind="stable").reset_index(drop=True)
    est = frame[estimate_col].to_numpy(dtype=float)
    if lower_col is not None and upper_col is not None:
        lo, hi = frame[lower_col].to_numpy(dtype=float), frame[upper_col].to_numpy(dtype=float)
    else:
        half = 1.96 * frame[se_col].to_numpy(dtype=float)
        lo, hi = est - half, est + half
    if back_transform is not None:
        est, lo, hi = back_transform(est), back_transform(lo), back_transform(hi)
    n = len(frame)
    pos = np.arange(n)
    height = max(3.0, 0.18 * min(n, max_labels) + 1.5)
    dense = n > max_labels
    fig, ax = plt.subplots(figsize=(8.0, height))
    ax.errorbar(est, pos, xerr=[np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)], fmt="o",
                ms=1.5 if dense else 3, color="black", ecolor="grey", elinewidth=0.6 if dense else 1, capsize=0)
    labelled = _labelled_positions(n, max_labels)
    ax.set_yticks(labelled)
    ax.set_yticklabels([str(frame[label_col].iloc[i]) for i in labelled], fontsize=7)
    ax.set_ylim(-1, n)
    ax.set_xlabel(xlabel or f"{estimate_col} (95% interval)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    _fit_margins(fig, [str(frame[label_col].iloc[i]) for i in labelled], fontsize=7)
    return fig


def _fit_margins(fig: Figure, ytick_labels: list[str], fontsize: float) -> None:
    """Margins of a one-axes figure as ``tight_layout`` sets them, from the widest y tick label.

    The same room for the labels, the title and the x axis, measured once: ``tight_layout``
    measures every tick label twice, most of a caterpillar plot's drawing time with 90 labels.
    """
    renderer = fig.canvas.get_renderer()
    font = FontProperties(size=fontsize)
    widest = max((renderer.get_text_width_height_descent(text, font, ismath=False)[0] for text in ytick_labels),
                 default=0.0) / fig.dpi
    points = 1 / 72
    pad = 1.08 * plt.rcParams["font.size"] * points  # tight_layout's default pad
    tick = (plt.rcParams["ytick.major.size"] + plt.rcParams["ytick.major.pad"]) * points
    text = 1.2 * plt.rcParams["font.size"] * points  # a line of 10-point tick or axis label
    title = (1.2 * FontProperties(size=plt.rcParams["axes.titlesize"]).get_size_in_points()
             + plt.rcParams["axes.titlepad"]) * points
    _grid_margins(fig, left=pad + tick + widest, right=pad + text, top=pad + title,
                  bottom=pad + tick + text + plt.rcParams["axes.labelpad"] * points + text)


def _grid_margins(fig: Figure, *, left: float = 0.8, right: float = 0.25, top: float = 0.75, bottom: float = 0.6,
                  wspace: float = 0.8, hspace: float = 0.85) -> None:
    """Margins and gaps, in inches, of a grid of like panels, or of one (short number tick labels,
    one line of title and of each axis label, a figure title above; no text placed at the data
    points, which tight_layout makes room for: the CA map and male-female plots keep it).

    Fixed room rather than ``tight_layout``, which measures every label of every panel twice: most
    of the drawing time of a sheet's grid of 48 panels. The defaults hold 10-point labels of up to
    three digits, a panel title of one line and a 12-point figure title.
    """
    width, height = fig.get_size_inches()
    rows, columns = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    panel_width = (width - left - right - (columns - 1) * wspace) / columns
    panel_height = (height - top - bottom - (rows - 1) * hspace) / rows
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        wspace=wspace / panel_width, hspace=hspace / panel_height)


def caterpillar_plot(scores: pd.DataFrame, label_col: str, estimate_col: str, se_col: str,
                     path, title: str, back_transform: Callable | None = None,
                     xlabel: str | None = None, fmt: str | None = None) -> None:
    """Categories ranked by estimate with 95% intervals (estimate +- 1.96 se), written to `path`."""
    fig = caterpillar_figure(scores, label_col, estimate_col, title, se_col=se_col,
                             back_transform=back_transform, xlabel=xlabel)
    save_figure(fig, path, fmt=fmt)


def units_for_plots(unit_scores, score_file: pd.DataFrame, code: str, titles: pd.Series) -> pd.DataFrame:
    """The unit frame the scale plots draw: the unit file's columns, plus the score file's others.

    ``unit_scores`` is a ``camsis.scaling.scale.UnitScores`` (its ``table()``: scores and
    ``population_m``, ``population_f``).

    The score file brings the linked measures and, once the bootstrap has run, its
    interval columns; ``title`` comes from the classification.
    """
    unit_scores = unit_scores.table()
    published = score_file.set_index(code)
    extra = [c for c in published.columns if c not in unit_scores.columns]
    frame = unit_scores.join(published[extra], how="left")
    frame["title"] = titles.reindex(frame.index)
    return frame


def score_interval(units: pd.DataFrame, side: str) -> tuple[pd.Series, pd.Series, str]:
    """The score file's 95% interval (+- 1.96 total SE) when the build ran a bootstrap, else the model-based +- 1.96 se."""
    lower, upper = f"{side}cam_lo", f"{side}cam_hi"
    if lower in units.columns and upper in units.columns and units[[lower, upper]].notna().any().all():
        return units[lower], units[upper], "95% interval (+- 1.96 total SE)"
    estimate, half = units[f"{side}camsis"], 1.96 * units[f"{side}cam_se"]
    return estimate - half, estimate + half, "model-based 95% interval (+- 1.96 se)"


def _own_scores(units: pd.DataFrame, side: str) -> pd.DataFrame:
    """Units scored from their own pairs (not borrowed from a parent group)."""
    imputed = units.get(f"{side}_imputed", pd.Series(0, index=units.index)).fillna(0)
    return units[(imputed == 0) & units[f"{side}camsis"].notna()]


def _short(text, width: int = 38) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def score_caterpillar_figure(units: pd.DataFrame, side: str, scale: str, max_labels: int = 40) -> Figure:
    """Ranked unit scores of one sex with their intervals, labelled by code and title.

    At most 40 labels (every tenth of SOC2020's 412 units): the figure stays within a laptop
    screen's height (870 pixels at 100 dpi), and the labels are most of the figure's drawing (about
    2 ms each), which a sheet of dozens of scales pays for every scale (docs/census.md). The score
    file has every unit.
    """
    own = _own_scores(units, side)
    lower, upper, kind = score_interval(own, side)
    frame = pd.DataFrame({
        "label": [f"{code} {_short(title)}" for code, title in zip(own.index, own["title"])],
        "score": own[f"{side}camsis"], "lower": lower, "upper": upper,
    })
    frame = frame[frame[["lower", "upper"]].notna().all(axis=1)]
    title = f"{scale}: {SIDE_TITLES[side]} scores of {len(frame)} units"
    return caterpillar_figure(frame, "label", "score", title, lower_col="lower", upper_col="upper",
                              xlabel=f"CAMSIS score with {kind}", max_labels=max_labels)


def _marker_sizes(n: pd.Series, largest: float = 120.0) -> np.ndarray:
    """Areas proportional to n, the largest unit drawn at `largest` points^2."""
    values = n.fillna(0).to_numpy(float)
    top = values.max() if len(values) and values.max() > 0 else 1.0
    return np.maximum(largest * values / top, 6.0)


def _diagonal(ax, xs, ys) -> None:
    both = np.concatenate([np.asarray(xs, float), np.asarray(ys, float)])
    both = both[np.isfinite(both)]
    if len(both):
        low, high = both.min(), both.max()
        ax.plot([low, high], [low, high], color="grey", lw=0.8, ls="--", zorder=0)


@_titles_in_place
def shrinkage_figure(units: pd.DataFrame, scale: str, mean: float = 50.0, sd: float = 15.0,
                     estimator: str = "CA") -> Figure:
    """Raw score against smoothed score per sex, points sized by pairs: the shrinkage.

    The raw scores (``{s}_raw``, the estimator's: CA or RC; ``{s}_ca`` in unit files
    written before there was a choice; ``estimator`` names it in the labels) are put on
    the published metric with the same population-weighted
    linear map the smoothed scores get (unclipped), so the dashed diagonal is "no
    change". Units sharing a CA row (those merged for the CA and the unit they joined,
    all with the row's raw score) are drawn hollow: for the merged ones the distance from
    the diagonal is the merge as much as the smoothing.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 5.8))
    for ax, side in zip(axes, SIDES):
        own = _own_scores(units, side)
        column = f"{side}_raw" if f"{side}_raw" in own.columns else f"{side}_ca"
        own = own[own[column].notna()]
        raw = own[column]
        fit = fit_standardisation(raw, own[f"population_{side}"], mean, sd)
        x = fit.factor * raw + fit.offset
        y = own[f"{side}camsis"]
        merged = raw.duplicated(keep=False).to_numpy()
        points = ax.scatter(x[~merged], y[~merged], s=_marker_sizes(own[f"n_{side}"])[~merged],
                            c=own.loc[~merged, f"{side}_lambda"], cmap="viridis", vmin=0, vmax=1, alpha=0.7,
                            edgecolors="none", label=f"units in the {estimator} on their own")
        if merged.any():
            ax.scatter(x[merged], y[merged], s=_marker_sizes(own[f"n_{side}"])[merged], facecolors="none",
                       edgecolors="grey", linewidths=0.8, label=f"units sharing a {estimator} row (x: its score):\nmerged ones and the unit they joined")
        _diagonal(ax, x, y)
        r, count = correlation(x, y)
        ax.set_title(f"{SIDE_TITLES[side]}: r = {r:.3f} over {count} units", fontsize=10)
        ax.set_xlabel(f"raw {estimator} score, standardised (mean {mean:g}, SD {sd:g})")
        ax.set_ylabel("smoothed CAMSIS score")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    colours = fig.colorbar(points, ax=axes, shrink=0.8)
    colours.set_label("shrinkage factor lambda (1 = no shrinkage)")
    fig.suptitle(f"{scale}: raw {estimator} against smoothed scores (point area ~ pairs)")
    return fig


@_titles_in_place
def sex_figure(units: pd.DataFrame, scale: str, label_most: int = 6) -> Figure:
    """Male against female score of each unit, sized by pairs; the largest own-scored gaps labelled."""
    both = units[units["mcamsis"].notna() & units["fcamsis"].notna()]
    imputed = (both.get("m_imputed", 0) != 0) | (both.get("f_imputed", 0) != 0)
    fig, ax = plt.subplots(figsize=(7.5, 7.0))
    sizes = _marker_sizes(both["n_m"] + both["n_f"])
    ax.scatter(both.loc[~imputed, "mcamsis"], both.loc[~imputed, "fcamsis"], s=sizes[~imputed.to_numpy()],
               alpha=0.6, edgecolors="none", label="both sexes scored from own pairs")
    if imputed.any():
        ax.scatter(both.loc[imputed, "mcamsis"], both.loc[imputed, "fcamsis"], s=12, marker="x",
                   color="tab:orange", label="one side borrowed from a parent group")
    _diagonal(ax, both["mcamsis"], both["fcamsis"])
    gaps = (both["mcamsis"] - both["fcamsis"])[~imputed].abs().sort_values(ascending=False)
    for code in gaps.index[:label_most]:
        ax.annotate(f"{code} {_short(both.loc[code, 'title'], 28)}", (both.loc[code, "mcamsis"], both.loc[code, "fcamsis"]),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")
    r, count = correlation(both["mcamsis"], both["fcamsis"])
    ax.set_title(f"{scale}: male against female scores, r = {r:.3f} over {count} units")
    ax.set_xlabel("male CAMSIS score (mcamsis)")
    ax.set_ylabel("female CAMSIS score (fcamsis)")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    tight_layout(fig)
    return fig


def _ca_points(units: pd.DataFrame, side: str) -> pd.DataFrame:
    """One point per CA row/column: merged units share coordinates, so their pairs are summed."""
    frame = units[[f"{side}_ca", f"{side}_ca2", f"n_{side}"]].dropna(subset=[f"{side}_ca", f"{side}_ca2"])
    frame.columns = ["dim1", "dim2", "n"]
    points = frame.groupby(["dim1", "dim2"], sort=False)["n"].agg(["sum", "size"]).reset_index()
    points["first"] = frame.reset_index().groupby(["dim1", "dim2"], sort=False)[frame.index.name or "index"].first().to_numpy()
    return points.rename(columns={"sum": "n", "size": "units"})


def ca_axis_labels(ca) -> tuple[str, str]:
    """Axis names of the CA map: the CA's own dimension numbers and their inertia shares.

    Parameters
    ----------
    ca : camsis.scaling.summary.CASummary
        The build's CA (``UnitScores.diagnostics.ca``).
    """
    chosen, inertia = ca.chosen_dimension, ca.inertia
    others = [int(name.removeprefix("dim")) for name in inertia if name != f"dim{chosen}"]
    if not others:  # a table so small (or so merged) that the CA has one dimension
        return (f"dimension {chosen} ({100 * inertia[f'dim{chosen}']:.1f}% of inertia), the scale",
                "no second dimension")
    second = min(others)
    return tuple(
        f"dimension {d} ({100 * inertia[f'dim{d}']:.1f}% of inertia){', the scale' if d == chosen else ''}"
        for d in (chosen, second)
    )


@_titles_in_place
def ca_map_figure(units: pd.DataFrame, scale: str, axis_labels: tuple[str, str] = ("dimension 1", "dimension 2"),
                  label_most: int = 4) -> Figure:
    """Row (husbands') and column (wives') points of the CA on its first two kept dimensions.

    Merged units are drawn once, at their group's point, sized by the pairs of the
    group; the points furthest out on each axis are labelled with a unit code.
    """
    if not {"m_ca2", "f_ca2"} <= set(units.columns):
        fig, ax = plt.subplots(figsize=(6.0, 2.0))
        ax.axis("off")
        ax.set_title(f"{scale}: the CA has a single dimension ({axis_labels[0]}), so there is no map to draw")
        return fig
    fig, ax = plt.subplots(figsize=(8.0, 7.0))
    for side, marker in (("m", "o"), ("f", "^")):
        points = _ca_points(units, side)
        ax.scatter(points["dim1"], points["dim2"], s=_marker_sizes(points["n"]), marker=marker, alpha=0.5,
                   color=SIDE_COLOURS[side], edgecolors="none",
                   label=f"{TABLE_AXES[side]}: {SIDE_NAMES[side]}, {len(points)} points")
        extreme = set()
        for column in ("dim1", "dim2"):
            extreme |= set(points[column].nlargest(label_most // 2).index) | set(points[column].nsmallest(label_most // 2).index)
        for i in sorted(extreme):
            ax.annotate(str(points.loc[i, "first"]), (points.loc[i, "dim1"], points.loc[i, "dim2"]), fontsize=7,
                        color=SIDE_COLOURS[side], xytext=(3, 3), textcoords="offset points")
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(f"{scale}: CA map, principal coordinates (point area ~ pairs)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    tight_layout(fig)
    return fig


@_titles_in_place
def linked_figure(units: pd.DataFrame, scale: str, measures: dict[str, str] | None = None) -> Figure:
    """Each sex's scores against each linked measure, Pearson r over units in the panel titles."""
    measures = {c: name for c, name in (measures or LINKED_MEASURES).items() if c in units.columns}
    if not measures:
        fig, ax = plt.subplots(figsize=(6.0, 2.0))
        ax.axis("off")
        ax.set_title(f"{scale}: the classification has no linked measures ({', '.join(LINKED_MEASURES)})")
        return fig
    fig, axes = plt.subplots(2, len(measures), figsize=(4.2 * len(measures), 8.0), squeeze=False)
    for row, side in enumerate(SIDES):
        own = _own_scores(units, side)
        for col, (column, name) in enumerate(measures.items()):
            ax = axes[row, col]
            x, y = pd.to_numeric(own[column], errors="coerce"), own[f"{side}camsis"]
            ax.scatter(x, y, s=_marker_sizes(own[f"n_{side}"], 60.0), alpha=0.5, color=SIDE_COLOURS[side],
                       edgecolors="none")
            r, count = correlation(x, y)
            ax.set_title(f"{name} vs {'male' if side == 'm' else 'female'}: r = {r:.3f} (n = {count})", fontsize=10)
            ax.set_xlabel(name)
            ax.set_ylabel(f"{side}camsis")
            ax.grid(alpha=0.3)
    fig.suptitle(f"{scale}: CAMSIS scores against the linked measures (units, point area ~ pairs)")
    _grid_margins(fig)
    return fig


@_titles_in_place
def comparison_figure(scores: pd.DataFrame, scale: str, old_name: str) -> Figure:
    """New against old score per sex (``camsis.publish.compare.Comparison.scores``), units and groups apart."""
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 5.8))
    for ax, (sex, column) in zip(axes, (("male", "mcamsis"), ("female", "fcamsis"))):
        new, old = scores[f"{column}_new"], scores[f"{column}_old"]
        units = scores["unit"].to_numpy()
        ax.scatter(old[units], new[units], s=10, alpha=0.6, edgecolors="none", label="units")
        if (~units).any():
            ax.scatter(old[~units], new[~units], s=22, marker="s", color="tab:orange", alpha=0.8,
                       edgecolors="none", label="groups")
        _diagonal(ax, old, new)
        r, count = correlation(new[units], old[units])
        ax.set_title(f"{sex}: r = {r:.3f} over {count} units", fontsize=10)
        ax.set_xlabel(f"{column} in {old_name}")
        ax.set_ylabel(f"{column} in this build")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{scale} against {old_name}")
    tight_layout(fig)
    return fig


@_titles_in_place
def scales_heatmap_figure(correlations: dict, counts: dict) -> Figure:
    """Each side's matrix of correlations between a sheet's scales (``camsis.publish.scalecompare.ScaleComparison``),
    every cell labelled with r and the codes it rests on; pairs no link joins are left blank."""
    names = list(correlations[SIDES[0]].index)
    size = max(4.5, 0.9 * len(names) + 2.0)
    fig, axes = plt.subplots(1, len(SIDES), figsize=(2 * size, size * 0.9))
    finite = np.concatenate([correlations[s].to_numpy(float).ravel() for s in SIDES])
    finite = finite[np.isfinite(finite)]
    low = min(float(finite.min()), 0.9) if finite.size else 0.9
    for ax, side in zip(np.atleast_1d(axes), SIDES):
        values = correlations[side].to_numpy(float)
        image = ax.imshow(np.ma.masked_invalid(values), vmin=low, vmax=1.0,
                          cmap=plt.get_cmap("viridis").with_extremes(bad="0.85"))
        for i in range(len(names)):
            for j in range(len(names)):
                text = "" if not np.isfinite(values[i, j]) else f"{values[i, j]:.3f}\n{counts[side].iat[i, j]}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, in_layout=False,  # inside its cell
                        color="white" if np.isfinite(values[i, j]) and values[i, j] < (low + 1) / 2 else "black")
        ax.set_xticks(range(len(names)), [_short(n, 16) for n in names], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), [_short(n, 16) for n in names], fontsize=8)
        ax.set_title(f"{side}camsis: {SIDE_TITLES[side]}", fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.75, label="Pearson r (codes below)")
    fig.suptitle("The sheet's scales against one another (units scored from their own pairs)")
    tight_layout(fig)
    return fig


@_titles_in_place
def against_mean_figure(panels: dict, columns: int = 6) -> Figure:
    """Each scale's unit scores against the mean of its classification's scales: the men's panels,
    then the women's, in rows of at most ``columns`` scales (a census sheet of dozens stays readable).

    ``panels`` maps side -> {scale: DataFrame with ``score`` and ``mean`` per unit}
    (``camsis.publish.scalecompare.mean_scale``).
    """
    names = list(panels[SIDES[0]])
    columns = min(columns, len(names))
    rows = -(-len(names) // columns)  # per side
    fig, axes = plt.subplots(len(SIDES) * rows, columns, figsize=(3.2 * columns, 3.3 * len(SIDES) * rows),
                             squeeze=False)
    for block in range(len(SIDES)):  # a side's last row may not be full
        for k in range(len(names), rows * columns):
            axes[block * rows + k // columns, k % columns].axis("off")
    for block, side in enumerate(SIDES):
        for k, name in enumerate(names):
            ax, frame = axes[block * rows + k // columns, k % columns], panels[side][name]
            ax.scatter(frame["mean"], frame["score"], s=8, alpha=0.6, edgecolors="none", color=SIDE_COLOURS[side])
            _diagonal(ax, frame["mean"], frame["score"])
            r, count = correlation(frame["score"], frame["mean"])
            ax.set_title(f"{_short(name, 20)} ({side}): r = {r:.3f}, {count} units", fontsize=9)
            ax.set_xlabel("mean of the scales", fontsize=8)
            ax.set_ylabel(f"{side}camsis", fontsize=8)
            ax.grid(alpha=0.3)
    fig.suptitle("Each scale against the sheet's mean scale (of its classification)")
    _grid_margins(fig, left=0.65, wspace=0.65, hspace=0.7, bottom=0.5)
    return fig

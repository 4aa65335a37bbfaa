"""Plots: checked on the Figure objects (titles, labels, points drawn), not on pixels."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.layout_engine import TightLayoutEngine
from scipy import stats

from camsis.scaling.scale import UnitScores

from camsis.publish.plots import (
    against_mean_figure,
    ca_map_figure,
    caterpillar_figure,
    caterpillar_plot,
    comparison_figure,
    linked_figure,
    save_figure,
    score_caterpillar_figure,
    sex_figure,
    shrinkage_figure,
    units_for_plots,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def units():
    """30 units as the work file has them, two imputed on the male side, a merged pair in the CA."""
    rng = np.random.default_rng(6)
    n = 30
    index = pd.Index(range(1001, 1001 + n), name="unit")
    m_ca = rng.normal(size=n)
    f_ca = m_ca + rng.normal(scale=0.3, size=n)
    frame = pd.DataFrame({
        "mcamsis": 50 + 15 * m_ca, "mcam_se": rng.uniform(0.5, 3, n), "n_m": rng.integers(5, 500, n).astype(float),
        "m_imputed": 0, "m_ca": m_ca, "m_lambda": rng.uniform(0.3, 1, n), "m_ca2": rng.normal(size=n),
        "fcamsis": 50 + 15 * f_ca, "fcam_se": rng.uniform(0.5, 3, n), "n_f": rng.integers(5, 500, n).astype(float),
        "f_imputed": 0, "f_ca": f_ca, "f_lambda": rng.uniform(0.3, 1, n), "f_ca2": rng.normal(size=n),
        "population_m": rng.integers(10, 900, n).astype(float), "population_f": rng.integers(10, 900, n).astype(float),
        "isei": 40 + 10 * m_ca + rng.normal(scale=5, size=n), "siops": rng.uniform(20, 70, n),
        "icam": 45 + 8 * f_ca + rng.normal(scale=5, size=n),
        "title": [f"Occupation {i}" for i in range(n)],
    }, index=index)
    frame.loc[[1003, 1007], "m_imputed"] = 100
    # units 1011 and 1012 merged for the CA: same coordinates on both dimensions
    frame.loc[1012, ["m_ca", "m_ca2"]] = frame.loc[1011, ["m_ca", "m_ca2"]].to_numpy()
    frame.loc[1011, "isei"] = np.nan
    return frame


def scatter_offsets(ax):
    return np.vstack([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])


def interval_segments(ax):
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    return np.array([[seg[0][0], seg[1][0]] for seg in bars.get_segments()])


def test_caterpillar_ranks_and_labels_every_category_when_they_fit(units):
    frame = units.reset_index()
    fig = caterpillar_figure(frame, "title", "mcamsis", "Ranked", se_col="mcam_se", xlabel="score")
    ax = fig.axes[0]
    (points,) = [line for line in ax.lines if line.get_marker() == "o"]
    assert np.all(np.diff(points.get_xdata()) >= 0) and len(points.get_xdata()) == len(units)
    ranked = frame.sort_values("mcamsis")
    assert [t.get_text() for t in ax.get_yticklabels()] == ranked["title"].tolist()
    ends = interval_segments(ax)
    assert np.allclose(ends[:, 1] - ends[:, 0], 2 * 1.96 * ranked["mcam_se"].to_numpy())
    assert ax.get_title() == "Ranked" and ax.get_xlabel() == "score"


def test_caterpillar_with_many_categories_labels_an_even_subset_with_both_ends():
    frame = pd.DataFrame({"label": [f"u{i}" for i in range(412)], "est": np.arange(412.0), "lo": np.arange(412.0) - 1,
                          "hi": np.arange(412.0) + 2})
    fig = caterpillar_figure(frame, "label", "est", "Many", lower_col="lo", upper_col="hi", max_labels=60)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 60 and labels[0] == "u0" and labels[-1] == "u411"
    assert np.allclose(interval_segments(ax), np.column_stack([frame["lo"], frame["hi"]]))
    assert fig.get_size_inches()[1] < 15  # does not grow with the categories


@pytest.mark.parametrize("width", [3, 43])
def test_caterpillar_margins_are_those_tight_layout_finds(width):
    """The caterpillar's margins come from its widest label, measured once; matplotlib's own
    tight layout of the same figure is the reference: within 0.1 inch on the left (the labels),
    at the top and bottom; on the right as much room or up to 0.2 inch more (kept for half of
    an x tick label at the axis end, which tight layout measures where there is one)."""
    frame = pd.DataFrame({"label": [f"{1000 + i} " + "Occupation title "[: width - 5] * 3 for i in range(346)],
                          "est": np.linspace(10, 90, 346), "lo": np.linspace(5, 85, 346), "hi": np.linspace(15, 95, 346)})
    frame["label"] = frame["label"].str.slice(0, width)
    fig = caterpillar_figure(frame, "label", "est", "s: male (husbands, occ1) scores of 346 units", lower_col="lo",
                             upper_col="hi", xlabel="CAMSIS score with model-based 95% interval (+- 1.96 se)")
    ours = fig.subplotpars
    ours = {side: getattr(ours, side) for side in ("left", "right", "top", "bottom")}
    TightLayoutEngine().execute(fig)
    theirs = {side: getattr(fig.subplotpars, side) for side in ours}
    width_in, height_in = fig.get_size_inches()
    assert abs(ours["left"] - theirs["left"]) * width_in < 0.1, (ours, theirs)
    assert 0 <= (theirs["right"] - ours["right"]) * width_in < 0.2, (ours, theirs)
    for side in ("top", "bottom"):
        assert abs(ours[side] - theirs[side]) * height_in < 0.1, (side, ours, theirs)


def test_a_png_is_written_at_compression_level_1_and_other_formats_as_they_come(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kw: calls.append((str(path), kw)))
    for name, fmt in (("a.png", None), ("b.pdf", None), ("c", "png"), ("d.png", "svg")):
        fig = Figure()
        save_figure(fig, tmp_path / name, fmt=fmt)
    assert [kw.get("pil_kwargs") for _, kw in calls] == [{"compress_level": 1}, None, {"compress_level": 1}, None]


def test_caterpillar_plot_keeps_the_cli_signature(tmp_path):
    frame = pd.DataFrame({"label": ["a", "b", "c"], "esres": [0.1, -0.2, 0.3], "esres_se": [0.05, 0.1, 0.2]})
    path = tmp_path / "esres.png"
    caterpillar_plot(frame, "label", "esres", "esres_se", path, title="ESRES", back_transform=np.exp, fmt="png")
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000


def test_score_caterpillar_uses_model_intervals_without_a_bootstrap(units):
    fig = score_caterpillar_figure(units, "m", "toy")
    ax = fig.axes[0]
    assert "model-based" in ax.get_xlabel()
    assert ax.get_title() == "toy: male (husbands, occ1) scores of 28 units"  # the 2 imputed left out
    assert len(interval_segments(ax)) == 28
    assert "1003 Occupation 2" not in [t.get_text() for t in ax.get_yticklabels()]


def test_score_caterpillar_prefers_the_score_files_total_se_intervals(units):
    boot = units.assign(fcam_lo=units["fcamsis"] - 1.0, fcam_hi=units["fcamsis"] + 4.0)
    fig = score_caterpillar_figure(boot, "f", "toy")
    ax = fig.axes[0]
    assert "total SE" in ax.get_xlabel() and "female" in ax.get_title()
    ranked = boot.sort_values("fcamsis")
    assert np.allclose(interval_segments(ax), ranked[["fcam_lo", "fcam_hi"]].to_numpy())


def test_shrinkage_puts_raw_ca_on_the_published_metric(units):
    fig = shrinkage_figure(units, "toy", mean=50, sd=15)
    left, right = fig.axes[:2]
    own = units[units["m_imputed"] == 0]
    w, ca = own["population_m"].to_numpy(), own["m_ca"].to_numpy()
    centre = np.average(ca, weights=w)
    expected = pd.Series(50 + 15 * (ca - centre) / np.sqrt(np.average((ca - centre) ** 2, weights=w)), index=own.index)
    alone, merged = [c.get_offsets() for c in left.collections if isinstance(c, PathCollection)]
    assert len(merged) == 2 and len(alone) == len(own) - 2  # 1011 and 1012 share a CA point
    assert np.allclose(merged, np.column_stack([expected[[1011, 1012]], own.loc[[1011, 1012], "mcamsis"]]))
    rest = own.index.difference([1011, 1012])
    assert np.allclose(alone, np.column_stack([expected[rest], own.loc[rest, "mcamsis"]]))
    r = np.corrcoef(expected, own["mcamsis"])[0, 1]
    assert f"r = {r:.3f} over 28 units" in left.get_title()
    assert len(scatter_offsets(right)) == len(units)
    assert "toy" in fig._suptitle.get_text() and "standardised" in left.get_xlabel()


def test_male_female_scatter_reports_the_correlation(units):
    fig = sex_figure(units, "toy")
    ax = fig.axes[0]
    assert len(scatter_offsets(ax)) == len(units)
    r = stats.pearsonr(units["mcamsis"], units["fcamsis"]).statistic
    assert ax.get_title() == f"toy: male against female scores, r = {r:.3f} over 30 units"
    assert ax.get_xlabel().startswith("male") and ax.get_ylabel().startswith("female")


def test_ca_map_draws_merged_units_once(units):
    fig = ca_map_figure(units, "toy", ("dimension 1 (31.0% of inertia)", "dimension 2 (8.6% of inertia)"))
    ax = fig.axes[0]
    rows, cols = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(rows.get_offsets()) == len(units) - 1 and len(cols.get_offsets()) == len(units)
    merged = np.isclose(rows.get_offsets(), units.loc[1011, ["m_ca", "m_ca2"]].to_numpy(float)).all(axis=1)
    assert merged.sum() == 1
    assert ax.get_xlabel().startswith("dimension 1") and "8.6%" in ax.get_ylabel()
    assert "toy" in ax.get_title()


def test_linked_measures_panels_give_pearson_r(units):
    fig = linked_figure(units, "toy")
    assert len(fig.axes) == 6
    own = units[units["m_imputed"] == 0].dropna(subset=["isei"])
    r = stats.pearsonr(own["isei"], own["mcamsis"]).statistic
    assert fig.axes[0].get_title() == f"ISEI vs male: r = {r:.3f} (n = {len(own)})"
    r_f = stats.pearsonr(units["icam"], units["fcamsis"]).statistic
    assert fig.axes[5].get_title() == f"ICAM vs female: r = {r_f:.3f} (n = 30)"
    assert [ax.get_xlabel() for ax in fig.axes[:3]] == ["ISEI", "SIOPS", "ICAM"]


def test_linked_measures_without_links_says_so(units):
    fig = linked_figure(units.drop(columns=["isei", "siops", "icam"]), "toy")
    assert "no linked measures" in fig.axes[0].get_title()


def test_comparison_figure_separates_units_and_groups():
    scores = pd.DataFrame({"unit": [True, True, True, False], "mcamsis_new": [1.0, 2, 3, 4], "mcamsis_old": [1.0, 3, 2, 4],
                           "fcamsis_new": [1.0, 2, 3, 4], "fcamsis_old": [3.0, 2, 1, 4]})
    fig = comparison_figure(scores, "toy", "old.dta")
    male, female = fig.axes[:2]
    assert male.get_title() == "male: r = 0.500 over 3 units"
    assert female.get_title() == "female: r = -1.000 over 3 units"
    assert male.get_xlabel() == "mcamsis in old.dta" and len(scatter_offsets(male)) == 4


def test_units_for_plots_adds_the_score_files_columns_and_titles(units):
    work = units.drop(columns=["isei", "siops", "icam", "title"])
    population = work[["population_m", "population_f"]].rename(columns=lambda c: c.removeprefix("population_"))
    work = UnitScores(scores=work.drop(columns=["population_m", "population_f"]), population=population)
    published = pd.DataFrame({"soc": units.index, "isei": units["isei"].to_numpy(), "mcamsis": 0.0,
                              "mcam_lo": 1.0})
    frame = units_for_plots(work, published, "soc", units["title"])
    assert (frame["mcamsis"] == units["mcamsis"]).all()  # the work file's own columns win
    assert frame["mcam_lo"].eq(1.0).all() and frame["title"].equals(units["title"])


def _texts_fit(fig) -> list[str]:
    """What room left too small shows: labels drawn outside the figure, or a panel's labels over
    another panel's plotting area (matplotlib's own tight bounding boxes of what is drawn)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    faults = []
    drawn, page = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans), fig.bbox  # both in pixels
    if drawn.x0 < page.x0 - 1 or drawn.y0 < page.y0 - 1 or drawn.x1 > page.x1 + 1 or drawn.y1 > page.y1 + 1:
        faults.append(f"drawn {drawn.extents} beyond the figure's {page.extents}")
    shown = [ax for ax in fig.axes if ax.axison]
    for i, ax in enumerate(shown):
        labels = ax.get_tightbbox(renderer)
        faults += [f"panel {i}'s labels over panel {j}" for j, other in enumerate(shown)
                   if other is not ax and labels.overlaps(other.bbox)]
    return faults


@pytest.mark.parametrize("draw", [sex_figure, ca_map_figure, linked_figure])
def test_fixed_room_holds_every_label(units, draw):
    units = units.assign(title=[f"Occupation title that is long {i}" for i in range(len(units))])
    assert _texts_fit(draw(units, "a scale with a long name")) == []


@pytest.mark.parametrize("scales", [2, 6, 8, 24])
def test_a_sheets_grid_against_the_mean_holds_every_label(scales):
    rng = np.random.default_rng(3)
    mean = pd.Series(rng.uniform(20, 80, 300))
    panels = {side: {f"sample_{k:02d}_2011": pd.DataFrame({"score": mean + rng.normal(0, 5, 300), "mean": mean})
                     for k in range(scales)} for side in ("m", "f")}
    fig = against_mean_figure(panels)
    assert _texts_fit(fig) == []
    # rows of at most six scales, the men's first: each side's panels in sheet order, the rest hidden
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == [f"sample_{k:02d}_2011 ({side}): r = " + titles[i].split("r = ")[1]
                      for i, (side, k) in enumerate((s, k) for s in ("m", "f") for k in range(scales))]
    assert fig.get_size_inches()[0] <= 3.2 * 6 + 0.01


@pytest.mark.parametrize("draw", [sex_figure, shrinkage_figure, ca_map_figure, linked_figure, caterpillar_figure])
def test_titles_placed_once_sit_where_matplotlibs_own_placement_puts_them(tmp_path, units, draw):
    """The figure functions fix their titles' place (axes.titley) rather than have matplotlib place
    them on every drawing; the PNG must be the one automatic placement draws, byte for byte."""
    args = (units, "title", "mcamsis", "Ranked", "mcam_se") if draw is caterpillar_figure else (units, "toy")
    placed, automatic = tmp_path / "placed.png", tmp_path / "automatic.png"
    save_figure(draw(*args), placed)
    save_figure(draw.__wrapped__(*args), automatic)  # the function without the fixed place
    assert placed.read_bytes() == automatic.read_bytes()


@pytest.mark.parametrize("draw", [sex_figure, shrinkage_figure, ca_map_figure, linked_figure])
def test_save_figure_writes_a_png(tmp_path, units, draw):
    path = tmp_path / "plot.png"
    save_figure(draw(units, "toy"), path)
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000
    assert not plt.get_fignums()  # closed once written


def test_shrinkage_legend_says_hollow_points_include_the_unit_merged_into(units):
    """1011 and 1012 share a CA row: one was merged into the other, yet both are drawn hollow."""
    left = shrinkage_figure(units, "toy").axes[0]
    (hollow,) = [t.get_text() for t in left.get_legend().get_texts() if "CA row" in t.get_text()]
    assert "the unit they joined" in hollow


def test_ca_axis_labels_name_the_cas_own_dimensions():
    from camsis.publish.plots import ca_axis_labels

    first, second = ca_axis_labels(SimpleNamespace(chosen_dimension=2, inertia={"dim1": 0.31, "dim2": 0.086, "dim3": 0.02}))
    assert first == "dimension 2 (8.6% of inertia), the scale"
    assert second == "dimension 1 (31.0% of inertia)"


def test_a_one_dimensional_ca_gets_a_map_that_says_so_not_a_traceback(units):
    from camsis.publish.plots import ca_axis_labels, ca_map_figure

    labels = ca_axis_labels(SimpleNamespace(chosen_dimension=1, inertia={"dim1": 0.4}))
    assert labels == ("dimension 1 (40.0% of inertia), the scale", "no second dimension")
    figure = ca_map_figure(units.drop(columns=["m_ca2", "f_ca2"]), "toy", labels)
    assert "single dimension" in figure.axes[0].get_title()

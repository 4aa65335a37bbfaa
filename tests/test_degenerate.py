"""Degenerate tables: refused with the units named, or handled, counted and flagged.

Tables are built by hand on the toy classification (units 111 .. 222 in four sub-groups)
and go through the package as the workflow does: tabulate_frame -> build_unit_scores.
"""

import logging

import numpy as np
import pandas as pd
import pytest

from camsis.errors import CamsisError
from camsis.method.blanking import blank_cells
from camsis.method.tables import tabulate_frame
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import table_of, write_classification

BAND = np.abs(np.subtract.outer(np.arange(8), np.arange(8)))
# Poisson(3) noise, fixed so the test does not depend on a generator's stream.
NOISE = np.array([
    [2, 0, 7, 1, 4, 1, 3, 6], [3, 5, 4, 2, 3, 2, 2, 2], [3, 2, 6, 7, 4, 2, 7, 3], [3, 2, 1, 3, 2, 4, 2, 4],
    [5, 3, 2, 3, 1, 4, 2, 4], [4, 4, 6, 3, 4, 1, 2, 4], [3, 2, 3, 2, 5, 1, 3, 4], [2, 4, 7, 5, 2, 5, 3, 1],
])


def no_blanking(units):
    return blank_cells(units, units)


def two_blocks():
    """Units 111..212 linked by a band; 221 and 222 only marry each other, with fewer pairs."""
    counts = np.where(BAND <= 2, 40, 0)
    counts[6:, :] = counts[:, 6:] = 0
    counts[6:, 6:] = 10
    return counts


def test_disconnected_table_is_refused_on_request_naming_the_smaller_block(toy):
    table = table_of(two_blocks(), toy.units)
    with pytest.raises(CamsisError) as error:
        build_unit_scores(table, no_blanking(toy.units), no_blanking(toy.units), toy,
                          ScaleOptions(min_n=0, disconnected="refuse"))
    message = str(error.value)
    assert "\n" not in message
    assert "2 blocks" in message and "occ1 221, 222 with occ2 221, 222" in message
    assert "disconnected: drop" in message


def test_disconnected_table_dropped_by_default_counts_and_flags_the_units(toy, caplog, tmp_path):
    counts = two_blocks()
    table = table_of(counts, toy.units)
    blank = no_blanking(toy.units)
    with caplog.at_level(logging.WARNING, logger="camsis"):
        result = build_unit_scores(table, blank, blank, toy, ScaleOptions(min_n=0))
    dropped = result.diagnostics.dropped_blocks
    assert dropped["blocks"] == 1 and dropped["units"] == {"m": 2, "f": 2}
    assert dropped["rows"] == [221, 222] and dropped["columns"] == [221, 222]
    assert dropped["pairs"] == counts[6:, 6:].sum() == 40
    assert dropped["per_block"] == [{"rows": [221, 222], "columns": [221, 222], "pairs": 40, "pairs_weighted": 40.0}]
    assert any("221, 222" in w for w in result.diagnostics.warnings)
    assert any("outside the main block" in r.message for r in caplog.records)
    scores = result.scores
    # Out of the CA and of the smoothing: no own score, borrowed from the top group 2 (22 has none left).
    for side in ("m", "f"):
        assert scores.loc[[221, 222], f"{side}_ca"].isna().all()
        assert scores.loc[[221, 222], f"n_{side}"].eq(0).all()
        assert scores.loc[[221, 222], f"{side}_imputed"].eq(2).all()
        assert scores.loc[[111, 112, 121, 122, 211, 212], f"{side}_imputed"].eq(0).all()
    # A by-status build's blocks reach summary.json's by_status section too.
    from camsis.steps import by_status_summary
    from camsis.io.writing import write_json

    result.diagnostics.save(tmp_path / "scaling.json")
    write_json({"used": int(counts.sum()), "dropped": {}}, tmp_path / "table.json")
    assert by_status_summary(tmp_path / "table.json", tmp_path / "scaling.json")["dropped_blocks"] == dropped
    # The same scale as a CA of the main block alone (the dropped units only add population).
    main = table_of(np.where(np.arange(8)[:, None] < 6, counts, 0) * (np.arange(8)[None, :] < 6), toy.units)
    alone = build_unit_scores(main, blank, blank, toy, ScaleOptions(min_n=0))
    kept = [111, 112, 121, 122, 211, 212]
    assert np.allclose(result.scores.loc[kept, "m_ca"], alone.scores.loc[kept, "m_ca"])
    assert np.allclose(result.scores.loc[kept, "f_ca"], alone.scores.loc[kept, "f_ca"])


def test_unit_with_every_pair_blanked_is_scored_from_its_parent_and_flagged(toy):
    counts = np.where(BAND <= 2, 30, 0) + NOISE
    counts[1, :] = counts[:, 1] = 0
    counts[1, 1] = 25  # husbands and wives in 112 marry only each other: all on the diagonal
    table = table_of(counts, toy.units)
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    result = build_unit_scores(table, blank, blank, toy, ScaleOptions(min_n=0, smoothing="one_level"))
    scores = result.scores
    for side in ("m", "f"):
        assert scores.loc[112, f"{side}_imputed"] == 11 and scores.loc[112, f"n_{side}"] == 0
        assert np.isnan(scores.loc[112, f"{side}_ca"])
        # Group 11's only other unit is 111, so the parent's score is 111's.
        assert scores.loc[112, f"{side}camsis"] == pytest.approx(scores.loc[111, f"{side}camsis"])
        assert (scores.drop(index=112)[f"{side}_imputed"] == 0).all()
    assert result.population.loc[112].tolist() == [25, 25]


def test_nested_smoothing_gives_a_unit_without_pairs_its_groups_posterior(toy):
    """The nested model's unit 112 (every pair blanked) takes group 11's posterior: the fixed part
    of its top group plus group 11's effect, and its SD that of the group plus its own prior."""
    counts = np.where(BAND <= 2, 30, 0) + NOISE
    counts[1, :] = counts[:, 1] = 0
    counts[1, 1] = 25
    table = table_of(counts, toy.units)
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    options = ScaleOptions(min_n=0, smoothing="nested", smoothing_levels={"random": [1], "fixed": None})
    result = build_unit_scores(table, blank, blank, toy, options)
    scores = result.scores
    for side in ("m", "f"):
        assert scores.loc[112, f"{side}_imputed"] == 11 and scores.loc[112, f"n_{side}"] == 0
        assert (scores.drop(index=112)[f"{side}_imputed"] == 0).all()
        assert np.isfinite(scores.loc[112, f"{side}cam_se"])
        levels = result.diagnostics.smoothing[side]["levels"]
        assert [level["name"] for level in levels] == ["unit", "level2"]


def boundary_table():
    """CA structure only in the even columns, which the smoothing blanks; the rest is noise."""
    even = np.array([False, True] * 4)
    counts = np.where((BAND <= 1) & even[None, :], 60, 0) + NOISE
    return counts, even


def test_boundary_smoothing_falls_back_to_each_units_own_mean_with_a_warning(toy, caplog):
    counts, even = boundary_table()
    table = table_of(counts, toy.units)
    ca_blank = no_blanking(toy.units)
    smooth_blank = pd.DataFrame(np.broadcast_to(even, (8, 8)), index=ca_blank.index, columns=ca_blank.columns)
    with caplog.at_level(logging.WARNING, logger="camsis"):
        result = build_unit_scores(table, ca_blank, smooth_blank, toy, ScaleOptions(min_n=0))
    smoothing = result.diagnostics.smoothing
    assert smoothing["m"]["boundary"] and smoothing["f"]["boundary"]
    warnings = result.diagnostics.warnings
    for who in ("husbands", "wives"):
        assert any(who in w and "boundary fit" in w and "dimension 1" in w for w in warnings)
    assert sum("boundary fit" in r.message and "unshrunk" in r.message for r in caplog.records) >= 2

    scores = result.scores
    # Husbands: each unit's score is the plain mean of its wives' CA scores over the odd
    # (visible) columns, computed here directly from the table.
    visible = np.where(np.broadcast_to(even, (8, 8)), 0, counts).astype(float)
    wife_ca = scores["f_ca"].to_numpy()
    eps = (visible * np.nan_to_num(wife_ca)).sum(axis=1) / visible.sum(axis=1)
    slope, intercept = np.polyfit(eps, scores["mcamsis"].to_numpy(), 1)
    assert slope > 0 and np.allclose(intercept + slope * eps, scores["mcamsis"])
    assert scores["m_lambda"].eq(1.0).all()
    assert scores["mcamsis"].nunique() == 8  # not collapsed to one value
    # Wives in the blanked even columns have no pairs in the smoothing: borrowed from the parent.
    assert (scores.loc[[112, 122, 212, 222], "f_imputed"].to_numpy() == [11, 12, 21, 22]).all()


def test_weak_reference_correlation_is_a_warning_naming_both(tmp_path, caplog):
    # A reference that goes up and down along the band: unrelated to the table's structure.
    values = [60.0, 40.0, 40.0, 60.0, 60.0, 40.0, 40.0, 60.0]
    codes = [111, 112, 121, 122, 211, 212, 221, 222]
    rows = [(1, 1, None, "High", 50.0), (2, 1, None, "Low", 50.0)] + [
        (g, 2, g // 10, f"g{g}", 50.0) for g in (11, 12, 21, 22)
    ] + [(c, 3, c // 10, f"u{c}", v) for c, v in zip(codes, values)]
    weak = write_classification(tmp_path, "weak", rows)
    table = table_of(np.where(BAND <= 1, 50, 0) + NOISE, weak.units)
    blank = no_blanking(weak.units)
    with caplog.at_level(logging.WARNING, logger="camsis"):
        result = build_unit_scores(table, blank, blank, weak, ScaleOptions(min_n=0))
    ca = result.fit.ca
    chosen = ca.chosen
    row_r, col_r = ca.row_correlations[chosen], ca.column_correlations[chosen]
    assert np.mean([abs(row_r), abs(col_r)]) < 0.3
    warning = [w for w in result.diagnostics.warnings if "weakly" in w]
    assert len(warning) == 1
    assert f"{row_r:.3f}" in warning[0] and f"{col_r:.3f}" in warning[0] and "isei" in warning[0]
    assert any("weakly" in r.message for r in caplog.records)


def test_connected_well_behaved_table_has_no_warnings(toy):
    table = table_of(np.where(BAND <= 2, 40, 0) + NOISE, toy.units)
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    result = build_unit_scores(table, blank, blank, toy, ScaleOptions(min_n=0))
    assert result.diagnostics.warnings == []
    assert result.diagnostics.dropped_blocks is None


def test_boundary_fallback_standard_error_uses_the_model_frequency_weights(toy):
    # Husbands of top group 2 carry survey weight 3: the model counts each unit's Kish effective
    # sample size (docs/weights.md), so a unit's unshrunk mean has the SE of a mean over that many.
    counts, even = boundary_table()
    units = toy.units
    i, j = np.nonzero(counts)
    couples = pd.DataFrame({"h": np.repeat(units[i], counts[i, j]), "w": np.repeat(units[j], counts[i, j])})
    couples["wt"] = np.where(couples["h"] >= 200, 3.0, 1.0)
    table = tabulate_frame(couples, "h", "w", "wt", units)
    ca_blank = no_blanking(units)
    smooth_blank = pd.DataFrame(np.broadcast_to(even, (8, 8)), index=ca_blank.index, columns=ca_blank.columns)
    result = build_unit_scores(table, ca_blank, smooth_blank, toy, ScaleOptions(min_n=0, smoothing="one_level"))
    assert result.diagnostics.smoothing["m"]["boundary"]
    scores = result.scores

    # The frequency-weighted model at g = 0, computed directly: each unit's weights rescaled to its
    # Kish size (sum w)^2 / sum w^2 over its couples, REML variance around the weighted grand mean
    # of the wives' CA scores.
    visible = np.where(np.broadcast_to(even, (8, 8)), 0, counts).astype(float)
    couple_weight = np.where(units >= 200, 3.0, 1.0)[:, None]
    weights = visible * couple_weight
    kish = weights.sum(axis=1) ** 2 / (visible * couple_weight**2).sum(axis=1)
    frequency = weights * (kish / weights.sum(axis=1))[:, None]
    y = np.broadcast_to(np.nan_to_num(scores["f_ca"].to_numpy()), (8, 8))
    grand = (frequency * y).sum() / frequency.sum()
    s2 = (frequency * (y - grand) ** 2).sum() / (frequency.sum() - 1)
    eps = (frequency * y).sum(axis=1) / frequency.sum(axis=1)
    slope = np.polyfit(eps, scores["mcamsis"].to_numpy(), 1)[0]
    expected = slope * np.sqrt(s2 / frequency.sum(axis=1))
    np.testing.assert_allclose(scores["mcam_se"].to_numpy(), expected, rtol=1e-8)


@pytest.mark.parametrize("cells, culprit", [
    ({(0, 2): 1, (0, 3): 1}, r"before any blanking only 1 husbands' row\(s\) and 2 wives' column\(s\) have any: .* has only 2 "
                             r"pairs: far too few couples for a scale"),
    ({(0, 2): 1, (2, 0): 1}, r"after blanking only 1 husbands' row\(s\).*has only 2 pairs: far too few couples for a scale"),
])
def test_two_couples_are_too_few_not_too_much_blanking(toy, cells, culprit):
    """Two couples were told to 'blank fewer cells'."""
    counts = np.zeros((8, 8), dtype=int)
    for cell, n in cells.items():
        counts[cell] = n
    blank = no_blanking(toy.units)
    blank.iloc[2, 0] = True  # a pseudo-diagonal cell
    with pytest.raises(CamsisError, match=culprit) as error:
        build_unit_scores(table_of(counts, toy.units), blank, blank, toy, ScaleOptions(min_n=0))
    assert "blank fewer cells" not in str(error.value)

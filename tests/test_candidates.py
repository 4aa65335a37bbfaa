"""Pseudo-diagonal candidates: the CA's fitted table against a direct SVD, residual ranking, rounds."""

import numpy as np
import pandas as pd
import pytest

from camsis import steps
from camsis.method.blanking import PSD_COLUMNS, blank_cells, read_psd_file, save_masks
from camsis.method.merging import apply_merge
from camsis.method.tables import tabulate_frame
from camsis.scaling.candidates import blank_in_rounds, expected_counts, psd_candidates, summarise_rounds, write_candidates
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import table_of


def association_counts(toy, n=20000, beta=1.2):
    """Rounded expected counts of a log-linear model on the toy units' isei, so the scale fits well."""
    isei = toy.frame.loc[toy.units, "isei"].to_numpy(float)
    s = (isei - isei.mean()) / isei.std()
    size = np.array([3, 1, 2, 4, 2, 3, 1, 2], dtype=float)
    p = np.outer(size, size[::-1]) * np.exp(beta * np.outer(s, s))
    return np.rint(n * p / p.sum()).astype(np.int64)


def ca_model_counts(toy, n=20000):
    """Rounded counts of an exact one-dimensional CA model, r_i c_j (1 + 0.3 x_i y_j), x and y centred on their masses."""
    isei = toy.frame.loc[toy.units, "isei"].to_numpy(float)
    r = np.array([3, 1, 2, 4, 2, 3, 1, 2], dtype=float)
    c = r[::-1].copy()
    r, c = r / r.sum(), c / c.sum()
    x, y = isei - r @ isei, isei - c @ isei
    x, y = x / np.sqrt(r @ x**2), y / np.sqrt(c @ y**2)
    return np.rint(n * np.outer(r, c) * (1 + 0.3 * np.outer(x, y))).astype(np.int64)


def direct_fitted(observed, k):
    """n (r c' + D_r^1/2 U_k S_k V_k' D_c^1/2): the rank-k reconstitution, by numpy's SVD."""
    n = observed.sum()
    p = observed / n
    r, c = p.sum(axis=1), p.sum(axis=0)
    s = (p - np.outer(r, c)) / np.sqrt(np.outer(r, c))
    u, sigma, vt = np.linalg.svd(s, full_matrices=False)
    low = (u[:, :k] * sigma[:k]) @ vt[:k]
    return n * (np.outer(r, c) + np.sqrt(np.outer(r, c)) * low)


@pytest.fixture
def noisy(toy):
    rng = np.random.default_rng(8)
    return table_of(rng.poisson(association_counts(toy, n=4000)), toy.units)


def test_fitted_counts_match_a_direct_svd(toy, noisy):
    none = blank_cells(toy.units, toy.units)
    built = build_unit_scores(noisy, none, none, toy, ScaleOptions(min_n=0))
    np.testing.assert_allclose(expected_counts(built.fit).to_numpy(), direct_fitted(noisy.weighted.to_numpy(), 2),
                               rtol=1e-9, atol=1e-9)
    # every dimension kept: the reconstitution is the table itself
    full = build_unit_scores(noisy, none, none, toy, ScaleOptions(min_n=0, n_components=7))
    np.testing.assert_allclose(expected_counts(full.fit).to_numpy(), noisy.weighted.to_numpy(), atol=1e-8)


def test_fitted_counts_of_merged_units_add_up_to_their_merged_row(toy, noisy):
    none = blank_cells(toy.units, toy.units)
    built = build_unit_scores(noisy, none, none, toy, ScaleOptions(min_n=300))
    fit = built.fit
    assert (fit.row_map != fit.row_map.index).any(), "the test needs merged units"
    merged = apply_merge(fit.kept, fit.row_map, fit.column_map)
    summed = apply_merge(expected_counts(fit), fit.row_map, fit.column_map)
    np.testing.assert_allclose(summed.to_numpy(), direct_fitted(merged.to_numpy(), 2), rtol=1e-9, atol=1e-9)


def test_candidates_are_the_largest_pearson_residuals(toy, noisy):
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    built = build_unit_scores(noisy, blank, blank, toy, ScaleOptions(min_n=0))
    listed = psd_candidates(noisy, blank, built, toy, top=None, min_count=3)

    observed = np.where(blank.to_numpy(), 0.0, noisy.weighted.to_numpy())
    fitted = direct_fitted(observed, 2)
    eligible = ~blank.to_numpy() & (noisy.counts.to_numpy() >= 3) & (fitted >= 1)
    residual = (observed - fitted) / np.sqrt(np.where(fitted > 0, fitted, 1.0))
    i, j = np.nonzero(eligible & (residual > 0))
    order = np.argsort(-residual[i, j], kind="stable")
    units = toy.units
    assert listed["lower_1"].tolist() == units[i[order]].tolist()
    assert listed["lower_2"].tolist() == units[j[order]].tolist()
    np.testing.assert_allclose(listed["residual"], residual[i, j][order], rtol=1e-9)
    np.testing.assert_allclose(listed["expected"], fitted[i, j][order], rtol=1e-9)
    np.testing.assert_allclose(listed["observed"], observed[i, j][order])
    assert (listed["lower_1"] == listed["upper_1"]).all() and (listed["lower_2"] == listed["upper_2"]).all()
    assert listed["residual"].is_monotonic_decreasing
    assert not (listed["lower_1"] == listed["lower_2"]).any(), "blanked diagonal cells are never candidates"
    assert listed.loc[0, "title_1"] == toy.frame.loc[listed.loc[0, "lower_1"], "title"]
    assert len(psd_candidates(noisy, blank, built, toy, top=3, min_count=3)) == min(3, len(listed))


def test_candidates_file_reads_back_as_a_pseudo_diagonal_file(toy, noisy, tmp_path):
    none = blank_cells(toy.units, toy.units)
    built = build_unit_scores(noisy, none, none, toy, ScaleOptions(min_n=0))
    listed = psd_candidates(noisy, none, built, toy, top=5, min_count=1)
    assert len(listed) == 5
    path = tmp_path / "psd_candidates.tsv"
    write_candidates(listed, path)
    assert path.read_text().splitlines()[0].split("\t") == [
        "lower_1", "upper_1", "lower_2", "upper_2", "residual", "observed", "expected", "title_1", "title_2"]
    psds = read_psd_file(path)
    pd.testing.assert_frame_equal(psds, listed[["lower_1", "upper_1", "lower_2", "upper_2"]])
    # and blanking with it marks exactly the listed cells
    mask = blank_cells(toy.units, toy.units, psds=psds)
    assert mask.to_numpy().sum() == 5
    assert all(mask.loc[a, b] for a, b in zip(listed["lower_1"], listed["lower_2"]))


def test_rounds_blank_an_inflated_cell_and_feed_the_masks(toy):
    counts = ca_model_counts(toy)
    counts[1, 6] *= 3  # 112 with 221: a shared workplace the scale does not describe
    table = table_of(counts, toy.units)
    blank = blank_cells(toy.units, toy.units, psds=pd.DataFrame([[111, 111, 111, 111]], columns=PSD_COLUMNS))
    result = blank_in_rounds(table, blank, blank, toy, ScaleOptions(min_n=0), rounds=2, threshold=4, min_count=5)
    first = result.rounds[result.rounds["round"] == 1]
    assert (first.iloc[0]["lower_1"], first.iloc[0]["lower_2"]) == (112, 221)
    # the rest of the table is the model's own: nothing else is blanked, round 2 finds nothing
    assert len(result.rounds) == 1 and (result.candidates["residual"] <= 4).all()
    for mask in (result.ca_blank, result.smooth_blank):
        assert mask.loc[112, 221] and (mask.to_numpy() >= blank.to_numpy()).all()
        listed = {(a, b) for a, b in zip(result.rounds["lower_1"], result.rounds["lower_2"])}
        added = {(a, b) for a, b in zip(*np.nonzero(mask.to_numpy() & ~blank.to_numpy()))}
        assert {(toy.units[a], toy.units[b]) for a, b in added} == listed
    # the final candidates describe the final build
    again = build_unit_scores(table, result.ca_blank, result.smooth_blank, toy, ScaleOptions(min_n=0))
    pd.testing.assert_frame_equal(result.unit_scores.scores, again.scores)
    pd.testing.assert_frame_equal(result.candidates, psd_candidates(table, result.ca_blank, again, toy, min_count=5))
    summary = summarise_rounds(result, 2, 4).as_dict()
    assert summary["cells_blanked"] == len(result.rounds) and summary["per_round"][0]["cells"] == len(first)
    assert "112-221" in summary["per_round"][0]["cells_blanked"]


def test_no_rounds_is_one_build_on_the_given_masks(toy, noisy):
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    result = blank_in_rounds(noisy, blank, blank, toy, ScaleOptions(min_n=0), rounds=0)
    assert result.rounds.empty and result.ca_blank.equals(blank)
    plain = build_unit_scores(noisy, blank, blank, toy, ScaleOptions(min_n=0))
    pd.testing.assert_frame_equal(result.unit_scores.scores, plain.scores)


def test_fitted_counts_when_the_scale_is_not_the_first_dimension(toy, noisy):
    """choose_dimension reorders the dimensions: each must keep its own inertia in the reconstitution."""
    none = blank_cells(toy.units, toy.units)
    first = build_unit_scores(noisy, none, none, toy, ScaleOptions(min_n=0, n_components=3))
    toy.frame["tracks_dim2"] = first.fit.ca.row_scores["dim2"].reindex(toy.frame.index)
    built = build_unit_scores(noisy, none, none, toy, ScaleOptions(min_n=0, n_components=3, reference_measure="tracks_dim2"))
    assert built.fit.ca.chosen == 2
    np.testing.assert_allclose(expected_counts(built.fit).to_numpy(), direct_fitted(noisy.weighted.to_numpy(), 3),
                               rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("top", [2, None])
def test_rule_psd_rounds_passes_psd_top_on(toy, tmp_path, top):
    """The rule used to leave top out, so its final candidates were cut at 50 whatever psd_top said."""
    table = table_of(np.random.default_rng(8).poisson(association_counts(toy, n=4000)), toy.units)
    table.save(tmp_path / "table.parquet", tmp_path / "table.json")
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    save_masks(blank, blank, tmp_path / "blanked.parquet")
    files = steps.ScaleFiles(tmp_path / "table.parquet", tmp_path / "table.json", tmp_path / "blanked.parquet",
                             [tmp_path / "toy.tsv", tmp_path / "toy.yaml"])
    result = steps.psd_rounds(files, tmp_path / "rounds.tsv", tmp_path / "rounds.parquet", tmp_path / "rounds.json",
                              rounds=1, threshold=50, top=top, min_count=1, min_n=0)
    every = psd_candidates(table, result.ca_blank, result.unit_scores, toy, top=None, min_count=1)
    assert len(every) > 2
    assert len(result.candidates) == (len(every) if top is None else top)


@pytest.mark.parametrize("top,min_count", [(None, 0), (None, 4), (3, 4), (2, 9)])
def test_rules_rank_once_and_select_by_top_and_min_count_after(toy, tmp_path, top, min_count):
    """score_units writes every ranked cell; psd_candidates cuts it, so psd_top and psd_min_count refit nothing.

    The cut list must be the one the fit gives directly, and its pairs must be the table's
    unweighted couples (a weighted table, so weighted and unweighted counts differ).
    """
    counts = np.random.default_rng(8).poisson(association_counts(toy, n=300))
    i, j = np.nonzero(counts)
    couples = pd.DataFrame({"h": np.repeat(toy.units[i], counts[i, j]), "w": np.repeat(toy.units[j], counts[i, j])})
    couples["wt"] = np.random.default_rng(9).uniform(0.2, 3.0, len(couples))
    table = tabulate_frame(couples, "h", "w", "wt", toy.units)
    table.save(tmp_path / "table.parquet", tmp_path / "table.json")
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    save_masks(blank, blank, tmp_path / "blanked.parquet")
    files = steps.ScaleFiles(tmp_path / "table.parquet", tmp_path / "table.json", tmp_path / "blanked.parquet",
                             [tmp_path / "toy.tsv", tmp_path / "toy.yaml"])
    built = steps.score_units(files, tmp_path / "units.tsv", tmp_path / "scaling.json", tmp_path / "ranking.tsv",
                              min_n=0)
    steps.psd_candidates(tmp_path / "ranking.tsv", tmp_path / "candidates.tsv", top=top, min_count=min_count)
    listed = pd.read_csv(tmp_path / "candidates.tsv", sep="\t")
    direct = psd_candidates(table, blank, built, toy, top=top, min_count=min_count)
    assert list(listed.columns) == list(direct.columns)
    assert listed[PSD_COLUMNS].to_numpy().tolist() == direct[PSD_COLUMNS].to_numpy().tolist()
    np.testing.assert_allclose(listed["residual"], direct["residual"], atol=5e-5)
    pairs = table.counts.to_numpy()[np.searchsorted(toy.units, listed["lower_1"]), np.searchsorted(toy.units, listed["lower_2"])]
    assert (pairs >= min_count).all() and (top is None or len(listed) <= top)
    ranked = pd.read_csv(tmp_path / "ranking.tsv", sep="\t")
    assert len(ranked) >= len(listed) and (min_count == 0 or (ranked["pairs"] < min_count).any()), \
        "the ranking keeps the cells min_count cuts"

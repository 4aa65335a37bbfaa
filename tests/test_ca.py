"""Correspondence analysis against a direct SVD, closed forms and constructed tables."""

import logging

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from camsis.errors import CamsisError
from camsis.method.ca import (
    choose_dimension,
    connected_blocks,
    correspondence_analysis,
    describe_blocks,
    direction_warning,
    expand_scores,
    pick_dimension,
    sides_correlation,
    sides_warning,
)
from helpers import assert_same_up_to_sign, direct_ca


def table(values, rows=None, cols=None):
    values = np.asarray(values, dtype=float)
    rows = rows or [1000 + i for i in range(values.shape[0])]
    cols = cols or [2000 + j for j in range(values.shape[1])]
    return pd.DataFrame(values, index=pd.Index(rows, name="occ1"), columns=pd.Index(cols, name="occ2"))


RNG = np.random.default_rng(20250618)
SMALL = table(RNG.integers(1, 40, size=(6, 5)))


def test_scores_match_direct_svd():
    result = correspondence_analysis(SMALL, n_components=3)
    F, G, eig = direct_ca(SMALL.to_numpy())
    assert list(result.row_scores.columns) == ["dim1", "dim2", "dim3"]
    assert list(result.row_scores.index) == list(SMALL.index)
    assert list(result.column_scores.index) == list(SMALL.columns)
    assert_same_up_to_sign(result.row_scores.to_numpy(), F[:, :3])
    assert_same_up_to_sign(result.column_scores.to_numpy(), G[:, :3])
    # the same joint sign on rows and columns: compare the products F_ik G_jk
    np.testing.assert_allclose(
        result.row_scores["dim1"].to_numpy()[:, None] * result.column_scores["dim1"].to_numpy()[None, :],
        F[:, [0]] * G[:, 0][None, :], atol=1e-10,
    )
    np.testing.assert_allclose(result.eigenvalues, eig[:3], rtol=1e-10)
    np.testing.assert_allclose(result.inertia, eig[:3] / eig.sum(), rtol=1e-10)
    assert result.order == (1, 2, 3) and result.chosen is None


def test_total_inertia_is_chi2_over_n():
    result = correspondence_analysis(SMALL)
    chi2 = chi2_contingency(SMALL.to_numpy(), correction=False)[0]
    assert result.total_inertia == pytest.approx(chi2 / SMALL.to_numpy().sum(), rel=1e-12)


def test_empty_rows_and_columns_leave_the_ca():
    padded = SMALL.copy()
    padded.loc[1099] = 0.0
    padded[2099] = 0.0
    padded = padded.loc[[1000, 1099, 1001, 1002, 1003, 1004, 1005], [2000, 2001, 2099, 2002, 2003, 2004]]
    result = correspondence_analysis(padded)
    assert result.empty_rows == [1099] and result.empty_columns == [2099]
    assert 1099 not in result.row_scores.index and 2099 not in result.column_scores.index
    F, G, eig = direct_ca(SMALL.to_numpy())
    assert_same_up_to_sign(result.row_scores.loc[SMALL.index].to_numpy(), F[:, :2])
    assert_same_up_to_sign(result.column_scores.loc[SMALL.columns].to_numpy(), G[:, :2])
    np.testing.assert_allclose(result.row_masses.sum(), 1.0)


def test_transition_formula():
    result = correspondence_analysis(SMALL, n_components=3)
    profiles = SMALL.div(SMALL.sum(axis=1), axis=0).to_numpy()
    standard_columns = result.column_scores.to_numpy() / np.sqrt(result.eigenvalues)
    np.testing.assert_allclose(result.row_scores.to_numpy(), profiles @ standard_columns, atol=1e-10)
    # and the other way round
    col_profiles = SMALL.div(SMALL.sum(axis=0), axis=1).to_numpy().T
    standard_rows = result.row_scores.to_numpy() / np.sqrt(result.eigenvalues)
    np.testing.assert_allclose(result.column_scores.to_numpy(), col_profiles @ standard_rows, atol=1e-10)


def test_fewer_dimensions_than_asked():
    result = correspondence_analysis(table([[10, 2], [3, 12]]), n_components=2)
    assert list(result.row_scores.columns) == ["dim1"] and len(result.eigenvalues) == 1


def test_tables_without_two_rows_and_columns_are_refused():
    with pytest.raises(CamsisError, match="2 rows and 2 columns"):
        correspondence_analysis(table([[5, 0], [0, 0]]))


def test_deterministic_sign_does_not_depend_on_row_order():
    shuffled = SMALL.iloc[[3, 0, 5, 1, 4, 2], [2, 4, 0, 1, 3]]
    a = correspondence_analysis(SMALL)
    b = correspondence_analysis(shuffled)
    pd.testing.assert_frame_equal(a.row_scores, b.row_scores.loc[SMALL.index], atol=1e-12)
    pd.testing.assert_frame_equal(a.column_scores, b.column_scores.loc[SMALL.columns], atol=1e-12)


# A 4 x 4 table with a known rank-2 CA: P_ij = r_i c_j (1 + 0.5 x_i y_j + 0.3 u_i v_j) with uniform
# masses and centred, unit-variance, orthogonal x = y = (1, 1, -1, -1), u = v = (1, -1, 1, -1).
# Principal coordinates: dimension 1 = 0.5 x, dimension 2 = 0.3 u (up to sign).
X = np.array([1.0, 1.0, -1.0, -1.0])
U_ = np.array([1.0, -1.0, 1.0, -1.0])
KNOWN = table(1600 / 16 * (1 + 0.5 * np.outer(X, X) + 0.3 * np.outer(U_, U_)))


def test_known_structure():
    result = correspondence_analysis(KNOWN)
    np.testing.assert_allclose(result.eigenvalues, [0.25, 0.09], atol=1e-12)
    assert_same_up_to_sign(result.row_scores.to_numpy(), np.column_stack([0.5 * X, 0.3 * U_]))
    # a dimension without inertia carries no scores
    third = correspondence_analysis(KNOWN, n_components=3)
    assert third.eigenvalues[2] == pytest.approx(0.0, abs=1e-12)
    assert (third.row_scores["dim3"] == 0).all() and (third.column_scores["dim3"] == 0).all()


def test_choose_dimension_picks_and_orients_the_second():
    result = correspondence_analysis(KNOWN)
    # reference falls with u: the chosen dimension must be 2, oriented as -0.3 u
    row_ref = pd.Series(10 - 3 * U_ + np.array([0.1, -0.2, 0.0, 0.3]), index=KNOWN.index)
    col_ref = pd.Series([4.0, 9.0, 3.0, np.nan], index=KNOWN.columns)  # one unit without reference
    chosen = choose_dimension(result, row_ref, col_ref)
    assert chosen.chosen == 2 and chosen.order == (2, 1)
    np.testing.assert_allclose(chosen.row_scores["dim1"].to_numpy(), -0.3 * U_, atol=1e-12)
    np.testing.assert_allclose(chosen.column_scores["dim1"].to_numpy(), -0.3 * U_, atol=1e-12)
    np.testing.assert_allclose(np.abs(chosen.row_scores["dim2"].to_numpy()), 0.5 * np.abs(X), atol=1e-12)
    np.testing.assert_allclose(chosen.eigenvalues, [0.09, 0.25], atol=1e-12)
    np.testing.assert_allclose(chosen.inertia, result.inertia[[1, 0]])
    # correlations against a direct computation (uniform masses: plain Pearson)
    expected_row = np.corrcoef(-U_, row_ref)[0, 1]
    expected_col = np.corrcoef(-U_[:3], col_ref[:3])[0, 1]
    assert chosen.row_correlations[2] == pytest.approx(expected_row)
    assert chosen.column_correlations[2] == pytest.approx(expected_col)
    assert chosen.correlations[2] == pytest.approx((expected_row + expected_col) / 2)
    assert chosen.correlations[2] > 0
    # CA signs are joint: the transition formula still holds after the flip
    profiles = KNOWN.div(KNOWN.sum(axis=1), axis=0).to_numpy()
    np.testing.assert_allclose(
        chosen.row_scores.to_numpy(), profiles @ (chosen.column_scores.to_numpy() / np.sqrt(chosen.eigenvalues)),
        atol=1e-12,
    )


def test_choose_dimension_orients_the_other_dimension_too():
    result = correspondence_analysis(KNOWN)
    row_ref = pd.Series(-X * 5 + 0.1 * U_, index=KNOWN.index)
    col_ref = pd.Series(-X * 5 - 0.1 * U_, index=KNOWN.columns)
    chosen = choose_dimension(result, row_ref, col_ref)
    assert chosen.chosen == 1
    np.testing.assert_allclose(chosen.row_scores["dim1"].to_numpy(), -0.5 * X, atol=1e-12)
    # dim2: row correlation +, column correlation - and equal in size: the mean is 0, no flip needed
    assert chosen.correlations[2] == pytest.approx(0.0, abs=1e-12)


def test_weights_change_the_correlation():
    result = correspondence_analysis(SMALL)
    ref = pd.Series(RNG.normal(size=6), index=SMALL.index)
    weights = pd.Series([1.0, 1.0, 1.0, 1.0, 1.0, 0.0], index=SMALL.index)
    chosen = choose_dimension(result, ref, pd.Series(dtype=float), row_weights=weights)
    d = chosen.chosen
    x = chosen.row_scores["dim1"].to_numpy()[:5]
    assert chosen.row_correlations[d] == pytest.approx(np.corrcoef(x, ref.to_numpy()[:5])[0, 1])
    assert np.isnan(chosen.column_correlations[d])


def test_weak_correlation_is_logged(caplog):
    result = correspondence_analysis(KNOWN)
    # (3, 1, 1, 3) is uncorrelated with both x and u
    row_ref = pd.Series([3.0, 1.0, 1.0, 3.0], index=KNOWN.index)
    col_ref = pd.Series([3.0, 1.0, 1.0, 3.0], index=KNOWN.columns)
    with caplog.at_level(logging.WARNING, logger="camsis.method.ca"):
        choose_dimension(result, row_ref, col_ref)
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "weakly" in message and "dimension 1" in message and "dimension 2" in message


def test_no_reference_is_refused():
    result = correspondence_analysis(SMALL)
    empty = pd.Series(np.nan, index=SMALL.index)
    with pytest.raises(CamsisError, match="reference measure"):
        choose_dimension(result, empty, pd.Series(np.nan, index=SMALL.columns))


def test_expand_scores():
    scores = pd.DataFrame({"dim1": [1.0, 2.0]}, index=[11, 13])
    unit_map = pd.Series({11: 11, 12: 11, 13: 13, 14: 14}).rename_axis("unit")
    expanded = expand_scores(scores, unit_map)
    assert list(expanded.index) == [11, 12, 13, 14] and expanded.index.name == "unit"
    np.testing.assert_array_equal(expanded["dim1"].to_numpy(), [1.0, 1.0, 2.0, np.nan])


def test_connected_blocks_on_block_diagonal_table():
    values = np.zeros((6, 5))
    values[np.ix_([0, 2], [1, 3])] = [[5, 1], [2, 7]]        # block A: 15 pairs
    values[np.ix_([1, 3, 4], [0, 2])] = [[9, 0], [0, 4], [3, 3]]  # block B: 19 pairs, connected via row 4
    # row 5 and column 4 are empty
    t = table(values)
    blocks = connected_blocks(t)
    assert blocks == [([1001, 1003, 1004], [2000, 2002]), ([1000, 1002], [2001, 2003])]
    message = describe_blocks(blocks)
    assert "2 blocks" in message and "occ1 1000, 1002 with occ2 2001, 2003" in message
    assert "\n" not in message
    assert connected_blocks(SMALL) == [(list(SMALL.index), list(SMALL.columns))]



def test_connected_blocks_read_the_cells_in_either_memory_order():
    values = np.zeros((6, 5))
    values[np.ix_([0, 2], [1, 3])] = 1
    values[np.ix_([1, 3, 4], [0, 2])] = 2
    by_columns = table(values)  # pandas keeps a copy column by column
    by_rows = pd.DataFrame(values, index=by_columns.index, columns=by_columns.columns, copy=False)  # the array as given
    assert by_columns.to_numpy().flags.f_contiguous and by_rows.to_numpy().flags.c_contiguous
    assert connected_blocks(by_rows) == connected_blocks(by_columns) == [
        ([1001, 1003, 1004], [2000, 2002]), ([1000, 1002], [2001, 2003])]


def test_connected_blocks_given_the_cells_that_may_be_non_zero():
    """Told the cells (a superset, zero cells included, as a replicate's support), the blocks are those of a search."""
    values = np.zeros((6, 5))
    values[np.ix_([0, 2], [1, 3])] = 1
    values[np.ix_([1, 3, 4], [0, 2])] = 2
    from camsis.method.pairtable import Cells

    support = np.union1d(np.arange(0, 30, 2), np.flatnonzero(values))  # every other cell, and those with pairs
    by_columns = table(values)  # read by row and column
    by_rows = pd.DataFrame(values, index=by_columns.index, columns=by_columns.columns, copy=False)  # by flat position
    cells = Cells.at(support, 5)
    assert connected_blocks(by_columns, cells) == connected_blocks(by_rows, cells) == connected_blocks(by_rows) == [
        ([1001, 1003, 1004], [2000, 2002]), ([1000, 1002], [2001, 2003])]


def test_a_table_without_inertia_gets_zero_scores_not_a_lanczos_error():
    # uniform: S is exactly zero, which leaves ARPACK no starting vector; the dense decomposition takes over
    result = correspondence_analysis(table(np.ones((16, 16))))
    assert result.total_inertia == 0.0 and not result.eigenvalues.any()
    assert not result.row_scores.to_numpy().any() and not result.column_scores.to_numpy().any()

@pytest.mark.parametrize("shape, k", [((60, 45), 2), ((25, 70), 3), ((40, 40), 4)])
def test_same_as_prince_on_sparse_tables(shape, k):
    """The Lanczos route to the k leading dimensions gives prince's CA (exact scipy SVD), more rows
    than columns or fewer, to 1e-10; the sparse, skewed tables are like a blanked occupation table."""
    prince = pytest.importorskip("prince")
    rng = np.random.default_rng(shape[0] * 100 + k)
    values = rng.poisson(rng.gamma(0.3, 20, size=shape)) * (rng.random(shape) < 0.4)
    values[:, 0] += 1  # every row has mass
    values[0] += 1  # and every column
    counts = table(values)
    ours = correspondence_analysis(counts, n_components=k)
    model = prince.CA(n_components=k, engine="scipy").fit(counts)
    assert_same_up_to_sign(ours.row_scores.to_numpy(), model.row_coordinates(counts).to_numpy()[:, :k])
    assert_same_up_to_sign(ours.column_scores.to_numpy(), model.column_coordinates(counts).to_numpy()[:, :k])
    np.testing.assert_allclose(ours.eigenvalues, np.asarray(model.eigenvalues_)[:k], rtol=0, atol=1e-12)
    assert ours.total_inertia == pytest.approx(float(model.total_inertia_), rel=1e-12)


def test_a_dimension_whose_sides_disagree_is_not_chosen_over_one_that_agrees():
    # dimension 1: strong but opposite (the mean of absolute values, 0.875, used to win);
    # dimension 2: weaker, both sides rising with the reference
    correlations = pd.DataFrame({"rows": [0.9, 0.4], "columns": [-0.85, 0.35]}, index=[1, 2])
    chosen, signs, agrees = pick_dimension(correlations)
    assert chosen == 2 and agrees and list(signs) == [1.0, 1.0]
    # flipped signs are oriented, not refused
    chosen, signs, agrees = pick_dimension(-correlations)
    assert chosen == 2 and agrees and list(signs) == [-1.0, -1.0]


def test_no_agreeing_dimension_is_taken_with_a_warning_naming_every_figure():
    correlations = pd.DataFrame({"rows": [0.9, -0.2], "columns": [-0.85, 0.6]}, index=[1, 2])
    chosen, signs, agrees = pick_dimension(correlations)
    assert not agrees and chosen == 2  # signed means: 0.025 and 0.2
    warning = direction_warning(chosen, correlations.mul(signs, axis=0).loc[[2, 1]], agrees)
    assert "opposite ways" in warning and "rows -0.200, columns 0.600" in warning
    assert "rows 0.900, columns -0.850" in warning and "reconstitute" in warning


def test_weak_signed_correlation_on_one_side_warns():
    oriented = pd.DataFrame({"rows": [0.037, -0.011], "columns": [0.9, 0.141]}, index=[2, 1])
    warning = direction_warning(2, oriented, True)
    assert "weakly" in warning and "rows 0.037, columns 0.900" in warning
    assert direction_warning(2, pd.DataFrame({"rows": [0.5], "columns": [0.6]}, index=[2]), True) is None


def test_choose_dimension_prefers_the_agreeing_dimension_on_a_table():
    result = correspondence_analysis(KNOWN)
    # rows follow x strongly, columns follow -x strongly: dimension 1 disagrees; u agrees weakly
    row_ref = pd.Series(5 * X + U_, index=KNOWN.index)
    col_ref = pd.Series(-5 * X + U_, index=KNOWN.columns)
    chosen = choose_dimension(result, row_ref, col_ref)
    assert chosen.chosen == 2
    assert chosen.row_correlations[2] > 0 and chosen.column_correlations[2] > 0
    assert chosen.row_correlations[1] * chosen.column_correlations[1] < 0
    assert chosen.warning and "weakly" in chosen.warning


def test_sides_warning_names_both_correlations():
    assert sides_warning(0.8, 0.7, 0.9, 0.9) is None
    text = sides_warning(-0.965, -0.955, 0.037, 0.235)
    assert "point opposite ways" in text and "-0.955 in the scale" in text and "-0.965" in text
    assert "rows 0.037, columns 0.235" in text
    assert "agree only weakly" in sides_warning(0.2, 0.5, 0.5, 0.5)
    # the correlation is a weighted Pearson over units with both scores
    a = pd.Series([1.0, 2.0, 3.0, np.nan], index=[1, 2, 3, 4])
    b = pd.Series([3.0, 2.0, 1.0, 5.0], index=[1, 2, 3, 4])
    assert sides_correlation(a, b, pd.Series(1.0, index=[1, 2, 3, 4])) == pytest.approx(-1.0)

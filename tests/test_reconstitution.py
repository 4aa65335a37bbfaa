"""Blanked cells filled from the CA model: against statsmodels' quasi-independence fit and a direct SVD."""

import numpy as np
import pandas as pd
import pytest

from camsis.method.ca import correspondence_analysis
from camsis.method.reconstitution import model_fit, reconstitute
from helpers import assert_same_up_to_sign, direct_ca, quasi_independence_fit

# Glass (1954) British father x son mobility (tests/data/small_tables/glass1954.tsv), typed here
# so this test stands alone.
GLASS = np.array([
    [50, 45, 8, 18, 8],
    [28, 174, 84, 154, 55],
    [11, 78, 110, 223, 96],
    [14, 150, 185, 714, 447],
    [3, 42, 72, 320, 411],
], dtype=float)


def frame(values):
    labels = list(range(1, values.shape[0] + 1))
    return pd.DataFrame(values, index=pd.Index(labels, name="occ1"), columns=pd.Index(labels, name="occ2"))


def test_order_zero_fixed_point_is_the_quasi_independence_fit():
    missing = np.eye(5, dtype=bool)
    result = reconstitute(frame(GLASS), frame(missing), order=0)
    assert result.converged and result.iterations > 1 and result.filled == 5
    reference = quasi_independence_fit(GLASS, missing)
    filled = result.table.to_numpy()
    np.testing.assert_allclose(filled[missing], reference[missing], rtol=1e-7)
    np.testing.assert_array_equal(filled[~missing], GLASS[~missing])  # kept cells untouched
    assert result.pairs_filled == pytest.approx(reference[missing].sum(), rel=1e-7)


def test_order_zero_with_blocks_off_the_diagonal():
    # a pseudo-diagonal block and two single cells blanked, as a psd file would
    missing = np.zeros((5, 5), dtype=bool)
    missing[3:, 3:] = True
    missing[0, 0] = missing[1, 2] = True
    result = reconstitute(frame(GLASS), frame(missing), order=0)
    np.testing.assert_allclose(result.table.to_numpy()[missing], quasi_independence_fit(GLASS, missing)[missing],
                               rtol=1e-7)


def test_the_ca_of_the_filled_table_is_its_direct_svd():
    missing = np.eye(5, dtype=bool)
    filled = reconstitute(frame(GLASS), frame(missing), order=0).table
    ours = correspondence_analysis(filled, n_components=3)
    F, G, eig = direct_ca(filled.to_numpy())
    assert_same_up_to_sign(ours.row_scores.to_numpy(), F[:, :3])
    assert_same_up_to_sign(ours.column_scores.to_numpy(), G[:, :3])
    np.testing.assert_allclose(ours.eigenvalues, eig[:3], rtol=1e-9)
    # quasi-independence filled: the blanked cells carry no association (zero standardised residual)
    P = filled.to_numpy() / filled.to_numpy().sum()
    r, c = P.sum(axis=1), P.sum(axis=0)
    np.testing.assert_allclose((P - np.outer(r, c))[missing], 0.0, atol=1e-10)


@pytest.mark.parametrize("order", [1, 2])
def test_order_k_fills_with_the_rank_k_reconstitution_of_the_filled_table(order):
    missing = np.eye(5, dtype=bool)
    result = reconstitute(frame(GLASS), frame(missing), order=order)
    assert result.converged
    X = result.table.to_numpy()
    # reconstitution formula from the direct SVD's principal coordinates: n r c (1 + F G' / sqrt(lambda))
    F, G, eig = direct_ca(X)
    n = X.sum()
    r, c = X.sum(axis=1) / n, X.sum(axis=0) / n
    expected = n * np.outer(r, c) * (1 + (F[:, :order] / np.sqrt(eig[:order])) @ G[:, :order].T)
    # a negative model value is filled as zero (a count cannot be negative)
    np.testing.assert_allclose(X[missing], np.clip(expected, 0, None)[missing], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model_fit(X, order), expected, rtol=1e-9, atol=1e-9)


def test_rows_without_kept_pairs_stay_empty_and_nothing_to_fill_is_converged():
    values = GLASS.copy()
    missing = np.zeros((5, 5), dtype=bool)
    missing[4, :] = True  # every cell of the last row blanked: nothing predicts it
    missing[0, 0] = True
    result = reconstitute(frame(values), frame(missing), order=0)
    assert (result.table.to_numpy()[4] == 0).all() and result.filled == 1
    nothing = reconstitute(frame(values), frame(np.zeros((5, 5), dtype=bool)))
    assert nothing.converged and nothing.iterations == 0 and nothing.warning is None
    np.testing.assert_array_equal(nothing.table.to_numpy(), values)


def test_not_converging_says_so():
    result = reconstitute(frame(GLASS), frame(np.eye(5, dtype=bool)), order=0, max_iterations=2)
    assert not result.converged and result.iterations == 2
    assert "did not converge in 2 passes" in result.warning
    assert result.as_dict()["converged"] is False

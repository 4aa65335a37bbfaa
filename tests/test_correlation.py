"""The one Pearson correlation, against numpy, scipy and statsmodels."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from camsis.method.correlation import pearson


def test_unweighted_matches_scipy_over_the_labels_both_know():
    rng = np.random.default_rng(1)
    x = pd.Series(rng.normal(size=50), index=range(50))
    y = pd.Series(x.to_numpy() + rng.normal(size=50), index=range(50)).drop([3, 7])
    x[10] = np.nan
    r, n = pearson(x, y)
    keep = [i for i in range(50) if i not in (3, 7, 10)]
    assert n == 47
    assert r == pytest.approx(stats.pearsonr(x[keep], y[keep])[0], rel=1e-12)


def test_weighted_matches_statsmodels_and_drops_zero_weights():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=40), rng.normal(size=40)
    w = rng.uniform(0, 3, 40)
    w[:5] = 0
    r, n = pearson(pd.Series(x), pd.Series(y), pd.Series(w))
    expected = DescrStatsW(np.column_stack([x[5:], y[5:]]), weights=w[5:]).corrcoef[0, 1]
    assert n == 35 and r == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("x, y, at_least", [([1.0, 2.0], [2.0, 1.0], 3), ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], 2)])
def test_too_few_labels_or_no_variation_is_nan(x, y, at_least):
    assert np.isnan(pearson(pd.Series(x), pd.Series(y), at_least=at_least)[0])

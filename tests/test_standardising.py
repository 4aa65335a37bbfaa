import numpy as np
import pandas as pd
import pytest

from camsis.errors import CamsisError
from camsis.standardising import fit_standardisation


def test_population_gets_target_moments_by_closed_form():
    raw = pd.Series([1.0, 2.0, 4.0], index=[10, 20, 30])
    people = pd.Series([1.0, 2.0, 1.0], index=[10, 20, 30])
    fit = fit_standardisation(raw, people, mean=50, sd=15, clip=(-1e9, 1e9))
    # Population of 4 people: scores 1, 2, 2, 4 -> mean 2.25, SD sqrt(1.1875).
    expected = 50 + 15 * (raw - 2.25) / np.sqrt(1.1875)
    assert np.allclose(fit.scores(raw), expected)
    assert fit.factor == pytest.approx(15 / np.sqrt(1.1875))
    assert np.allclose(fit.standard_errors(pd.Series([0.1])), 0.1 * 15 / np.sqrt(1.1875))


def test_clipping_and_units_without_people():
    raw = pd.Series([0.0, 1.0, 100.0], index=[1, 2, 3])
    people = pd.Series([1.0, 1.0], index=[1, 2])  # unit 3 has no people: not in the population
    fit = fit_standardisation(raw, people, mean=50, sd=15, clip=(1, 99))
    scores = fit.scores(raw)
    assert scores[1] == pytest.approx(35) and scores[2] == pytest.approx(65)
    assert scores[3] == 99


def test_degenerate_population_is_refused():
    with pytest.raises(CamsisError, match="same score"):
        fit_standardisation(pd.Series([3.0, 3.0]), pd.Series([1.0, 2.0]))
    with pytest.raises(CamsisError, match="no unit"):
        fit_standardisation(pd.Series([np.nan, 1.0]), pd.Series([1.0, 0.0]))

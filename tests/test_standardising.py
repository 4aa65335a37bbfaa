import numpy as np
import pandas as pd
import pytest

from camsis.errors import CamsisError
from camsis.method.blanking import blank_cells
from camsis.method.standardising import fit_standardisation
from camsis.method.tables import tabulate_frame
from camsis.scaling.scale import ScaleOptions, build_unit_scores


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


def test_a_build_standardises_over_every_weighted_person_blanked_pairs_included(toy):
    """Through build_unit_scores: the moments hold over the couples of the input, counted
    from the rows with their weights, diagonal (blanked) couples and an unscored unit included."""
    units = toy.units
    rng = np.random.default_rng(11)
    band = np.abs(np.subtract.outer(np.arange(8), np.arange(8)))
    counts = rng.integers(1, 8, (8, 8)) + np.where(band <= 1, 25, 0) + np.diag(rng.integers(20, 200, 8))
    counts[1, :] = 0
    counts[1, 1] = 60  # husbands in 112 only on the blanked diagonal: imputed, yet in the population
    i, j = np.nonzero(counts)
    couples = pd.DataFrame({"h": np.repeat(units[i], counts[i, j]), "w": np.repeat(units[j], counts[i, j])})
    couples["wt"] = rng.uniform(0.2, 3.0, len(couples)) * np.where(couples["h"] >= 200, 3.0, 1.0)
    table = tabulate_frame(couples, "h", "w", "wt", units)
    blank = blank_cells(units, units, diagonal_digits=0)
    scores = build_unit_scores(table, blank, blank, toy, ScaleOptions(min_n=0, clip=(-1e9, 1e9))).scores
    assert scores.loc[112, "m_imputed"] == 11
    for side, column in (("m", "h"), ("f", "w")):
        person = couples[column].map(scores[f"{side}camsis"])
        mean = np.average(person, weights=couples["wt"])
        assert mean == pytest.approx(50, abs=1e-8)
        assert np.sqrt(np.average((person - mean) ** 2, weights=couples["wt"])) == pytest.approx(15, rel=1e-10)
        # the same moments without the blanked couples or without the weights would differ
        off = couples["h"] != couples["w"]
        assert abs(np.average(person[off], weights=couples["wt"][off]) - 50) > 1
        assert abs(person.mean() - 50) > 1

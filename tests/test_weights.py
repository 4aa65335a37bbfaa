"""Survey weights enter the smoothing with their design effect (Kish's effective sample size per unit).

References are independent of the weighting: unweighted fits on the couples a weighted sample
is worth, and the frequency-weight meaning of identical couples.
"""

import numpy as np
import pandas as pd
import pytest

from camsis.method.blanking import blank_cells
from camsis.method.smoothing import smooth_side
from camsis.method.tables import CoupleColumns, tabulate_frame
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import TOY, TOY_UNITS, write_classification

# Four couples weighing (A, 1, 1, 1) hold the information of two: (A + 3)^2 / (A^2 + 3) = 2.
A = 3 + 2 * np.sqrt(3)
COLUMNS = ["mcamsis", "fcamsis", "mcam_se", "fcam_se", "m_lambda", "f_lambda"]


def base_couples(seed=7):
    """Couples with an association (partners' units near each other) and unequal cells, every unit met."""
    rng = np.random.default_rng(seed)
    k = len(TOY_UNITS)
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    counts = rng.poisson(14 * np.exp(-0.6 * distance)) + 1
    i, j = np.nonzero(counts)
    rows = np.repeat(np.arange(len(i)), counts[i, j])
    return pd.DataFrame({"hocc": TOY_UNITS[i[rows]], "wocc": TOY_UNITS[j[rows]]})


@pytest.fixture
def toy(tmp_path):
    return write_classification(tmp_path, "toy", TOY)


def build(frame, weight, toy, weight_type="survey"):
    table = tabulate_frame(frame, "hocc", "wocc", weight, toy.units, weight_type=weight_type)
    mask = blank_cells(toy.units, toy.units, diagonal_digits=0)
    return build_unit_scores(table, mask, mask, toy, ScaleOptions(min_n=0))


def test_a_sample_with_design_effect_two_shrinks_as_half_its_couples_unweighted(toy):
    """Each couple of H appears four times, weighing (A, 1, 1, 1): a sample of 4|H| couples with deff 2
    whose weighted cells are H's. Two of its weight-1 copies of each couple, unweighted, are half its
    couples and the same information: the scores, their SEs and shrinkage must be theirs."""
    base = base_couples()
    weighted = pd.concat([base.assign(wt=A)] + [base.assign(wt=1.0)] * 3, ignore_index=True)
    half = pd.concat([base] * 2, ignore_index=True)
    deff = len(weighted) * (weighted["wt"] ** 2).sum() / weighted["wt"].sum() ** 2
    assert deff == pytest.approx(2.0) and len(half) * 2 == len(weighted)
    ours = build(weighted, "wt", toy)
    reference = build(half, None, toy)
    pd.testing.assert_frame_equal(ours.scores[COLUMNS], reference.scores[COLUMNS], rtol=1e-9, atol=1e-9)
    for side in ("m", "f"):
        for figure in ("sigma_u", "sigma_e"):
            assert ours.diagnostics.smoothing[side][figure] == pytest.approx(reference.diagnostics.smoothing[side][figure], rel=1e-9)
    # Its pairs are still reported as pairs: twice the half's.
    np.testing.assert_array_equal(ours.scores["n_m"], 2 * reference.scores["n_m"])
    # The same couples with their weights' spread ignored hold all 4|H| couples' information: less shrinkage.
    equal = build(weighted.assign(wt=weighted["wt"].mean()), "wt", toy)
    assert (equal.scores["m_lambda"] > ours.scores["m_lambda"] + 1e-6).all()


def test_frequency_weights_split_into_halves_change_nothing(toy):
    """Frequency weights are counts of identical couples, not survey weights: a row of weight 2k and
    two rows of weight k are one build, and that build is the expanded couples' unweighted one."""
    base = base_couples(seed=3)
    k = np.random.default_rng(0).integers(1, 4, len(base))
    whole = base.assign(wt=2.0 * k)
    halves = pd.concat([base.assign(wt=1.0 * k)] * 2, ignore_index=True)
    reference = build(base.loc[base.index.repeat(2 * k)], None, toy)
    for frame in (whole, halves):
        ours = build(frame, "wt", toy, weight_type="frequency")
        pd.testing.assert_frame_equal(ours.scores, reference.scores, rtol=1e-9, atol=1e-12)


def _table(seed=1, rows=12, cols=9):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=rows)
    counts = rng.poisson(8 * np.exp(np.outer(latent, np.linspace(-1.5, 1.5, cols)))) + 1
    return pd.DataFrame(counts.astype(float), index=pd.Index(np.arange(100, 100 + rows), name="occ1"),
                        columns=pd.Index(np.arange(200, 200 + cols), name="occ2"))


def test_weights_constant_within_a_unit_cost_it_no_information():
    """Per unit, not overall: a unit whose pairs all weigh the same (say an oversampled group of low
    weight) estimates its mean as well as unweighted pairs would, whatever its weight beside other
    units'. So weights constant within each row unit give the unweighted fit; an overall Kish size
    would count the weights' spread between units against every unit."""
    counts = _table()
    partner = pd.Series(np.linspace(-1.5, 1.5, counts.shape[1]), index=counts.columns)
    blanked = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    level = pd.Series(np.geomspace(0.2, 5.0, len(counts)), index=counts.index)
    weighted = counts.mul(level, axis=0)
    ours = smooth_side(weighted, counts, blanked, partner, squares=counts.mul(level ** 2, axis=0))
    reference = smooth_side(counts, counts, blanked, partner)
    columns = ["eps", "esres", "esres_se", "lambda", "n_model"]
    pd.testing.assert_frame_equal(ours.scores[columns], reference.scores[columns], rtol=1e-10)


def test_a_unit_weighs_its_kish_size_shared_by_weight_over_its_cells():
    """n_model of a unit is (sum w)^2 / sum w^2 of its couples (computed here from the couples'
    weights, not the cells'), and its eps stays the weighted mean."""
    rng = np.random.default_rng(5)
    couples = pd.DataFrame({"hocc": rng.choice(TOY_UNITS, 400), "wocc": rng.choice(TOY_UNITS, 400),
                            "wt": rng.lognormal(0, 0.8, 400)})
    table = tabulate_frame(couples, "hocc", "wocc", "wt", TOY_UNITS)
    partner = pd.Series(np.linspace(-1, 1, len(TOY_UNITS)), index=table.weighted.columns)
    blanked = table.counts * False
    smoothed = smooth_side(table.weighted, table.counts, blanked, partner, squares=table.weights_squared)
    by_unit = couples.groupby("hocc")["wt"]
    kish = by_unit.sum() ** 2 / (couples["wt"] ** 2).groupby(couples["hocc"]).sum()
    np.testing.assert_allclose(smoothed.scores["n_model"], kish.reindex(smoothed.scores.index), rtol=1e-12)
    couples["y"] = partner.reindex(couples["wocc"]).to_numpy()
    weighted_mean = (couples["wt"] * couples["y"]).groupby(couples["hocc"]).sum() / by_unit.sum()
    np.testing.assert_allclose(smoothed.scores["eps"], weighted_mean.reindex(smoothed.scores.index), rtol=1e-12)


def test_the_design_effect_is_reported():
    """summary.json's smoothing reports pairs over effective size: 2 for the deff-2 sample, 1 unweighted."""
    counts = _table(seed=4)
    partner = pd.Series(np.linspace(-1.5, 1.5, counts.shape[1]), index=counts.columns)
    blanked = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    # Every cell's couples in fours weighing (A, 1, 1, 1), two couples' information each.
    couples = 4 * counts
    weighted, squares = counts * (A + 3), counts * (A**2 + 3)
    ours = smooth_side(weighted, couples, blanked, partner, squares=squares)
    assert ours.summary["design_effect"] == pytest.approx(2.0)
    assert smooth_side(counts, counts, blanked, partner).summary["design_effect"] == pytest.approx(1.0)


def test_squared_weights_of_the_by_status_table_and_of_a_replicate():
    """The by-status table sums its couples' squared weights per (occupation, status) cell, as pandas
    does from the couples; a bootstrap replicate's drawn couple carries its cell's mean squared weight."""
    from camsis.classifications.statuses import combine
    from camsis.method.tables import tabulate_by_status
    from camsis.scaling.uncertainty import CoupleDraw, replicate_rng

    rng = np.random.default_rng(11)
    n = 500
    couples = pd.DataFrame({"hocc": rng.choice(TOY_UNITS, n), "wocc": rng.choice(TOY_UNITS, n),
                            "wt": rng.lognormal(0, 0.6, n), "hs": rng.choice([1, 2, 3, 0], n),
                            "ws": rng.choice([1, 2, 3], n)})
    scored = np.array([1, 2, 3])
    title, by_status = tabulate_by_status("<couples>", CoupleColumns("hocc", "wocc", "hs", "ws", "wt"),
                                          TOY_UNITS, scored,
                                          frame=couples)
    known = couples[couples["hs"].isin(scored)]
    expected = pd.crosstab(combine(known["hocc"], known["hs"]), combine(known["wocc"], known["ws"]),
                           values=known["wt"].to_numpy() ** 2, aggfunc="sum")
    got = by_status.weights_squared.loc[expected.index, expected.columns]
    np.testing.assert_allclose(got.to_numpy(), expected.fillna(0.0).to_numpy(), rtol=1e-12)
    assert by_status.weights_squared.to_numpy().sum() == pytest.approx((known["wt"] ** 2).sum(), rel=1e-12)
    assert title.weights_squared.to_numpy().sum() == pytest.approx((couples["wt"] ** 2).sum(), rel=1e-12)

    drawn = CoupleDraw(title)(replicate_rng(3, 1))
    mean_square = np.divide(title.weights_squared.to_numpy(), title.counts.to_numpy(),
                            out=np.zeros(title.counts.shape), where=title.counts.to_numpy() > 0)
    np.testing.assert_allclose(drawn.weights_squared.to_numpy(), drawn.counts.to_numpy() * mean_square, rtol=1e-12)

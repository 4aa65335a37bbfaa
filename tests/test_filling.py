import numpy as np
import pandas as pd

from camsis.method.filling import fill_classification, group_means, impute_missing_units, score_groups


def test_missing_unit_borrows_closest_scored_ancestor(toy):
    values = pd.Series({111: 10.0, 112: 20.0, 121: np.nan, 122: np.nan, 211: 1.0, 212: np.nan, 221: np.nan, 222: np.nan})
    people = pd.Series({111: 1.0, 112: 3.0, 211: 2.0})
    filled, source = impute_missing_units(values, people, toy)
    # 212's parent group 21 has 211 scored; 121/122's parent 12 has none, so they climb to 1 (111, 112: 17.5).
    assert filled[212] == 1.0 and source[212] == 21
    assert filled[121] == 17.5 and source[121] == 1
    assert filled[221] == 1.0 and source[221] == 2
    assert source[111] == 0 and filled[111] == 10.0


def test_groups_are_weighted_means_of_units(toy):
    values = pd.Series({111: 10.0, 112: 20.0, 121: 30.0, 122: 40.0, 211: 1.0, 212: 2.0, 221: 3.0, 222: 4.0})
    people = pd.Series({111: 1.0, 112: 3.0, 121: 1.0, 122: 1.0, 211: 1.0, 212: 1.0, 221: 0.0, 222: 2.0})
    scored = score_groups(values, people, toy)
    assert scored[11] == 17.5
    assert scored[12] == 35.0
    assert scored[22] == 4.0
    assert scored[1] == (10 + 60 + 30 + 40) / 6
    assert scored[2] == (1 + 2 + 8) / 4
    assert scored[222] == 4.0


def test_published_table_has_every_code(toy):
    units = toy.units
    scores = pd.DataFrame(
        {
            "mcamsis": np.linspace(20, 80, 8), "fcamsis": np.linspace(30, 70, 8),
            "mcam_se": 1.0, "fcam_se": 2.0, "n_m": [5, 5, 5, 5, 1, 1, 1, 0], "n_f": 3,
            "m_imputed": [0] * 7 + [22], "f_imputed": 0,
        },
        index=units,
    )
    population = pd.DataFrame({"m": 1.0, "f": 1.0}, index=units)
    table = fill_classification(scores, population, toy)
    assert len(table) == 14 and list(table["toy"]) == list(toy.frame.index)
    by_code = table.set_index("toy")
    assert by_code.loc[1, "n_m"] == 20 and by_code.loc[2, "n_m"] == 3
    assert by_code.loc[222, "m_imputed"] == 22 and by_code.loc[22, "m_imputed"] == 0
    assert np.isnan(by_code.loc[1, "mcam_se"])
    assert by_code.loc[1, "isei"] == 70.0


def test_group_means_equal_a_weighted_group_by():
    """The membership-matrix products against a plain pandas group-by, column by column: units
    without a value are skipped, a group whose valued units weigh 0 takes their plain mean, a
    group without a valued unit is NaN, a unit without a group counts nowhere."""
    rng = np.random.default_rng(11)
    n, b = 60, 5
    groups = pd.Series(rng.integers(0, 9, n).astype(float))
    groups[[3, 17]] = np.nan
    values = rng.normal(size=(n, b))
    values[rng.random((n, b)) < 0.3] = np.nan
    values[(groups == 8).to_numpy()] = np.nan  # group 8: no unit with a value
    weights = rng.random((n, b)) * 10
    weights[(groups == 7).to_numpy()] = 0.0  # group 7: valued units all weigh 0
    labels, means = group_means(values, weights, groups)
    assert list(labels) == sorted(groups.dropna().unique())
    for column in range(b):
        frame = pd.DataFrame({"g": groups, "x": values[:, column], "w": weights[:, column]}).dropna()
        total = frame.groupby("g")["w"].sum()
        expected = (frame["w"] * frame["x"]).groupby(frame["g"]).sum() / total
        expected[total == 0] = frame.groupby("g")["x"].mean()[total == 0]
        expected = expected.reindex(labels)
        np.testing.assert_allclose(means[:, column], expected.to_numpy(), rtol=1e-12, equal_nan=True)
    assert np.isnan(means[list(labels).index(8)]).all()

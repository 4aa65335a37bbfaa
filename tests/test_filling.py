import numpy as np
import pandas as pd

from camsis.filling import fill_classification, impute_missing_units, score_groups


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

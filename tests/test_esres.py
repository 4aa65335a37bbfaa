"""The ESRES engine against the seed's printed table, statsmodels MixedLM, OLS and
dense GLS computations."""

import logging
import warnings

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import statsmodels.api as sm
from statsmodels.regression.mixed_linear_model import MixedLM

from camsis import CamsisError, esres
from camsis.method.esres import GroupSums, fit_from_sums, ols_from_sums
from helpers import TEST_DATA, one_line_error

TALK1 = ["lrt", "girl", "schl_boys", "schl_girls"]


@pytest.fixture(scope="module")
def gcse():
    df, _ = pyreadstat.read_dta(str(TEST_DATA / "gcse.dta"))
    df["schl_boys"] = (df["schgend"] == 2).astype(float)
    df["schl_girls"] = (df["schgend"] == 3).astype(float)
    return df


def rounded(summary, digits=2):
    return {k: (round(v["coef"], digits), round(v["se"], digits)) for k, v in summary["fixed"].items()}


# --- the seed's Talk 1 table -------------------------------------------------------

def test_talk1_model2_reml(gcse):
    s = esres(gcse, "gcse", "school", TALK1).summary
    assert rounded(s) == {"const": (-1.68, 0.55), "lrt": (0.56, 0.01), "girl": (1.67, 0.34),
                          "schl_boys": (1.78, 1.13), "schl_girls": (1.59, 0.89)}
    assert s["groups"] == 65 and s["n"] == 4059 and s["n_rows"] == 4059
    assert round(s["icc"], 2) == 0.13
    assert round(s["sigma_u"], 2) == 2.93
    assert round(s["loglik"]) == -14011
    assert s["reml"] and not s["boundary"] and s["dropped_missing"] == 0


def test_talk1_model1_ols(gcse):
    o = ols_from_sums(GroupSums.from_frame(gcse, "gcse", "school", TALK1))
    assert rounded(o) == {"const": (-1.61, 0.24), "lrt": (0.59, 0.01), "girl": (1.33, 0.34),
                          "schl_boys": (1.83, 0.43), "schl_girls": (1.68, 0.33)}
    assert round(o["loglik"]) == -14182
    ref = sm.OLS(gcse["gcse"], sm.add_constant(gcse[TALK1])).fit()
    np.testing.assert_allclose([o["fixed"][k]["coef"] for k in ["const", *TALK1]], ref.params, rtol=1e-10)
    np.testing.assert_allclose([o["fixed"][k]["se"] for k in ["const", *TALK1]], ref.bse, rtol=1e-10)
    assert o["loglik"] == pytest.approx(ref.llf, rel=1e-12)


# --- against statsmodels MixedLM ----------------------------------------------------

def simulate(seed, sizes, sigma_u=1.0, n_controls=0, weights=False):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(len(sizes)) * 3 + 100, sizes)
    u = rng.normal(0, sigma_u, len(sizes))
    frame = pd.DataFrame({"g": g})
    y = 5.0 + np.repeat(u, sizes) + rng.normal(0, 2.0, len(g))
    for k in range(n_controls):
        frame[f"x{k}"] = rng.normal(k, 1.0 + k, len(g)) + 0.3 * np.repeat(u, sizes)
        y = y + (0.5 - k) * frame[f"x{k}"]
    frame["y"] = y
    if weights:
        frame["w"] = rng.integers(0, 4, len(g)).astype(float)
    return frame


def mixedlm(rows, controls, reml):
    X = np.column_stack([np.ones(len(rows))] + [rows[c].to_numpy() for c in controls])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MixedLM(rows["y"].to_numpy(), X, groups=rows["g"].to_numpy()).fit(
            reml=reml, method=["bfgs", "lbfgs"], gtol=1e-10)


def dense_gls_se(rows, controls, s2_u, s2_e):
    """(X' V^-1 X)^-1 built row by row, for the fixed-effect standard errors."""
    X = np.column_stack([np.ones(len(rows))] + [rows[c].to_numpy() for c in controls])
    G = rows["g"].to_numpy()
    V = s2_e * np.eye(len(rows)) + s2_u * (G[:, None] == G[None, :])
    return np.sqrt(np.diag(np.linalg.inv(X.T @ np.linalg.solve(V, X))))


def assert_matches_mixedlm(res, rows, controls, reml):
    ref = mixedlm(rows, controls, reml)
    s = res.summary
    rel = dict(rtol=1e-6)
    np.testing.assert_allclose([v["coef"] for v in s["fixed"].values()], ref.fe_params, **rel)
    np.testing.assert_allclose(s["sigma_e"] ** 2, ref.scale, **rel)
    np.testing.assert_allclose(s["sigma_u"] ** 2, float(np.asarray(ref.cov_re).ravel()[0]), **rel)
    np.testing.assert_allclose(s["loglik"], ref.llf, **rel)
    groups = res.scores["g"].to_numpy()
    blup = np.array([float(np.asarray(ref.random_effects[j])[0]) for j in groups])
    post = np.array([float(np.asarray(ref.random_effects_cov[j]).ravel()[0]) for j in groups])
    scale = rows["y"].std()
    np.testing.assert_allclose(res.scores["esres"], ref.fe_params[0] + blup, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(res.scores["esres_se"] ** 2, post, rtol=1e-6, atol=1e-9 * scale ** 2)
    if len(rows) <= 1500:
        se = dense_gls_se(rows, controls, s["sigma_u"] ** 2, s["sigma_e"] ** 2)
        np.testing.assert_allclose([v["se"] for v in s["fixed"].values()], se, rtol=1e-8)


@pytest.mark.parametrize("reml", [True, False])
def test_no_controls_matches_mixedlm(reml):
    rows = simulate(1, np.random.default_rng(1).integers(2, 60, 25))
    assert_matches_mixedlm(esres(rows, "y", "g", reml=reml), rows, [], reml)


@pytest.mark.parametrize("reml", [True, False])
def test_two_controls_matches_mixedlm(reml):
    rows = simulate(2, np.random.default_rng(2).integers(1, 80, 30), n_controls=2)
    assert_matches_mixedlm(esres(rows, "y", "g", ["x0", "x1"], reml=reml), rows, ["x0", "x1"], reml)


@pytest.mark.parametrize("reml", [True, False])
def test_frequency_weights_equal_expanded_rows(reml):
    rows = simulate(3, np.random.default_rng(3).integers(2, 40, 20), n_controls=1, weights=True)
    expanded = rows.loc[rows.index.repeat(rows["w"].astype(int))].reset_index(drop=True)
    res = esres(rows, "y", "g", ["x0"], weights="w", reml=reml)
    assert_matches_mixedlm(res, expanded, ["x0"], reml)
    plain = esres(expanded, "y", "g", ["x0"], reml=reml)
    np.testing.assert_allclose(res.scores[["n", "eps", "esres", "esres_se", "lambda"]],
                               plain.scores[["n", "eps", "esres", "esres_se", "lambda"]], rtol=1e-9)
    assert res.summary["n"] == rows["w"].sum() and res.summary["n_rows"] == len(rows)


@pytest.mark.parametrize("reml", [True, False])
def test_one_large_many_tiny_categories(reml):
    sizes = np.r_[3000, np.random.default_rng(4).integers(1, 4, 150)]
    rows = simulate(4, sizes, sigma_u=0.8, n_controls=2)
    assert_matches_mixedlm(esres(rows, "y", "g", ["x0", "x1"], reml=reml), rows, ["x0", "x1"], reml)


def no_category_variance(seed=5):
    """Category means forced equal: the likelihood falls as g rises from 0."""
    rows = simulate(seed, np.full(20, 30), sigma_u=0.0)
    rows["y"] = rows["y"] - rows.groupby("g")["y"].transform("mean") + 5.0
    return rows


@pytest.mark.parametrize("reml", [True, False])
def test_zero_category_variance_is_an_exact_boundary(reml, caplog):
    rows = no_category_variance()
    with caplog.at_level(logging.WARNING, logger="camsis.method.esres"):
        res = esres(rows, "y", "g", reml=reml)
    s = res.summary
    assert s["boundary"] and s["sigma_u"] == 0.0 and s["icc"] == 0.0
    assert "boundary" in caplog.text
    ols = sm.OLS(rows["y"], np.ones(len(rows))).fit()
    assert s["fixed"]["const"]["coef"] == pytest.approx(ols.params.iloc[0], rel=1e-12)
    N, p = len(rows), 1
    if reml:
        # REML at g = 0: restricted likelihood of OLS, with log det X'X
        d = N - p
        ll = -0.5 * (d * (np.log(2 * np.pi * ols.ssr / d) + 1) + np.log(N))
        assert s["sigma_e"] ** 2 == pytest.approx(ols.ssr / d, rel=1e-12)
    else:
        ll = ols.llf
    assert s["loglik"] == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(res.scores["esres"], ols.params.iloc[0], rtol=1e-12)
    assert (res.scores["lambda"] == 0).all() and (res.scores["esres_se"] == 0).all()
    ref = mixedlm(rows, [], reml)  # may fail at the boundary (llf = inf under ML)
    if np.isfinite(ref.llf):
        assert ref.llf <= s["loglik"] + 1e-6 * abs(s["loglik"])


# --- sums from a table, invariances, statsmodels engine -----------------------------

def test_from_values_equals_expanded_cells():
    rng = np.random.default_rng(6)
    cells = pd.DataFrame({"husband": rng.integers(1, 12, 200), "wife_score": rng.normal(50, 15, 200),
                          "count": rng.integers(1, 30, 200).astype(float)})
    res = fit_from_sums(GroupSums.from_values(cells["husband"], cells["wife_score"], cells["count"]))
    rows = cells.loc[cells.index.repeat(cells["count"].astype(int))]
    rows = rows.rename(columns={"husband": "g", "wife_score": "y"})
    assert res.scores.columns[0] == "husband"
    ref = esres(rows, "y", "g")
    np.testing.assert_allclose(res.scores["esres"], ref.scores["esres"], rtol=1e-10)
    assert res.summary["loglik"] == pytest.approx(ref.summary["loglik"], rel=1e-12)
    assert res.summary["n_rows"] == 200


def test_from_cells_equals_expanded_rows():
    """The cells of a groups x partners table of frequencies give the fit of the rows they stand for."""
    rng = np.random.default_rng(8)
    labels = np.array([40, 10, 30, 20, 50])  # unsorted, and group 50 has no pair
    y = rng.normal(50, 15, 7)
    table = rng.integers(0, 6, (5, 7)).astype(float) * (rng.random((5, 7)) < 0.7)
    table[4] = 0.0
    i, j = np.nonzero(table)
    sums = GroupSums.from_cells(pd.Index(labels, name="husband"), i, y[j], table[i, j])
    assert list(sums.groups) == [10, 20, 30, 40] and sums.groups.name == "husband"
    np.testing.assert_array_equal(sums.n_rows, (table[[1, 3, 2, 0]] > 0).sum(axis=1))
    res = fit_from_sums(sums)
    rows = pd.DataFrame({"g": labels[i], "y": y[j]}).loc[lambda d: d.index.repeat(table[i, j].astype(int))]
    ref = esres(rows, "y", "g", engine="statsmodels")
    np.testing.assert_allclose(res.scores["esres"], ref.scores["esres"], rtol=1e-6)
    assert res.summary["loglik"] == pytest.approx(ref.summary["loglik"], rel=1e-6)
    with pytest.raises(CamsisError, match="non-negative"):
        GroupSums.from_cells(labels, i, y[j], -table[i, j])


def test_row_order_and_missing_rows():
    rows = simulate(7, np.full(15, 20), n_controls=1)
    base = esres(rows, "y", "g", ["x0"])
    holes = pd.concat([rows, pd.DataFrame({"g": [100, np.nan], "y": [np.nan, 1.0], "x0": [0.0, 0.0]})])
    shuffled = holes.sample(frac=1, random_state=1)
    res = esres(shuffled, "y", "g", ["x0"])
    assert res.summary["dropped_missing"] == 2
    pd.testing.assert_frame_equal(res.scores, base.scores, check_exact=False, rtol=1e-10,
                                  check_dtype=False)


def test_statsmodels_engine_same_shape():
    rows = simulate(8, np.full(12, 25), n_controls=1)
    fast, slow = esres(rows, "y", "g", ["x0"]), esres(rows, "y", "g", ["x0"], engine="statsmodels")
    assert list(fast.scores.columns) == list(slow.scores.columns) == ["g", "n", "eps", "esres", "esres_se", "lambda"]
    assert set(fast.summary) == set(slow.summary)
    np.testing.assert_allclose(fast.scores["esres"], slow.scores["esres"], rtol=1e-6)
    assert slow.summary["engine"] == "statsmodels"


# --- bad input ----------------------------------------------------------------------

def test_bad_inputs():
    rows = simulate(9, np.full(5, 10), n_controls=1)
    rows["w"] = 1.0
    rows["label"] = "a"
    one_line_error(esres, rows[["g", "y"]], "nope", "g", match=r"'nope'.*it has: g, y")
    one_line_error(esres, rows, "label", "g", match=r"outcome 'label' is not numeric")
    one_line_error(esres, rows, "y", "g", ["label"], match=r"control 'label' is not numeric")
    one_line_error(esres, rows.assign(g=1), "y", "g", match=r"'g' has a single category")
    one_line_error(esres, rows.drop_duplicates("g"), "y", "g",
                   match=r"every category of 'g' has fewer than two rows")
    one_line_error(esres, rows.assign(w=np.r_[-1.0, np.ones(len(rows) - 1)]),
                   "y", "g", weights="w", match=r"weight 'w' has 1 negative")
    one_line_error(esres, rows.assign(w=np.r_[np.nan, np.ones(len(rows) - 1)]),
                   "y", "g", weights="w", match=r"weight 'w' has 1 missing")
    one_line_error(esres, rows.assign(x1=2 * rows["x0"] + 1), "y", "g", ["x0", "x1"],
                   match=r"control 'x1' is constant or collinear with the intercept, x0")
    one_line_error(esres, rows.assign(x1=3.0), "y", "g", ["x0", "x1"], match=r"control 'x1' is constant")
    one_line_error(esres, rows, "y", "g", engine="lme4", match=r"unknown engine 'lme4'")
    one_line_error(esres, rows.assign(w=0.5), "y", "g", weights="w",
                   engine="statsmodels", match=r"integer frequency weights; 'w'")
    one_line_error(esres, rows.assign(y=np.nan), "y", "g", match=r"no rows left")


def _balanced_table(total, rng, units=40):
    """Three values per unit, each unit's pairs total / units (frequency weights)."""
    unit = np.repeat(np.arange(units), 3)
    y = 50 + rng.normal(0, 3, units)[unit] + rng.normal(0, 2, unit.size)
    share = rng.integers(1, 4, unit.size).astype(float)
    share /= pd.Series(share).groupby(unit).transform("sum").to_numpy()
    return pd.DataFrame({"y": y, "unit": unit, "w": share * total / units})


def test_a_table_of_1e8_pairs_matches_the_balanced_anova_closed_form():
    """REML of a balanced one-way model: s2_e = SSW / (N - J), s2_u = (MSB - MSW) / n."""
    rows = _balanced_table(1e8, np.random.default_rng(8))
    fit = fit_from_sums(GroupSums.from_frame(rows, "y", "unit", weights="w"))
    N, J = rows["w"].sum(), rows["unit"].nunique()
    n = N / J
    means = (rows["y"] * rows["w"]).groupby(rows["unit"]).sum() / n
    ssw = float((rows["w"] * (rows["y"] - means.reindex(rows["unit"]).to_numpy()) ** 2).sum())
    msb = n * float(((means - means.mean()) ** 2).sum()) / (J - 1)
    assert fit.summary["sigma_e"] ** 2 == pytest.approx(ssw / (N - J), rel=1e-9)
    assert fit.summary["sigma_u"] ** 2 == pytest.approx((msb - ssw / (N - J)) / n, rel=1e-7)


def test_a_table_of_1e8_pairs_with_tiny_units_fits_as_without_them():
    """Units of 0.001 pairs beside units of millions: the REML grid reaches g ~ 1e13, where
    Txx - sum w n^2 lost every digit (LinAlgError); they carry almost no information, so the
    fit is the one without them."""
    rows = _balanced_table(1e8, np.random.default_rng(9))
    rows["w"] *= np.exp(np.random.default_rng(10).normal(0, 2, 40))[rows["unit"]]
    tiny = pd.DataFrame({"y": [47.0, 52.0, 55.0], "unit": [40, 41, 42], "w": 1e-3})
    fit = fit_from_sums(GroupSums.from_frame(pd.concat([rows, tiny]), "y", "unit", weights="w"))
    without = fit_from_sums(GroupSums.from_frame(rows, "y", "unit", weights="w"))
    for key in ("sigma_e", "sigma_u"):
        assert fit.summary[key] == pytest.approx(without.summary[key], rel=1e-3)
    assert fit.summary["fixed"]["const"]["coef"] == pytest.approx(without.summary["fixed"]["const"]["coef"], abs=0.01)

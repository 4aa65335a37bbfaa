"""The nested random-intercept engine (units within groups) against lme4 and statsmodels
MixedLM on the expanded rows, and against the one-level engine where the models coincide."""

import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from camsis import CamsisError
from camsis.method.esres import GroupSums, NestedSums, fit_from_sums, fit_nested


def nested_rows(seed=1, sigma_minor=0.6, sigma_unit=0.4, weights=False):
    """Pairs of units within minor groups within 3 major groups (fixed effects), unbalanced,
    with units of one row; with ``weights`` the rows are distinct (unit, y) cells counted."""
    rng = np.random.default_rng(seed)
    rows = []
    unit = 0
    for major in range(3):
        for minor in range(4):
            mu = 0.5 * major + rng.normal(0, sigma_minor)
            for _ in range(int(rng.integers(1, 6))):
                value = mu + rng.normal(0, sigma_unit)
                for _ in range(int(rng.integers(1, 15))):
                    rows.append((major, f"m{major}{minor}", f"u{unit:03d}", value + rng.normal(0, 1.0),
                                 int(rng.integers(1, 4)) if weights else 1))
                unit += 1
    frame = pd.DataFrame(rows, columns=["major", "minor", "unit", "y", "w"])
    for k in (1, 2):
        frame[f"major{k}"] = (frame["major"] == k).astype(float)
    return frame


def expanded(rows):
    return rows.loc[rows.index.repeat(rows["w"])].reset_index(drop=True)


def ours(rows, reml=True, weights=None):
    return fit_nested(NestedSums.from_frame(rows, "y", ["unit", "minor"], ["major1", "major2"], weights), reml=reml)


LME4 = """
suppressMessages(library(lme4))
d <- read.csv("{csv}", colClasses = c(minor = "character", unit = "character"))
d$major <- factor(d$major)
m <- lmer(y ~ major + (1 | minor/unit), data = d, REML = {reml},
          control = lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                                optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14, maxeval = 100000)))
vc <- as.data.frame(VarCorr(m))
re <- ranef(m, condVar = TRUE)
u <- re[["unit:minor"]]; g <- re[["minor"]]
out <- rbind(
  data.frame(kind = "sigma", name = vc$grp, value = vc$sdcor, se = NA),
  data.frame(kind = "fixed", name = names(fixef(m)), value = unname(fixef(m)), se = sqrt(diag(as.matrix(vcov(m))))),
  data.frame(kind = "unit", name = sub(":.*", "", rownames(u)), value = u[, 1], se = sqrt(attr(u, "postVar")[1, 1, ])),
  data.frame(kind = "minor", name = rownames(g), value = g[, 1], se = sqrt(attr(g, "postVar")[1, 1, ])),
  data.frame(kind = "loglik", name = "loglik", value = as.numeric(logLik(m)), se = NA))
write.csv(out, "{out}", row.names = FALSE)
"""


def lme4_fit(rows, tmp_path, reml):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not installed (R's lme4 is the reference)")
    if subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True).returncode:
        pytest.skip("R package lme4 is not installed (Debian r-cran-lme4)")
    csv, out, script = tmp_path / "rows.csv", tmp_path / "lme4.csv", tmp_path / "fit.R"
    rows.to_csv(csv, index=False)
    script.write_text(LME4.format(csv=csv, out=out, reml="TRUE" if reml else "FALSE"))
    run = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return pd.read_csv(out, keep_default_na=True)


@pytest.mark.parametrize("reml", [True, False])
def test_two_levels_equal_lme4(tmp_path, reml):
    """lmer(y ~ major + (1 | minor/unit)): variances, fixed effects, BLUPs and condVar SDs to 1e-6."""
    rows = nested_rows()
    ref = lme4_fit(rows, tmp_path, reml)
    fit = ours(rows, reml)
    sigma = ref[ref.kind == "sigma"].set_index("name")["value"]
    levels = {level["name"]: level["sigma"] for level in fit.summary["levels"]}
    np.testing.assert_allclose([levels["unit"], levels["minor"], fit.summary["sigma_e"]],
                               [sigma["unit:minor"], sigma["minor"], sigma["Residual"]], rtol=1e-6)
    fixed = ref[ref.kind == "fixed"]
    np.testing.assert_allclose([v["coef"] for v in fit.summary["fixed"].values()], fixed["value"], atol=1e-6)
    np.testing.assert_allclose([v["se"] for v in fit.summary["fixed"].values()], fixed["se"], rtol=1e-6)
    units = ref[ref.kind == "unit"].set_index("name").loc[fit.scores["unit"]]
    np.testing.assert_allclose(fit.scores["effect"], units["value"], atol=1e-6)
    np.testing.assert_allclose(fit.scores["effect_se"], units["se"], rtol=1e-6)
    minor = ref[ref.kind == "minor"].set_index("name").loc[fit.groups[0]["group"]]
    np.testing.assert_allclose(fit.groups[0]["effect"], minor["value"], atol=1e-6)
    np.testing.assert_allclose(fit.groups[0]["effect_se"], minor["se"], rtol=1e-6)
    assert fit.summary["loglik"] == pytest.approx(float(ref[ref.kind == "loglik"]["value"].iloc[0]), abs=1e-6)
    # A unit's score is its fixed part plus the posterior mean of its minor group's and its own effects.
    minor_of = rows.drop_duplicates("unit").set_index("unit")["minor"].loc[fit.scores["unit"]]
    path = fit.groups[0].set_index("group")["effect"].loc[minor_of].to_numpy() + fit.scores["effect"].to_numpy()
    np.testing.assert_allclose(fit.scores["esres"] - fit.summary["fixed"]["const"]["coef"], path, atol=1e-12)


def statsmodels_fit(rows, reml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm("y ~ major1 + major2", rows, groups="minor", re_formula="1",
                            vc_formula={"unit": "0 + C(unit)"})
        return model.fit(reml=reml, method=["bfgs", "lbfgs"], gtol=1e-10)


@pytest.mark.parametrize("reml", [True, False])
def test_two_levels_equal_statsmodels_variance_components(reml):
    rows = nested_rows(seed=1)
    ref = statsmodels_fit(rows, reml)
    assert ref.converged
    fit = ours(rows, reml)
    levels = {level["name"]: level["sigma"] for level in fit.summary["levels"]}
    np.testing.assert_allclose([levels["unit"] ** 2, levels["minor"] ** 2, fit.summary["sigma_e"] ** 2],
                               [ref.vcomp[0], float(ref.cov_re.iloc[0, 0]), ref.scale],
                               rtol=1e-5)
    np.testing.assert_allclose([v["coef"] for v in fit.summary["fixed"].values()], ref.fe_params, atol=1e-6)
    units = pd.concat([effects.drop("minor").rename(lambda label: label.split("[")[-1].rstrip("]"))
                       for effects in ref.random_effects.values()])
    minor = pd.Series({group: effects["minor"] for group, effects in ref.random_effects.items()})
    np.testing.assert_allclose(fit.scores["effect"], units.loc[fit.scores["unit"]], atol=1e-5)
    np.testing.assert_allclose(fit.groups[0]["effect"], minor.loc[fit.groups[0]["group"]], atol=1e-5)


@pytest.mark.parametrize("reml", [True, False])
def test_frequency_weights_equal_expanded_rows(reml):
    rows = nested_rows(seed=3, weights=True)
    weighted = ours(rows, reml, weights="w")
    plain = ours(expanded(rows), reml)
    assert weighted.summary["n"] == plain.summary["n"]
    for a, b in zip([weighted.scores, *weighted.groups], [plain.scores, *plain.groups]):
        numeric = a.select_dtypes("number").columns
        np.testing.assert_allclose(a[numeric], b[numeric], rtol=1e-8, atol=1e-10)


def test_a_group_level_without_variance_is_the_one_level_model():
    """With no minor-group variance the nested fit is the one-level fit, an exact boundary."""
    rows = nested_rows(seed=11, sigma_minor=0.0, sigma_unit=0.5)
    rows["y"] -= rows.groupby("minor")["y"].transform("mean") - rows.groupby("major")["y"].transform("mean")
    fit = ours(rows)
    assert fit.summary["levels"][1]["boundary"] and not fit.summary["levels"][0]["boundary"]
    one = fit_from_sums(GroupSums.from_frame(rows, "y", "unit", ["major1", "major2"]))
    assert fit.summary["sigma_u"] == pytest.approx(one.summary["sigma_u"], rel=1e-8)
    np.testing.assert_allclose(fit.scores["esres"], one.scores["esres"], rtol=1e-8)
    np.testing.assert_allclose(fit.scores["esres_se"], one.scores["esres_se"], rtol=1e-7)


def test_three_levels_equal_statsmodels():
    """Units within minor groups within sub-major groups: the recursion beyond two levels."""
    rows = nested_rows(seed=5, sigma_minor=0.7)
    rows["submajor"] = rows["minor"].str[:2] + (rows["minor"].str[2].astype(int) // 2).astype(str)
    fit = fit_nested(NestedSums.from_frame(rows, "y", ["unit", "minor", "submajor"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = smf.mixedlm("y ~ 1", rows, groups="submajor", re_formula="1",
                          vc_formula={"minor": "0 + C(minor)", "unit": "0 + C(unit)"}).fit(
            reml=True, method=["bfgs", "lbfgs"], gtol=1e-10)
    assert ref.converged
    vc = dict(zip(ref.model.exog_vc.names, ref.vcomp))
    levels = {level["name"]: level["sigma"] ** 2 for level in fit.summary["levels"]}
    np.testing.assert_allclose([levels["unit"], levels["minor"], levels["submajor"], fit.summary["sigma_e"] ** 2],
                               [vc["unit"], vc["minor"], float(ref.cov_re.iloc[0, 0]), ref.scale],
                               rtol=1e-4)


def test_levels_must_nest():
    rows = nested_rows()
    rows.loc[rows.index[0], "minor"] = "elsewhere"
    with pytest.raises(CamsisError, match=r"unit 'u000' lies in more than one 'minor' group: nested levels must nest"):
        NestedSums.from_frame(rows, "y", ["unit", "minor"])
    sums = GroupSums.from_frame(nested_rows(), "y", "unit")
    with pytest.raises(CamsisError, match="unit\\(s\\) have no 'minor' group"):
        NestedSums.from_units(sums, [pd.Series([None] * len(sums.groups), name="minor")])

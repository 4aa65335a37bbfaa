"""The smoothing fitted from table cells equals statsmodels MixedLM fitted on the expanded rows."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from camsis.errors import CamsisError
from camsis.method.smoothing import SideCells, smooth_side


PARTNER = np.linspace(-1.5, 1.5, 9)


def _table(seed=1, rows=12, cols=9):
    """Rows prefer partners whose score is near their own latent score, so units differ."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=rows)
    counts = rng.poisson(8 * np.exp(np.outer(latent, np.linspace(-1.5, 1.5, cols))))
    counts[0, :] = 0
    counts[0, 1] = 3  # a unit with few pairs shrinks the most
    index = pd.Index(np.arange(100, 100 + rows), name="occ1")
    columns = pd.Index(np.arange(200, 200 + cols), name="occ2")
    return pd.DataFrame(counts.astype(float), index=index, columns=columns)


def test_matches_mixedlm_on_expanded_rows():
    counts = _table()
    partner = pd.Series(PARTNER, index=counts.columns)
    blanked = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    blanked.iloc[2, 3] = blanked.iloc[5, 5] = True
    result = smooth_side(counts, counts, blanked, partner)

    cells = counts.where(~blanked, 0).stack()
    cells = cells[cells > 0]
    rows = cells.index.repeat(cells.astype(int).to_numpy())
    expanded = pd.DataFrame({"unit": rows.get_level_values(0), "y": partner[rows.get_level_values(1)].to_numpy()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("y ~ 1", expanded, groups=expanded["unit"]).fit(reml=True)
    intercept = fit.fe_params["Intercept"]
    blups = pd.Series({unit: effect.iloc[0] for unit, effect in fit.random_effects.items()})
    scores = result.scores
    assert np.allclose(scores["esres"], intercept + blups.reindex(scores.index), atol=1e-5)
    assert np.allclose(result.summary["sigma_u"] ** 2, fit.cov_re.iloc[0, 0], rtol=1e-4)
    assert np.allclose(result.summary["sigma_e"] ** 2, fit.scale, rtol=1e-4)
    assert np.allclose(scores["eps"], expanded.groupby("unit")["y"].mean().reindex(scores.index))
    assert np.allclose(scores["n"], expanded.groupby("unit").size().reindex(scores.index))
    # The unit with three pairs is pulled toward the intercept more than any other.
    assert scores["lambda"].idxmin() == 100


def test_partners_without_score_are_left_out_and_counted():
    counts = _table(seed=3)
    partner = pd.Series(np.linspace(-1, 1, counts.shape[1]), index=counts.columns)
    partner.iloc[0] = np.nan
    blanked = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    result = smooth_side(counts, counts, blanked, partner)
    assert result.summary["pairs_without_partner_score"] == counts.iloc[:, 0].sum()
    assert np.allclose(result.scores["n"], counts.iloc[:, 1:].sum(axis=1)[result.scores.index])


def test_weights_are_relative_frequencies():
    counts = _table(seed=5)
    partner = pd.Series(PARTNER, index=counts.columns)
    blanked = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    plain = smooth_side(counts, counts, blanked, partner)
    scaled = smooth_side(counts * 37.5, counts, blanked, partner)
    assert np.allclose(plain.scores["esres"], scaled.scores["esres"])
    assert np.allclose(plain.scores["esres_se"], scaled.scores["esres_se"])


def test_nothing_left_to_smooth_is_one_clear_error():
    counts = _table(seed=2)
    partner = pd.Series(PARTNER, index=counts.columns)
    everything = pd.DataFrame(True, index=counts.index, columns=counts.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 on the way to the message
        with pytest.raises(CamsisError, match="no pair is left to smooth the occ1 units") as error:
            smooth_side(counts, counts, everything, partner)
    assert "\n" not in str(error.value)
    with pytest.raises(CamsisError, match="without a CA score"):
        smooth_side(counts, counts, everything & False, partner * np.nan)


def test_side_cells_given_the_cells_that_may_hold_pairs_are_those_of_a_search():
    """A replicate's table names its cells (``PairTable.cells``, zero cells included): the same cells are smoothed."""
    counts = _table()
    counts.iloc[3, 4] = 0.0
    blanked = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    blanked.iloc[2, 3] = True
    from camsis.method.pairtable import Cells

    everything = Cells.at(np.arange(counts.size), counts.shape[1])
    searched = SideCells.from_frames(counts, counts, blanked)
    told = SideCells.from_frames(counts, counts, blanked, everything)
    for name in ("row", "column", "weighted", "counts"):
        np.testing.assert_array_equal(getattr(told, name), getattr(searched, name))
    assert len(told.row) == int(((counts.to_numpy() > 0) & ~blanked.to_numpy()).sum())


def test_nested_smoothing_matches_mixedlm_and_an_empty_unit_takes_its_groups_posterior():
    """Units 100-111 within three groups (random), from the table's cells, against statsmodels
    MixedLM with variance components on the expanded rows: each unit's score is the intercept
    plus its group's and its own BLUP, its SD that of their sum under the joint conditional
    covariance; unit 112 (no pairs) takes its group's posterior plus its own prior variance."""
    from camsis.method.smoothing import UnitHierarchy

    units = np.arange(100, 113)
    group = 10 + (units - 100) // 4 % 3
    rng = np.random.default_rng(9)  # a draw statsmodels fits (on some it stops short of lme4's optimum)
    latent = 0.6 * (group[:12] - 11) + 0.3 * rng.normal(size=12)
    counts = pd.DataFrame(rng.poisson(np.exp(1.5 + np.outer(latent, PARTNER))).astype(float),
                          index=pd.Index(units[:12], name="occ1"), columns=pd.Index(np.arange(200, 209), name="occ2"))
    counts.iloc[0] = 0
    counts.iloc[0, 1] = 3  # a unit with few pairs
    partner = pd.Series(PARTNER, index=counts.columns)
    blanked = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    hierarchy = UnitHierarchy(units=units, random=[group], random_names=["group"], fixed=None)
    result = smooth_side(counts, counts, blanked, partner, hierarchy=hierarchy)

    cells = counts.stack()
    cells = cells[cells > 0]
    rows = cells.index.repeat(cells.astype(int).to_numpy())
    unit = rows.get_level_values(0).to_numpy()
    expanded = pd.DataFrame({"unit": unit, "group": 10 + (unit - 100) // 4 % 3,
                             "y": partner[rows.get_level_values(1)].to_numpy()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("y ~ 1", expanded, groups="group", re_formula="1",
                          vc_formula={"unit": "0 + C(unit)"}).fit(reml=True, method=["bfgs", "lbfgs"], gtol=1e-10)
    assert fit.converged
    levels = {level["name"]: level["sigma"] ** 2 for level in result.summary["levels"]}
    np.testing.assert_allclose([levels["unit"], levels["group"]], [fit.vcomp[0], fit.cov_re.iloc[0, 0]], rtol=1e-4)
    scores = result.scores
    intercept = fit.fe_params["Intercept"]
    for u in units[:-1]:
        effects, cov = fit.random_effects[10 + (u - 100) // 4 % 3], fit.random_effects_cov[10 + (u - 100) // 4 % 3]
        name = f"unit[C(unit)[{u}]]"
        assert scores.loc[u, "esres"] == pytest.approx(intercept + effects["group"] + effects[name], abs=1e-5)
        both = cov.loc[["group", name], ["group", name]].to_numpy().sum()
        assert scores.loc[u, "esres_se"] == pytest.approx(np.sqrt(both), rel=1e-4)
        assert scores.loc[u, "imputed"] == 0
    empty = 10 + (112 - 100) // 4 % 3
    assert scores.loc[112, "imputed"] == empty and scores.loc[112, "n"] == 0
    assert scores.loc[112, "esres"] == pytest.approx(intercept + fit.random_effects[empty]["group"], abs=1e-5)
    own = fit.random_effects_cov[empty].loc["group", "group"] + fit.vcomp[0]
    assert scores.loc[112, "esres_se"] == pytest.approx(np.sqrt(own), rel=1e-4)
    # Unit 113's group 13 has no unit with pairs: the fixed part (one fixed group: the intercept)
    # and the prior variance of its group's and its own effect, flagged with the fixed group.
    wider = UnitHierarchy(units=np.append(units, 113), random=[np.append(group, 13)], random_names=["group"],
                          fixed=np.full(len(units) + 1, 1), fixed_name="top")
    alone = smooth_side(counts, counts, blanked, partner, hierarchy=wider).scores.loc[113]
    assert alone["imputed"] == 1 and alone["esres"] == pytest.approx(intercept, abs=1e-5)
    assert alone["esres_se"] == pytest.approx(np.sqrt(fit.vcomp[0] + fit.cov_re.iloc[0, 0]), rel=1e-4)


def test_levels_of_the_nested_smoothing(toy):
    """Levels counted up from the units; a bad one named in one line; no groups: the one-level model."""
    from dataclasses import replace

    from camsis.method.smoothing import UnitHierarchy

    hierarchy = UnitHierarchy.of(toy, {"random": [1], "fixed": "top"})
    assert hierarchy.random_names == ["level2"] and hierarchy.fixed_name == "level1"
    assert (hierarchy.random[0] == toy.unit_parents(2).to_numpy()).all()
    assert UnitHierarchy.of(toy, {"random": [1, 2], "fixed": "top"}).fixed is None
    with pytest.raises(CamsisError, match=r"smoothing_levels random \[3\] is not a level above the units"):
        UnitHierarchy.of(toy, {"random": [3]})
    with pytest.raises(CamsisError, match=r"smoothing_levels fixed 1 must be a level above the random ones"):
        UnitHierarchy.of(toy, {"random": [1], "fixed": 1})
    flat = replace(toy, frame=toy.frame[toy.frame["level"] == toy.frame["level"].max()].assign(parent=pd.NA))
    assert UnitHierarchy.of(flat, {"random": [1], "fixed": "top"}) is None


def test_smoothing_options_are_checked():
    from camsis.scaling.scale import ScaleOptions

    with pytest.raises(CamsisError, match="smoothing 'two_level' is not one of nested, one_level"):
        ScaleOptions(smoothing="two_level")
    with pytest.raises(CamsisError, match=r"smoothing_levels must be a mapping such as \{random: \[1\], fixed: top\}, got 3"):
        ScaleOptions(smoothing_levels=3)

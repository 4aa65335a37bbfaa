"""The RC estimator inside a build: same merged, blanked table as the CA, structural zeros, outputs."""

import functools
import json

import numpy as np
import pandas as pd
import pytest

import camsis.scaling.scale
from camsis.errors import CamsisError
from camsis.method.blanking import blank_cells
from camsis.method.rc import fit_rc
from camsis.scaling.candidates import expected_counts, psd_candidates
from camsis.scaling.scale import ScaleOptions, UnitScores, build_unit_scores
from camsis.scaling.summary import CASummary, RCSummary, ScalingSummary
from helpers import table_of


def rc_counts(toy, n=6000, phi=0.8, seed=4):
    """Poisson counts of an RC(1) model whose scores are the toy units' isei."""
    isei = toy.frame.loc[toy.units, "isei"].to_numpy(float)
    s = (isei - isei.mean()) / isei.std()
    size = np.array([3, 1, 2, 4, 2, 3, 1, 2], dtype=float)
    p = np.outer(size, size[::-1]) * np.exp(phi * np.outer(s, s))
    return np.random.default_rng(seed).poisson(n * p / p.sum())


def diagonal_mask(units, cells):
    mask = pd.DataFrame(False, index=pd.Index(units, name="occ1"), columns=pd.Index(units, name="occ2"))
    for a, b in cells:
        mask.loc[a, b] = True
    return mask


@pytest.fixture
def built(toy):
    table = table_of(rc_counts(toy), toy.units)
    mask = diagonal_mask(toy.units, [(111, 111), (222, 222), (121, 212)])
    options = ScaleOptions(min_n=0, estimator="rc2")
    return table, mask, build_unit_scores(table, mask, mask, toy, options)


def test_raw_scores_are_the_rc_model_of_the_blanked_table_oriented_by_the_reference(toy, built):
    table, mask, result = built
    direct = fit_rc(table.weighted, mask)
    scores = result.scores
    isei = toy.frame.loc[toy.units, "isei"]
    sign = np.sign(np.corrcoef(direct.row_scores["dim1"], isei)[0, 1])
    np.testing.assert_allclose(scores["m_raw"], sign * direct.row_scores["dim1"].to_numpy(), atol=1e-7)
    np.testing.assert_allclose(scores["f_raw"], sign * direct.column_scores["dim1"].to_numpy(), atol=1e-7)
    assert np.corrcoef(scores["m_raw"], isei)[0, 1] > 0.9 and np.corrcoef(scores["mcamsis"], isei)[0, 1] > 0.9
    info = result.diagnostics.rc2
    assert info.deviance == pytest.approx(direct.deviance, rel=1e-9)
    assert info.df == 64 - 3 - 15 - (8 + 8 - 2 - 1)
    assert info.converged and info.iterations >= 1 and info.phi == pytest.approx(list(direct.phi))
    assert info.blanked_cells == 3
    # RC(1): no second dimension to publish; the CA's columns stay for the CA map
    assert scores["mcamsis2"].isna().all() and scores["fcamsis2"].isna().all()
    ca_build = build_unit_scores(table, mask, mask, toy, ScaleOptions(min_n=0))
    np.testing.assert_allclose(scores["m_ca"], ca_build.scores["m_ca"])
    np.testing.assert_allclose(scores["f_ca2"], ca_build.scores["f_ca2"])
    np.testing.assert_allclose(ca_build.scores["m_raw"], ca_build.scores["m_ca"])
    assert np.corrcoef(scores["mcamsis"], ca_build.scores["mcamsis"])[0, 1] > 0.95
    assert ca_build.diagnostics.rc2 is None


def test_blanked_cells_are_structural_zeros_for_rc_but_zero_counts_for_ca(toy):
    counts = rc_counts(toy)
    counts[0, 0] = 0  # an observed zero where the blanking below puts a structural zero
    table = table_of(counts, toy.units)
    none = blank_cells(toy.units, toy.units)
    one = diagonal_mask(toy.units, [(111, 111)])
    rc_open = build_unit_scores(table, none, none, toy, ScaleOptions(min_n=0, estimator="rc2"))
    rc_blanked = build_unit_scores(table, one, none, toy, ScaleOptions(min_n=0, estimator="rc2"))
    ca_open = build_unit_scores(table, none, none, toy, ScaleOptions(min_n=0))
    ca_blanked = build_unit_scores(table, one, none, toy, ScaleOptions(min_n=0))
    np.testing.assert_allclose(ca_open.scores["m_raw"], ca_blanked.scores["m_raw"])
    assert np.abs(rc_open.scores["m_raw"] - rc_blanked.scores["m_raw"]).max() > 1e-3
    assert rc_blanked.diagnostics.rc2.df == rc_open.diagnostics.rc2.df - 1


def test_merged_rows_share_the_fit_and_candidates_rank_against_it(toy):
    counts = rc_counts(toy, n=3000)
    counts[7, 0] += 40  # a cell the model cannot describe
    table = table_of(counts, toy.units)
    none = blank_cells(toy.units, toy.units)
    result = build_unit_scores(table, none, none, toy, ScaleOptions(min_n=400, estimator="rc2"))
    fit = result.fit
    assert fit.rc is not None and fit.model is fit.rc
    assert (fit.row_map != fit.row_map.index).any()  # some units were merged
    expected = expected_counts(fit)
    by_row = expected.groupby(fit.row_map.reindex(expected.index).to_numpy()).sum()
    merged = by_row.T.groupby(fit.column_map.reindex(expected.columns).to_numpy()).sum().T
    np.testing.assert_allclose(merged.to_numpy(), fit.rc.fitted.loc[merged.index, merged.columns].to_numpy(), rtol=1e-10)
    candidates = psd_candidates(table, none, result, toy, top=3)
    assert (candidates.loc[0, "lower_1"], candidates.loc[0, "lower_2"]) == (222, 111)


def test_two_dimensions_publish_a_second_score(toy):
    table = table_of(rc_counts(toy, n=20000), toy.units)
    none = blank_cells(toy.units, toy.units)
    result = build_unit_scores(table, none, none, toy, ScaleOptions(min_n=0, estimator="rc2", rc_dimensions=2))
    assert result.scores["mcamsis2"].notna().all()
    assert len(result.diagnostics.rc2.phi) == 2 and result.diagnostics.rc2.dimensions == 2


def test_non_convergence_reaches_the_warnings(toy, monkeypatch):
    monkeypatch.setattr(camsis.scaling.scale, "fit_rc", functools.partial(fit_rc, max_iter=1, n_starts=1))
    table = table_of(rc_counts(toy), toy.units)
    none = blank_cells(toy.units, toy.units)
    with pytest.warns(UserWarning, match="did not converge"):
        result = build_unit_scores(table, none, none, toy, ScaleOptions(min_n=0, estimator="rc2"))
    assert not result.diagnostics.rc2.converged
    assert any("RC(1) model did not converge" in w for w in result.diagnostics.warnings)


def test_unknown_estimator_is_refused():
    with pytest.raises(CamsisError, match="estimator 'pca' is not one of ca, rc2"):
        ScaleOptions(estimator="pca")
    with pytest.raises(CamsisError, match="rc_dimensions"):
        ScaleOptions(rc_dimensions=0)


def test_scaling_json_is_written_and_read_only_as_a_scaling_summary(toy, built, tmp_path):
    """scaling.json holds a key per section the build made (none for what it did not do), typed again on reading."""
    table, mask, result = built
    result.save(tmp_path / "unit_scores.tsv", tmp_path / "scaling.json")
    saved = json.loads((tmp_path / "scaling.json").read_text())
    assert list(saved) == ["warnings", "merging", "ca", "rc2", "smoothing", "male_female_correlation"]
    loaded = UnitScores.load(tmp_path / "unit_scores.tsv", tmp_path / "scaling.json").diagnostics
    assert isinstance(loaded.ca, CASummary) and isinstance(loaded.rc2, RCSummary)
    assert loaded.model is loaded.rc2 and loaded.rc2.df == result.diagnostics.rc2.df == 64 - 3 - 15 - (8 + 8 - 2 - 1)
    assert loaded.ca.inertia == pytest.approx(result.diagnostics.ca.inertia)
    assert loaded.as_dict() == saved
    saved["ca"]["not_a_field"] = 1
    (tmp_path / "scaling.json").write_text(json.dumps(saved))
    with pytest.raises(CamsisError, match=r"scaling.json is not a scaling summary .*rebuild the scale"):
        ScalingSummary.load(tmp_path / "scaling.json")

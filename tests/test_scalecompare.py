"""Comparing a sheet's scales: the matrices against pandas' pairwise correlations of the own-pair
scores, a crosswalk-joined pair against the correlation computed by merging by hand, a pair
with no link left out, and the step's files and figures."""

import numpy as np
import pandas as pd
import pytest
import yaml

from camsis import diagnostics
from camsis.classifications.classification import load_classification
from camsis.publish.scalecompare import NO_LINK, SAME_CLASSIFICATION, compare_scales, mean_scale
from camsis.scaling.scale import UnitScores
from helpers import TOY, TOY_UNITS, write_classification


def unit_scores(seed, imputed=(), missing=()):
    """A scale's unit scores on the toy units: some imputed (m and f apart), some unscored."""
    rng = np.random.default_rng(seed)
    base = np.linspace(20, 80, len(TOY_UNITS))
    frame = pd.DataFrame(index=pd.Index(TOY_UNITS, name="unit"))
    for side in ("m", "f"):
        frame[f"{side}camsis"] = base + rng.normal(0, 8, len(TOY_UNITS))
        frame[f"{side}_imputed"] = 0
    for code, side in imputed:
        frame.loc[code, f"{side}_imputed"] = 1
    for code in missing:
        frame.loc[code, ["mcamsis", "fcamsis"]] = np.nan
    return frame


@pytest.fixture
def toy(tmp_path):
    return write_classification(tmp_path, "toy", TOY)


def test_matrix_is_pandas_pairwise_correlation_of_own_scores(toy):
    scores = {"a": unit_scores(1, imputed=[(111, "m"), (222, "f")]), "b": unit_scores(2, missing=[121]),
              "c": unit_scores(3, imputed=[(212, "m"), (221, "m")], missing=[112])}
    result = compare_scales(scores, {name: toy for name in scores})
    for side in ("m", "f"):
        own = pd.DataFrame({name: frame[f"{side}camsis"].where(frame[f"{side}_imputed"] == 0)
                            for name, frame in scores.items()})
        expected = own.corr(method="pearson", min_periods=3)
        got = result.correlations[side]
        pd.testing.assert_frame_equal(got, expected.rename_axis("scale"), check_names=False, atol=1e-12)
        counts = own.notna().astype(int).T @ own.notna().astype(int)
        np.testing.assert_array_equal(result.counts[side].to_numpy(), counts.to_numpy())
    assert result.counts["m"].loc["a", "c"] == 8 - 1 - 2 - 1  # 111 imputed in a; 212, 221 imputed and 112 unscored in c
    assert (result.pairs["joined"] == SAME_CLASSIFICATION).all() and len(result.pairs) == 6


def test_scales_of_two_classifications_are_joined_by_a_crosswalk_column(tmp_path, toy):
    # "fine": two codes per toy unit (code*10 + 1, + 2), linked to the toy unit by its column named 'toy'
    rows = [(1, 1, None, "all")] + [(c * 10 + k, 2, 1, f"{c}-{k}") for c in TOY_UNITS for k in (1, 2)]
    frame = pd.DataFrame(rows, columns=["code", "level", "parent", "title"])
    frame["label"] = frame["title"]
    frame["parent"] = frame["parent"].astype("Int64")
    frame["toy"] = [pd.NA] + [c for c in TOY_UNITS for _ in (1, 2)]
    frame["toy"] = frame["toy"].astype("Int64")
    frame.to_csv(tmp_path / "fine.tsv", sep="\t", index=False)
    (tmp_path / "fine.yaml").write_text(yaml.safe_dump({"variable": "fine", "label": "Fine", "value_label_name": "fine",
                                                         "reference_measure": "", "link_labels": {"toy": "toy code"},
                                                         "link_value_labels": {}}))
    fine = load_classification("fine", tmp_path)
    rng = np.random.default_rng(5)
    fine_scores = pd.DataFrame({"mcamsis": rng.uniform(10, 90, len(fine.units)), "m_imputed": 0,
                                "fcamsis": rng.uniform(10, 90, len(fine.units)), "f_imputed": 0},
                               index=pd.Index(fine.units, name="unit"))
    fine_scores.loc[fine.units[:3], "m_imputed"] = 1
    coarse = unit_scores(6, missing=[222])
    other = write_classification(tmp_path, "other", TOY)  # same codes, another name, and no link
    result = compare_scales({"toy": coarse, "fine": fine_scores, "other": unit_scores(7)},
                            {"toy": toy, "fine": fine, "other": other})
    # by hand: every fine unit beside the toy unit its link names, both scored from own pairs
    merged = fine_scores[fine_scores["m_imputed"] == 0][["mcamsis"]].join(fine.frame["toy"])
    merged = merged.merge(coarse[["mcamsis"]], left_on="toy", right_index=True, suffixes=("_fine", "_toy")).dropna()
    assert result.counts["m"].loc["toy", "fine"] == len(merged) == 16 - 3 - 2
    assert result.correlations["m"].loc["fine", "toy"] == pytest.approx(merged["mcamsis_fine"].corr(merged["mcamsis_toy"]))
    joined = result.pairs.set_index(["scale_a", "scale_b", "side"])["joined"]
    assert joined[("toy", "fine", "m")] == "link toy of fine"
    assert joined[("toy", "other", "f")] == NO_LINK and np.isnan(result.correlations["f"].loc["toy", "other"])
    assert joined[("fine", "other", "m")] == NO_LINK  # 'fine' links to 'toy', not to 'other'


def test_mean_scale_is_the_mean_over_the_scales_that_score_a_unit():
    scores = {"a": unit_scores(1, imputed=[(111, "m")]), "b": unit_scores(2)}
    table = mean_scale(scores, "m")
    assert table.loc[111, "mean"] == pytest.approx(scores["b"].loc[111, "mcamsis"]) and table.loc[111, "scales"] == 1
    assert table.loc[112, "mean"] == pytest.approx((scores["a"].loc[112, "mcamsis"] + scores["b"].loc[112, "mcamsis"]) / 2)


def test_step_writes_square_matrices_named_by_scale(tmp_path, toy):
    paths = []
    for k, name in enumerate(["s1", "s2", "s3"]):
        path = tmp_path / f"{name}.tsv"
        UnitScores(scores=unit_scores(k).assign(n_m=10, n_f=10), population=pd.DataFrame(
            {"m": 1.0, "f": 1.0}, index=pd.Index(TOY_UNITS, name="unit"))).save(path)
        paths.append(path)
    names = ["mcamsis", "fcamsis", "mcamsis_n", "fcamsis_n", "pairs", "heatmap", "against_mean"]
    outputs = {n: tmp_path / f"out_{n}.{'png' if n in ('heatmap', 'against_mean') else 'tsv'}" for n in names}
    diagnostics.compare_scales(paths, [tmp_path / "toy.tsv", tmp_path / "toy.yaml"], outputs,
                         scales=["s1", "s2", "s3"], classifications=["toy"] * 3)
    matrix = pd.read_csv(outputs["mcamsis"], sep="\t", index_col="scale")
    assert list(matrix.index) == list(matrix.columns) == ["s1", "s2", "s3"]
    assert np.allclose(np.diag(matrix), 1.0) and np.allclose(matrix, matrix.T)
    counts = pd.read_csv(outputs["fcamsis_n"], sep="\t", index_col="scale")
    assert (counts.to_numpy() == 8).all()
    assert outputs["heatmap"].stat().st_size > 0 and outputs["against_mean"].stat().st_size > 0

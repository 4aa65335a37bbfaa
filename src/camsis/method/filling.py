"""Stage 8: give every code of the classification a score.

A unit without a score of its own borrows the score of its closest ancestor group that
has scored units (and is flagged); a group gets the population-weighted mean of the
scores of the units below it, so group scores describe the same people as unit scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from camsis.classifications.classification import UnitGroups
from camsis.vocabulary import SIDES


def group_means(values: np.ndarray, weights: np.ndarray, groups: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """Weighted mean per group of each column of ``values``, over the units with a finite value.

    ``values`` and ``weights`` are units x columns arrays (one column per bootstrap replicate,
    or a single one), ``groups`` each unit's group (NA: none). A group whose units with a
    value all weigh 0 takes their plain mean; a group with no unit with a value gets NaN.
    Returns the group codes and a groups x columns array. Done as products with a sparse 0/1
    membership matrix (``UnitGroups``), so B replicates cost one product instead of B group-bys.
    """
    membership = UnitGroups.of(groups.to_numpy())
    return pd.Index(membership.codes), _means(values, weights, membership.member)


def _means(values: np.ndarray, weights: np.ndarray, member) -> np.ndarray:
    """``group_means`` with the groups x units membership matrix given (a classification's
    levels keep theirs, ``Classification.unit_groups``)."""
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0)
    w = np.where(finite, np.nan_to_num(weights, nan=0.0), 0.0)
    # One product for the four sums: each column is summed on its own, in the order of the units.
    count, total, weighted, plain = np.split(member @ np.hstack([finite.astype(float), w, w * x, x]), 4, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(total > 0, weighted / total, plain / count)
    means[count == 0] = np.nan
    return means


def _group_levels(classification) -> tuple[int, ...]:
    """Levels above the units, finest first."""
    return classification.levels[-2::-1]


def _on_units(series: pd.Series, units: pd.Index) -> np.ndarray:
    """The values of ``series`` in the order of ``units``, as floats (NaN where it has none).

    Not reindexed when it is indexed by the units already, as the scale build's series are:
    the reindexing was a third of an imputation, and a bootstrap replicate imputes 4 times.
    """
    if not series.index.equals(units):
        series = series.reindex(units)
    return series.to_numpy(dtype=float)


def impute_missing_units(values: pd.Series, weights: pd.Series, classification) -> tuple[pd.Series, pd.Series]:
    """Fill missing unit scores from the closest ancestor group that has scored units.

    Returns the filled scores (indexed by every unit of the classification) and, per unit,
    the code of the group its score was taken from (0 for units scored on their own).
    """
    units = pd.Index(classification.units)
    own = _on_units(values, units)
    people = _on_units(weights, units)
    people = np.where(np.isnan(people), 0.0, people)
    filled = own.copy()
    source = np.zeros(len(units), dtype=np.int64)
    for level in _group_levels(classification):
        missing = np.isnan(filled)
        if not missing.any():
            break
        groups = classification.unit_groups(level)
        means = _means(own[:, None], people[:, None], groups.member)[:, 0]
        borrowed = np.where(groups.position >= 0, means[groups.position], np.nan)
        take = missing & ~np.isnan(borrowed)
        filled[take] = borrowed[take]
        source[take] = groups.codes[groups.position[take]]
    return pd.Series(filled, index=units, name=values.name), pd.Series(source, index=units)


def fill_groups(values: np.ndarray, weights: np.ndarray, classification) -> np.ndarray:
    """Every code's score, in the order of ``classification.frame``, from unit scores.

    ``values`` and ``weights`` are units x columns arrays in the order of
    ``classification.units``; a group is the weighted mean of its units (``group_means``).
    """
    codes = classification.frame.index
    out = np.full((len(codes), values.shape[1]), np.nan)
    out[codes.get_indexer(classification.units)] = values
    for level in _group_levels(classification):
        groups = classification.unit_groups(level)
        out[codes.get_indexer(groups.codes)] = _means(values, weights, groups.member)
    return out


def score_groups(unit_values: pd.Series, weights: pd.Series, classification) -> pd.Series:
    """Scores for every code: units as given, each group the weighted mean of its units."""
    units = pd.Index(classification.units)
    values = unit_values.reindex(units).to_numpy(dtype=float)[:, None]
    people = weights.reindex(units).fillna(0.0).to_numpy(dtype=float)[:, None]
    return pd.Series(fill_groups(values, people, classification)[:, 0], index=classification.frame.index)


def _group_sums(unit_values: pd.Series, classification) -> pd.Series:
    units = pd.Index(classification.units)
    unit_values = unit_values.reindex(units).fillna(0.0)
    parts = [unit_values]
    for level in _group_levels(classification):
        parts.append(unit_values.groupby(classification.unit_parents(level).reindex(units)).sum())
    return pd.concat(parts).reindex(classification.frame.index).fillna(0.0)


BOOTSTRAP_COLUMNS = ["mcam_bse", "fcam_bse", "mcam_tse", "fcam_tse", "mcam_lo", "mcam_hi", "fcam_lo", "fcam_hi"]


def fill_classification(
    unit_scores: pd.DataFrame, population: pd.DataFrame, classification, bootstrap: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The published table: one row per code, scores for groups, linked measures beside them.

    ``unit_scores`` carries the columns of ``camsis.scaling.scale.UnitScores.scores``; scores of
    groups are weighted by ``population`` (people of each sex per unit), case counts are
    summed, and standard errors and imputation flags stay with units. ``bootstrap``
    (camsis.scaling.uncertainty.bootstrap_summary, indexed by code, groups included) adds the
    bootstrap standard errors and intervals after the model-based ones.
    """
    codes = classification.frame.index
    out = pd.DataFrame({classification.variable: codes.to_numpy(dtype="int64")}, index=codes)
    for side in SIDES:
        weights = population[side]
        for column in (f"{side}camsis", f"{side}camsis2"):
            if column in unit_scores:
                out[column] = score_groups(unit_scores[column], weights, classification)
    for side in SIDES:
        out[f"{side}cam_se"] = unit_scores[f"{side}cam_se"].reindex(codes)
    if bootstrap is not None:
        for column in (c for c in BOOTSTRAP_COLUMNS if c in bootstrap):
            out[column] = bootstrap[column].reindex(codes)
    for side in SIDES:
        out[f"n_{side}"] = _group_sums(unit_scores[f"n_{side}"], classification).round().astype("int64")
    for side in SIDES:
        out[f"{side}_imputed"] = unit_scores[f"{side}_imputed"].reindex(codes).fillna(0).astype("int64")
    ordered = [classification.variable, "mcamsis", "fcamsis", "mcam_se", "fcam_se", *BOOTSTRAP_COLUMNS, "n_m", "n_f",
               "m_imputed", "f_imputed", "mcamsis2", "fcamsis2"]
    out = out[[c for c in ordered if c in out.columns]]
    for link in classification.links:
        out[link] = classification.frame[link]
    return out.reset_index(drop=True)

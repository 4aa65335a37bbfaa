"""Stage 8: give every code of the classification a score.

A unit without a score of its own borrows the score of its closest ancestor group that
has scored units (and is flagged); a group gets the population-weighted mean of the
scores of the units below it, so group scores describe the same people as unit scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _weighted_group_means(values: pd.Series, weights: pd.Series, groups: pd.Series) -> pd.Series:
    """Weighted mean per group over units with a value; an all-zero-weight group takes the plain mean."""
    frame = pd.DataFrame({"value": values, "weight": weights.reindex(values.index).fillna(0.0), "group": groups})
    frame = frame[np.isfinite(frame["value"].to_numpy(float)) & frame["group"].notna()]
    frame["wx"] = frame["weight"] * frame["value"]
    sums = frame.groupby("group").agg(wx=("wx", "sum"), weight=("weight", "sum"), plain=("value", "mean"))
    weighted = sums["wx"] / sums["weight"].where(sums["weight"] > 0)
    return weighted.fillna(sums["plain"])


def _group_levels(classification) -> list[int]:
    """Levels above the units, finest first."""
    levels = sorted(classification.frame["level"].unique())
    return levels[:-1][::-1]


def impute_missing_units(values: pd.Series, weights: pd.Series, classification) -> tuple[pd.Series, pd.Series]:
    """Fill missing unit scores from the closest ancestor group that has scored units.

    Returns the filled scores (indexed by every unit of the classification) and, per unit,
    the code of the group its score was taken from (0 for units scored on their own).
    """
    units = pd.Index(classification.units)
    filled = values.reindex(units).astype(float)
    source = pd.Series(0, index=units, dtype="int64")
    for level in _group_levels(classification):
        missing = filled.isna()
        if not missing.any():
            break
        groups = classification.unit_parents(level).reindex(units)
        means = _weighted_group_means(values.reindex(units), weights, groups)
        borrowed = groups[missing].map(means)
        take = borrowed.notna()
        filled[borrowed.index[take]] = borrowed[take]
        source[borrowed.index[take]] = groups[borrowed.index[take]].astype("int64")
    return filled, source


def score_groups(unit_values: pd.Series, weights: pd.Series, classification) -> pd.Series:
    """Scores for every code: units as given, each group the weighted mean of its units."""
    units = pd.Index(classification.units)
    unit_values = unit_values.reindex(units)
    parts = [unit_values]
    for level in _group_levels(classification):
        parts.append(_weighted_group_means(unit_values, weights, classification.unit_parents(level).reindex(units)))
    scored = pd.concat(parts)
    return scored.reindex(classification.frame.index)


def _group_sums(unit_values: pd.Series, classification) -> pd.Series:
    units = pd.Index(classification.units)
    unit_values = unit_values.reindex(units).fillna(0.0)
    parts = [unit_values]
    for level in _group_levels(classification):
        parts.append(unit_values.groupby(classification.unit_parents(level).reindex(units)).sum())
    return pd.concat(parts).reindex(classification.frame.index).fillna(0.0)


BOOTSTRAP_COLUMNS = ["mcam_bse", "fcam_bse", "mcam_lo", "mcam_hi", "fcam_lo", "fcam_hi"]


def fill_classification(
    unit_scores: pd.DataFrame, population: pd.DataFrame, classification, bootstrap: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The published table: one row per code, scores for groups, linked measures beside them.

    ``unit_scores`` carries the columns of ``camsis.scale.UnitScores.scores``; scores of
    groups are weighted by ``population`` (people of each sex per unit), case counts are
    summed, and standard errors and imputation flags stay with units. ``bootstrap``
    (camsis.uncertainty.bootstrap_summary, indexed by code, groups included) adds the
    bootstrap standard errors and intervals after the model-based ones.
    """
    codes = classification.frame.index
    out = pd.DataFrame({classification.variable: codes.to_numpy(dtype="int64")}, index=codes)
    for side in ("m", "f"):
        weights = population[side]
        for column in (f"{side}camsis", f"{side}camsis2"):
            if column in unit_scores:
                out[column] = score_groups(unit_scores[column], weights, classification)
    for side in ("m", "f"):
        out[f"{side}cam_se"] = unit_scores[f"{side}cam_se"].reindex(codes)
    if bootstrap is not None:
        for column in BOOTSTRAP_COLUMNS:
            out[column] = bootstrap[column].reindex(codes)
    for side in ("m", "f"):
        out[f"n_{side}"] = _group_sums(unit_scores[f"n_{side}"], classification).round().astype("int64")
    for side in ("m", "f"):
        out[f"{side}_imputed"] = unit_scores[f"{side}_imputed"].reindex(codes).fillna(0).astype("int64")
    ordered = [classification.variable, "mcamsis", "fcamsis", "mcam_se", "fcam_se", *BOOTSTRAP_COLUMNS, "n_m", "n_f",
               "m_imputed", "f_imputed", "mcamsis2", "fcamsis2"]
    out = out[[c for c in ordered if c in out.columns]]
    for link in classification.links:
        out[link] = classification.frame[link]
    return out.reset_index(drop=True)

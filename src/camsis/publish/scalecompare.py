"""A sheet's scales set against one another: how alike are the scales of six census samples?

Each scale contributes, per side, the scores of the units it scored from its own pairs
(``UnitScores.scores``: ``{side}camsis`` where ``{side}_imputed`` is 0; units whose score
was borrowed from a parent group say nothing about the sample). Two scales of one
classification are correlated over the unit codes both score. Two scales of different
classifications are correlated where a crosswalk link in a code frame joins them: a frame
whose column is named after the other classification's variable (SOC2020's ``isco08``)
maps each of its units to one code of the other, and the pair (unit, linked code) counts
when both scales score their side of it. Scales that no link joins are left out (empty
entries) and the reason is kept in ``pairs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.method.correlation import pearson
from camsis.vocabulary import SIDES

# How a pair of scales was joined (the ``joined`` column of ScaleComparison.pairs).
SAME_CLASSIFICATION = "same classification"
NO_LINK = "no link: left out"


@dataclass
class ScaleComparison:
    """Every pair of a sheet's scales, per side.

    Attributes
    ----------
    correlations : dict side -> DataFrame
        Square, indexed and columned by scale in sheet order: Pearson r over the codes both
        score (1 on the diagonal; NaN where the scales are not joined or fewer than 3 codes are shared).
    counts : dict side -> DataFrame
        Same shape: the number of codes each r rests on (the diagonal: the scale's own scored units).
    pairs : DataFrame
        One row per pair of scales (each pair once, in sheet order) and side: ``scale_a``,
        ``scale_b``, ``side``, ``r``, ``n``, ``joined`` (SAME_CLASSIFICATION, "link {column}
        of {classification}", or NO_LINK).
    """

    correlations: dict[str, pd.DataFrame]
    counts: dict[str, pd.DataFrame]
    pairs: pd.DataFrame


def own_scores(unit_scores: pd.DataFrame, side: str) -> pd.Series:
    """A side's scores of the units scored from their own pairs (imputed ones left out), indexed by code."""
    scores = unit_scores[f"{side}camsis"].astype(float)
    imputed = unit_scores.get(f"{side}_imputed", pd.Series(0, index=unit_scores.index)).fillna(0).astype(bool)
    return scores[~imputed].dropna()


def _link(frame_a, frame_b):
    """The crosswalk joining classification a to b: (a's unit -> b's code Series, description), or None."""
    column = frame_b.variable
    if column not in frame_a.frame.columns:
        return None
    link = pd.to_numeric(frame_a.frame.loc[frame_a.units, column], errors="coerce").dropna()
    return link.astype("int64"), f"link {column} of {frame_a.name}"


def _joined(x: pd.Series, y: pd.Series, frame_a, frame_b):
    """x and y on common labels (via a crosswalk for two classifications); None when nothing joins them."""
    if frame_a.name == frame_b.name:
        codes = x.index.intersection(y.index)
        return x.loc[codes].to_numpy(), y.loc[codes].to_numpy(), SAME_CLASSIFICATION
    forward = _link(frame_a, frame_b)
    if forward is not None:
        link, how = forward
        pairs = link.reindex(x.index).dropna().astype("int64")
        return x.loc[pairs.index].to_numpy(), y.reindex(pairs.to_numpy()).to_numpy(), how
    backward = _link(frame_b, frame_a)
    if backward is not None:
        link, how = backward
        pairs = link.reindex(y.index).dropna().astype("int64")
        return x.reindex(pairs.to_numpy()).to_numpy(), y.loc[pairs.index].to_numpy(), how
    return None


def compare_scales(scores: dict[str, pd.DataFrame], classifications: dict) -> ScaleComparison:
    """Correlate every pair of scales, per side, over the codes both score from their own pairs.

    Parameters
    ----------
    scores : dict scale -> DataFrame
        Each scale's unit scores (``UnitScores.scores``: ``mcamsis``, ``m_imputed``, ``fcamsis``,
        ``f_imputed``, indexed by unit code), in sheet order.
    classifications : dict scale -> Classification
        The code frame each scale is built on (its ``name``, ``variable``, ``units`` and the
        link columns of its ``frame``).
    """
    names = list(scores)
    if missing := [name for name in names if name not in classifications]:
        raise CamsisError(f"compare_scales: no classification for scale(s) {', '.join(missing)}")
    correlations, counts, rows = {}, {}, []
    for side in SIDES:
        own = {name: own_scores(scores[name], side) for name in names}
        r = pd.DataFrame(np.nan, index=pd.Index(names, name="scale"), columns=names)
        n = pd.DataFrame(0, index=pd.Index(names, name="scale"), columns=names, dtype="int64")
        for i, a in enumerate(names):
            r.loc[a, a], n.loc[a, a] = (1.0 if len(own[a]) else np.nan), len(own[a])
            for b in names[i + 1:]:
                joined = _joined(own[a], own[b], classifications[a], classifications[b])
                if joined is None:
                    rows.append({"scale_a": a, "scale_b": b, "side": side, "r": np.nan, "n": 0, "joined": NO_LINK})
                    continue
                x, y, how = joined
                value, count = pearson(pd.Series(np.asarray(x, float)), pd.Series(np.asarray(y, float)), at_least=3)
                r.loc[a, b] = r.loc[b, a] = value
                n.loc[a, b] = n.loc[b, a] = count
                rows.append({"scale_a": a, "scale_b": b, "side": side, "r": value, "n": count, "joined": how})
        correlations[side], counts[side] = r, n
    pairs = pd.DataFrame(rows, columns=["scale_a", "scale_b", "side", "r", "n", "joined"])
    return ScaleComparison(correlations=correlations, counts=counts, pairs=pairs)


def mean_scale(scores: dict[str, pd.DataFrame], side: str) -> pd.DataFrame:
    """Each unit's score in every scale (own pairs only) and their mean over the scales that score it.

    Only scales of one classification can share a mean: the caller passes those. Columns
    are the scales then ``mean`` (and ``scales``: how many scales the mean is over).
    """
    table = pd.DataFrame({name: own_scores(frame, side) for name, frame in scores.items()})
    table["mean"] = table[list(scores)].mean(axis=1)
    table["scales"] = table[list(scores)].notna().sum(axis=1)
    return table

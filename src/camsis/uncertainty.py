"""Uncertainty of a scale: bootstrap replicates of the couples, their summaries, plausible values.

A replicate resamples the couples with replacement. Since every later stage works on the
occ1 x occ2 table, resampling n couples is exactly a multinomial draw of n pairs over the
cells with probabilities count_ij / n, so a replicate never touches the microdata. The
replicate is then rebuilt through the same stages as the scale itself
(camsis.scale.build_unit_scores: merging, CA, dimension choice and orientation by the
reference measure, smoothing, standardisation), so its spread is the whole pipeline's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from camsis.correlation import pearson
from camsis.filling import score_groups
from camsis.tables import PairTable
from camsis.vocabulary import SEX_CODES, SIDES

log = logging.getLogger("camsis.uncertainty")

# Replicates whose scores correlate less than this with the scale's own suggest a
# different dimension or sign was chosen: they are reported.
DISAGREEMENT = 0.5


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    """The generator of replicate ``replicate``: independent streams from one seed, any order of jobs."""
    return np.random.default_rng([int(seed), int(replicate)])


def resample_table(table: PairTable, rng: np.random.Generator) -> PairTable:
    """One bootstrap draw of the couples behind ``table``, as a table of the same shape.

    Draws n = table.used pairs over all cells (blanked ones included: the masks stay
    fixed) with probabilities proportional to the unweighted counts, i.e. every couple is
    equally likely, as in resampling the rows. Each drawn pair carries its cell's mean
    weight, so the expected weighted table is the observed one (drawing with
    probabilities proportional to the weighted counts would count the weights twice).
    """
    counts = table.counts.to_numpy(dtype=np.int64)
    weighted = table.weighted.to_numpy(dtype=np.float64)
    n = int(counts.sum())
    flat = counts.ravel().astype(np.float64)
    drawn = rng.multinomial(n, flat / flat.sum()).reshape(counts.shape)
    mean_weight = np.divide(weighted, counts, out=np.zeros_like(weighted), where=counts > 0)
    return PairTable(
        weighted=pd.DataFrame(drawn * mean_weight, index=table.weighted.index, columns=table.weighted.columns),
        counts=pd.DataFrame(drawn, index=table.counts.index, columns=table.counts.columns),
        read=table.read,
        used=n,
        dropped=dict(table.dropped),
        source=f"{table.source} (bootstrap replicate)",
    )


def fill_replicate(unit_scores, classification) -> pd.DataFrame:
    """Every code's m and f score in one replicate: units as scored, groups weighted by that replicate's people.

    Parameters
    ----------
    unit_scores : camsis.scale.UnitScores
        A replicate's (or the scale's) unit scores, e.g. ``UnitScores.load`` of its file.
    classification : camsis.classification.Classification

    Returns
    -------
    DataFrame
        Indexed by code, columns ``mcamsis``, ``fcamsis``.
    """
    return pd.DataFrame(
        {
            f"{side}camsis": score_groups(unit_scores.scores[f"{side}camsis"], unit_scores.population[side], classification)
            for side in SIDES
        }
    )


def gather_replicates(replicates: Sequence, classification) -> pd.DataFrame:
    """Long table of every code's scores in every replicate: code, replicate (1..B), mcamsis, fcamsis."""
    parts = []
    for number, unit_scores in enumerate(replicates, start=1):
        filled = fill_replicate(unit_scores, classification)
        filled.index.name = "code"
        parts.append(filled.reset_index().assign(replicate=number))
    long = pd.concat(parts, ignore_index=True)
    return long[["code", "replicate", "mcamsis", "fcamsis"]]


def bootstrap_summary(long: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per code: bootstrap SE (SD over replicates, ddof 1) and the percentile interval, for m and f.

    Columns ``mcam_bse``, ``fcam_bse``, ``mcam_lo``, ``mcam_hi``, ``fcam_lo``, ``fcam_hi``
    and ``replicates``, indexed by code. With ``level`` 0.95 the bounds are the 2.5th and
    97.5th percentiles (linear interpolation between order statistics).
    """
    tail = 100 * (1 - level) / 2
    grouped = long.groupby("code")
    out = pd.DataFrame(index=pd.Index(sorted(long["code"].unique()), name="code"))
    for side in SIDES:
        column = f"{side}camsis"
        out[f"{side}cam_bse"] = grouped[column].std(ddof=1)
        out[f"{side}cam_lo"] = grouped[column].quantile(tail / 100)
        out[f"{side}cam_hi"] = grouped[column].quantile(1 - tail / 100)
    out["replicates"] = grouped["replicate"].nunique()
    return out[["mcam_bse", "fcam_bse", "mcam_lo", "mcam_hi", "fcam_lo", "fcam_hi", "replicates"]]


def replicate_agreement(long: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Correlation of each replicate's unit-and-group scores with the scale's own, per side.

    A replicate whose CA chose another dimension, or whose sign came out the other way,
    shows up here as a low or negative correlation.
    """
    rows = []
    for number, replicate in long.groupby("replicate"):
        replicate = replicate.set_index("code")
        row = {"replicate": int(number)}
        for side in SIDES:
            column = f"{side}camsis"
            row[side] = pearson(replicate[column], scores[column])[0]
        rows.append(row)
    agreement = pd.DataFrame(rows).set_index("replicate")
    odd = agreement[(agreement[list(SIDES)] < DISAGREEMENT).any(axis=1)]
    if len(odd):
        log.warning(
            "%d bootstrap replicate(s) disagree with the scale (correlation below %.1f): %s",
            len(odd), DISAGREEMENT,
            "; ".join(f"replicate {r}: m {v['m']:.2f}, f {v['f']:.2f}" for r, v in odd.iterrows()),
        )
    return agreement


def plausible_values(long: pd.DataFrame, m: int, seed: int) -> pd.DataFrame:
    """M plausible values per code and sex: the scores of M replicates picked at random without replacement.

    Whole replicates are taken, not independent draws per code, because an analysis uses
    many codes at once: a replicate keeps the errors' dependence across codes and sexes
    (shared CA, shared standardisation), keeps scores inside the clip range and assumes
    no normality. Returns long rows code, sex (1 male, 2 female), pv (1..M), camsis, and
    the replicate each pv came from.
    """
    available = np.sort(long["replicate"].unique())
    if m > len(available):
        raise ValueError(f"{m} plausible values asked for but only {len(available)} bootstrap replicates")
    chosen = np.random.default_rng([int(seed), 0]).choice(available, size=m, replace=False)
    parts = []
    for pv, replicate in enumerate(chosen, start=1):
        scores = long[long["replicate"] == replicate]
        for side in SIDES:
            sex = SEX_CODES[side]
            parts.append(
                pd.DataFrame(
                    {"code": scores["code"].to_numpy(), "sex": sex, "pv": pv,
                     "camsis": scores[f"{side}camsis"].to_numpy(), "replicate": int(replicate)}
                )
            )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["code", "sex", "pv"], kind="stable").reset_index(drop=True)

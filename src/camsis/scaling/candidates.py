"""Which cells to blank: cells the fitted scale under-predicts most, and rounds of blanking them.

The CA with K kept dimensions reconstitutes the table it was fitted to. In principal
coordinates (F rows, G columns, principal inertias lambda_k, see camsis.method.ca) the fitted
count of cell (i, j) is

    E_ij = n r_i c_j (1 + sum_k F_ik G_jk / sqrt(lambda_k))

with n the pairs the CA saw and r, c its row and column masses. A unit merged into a CA
row (or column) for sparseness takes that row's coordinates and keeps its own mass, so
the fitted counts of the units of a merged row add up to the merged row's. A cell whose
count exceeds E_ij far more than chance allows carries association the scale does not
describe, as shared workplaces and family businesses do: the Pearson residual
(O_ij - E_ij) / sqrt(E_ij) ranks the candidates for the pseudo-diagonal file.

With the RC estimator (camsis.method.rc) E_ij is the RC model's fitted count of the merged cell,
shared among the unit cells in it in proportion to the units' own non-blanked pairs
(the same "keeps its own mass" rule, so again a merged row's cells add up to its fit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from camsis.io.writing import atomic_path
from camsis.method.blanking import PSD_COLUMNS
from camsis.scaling.scale import CAFit, ScaleOptions, UnitScores, build_unit_scores
from camsis.scaling.summary import RoundsSummary

log = logging.getLogger("camsis.scaling.candidates")

CANDIDATE_COLUMNS = PSD_COLUMNS + ["residual", "observed", "expected", "title_1", "title_2"]
# Cells fitted below one couple are not ranked: a K-dimensional reconstitution of a large
# sparse table goes near zero or negative where it breaks down (large rows against large
# columns it cannot place), and dividing by sqrt(E) there ranks the breakdown, not the cell.
MIN_EXPECTED = 1.0
# Candidates listed by default (config key psd_top) and pairs a ranked cell needs (psd_min_count).
TOP = 50
MIN_COUNT = 5


def expected_counts(fit: CAFit) -> pd.DataFrame:
    """E_ij of every unit cell (NaN for units the CA did not score), indexed like ``fit.kept``."""
    if fit.rc is not None:
        return _rc_expected_counts(fit)
    kept = fit.kept
    n = float(kept.to_numpy().sum())
    r = kept.sum(axis=1) / n
    c = kept.sum(axis=0) / n
    rows = fit.ca.row_scores.reindex(fit.row_map.reindex(kept.index).to_numpy())
    cols = fit.ca.column_scores.reindex(fit.column_map.reindex(kept.columns).to_numpy())
    eigenvalues = np.asarray(fit.ca.eigenvalues, dtype=float)[: rows.shape[1]]
    live = eigenvalues > 0  # a dimension without inertia adds nothing to the fit
    interaction = (rows.to_numpy()[:, live] / np.sqrt(eigenvalues[live])) @ cols.to_numpy()[:, live].T
    fitted = n * np.outer(r.to_numpy(), c.to_numpy()) * (1.0 + interaction)
    return pd.DataFrame(fitted, index=kept.index, columns=kept.columns)


def _rc_expected_counts(fit: CAFit) -> pd.DataFrame:
    """The RC model's fitted count of each unit cell's merged cell, split by the units' own margins."""
    kept = fit.kept
    row_target = fit.row_map.reindex(kept.index)
    col_target = fit.column_map.reindex(kept.columns)
    merged_fit = fit.rc.fitted.reindex(index=row_target.to_numpy(), columns=col_target.to_numpy()).to_numpy()
    row_mass, col_mass = kept.sum(axis=1), kept.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_share = (row_mass / row_mass.groupby(row_target).transform("sum")).to_numpy()
        col_share = (col_mass / col_mass.groupby(col_target).transform("sum")).to_numpy()
    fitted = merged_fit * row_share[:, None] * col_share[None, :]
    return pd.DataFrame(fitted, index=kept.index, columns=kept.columns)


def psd_candidates(
    table,
    ca_blank: pd.DataFrame,
    unit_scores: UnitScores,
    classification,
    top: int | None = TOP,
    min_count: float = MIN_COUNT,
) -> pd.DataFrame:
    """Non-blanked cells ranked by Pearson residual, strongest first, in the pseudo-diagonal format.

    Only cells with at least ``min_count`` pairs (unweighted couples) and a positive residual
    are listed: a cell of one or two couples where the scale expects a fraction of one has a
    large residual by chance alone. Columns: ``lower_1 upper_1 lower_2 upper_2`` (a single
    cell: lower == upper), ``residual``, ``observed`` (weighted pairs), ``expected`` (E_ij,
    see the module docstring; cells with E_ij below MIN_EXPECTED are not ranked),
    ``title_1``, ``title_2``. ``top`` None lists them all. ``table`` is the PairTable the
    scale was built from (its cells outside the CA, e.g. dropped blocks, are not listed).
    """
    return select_candidates(rank_cells(table, ca_blank, unit_scores, classification), top, min_count)


def select_candidates(ranked: pd.DataFrame, top: int | None = TOP, min_count: float = MIN_COUNT) -> pd.DataFrame:
    """The candidates of a ranking (``rank_cells``): cells with at least ``min_count`` pairs, the first ``top``.

    Kept apart from the ranking so that a workflow can rank once per fit and choose
    ``psd_top`` and ``psd_min_count`` afterwards without refitting.
    """
    chosen = ranked[ranked["pairs"] >= min_count]
    if top is not None:
        chosen = chosen.head(top)
    return chosen[CANDIDATE_COLUMNS].reset_index(drop=True)


def rank_cells(table, ca_blank: pd.DataFrame, unit_scores: UnitScores, classification) -> pd.DataFrame:
    """Every non-blanked cell with a positive residual, strongest first: ``CANDIDATE_COLUMNS`` and ``pairs``.

    ``pairs`` is the cell's unweighted couples, which ``select_candidates`` compares with
    ``min_count``. Cells whose fitted count is below MIN_EXPECTED are not ranked.
    """
    fit = unit_scores.fit
    expected = expected_counts(fit)
    observed = fit.kept.to_numpy(dtype=float)
    fitted = expected.to_numpy()
    pairs = table.counts.reindex_like(fit.kept).to_numpy()
    eligible = ~ca_blank.reindex_like(fit.kept).to_numpy(bool) & (observed > 0)
    unfitted = eligible & ~(fitted >= MIN_EXPECTED)
    if unfitted.any():
        log.info("%d observed cell(s) have a fitted count below %g and are not ranked", int(unfitted.sum()), MIN_EXPECTED)
    eligible &= ~unfitted
    with np.errstate(invalid="ignore", divide="ignore"):
        residual = np.where(eligible, (observed - fitted) / np.sqrt(np.where(eligible, fitted, 1.0)), np.nan)
    i, j = np.nonzero(eligible & (np.nan_to_num(residual) > 0))
    order = np.lexsort((j, i, -residual[i, j]))
    i, j = i[order], j[order]
    row_codes = fit.kept.index.to_numpy()[i]
    col_codes = fit.kept.columns.to_numpy()[j]
    titles = classification.frame["title"]
    return pd.DataFrame(
        {
            "lower_1": row_codes.astype(np.int64),
            "upper_1": row_codes.astype(np.int64),
            "lower_2": col_codes.astype(np.int64),
            "upper_2": col_codes.astype(np.int64),
            "residual": residual[i, j],
            "observed": observed[i, j],
            "expected": fitted[i, j],
            "title_1": titles.reindex(row_codes).to_numpy(),
            "title_2": titles.reindex(col_codes).to_numpy(),
            "pairs": pairs[i, j],
        },
        columns=CANDIDATE_COLUMNS + ["pairs"],
    )


def write_candidates(candidates: pd.DataFrame, path) -> None:
    """Tab-separated, header first, so the first four columns paste into a pseudo-diagonal file."""
    with atomic_path(path) as temporary:
        candidates.to_csv(temporary, sep="\t", index=False, float_format="%.4f")


def read_candidates(path) -> pd.DataFrame:
    """Read what ``write_candidates`` wrote (codes as integers)."""
    frame = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
    for column in PSD_COLUMNS:
        frame[column] = frame[column].astype(np.int64)
    return frame


@dataclass
class PsdRounds:
    """The outcome of blanking candidates in rounds.

    Attributes
    ----------
    ca_blank, smooth_blank : DataFrame
        The masks after the last round (cells blanked in a round are added to both: the scale
        should not describe them in the CA or the smoothing).
    rounds : DataFrame
        The cells each round blanked: column ``round`` then the candidate columns.
    unit_scores : UnitScores
        The build on the final masks.
    candidates : DataFrame
        The candidates of that final build (what is left to consider).
    """

    ca_blank: pd.DataFrame
    smooth_blank: pd.DataFrame
    rounds: pd.DataFrame
    unit_scores: UnitScores
    candidates: pd.DataFrame


def blank_in_rounds(
    table,
    ca_blank: pd.DataFrame,
    smooth_blank: pd.DataFrame,
    classification,
    options: ScaleOptions,
    rounds: int = 0,
    threshold: float = 4.0,
    top: int | None = TOP,
    min_count: float = MIN_COUNT,
) -> PsdRounds:
    """Fit, blank every candidate above ``threshold``, refit; ``rounds`` times or until none is left.

    With ``rounds`` 0 this is one build and its candidates. The candidates returned are
    always those of the final build, so they describe the scale that is published.
    """
    done = []
    built = build_unit_scores(table, ca_blank, smooth_blank, classification, options)
    for number in range(1, rounds + 1):
        above = psd_candidates(table, ca_blank, built, classification, top=None, min_count=min_count)
        above = above[above["residual"] > threshold]
        log.info("psd round %d: %d cell(s) with a residual above %g", number, len(above), threshold)
        if above.empty:
            break
        done.append(above.assign(round=number))
        cells = _mask_of(above, ca_blank)
        ca_blank = ca_blank | cells
        smooth_blank = smooth_blank | cells
        built = build_unit_scores(table, ca_blank, smooth_blank, classification, options)
    candidates = psd_candidates(table, ca_blank, built, classification, top=top, min_count=min_count)
    blanked = pd.concat(done, ignore_index=True) if done else pd.DataFrame(columns=CANDIDATE_COLUMNS + ["round"])
    blanked = blanked[["round"] + CANDIDATE_COLUMNS]
    return PsdRounds(ca_blank, smooth_blank, blanked, built, candidates)


def _mask_of(cells: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    mask = pd.DataFrame(False, index=like.index, columns=like.columns)
    rows = like.index.get_indexer(cells["lower_1"])
    cols = like.columns.get_indexer(cells["lower_2"])
    values = mask.to_numpy(copy=True)
    values[rows, cols] = True
    return pd.DataFrame(values, index=like.index, columns=like.columns)


def summarise_rounds(result: PsdRounds, rounds: int, threshold: float) -> RoundsSummary:
    """What summary.json reports: cells blanked per round and their pairs."""
    per_round = []
    for number in range(1, rounds + 1):
        cells = result.rounds[result.rounds["round"] == number]
        per_round.append(
            {
                "round": number,
                "cells": int(len(cells)),
                "pairs_weighted": float(cells["observed"].sum()),
                "cells_blanked": [f"{a}-{b}" for a, b in zip(cells["lower_1"], cells["lower_2"])],
            }
        )
    return RoundsSummary(
        rounds=rounds,
        threshold=threshold,
        cells_blanked=int(len(result.rounds)),
        per_round=per_round,
        candidates_left_above_threshold=int((result.candidates["residual"] > threshold).sum()),
    )

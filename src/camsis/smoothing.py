"""Stage 6: shrink each unit's CA score toward the mean by its random-effects residual.

For one side (say husbands), every non-blanked pair carries the CA score of the
partner's unit; a random-intercept model of that score with the unit as the group gives
each unit the fixed intercept plus its empirical Bayes effect. Cells of the table are
frequency weights, so the model is fitted from per-unit sums, never from rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.esres import GroupSums, fit_from_sums


@dataclass
class SmoothedSide:
    """Smoothed scores of one side's units.

    Attributes
    ----------
    scores : DataFrame
        Indexed by unit (only units with at least one usable pair): ``n`` (pairs
        behind the score), ``n_weighted``, ``n_model`` (the unit's frequency weight in the
        model: ``n_weighted`` rescaled as ``smooth_side`` says), ``eps`` (weighted mean of the
        partners' scores), ``esres`` (smoothed score), ``esres_se`` (posterior SD), ``lambda``
        (shrinkage).
    summary : dict
        The variance components and fit of the model (see ``camsis.esres``), plus
        ``pairs_without_partner_score``: non-blanked pairs left out because the partner's unit
        has no CA score.
    """

    scores: pd.DataFrame
    summary: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SideCells:
    """One side's cells the smoothing may use: the non-blanked cells with pairs, as arrays.

    Rows are the side's units, columns their partners. Both dimensions of a side are
    smoothed on the same cells with other partner scores, and on a by-status table (1,236
    units square, one cell in twenty with pairs) every dense pass over the table cost a
    bootstrap replicate more than the model fit, so the cells are picked out once.

    Attributes
    ----------
    units, partners : Index
        Row and column labels of the table.
    row, column : ndarray
        Positions of each cell in ``units`` and ``partners``.
    weighted, counts : ndarray
        The cell's weighted pairs and pairs.
    """

    units: pd.Index
    partners: pd.Index
    row: np.ndarray
    column: np.ndarray
    weighted: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_frames(cls, weighted: pd.DataFrame, counts: pd.DataFrame, blanked: pd.DataFrame, cells=None) -> SideCells:
        """The cells of ``weighted``/``counts`` (rows: the side scored) that ``blanked`` leaves and that hold pairs.

        ``cells`` (``camsis.tables.Cells``, e.g. ``PairTable.cells()``) names the only cells
        that may hold pairs, so the table is not searched for them.
        """
        # Values gathered at the cells before any conversion: a float copy of the whole int64
        # count table cost a by-status replicate more than the gathering.
        w, c, blank = weighted.to_numpy(), counts.to_numpy(), blanked.to_numpy(bool)
        if cells is None:
            row, column = np.nonzero(((w != 0) | (c != 0)) & ~blank)
            w_at, c_at = w[row, column], c[row, column]
        else:
            w_at, c_at = cells.of(w), cells.of(c)
            keep = ((w_at != 0) | (c_at != 0)) & ~cells.of(blank)
            row, column, w_at, c_at = cells.rows[keep], cells.columns[keep], w_at[keep], c_at[keep]
        return cls(weighted.index, weighted.columns, row, column, w_at.astype(float), c_at.astype(float))

    def transposed(self) -> SideCells:
        """The other side's cells: the same cells, partners as rows."""
        return SideCells(self.partners, self.units, self.column, self.row, self.weighted, self.counts)

    def smooth(self, partner_scores: pd.Series, reml: bool = True) -> SmoothedSide:
        """Smooth the row units on the partners' scores (``partner_scores``, indexed by partner unit).

        Weights are rescaled to sum to the number of pairs used, so survey weights act as
        relative frequencies: multiplying them all by a constant changes nothing.
        """
        partner = partner_scores.reindex(self.partners).to_numpy(float)
        scored = np.isfinite(partner)[self.column]
        unscored_pairs = float(self.counts[~scored].sum())
        w = np.where(scored, self.weighted, 0.0)
        c = np.where(scored, self.counts, 0.0)
        positive = w > 0
        if not positive.any():
            raise CamsisError(f"no pair is left to smooth the {self.units.name or 'row'} units: every pair is "
                              f"blanked for the smoothing or has a partner unit without a CA score")
        frequency = np.where(positive, w, 0.0) * (c.sum() / w.sum())
        y = np.where(scored, partner[self.column], 0.0)
        sums = GroupSums.from_cells(self.units.to_numpy(), self.row, y, frequency)
        fit = fit_from_sums(sums, reml=reml)
        # Framed from arrays in one go (a join of two frames cost a bootstrap replicate ~25 ms).
        rows = self.units.get_indexer(sums.groups)
        size = len(self.units)
        fitted = fit.scores
        scores = pd.DataFrame(
            {"n": np.bincount(self.row, weights=c, minlength=size)[rows],
             "n_weighted": np.bincount(self.row, weights=w, minlength=size)[rows],
             "n_model": fitted["n"].to_numpy()}
            | {column: fitted[column].to_numpy() for column in ("eps", "esres", "esres_se", "lambda")},
            index=pd.Index(sums.groups.to_numpy(), name=self.units.name),
        )
        summary = dict(fit.summary, pairs_without_partner_score=unscored_pairs)
        return SmoothedSide(scores=scores, summary=summary)


def smooth_side(
    weighted: pd.DataFrame,
    counts: pd.DataFrame,
    blanked: pd.DataFrame,
    partner_scores: pd.Series,
    reml: bool = True,
) -> SmoothedSide:
    """Smooth the row units of ``weighted`` (rows: the side scored; columns: partners).

    One call of ``SideCells.smooth``; a build smoothing two dimensions of a side picks the
    cells out once (``SideCells.from_frames``) and smooths both on them.
    """
    return SideCells.from_frames(weighted, counts, blanked).smooth(partner_scores, reml=reml)

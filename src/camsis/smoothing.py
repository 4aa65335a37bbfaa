"""Stage 6: shrink each unit's CA score toward the mean by its random-effects residual.

For one side (say husbands), every non-blanked pair carries the CA score of the
partner's unit; a random-intercept model of that score with the unit as the group gives
each unit the fixed intercept plus its empirical Bayes effect. Cells of the table are
frequency weights, so the model is fitted from per-unit sums, never from rows.

Survey weights enter with their design effect: each unit's pairs weigh in the model as
many as the Kish effective sample size of its weights, (sum w)^2 / sum w^2, shared over
its cells in proportion to their weight. A unit's weighted mean of its partners' scores
has the variance of a mean of that many pairs, so its shrinkage and posterior SD are those
of the information its sample holds (docs/weights.md says why per unit, not overall).
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
        model: its Kish effective sample size, see ``SideCells.smooth``), ``eps`` (weighted mean of the
        partners' scores), ``esres`` (smoothed score), ``esres_se`` (posterior SD), ``lambda``
        (shrinkage).
    summary : dict
        The variance components and fit of the model (see ``camsis.esres``; its ``n`` is the
        units' effective sample sizes summed), plus ``pairs_without_partner_score``:
        non-blanked pairs left out because the partner's unit has no CA score, and
        ``design_effect``: the pairs smoothed over their effective sample size (1 when
        unweighted or frequency-weighted; see ``SideCells.model_weights``).
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
    squares : ndarray
        The cell's sum of squared weights (``PairTable.weights_squared``; its pairs when each
        counts as one; 0 in a cell without pairs).
    """

    units: pd.Index
    partners: pd.Index
    row: np.ndarray
    column: np.ndarray
    weighted: np.ndarray
    counts: np.ndarray
    squares: np.ndarray

    @classmethod
    def from_frames(cls, weighted: pd.DataFrame, counts: pd.DataFrame, blanked: pd.DataFrame, cells=None,
                    squares: pd.DataFrame | None = None) -> SideCells:
        """The cells of ``weighted``/``counts`` (rows: the side scored) that ``blanked`` leaves and that hold pairs.

        ``cells`` (``camsis.tables.Cells``, e.g. ``PairTable.cells()``) names the only cells
        that may hold pairs, so the table is not searched for them. ``squares`` are the
        cells' sums of squared weights (``PairTable.weights_squared``); None takes every pair
        of a cell to carry the cell's mean weight (so unweighted or frequency-weighted pairs
        count as one each). A cell without pairs (a reconstituted table's fill) has none.
        """
        # Values gathered at the cells before any conversion: a float copy of the whole int64
        # count table cost a by-status replicate more than the gathering.
        w, c, blank = weighted.to_numpy(), counts.to_numpy(), blanked.to_numpy(bool)
        q = None if squares is None else squares.to_numpy()
        if cells is None:
            row, column = np.nonzero(((w != 0) | (c != 0)) & ~blank)
            pick = lambda values: values[row, column]  # noqa: E731
        else:
            keep = ((cells.of(w) != 0) | (cells.of(c) != 0)) & ~cells.of(blank)
            row, column = cells.rows[keep], cells.columns[keep]
            pick = lambda values: cells.of(values)[keep]  # noqa: E731
        w_at, c_at = pick(w).astype(float), pick(c).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            q_at = np.where(c_at > 0, w_at * w_at / c_at if q is None else pick(q).astype(float), 0.0)
        return cls(weighted.index, weighted.columns, row, column, w_at, c_at, q_at)

    def transposed(self) -> SideCells:
        """The other side's cells: the same cells, partners as rows."""
        return SideCells(self.partners, self.units, self.column, self.row, self.weighted, self.counts, self.squares)

    def model_weights(self, w: np.ndarray, c: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Each cell's frequency weight in the model: its share of its unit's Kish effective sample size.

        A unit j whose pairs weigh W_j in all, with squared weights summing to Q_j, holds the
        information of n_j = W_j^2 / Q_j equally weighted pairs (its weighted mean has the
        variance of a mean of n_j), and its cells share n_j in proportion to their weight,
        so its mean is still the weighted one. Equal weights give n_j = its pairs; multiplying
        a unit's weights by a constant changes nothing. Frequency weights count couples of
        weight 1 (``q`` = ``c``), so they keep their meaning. Cells of weight without pairs
        (a reconstituted table's fill) share their unit's n_j but add no information to it.
        A unit whose squared weights underflow to 0 counts its pairs.
        """
        weighted = np.bincount(self.row, weights=w, minlength=len(self.units))
        observed = np.bincount(self.row, weights=np.where(c > 0, w, 0.0), minlength=len(self.units))
        squares = np.bincount(self.row, weights=q, minlength=len(self.units))
        pairs = np.bincount(self.row, weights=c, minlength=len(self.units))
        with np.errstate(divide="ignore", invalid="ignore"):
            effective = np.where(squares > 0, observed * (observed / squares), pairs)
            per_weight = np.where(weighted > 0, effective / weighted, 0.0)
        return w * per_weight[self.row]

    def smooth(self, partner_scores: pd.Series, reml: bool = True) -> SmoothedSide:
        """Smooth the row units on the partners' scores (``partner_scores``, indexed by partner unit).

        Each unit weighs its Kish effective sample size (``model_weights``): survey weights
        act within a unit as relative frequencies, and their spread costs the unit
        information as its design effect says.
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
        w, pairs = np.where(positive, w, 0.0), np.where(positive, c, 0.0)
        frequency = self.model_weights(w, pairs, np.where(positive, self.squares, 0.0))
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
        summary = dict(fit.summary, pairs_without_partner_score=unscored_pairs,
                       design_effect=float(pairs.sum() / frequency.sum()))
        return SmoothedSide(scores=scores, summary=summary)


def smooth_side(
    weighted: pd.DataFrame,
    counts: pd.DataFrame,
    blanked: pd.DataFrame,
    partner_scores: pd.Series,
    reml: bool = True,
    squares: pd.DataFrame | None = None,
) -> SmoothedSide:
    """Smooth the row units of ``weighted`` (rows: the side scored; columns: partners).

    One call of ``SideCells.smooth``; a build smoothing two dimensions of a side picks the
    cells out once (``SideCells.from_frames``) and smooths both on them. ``squares``: the
    cells' sums of squared survey weights (``PairTable.weights_squared``); None: as ``SideCells.from_frames``.
    """
    return SideCells.from_frames(weighted, counts, blanked, squares=squares).smooth(partner_scores, reml=reml)

"""Stage 6: shrink each unit's CA score by its random-effects residual.

For one side (say husbands), every non-blanked pair carries the CA score of the
partner's unit. Two models of that score are offered (``ScaleOptions.smoothing``):

* ``nested`` (the default): units within the classification's groups (``UnitHierarchy``:
  random effects of the units and of one or more group levels above them, coarser levels
  as fixed effects), so a small unit is shrunk toward its group, not toward one mean;
* ``one_level``: one random intercept per unit, each unit shrunk toward the grand mean.

Cells of the table are frequency weights, so either model is fitted from per-unit sums,
never from rows. See docs/smoothing.md.

Survey weights enter with their design effect: each unit's pairs weigh in the model as
many as the Kish effective sample size of its weights, (sum w)^2 / sum w^2, shared over
its cells in proportion to their weight. A unit's weighted mean of its partners' scores
has the variance of a mean of that many pairs, so its shrinkage and posterior SD are those
of the information its sample holds (docs/weights.md says why per unit, not overall).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.method.esres import GroupSums, NestedSums, fit_from_sums, fit_nested

log = logging.getLogger("camsis.method.smoothing")

SMOOTHING_METHODS = ("nested", "one_level")
DEFAULT_LEVELS = {"random": [1], "fixed": "top"}


@dataclass(frozen=True)
class UnitHierarchy:
    """The groups the nested smoothing puts every unit of a classification in.

    Attributes
    ----------
    units : ndarray
        The classification's units (sorted).
    random : list of ndarray
        Per random level above the units, finest first, each unit's group code.
    random_names : list of str
        Their names (``level{n}``: the classification's level number).
    fixed : ndarray or None
        Each unit's group code at the fixed-effect level, or None.
    fixed_name : str
    """

    units: np.ndarray
    random: list
    random_names: list
    fixed: np.ndarray | None
    fixed_name: str = ""

    @classmethod
    def of(cls, classification, levels: dict | None = None) -> UnitHierarchy | None:
        """The groups of ``levels`` (``{"random": [1], "fixed": "top"}``): levels counted up from
        the units (1: the units' own groups, e.g. SOC2020 minor groups), ``fixed`` a level
        number, ``top`` (the coarsest level, when it is above every random level) or None.

        A classification without groups (units only) has nothing to nest in: None, and the
        smoothing is the one-level model.
        """
        levels = DEFAULT_LEVELS if levels is None else levels
        unknown = set(levels) - {"random", "fixed"}
        if unknown:
            raise CamsisError(f"smoothing_levels has unknown key(s) {', '.join(sorted(unknown))}: use random and fixed")
        ordered = classification.levels  # coarsest (1) first; the units' level last
        above = len(ordered) - 1
        if above == 0:
            log.info("classification %s has no groups above its units: the smoothing is the one-level model",
                     classification.name)
            return None
        random = sorted({int(k) for k in levels.get("random") or []})
        bad = [k for k in random if not 1 <= k <= above]
        if bad:
            raise CamsisError(f"smoothing_levels random {bad} is not a level above the units of classification "
                              f"{classification.name} (1 to {above}, counted up from the units)")
        fixed = levels.get("fixed")
        if fixed == "top":
            fixed = above if above > (random[-1] if random else 0) else None
        elif fixed is not None:
            fixed = int(fixed)
            if not (random[-1] if random else 0) < fixed <= above:
                raise CamsisError(f"smoothing_levels fixed {fixed} must be a level above the random ones "
                                  f"({random}) and at most {above} for classification {classification.name}")

        def codes(k):
            return classification.unit_parents(ordered[-1 - k]).to_numpy(dtype=np.int64)

        return cls(np.asarray(classification.units), [codes(k) for k in random],
                   [f"level{ordered[-1 - k]}" for k in random],
                   None if fixed is None else codes(fixed), "" if fixed is None else f"level{ordered[-1 - fixed]}")


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

        ``cells`` (``camsis.method.pairtable.Cells``, e.g. ``PairTable.cells()``) names the only cells
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
            w_at, c_at = w[row, column], c[row, column]
            q_at = None if q is None else q[row, column]
        else:
            w_at, c_at = cells.of(w), cells.of(c)
            keep = ((w_at != 0) | (c_at != 0)) & ~cells.of(blank)
            row, column, w_at, c_at = cells.rows[keep], cells.columns[keep], w_at[keep], c_at[keep]
            q_at = None if q is None else cells.of(q)[keep]
        w_at, c_at = w_at.astype(float), c_at.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            q_at = np.where(c_at > 0, w_at * w_at / c_at if q_at is None else q_at, 0.0)
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

    def smooth(self, partner_scores: pd.Series, reml: bool = True, hierarchy: UnitHierarchy | None = None) -> SmoothedSide:
        """Smooth the row units on the partners' scores (``partner_scores``, indexed by partner unit).

        Each unit weighs its Kish effective sample size (``model_weights``): survey weights
        act within a unit as relative frequencies, and their spread costs the unit
        information as its design effect says.
        Without ``hierarchy`` the model is the one-level one; with it, the nested one, and
        units of the hierarchy without pairs take their group's posterior (``imputed``: the
        group's code).
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
        if hierarchy is None:
            fit = fit_from_sums(sums, reml=reml)
            fitted, summary, extra = fit.scores, fit.summary, None
        else:
            fitted, summary, extra = _nested_smoothing(sums, hierarchy, reml)
        # Framed from arrays in one go (a join of two frames cost a bootstrap replicate ~25 ms).
        rows = self.units.get_indexer(sums.groups)
        size = len(self.units)
        scores = pd.DataFrame(
            {"n": np.bincount(self.row, weights=c, minlength=size)[rows],
             "n_weighted": np.bincount(self.row, weights=w, minlength=size)[rows],
             "n_model": fitted["n"].to_numpy()}
            | {column: fitted[column].to_numpy() for column in ("eps", "esres", "esres_se", "lambda")},
            index=pd.Index(sums.groups.to_numpy(), name=self.units.name),
        )
        if extra is not None:
            scores["imputed"] = 0
            scores = pd.concat([scores, extra.rename_axis(self.units.name)])
        summary = dict(summary, pairs_without_partner_score=unscored_pairs,
                       design_effect=float(pairs.sum() / frequency.sum()))
        return SmoothedSide(scores=scores, summary=summary)


def _nested_smoothing(sums: GroupSums, hierarchy: UnitHierarchy, reml: bool):
    """The nested fit of the units of ``sums`` (those with pairs) and the posteriors of the
    hierarchy's units without pairs: their lowest group with data's, plus the prior variance
    of the effects below it (their own and any empty group's), and the fixed part of their
    fixed-effect group (a unit with no random group with data: that part and every effect's
    prior, flagged with the fixed group's code; none where the fixed group has no unit with
    pairs: left to the filling)."""
    sums.groups = sums.groups.rename("unit")
    at = np.searchsorted(hierarchy.units, sums.groups.to_numpy())
    if not (at < len(hierarchy.units)).all() or not (hierarchy.units[np.minimum(at, len(hierarchy.units) - 1)]
                                                       == sums.groups.to_numpy()).all():
        raise CamsisError("the smoothing's units are not units of the classification")
    if hierarchy.fixed is not None:
        sums = sums.with_fixed_groups(hierarchy.fixed[at], hierarchy.fixed_name)
    nested = NestedSums.from_units(sums, [pd.Series(codes[at], name=name)
                                          for codes, name in zip(hierarchy.random, hierarchy.random_names)])
    fit = fit_nested(nested, reml=reml)
    coef = fit.coef
    # The fixed part of every unit of the hierarchy: its fixed group's (the first group is the
    # reference); NaN for a group without units with pairs.
    if hierarchy.fixed is None:
        fixed_part = np.full(len(hierarchy.units), coef[0])
    else:
        groups = np.unique(hierarchy.fixed[at])  # the order of with_fixed_groups' dummies
        position = np.minimum(np.searchsorted(groups, hierarchy.fixed), len(groups) - 1)
        effect = np.concatenate([[0.0], coef[1:]])
        fixed_part = np.where(groups[position] == hierarchy.fixed, coef[0] + effect[position], np.nan)
    scored = fit.scores.copy()
    scored["esres"] = fixed_part[at] + (scored["esres"].to_numpy() - coef[0])
    # Units without pairs: the lowest group level with data.
    empty = np.setdiff1d(np.arange(len(hierarchy.units)), at)
    mean = np.full(len(empty), np.nan)
    var = np.zeros(len(empty))
    source = np.zeros(len(empty), dtype=np.int64)
    s2 = fit.sigma_e ** 2
    prior = fit.ratios[0] * s2  # the unit's own effect
    for level, (codes, groups) in enumerate(zip(hierarchy.random, fit.groups), start=1):
        open_ = np.isnan(mean)
        position = pd.Index(groups["group"].to_numpy()).get_indexer(codes[empty])
        take = open_ & (position >= 0)
        mean[take] = groups["path"].to_numpy()[position[take]]
        var[take] = groups["path_se"].to_numpy()[position[take]] ** 2 + prior
        source[take] = codes[empty][take]
        prior = prior + fit.ratios[level] * s2
    if hierarchy.fixed is not None:  # no random group with data: the fixed group's part, all effects' prior
        rest = np.isnan(mean)
        mean[rest], var[rest], source[rest] = 0.0, prior, hierarchy.fixed[empty][rest]
    extra = pd.DataFrame({"n": 0.0, "n_weighted": 0.0, "n_model": 0.0, "eps": np.nan,
                          "esres": fixed_part[empty] + mean, "esres_se": np.sqrt(var), "lambda": 0.0,
                          "imputed": source}, index=pd.Index(hierarchy.units[empty]))
    extra = extra[np.isfinite(extra["esres"].to_numpy())]
    return scored, fit.summary, extra


def smooth_side(
    weighted: pd.DataFrame,
    counts: pd.DataFrame,
    blanked: pd.DataFrame,
    partner_scores: pd.Series,
    reml: bool = True,
    squares: pd.DataFrame | None = None,
    hierarchy: UnitHierarchy | None = None,
) -> SmoothedSide:
    """Smooth the row units of ``weighted`` (rows: the side scored; columns: partners).

    One call of ``SideCells.smooth``; a build smoothing two dimensions of a side picks the
    cells out once (``SideCells.from_frames``) and smooths both on them. ``squares``: the
    cells' sums of squared survey weights (``PairTable.weights_squared``); None: as ``SideCells.from_frames``.
    """
    return SideCells.from_frames(weighted, counts, blanked, squares=squares).smooth(partner_scores, reml=reml,
                                                                                   hierarchy=hierarchy)

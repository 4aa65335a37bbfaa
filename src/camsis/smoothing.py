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


def smooth_side(
    weighted: pd.DataFrame,
    counts: pd.DataFrame,
    blanked: pd.DataFrame,
    partner_scores: pd.Series,
    reml: bool = True,
) -> SmoothedSide:
    """Smooth the row units of ``weighted`` (rows: the side scored; columns: partners).

    Weights are rescaled to sum to the number of pairs used, so survey weights act as
    relative frequencies: multiplying them all by a constant changes nothing.
    """
    partner = partner_scores.reindex(weighted.columns).to_numpy(float)
    scored = np.isfinite(partner)
    blank, weighted_values, count_values = blanked.to_numpy(bool), weighted.to_numpy(float), counts.to_numpy()
    # Partners without a score are set apart before blanking, so the blanking passes cover only
    # the columns used (each pass is a table's worth on a by-status table of 1,236 units square).
    unscored = ~scored
    unscored_pairs = float(np.where(blank[:, unscored], 0.0, count_values[:, unscored].astype(float)).sum())
    blank = blank[:, scored]
    w = np.where(blank, 0.0, weighted_values[:, scored])
    c = np.where(blank, 0.0, count_values[:, scored].astype(float))
    positive = w > 0
    if not positive.any():
        raise CamsisError(f"no pair is left to smooth the {weighted.index.name or 'row'} units: every pair is "
                          f"blanked for the smoothing or has a partner unit without a CA score")
    frequency = np.where(positive, w, 0.0) * (c.sum() / w.sum())
    sums = GroupSums.from_table(weighted.index.to_numpy(), partner[scored], frequency)
    fit = fit_from_sums(sums, reml=reml)
    # Framed from arrays in one go (a join of two frames cost a bootstrap replicate ~25 ms).
    rows = weighted.index.get_indexer(sums.groups)
    fitted = fit.scores
    scores = pd.DataFrame(
        {"n": c.sum(axis=1)[rows], "n_weighted": w.sum(axis=1)[rows], "n_model": fitted["n"].to_numpy()}
        | {column: fitted[column].to_numpy() for column in ("eps", "esres", "esres_se", "lambda")},
        index=pd.Index(sums.groups.to_numpy(), name=weighted.index.name),
    )
    summary = dict(fit.summary, pairs_without_partner_score=unscored_pairs)
    return SmoothedSide(scores=scores, summary=summary)

"""Blanked cells as missing, not zero: reconstitution of order k (stage 5, ``blanked_cells: reconstitute``).

The published method counts a blanked cell as zero in the CA. On a large table with a
few hundred units that hardly matters, but on a small one (a 5 x 5 mobility table) the
zeroed diagonal *is* the strongest structure left: the first CA dimension then describes
"not the same category" and its row and column scores point opposite ways.

Treating blanked cells as missing instead (van der Heijden and de Leeuw 1985; de Leeuw and
van der Heijden 1988, "Correspondence analysis of incomplete contingency tables",
Psychometrika 53) fills them with what the CA model of the kept dimensions predicts, and
repeats until the filled values stop changing:

    X_ij (blanked) <- n r_i c_j (1 + sum_{d <= k} F_id G_jd / sqrt(lambda_d))

with n, r, c, F, G, lambda the total, masses, principal coordinates and principal inertias
of the CA of the current filled table X (camsis.method.ca's normalisation). Order 0 is the
independence model of the filled table's margins, and its fixed point is the maximum
likelihood fit of *quasi-independence* (independence on the non-blanked cells): the filled
cells then carry no association at all, and the CA of the filled table describes only the
association among the cells that were kept. Order k > 0 also lets the filled cells follow
the first k dimensions.

Cells of a row or column with no kept pairs stay zero (nothing predicts them). A filled
value of an order k > 0 model can come out negative where the model breaks down; it is
set to zero, as a count cannot be negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TOLERANCE = 1e-10
MAX_ITERATIONS = 20000


@dataclass(frozen=True)
class Reconstitution:
    """A table with its blanked cells filled, and how the filling went.

    Attributes
    ----------
    table : DataFrame
        The filled table (kept cells as given, blanked cells imputed).
    order : int
        Dimensions of the CA model the blanked cells were filled from (0: independence).
    iterations : int
        Passes made.
    converged : bool
        Whether the largest change of a filled cell fell below ``tolerance`` x n.
    change : float
        The largest change of a filled cell in the last pass, as a share of n.
    filled : int
        Number of blanked cells that received a value (those in rows and columns with kept
        pairs).
    pairs_filled : float
        What the filled cells hold together (in the table's units: weighted pairs).
    """

    table: pd.DataFrame
    order: int
    iterations: int
    converged: bool
    change: float
    filled: int
    pairs_filled: float

    @property
    def warning(self) -> str | None:
        """What a user must hear when the filling did not settle, or None."""
        if self.converged:
            return None
        return (f"the reconstitution of blanked cells (order {self.order}) did not converge in {self.iterations} "
                f"passes (last change {self.change:.3g} of the pairs): the CA is of a table still moving; "
                "a lower reconstitution_order (0 converges on any connected table) or fewer blanked cells may help")

    def as_dict(self) -> dict:
        """summary.json's ``reconstitution``: how the filling went, not the filled table."""
        return {
            "order": self.order,
            "iterations": self.iterations,
            "converged": self.converged,
            "last_change": self.change,
            "cells_filled": self.filled,
            "pairs_filled": self.pairs_filled,
        }


def model_fit(values: np.ndarray, order: int) -> np.ndarray:
    """The order-``order`` CA reconstitution of a table of non-negative values (zero rows stay zero).

    n r_i c_j (1 + sum_{d <= order} F_id G_jd / sqrt(lambda_d)), which is
    n (r_i c_j + sqrt(r_i c_j) sum_d U_id s_d V_jd) with S = D_r^-1/2 (P - r c') D_c^-1/2 = U diag(s) V'.
    """
    n = values.sum()
    r, c = values.sum(axis=1) / n, values.sum(axis=0) / n
    fitted = n * np.outer(r, c)
    if order <= 0:
        return fitted
    rows, cols = np.flatnonzero(r > 0), np.flatnonzero(c > 0)
    rr, cc = r[rows], c[cols]
    P = values[np.ix_(rows, cols)] / n
    S = (P - np.outer(rr, cc)) / np.sqrt(np.outer(rr, cc))
    U, s, Vt = np.linalg.svd(S, full_matrices=False)
    k = min(order, len(s))
    low_rank = (U[:, :k] * s[:k]) @ Vt[:k]
    fitted[np.ix_(rows, cols)] += n * np.sqrt(np.outer(rr, cc)) * low_rank
    return fitted


def reconstitute(
    table: pd.DataFrame,
    blanked: pd.DataFrame,
    order: int = 0,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> Reconstitution:
    """Fill the ``blanked`` cells of ``table`` from the order-``order`` CA model, iterating to its fixed point.

    ``blanked`` is a boolean frame of the table's shape (True: treat the cell as missing);
    the values the table holds there are ignored. Starts from zeros in the blanked cells
    (the published method's table) and stops when no filled cell moves by more than
    ``tolerance`` x n in a pass, or after ``max_iterations`` passes (``converged`` False).
    """
    values = table.to_numpy(dtype=float).copy()
    missing = blanked.reindex(index=table.index, columns=table.columns).fillna(False).to_numpy(bool)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("the table to reconstitute must hold finite, non-negative counts")
    values[missing] = 0.0
    kept_rows = values.sum(axis=1) > 0
    kept_cols = values.sum(axis=0) > 0
    fill = missing & np.outer(kept_rows, kept_cols)
    n_kept = values.sum()
    change, iterations, converged = 0.0, 0, not fill.any()
    while not converged and iterations < max_iterations:
        fitted = np.clip(model_fit(values, order), 0.0, None)
        change = float(np.abs(fitted[fill] - values[fill]).max()) / n_kept
        values[fill] = fitted[fill]
        iterations += 1
        converged = change <= tolerance
    return Reconstitution(
        table=pd.DataFrame(values, index=table.index, columns=table.columns),
        order=int(order),
        iterations=iterations,
        converged=bool(converged),
        change=change,
        filled=int(fill.sum()),
        pairs_filled=float(values[fill].sum()),
    )


def unit_fitted(completed: pd.DataFrame, kept: pd.DataFrame, row_map: pd.Series, column_map: pd.Series,
                order: int) -> pd.DataFrame:
    """The model's count in every unit cell of ``kept``, for the smoothing under ``reconstitute``.

    ``completed`` is the filled (merged) table the CA saw; its order-``order`` fit in a merged
    cell is shared out over the unit cells merged into it in proportion to the units' kept
    totals (a unit not merged takes the whole cell). Units without kept pairs get zero.
    The smoothing fills its blanked cells from this, so that it sees the table the CA saw:
    a unit's smoothed score is then, before shrinkage, its CA score up to the scale factor
    (the transition formula), instead of the mean over every partner *but* its own
    category, which on a small table runs opposite to the CA.
    """
    fitted = pd.DataFrame(model_fit(completed.to_numpy(float), order), index=completed.index,
                          columns=completed.columns)
    shares = []
    for totals, unit_map in ((kept.sum(axis=1), row_map), (kept.sum(axis=0), column_map)):
        targets = unit_map.reindex(totals.index).to_numpy()
        share = (totals / totals.groupby(targets).transform("sum")).fillna(0.0)
        shares.append((targets, share.to_numpy(float)))
    (row_targets, row_share), (col_targets, col_share) = shares
    merged = fitted.reindex(index=row_targets, columns=col_targets).fillna(0.0).to_numpy()
    return pd.DataFrame(merged * np.outer(row_share, col_share), index=kept.index, columns=kept.columns)

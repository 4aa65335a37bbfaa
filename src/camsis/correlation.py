"""Pearson correlation, as every part of the package computes it.

The dimension choice (weighted by mass), the comparison with an old score file, the
plots' titles and the bootstrap's agreement check all correlate two labelled series over
the labels both know; this is the one function that does it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pearson(x: pd.Series, y: pd.Series, weights: pd.Series | None = None, at_least: int = 2) -> tuple[float, int]:
    """(Weighted) Pearson correlation over the labels where x, y (and a positive weight) are known.

    Parameters
    ----------
    x, y : Series
        Aligned on their index (labels in only one are left out).
    weights : Series, optional
        Non-negative weights (e.g. the CA's masses); labels with weight 0 or missing are
        left out. Without weights every label counts once.
    at_least : int
        Fewer labels than this give NaN.

    Returns
    -------
    r : float
        The correlation; NaN with too few labels or when either series does not vary.
    n : int
        The labels it is computed over.
    """
    columns = {"x": x, "y": y} | ({"w": weights} if weights is not None else {})
    frame = pd.concat(columns, axis=1, join="inner").dropna()
    if weights is not None:
        frame = frame[frame["w"] > 0]
    n = len(frame)
    if n < max(at_least, 2):
        return float("nan"), n
    w = frame["w"].to_numpy(float) if weights is not None else np.ones(n)
    w = w / w.sum()
    dx = frame["x"].to_numpy(float) - w @ frame["x"].to_numpy(float)
    dy = frame["y"].to_numpy(float) - w @ frame["y"].to_numpy(float)
    denominator = np.sqrt((w @ dx**2) * (w @ dy**2))
    if not denominator > 0:
        return float("nan"), n
    return float(np.clip(w @ (dx * dy) / denominator, -1.0, 1.0)), n

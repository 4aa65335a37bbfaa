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
    series = [x, y] + ([weights] if weights is not None else [])
    if all(s.index.equals(x.index) for s in series[1:]):
        # Already aligned (the CA's scores, references and masses are): the arrays as they are,
        # without the DataFrame an alignment builds, which cost more than the correlation.
        arrays = [s.to_numpy(float) for s in series]
    else:
        frame = pd.concat(dict(zip("xyw", series)), axis=1, join="inner")
        arrays = [frame[name].to_numpy(float) for name in frame.columns]
    known = ~np.isnan(arrays[0])
    for values in arrays[1:]:
        known &= ~np.isnan(values)
    if weights is not None:
        known &= arrays[2] > 0
    n = int(known.sum())
    if n < max(at_least, 2):
        return float("nan"), n
    x_values, y_values = arrays[0][known], arrays[1][known]
    w = arrays[2][known] if weights is not None else np.ones(n)
    w = w / w.sum()
    dx = x_values - w @ x_values
    dy = y_values - w @ y_values
    denominator = np.sqrt((w @ dx**2) * (w @ dy**2))
    if not denominator > 0:
        return float("nan"), n
    return float(np.clip(w @ (dx * dy) / denominator, -1.0, 1.0)), n

"""Plots of scores, drawn off-screen (Agg) so they work on servers and cluster nodes."""

from __future__ import annotations

from typing import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def caterpillar_plot(scores: pd.DataFrame, label_col: str, estimate_col: str, se_col: str,
                     path, title: str, back_transform: Callable | None = None,
                     xlabel: str | None = None, fmt: str | None = None) -> None:
    """Categories ranked by estimate with 95% intervals (estimate +- 1.96 se), labelled.

    With `back_transform` (e.g. np.exp for a log-scale model) the estimate and the
    interval ends are transformed after the interval is formed on the model scale.
    """
    frame = scores.sort_values(estimate_col, kind="stable").reset_index(drop=True)
    est = frame[estimate_col].to_numpy(dtype=float)
    half = 1.96 * frame[se_col].to_numpy(dtype=float)
    lo, hi = est - half, est + half
    if back_transform is not None:
        est, lo, hi = back_transform(est), back_transform(lo), back_transform(hi)
    pos = np.arange(len(frame))
    height = min(max(3.0, 0.18 * len(frame) + 1.5), 300.0)
    fig, ax = plt.subplots(figsize=(7.0, height))
    try:
        ax.errorbar(est, pos, xerr=[est - lo, hi - est], fmt="o", ms=3, color="black",
                    ecolor="grey", elinewidth=1, capsize=0)
        ax.set_yticks(pos)
        ax.set_yticklabels([str(v) for v in frame[label_col]], fontsize=7)
        ax.set_ylim(-1, len(frame))
        ax.set_xlabel(xlabel or f"{estimate_col} (95% interval)")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=100, format=fmt)
    finally:
        plt.close(fig)

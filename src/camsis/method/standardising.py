"""Stage 7: put each sex's scores on the published metric (mean 50, SD 15, within [1, 99])."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from camsis.errors import CamsisError


@dataclass(frozen=True)
class Standardisation:
    """A linear map ``offset + factor * x`` fitted on a population, then clipped.

    Attributes
    ----------
    factor, offset : the map; standard errors scale by ``abs(factor)`` alone.
    mean, sd : the target moments over the population.
    clip : the closed range scores are clipped to after the map.
    """

    factor: float
    offset: float
    mean: float
    sd: float
    clip: tuple[float, float]

    def scores(self, raw: pd.Series) -> pd.Series:
        """Raw scores on the published metric, cropped to ``clip`` (a missing score stays missing)."""
        mapped = np.clip(self.offset + self.factor * raw.to_numpy(dtype=float), *self.clip)  # NaN stays NaN
        return pd.Series(mapped, index=raw.index, name=raw.name)

    def standard_errors(self, raw_se: pd.Series) -> pd.Series:
        """Standard errors of raw scores on the published metric: the map is linear, so only its slope counts."""
        return raw_se * abs(self.factor)


def fit_standardisation(
    raw: pd.Series,
    population: pd.Series,
    mean: float = 50.0,
    sd: float = 15.0,
    clip: tuple[float, float] = (1.0, 99.0),
) -> Standardisation:
    """Fit the map so that the population (people, not units) has the target moments.

    ``population`` holds, per unit, the weighted number of people of that sex in the
    input (blanked pairs included), so large occupations count for more than small ones.
    """
    weights = population.reindex(raw.index).fillna(0.0).to_numpy(float)
    values = raw.to_numpy(float)
    usable = np.isfinite(values) & (weights > 0)
    if not usable.any():
        raise CamsisError("cannot standardise: no unit has both a score and people in the input")
    w, x = weights[usable], values[usable]
    centre = np.average(x, weights=w)
    spread = np.sqrt(np.average((x - centre) ** 2, weights=w))
    if not spread > 0:
        raise CamsisError("cannot standardise: every person in the input has the same score")
    factor = sd / spread
    return Standardisation(factor=factor, offset=mean - factor * centre, mean=mean, sd=sd, clip=tuple(clip))

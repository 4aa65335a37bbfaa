"""The pair table: an input's occ1 x occ2 counts, the one object every stage after reading works on.

``PairTable`` holds the weighted and unweighted counts over every unit of the classification,
with the bookkeeping of what was read and dropped, and saves to / loads from a long parquet
of its non-empty cells plus a json; ``Cells`` names some cells of such a table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from camsis.classifications.classification import check_units
from camsis.errors import CamsisError
from camsis.io.writing import atomic_path, write_json
from camsis.method.pairs import REASONS


class Cells(NamedTuple):
    """Some cells of a table: by flat position (row * columns + column, ascending), row and column."""

    flat: np.ndarray
    rows: np.ndarray
    columns: np.ndarray

    @classmethod
    def at(cls, flat: np.ndarray, n_columns: int) -> Cells:
        """The cells at flat positions ``flat`` of a table with ``n_columns`` columns."""
        rows, columns = np.divmod(flat, n_columns)
        return cls(flat, rows, columns)

    def of(self, values: np.ndarray) -> np.ndarray:
        """The entries of ``values`` (a table's array) at these cells.

        By flat position when the array is row-major: ten times faster than picking by row
        and column, and a replicate picks its cells out of several tables.
        """
        if values.flags.c_contiguous:
            return np.take(values, self.flat)
        return values[self.rows, self.columns]


@dataclass
class PairTable:
    """Occ1 x occ2 table of one input.

    Attributes
    ----------
    weighted : float64 DataFrame, index "occ1" and columns "occ2" = every unit of the
        classification, frequency-weighted pair counts (equal to `counts` if unweighted).
    counts : int64 DataFrame of the same shape, unweighted number of pairs.
    read : pairs (rows) read from the input.
    used : pairs kept in the table; read - used == sum(dropped.values()).
    dropped : reason -> pairs removed (every reason of DROP_REASONS, zeros included).
    source : the input the table was built from.
    support : flat positions (row * columns + column, ascending) of the only cells that may
        hold pairs, or None (``cells`` then finds the non-empty ones). A bootstrap
        replicate's table carries the observed table's non-empty cells, which a redraw
        cannot leave, so none of its stages searches the whole table for them.
    weights_squared : float64 DataFrame of the same shape, or None: each cell's sum of its
        pairs' squared survey weights, so the smoothing can tell how much information the
        weighted pairs hold (Kish's effective sample size, see docs/weights.md). A cell
        aggregates couples, so it is summed couple by couple while tabulating. None when
        every pair counts as one (unweighted, or frequency weights: a row of weight k is k
        couples of weight 1), i.e. equal to ``counts``.
    """

    weighted: pd.DataFrame
    counts: pd.DataFrame
    read: int
    used: int
    dropped: dict[str, int]
    source: str
    support: np.ndarray | None = field(default=None, repr=False, compare=False)
    weights_squared: pd.DataFrame | None = field(default=None, repr=False)

    def cells(self) -> Cells:
        """Every cell that may hold pairs, in row-major order.

        Most cells of a table are empty (one in twenty of a by-status table's 1.5 million),
        so the stages that need only the others (the blocks, the smoothing's sums) take
        them from here instead of each searching the table.
        """
        support = self.support
        if support is None:
            support = np.flatnonzero((self.counts.to_numpy() != 0) | (self.weighted.to_numpy() != 0))
        return Cells.at(support, self.counts.shape[1])

    def to_long(self) -> pd.DataFrame:
        """Non-empty cells as rows occ1, occ2, weighted, counts (and weights_squared when survey-weighted)."""
        w = self.weighted.to_numpy()
        c = self.counts.to_numpy()
        i, j = np.nonzero((c != 0) | (w != 0))
        long = {
            "occ1": self.weighted.index.to_numpy()[i],
            "occ2": self.weighted.columns.to_numpy()[j],
            "weighted": w[i, j],
            "counts": c[i, j],
        }
        if self.weights_squared is not None:
            long["weights_squared"] = self.weights_squared.to_numpy()[i, j]
        return pd.DataFrame(long)

    @classmethod
    def from_long(cls, long: pd.DataFrame, units, read: int, dropped: dict[str, int], source: str) -> PairTable:
        """Rebuild the full table from its non-empty cells (cells listed twice add up).

        Without a ``weights_squared`` column every pair counts as one (``PairTable.weights_squared``).
        """
        units = check_units(units)
        u = len(units)
        cells = []
        for side in ("occ1", "occ2"):
            codes = long[side].to_numpy()
            pos = np.minimum(np.searchsorted(units, codes), u - 1)
            unknown = units[pos] != codes
            if unknown.any():
                raise CamsisError(
                    f"table {source} has {side} code {codes[unknown][0]} that is not a unit of the classification"
                )
            cells.append(pos)
        flat = cells[0] * u + cells[1]
        counts = np.bincount(flat, weights=long["counts"].to_numpy(np.float64), minlength=u * u)
        weighted = np.bincount(flat, weights=long["weighted"].to_numpy(np.float64), minlength=u * u)
        squares = None
        if "weights_squared" in long.columns:
            squares = np.bincount(flat, weights=long["weights_squared"].to_numpy(np.float64), minlength=u * u)
        return table_from_arrays(weighted, counts.round().astype(np.int64), units, read, dropped, source, squares)

    def save(self, path_parquet, path_json, **extra) -> None:
        """Long parquet of the non-empty cells, and the bookkeeping (plus ``extra``) as json; both atomic."""
        with atomic_path(path_parquet) as temporary:
            self.to_long().to_parquet(temporary, index=False)
        write_json(self.info() | extra, path_json)

    def info(self) -> dict:
        """The bookkeeping ``save`` writes beside the cells (``table.json``): source, read, used, dropped."""
        return {"source": self.source, "read": self.read, "used": self.used, "dropped": dict(self.dropped)}

    @classmethod
    def load(cls, path_parquet, path_json, units) -> PairTable:
        """Read a table written by `save`, refusing a parquet and json that do not belong together."""
        try:
            meta = json.loads(Path(path_json).read_text())
            long = pd.read_parquet(path_parquet)
        except (OSError, ValueError) as err:
            raise CamsisError(f"cannot read pair table {path_parquet} / {path_json}: {err}") from None
        table = cls.from_long(long, units, meta["read"], meta["dropped"], meta["source"])
        if table.used != meta["used"]:
            raise CamsisError(
                f"pair table {path_parquet} holds {table.used:,} pairs but {path_json} says {meta['used']:,}"
            )
        return table


# Rows a sheet's filter leaves out come first: they are not pairs of this scale at all.
DROP_REASONS = ("filtered",) + REASONS


def table_from_arrays(weighted, counts, units, read, dropped, source, squares=None) -> PairTable:
    """A PairTable from flat (U*U) or square arrays of weighted counts, counts and squared weights over ``units``."""
    u = len(units)
    rows = pd.Index(units, name="occ1")
    cols = pd.Index(units, name="occ2")
    if squares is not None:
        squares = pd.DataFrame(np.asarray(squares, dtype=np.float64).reshape(u, u), index=rows, columns=cols)
    return PairTable(
        weighted=pd.DataFrame(np.asarray(weighted, dtype=np.float64).reshape(u, u), index=rows, columns=cols),
        counts=pd.DataFrame(np.asarray(counts, dtype=np.int64).reshape(u, u), index=rows, columns=cols),
        read=int(read),
        used=int(counts.sum()),
        dropped={**dict.fromkeys(DROP_REASONS, 0), **{k: int(v) for k, v in dropped.items()}},
        source=str(source),
        weights_squared=squares,
    )

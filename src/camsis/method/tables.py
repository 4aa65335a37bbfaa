"""Stage 2, table: collapse the pairs to an occ1 x occ2 table while reading.

Counts accumulate chunk by chunk on flat cell indices (occ1 * U + occ2), so once a
chunk is counted its rows are gone: memory is one chunk plus two U x U arrays, and
every later stage works on the table alone.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from camsis.classifications.classification import check_units
from camsis.classifications.statuses import combine
from camsis.errors import CamsisError
from camsis.io.reading import CHUNKSIZE, check_columns, iter_chunks
from camsis.method.linking import PersonColumns, couple_chunks, link_file
from camsis.method.pairs import check_frequency_weights, clean_pairs, filter_rows, filter_variables, row_count, to_codes
from camsis.method.pairtable import DROP_REASONS, PairTable, table_from_arrays

log = logging.getLogger("camsis.method.tables")


# The mean weight per pair must leave the table's sums, and pairs / weight, inside the float range.
WEIGHT_RANGE = (1e-150, 1e150)


def _check_weight_range(weighted: np.ndarray, used: int, weight: str, source, squares=None) -> None:
    """Weights near the float limits overflow the table's sums (or their inverse, or squares): name the variable."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(weighted.sum())
        squared = np.isfinite(squares.sum()) if squares is not None else True
    mean = total / used
    if np.isfinite(weighted).all() and np.isfinite(total) and squared and WEIGHT_RANGE[0] <= mean <= WEIGHT_RANGE[1]:
        return
    raise CamsisError(
        f"weight variable '{weight}' in {source}: weights of this size (mean {mean:.3g} per pair) overflow or "
        "underflow the table's sums; survey weights are relative, so divide them by a constant (e.g. their mean)"
    )


def _couples_per_row(chunk: pd.DataFrame, weight, weight_type, source) -> np.ndarray | None:
    """Couples each row stands for: its frequency weight, or None when every row is one couple."""
    if weight_type != "frequency" or not weight:
        return None
    w = to_codes(chunk[weight], weight, source)
    check_frequency_weights(w, weight, source)
    return w


def _accumulate(
    chunks: Iterable[pd.DataFrame], occ1, occ2, weight, units, source, on_missing_weight, where=None,
    weight_type="survey", statuses=None,
):
    units = check_units(units)
    size = len(units) ** 2
    counts = np.zeros(size, dtype=np.int64)
    weighted = np.zeros(size) if weight else None
    # Survey weights only: a frequency weight counts couples of weight 1 (squares = counts).
    squares = np.zeros(size) if weight and weight_type != "frequency" else None
    dropped = dict.fromkeys(DROP_REASONS, 0)
    unknown: Counter = Counter()
    read = 0
    by_status = _StatusCounts(*statuses, len(units), bool(weight), squares is not None) if statuses else None
    for chunk in chunks:
        couples = _couples_per_row(chunk, weight, weight_type, source)
        read += row_count(np.ones(len(chunk), dtype=bool), couples)
        if where:
            kept = filter_rows(chunk, where, source)
            dropped["filtered"] += row_count(~kept, couples)
            chunk = chunk[kept]
        pairs = clean_pairs(chunk, occ1, occ2, weight, units, source, on_missing_weight, weight_type)
        for reason, n in pairs.dropped.items():
            dropped[reason] += n
        unknown.update(pairs.unknown_codes)
        cell = pairs.occ1 * len(units) + pairs.occ2
        if couples is None:
            n = np.bincount(cell)
        else:  # a frequency weight is a number of couples: the pair counts are its sums
            n = np.bincount(cell, weights=pairs.weight).astype(np.int64)
        counts[: len(n)] += n
        if weight:
            w = np.bincount(cell, weights=pairs.weight)
            weighted[: len(w)] += w
        if squares is not None:
            q = np.bincount(cell, weights=pairs.weight * pairs.weight)
            squares[: len(q)] += q
        if by_status:
            by_status.add(chunk, pairs, source, frequency=couples is not None)
    if unknown:
        top = ", ".join(f"{code:g} ({n:,})" for code, n in unknown.most_common(10))
        log.warning(f"{source}: codes not in the classification, most frequent first: {top}")
    used = int(counts.sum())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in dropped.items() if n)
    if used == 0:
        raise CamsisError(
            f"no valid pairs left in {source} after dropping {reasons or 'nothing'} of {read:,} pairs read"
        )
    if weight:
        _check_weight_range(weighted, used, weight, source, squares)
    log.info(f"{source}: {read:,} pairs read, {used:,} used, dropped: {reasons or 'none'}")
    table = table_from_arrays(weighted if weight else counts, counts, units, read, dropped, source, squares)
    return (table, by_status.table(table)) if by_status else table


class _StatusCounts:
    """The (occ1, status1) x (occ2, status2) table, counted from the pairs the title-only table keeps.

    Combined units are ordered as ``code * 10 + status`` sorts, i.e. position
    ``occupation position * S + status position`` for S scored statuses, so the flat cell
    index needs no lookup. A pair whose partners' statuses are not both scored (missing,
    negative, the unknown status, not in the scheme) is counted under ``status_unknown``.
    """

    def __init__(self, status1: str, status2: str, scored, n_units: int, weighted: bool, squared: bool = False):
        self.columns = (status1, status2)
        self.scored = np.asarray(scored, dtype=np.int64)
        self.lookup = np.full(int(self.scored.max()) + 1, -1, dtype=np.int64)
        self.lookup[self.scored] = np.arange(len(self.scored))
        self.side = n_units * len(self.scored)
        self.counts = np.zeros(self.side**2, dtype=np.int64)
        self.weighted = np.zeros(self.side**2) if weighted else None
        # survey weights' squares, as the title-only table's (``PairTable.weights_squared``)
        self.squares = np.zeros(self.side**2) if squared else None
        self.unknown = 0
        self.values: Counter = Counter()  # status values not scored, missing ones apart:
        self.missing = 0  # NaN is not equal to itself, so a Counter would keep one key per missing value

    def _positions(self, chunk, column, rows, source):
        values = to_codes(chunk[column], column, source)[rows]
        with np.errstate(invalid="ignore"):
            inside = (values >= 0) & (values <= self.scored[-1])
        whole = np.where(inside, values, 0).astype(np.int64)
        pos = self.lookup[whole]
        valid = inside & (pos >= 0) & (whole == values)  # a fraction such as 1.5 is not status 1
        other = values[~valid]
        missing = np.isnan(other)
        self.missing += int(missing.sum())
        if not missing.all():
            found, times = np.unique(other[~missing], return_counts=True)
            self.values.update(dict(zip(found.tolist(), times.tolist())))
        return pos, valid

    def add(self, chunk, pairs, source, frequency: bool = False) -> None:
        """Count a chunk's kept pairs; with ``frequency`` weights a row is that many couples."""
        p1, v1 = self._positions(chunk, self.columns[0], pairs.rows, source)
        p2, v2 = self._positions(chunk, self.columns[1], pairs.rows, source)
        known = v1 & v2
        self.unknown += int(round(pairs.weight[~known].sum())) if frequency else int(len(known) - np.count_nonzero(known))
        s = len(self.scored)
        cell = ((pairs.occ1 * s + p1) * self.side + pairs.occ2 * s + p2)[known]
        weight = pairs.weight[known] if frequency or self.weighted is not None else None
        n = np.bincount(cell, weights=weight).round().astype(np.int64) if frequency else np.bincount(cell)
        self.counts[: len(n)] += n
        if self.weighted is not None:
            w = np.bincount(cell, weights=weight)
            self.weighted[: len(w)] += w
        if self.squares is not None:
            q = np.bincount(cell, weights=weight * weight)
            self.squares[: len(q)] += q

    def table(self, title: PairTable) -> PairTable:
        """The by-status PairTable of what was counted, its dropped reasons beside ``title``'s."""
        units = combine(np.repeat(title.weighted.index.to_numpy(), len(self.scored)), np.tile(self.scored, len(title.weighted)))
        if self.unknown:
            values = self.values + Counter({np.nan: self.missing})
            shown = ", ".join(f"{'missing' if v != v else f'{v:g}'} ({n:,})" for v, n in values.most_common(5))
            if not self.counts.any():  # else the CA would call the by-status table's emptiness "blanked"
                raise CamsisError(
                    f"no pair in {title.source} has a status of the scheme (scored: "
                    f"{', '.join(map(str, self.scored.tolist()))}) on both sides ('{self.columns[0]}', "
                    f"'{self.columns[1]}'): all {self.unknown:,} pairs lack one; values found, most frequent first: {shown}")
            log.info(f"{title.source}: {self.unknown:,} pairs without a scored status on both sides "
                     f"(left out of the by-status scale; most frequent values: {shown})")
        weighted = self.weighted if self.weighted is not None else self.counts
        dropped = title.dropped | {"status_unknown": self.unknown}
        return table_from_arrays(weighted, self.counts, units, title.read, dropped, title.source, self.squares)


def tabulate(
    path,
    occ1: str,
    occ2: str,
    weight: str | None,
    units,
    chunksize: int = CHUNKSIZE,
    on_missing_weight: str = "error",
    where: str | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
    weight_type: str = "survey",
) -> PairTable:
    """Read `path` in chunks and count its valid pairs on the classification's units.

    `weight` None (or "") tabulates unweighted; see clean_pairs for what is dropped.
    `where` keeps only the rows a pandas query expression accepts (the sheet's `filter`);
    the others are counted as dropped under `filtered`. `sep` and `encoding` read a CSV.
    With `weight_type` "frequency"
    a row is `weight` identical couples: `counts`, `read` and every dropped count are
    sums of the weights, so a table of cells with a count column gives the same table
    as its couples one row each.
    """
    columns = [occ1, occ2] + ([weight] if weight else [])
    if where:
        columns += [name for name in filter_variables(where, str(path)) if name not in columns]
    chunks = iter_chunks(path, columns, chunksize, sep=sep, encoding=encoding)
    return _accumulate(chunks, occ1, occ2, weight, units, str(path), on_missing_weight, where, weight_type)


@dataclass(frozen=True)
class CoupleColumns:
    """Variables of a couples file with statuses: each partner's occupation and status, and the weight.

    The couples' counterpart of ``camsis.method.linking.PersonColumns`` for ``tabulate_by_status``
    (a sheet row's occ1, occ2, status1, status2 and weight cells).
    """

    occ1: str
    occ2: str
    status1: str
    status2: str
    weight: str | None = None


def tabulate_by_status(
    path,
    columns: CoupleColumns,
    units,
    scored,
    chunksize: int = CHUNKSIZE,
    on_missing_weight: str = "error",
    where: str | None = None,
    frame: pd.DataFrame | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
    weight_type: str = "survey",
) -> tuple[PairTable, PairTable]:
    """Tabulate once into the title-only table and the (occupation, status) table, from the same pairs.

    ``columns`` name the variables read; ``scored`` are the statuses scored on their own (``StatusScheme.scored``); the by-status
    table's units are the combined codes ``unit * 10 + status`` and its ``dropped`` adds
    ``status_unknown``: pairs of the title-only table left out for want of a scored status.
    ``frame`` tabulates pairs already in memory instead of reading ``path``; ``sep`` and
    ``encoding`` read a CSV and ``weight_type`` reads the weight, as in `tabulate`.
    """
    weight = columns.weight
    names = [columns.occ1, columns.occ2] + ([weight] if weight else []) + [columns.status1, columns.status2]
    if where:
        names += [name for name in filter_variables(where, str(path)) if name not in names]
    chunks = [frame] if frame is not None else iter_chunks(path, names, chunksize, sep=sep, encoding=encoding)
    if frame is not None:
        check_columns(path, names, [str(c) for c in frame.columns])
    return _accumulate(chunks, columns.occ1, columns.occ2, weight, units, str(path), on_missing_weight, where,
                       weight_type, statuses=(columns.status1, columns.status2, scored))


def tabulate_frame(
    df: pd.DataFrame,
    occ1: str,
    occ2: str,
    weight: str | None,
    units,
    source: str = "<data frame>",
    on_missing_weight: str = "error",
    where: str | None = None,
    weight_type: str = "survey",
) -> PairTable:
    """Tabulate pairs already in memory (synthetic data, tests) exactly as `tabulate` does."""
    return _accumulate([df], occ1, occ2, weight, units, source, on_missing_weight, where, weight_type)


def tabulate_persons(
    path,
    columns: PersonColumns,
    first_sex: float,
    units,
    repeat_couples: str = "all",
    chunksize: int = CHUNKSIZE,
    on_missing_weight: str = "error",
    where: str | None = None,
    weight_type: str = "survey",
    sep: str = ",",
    encoding: str = "utf-8",
) -> tuple[PairTable, dict[str, int]]:
    """Link a person file into couples (camsis.method.linking) and count their pairs as `tabulate` does.

    The filter (`where`) applies to persons before linking, so it is counted by the
    linking (``filtered``), not among the table's dropped pairs. Returns the table and
    the linking counts (for summary.json's ``linking``).
    """
    return _tabulate_linked(path, columns, first_sex, units, repeat_couples, chunksize, on_missing_weight, where,
                            weight_type, sep, encoding)


def tabulate_persons_by_status(
    path,
    columns: PersonColumns,
    first_sex: float,
    units,
    scored,
    repeat_couples: str = "all",
    chunksize: int = CHUNKSIZE,
    on_missing_weight: str = "error",
    where: str | None = None,
    weight_type: str = "survey",
    sep: str = ",",
    encoding: str = "utf-8",
) -> tuple[tuple[PairTable, PairTable], dict[str, int]]:
    """`tabulate_by_status` for a person file: each linked couple carries both partners' ``status``.

    The couples are the ones `tabulate_persons` links (same counts), and they go through
    the same counting as a couples file's ``status1``/``status2``, so a person file and
    the couples file of its couples give the same two tables. ``columns.status`` must be set.
    Returns ((title-only table, by-status table), linking counts).
    """
    if not columns.status:
        raise CamsisError(f"{path}: a by-status build of a person file needs its status variable (sheet column status)")
    return _tabulate_linked(path, columns, first_sex, units, repeat_couples, chunksize, on_missing_weight, where,
                            weight_type, sep, encoding, statuses=("status1", "status2", scored))


def _tabulate_linked(path, columns, first_sex, units, repeat_couples, chunksize, on_missing_weight, where,
                     weight_type, sep, encoding, statuses=None):
    """Link a person file, then count its couples (in slices, as a couples file's chunks)."""
    linked = link_file(path, columns, first_sex, repeat_couples, chunksize, where, sep=sep, encoding=encoding)
    weight = "weight" if columns.weight else None
    chunks = couple_chunks(linked.couples, chunksize)
    tables = _accumulate(chunks, "occ1", "occ2", weight, units, str(path), on_missing_weight, None, weight_type,
                         statuses=statuses)
    return tables, linked.counts

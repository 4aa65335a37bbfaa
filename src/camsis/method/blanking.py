"""Stage 3: diagonal and pseudo-diagonal cells, blanked from the estimation.

Couples in the same or closely linked occupations (shared workplaces, family farms and
businesses) say little about general social distance, so their cells are masked, not
deleted: the CA and the smoothing skip them, the standardisation still counts them.
Two rules are combined: the diagonal rule on codes (optionally only within some groups)
and the pseudo-diagonal file of code ranges in the format published CAMSIS constructions
use (`lower_1 upper_1 lower_2 upper_2`, -999 rows as empty placeholders).
"""

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from camsis.classifications.classification import Classification
from camsis.errors import CamsisError
from camsis.io.writing import atomic_path

log = logging.getLogger("camsis.method.blanking")

PSD_COLUMNS = ["lower_1", "upper_1", "lower_2", "upper_2"]
PLACEHOLDER = -999


def read_psd_file(path: str | Path) -> pd.DataFrame:
    """Read a pseudo-diagonal file as published (tabs, CRLF or LF, last line unterminated).

    Columns after the four bounds are ignored (the header too may name more), so a
    psd_candidates.tsv, with its residuals and titles, reads as a pseudo-diagonal file.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise CamsisError(f"pseudo-diagonal file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CamsisError(f"pseudo-diagonal file {path} is unreadable ({error})") from None
    lines = [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines or lines[0][1][: len(PSD_COLUMNS)] != PSD_COLUMNS:
        found = " ".join(lines[0][1]) if lines else "an empty file"
        raise CamsisError(f"{path}: line 1: expected the header {' '.join(PSD_COLUMNS)}, found {found}")
    rows = [_psd_row(path, number, fields) for number, fields in lines[1:]]
    psds = pd.DataFrame(rows, columns=PSD_COLUMNS, dtype=np.int64)
    psds = psds[~(psds == PLACEHOLDER).all(axis=1)].reset_index(drop=True)
    log.debug("%s: %d pseudo-diagonal rows", path, len(psds))
    return psds


def _psd_row(path: Path, number: int, fields: list[str]) -> list[int]:
    if len(fields) < len(PSD_COLUMNS):
        raise CamsisError(f"{path}: line {number}: expected 4 bounds, found {len(fields)}: {' '.join(fields)}")
    bounds = []
    for name, field in zip(PSD_COLUMNS, fields[: len(PSD_COLUMNS)]):
        try:
            value = float(field)
        except ValueError:
            value = float("nan")
        if not value.is_integer():
            raise CamsisError(f"{path}: line {number}: {name} '{field}' is not an integer code")
        bounds.append(int(value))
    if bounds == [PLACEHOLDER] * 4:
        return bounds
    for side in (0, 2):
        if bounds[side] > bounds[side + 1]:
            raise CamsisError(
                f"{path}: line {number}: {PSD_COLUMNS[side]} {bounds[side]} is above "
                f"{PSD_COLUMNS[side + 1]} {bounds[side + 1]}"
            )
    return bounds


def diagonal_cells(
    rows: Sequence[int] | np.ndarray,
    cols: Sequence[int] | np.ndarray,
    digits: int,
    groups: Iterable[int] | None = None,
    classification: Classification | None = None,
) -> np.ndarray:
    """Cells with floor(occ1 / 10^d) == floor(occ2 / 10^d), within one listed group if given.

    A code lies in a group when the group is the code or one of its ancestors in the
    classification; without a classification, when the code's digits start with the group's.
    """
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise CamsisError(f"diagonal_digits must be a whole number of digits >= 0, not {digits!r}")
    rows, cols = _codes(rows), _codes(cols)
    width = _code_width(rows, cols)
    if digits >= width and groups is None:
        raise CamsisError(
            f"diagonal_digits {digits} ignores every digit of the {width}-digit codes, so every pair would "
            f"count as diagonal; use 0 (same code) to {width - 1} (same first digit)"
        )
    scale = 10 ** int(digits)
    diagonal = np.equal.outer(rows // scale, cols // scale)
    if groups is None:
        return diagonal
    within = np.zeros_like(diagonal)
    for group in groups:
        within |= np.outer(_members(rows, group, classification), _members(cols, group, classification))
    return diagonal & within


def _code_width(rows: np.ndarray, cols: np.ndarray) -> int:
    return len(str(int(max(rows.max(initial=0), cols.max(initial=0)))))


def diagonal_rule_warnings(rows, cols, digits: int, groups: Iterable[int] | None) -> list[str]:
    """A rule that ignores every digit blanks whole groups against each other: legal, but say so."""
    rows, cols = _codes(rows), _codes(cols)
    width = _code_width(rows, cols)
    if groups is None or digits < width:
        return []
    message = (f"diagonal_digits {digits} is at least the code width ({width} digits): every pair of codes within "
               f"the same one of groups {', '.join(str(g) for g in groups)} counts as diagonal and is blanked, "
               f"not only pairs of the same code (use 0 to {width - 1} for that)")
    log.warning("%s", message)
    return [message]


def _members(codes: np.ndarray, group: int, classification: Classification | None) -> np.ndarray:
    if classification is None:
        prefix = str(int(group))
        return np.array([str(code).startswith(prefix) for code in codes], dtype=bool)
    if group not in classification.frame.index:
        raise CamsisError(f"diagonal group {group} is not a code of classification {classification.name}")
    return np.array([code == group or group in classification.ancestors(int(code)) for code in codes], dtype=bool)


def psd_cells(rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray, psds: pd.DataFrame | None) -> np.ndarray:
    """Cells inside any of the pseudo-diagonal rows' rectangles (bounds inclusive)."""
    rows, cols = _codes(rows), _codes(cols)
    marked = np.zeros((len(rows), len(cols)), dtype=bool)
    if psds is None:
        return marked
    for lower_1, upper_1, lower_2, upper_2 in psds[PSD_COLUMNS].itertuples(index=False):
        marked |= np.outer((rows >= lower_1) & (rows <= upper_1), (cols >= lower_2) & (cols <= upper_2))
    return marked


def uncovered_psd_rows(psds: pd.DataFrame, rows, cols) -> list[int]:
    """Positions of the psd rows whose rectangle holds no cell of the table.

    Such a row blanks nothing; a whole file of them is usually written for another code
    width (five-digit bounds for four-digit codes) or another classification.
    """
    rows, cols = _codes(rows), _codes(cols)
    uncovered = []
    for position, (lower_1, upper_1, lower_2, upper_2) in enumerate(psds[PSD_COLUMNS].itertuples(index=False)):
        if not (((rows >= lower_1) & (rows <= upper_1)).any() and ((cols >= lower_2) & (cols <= upper_2)).any()):
            uncovered.append(position)
    return uncovered


def check_psd_coverage(psds: pd.DataFrame, rows, cols, source) -> list[str]:
    """Refuse a psd file that covers no code at all; warn (one line) about rows that cover none."""
    uncovered = uncovered_psd_rows(psds, rows, cols)
    if not uncovered:
        return []
    rows, cols = _codes(rows), _codes(cols)
    codes = f"codes {min(rows.min(), cols.min())} to {max(rows.max(), cols.max())}"
    if len(uncovered) == len(psds):
        raise CamsisError(
            f"pseudo-diagonal file {source}: none of its {len(psds)} rows covers a code of the classification "
            f"({codes}); is it written for another code width or classification?"
        )
    shown = ", ".join(" ".join(str(v) for v in psds.iloc[p][PSD_COLUMNS]) for p in uncovered[:5])
    more = f" and {len(uncovered) - 5} more" if len(uncovered) > 5 else ""
    message = (f"pseudo-diagonal file {source}: {len(uncovered)} of {len(psds)} rows cover no code of the "
               f"classification ({codes}) and blank nothing: {shown}{more}")
    log.warning("%s", message)
    return [message]


def blank_cells(
    rows: Sequence[int] | np.ndarray,
    cols: Sequence[int] | np.ndarray,
    diagonal_digits: int | None = None,
    diagonal_groups: Iterable[int] | None = None,
    psds: pd.DataFrame | None = None,
    classification: Classification | None = None,
) -> pd.DataFrame:
    """The blank mask: True where a cell is diagonal (if a rule is given) or pseudo-diagonal."""
    rows, cols = _codes(rows), _codes(cols)
    if diagonal_digits is None:
        if diagonal_groups is not None:
            raise CamsisError("diagonal groups are given but diagonal_digits is empty")
        mask = np.zeros((len(rows), len(cols)), dtype=bool)
    else:
        mask = diagonal_cells(rows, cols, diagonal_digits, diagonal_groups, classification)
    mask |= psd_cells(rows, cols, psds)
    return pd.DataFrame(mask, index=pd.Index(rows, name="occ1"), columns=pd.Index(cols, name="occ2"))


def summarise_blanking(mask: pd.DataFrame, weighted: pd.DataFrame, counts: pd.DataFrame) -> dict:
    """Cells and pairs blanked, for summary.json (plain ints and floats)."""
    if not (mask.index.equals(weighted.index) and mask.columns.equals(weighted.columns)):
        raise ValueError("the blank mask and the table have different rows or columns")
    blanked = mask.to_numpy(dtype=bool)
    weights = weighted.to_numpy(dtype=np.float64)
    numbers = counts.loc[mask.index, mask.columns].to_numpy(dtype=np.float64)
    total = float(weights.sum())
    return {
        "cells_blanked": int(blanked.sum()),
        "cells_blanked_with_pairs": int((blanked & (numbers > 0)).sum()),
        "pairs_blanked": int(round(numbers[blanked].sum())),
        "pairs_blanked_weighted": float(weights[blanked].sum()),
        "share_blanked_weighted": float(weights[blanked].sum() / total) if total > 0 else 0.0,
    }


def _codes(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def save_masks(ca: pd.DataFrame, smooth: pd.DataFrame, path) -> None:
    """Write the CA and smoothing masks as ``load_masks`` reads them: long, blanked cells only."""
    masks = pd.DataFrame({"ca": ca.stack(), "smooth": smooth.stack()})
    masks = masks[masks["ca"] | masks["smooth"]].reset_index()
    with atomic_path(path) as temporary:
        masks.to_parquet(temporary, index=False)


def load_masks(path, units) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The CA and smoothing masks from the long file rule ``blank`` writes (blanked cells only)."""
    long = pd.read_parquet(path)
    index = pd.Index(units, name="occ1")
    columns = pd.Index(units, name="occ2")
    rows = index.get_indexer(long["occ1"])
    cols = columns.get_indexer(long["occ2"])
    masks = []
    for name in ("ca", "smooth"):
        mask = np.zeros((len(index), len(columns)), dtype=bool)
        chosen = long[name].to_numpy(bool)
        mask[rows[chosen], cols[chosen]] = True
        masks.append(pd.DataFrame(mask, index=index, columns=columns))
    return masks[0], masks[1]

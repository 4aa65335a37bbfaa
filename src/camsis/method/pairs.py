"""Stage 1, pairs: turn a chunk of two code columns (and a weight) into valid unit positions.

Every pair dropped is counted under exactly one reason, checked in the order of REASONS,
so a user sees how many pairs each rule removed. `clean_pairs` only needs the two code
columns side by side: it does not care whether they came from one row per couple or
were assembled from person records joined to their partners.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.io.reading import check_columns

log = logging.getLogger("camsis.method.pairs")

REASONS = ("survey_missing", "not_in_classification", "missing_weight", "zero_weight")

# How a weight is read: "survey" weights are relative (the smoothing weighs each unit by the
# Kish effective sample size of its couples, docs/weights.md), "frequency" weights count
# identical couples (Stata's fweight).
WEIGHT_TYPES = ("survey", "frequency")

# Text cells read as missing rather than as a bad code: empty, and Stata's "." for missing.
_TEXT_MISSING = {"", "."}


def to_codes(values: pd.Series, variable: str, path) -> np.ndarray:
    """Codes as float64 (NaN = missing), accepting text that holds numbers."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    text = values.astype(object).where(values.notna(), None)
    stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    stripped = stripped.where(~stripped.isin(_TEXT_MISSING), None)
    numbers = pd.to_numeric(stripped, errors="coerce")
    bad = numbers.isna() & stripped.notna()
    if bad.any():
        example = stripped[bad].iloc[0]
        raise CamsisError(
            f"variable '{variable}' in {path} holds text that is not a number "
            f"(e.g. {example!r}, {int(bad.sum()):,} such values in this chunk); codes must be numeric"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class CleanPairs:
    """Valid pairs of one chunk.

    Attributes
    ----------
    occ1, occ2 : ndarray
        int64 positions into the classification's sorted units array.
    weight : ndarray
        float64 frequency weight of each pair (1.0 when unweighted).
    dropped : dict
        Reason -> number of pairs removed, every reason of REASONS present; with frequency
        weights these are couples (sums of the weights), not rows.
    unknown_codes : dict
        Code -> times it appears (on either side) in the pairs dropped as not_in_classification,
        so the caller can report the most frequent ones.
    rows : ndarray or None
        Positions in the chunk of the pairs kept (to read more of their variables, e.g. the
        partners' employment statuses).
    """

    occ1: np.ndarray
    occ2: np.ndarray
    weight: np.ndarray
    dropped: dict[str, int]
    unknown_codes: dict[float, int] = field(default_factory=dict)
    rows: np.ndarray | None = None


# Classifications whose codes stay below this are mapped through a lookup array indexed by
# the code: ten times faster than a binary search over the units, the slowest step of a chunk.
LOOKUP_MAX_CODE = 2**22


def _positions(codes: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each code in `units` (0 where absent) and whether the code is a unit."""
    if 0 <= units[0] and units[-1] < LOOKUP_MAX_CODE:
        lookup = np.full(int(units[-1]) + 1, -1, dtype=np.int64)
        lookup[units] = np.arange(len(units))
        inside = (codes >= 0) & (codes <= units[-1])
        whole = np.where(inside, codes, 0).astype(np.int64)
        pos = lookup[whole]
        found = inside & (pos >= 0) & (whole == codes)
        return np.maximum(pos, 0), found
    pos = np.minimum(np.searchsorted(units, codes), len(units) - 1)
    return pos, units[pos] == codes


def _weight_drops(w: np.ndarray, keep: np.ndarray, weight: str, path, on_missing_weight: str,
                  weight_type: str):
    """Valid pairs dropped for a missing weight (or refused) and for a zero weight.

    A negative or infinite weight, or a frequency weight that cannot count couples, is
    refused (a one-line error) rather than dropped: no setting makes such a weight usable,
    whereas a missing one may be dropped on request (``on_missing_weight``).

    Returns
    -------
    no_weight, zero : ndarray of bool
        Among the pairs ``keep`` marks valid, those with a missing weight (when
        ``on_missing_weight`` is "drop") and, of the others, those with weight 0.
    """
    with np.errstate(invalid="ignore"):
        negative = (w < 0) | np.isinf(w)
    if negative.any():
        example = w[negative][0]
        raise CamsisError(
            f"weight variable '{weight}' in {path} has {int(negative.sum()):,} negative or infinite "
            f"values (e.g. {example:g}); weights must be finite and non-negative"
        )
    if weight_type == "frequency":
        check_frequency_weights(w, weight, path)
    no_weight = keep & np.isnan(w)
    if no_weight.any() and on_missing_weight == "error":
        raise CamsisError(
            f"weight variable '{weight}' in {path} is missing for {int(no_weight.sum()):,} pairs "
            "with valid codes; fix the weights or set on_missing_weight to 'drop'"
        )
    return no_weight, keep & ~no_weight & (w == 0)


def clean_pairs(
    chunk: pd.DataFrame,
    occ1: str,
    occ2: str,
    weight: str | None,
    units: np.ndarray,
    path,
    on_missing_weight: str = "error",
    weight_type: str = "survey",
) -> CleanPairs:
    """Drop invalid pairs by reason and map the remaining codes to unit positions.

    `units` must be sorted and unique (Classification.units is); codes map to positions
    once per chunk, by a lookup array (or a binary search for huge codes). A negative code is a
    survey missing value; a missing weight is an error unless on_missing_weight="drop";
    a negative or infinite weight is always an error.

    With weight_type="frequency" a row stands for `weight` identical couples, so every
    count (pairs dropped by each reason) is a sum of weights, and a weight that is not a
    whole number, or is missing, is an error (a count cannot be guessed).
    """
    if on_missing_weight not in ("error", "drop"):
        raise CamsisError(f"on_missing_weight must be 'error' or 'drop', got {on_missing_weight!r}")
    if weight_type not in WEIGHT_TYPES:
        raise CamsisError(f"weight_type must be one of {', '.join(WEIGHT_TYPES)}, got {weight_type!r}")
    check_columns(path, [occ1, occ2] + ([weight] if weight else []), [str(c) for c in chunk.columns])
    c1 = to_codes(chunk[occ1], occ1, path)
    c2 = to_codes(chunk[occ2], occ2, path)
    with np.errstate(invalid="ignore"):
        missing = np.isnan(c1) | np.isnan(c2) | (c1 < 0) | (c2 < 0)
    p1, in1 = _positions(c1, units)
    p2, in2 = _positions(c2, units)
    unknown = ~missing & ~(in1 & in2)
    keep = ~(missing | unknown)
    if weight:
        w = to_codes(chunk[weight], weight, path)
        no_weight, zero = _weight_drops(w, keep, weight, path, on_missing_weight, weight_type)
        keep &= ~(no_weight | zero)
    else:
        w = np.ones(len(chunk))
        no_weight = zero = np.zeros(len(chunk), dtype=bool)

    bad_codes = np.concatenate([c1[unknown & ~in1], c2[unknown & ~in2]])
    codes, counts = np.unique(bad_codes, return_counts=True)
    couples = w if weight_type == "frequency" and weight else None
    return CleanPairs(
        occ1=p1[keep].astype(np.int64),
        occ2=p2[keep].astype(np.int64),
        weight=w[keep].astype(np.float64),
        dropped={
            "survey_missing": row_count(missing, couples),
            "not_in_classification": row_count(unknown, couples),
            "missing_weight": row_count(no_weight, couples),
            "zero_weight": row_count(zero, couples),
        },
        unknown_codes=dict(zip(codes.tolist(), counts.tolist())),
        rows=np.flatnonzero(keep),
    )


def check_frequency_weights(w: np.ndarray, weight: str, path) -> None:
    """Refuse frequency weights that cannot be counts of couples: missing, negative, not whole numbers."""
    with np.errstate(invalid="ignore"):
        negative = (w < 0) | np.isinf(w)
    if negative.any():
        raise CamsisError(
            f"frequency weight variable '{weight}' in {path} has {int(negative.sum()):,} negative or infinite "
            f"values (e.g. {w[negative][0]:g}); a frequency weight counts identical couples"
        )
    missing = np.isnan(w)
    if missing.any():
        raise CamsisError(
            f"frequency weight variable '{weight}' in {path} is missing in {int(missing.sum()):,} rows; "
            "a frequency weight counts identical couples and cannot be missing"
        )
    fraction = w != np.round(w)
    if fraction.any():
        raise CamsisError(
            f"frequency weight variable '{weight}' in {path} has {int(fraction.sum()):,} values that are not "
            f"whole numbers (e.g. {w[fraction][0]:g}); a frequency weight counts identical couples "
            "(use weight_type survey for relative weights)"
        )


def row_count(rows: np.ndarray, couples: np.ndarray | None = None) -> int:
    """How many pairs the selected rows stand for: one each, or their frequency weights."""
    if couples is None:
        return int(np.count_nonzero(rows))
    return int(couples[rows].sum())


def filter_variables(expression: str, where: str) -> list[str]:
    """The variables a row filter (a pandas query such as ``wave >= 3 and hage < 65``) reads."""
    # pandas quotes names that are not Python identifiers in backticks (`hh age` > 30):
    # read those as they are written and parse the rest with them swapped for placeholders.
    quoted = re.findall(r"`([^`]*)`", expression)
    plain = re.sub(r"`[^`]*`", lambda match: f"__quoted_{len(match.string[:match.start()].split('`')) // 2}__",
                   expression)
    try:
        tree = ast.parse(plain, mode="eval")
    except SyntaxError:
        raise CamsisError(f"{where}: filter '{expression}' is not a valid expression") from None
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and not node.id.startswith("__quoted_")}
    return sorted(names | set(quoted))


def filter_rows(chunk: pd.DataFrame, expression: str, path) -> np.ndarray:
    """Which rows a sheet's filter keeps; a row whose filter variables are missing is not kept."""
    try:
        kept = chunk.eval(expression, engine="python")
    except Exception as error:  # pandas raises many types for a bad expression
        raise CamsisError(f"{path}: filter '{expression}' cannot be evaluated: {error}") from None
    if not (isinstance(kept, pd.Series) and pd.api.types.is_bool_dtype(kept.dtype)):
        raise CamsisError(f"{path}: filter '{expression}' does not give true or false for each row")
    return kept.to_numpy(dtype=bool, na_value=False)

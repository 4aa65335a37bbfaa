"""Adding CAMSIS scores to survey data: the look-up users otherwise do by hand.

A score file is an index table with one row per occupation code (title-only files,
e.g. GB SOC2020 v1) or per code x employment status (by-status files, e.g. GB SOC2020
v2, whose status 0 means "no information"). It holds codes at every level of the
classification (units and the groups above them), so a survey row is matched on its
code whatever level that code is at: a row coded only to a minor group gets the minor
group's score. The survey itself is never changed: `match` returns a copy with the
score columns appended and a summary that accounts for every row.

Reading and writing whole labelled survey files is `camsis.io.survey`; this module only
works on DataFrames.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from camsis.errors import CamsisError, shown

SIDES = ("mcamsis", "fcamsis")
NO_STATUS = 0  # status 0: no information on employment status (title-only score)


@dataclass(frozen=True)
class ScoreIndex:
    """A score file reduced to its look-up: (code[, status]) -> mcamsis, fcamsis.

    ``table`` is indexed by ``code`` (int64), or by ``(code, status)`` for by-status
    files; ``code`` and ``status`` are the score file's own column names.
    """

    table: pd.DataFrame
    code: str
    status: str | None
    statuses: tuple[int, ...] = ()


def _lower_map(columns) -> dict[str, str]:
    return {str(column).lower(): column for column in columns}


def _integer_codes(values: pd.Series, what: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() | (numbers % 1 != 0)]
    if len(bad):
        raise CamsisError(f"{what}: value {shown(bad.iloc[0])} is not an integer code")
    return numbers.astype("int64")


def _is_combined_code(scores: pd.DataFrame, column, code_column, candidates) -> bool:
    """Whether ``column`` is the combined code ``code * 10 + status`` of another status column.

    The workflow's by-status files (and GB 2010's ``soc2010_es5``) carry it beside the
    code and the status; it is a key, not a status a survey could be coded to.
    """
    values = pd.to_numeric(scores[column], errors="coerce")
    code = pd.to_numeric(scores[code_column], errors="coerce")
    for other in candidates:
        if other == column:
            continue
        status = pd.to_numeric(scores[other], errors="coerce")
        usable = status >= 0
        if usable.any() and values[usable].eq(code[usable] * 10 + status[usable]).all():
            return True
    return False


def score_index(scores: pd.DataFrame, code: str | None = None, status: str | None = None,
                source: str = "score file") -> ScoreIndex:
    """Find the code, status and score columns of a score file and check it is a look-up.

    The code column is ``code`` or else the file's first column (as in every published
    CAMSIS file and in the workflow's). Status columns are those between the code and
    ``mcamsis`` (``empst3`` in GB SOC2020 v2; ``stdempst`` and ``deempst`` in DE95ISCO88).
    With several, ``status`` names the one to use. Rows with a negative status are
    another scheme's placeholders (DE95ISCO88 keeps both schemes in one table) and are
    left out. Column names are matched without regard to case, since SPSS files spell
    them in capitals.
    """
    names = _lower_map(scores.columns)
    missing = [side for side in SIDES if side not in names]
    if missing:
        raise CamsisError(f"{source}: no {' or '.join(missing)} column; it has {', '.join(map(str, scores.columns))}")
    code_column = names.get(code.lower()) if code else scores.columns[0]
    if code_column is None:
        raise CamsisError(f"{source}: no code column {code!r}")
    position = list(scores.columns).index(names["mcamsis"])
    candidates = [c for c in scores.columns[:position] if c != code_column]
    candidates = [c for c in candidates if not _is_combined_code(scores, c, code_column, candidates)]
    if status:
        status_column = names.get(status.lower())
        if status_column is None or status_column == code_column:
            raise CamsisError(f"{source}: no status column {status!r}; status columns: "
                              f"{', '.join(map(str, candidates)) or 'none (title-only file)'}")
    elif len(candidates) > 1:
        raise CamsisError(f"{source}: several status columns ({', '.join(map(str, candidates))}); "
                          f"say which one the survey's status is coded to (--scores-status)")
    else:
        status_column = candidates[0] if candidates else None

    frame = pd.DataFrame({"code": _integer_codes(scores[code_column], f"{source}: column {code_column}")})
    keys = ["code"]
    if status_column is not None:
        frame["status"] = _integer_codes(scores[status_column], f"{source}: column {status_column}")
        keys.append("status")
    for side in SIDES:
        frame[side] = pd.to_numeric(scores[names[side]], errors="coerce").astype("float64").to_numpy()
    if status_column is not None:
        frame = frame[frame["status"] >= 0]
    duplicated = frame.duplicated(keys)
    if duplicated.any():
        first = frame.loc[duplicated, keys].iloc[0].tolist()
        raise CamsisError(f"{source}: {' x '.join(keys)} {'/'.join(map(str, first))} appears more than once; "
                          f"a score file has one row per {' x '.join(keys)}")
    statuses = tuple(sorted(int(s) for s in frame["status"].unique())) if status_column is not None else ()
    return ScoreIndex(frame.set_index(keys)[list(SIDES)], str(code_column),
                      None if status_column is None else str(status_column), statuses)


def _as_codes(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Survey codes as numbers, with masks of missing (empty or negative) and malformed ones.

    Text codes are read as numbers ("1111" is 1111), since CSV files often hold them
    as text; text that is not a whole number is an invalid code, not a missing one.
    """
    text = values.astype("string").str.strip() if not pd.api.types.is_numeric_dtype(values) else None
    numbers = pd.to_numeric(text if text is not None else values, errors="coerce").astype("float64")
    empty = values.isna() | (text.fillna("").eq("") if text is not None else False)
    missing = empty | (numbers < 0)
    malformed = ~missing & (numbers.isna() | (numbers % 1 != 0))
    return numbers, missing, malformed


def _shown(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def match(survey: pd.DataFrame, scores: pd.DataFrame | ScoreIndex, occ: str, status: str | None = None,
          sex: str | None = None, scores_status: str | None = None, prefix: str = "",
          top: int = 10) -> tuple[pd.DataFrame, dict]:
    """Append ``mcamsis`` and ``fcamsis`` (and ``camsis`` with ``sex``) to a copy of ``survey``.

    Parameters
    ----------
    survey : the survey data; its rows, columns and order are kept as they are.
    scores : a score file's DataFrame (see `score_index`) or its `ScoreIndex`.
    occ : the survey's occupation code variable, coded to the score file's codes at any level.
    status : the survey's employment status variable, coded to the score file's status
        scheme. Missing (empty or negative) statuses, and no ``status`` at all, match at
        status 0 (no information), as the published readmes tell users to do. A group
        code that the file scores only at status 0 takes that score whatever the status.
    sex : 1 male, 2 female: ``camsis`` is the own-sex score (``mcamsis`` for men,
        ``fcamsis`` for women) and missing for any other value.
    scores_status : which status column of the score file to use when it has several.
    prefix : put before the new columns' names (``sp_`` for a spouse's occupation).
    top : how many of the most frequent unmatched codes the summary lists.

    Returns
    -------
    (DataFrame, dict)
        the survey with the new columns, and a summary: ``rows`` = ``matched`` +
        ``missing`` (negative or empty codes) + ``not_in_scores`` (other codes: not in
        the file, malformed, or an invalid status), and ``unmatched_codes``, the most
        frequent codes behind ``not_in_scores``.
    """
    for variable in (occ, status, sex):
        if variable is not None and variable not in survey.columns:
            raise CamsisError(f"survey: no variable {variable!r}")
    index = scores if isinstance(scores, ScoreIndex) else score_index(scores, status=scores_status)
    names = {side: prefix + side for side in (*SIDES, "camsis")}
    added = [names["mcamsis"], names["fcamsis"]] + ([names["camsis"]] if sex else [])
    clash = [name for name in added if name in survey.columns]
    if clash:
        raise CamsisError(f"survey already has {', '.join(clash)}; choose a prefix for the new columns "
                          f"(e.g. prefix 'sp_' for a spouse's occupation)")
    if status is not None and index.status is None:
        raise CamsisError(f"status variable {status!r} given, but the score file has no status column "
                          f"(title-only scores): leave the status out")

    codes, missing, malformed = _as_codes(survey[occ])
    usable = ~missing & ~malformed
    summary = {"rows": int(len(survey)), "occ": occ, "status": status, "sex": sex,
               "score_code": index.code, "score_status": index.status}
    looked_up = pd.DataFrame(np.nan, index=survey.index, columns=list(SIDES))
    if index.status is None:
        keys = codes.where(usable)
        found = usable & keys.isin(index.table.index)
        looked_up.loc[found] = index.table.loc[keys[found].astype("int64")].to_numpy()
        unmatched_keys = [_shown(v) for v in survey[occ][~missing & ~found]]
    else:
        if status is None:
            states = pd.Series(float(NO_STATUS), index=survey.index)
            status_missing = pd.Series(True, index=survey.index)
            bad_status = pd.Series(False, index=survey.index)
        else:
            states, status_missing, bad_status = _as_codes(survey[status])
            states = states.where(~status_missing, float(NO_STATUS))
        code_keys = codes.where(usable & ~bad_status, -1).astype("int64")
        status_keys = states.where(~bad_status, -1).astype("int64")
        found = pd.Series(pd.MultiIndex.from_arrays([code_keys, status_keys]).isin(index.table.index),
                          index=survey.index) & usable & ~bad_status
        # A code scored only at status 0 (a group, in GB SOC2020 v2) is title-only whatever the status.
        per_code = pd.Series(index.table.index.get_level_values(1)).groupby(index.table.index.get_level_values(0))
        title_only = per_code.agg(lambda s: bool((s == NO_STATUS).all()))
        fallback = ~found & usable & ~bad_status & code_keys.isin(title_only.index[title_only])
        status_keys = status_keys.where(~fallback, NO_STATUS)
        take = (found | fallback).to_numpy()
        keys = pd.MultiIndex.from_arrays([code_keys[take], status_keys[take]])
        looked_up.loc[take] = index.table.loc[keys].to_numpy()
        found = found | fallback
        lost = ~missing & ~found
        unmatched_keys = [f"{_shown(c)} status {_shown(s)}" if s is not None else _shown(c)
                          for c, s in zip(survey[occ][lost], (survey[status][lost] if status else [None] * int(lost.sum())))]
        summary["status_missing"] = int((status_missing & found).sum()) if status else None
        summary["status_title_only"] = int(fallback.sum())
        summary["statuses"] = list(index.statuses)

    out = survey.copy()
    out[names["mcamsis"]] = looked_up["mcamsis"].to_numpy()
    out[names["fcamsis"]] = looked_up["fcamsis"].to_numpy()
    summary.update(matched=int(found.sum()), missing=int(missing.sum()), not_in_scores=int((~missing & ~found).sum()))
    summary["unmatched_codes"] = [{"code": key, "rows": n} for key, n in Counter(unmatched_keys).most_common(top)]
    if sex:
        sexes = pd.to_numeric(survey[sex], errors="coerce")
        own = np.where(sexes == 1, looked_up["mcamsis"], np.where(sexes == 2, looked_up["fcamsis"], np.nan))
        out[names["camsis"]] = own
        summary["sex_other"] = int((~sexes.isin([1, 2])).sum())
    summary["columns_added"] = added
    return out, summary

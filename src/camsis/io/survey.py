"""Whole survey files in and out, labels and declared missing values kept.

`camsis match` must hand users back their own file with scores added, not a stripped
copy: Stata and SPSS users rely on variable labels, value labels, display formats and
declared missing values (Stata's .a-.z, SPSS's missing values and ranges). pyreadstat
reads all of them (with ``user_missing=True`` the missing values keep their codes) and
writes them back. CSV and parquet carry no labels, so there is nothing to keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from camsis.errors import CamsisError
from camsis.io.writing import atomic_path, dta_version

FORMATS = (".dta", ".sav", ".csv", ".parquet")
_INTEGER_TYPES = {"int8": "Int8", "int16": "Int16", "int32": "Int32"}


@dataclass
class Survey:
    """A survey file's data and the labels and missing-value declarations that go with it."""

    frame: pd.DataFrame
    kind: str  # the file's extension: .dta, .sav, .csv or .parquet
    variable_labels: dict = field(default_factory=dict)
    value_labels: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    storage: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)  # .dta: {var: ["a", ...]}; .sav: {var: [ranges]}
    file_label: str = ""
    measure: dict = field(default_factory=dict)
    display_width: dict = field(default_factory=dict)
    line_end: str = ""  # a CSV read as text (read_survey(text=True)): its line ending, kept on writing


def _kind(path, what: str) -> str:
    kind = Path(path).suffix.lower()
    if kind not in FORMATS:
        raise CamsisError(f"{what} {path}: unknown data format {kind or '(no extension)'!r}; use one of {', '.join(FORMATS)}")
    return kind


# Text a CSV cell holds for "missing" (pandas' default list): only the variables matched on
# read them so; every other column of a CSV survey passes through as the text it is.
CSV_MISSING = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                         "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})


def read_survey(path, text: bool = False) -> Survey:
    """Read every variable of a .dta/.sav/.csv/.parquet file with its metadata.

    With ``text`` a CSV file's cells are read as the text they are (``000001`` stays
    ``000001``, ``NA`` stays ``NA``), so a CSV written back from them holds the same values:
    for `match` from CSV to CSV. Without, pandas guesses each column's type (numbers, missing),
    which other output formats need.
    """
    kind = _kind(path, "survey")
    if not Path(path).is_file():
        raise CamsisError(f"survey {path}: no such file")
    try:
        if kind in (".dta", ".sav"):
            reader = pyreadstat.read_dta if kind == ".dta" else pyreadstat.read_sav
            frame, meta = reader(str(path), user_missing=True)
            return Survey(
                frame, kind,
                variable_labels={k: v for k, v in meta.column_names_to_labels.items() if v},
                value_labels=dict(meta.variable_value_labels),
                formats=dict(meta.original_variable_types),
                storage=dict(meta.readstat_variable_types),
                missing=dict(meta.missing_user_values if kind == ".dta" else meta.missing_ranges),
                file_label=meta.file_label or "",
                measure=dict(getattr(meta, "variable_measure", {}) or {}),
                display_width=dict(getattr(meta, "variable_display_width", {}) or {}),
            )
        if kind == ".csv":
            if text:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
                return Survey(frame, kind, line_end=_line_end(path))
            return Survey(pd.read_csv(path, keep_default_na=True), kind)
        return Survey(pd.read_parquet(path), kind)
    except CamsisError:
        raise
    except Exception as error:  # readers raise many types for a corrupt file
        if isinstance(error, OSError) and error.errno is not None:  # the file system's refusal (permissions)
            raise CamsisError(f"survey {path}: cannot read it: {error.strerror.lower()}") from error
        raise CamsisError(f"survey {path}: cannot read it as {kind}: {' '.join(str(error).split())}") from error


def _line_end(path) -> str:
    """The line ending of a text file's first line ("\\r\\n" from Windows, else "\\n")."""
    with open(path, "rb") as handle:
        return "\r\n" if handle.readline().endswith(b"\r\n") else "\n"


def values_for_matching(survey: Survey, columns) -> pd.DataFrame:
    """The survey with declared missing values of ``columns`` blanked, as Stata and SPSS treat them.

    The file keeps its codes (a user's -9 or .a stays as it was); only the look-up sees
    them as missing.
    """
    frame = survey.frame.copy()
    for column in columns:
        if column is None or column not in frame:
            continue
        values = frame[column]
        if survey.line_end:  # a CSV read as text: its missing-value spellings
            frame[column] = values.where(~values.str.strip().isin(CSV_MISSING))
        elif survey.kind == ".dta" and values.dtype == object:
            frame[column] = pd.to_numeric(values.where(~values.isin(list("abcdefghijklmnopqrstuvwxyz"))),
                                          errors="coerce")
        elif survey.kind == ".sav" and column in survey.missing:
            numbers = pd.to_numeric(values, errors="coerce")
            declared = pd.Series(False, index=frame.index)
            for item in survey.missing[column]:
                low, high = (item["lo"], item["hi"]) if isinstance(item, dict) else (item, item)
                declared |= (numbers >= low) & (numbers <= high)
            frame[column] = values.where(~declared)
    return frame


def _integer_keys(labels: dict) -> dict:
    """Stata value labels label integers only; SPSS's float keys that are whole numbers carry over."""
    return {int(k): v for k, v in labels.items() if isinstance(k, (int, float, np.integer, np.floating))
            and float(k).is_integer()}


def write_survey(survey: Survey, frame: pd.DataFrame, path, new_labels: dict) -> None:
    """Write ``frame`` (the survey's columns plus new ones) as ``path``'s format, atomically.

    Metadata of the survey's own variables is written back where the output format can
    hold it (labels need .dta or .sav; formats and missing declarations need the same
    format as the input); ``new_labels`` are the variable labels of the added columns.
    """
    kind = _kind(path, "--out")
    same = kind == survey.kind
    if not same:  # another format cannot declare the input's missing values: they become plain missing
        blanked = values_for_matching(survey, list(survey.missing))
        frame = frame.assign(**{c: blanked[c] for c in survey.missing if c in frame})
    try:
        with atomic_path(path) as temporary:
            if kind == ".csv":
                frame.to_csv(temporary, index=False, lineterminator=survey.line_end or "\n")
            elif kind == ".parquet":
                frame.to_parquet(temporary, index=False)
            else:
                labels = {c: survey.variable_labels.get(c) or new_labels.get(c) for c in frame.columns}
                values = {k: v for k, v in survey.value_labels.items() if k in frame.columns}
                formats = {k: v for k, v in survey.formats.items() if k in frame.columns} if same else {}
                if kind == ".dta":
                    out = frame.copy()
                    if same:  # keep Stata's storage types: byte/int/long read back as int64 or float
                        for column, storage in survey.storage.items():
                            if storage in _INTEGER_TYPES and column in out and pd.api.types.is_numeric_dtype(out[column]):
                                out[column] = out[column].astype(_INTEGER_TYPES[storage])
                    values = {k: _integer_keys(v) for k, v in values.items()}
                    texts = [survey.file_label, *[t for t in labels.values() if t]]
                    texts += [t for v in values.values() for t in v.values()]
                    pyreadstat.write_dta(out, str(temporary), file_label=survey.file_label[:80],
                                         column_labels=labels, variable_value_labels=values or None,
                                         missing_user_values=(survey.missing or None) if same else None,
                                         variable_format=formats or None, version=dta_version(out, texts))
                else:
                    pyreadstat.write_sav(frame, str(temporary), file_label=survey.file_label,
                                         column_labels=labels, variable_value_labels=values or None,
                                         missing_ranges=(survey.missing or None) if same else None,
                                         variable_format=formats or None,
                                         variable_measure=({k: v for k, v in survey.measure.items()
                                                            if k in frame and v != "unknown"} or None) if same else None)
    except CamsisError:
        raise
    except Exception as error:
        raise CamsisError(f"--out {path}: cannot write it: {' '.join(str(error).split())}") from error

"""Stage 9: the score file, as published: Stata .dta (labelled) with a CSV beside it.

Every write goes to a temporary file in the target folder and is renamed into place, so
an interrupted or failed run never leaves a half-written result.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

SCORE_LABELS = {
    "mcamsis": "CAMSIS for {name} for males",
    "fcamsis": "CAMSIS for {name} for females",
    "mcam_se": "Standard error estimate for MCAMSIS",
    "fcam_se": "Standard error estimate for FCAMSIS",
    "n_m": "Number of cases representing the unit in MCAMSIS derivation",
    "n_f": "Number of cases representing the unit in FCAMSIS derivation",
    "m_imputed": "MCAMSIS imputed from this parent group (0: scored from own cases)",
    "f_imputed": "FCAMSIS imputed from this parent group (0: scored from own cases)",
    "mcamsis2": "Second-dimension CAMSIS for {name} for males",
    "fcamsis2": "Second-dimension CAMSIS for {name} for females",
}


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.bool_,)):
        return bool(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json(data: dict, path) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, default=_json_default, allow_nan=True) + "\n")


def write_csv(frame: pd.DataFrame, path) -> None:
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)


def score_file_labels(classification, columns) -> dict[str, str]:
    """Variable labels for every column a score file may carry."""
    name = classification.variable.upper()
    labels = {classification.variable: classification.label}
    labels.update({column: text.format(name=name) for column, text in SCORE_LABELS.items()})
    labels.update(classification.link_labels)
    return {column: labels.get(column, column)[:80] for column in columns}


def write_dta(frame: pd.DataFrame, path, column_labels: dict, value_labels: dict, file_label: str) -> None:
    """Write a labelled .dta; integer-valued columns are stored as integers, as Stata users expect."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_bool_dtype(values):
            out[column] = values.astype("int8")
        elif pd.api.types.is_integer_dtype(values):
            fits = values.dropna().abs().max() < 2**31 if values.notna().any() else True
            out[column] = values.astype("Int32") if fits else values.astype("float64")
    with atomic_path(path) as temporary:
        pyreadstat.write_dta(
            out,
            temporary,
            file_label=file_label[:80],
            column_labels=[column_labels.get(c) for c in out.columns],
            variable_value_labels={k: v for k, v in value_labels.items() if k in out.columns},
        )

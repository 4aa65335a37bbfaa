"""Stage 9: the score file, as published: Stata .dta (labelled) with a CSV beside it.

Every write goes to a temporary file in the target folder and is renamed into place, so
an interrupted or failed run never leaves a half-written result.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from camsis.errors import CamsisError

log = logging.getLogger("camsis.io.writing")

# What Stata's .dta (format 117-119) holds, checked against pyreadstat 1.3: variable and
# file labels of more than 80 characters are refused ("A provided label is too long for the
# file format"); value label text is not checked by pyreadstat but Stata reads at most
# 32,000 bytes of it. fit_dta_labels is the one place labels are cut to these limits.
DTA_VARIABLE_LABEL = 80
DTA_FILE_LABEL = 80
DTA_VALUE_LABEL_BYTES = 32000

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
    "mcam_bse": "Bootstrap standard error of MCAMSIS",
    "fcam_bse": "Bootstrap standard error of FCAMSIS",
    "mcam_tse": "Total SE of MCAMSIS (model and bootstrap): +-1.96 x it is the 95% interval",
    "fcam_tse": "Total SE of FCAMSIS (model and bootstrap): +-1.96 x it is the 95% interval",
    "mcam_lo": "MCAMSIS 95% interval, lower bound (mcamsis - 1.96 x mcam_tse)",
    "mcam_hi": "MCAMSIS 95% interval, upper bound (mcamsis + 1.96 x mcam_tse)",
    "fcam_lo": "FCAMSIS 95% interval, lower bound (fcamsis - 1.96 x fcam_tse)",
    "fcam_hi": "FCAMSIS 95% interval, upper bound (fcamsis + 1.96 x fcam_tse)",
}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _same_file(a, b) -> bool:
    """Whether two paths name one file (also through links)."""
    a, b = Path(a), Path(b)
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))


def check_paths(inputs: dict, outputs: dict) -> None:
    """Refuse a command's outputs that cannot be written, before anything is read or written.

    An output must not be a folder, must be in a folder that exists, and must not name an
    input or another output (also through links): the later write would silently replace the
    earlier, or the user's data. ``inputs`` and ``outputs`` map an option (``--out``) to its
    path (None: not given).
    """
    seen = [(option, path) for option, path in inputs.items() if path]
    for option, path in outputs.items():
        if not path:
            continue
        target = Path(path)
        if target.is_dir():
            example = target / ("out" + {"--summary": ".json", "--plot": ".png"}.get(option, ".csv"))
            raise CamsisError(f"{option} {path} is a folder; give a file name (e.g. {example})")
        if not target.resolve().parent.is_dir():
            raise CamsisError(f"{option} {path}: folder {target.parent} does not exist")
        for other, other_path in seen:
            if _same_file(path, other_path):
                if other in inputs:
                    raise CamsisError(f"{option} {path} is an input file ({other}); camsis never overwrites its input")
                raise CamsisError(f"{option} and {other} name the same file {path}; give each its own")
        seen.append((option, path))


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would hide published files from co-workers
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


def _strict(value):
    """NaN and infinities become null: strict JSON, which R's and Stata's readers accept."""
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def write_json(data: dict, path) -> None:
    """Write ``data`` as strict, indented JSON (NaN -> null), atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(_strict(data), indent=2, default=_json_default, allow_nan=False) + "\n")


def read_json(path) -> dict:
    """Read a JSON file this package wrote; an unreadable one is a one-line CamsisError."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CamsisError(f"cannot read {path}: {err}") from None


def write_csv(frame: pd.DataFrame, path) -> None:
    """Write ``frame`` without its index, atomically (a failed run leaves no half-written file)."""
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)


def score_file_labels(classification, columns) -> dict[str, str]:
    """Variable labels for every column a score file may carry."""
    name = classification.variable.upper()
    labels = {classification.variable: classification.label}
    labels.update({column: text.format(name=name) for column, text in SCORE_LABELS.items()})
    labels.update(classification.link_labels)
    return {column: labels.get(column, column) for column in columns}


def _cut_bytes(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` UTF-8 bytes, never splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def fit_dta_labels(column_labels: dict, value_labels: dict, file_label: str) -> tuple[dict, dict, str, list[str]]:
    """Labels cut to what a .dta holds, and one warning naming every label that was cut.

    Returns the variable labels (column -> text, None kept), the value labels (column ->
    {value: text}), the file label and the warnings (empty when nothing was cut). A long
    title in a classification must not crash a writer (pyreadstat refuses it) nor be cut
    without a word.
    """
    cut = []
    fitted_columns = {}
    for column, text in column_labels.items():
        if text is not None and len(str(text)) > DTA_VARIABLE_LABEL:
            cut.append(f"variable label of {column} ({len(str(text))} characters)")
            text = str(text)[:DTA_VARIABLE_LABEL]
        fitted_columns[column] = text
    fitted_values = {}
    for column, labels in value_labels.items():
        fitted_values[column] = {}
        for value, text in labels.items():
            size = len(str(text).encode("utf-8"))
            if size > DTA_VALUE_LABEL_BYTES:
                cut.append(f"value label {value} of {column} ({size} bytes)")
                text = _cut_bytes(str(text), DTA_VALUE_LABEL_BYTES)
            fitted_values[column][value] = text
    if len(file_label) > DTA_FILE_LABEL:
        cut.append(f"dataset label ({len(file_label)} characters)")
        file_label = file_label[:DTA_FILE_LABEL]
    warnings = []
    if cut:
        shown = ", ".join(cut[:10]) + (f" and {len(cut) - 10} more" if len(cut) > 10 else "")
        warnings.append(
            f"label(s) too long for a Stata .dta were cut (variable and dataset labels to {DTA_VARIABLE_LABEL} "
            f"characters, value labels to {DTA_VALUE_LABEL_BYTES} bytes): {shown}; the full text is in the "
            "classification's files"
        )
    return fitted_columns, fitted_values, file_label, warnings


def _is_ascii(text) -> bool:
    return isinstance(text, str) and text.isascii()


def dta_version(frame: pd.DataFrame, texts=()) -> int:
    """The oldest .dta format that holds ``frame`` and ``texts``: 13 (format 117) or 14 (118).

    Format 117 is read by Stata 13 and later, as the published CAMSIS files are, but
    it has no encoding: its text is read as Latin-1/ASCII. Any non-ASCII text (a
    value, a name, a label, a note) needs Unicode, hence format 118 (Stata 14+).
    Format 119 (pyreadstat's default, Stata 15+) is only needed past 32,767
    variables, which no score file has.
    """
    strings = [str(c) for c in frame.columns] + [t for t in texts if t is not None]
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            strings.extend(str(v) for v in values.dropna().unique())
    return 13 if all(_is_ascii(text) for text in strings) else 14


def write_dta(
    frame: pd.DataFrame, path, column_labels: dict, value_labels: dict, file_label: str, notes: list[str] = (),
    label_set_names: dict | None = None,
) -> list[str]:
    """Write a labelled .dta; integer-valued columns are stored as integers, as Stata users
    expect, in the smallest type that holds them (``narrow_integers``: codes as int, as published).

    Labels longer than the format holds are cut (``fit_dta_labels``); the warning saying so
    is logged, added to the notes as ``warning: ...`` and returned, for the caller's summary.
    The file is format 117 (Stata 13+) unless some text needs Unicode (then 118, Stata 14+).

    Parameters
    ----------
    frame : DataFrame
        The data, written in column order.
    path : path
        The .dta to write (atomically).
    column_labels : dict
        Variable -> variable label.
    value_labels : dict
        Variable -> {value: label}.
    file_label : str
        The dataset label.
    notes : list of str
        The file's Stata notes (``notes`` in Stata lists them).
    label_set_names : dict, optional
        Variable -> name of its value label set (``Classification.label_set_names``);
        pyreadstat's own names are kept for the others.

    Returns
    -------
    list of str
        The label-cut warnings (empty when nothing was cut).
    """
    column_labels, value_labels, file_label, warnings = fit_dta_labels(
        {c: column_labels.get(c) for c in frame.columns}, value_labels, file_label
    )
    for warning in warnings:
        log.warning("%s: %s", Path(path).name, warning)
    notes = list(notes) + [f"warning: {w}" for w in warnings]
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
            file_label=file_label,
            column_labels=[column_labels.get(c) for c in out.columns],
            variable_value_labels={k: v for k, v in value_labels.items() if k in out.columns},
            version=dta_version(out, [file_label, *column_labels.values(), *notes,
                                      *(t for labels in value_labels.values() for t in labels.values())]),
        )
        narrow_integers(temporary)
        if label_set_names:
            rename_label_sets(temporary, {k: v for k, v in label_set_names.items() if k in value_labels})
        add_dta_notes(temporary, notes)
    return warnings


# Stata 117-119 files: a <map> of 14 file offsets, then sections in a fixed order. A
# characteristic is <ch>, its length, the variable name ("_dta" for the dataset), the
# characteristic's name, and NUL-terminated text; Stata's `notes` are _dta[note0] (how
# many) and _dta[note1], _dta[note2], ...
_NAME_BYTES = {117: 33, 118: 129, 119: 129}
_CHARACTERISTICS_END = b"</characteristics>"


def _characteristic(name: str, text: str, name_bytes: int, order: str, encoding: str) -> bytes:
    def field(value: str) -> bytes:
        raw = value.encode(encoding)
        if len(raw) >= name_bytes:
            raise ValueError(f"characteristic name {value!r} is too long for this Stata format")
        return raw.ljust(name_bytes, b"\0")

    body = field("_dta") + field(name) + text.encode(encoding, errors="replace") + b"\0"
    return b"<ch>" + struct.pack(f"{order}I", len(body)) + body + b"</ch>"


def _stata_layout(path: Path, data: bytes) -> tuple[int, str, int, list[int]]:
    """Release, byte order, start of the <map> and its 14 offsets of a Stata 117-119 file."""
    release = data[data.find(b"<release>") + 9 : data.find(b"</release>")]
    if not data.startswith(b"<stata_dta>") or int(release or 0) not in _NAME_BYTES:
        raise ValueError(f"{path} is not a Stata 117-119 (.dta format 13-15+) file")
    order = "<" if b"<byteorder>LSF</byteorder>" in data[:200] else ">"
    start = data.index(b"<map>") + len(b"<map>")
    return int(release), order, start, list(struct.unpack(f"{order}14Q", data[start : start + 14 * 8]))


# Stata's storage types in <variable_types>: type code -> (bytes, numpy type), and the
# values its integer types hold (above them: missing values, . being the first).
_STATA_TYPES = {65530: (1, "i1"), 65529: (2, "i2"), 65528: (4, "i4"), 65527: (4, "f4"), 65526: (8, "f8")}
_STATA_INTEGER_RANGES = ((65530, -127, 100, 101), (65529, -32767, 32740, 32741))  # byte, int: lo, hi, "."
_LONG_MISSING = 2147483621
_FORMAT_BYTES = {117: 49, 118: 57, 119: 57}


def narrow_integers(path) -> None:
    """Store each long (int32) column of a .dta that pyreadstat wrote in the smallest Stata
    integer type that holds its values: byte, int, or long as it was.

    pyreadstat writes every integer column as long; the published files store codes as int
    (SOC2020 int16) and statuses as byte, and Stata users see the difference in `describe`.
    The <data> section is rewritten with the narrower widths, missing values moved to the
    narrower type's own codes, and the offsets of the sections after it shifted.
    """
    path = Path(path)
    data = path.read_bytes()
    release, order, start, offsets = _stata_layout(path, data)
    wide = release == 119
    count_at = data.index(b"<K>") + 3
    columns = struct.unpack(f"{order}{'I' if wide else 'H'}", data[count_at : count_at + (4 if wide else 2)])[0]
    rows_at = data.index(b"<N>") + 3
    rows = struct.unpack(f"{order}{'I' if release == 117 else 'Q'}", data[rows_at : rows_at + (4 if release == 117 else 8)])[0]
    types_at = offsets[2] + len(b"<variable_types>")
    types = list(struct.unpack(f"{order}{columns}H", data[types_at : types_at + 2 * columns]))
    layout = [(f"v{k}", f"{order}{_STATA_TYPES[t][1]}" if t in _STATA_TYPES else f"V{8 if t == 32768 else t}")
              for k, t in enumerate(types)]
    data_at = offsets[9] + len(b"<data>")
    table = np.frombuffer(data, dtype=np.dtype(layout), count=rows, offset=data_at)
    new_types, new_layout = list(types), list(layout)
    for k, t in enumerate(types):
        if t != 65528:
            continue
        values = table[f"v{k}"].astype(np.int64)
        present = values[values < _LONG_MISSING]
        low, high = (int(present.min()), int(present.max())) if len(present) else (0, 0)
        for code, lo, hi, _ in _STATA_INTEGER_RANGES:
            if lo <= low and high <= hi:
                new_types[k], new_layout[k] = code, (f"v{k}", f"{order}{_STATA_TYPES[code][1]}")
                break
    if new_types == types:
        return
    narrowed = np.empty(rows, dtype=np.dtype(new_layout))
    for k, (t, new) in enumerate(zip(types, new_types)):
        values = table[f"v{k}"]
        if t != new:
            first_missing = next(dot for code, _, _, dot in _STATA_INTEGER_RANGES if code == new)
            values = np.where(values >= _LONG_MISSING, values.astype(np.int64) - _LONG_MISSING + first_missing, values)
        narrowed[f"v{k}"] = values
    out = bytearray(data[:data_at] + narrowed.tobytes() + data[data_at + table.nbytes :])
    out[types_at : types_at + 2 * columns] = struct.pack(f"{order}{columns}H", *new_types)
    width = _FORMAT_BYTES[release]
    formats_at = offsets[5] + len(b"<formats>")
    for k, (t, new) in enumerate(zip(types, new_types)):
        if t != new:
            out[formats_at + k * width : formats_at + (k + 1) * width] = b"%8.0g".ljust(width, b"\0")
    shift = len(narrowed.tobytes()) - table.nbytes
    shifted = [offset + shift if offset > offsets[9] else offset for offset in offsets]
    out[start : start + 14 * 8] = struct.pack(f"{order}14Q", *shifted)
    with atomic_path(path) as temporary:
        temporary.write_bytes(bytes(out))


def rename_label_sets(path, names: dict[str, str]) -> None:
    """Rename the value label sets of some variables of a .dta that pyreadstat wrote.

    pyreadstat names a variable's label set after its own rules (``soc20200``); the
    published files use declared names (``soc2020a``, ``ns_secl``). A name is a fixed-width
    field both where variables point to their set (<value_label_names>) and in the set
    itself (<lbl> in <value_labels>), so renaming moves no offset. Two variables that
    share a set are refused (pyreadstat writes one set per variable).

    Parameters
    ----------
    path : path
        The .dta, replaced atomically.
    names : dict
        Variable -> new label set name.
    """
    path = Path(path)
    data = bytearray(path.read_bytes())
    release, order, _, offsets = _stata_layout(path, bytes(data))
    width = _NAME_BYTES[release]
    encoding = "latin-1" if release == 117 else "utf-8"
    count_at = data.index(b"<K>") + 3
    variables = struct.unpack(f"{order}{'H' if release < 119 else 'I'}", data[count_at : count_at + (2 if release < 119 else 4)])[0]
    names_at = data.index(b"<varnames>", offsets[3]) + len(b"<varnames>")
    sets_at = data.index(b"<value_label_names>", offsets[6]) + len(b"<value_label_names>")

    def field(raw: bytes) -> str:
        return raw.split(b"\0", 1)[0].decode(encoding)

    renames = {}
    for k in range(variables):
        variable = field(data[names_at + k * width : names_at + (k + 1) * width])
        old = field(data[sets_at + k * width : sets_at + (k + 1) * width])
        if variable in names and old:
            new = names[variable].encode(encoding)
            if len(new) >= width:
                raise ValueError(f"label set name {names[variable]!r} is too long for this Stata format")
            if old in renames:
                raise ValueError(f"{path}: label set {old} is shared by several variables; cannot rename it for one")
            renames[old] = new.ljust(width, b"\0")
            data[sets_at + k * width : sets_at + (k + 1) * width] = renames[old]
    at = offsets[11]
    while (at := data.find(b"<lbl>", at, offsets[12])) >= 0:
        name_at = at + len(b"<lbl>") + 4
        length = struct.unpack(f"{order}I", data[at + 5 : at + 9])[0]
        old = field(data[name_at : name_at + width])
        if old in renames:
            data[name_at : name_at + width] = renames[old]
        at = name_at + width + 3 + length
    with atomic_path(path) as temporary:
        temporary.write_bytes(bytes(data))


def add_dta_notes(path, notes: list[str]) -> None:
    """Attach ``notes`` as the dataset's Stata notes to a .dta that pyreadstat wrote.

    pyreadstat cannot write characteristics, so they are inserted into the file's empty
    <characteristics> section and the offsets of the sections after it shifted. The
    file is replaced atomically; one with characteristics already is refused.
    """
    path = Path(path)
    data = path.read_bytes()
    release, order, start, offsets = _stata_layout(path, data)
    insert_at = offsets[9] - len(_CHARACTERISTICS_END)  # offsets[9]: <data>
    if data[offsets[8] : offsets[9]] != b"<characteristics>" + _CHARACTERISTICS_END:
        raise ValueError(f"{path} already has characteristics; refusing to add notes to it")
    name_bytes = _NAME_BYTES[release]
    encoding = "latin-1" if release == 117 else "utf-8"  # Stata 13 files are not Unicode
    texts = [("note0", str(len(notes)))] + [(f"note{i}", text) for i, text in enumerate(notes, start=1)]
    inserted = b"".join(_characteristic(name, text, name_bytes, order, encoding) for name, text in texts) if notes else b""
    shifted = [offset + len(inserted) if offset >= insert_at else offset for offset in offsets]
    new_map = struct.pack(f"{order}14Q", *shifted)
    out = data[:start] + new_map + data[start + len(new_map) : insert_at] + inserted + data[insert_at:]
    with atomic_path(path) as temporary:
        temporary.write_bytes(out)


def move_aside(files, folder, into, note: str | None = None) -> list[str]:
    """Move those of ``files`` (paths below ``folder``) that exist into ``into``, at the same place below it.

    So a rebuild that then fails does not leave earlier products looking current (the
    workflow moves what a run is about to rebuild). ``note``, if given, is written to
    ``into/README.txt`` when anything was moved, to say why the files are there. Returns
    the moved files' paths relative to ``folder``.
    """
    moved = []
    for path in map(Path, files):
        if path.is_file():
            relative = path.relative_to(folder)
            target = Path(into) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            moved.append(str(relative))
    if moved and note:
        (Path(into) / "README.txt").write_text(note)
    return moved

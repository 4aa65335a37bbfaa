"""Stage 1, reading: stream the needed columns of a .dta/.sav/.csv/.parquet file in chunks.

Memory is bounded by one chunk, never by the file, so census-sized inputs fit on a laptop.
Stata files are read with pandas' StataReader rather than pyreadstat: on a 10^6-row file
it reads the fixed-width records with numpy and is about 30x faster, while still seeking
chunk by chunk. SPSS files go through pyreadstat, Parquet through pyarrow's batches and
CSV through pandas' chunked parser, an IPUMS extract (its DDI codebook .xml) through
`camsis.io.ipums`. Value-labelled codes always come back as numbers.

Any failure of the underlying reader becomes one CamsisError line naming the file.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import logging
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat

from camsis.errors import CamsisError
from camsis.io.ipums import codebook_hint, iter_extract_chunks, open_extract
from camsis.io.writing import atomic_path

log = logging.getLogger("camsis.io.reading")

FORMATS = {".dta": "Stata", ".sav": "SPSS", ".zsav": "SPSS", ".csv": "CSV", ".parquet": "Parquet",
           ".xml": "IPUMS"}

# Raw bytes of Stata records read at once: a chunk of a wide file (thousands of survey
# variables) is read in fewer rows, since the reader decodes every column of a record.
STATA_CHUNK_BYTES = 128 * 2**20

PROGRESS_SECONDS = 5.0
# Rows read at a time (config key chunksize); results do not depend on it.
CHUNKSIZE = 1_000_000

_READ_ERRORS = (
    OSError,
    ValueError,  # includes UnicodeDecodeError, pandas' ParserError and pyarrow's ArrowInvalid
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    pa.ArrowException,
    pyreadstat.ReadstatError,
    pyreadstat.PyreadstatError,
)


def _format(path: Path) -> str:
    if not path.exists():
        raise CamsisError(f"input file {path} does not exist")
    if not path.is_file():
        raise CamsisError(f"input {path} is not a file")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise CamsisError(
            f"input file {path} has extension '{path.suffix}'; supported: {', '.join(FORMATS)}{codebook_hint(path)}"
        )
    try:
        open(path, "rb").close()  # the readers would call a file they may not open corrupt
    except OSError as err:
        raise _unreadable(path, kind, err) from None
    return kind


def _unreadable(path: Path, kind: str, err: Exception, encoding: str = "utf-8") -> CamsisError:
    if isinstance(err, OSError) and err.errno is not None:  # the file system's refusal, not the contents
        advice = " (check the file's permissions: ls -l)" if isinstance(err, PermissionError) else ""
        return CamsisError(f"cannot read input file {path}: {err.strerror.lower()}{advice}")
    if kind == "CSV" and isinstance(err, UnicodeDecodeError):
        return CamsisError(
            f"cannot read {path} as {encoding} text (byte 0x{err.object[err.start]:02x} at position {err.start:,}): "
            "set the sheet column encoding to the file's (often latin-1 or cp1252 for files from Windows)"
        )
    reason = " ".join(str(err).split()) or type(err).__name__
    if len(reason) > 200:
        reason = reason[:200] + "..."
    return CamsisError(
        f"cannot read {path}: not a valid {kind} file (truncated, corrupt, or another format"
        f" under this name): {reason}"
    )


def _metadata(path: Path, kind: str):
    reader = pyreadstat.read_dta if kind == "Stata" else pyreadstat.read_sav
    try:
        return reader(str(path), metadataonly=True)[1]
    except _READ_ERRORS as err:
        raise _unreadable(path, kind, err) from None


def input_rows(path) -> int | None:
    """Rows in the file from its metadata (None for CSV, or when the file does not say)."""
    path = Path(path)
    kind = _format(path)
    if kind in ("CSV", "IPUMS"):
        return None
    if kind == "Parquet":
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except _READ_ERRORS as err:
            raise _unreadable(path, kind, err) from None
    rows = _metadata(path, kind).number_rows
    return rows if rows is not None and rows >= 0 else None


def input_columns(path, sep: str = ",", encoding: str = "utf-8") -> list[str]:
    """Names of the file's variables, in file order (`sep` and `encoding` for CSV only)."""
    path = Path(path)
    kind = _format(path)
    try:
        if kind == "CSV":
            return _csv_header(path, sep, encoding)
        if kind == "Parquet":
            return list(pq.ParquetFile(path).schema_arrow.names)
        if kind == "IPUMS":
            return open_extract(path).variables()
    except _READ_ERRORS as err:
        raise _unreadable(path, kind, err, encoding) from None
    return list(_metadata(path, kind).column_names)


def _csv_header(path: Path, sep: str, encoding: str) -> list[str]:
    """The header as written: pandas would rename a second 'hocc' to 'hocc.1' without a word."""
    with open(path, newline="", encoding=encoding) as handle:
        written = next(csv.reader(handle, delimiter=sep), [])
    seen: dict[str, int] = {}
    for position, name in enumerate(written, start=1):
        name = name.lstrip("\ufeff") if position == 1 else name
        if name in seen and name:
            raise CamsisError(f"{path} has two columns named '{name}' (columns {seen[name]} and {position}); "
                              "rename one so the sheet can say which it means")
        seen[name] = position
    return [str(c) for c in pd.read_csv(path, nrows=0, sep=sep, encoding=encoding).columns]


def _separator_hint(path, available: list[str], sep: str) -> str:
    """A CSV read with the wrong separator has one column whose name holds the real one."""
    if len(available) != 1:
        return ""
    for other in (";", "\t", "|", ","):
        if other != sep and other in available[0]:
            shown = "tab" if other == "\t" else f"'{other}'"
            return f" (the header reads as one column: the file looks {shown}-separated; set the sheet column sep)"
    return ""


def file_sha256(path, block: int = 1 << 22) -> str:
    """The input's checksum, so a published file can be traced to the exact data that made it.

    Read in blocks (hashlib releases the GIL), so it can run in a thread beside the reading.
    An IPUMS codebook's checksum covers its data file too: the codebook's bytes, then the data's.
    """
    digest = hashlib.sha256()
    for part in data_files(path):
        with open(part, "rb") as handle:
            while chunk := handle.read(block):
                digest.update(chunk)
    return digest.hexdigest()


def data_files(path) -> list[Path]:
    """The files an input is read from: itself, and for an IPUMS codebook (.xml) also its data file."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        return [path, open_extract(path).data]
    return [path]


def fingerprint(path) -> list[list[int]]:
    """What the file system says changes with an input's contents: device, inode, size, mtime and
    ctime of each of its files (an IPUMS codebook and its data file, see data_files).

    mtime alone is not enough: ``touch -r``, ``cp -p`` and sync tools set it back. ctime
    cannot be set back (the kernel sets it on every write, rename or time change), so a file
    whose contents changed always has a new fingerprint. The fingerprint only says when to
    hash again; the sha256 decides whether the contents changed.
    """
    stats = [os.stat(part) for part in data_files(path)]
    return [[stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns] for stat in stats]


def cached_sha256(path, cache) -> str:
    """The file's sha256, hashed again only when its fingerprint changed since ``cache`` last saw it.

    ``cache`` is a JSON file {absolute path: {"fingerprint": [...], "sha256": ...}}, rewritten
    atomically when an entry changes; a missing or unreadable one is started afresh. So a build
    that checks its inputs' contents at every run reads a multi-GB input once per change of it,
    not once per run (benchmarks/bench_input_checksum.py).
    """
    key, cache = str(Path(path).resolve()), Path(cache)
    try:
        entries = json.loads(cache.read_text())
    except (OSError, ValueError):
        entries = {}
    now = fingerprint(path)
    entry = entries.get(key) if isinstance(entries, dict) else None
    if isinstance(entry, dict) and entry.get("fingerprint") == now and entry.get("sha256"):
        return entry["sha256"]
    log.info("%s: checking its contents (sha256)", path)
    digest = file_sha256(path)
    entries = entries if isinstance(entries, dict) else {}
    entries[key] = {"fingerprint": now, "sha256": digest}
    try:
        with atomic_path(cache) as temporary:
            temporary.write_text(json.dumps(entries, indent=1))
    except OSError as error:  # a read-only project still builds; it hashes again next time
        log.warning("cannot keep input checksums in %s (%s)", cache, error)
    return digest


def input_labels(path) -> tuple[dict, dict]:
    """Value labels {variable: {value: label}} and variable labels {variable: label} of a file.

    Both are empty for formats without them (CSV, Parquet).
    """
    path = Path(path)
    kind = _format(path)
    if kind == "IPUMS":
        extract = open_extract(path)
        return extract.value_labels(), extract.variable_labels()
    if kind not in ("Stata", "SPSS"):
        return {}, {}
    meta = _metadata(path, kind)
    variable_labels = {c: v for c, v in meta.column_names_to_labels.items() if v}
    return dict(meta.variable_value_labels), variable_labels


def read_columns(path, columns: list[str], chunksize: int = CHUNKSIZE) -> tuple[pd.DataFrame, dict, dict]:
    """Read only ``columns`` of a file into memory, with their labels.

    Parameters
    ----------
    path : path
        A .dta, .sav, .csv or .parquet file.
    columns : list of str
        The variables wanted (each once, in this order).
    chunksize : int
        Rows read at a time (see ``iter_chunks``).

    Returns
    -------
    frame : DataFrame
    value_labels : dict
        {variable: {value: label}} of the columns read.
    variable_labels : dict
        {variable: label} of the columns read.
    """
    columns = list(dict.fromkeys(columns))
    frame = pd.concat(list(iter_chunks(path, columns, chunksize)), ignore_index=True)
    value_labels, variable_labels = input_labels(path)
    return (frame, {c: v for c, v in value_labels.items() if c in columns},
            {c: v for c, v in variable_labels.items() if c in columns})


def check_columns(path, columns: list[str], available: list[str], sep: str = ",") -> None:
    """Refuse variables the file (or data, ``path`` being what to call it) does not have, listing the ones it does.

    The one "it has:" message of the package: the reading, the ESRES tool and the
    ``camsis`` command all refuse a missing variable with it.
    """
    missing = [c for c in columns if c not in available]
    if not missing:
        return
    hints = []
    for name in missing:
        # the same name in other case first ('Hocc' -> 'hocc' or 'HOCC', not the as close 'wocc')
        close = [a for a in available if a.lower() == name.lower()] or difflib.get_close_matches(name, available, n=1)
        if close:
            hints.append(f"'{name}' (did you mean {' or '.join(repr(c) for c in close)}?)")
        else:
            hints.append(f"'{name}'")
    shown = ", ".join(available[:20]) + (f", ... ({len(available)} in all)" if len(available) > 20 else "")
    noun = "variable" if len(missing) == 1 else "variables"
    raise CamsisError(f"{noun} {', '.join(hints)} not in {path}; it has: {shown}{_separator_hint(path, available, sep)}")


class _Progress:
    """Log rows read, share done and rate, at most every PROGRESS_SECONDS and at the end."""

    def __init__(self, path: Path, total: int | None):
        self.path, self.total, self.rows = path, total, 0
        self.start = self.last = time.monotonic()

    def _message(self, now: float) -> str:
        rate = self.rows / max(now - self.start, 1e-9)
        share = f" of {self.total:,} ({self.rows / self.total:.0%})" if self.total else ""
        return f"{self.path.name}: {self.rows:,}{share} rows read, {rate:,.0f} rows/s"

    def update(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS:
            self.last = now
            log.info(self._message(now))

    def finish(self) -> None:
        log.info(self._message(time.monotonic()) + ", done")


def _stata_chunks(path: Path, columns: list[str], chunksize: int, total: int) -> Iterator[pd.DataFrame]:
    bytes_per_row = os.path.getsize(path) / max(total, 1)  # an upper bound on the record width
    rows = max(1, min(chunksize, int(STATA_CHUNK_BYTES / bytes_per_row)))
    with pd.read_stata(
        path,
        chunksize=rows,
        columns=columns,
        convert_categoricals=False,
        convert_dates=False,
        convert_missing=False,
        preserve_dtypes=True,
    ) as reader:
        yield from reader


def _spss_chunks(path: Path, columns: list[str], chunksize: int) -> Iterator[pd.DataFrame]:
    for chunk, _ in pyreadstat.read_file_in_chunks(
        pyreadstat.read_sav,
        str(path),
        chunksize=chunksize,
        usecols=columns,
        apply_value_formats=False,
        disable_datetime_conversion=True,
    ):
        yield chunk


def _parquet_chunks(path: Path, columns: list[str], chunksize: int, ids: list[str]) -> Iterator[pd.DataFrame]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunksize, columns=columns):
        frame = batch.to_pandas()
        for name in ids:  # pyarrow turns an integer column with nulls into float64, losing ids above 2^53
            column = batch.column(name)
            if pa.types.is_integer(column.type) and column.null_count:
                frame[name] = column.to_pandas(types_mapper=lambda _: pd.Int64Dtype())
        yield frame


def _csv_chunks(path: Path, columns: list[str], chunksize: int, sep: str, encoding: str,
                ids: list[str]) -> Iterator[pd.DataFrame]:
    # ids are read as text: pandas reads a column of whole numbers with a blank as float64
    yield from pd.read_csv(path, usecols=columns, chunksize=chunksize, sep=sep, encoding=encoding,
                           dtype=dict.fromkeys(ids, str) or None)


def iter_chunks(path, columns: list[str], chunksize: int = CHUNKSIZE, sep: str = ",",
                encoding: str = "utf-8", ids: list[str] = ()) -> Iterator[pd.DataFrame]:
    """Yield DataFrames holding `columns` (in that order, once each) of at most `chunksize` rows.

    Codes keep their numeric values (value labels are not applied); missing values,
    Stata's extended ones included, come back as NaN. `sep` and `encoding` apply to CSV.
    Columns named in `ids` must keep every digit: a CSV reads them as text and a Parquet
    integer column with nulls as pandas' Int64, never as float64 (which holds whole numbers
    exactly only up to 2^53); ``camsis.method.linking.exact_ids`` turns them into integers.
    """
    path = Path(path)
    kind = _format(path)
    if chunksize < 1:
        raise CamsisError(f"chunk size must be at least 1 row, got {chunksize}")
    wanted = list(dict.fromkeys(columns))
    check_columns(path, wanted, input_columns(path, sep, encoding), sep)
    total = input_rows(path)
    progress = _Progress(path, total)
    if kind == "Stata":
        chunks = _stata_chunks(path, wanted, chunksize, total)
    elif kind == "SPSS":
        chunks = _spss_chunks(path, wanted, chunksize)
    elif kind == "Parquet":
        chunks = _parquet_chunks(path, wanted, chunksize, list(ids))
    elif kind == "IPUMS":
        chunks = iter_extract_chunks(path, wanted, chunksize)
    else:
        chunks = _csv_chunks(path, wanted, chunksize, sep, encoding, list(ids))
    try:
        for chunk in chunks:
            progress.update(len(chunk))
            yield chunk if list(chunk.columns) == wanted else chunk[wanted]
    except _READ_ERRORS as err:
        raise _unreadable(path, kind, err, encoding) from None
    if total is not None and progress.rows != total:
        raise CamsisError(
            f"{path} ends after {progress.rows:,} of the {total:,} rows its header announces (truncated?)"
        )
    progress.finish()

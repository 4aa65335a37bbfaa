"""Stage 1, reading an IPUMS extract as downloaded: a DDI codebook (.xml) and the data file beside it.

IPUMS (International, USA, CPS ...) delivers an extract as a codebook ``ipumsi_00012.xml``
and a data file ``ipumsi_00012.dat.gz`` (fixed width, implied decimals: ``PERWT`` 123456
means 1234.56), or the same data as .csv or .parquet. A sheet's ``input`` names the
codebook; the data file is found beside it and read in chunks through ``ipumspy``
(``readers.read_ipums_ddi``, ``readers.read_microdata_chunked``), which places the columns
and applies the implied decimals, so memory is bounded by one chunk. A Parquet data file
is read by pyarrow's batches instead (ipumspy reads Parquet whole); its decimals are
already applied, as a CSV's are. Variables keep their IPUMS names (``SERIAL``, ``PERNUM``,
``SPLOC``, ``SEX``, ``OCCISCO`` ...) and come back as float64, as every reader of
``camsis.io.reading`` gives them.

Only rectangular (person) extracts are read: a hierarchical one interleaves household and
person records and is refused with one line saying how to request a rectangular one.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from ipumspy import readers

from camsis.errors import CamsisError

log = logging.getLogger("camsis.io.ipums")

# Labels IPUMS gives the codes of no answer ("Unknown", "NIU (not in universe)", "Missing", ...).
MISSING_LABEL = re.compile(r"\s*(unknown|missing|niu\b|not in universe|not reported|unknown/missing)", re.I)

# The data file's names IPUMS uses, in the order they are looked for beside the codebook.
DATA_SUFFIXES = (".dat.gz", ".dat", ".csv.gz", ".csv", ".parquet")


@dataclass(frozen=True)
class Extract:
    """An IPUMS extract: its codebook and the data file it describes.

    Attributes
    ----------
    codebook_path : Path
        The DDI codebook (.xml) the sheet names.
    codebook : ipumspy.ddi.Codebook
        The parsed codebook (variables, their columns, decimals and categories).
    data : Path
        The data file found beside the codebook (.dat.gz, .dat, .csv(.gz) or .parquet).
    categories : dict
        {variable: {code text: label}}: the codebook's categories (``label_sets``).
    """

    codebook_path: Path
    codebook: object
    data: Path
    categories: dict

    def missing_codes(self) -> dict[str, list[float]]:
        """{variable: codes} the codebook labels as no answer (MISSING_LABEL: Unknown, NIU, Missing ...).

        They are read as missing, as a Stata or SPSS file's missing values are: SEX 9
        "Unknown" must make a couple ``sex_missing``, not a couple with a third sex.
        """
        missing = {}
        for name, categories in self.categories.items():
            codes = [_number(code) for code, label in categories.items() if MISSING_LABEL.match(label)]
            if codes := [code for code in codes if code is not None]:
                missing[name] = codes
        return missing

    def variables(self) -> list[str]:
        """The extract's variables, in file order."""
        return [variable.name for variable in self.codebook.data_description]

    def value_labels(self) -> dict[str, dict[float, str]]:
        """{variable: {value: label}} of the variables whose codebook lists numeric categories."""
        labels = {}
        for name, categories in self.categories.items():
            numeric = {_number(code): label for code, label in categories.items()}
            numeric = {value: label for value, label in numeric.items() if value is not None}
            if numeric:
                labels[name] = numeric
        return labels

    def variable_labels(self) -> dict[str, str]:
        """{variable: label} as the codebook gives them."""
        return {variable.name: variable.label for variable in self.codebook.data_description if variable.label}


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_codebook(path) -> object:
    """The parsed DDI codebook (``ipumspy.readers.read_ipums_ddi``); one CamsisError line when it is not one."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", readers.CitationWarning)  # the citation goes in the docs, not each log
            return readers.read_ipums_ddi(path)
    except ET.ParseError as error:
        raise CamsisError(f"cannot read {path}: not an XML file ({error})") from None
    except (AttributeError, KeyError, IndexError, TypeError, ValueError, NotImplementedError) as error:
        # ipumspy reaches for elements a DDI codebook has; another XML file lacks them
        reason = " ".join(str(error).split()) or type(error).__name__
        raise CamsisError(f"cannot read {path}: not an IPUMS DDI codebook (an extract's .xml): {reason}") from None


def find_data_file(codebook_path, codebook) -> Path:
    """The data file beside the codebook: the name it gives (``fileName``), compressed or not, else
    the codebook's own stem with any of DATA_SUFFIXES."""
    folder = Path(codebook_path).parent
    named = Path(codebook.file_description.filename or "").name
    stems = [_stem(named)] if named else []
    stems.append(Path(codebook_path).stem)
    candidates = ([named, named + ".gz"] if named else []) + [
        stem + suffix for stem in dict.fromkeys(stems) for suffix in DATA_SUFFIXES]
    for name in dict.fromkeys(candidates):
        if (folder / name).is_file():
            return folder / name
    raise CamsisError(
        f"IPUMS codebook {codebook_path} describes data file {named or '(unnamed)'}, which is not beside it "
        f"(looked in {folder} for {', '.join(dict.fromkeys(candidates))}); put the extract's data file "
        f"next to its codebook")


def _stem(name: str) -> str:
    for suffix in DATA_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def codebook_hint(path) -> str:
    """For an IPUMS data file named where its codebook belongs: the words that say so ("" otherwise)."""
    path = Path(path)
    stem = _stem(path.name)
    if stem == path.name or not (path.parent / f"{stem}.xml").is_file():
        return ""
    return f" (it looks like the data file of an IPUMS extract: name its codebook {path.parent / stem}.xml instead)"


@functools.lru_cache(maxsize=8)
def _open(path: str, modified: float, size: int) -> Extract:
    codebook = read_codebook(path)
    structure = codebook.file_description.structure
    if structure != "rectangular":
        raise CamsisError(
            f"IPUMS codebook {path} describes a {structure} extract (household and person records "
            f"interleaved); camsis reads rectangular ones: request the extract again with data structure "
            f"'rectangular (persons)'")
    return Extract(Path(path), codebook, find_data_file(path, codebook), _categories(path))


def open_extract(path) -> Extract:
    """The extract a codebook describes, its data file found and checked (parsed once per file version)."""
    path = Path(path)
    if not path.is_file():
        raise CamsisError(f"input file {path} does not exist")
    stat = path.stat()
    return _open(str(path), stat.st_mtime, stat.st_size)


def iter_extract_chunks(path, columns: list[str], chunksize: int) -> Iterator[pd.DataFrame]:
    """Yield `columns` (IPUMS names, in this order) of the extract in chunks of at most `chunksize` rows.

    Implied decimals are applied; numeric variables are float64 (missing: NaN), character
    variables text. `columns` must be variables of the codebook (``camsis.io.reading`` checks).
    """
    extract = open_extract(path)
    wanted = list(dict.fromkeys(columns))
    numeric = {v.name for v in extract.codebook.data_description if v.vartype in ("numeric", "integer", "float")}
    missing = {name: codes for name, codes in extract.missing_codes().items() if name in wanted and name in numeric}
    for name, codes in missing.items():
        labels = extract.categories[name]
        shown = ", ".join(f"{code} {labels[code]!r}" for code in labels if _number(code) in codes)
        log.info("%s: %s codes read as missing: %s", extract.codebook_path.name, name, shown)
    try:
        if extract.data.name.lower().endswith(".parquet"):
            batches = (batch.to_pandas() for batch in
                       pq.ParquetFile(extract.data).iter_batches(batch_size=chunksize, columns=wanted))
        else:
            dtype = {name: np.float64 for name in wanted if name in numeric}
            batches = readers.read_microdata_chunked(extract.codebook, filename=extract.data, subset=wanted,
                                                     chunksize=chunksize, dtype=dtype)
        for chunk in batches:
            chunk = chunk[wanted].astype({name: np.float64 for name in wanted if name in numeric})
            for name, codes in missing.items():
                chunk[name] = chunk[name].mask(chunk[name].isin(codes))
            yield chunk
    except (OSError, EOFError, ValueError, TypeError, KeyError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise CamsisError(f"cannot read {extract.data} (the data file of IPUMS codebook {path}): "
                          f"{reason[:200]}") from None


def label_sets(path) -> dict[str, dict[str, str]]:
    """The codebook's categories as label sets {variable: {code text: label}}, codes as written.

    IPUMS writes codes at the variable's full width ("0110"), which is what a code frame's
    hierarchy needs (``camsis.classifications.codeframe``), so they are read from the XML as text (ipumspy
    keeps them as numbers keyed by label, and two codes with one label would be one). The
    data file is not needed.
    """
    read_codebook(path)  # one line for a file that is not a codebook
    return _categories(path)


def _categories(path) -> dict[str, dict[str, str]]:
    root = ET.parse(path).getroot()
    namespace = {"ddi": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {"ddi": ""}
    prefix = "ddi:" if namespace["ddi"] else ""
    sets = {}
    for variable in root.iterfind(f"./{prefix}dataDscr/{prefix}var", namespace):
        categories = {}
        for category in variable.iterfind(f"./{prefix}catgry", namespace):
            value = category.find(f"./{prefix}catValu", namespace)
            label = category.find(f"./{prefix}labl", namespace)
            if value is not None and value.text is not None:
                categories[value.text.strip()] = (label.text or "").strip() if label is not None else ""
        if categories:
            sets[variable.attrib["name"]] = categories
    return sets


def codebook_variable_labels(path) -> dict[str, str]:
    """{variable: label} of a codebook (without looking for its data file)."""
    return {v.name: v.label for v in read_codebook(path).data_description if v.label}

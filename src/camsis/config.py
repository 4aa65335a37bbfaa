"""The sheet of scales to build: read it, check it, and turn a row into build options."""

from __future__ import annotations

import codecs
import difflib
import io
import logging
import os
import re
import warnings
from pathlib import Path

import pandas as pd

from camsis.classifications.statuses import available_schemes
from camsis.errors import CamsisError

log = logging.getLogger("camsis.config")

REQUIRED_COLUMNS = ["scale", "input", "occ1", "occ2", "weight", "classification", "psds", "diagonal_digits"]
OPTIONAL_COLUMNS = ["diagonal_groups", "psds_smooth", "recodes", "compare_to", "filter", "sep", "encoding", "weight_type", "layout",
                    "estimator", "rc_dimensions", "version", "title", "author", "blanked_cells"]
# Columns of a scale also built on occupation-by-status units (camsis.classifications.statuses): the partners'
# status variables and the scheme (data/statuses/{statuses}.tsv) they are coded in.
STATUS_COLUMNS = ["status1", "status2", "statuses"]
OPTIONAL_COLUMNS += STATUS_COLUMNS
# Columns of a `layout: persons` row (one row per person naming the partner; see camsis.method.linking).
PERSON_COLUMNS = ["person", "partner", "household", "sex", "first_sex", "occ", "status", "wave", "repeat_couples"]
PERSON_REQUIRED = ["person", "partner", "sex", "first_sex", "occ"]
OPTIONAL_COLUMNS += PERSON_COLUMNS
CHOICES = {"weight_type": ("survey", "frequency"), "layout": ("couples", "persons"), "repeat_couples": ("all", "first")}
SCALE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A scale's name goes into file names (results/{scale}/{scale}_by_status.dta ...), which
# most file systems cut at 255 bytes; 64 leaves room for every product.
SCALE_NAME_LENGTH = 64
# Snakemake refuses a wildcard value that ends in one piece repeated 20 times or more.
PERIODIC = re.compile(r"(.+)\1{19,}$")
# Names a sheet may give for a CSV separator it cannot write in a tab-separated cell.
SEPARATORS = {"": ",", ",": ",", ";": ";", "|": "|", "tab": "\t", "\\t": "\t"}


def parse_groups(text: str, where: str) -> list[int]:
    """'1,2' or '1 2' -> [1, 2]; empty -> []."""
    items = [item for item in re.split(r"[,\s]+", str(text).strip()) if item]
    try:
        return [int(item) for item in items]
    except ValueError:
        raise CamsisError(f"{where}: expected group codes such as '1,2', got '{text}'") from None


def load_scales(path, classifications_dir, statuses_dir=None) -> pd.DataFrame:
    """Read and check the scales sheet; one row per scale, indexed by scale name.

    ``statuses_dir`` holds the status schemes the ``statuses`` column may name (default:
    ``statuses`` beside the classifications' folder, i.e. data/statuses).
    """
    path = Path(path)
    if not path.is_file():
        raise CamsisError(f"scales sheet {path} does not exist")
    text, lines = _sheet_lines(path)
    try:
        with warnings.catch_warnings():  # surplus cells are checked below, in one line naming them
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            sheet = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False, index_col=False)
    except pd.errors.EmptyDataError:
        raise CamsisError(f"scales sheet {path} is empty: it needs a header line and one line per scale") from None
    except pd.errors.ParserError as error:
        raise CamsisError(f"scales sheet {path} is not a UTF-8 tab-separated file ({' '.join(str(error).split())})") from None
    _check_row_widths(path, text, lines)
    sheet.columns = [column.strip() for column in sheet.columns]
    blank = [c for c in sheet.columns if c.startswith("Unnamed:") and (sheet[c] == "").all()]
    sheet = sheet.drop(columns=blank)  # a trailing tab in a spreadsheet's export
    missing = [column for column in REQUIRED_COLUMNS if column not in sheet.columns]
    if missing:
        raise CamsisError(f"scales sheet {path} lacks column(s) {', '.join(missing)} (needs: {' '.join(REQUIRED_COLUMNS)})")
    unknown = [column for column in sheet.columns if column not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:  # a misspelt optional column would otherwise be ignored without a word
        hints = [f"{c} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(c, OPTIONAL_COLUMNS, n=1)) else c
                 for c in unknown]
        raise CamsisError(
            f"scales sheet {path} has unknown column(s) {', '.join(hints)} (known: {' '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})"
        )
    if sheet.empty:
        raise CamsisError(f"scales sheet {path} has no scales")
    for column in OPTIONAL_COLUMNS:
        if column not in sheet.columns:
            sheet[column] = ""
    sheet = sheet.apply(lambda column: column.str.strip())
    for line, row in zip(lines[1:], sheet.itertuples(index=False)):
        where = f"scales sheet {path}, line {line}"
        if not SCALE_NAME.match(row.scale):
            raise CamsisError(f"{where}: scale name '{row.scale}' must be letters, digits, '_', '-' or '.'")
        if len(row.scale) > SCALE_NAME_LENGTH or PERIODIC.search(row.scale):
            reason = (f"is {len(row.scale)} characters long; at most {SCALE_NAME_LENGTH} fit in its file names"
                      if len(row.scale) > SCALE_NAME_LENGTH else "repeats one piece 20 times or more, which Snakemake refuses")
            raise CamsisError(f"{where}: scale name '{row.scale[:20]}...' {reason}")
        check_csv_dialect(row.sep, row.encoding, where)
        for column, choices in CHOICES.items():
            if getattr(row, column) not in ("", *choices):
                raise CamsisError(
                    f"{where}: {column} of scale {row.scale} must be {' or '.join(choices)}, got '{getattr(row, column)}'"
                )
        _check_layout(row, where)
        for column in ("input", "classification"):
            if not getattr(row, column):
                raise CamsisError(f"{where}: column {column} is empty for scale {row.scale}")
        if row.weight_type == "frequency" and not row.weight:
            raise CamsisError(f"{where}: weight_type frequency of scale {row.scale} needs a weight variable (the count of each row)")
        if not re.fullmatch(r"\d+", row.diagonal_digits or ""):
            raise CamsisError(
                f"{where}: diagonal_digits of scale {row.scale} must be a whole number >= 0, got '{row.diagonal_digits}'"
            )
        if not (Path(classifications_dir) / f"{row.classification}.tsv").is_file():
            known = sorted(p.stem for p in Path(classifications_dir).glob("*.tsv"))
            raise CamsisError(
                f"{where}: unknown classification '{row.classification}' for scale {row.scale} (known: {', '.join(known)})"
            )
        parse_groups(row.diagonal_groups, where)
        _check_statuses(row, where, statuses_dir or Path(classifications_dir).parent / "statuses")
    duplicated = sheet["scale"][sheet["scale"].duplicated()].unique()
    if len(duplicated):
        raise CamsisError(f"scales sheet {path}: scale name(s) {', '.join(duplicated)} appear more than once")
    _check_not_built_from_itself(sheet, path, dict(zip(sheet["scale"], lines[1:])))
    return sheet.set_index("scale", drop=False)


# Columns naming files a scale is built from; compare_to is read only after its score file is made.
BUILT_FROM = ("input", "psds", "psds_smooth", "recodes")


def _product_of(cell: str, scales) -> str | None:
    """The scale whose results folder (results/{scale}/...) holds the file a cell names, if any."""
    if not cell:
        return None
    path = Path(cell)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return None
    parts = Path(os.path.normpath(path)).parts
    return parts[1] if len(parts) > 2 and parts[0] == "results" and parts[1] in scales else None


def _check_not_built_from_itself(sheet: pd.DataFrame, path: Path, lines: dict) -> None:
    """Refuse a scale built, directly or through other scales, from its own products.

    Snakemake would stop with a CyclicGraphException naming rules, not the sheet's cell.
    """
    scales = set(sheet["scale"])
    uses = {row["scale"]: [(f"{column} {row[column]}", other) for column in BUILT_FROM
                           if (other := _product_of(row[column], scales))]
            for _, row in sheet.iterrows()}

    def route_back(scale: str, current: str, seen: list[str]) -> list[str] | None:
        """The scales between ``current`` and a product of ``scale`` it is built from, if any."""
        for _, other in uses[current]:
            if other == scale:
                return seen
            if other not in seen:
                found = route_back(scale, other, seen + [other])
                if found is not None:
                    return found
        return None

    for scale in sheet["scale"]:
        for cell, other in uses[scale]:
            between = [] if other == scale else route_back(scale, other, [other])
            if between is not None:
                through = f" (through scale{'s' if len(between) > 1 else ''} {', '.join(between)})" if between else ""
                raise CamsisError(f"scales sheet {path}, line {lines[scale]}: {cell} of scale {scale} is made by the "
                                  f"build of scale {scale} itself{through}: a scale cannot be built from its own results")


def _check_statuses(row, where: str, statuses_dir) -> None:
    """A by-status scale names its status variables and an existing scheme, or none of them.

    A couples file names each partner's (status1, status2), a person file each person's
    own (status; linking gives each couple both). Checked with the sheet, so an incomplete
    row stops the run before any job rather than building a title-only scale the user did
    not ask for.
    """
    persons = row.layout == "persons"
    needed = ["status", "statuses"] if persons else STATUS_COLUMNS
    for column in ("status1", "status2") if persons else ():
        if getattr(row, column):
            raise CamsisError(f"{where}: column {column} of scale {row.scale} is not used with layout persons "
                              f"(each person's own status variable goes in column status); leave it empty")
    given = {column: getattr(row, column) for column in needed}
    if not any(given.values()):
        return
    missing = [column for column in needed if not given[column]]
    if missing:
        present = [column for column in needed if given[column]]
        kind = "a by-status person file needs status and statuses" if persons else \
            "a by-status scale needs status1, status2 and statuses"
        raise CamsisError(f"{where}: scale {row.scale} gives {' and '.join(present)} but not {' and '.join(missing)} "
                          f"({kind})")

    known = available_schemes(statuses_dir)
    if given["statuses"] not in known:
        raise CamsisError(f"{where}: unknown status scheme '{given['statuses']}' for scale {row.scale} "
                          f"(known in {statuses_dir}: {', '.join(known) or 'none'})")


def _sheet_lines(path: Path) -> tuple[str, list[int]]:
    """The sheet without its comment lines, and the line number in the file of each line kept.

    A comment is a line whose first character (after blanks) is ``#``; a ``#`` anywhere
    else is part of a cell (a title ``GB #2``, a filter ``code != 1 # ...``), never the end of
    the row: reading the sheet with pandas' comment character would drop the row's later cells
    without a word.
    """
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise CamsisError(f"scales sheet {path} is not a UTF-8 tab-separated file ({error})") from None
    except OSError as error:
        raise CamsisError(f"scales sheet {path} cannot be read ({error.strerror or error})") from None
    kept, numbers = [], []
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            kept.append(line)
            numbers.append(number)
    return "\n".join(kept) + "\n", numbers


def _check_row_widths(path: Path, text: str, numbers: list[int]) -> None:
    """A line with more filled cells than the header has columns would lose its last cells silently."""
    lines = text.splitlines()
    if not lines:
        return  # nothing but blank lines: pandas' reading refuses it in one line
    width = len(lines[0].split("\t"))
    for number, line in zip(numbers[1:], lines[1:]):
        cells = line.split("\t")
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            raise CamsisError(f"scales sheet {path}, line {number}: {len(cells)} cells but the header names {width} "
                              f"columns (extra: {', '.join(repr(c) for c in cells[width:] if c.strip())})")


def check_csv_dialect(sep: str, encoding: str, where: str) -> None:
    """The sheet's sep and encoding cells must name a separator and a codec Python knows."""
    if sep not in SEPARATORS:
        raise CamsisError(f"{where}: sep '{sep}' is not a separator; use one of , ; | tab")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CamsisError(f"{where}: encoding '{encoding}' is unknown; use e.g. utf-8, latin-1 or cp1252") from None


def csv_separator(sep: str) -> str:
    """The sheet's sep cell as pandas takes it ('tab' -> a tab; empty -> ',')."""
    return SEPARATORS[sep or ""]


def _check_layout(row, where: str) -> None:
    """A couples row names occ1 and occ2; a persons row names its person columns and not those.

    A column the row's layout does not use is refused rather than ignored.
    """
    if row.layout == "persons":
        needed, unused = PERSON_REQUIRED, ["occ1", "occ2"]
    else:
        needed, unused = ["occ1", "occ2"], PERSON_COLUMNS
    for column in needed:
        if not getattr(row, column):
            layout = "persons" if row.layout == "persons" else "couples (the default)"
            raise CamsisError(f"{where}: column {column} is empty for scale {row.scale} (layout {layout} needs "
                              f"{', '.join(needed)})")
    for column in unused:
        if getattr(row, column):
            raise CamsisError(f"{where}: column {column} of scale {row.scale} is not used with layout "
                              f"{row.layout or 'couples'}; leave it empty")
    if row.layout == "persons":
        try:
            float(row.first_sex)
        except ValueError:
            raise CamsisError(f"{where}: first_sex of scale {row.scale} must be a number (a value of "
                              f"variable {row.sex}), got '{row.first_sex}'") from None


def read_recodes(path) -> dict[int, int]:
    """Hand-written merges for the CA: a TSV with columns ``from`` and ``to`` (unit codes).

    A code given twice as ``from`` is refused when its two ``to`` differ (which one was
    meant cannot be guessed) and warned about when they agree.
    """
    path = Path(path)
    if not path.is_file():
        raise CamsisError(f"recodes file {path} does not exist")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise CamsisError(f"recodes file {path} is empty: it needs the header 'from<TAB>to' "
                          "(and one line per recode, or none)") from None
    except (OSError, ValueError) as error:
        raise CamsisError(f"recodes file {path} cannot be read as a tab-separated file "
                          f"({' '.join(str(error).split())})") from None
    if list(table.columns[:2]) != ["from", "to"]:
        raise CamsisError(f"recodes file {path} must start with the header 'from<TAB>to', got {list(table.columns)}")
    recodes: dict[int, int] = {}
    for line, (source, target) in enumerate(zip(table["from"], table["to"]), start=2):
        try:
            pair = int(source), int(target)
        except ValueError:
            raise CamsisError(f"recodes file {path} holds a code that is not a whole number "
                              f"({source!r} -> {target!r})") from None
        if pair[0] in recodes and recodes[pair[0]] != pair[1]:
            raise CamsisError(f"recodes file {path}: code {pair[0]} is recoded twice, to {recodes[pair[0]]} and to "
                              f"{pair[1]}; keep one line for it")
        if pair[0] in recodes:
            log.warning("recodes file %s: code %d -> %d is given twice (the same recode; one line is enough)",
                        path, *pair)
        recodes[pair[0]] = pair[1]
    return recodes

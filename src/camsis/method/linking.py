"""Stage 1, linking: turn a file of persons with partner links into one row per couple.

Survey data come as one row per person naming the partner: UK panels by a person id
unique in the whole file (Understanding Society ``pidp``/``ppid``), censuses by a person
number within the household (IPUMS ``serial``/``pernum``/``sploc``). A couple is two
persons who name each other (in the same household and wave when those are given);
partner 1 is the one whose sex is ``first_sex`` and the couple carries partner 1's
weight. Everything else is counted, never silently lost (see LINK_COUNTS).

Linking needs the whole file at once (a partner may be anywhere in it), so the persons
are read in chunks into a few compact arrays (ids, sex flag, occupation, status, weight)
and joined by hashing the ids (pandas' Index) and looking the partners up: memory is
about 50 bytes per person plus the join's keys and hash table, not a DataFrame of the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.io.reading import CHUNKSIZE, input_rows, iter_chunks
from camsis.method.pairs import filter_rows, filter_variables, to_codes

log = logging.getLogger("camsis.method.linking")

# persons = filtered + no_partner + partner_not_found + link_not_reciprocal + 2 * couples
# couples = couples_kept + sex_missing + same_sex + repeat_couple (the last only with repeat_couples "first")
LINK_COUNTS = (
    "persons", "filtered", "no_partner", "partner_not_found", "link_not_reciprocal",
    "couples", "sex_missing", "same_sex", "repeat_couple", "couples_kept",
)
REPEAT_COUPLES = ("all", "first")

# Sex of a person as stored: partner 1's sex, any other sex, missing (NaN or negative).
FIRST, OTHER, NO_SEX = 1, 0, -1


@dataclass(frozen=True)
class PersonColumns:
    """Variables of a person file (sheet columns of a ``layout: persons`` row).

    Attributes
    ----------
    person, partner : str
        The person's id and the partner's (0, negative or empty: no partner).
    sex : str
        The variable whose value ``first_sex`` makes a person partner 1.
    occ : str
        The person's own occupation code.
    household, wave, status, weight : str or None
        Optional. With ``household``, person and partner are numbers within the household;
        links are made within a ``wave`` and repeated couples found across waves; ``status``
        is the person's status code; a couple takes partner 1's ``weight``.
    """

    person: str
    partner: str
    sex: str
    occ: str
    household: str | None = None
    wave: str | None = None
    status: str | None = None
    weight: str | None = None

    def ids(self) -> list[str]:
        """The id variables, each once: read as exact integers (see exact_ids)."""
        return list(dict.fromkeys(name for name in (self.person, self.partner, self.household, self.wave) if name))

    def variables(self) -> list[str]:
        """The file's columns to read, each once (a column may play two parts)."""
        names = [self.person, self.partner, self.sex, self.occ, self.household, self.wave, self.status, self.weight]
        return list(dict.fromkeys(name for name in names if name))


@dataclass
class Persons:
    """The columns of a person file that linking needs, one array each (length: persons kept).

    ``person``, ``partner`` (-1: none), ``household`` and ``wave`` are int64 (None when
    not given: nothing is held for a variable the file does not name), ``sex`` is FIRST, OTHER or NO_SEX (int8), ``occ``, ``status`` and ``weight``
    float64 (status and weight None when not given). ``read`` counts every row, ``filtered``
    the rows a filter left out, ``sex_values`` up to 20 distinct values of the sex variable
    (for the error when no row has ``first_sex``), ``source`` names the file.
    """

    person: np.ndarray
    partner: np.ndarray
    household: np.ndarray | None
    wave: np.ndarray | None
    sex: np.ndarray
    occ: np.ndarray
    status: np.ndarray | None
    weight: np.ndarray | None
    read: int = 0
    filtered: int = 0
    sex_values: list = field(default_factory=list)
    source: str = ""


@dataclass
class Linked:
    """Couples of a person file, one row each, and how every person was accounted for.

    Attributes
    ----------
    couples : DataFrame
        Columns ``occ1``, ``occ2`` (partner 1's and partner 2's codes), and ``weight``
        (partner 1's), ``status1``, ``status2`` when the file has them, in the file order of
        partner 1.
    counts : dict
        LINK_COUNTS -> number (persons or couples, see the module's identities).
    """

    couples: pd.DataFrame
    counts: dict[str, int]
    names_self: int = 0  # persons whose partner id is their own (counted under link_not_reciprocal)


# Whole numbers a float64 holds exactly: above this, two ids may be stored as one number.
EXACT_FLOAT = 2**53


def exact_ids(values: pd.Series, variable: str, path) -> pd.Series:
    """An id variable as exact integers (pandas' Int64; missing is <NA>), or one line refusing it.

    Ids are compared, never computed with, so every digit counts: a panel's 16-digit
    ``pidp`` read through float64 can turn a partner id nobody has into a neighbour's, or
    two persons into one. Integers and text are read exactly; a floating-point column
    (Stata double, every SPSS number) is accepted only where it is exact (below 2^53).
    """
    if pd.api.types.is_integer_dtype(values.dtype):
        if pd.api.types.is_unsigned_integer_dtype(values.dtype) and len(values) and values.max() >= 2**63:
            raise CamsisError(f"id variable '{variable}' in {path} holds {values.max()}, beyond the 64-bit integers camsis "
                              "links on")
        return values.astype("Int64")
    if pd.api.types.is_bool_dtype(values.dtype):
        raise CamsisError(f"id variable '{variable}' in {path} is true/false, not an id")
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        text = None
    else:  # text: parse the digits themselves (pd.to_numeric of a column with a blank goes through float64)
        text = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
        given = text.notna() & ~text.isin(("", "."))
        parsed = pd.to_numeric(text[given], errors="coerce")
        if parsed.isna().any():
            example = text[given][parsed.isna()].iloc[0]
            raise CamsisError(f"id variable '{variable}' in {path} holds {example!r}, not a whole number")
        if pd.api.types.is_integer_dtype(parsed.dtype):
            if pd.api.types.is_unsigned_integer_dtype(parsed.dtype) and parsed.max() >= 2**63:
                raise CamsisError(f"id variable '{variable}' in {path} holds {parsed.max()}, beyond the 64-bit "
                                  "integers camsis links on")
            out = pd.array(np.zeros(len(values), dtype=np.int64), dtype="Int64")
            out[~given.to_numpy()] = pd.NA
            out[given.to_numpy()] = parsed.to_numpy(dtype=np.int64)
            return pd.Series(out, index=values.index)
        numbers = np.full(len(values), np.nan)
        numbers[given.to_numpy()] = parsed.to_numpy(dtype=np.float64)
    finite = numbers[~np.isnan(numbers)]
    bad = (finite != np.round(finite)) | (np.abs(finite) >= EXACT_FLOAT)
    if bad.any():
        example = finite[bad][0]
        if example == np.round(example):
            stored = "as text" if text is not None else "as a floating-point number"
            raise CamsisError(
                f"id variable '{variable}' in {path} holds {example:.0f} {stored}: above 2^53 such numbers are not "
                "exact, so two ids may read as one; store the ids as integers (or as digits without a decimal point)")
        raise CamsisError(f"id variable '{variable}' in {path} holds {example:g}, not a whole number")
    return pd.Series(pd.array(np.where(np.isnan(numbers), 0, numbers).astype(np.int64), dtype="Int64"),
                     index=values.index).mask(np.isnan(numbers))


def _ids(values: pd.Series, variable: str, path, allow_missing: bool) -> np.ndarray:
    """Exact ids (see exact_ids) as int64; missing (allowed only for partners) and <= 0 become -1."""
    exact = values if isinstance(values.dtype, pd.Int64Dtype) else exact_ids(values, variable, path)
    missing = exact.isna().to_numpy()
    if missing.any() and not allow_missing:
        raise CamsisError(f"id variable '{variable}' in {path} is missing in {int(missing.sum()):,} rows; every person needs one")
    ids = exact.to_numpy(dtype=np.int64, na_value=-1)
    return np.where(ids > 0, ids, -1) if allow_missing else ids


def persons_from_frame(frame: pd.DataFrame, columns: PersonColumns, first_sex: float, path, where: str | None = None) -> Persons:
    """The arrays linking needs from one chunk of a person file (its filter applied)."""
    read = len(frame)
    filtered = 0
    ids = columns.ids()
    frame = frame.assign(**{name: exact_ids(frame[name], name, path) for name in ids})
    if where:
        kept = filter_rows(frame, where, path)
        filtered = int((~kept).sum())
        frame = frame[kept]

    def codes(name):
        return to_codes(frame[name], name, path)

    sex_codes = codes(columns.sex)
    with np.errstate(invalid="ignore"):
        sex = np.where(np.isnan(sex_codes) | (sex_codes < 0), NO_SEX, np.where(sex_codes == first_sex, FIRST, OTHER))
    return Persons(
        person=_ids(frame[columns.person], columns.person, path, allow_missing=False),
        partner=_ids(frame[columns.partner], columns.partner, path, allow_missing=True),
        household=_ids(frame[columns.household], columns.household, path, False) if columns.household else None,
        wave=_ids(frame[columns.wave], columns.wave, path, False) if columns.wave else None,
        sex=sex.astype(np.int8),
        occ=codes(columns.occ),
        status=codes(columns.status) if columns.status else None,
        weight=codes(columns.weight) if columns.weight else None,
        read=read,
        filtered=filtered,
        sex_values=sorted(pd.unique(sex_codes[~np.isnan(sex_codes)]).tolist())[:20],
        source=str(path),
    )


class _Growing:
    """Chunks appended into preallocated arrays (the file's row count, when known), grown by doubling."""

    def __init__(self, capacity: int):
        self.capacity, self.size, self.arrays = max(capacity, 1), 0, {}

    def append(self, parts: dict[str, np.ndarray]) -> None:
        """Add a chunk's arrays, doubling the capacity when full (amortised copies, no list of chunks)."""
        n = len(next(iter(parts.values())))
        if self.size + n > self.capacity:
            self.capacity = max(2 * self.capacity, self.size + n)
            self.arrays = {k: np.resize(v, self.capacity) for k, v in self.arrays.items()}
        for name, values in parts.items():
            if name not in self.arrays:
                self.arrays[name] = np.empty(self.capacity, dtype=values.dtype)
            self.arrays[name][self.size : self.size + n] = values
        self.size += n

    def result(self) -> dict[str, np.ndarray]:
        """The arrays filled so far."""
        # a view, not a copy, when the file said how many rows it has and the filter kept them all
        return {k: v[: self.size] for k, v in self.arrays.items()}


ARRAYS = ("person", "partner", "household", "wave", "sex", "occ", "status", "weight")


def read_persons(path, columns: PersonColumns, first_sex: float, chunksize: int = CHUNKSIZE, where: str | None = None,
                 sep: str = ",", encoding: str = "utf-8") -> Persons:
    """Read the variables linking needs from a person file in chunks, holding nothing else.

    Every format of ``camsis.io.reading`` works. A ``first_sex`` that no row's sex has is
    bad input (a typo would otherwise make every couple "same sex").
    """
    wanted = columns.variables()
    if where:
        wanted += [name for name in filter_variables(where, str(path)) if name not in wanted]
    store = _Growing(input_rows(path) or chunksize)
    read = filtered = 0
    sex_values: set = set()
    has_first = False
    for chunk in iter_chunks(path, wanted, chunksize, sep=sep, encoding=encoding, ids=columns.ids()):
        part = persons_from_frame(chunk, columns, first_sex, path, where)
        read += part.read
        filtered += part.filtered
        has_first |= bool((part.sex == FIRST).any())
        if len(sex_values) < 20:
            sex_values.update(part.sex_values)
        store.append({name: getattr(part, name) for name in ARRAYS if getattr(part, name) is not None})
    if not has_first:
        _no_first_sex(path, columns.sex, first_sex, sorted(sex_values))
    arrays = store.result()
    if not store.size:
        raise CamsisError(f"no persons to link in {path} (after the filter, if any)")
    return Persons(
        **{name: arrays.get(name) for name in ARRAYS},
        read=read, filtered=filtered, sex_values=sorted(sex_values)[:20], source=str(path),
    )


def _no_first_sex(path, variable, first_sex, values) -> None:
    shown = ", ".join(f"{v:g}" for v in values) or "none (all missing)"
    raise CamsisError(f"first_sex {first_sex:g} is not a value of variable '{variable}' in {path} (values: {shown})")


def _keys(prefix: np.ndarray | None, person: np.ndarray, partner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per (group, id) for each person and for the partner each names, equal exactly when both are.

    Without groups (``prefix`` None or all 0) the ids are the keys, not copies of them. Otherwise group * span + id when that cannot
    overflow, else the ids' dense numbers (pd.factorize) stand in for them; a partner id
    that is no person's gets -1, which no person's key is.
    """
    if prefix is None or not prefix.any():
        return person, partner
    low, high = int(min(person.min(), 0)), int(person.max())
    span = high - low + 1
    if (int(prefix.max()) + 1) <= (2**62) // span:
        inside = (partner >= low) & (partner <= high)
        return prefix * span + (person - low), np.where(inside, prefix * span + (partner - low), -1)
    codes, uniques = pd.factorize(person)
    partner_codes = pd.Index(uniques).get_indexer(partner)
    size = len(uniques)
    return prefix * size + codes, np.where(partner_codes >= 0, prefix * size + partner_codes, -1)


def _groups(household: np.ndarray | None, wave: np.ndarray | None) -> np.ndarray | None:
    """A dense number for each (wave, household) combination; None when neither is given."""
    if household is None and wave is None:
        return None
    # hashing (pd.factorize) rather than sorting: dense numbers, so wave x household cannot overflow
    wave_id = pd.factorize(wave)[0].astype(np.int64) if wave is not None else None
    household_id = pd.factorize(household)[0].astype(np.int64) if household is not None else None
    if wave_id is None or household_id is None:
        return wave_id if household_id is None else household_id
    return pd.factorize(wave_id * (int(household_id.max()) + 1) + household_id)[0].astype(np.int64)


def _first_duplicate(persons: Persons, columns: PersonColumns, own: np.ndarray, index: pd.Index) -> None:
    """Refuse an id used twice, naming the first person (in file order) whose id was used before."""
    if index.is_unique:
        return
    row = int(np.flatnonzero(index.duplicated(keep="first"))[0])
    twin = int(np.flatnonzero(own[:row] == own[row])[0])
    where = ""
    if columns.household:
        where += f" in household {persons.household[row]} ('{columns.household}')"
    if columns.wave:
        where += f" in wave {persons.wave[row]} ('{columns.wave}')"
    raise CamsisError(
        f"person id {persons.person[row]} ('{columns.person}') appears more than once{where} in {persons.source}: "
        f"persons {twin + 1:,} and {row + 1:,} (after any filter); ids must be unique"
    )


def link_couples(persons: Persons, columns: PersonColumns, repeat_couples: str = "all") -> Linked:
    """Pair persons who name each other; count every person who is not in a couple.

    Partner 1 is the person with ``first_sex``; a couple in which both or neither have it
    is ``same_sex`` and one with a missing sex ``sex_missing``: both are left out, since
    the scale's two sides are sexes. A couple seen again in a later wave (same persons,
    same household when given) is ``repeat_couple``: left out with ``repeat_couples``
    "first", kept with "all". A person id used twice (within household and wave) is an error.
    """
    if repeat_couples not in REPEAT_COUPLES:
        raise CamsisError(f"repeat_couples must be one of {', '.join(REPEAT_COUPLES)}, got {repeat_couples!r}")
    n = len(persons.person)
    if n == 0:
        raise CamsisError(f"no persons to link in {persons.source} (after the filter, if any)")
    # Hash joins (pandas' Index), not sorting and binary search: a binary search of ids in
    # random order misses the cache at every step and was 4x slower on 10^6 persons.
    prefix = _groups(persons.household, persons.wave)
    own, wanted = _keys(prefix, persons.person, persons.partner)
    del prefix
    index = pd.Index(own, copy=False)
    _first_duplicate(persons, columns, own, index)
    named = persons.partner > 0
    partner_row = np.where(named, index.get_indexer(wanted), -1)
    found = partner_row >= 0
    del index, own, wanted

    rows = np.arange(n)
    back = partner_row[np.maximum(partner_row, 0)]
    mutual = found & (back == rows) & (partner_row != rows)
    first = np.flatnonzero(mutual & (rows < partner_row))
    second = partner_row[first]

    sex_a, sex_b = persons.sex[first], persons.sex[second]
    no_sex = (sex_a == NO_SEX) | (sex_b == NO_SEX)
    same = ~no_sex & (sex_a == sex_b)
    usable = ~no_sex & ~same
    a_first = sex_a == FIRST
    p1 = np.where(a_first, first, second)[usable]
    p2 = np.where(a_first, second, first)[usable]

    repeat = _repeats(persons, p1, p2, bool(columns.wave))
    keep = ~repeat if repeat_couples == "first" else np.ones(len(p1), dtype=bool)
    p1, p2 = p1[keep], p2[keep]
    by_file = np.argsort(p1, kind="stable")
    p1, p2 = p1[by_file], p2[by_file]

    couples = {"occ1": persons.occ[p1], "occ2": persons.occ[p2]}
    if persons.weight is not None:
        couples["weight"] = persons.weight[p1]
    if persons.status is not None:
        couples["status1"], couples["status2"] = persons.status[p1], persons.status[p2]
    counts = {
        "persons": int(persons.read),
        "filtered": int(persons.filtered),
        "no_partner": int((~named).sum()),
        "partner_not_found": int((named & ~found).sum()),
        "link_not_reciprocal": int((found & ~mutual).sum()),
        "couples": int(len(first)),
        "sex_missing": int(no_sex.sum()),
        "same_sex": int(same.sum()),
        "repeat_couple": int(repeat.sum()),
        "couples_kept": int(len(p1)),
    }
    return Linked(couples=pd.DataFrame(couples), counts=counts, names_self=int((partner_row == rows).sum()))


def _repeats(persons: Persons, p1: np.ndarray, p2: np.ndarray, has_wave: bool) -> np.ndarray:
    """True for a couple whose two persons (and household) already formed a couple in an earlier wave."""
    if not has_wave or not len(p1):
        return np.zeros(len(p1), dtype=bool)
    by_wave = np.argsort(persons.wave[p1], kind="stable")
    couples = pd.DataFrame({"one": persons.person[p1], "two": persons.person[p2]})
    if persons.household is not None:
        couples["household"] = persons.household[p1]
    repeat = np.zeros(len(p1), dtype=bool)
    repeat[by_wave] = couples.iloc[by_wave].duplicated(keep="first").to_numpy()
    return repeat


def describe(counts: dict[str, int], repeat_couples: str) -> str:
    """One log line saying where every person went."""
    left = "left out" if repeat_couples == "first" else "kept"
    return (
        f"{counts['persons']:,} persons: {counts['filtered']:,} filtered, {counts['no_partner']:,} without partner, "
        f"{counts['partner_not_found']:,} whose partner is not in the file, {counts['link_not_reciprocal']:,} whose "
        f"partner names someone else; {counts['couples']:,} couples, of which {counts['same_sex']:,} same sex and "
        f"{counts['sex_missing']:,} with a missing sex left out, {counts['repeat_couple']:,} repeated from an "
        f"earlier wave ({left}): {counts['couples_kept']:,} couples kept"
    )


def link_file(path, columns: PersonColumns, first_sex: float, repeat_couples: str = "all",
              chunksize: int = CHUNKSIZE, where: str | None = None, sep: str = ",", encoding: str = "utf-8") -> Linked:
    """Read a person file in chunks and link it into couples (see read_persons, link_couples)."""
    linked = link_couples(read_persons(path, columns, first_sex, chunksize, where, sep, encoding), columns, repeat_couples)
    told = describe(linked.counts, repeat_couples)
    if linked.names_self:
        told += f" ({linked.names_self:,} persons name themselves as partner: '{columns.partner}' holds their own id)"
    if not linked.counts["couples_kept"]:
        raise CamsisError(f"no couples linked in {path}: {told}")
    log.info("%s: %s", path, told)
    return linked


def couple_chunks(couples: pd.DataFrame, chunksize: int) -> Iterator[pd.DataFrame]:
    """The linked couples in slices, so tabulating them holds no more than reading a couples file does."""
    for start in range(0, max(len(couples), 1), chunksize):
        yield couples.iloc[start : start + chunksize]

"""Build a code frame (camsis.classifications.classification's .tsv + .yaml) from value-label sets.

The hierarchy comes from the codes themselves: a group contains the units whose code,
written at the units' full width, begins with the group's code written at its level's
full width. Widths matter because integer codes lose their leading zeros: ISCO-08's armed
forces unit 0110 is stored as 110 and its minor group 011 as 11, and only padding each
to its level's width ("0110", "011", "01", "0") puts them under major group 0.

Frames often repeat group labels in the unit label set in a trailing-zero form (ISCO-08
writes sub-major group 21 as 2100). A code of the unit set is read as such a repeat only
when the files show it: its code is a group's code followed by zeros *and* its title is
that group's title (allowing the abbreviations label files use: "ICT", "arw", "wrkrs"),
and most of the unit set's codes of that form at that level are so titled (the file writes
that level's groups in the unit set). Otherwise it is a unit: in a 3-digit frame with 2-digit minor groups (UK SOC 1990) unit
100 "General administrators; national government" is a unit of minor group 10, not a
copy of it. A repeat whose group has no other unit is that group's single unit
(ISCO-08 1120, minor group 112).

Frame codes. When the unit set writes groups in the trailing-zero form, the frame does
too (published score files are matched on those codes: gb2010isco08.dta labels 2100,
1110, 100), so each group's code is its trailing-zero form; a group whose trailing-zero
form is a unit's code (112/1120, 011/0110) or another group's keeps its own short code
(112, 11) instead. Otherwise groups keep their own codes (SOC: 1, 11, 111). Codes that
would still collide are refused, naming them.

Nothing is dropped silently: `FrameReport` lists what was inferred (groups no label set
names, trailing-zero forms recognised, repeats of group labels in the unit set), units
without a group at a level, groups without units (left out of the frame) and excluded
codes.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyreadstat
import yaml

from camsis.classifications.classification import load_classification
from camsis.errors import CamsisError
from camsis.io.labelfiles import decode, read_label_sets, variable_labels


@dataclass
class FrameReport:
    """What the builder found and inferred, for the log and the metadata."""

    counts: dict[int, int] = field(default_factory=dict)
    level_names: dict[int, str] = field(default_factory=dict)
    trailing_zero: list[str] = field(default_factory=list)
    units_like_group_codes: list[str] = field(default_factory=list)
    single_unit_groups: list[str] = field(default_factory=list)
    short_coded_groups: list[str] = field(default_factory=list)
    repeated_group_labels: list[str] = field(default_factory=list)
    inferred_groups: dict[int, list[str]] = field(default_factory=dict)
    units_without_group: dict[int, list[str]] = field(default_factory=dict)
    groups_without_units: dict[int, list[str]] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    unmatched_links: list[int] = field(default_factory=list)
    repeated_codes: dict[str, list[str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """What was recognised, one line each (the log's INFO lines)."""
        out = ["levels: " + ", ".join(f"{self.level_names.get(k, k)} {n}" for k, n in sorted(self.counts.items()))]
        if self.trailing_zero:
            out.append(f"{len(self.trailing_zero)} codes of the unit labels read as groups in the trailing-zero form "
                       f"(code and title as a group's): {_show(self.trailing_zero)}")
        if self.units_like_group_codes:
            out.append(f"{len(self.units_like_group_codes)} units whose code is a group's code followed by zeros kept "
                       f"as units (the file does not write that group so): {_show(self.units_like_group_codes)}")
        if self.single_unit_groups:
            out.append(f"{len(self.single_unit_groups)} groups have a single unit written in the trailing-zero form: "
                       + _show(self.single_unit_groups))
        if self.short_coded_groups:
            out.append("groups kept under their own code because their trailing-zero code is taken: "
                       + _show(self.short_coded_groups))
        if self.repeated_group_labels:
            out.append(f"{len(self.repeated_group_labels)} group labels repeated in the unit labels read as groups: "
                       + _show(self.repeated_group_labels))
        if self.excluded:
            out.append(f"{len(self.excluded)} codes excluded as asked: {_show(self.excluded)}")
        return out

    def _level(self, level: int) -> str:
        name = self.level_names.get(level, f"level {level}")
        return f"level {level}" if name == f"level {level}" else f"level {level} ({name})"

    def summary(self) -> str:
        """One line for the terminal: the levels, and every code of the unit set not made a unit."""
        read_as_groups = len(self.trailing_zero) + len(self.repeated_group_labels)
        return self.lines()[0] + (f"; {read_as_groups} codes of the unit labels read as group labels, not units "
                                  f"(listed with -v)" if read_as_groups else "")

    def warnings(self) -> list[str]:
        """What was inferred or left out, one line each: a user must check these."""
        out = [f"label set {name}: code(s) {_show(codes)} labelled more than once in one command; the last label kept"
               for name, codes in self.repeated_codes.items()]
        for level, codes in sorted(self.units_without_group.items()):
            out.append(f"{len(codes)} units without a group at {self._level(level)}: {_show(codes)}")
        for level, codes in sorted(self.inferred_groups.items()):
            out.append(f"{len(codes)} groups at {self._level(level)} "
                       f"inferred from the unit codes, no label names them: {_show(codes)}")
        for level, codes in sorted(self.groups_without_units.items()):
            out.append(f"{len(codes)} groups at level {level} without units, left out: {_show(codes)}")
        if self.unmatched_links:
            out.append(f"{len(self.unmatched_links)} codes of the link file are not codes of the frame: "
                       + _show([str(c) for c in self.unmatched_links]))
        return out


def _show(codes: list[str], limit: int = 20) -> str:
    shown = ", ".join(codes[:limit])
    return shown + (f", ... ({len(codes)} in all)" if len(codes) > limit else "")


LEVEL_NAMES = {1: "major", 2: "sub-major", 3: "minor", 4: "unit"}


def _digits(labels: dict[str, str], what: str, exclude: set[int], excluded: list[str]) -> dict[str, str]:
    """Codes that are non-negative integers, as text without a sign; others refused by name."""
    out: dict[str, str] = {}
    bad = []
    for code, label in labels.items():
        text = str(code).strip()
        number = _as_int(text)
        if number is not None and number in exclude:
            excluded.append(text)
            continue
        if not re.fullmatch(r"\d+", text):
            if number is not None and number >= 0:
                text = str(number)
            else:
                bad.append(text)
                continue
        out[text] = str(label)
    if bad:
        raise CamsisError(f"{what}: code(s) {', '.join(bad[:10])} are not non-negative integers "
                          f"(leave them out with --exclude)")
    return out


def _as_int(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _pad(code: str, width: int) -> str:
    return code.zfill(width)


def build_frame(
    units: dict[str, str],
    groups: list[dict[str, str]] | None = None,
    group_digits: list[int] | None = None,
    exclude: list[int] | None = None,
    names: tuple[str, list[str]] = ("units", []),
) -> tuple[pd.DataFrame, FrameReport]:
    """Code frame rows (code, level, parent, title, label) from label sets.

    Parameters
    ----------
    units : {code text: label} of the unit label set (it may also carry group labels,
        in the trailing-zero form or at the groups' own width: they are recognised).
    groups : label sets of coarser levels, finest first.
    group_digits : widths of the group levels, finest first, for frames whose groups
        are only implied by the digits (SOC 2010: 3 2 1); defaults to each group set's
        widest code. With neither groups nor digits the frame is flat.
    exclude : codes to leave out of every set (counted in the report).
    names : the unit set's name and the group sets' names, for messages.
    """
    groups = groups or []
    report = FrameReport()
    exclude_set = set(exclude or [])
    unit_name, group_names = names[0], list(names[1]) + [f"group set {k + 1}" for k in range(len(groups))]
    units = _digits(units, unit_name, exclude_set, report.excluded)
    groups = [_digits(g, group_names[k], exclude_set, report.excluded) for k, g in enumerate(groups)]
    if not units:
        raise CamsisError(f"{unit_name}: no codes to build a frame from")
    levels = _levels(units, groups, group_digits, unit_name, group_names)
    n_levels = levels.n_levels
    names_by_level = _level_names(n_levels)
    report.level_names = names_by_level
    known, repeats = _read_groups(groups, units, levels, group_names)
    unit_rows = _read_units(units, known, repeats, levels, unit_name, report)
    membership, used = _membership(unit_rows, known, levels, bool(groups), report)
    unit_ints = {u: int(u) for u in unit_rows}
    group_codes = _group_codes(used, unit_ints, levels, names_by_level, report)
    rows = _frame_rows(group_codes, unit_ints, unit_rows, known, repeats, membership, levels)
    frame = pd.DataFrame(rows, columns=["code", "level", "parent", "title", "label"])
    frame["parent"] = frame["parent"].astype("Int64")
    frame = frame.sort_values(["level", "code"], kind="stable").reset_index(drop=True)
    report.counts = frame["level"].value_counts().sort_index().to_dict()
    return frame, report


class _Levels(NamedTuple):
    """The frame's levels by code width: the units' width, the groups' (finest first), the
    level of each group width (the finest group is level n - 1) and the number of levels."""

    width: int
    widths: list[int]
    level_of_width: dict[int, int]
    n_levels: int


def _levels(units: dict[str, str], groups: list[dict[str, str]], group_digits: list[int] | None, unit_name: str,
            group_names: list[str]) -> _Levels:
    """The levels' code widths, from the group sets or ``group_digits``; refused unless they shrink
    from the units to the coarsest group and hold every group code."""
    width = max(len(c) for c in units)
    widths = list(group_digits) if group_digits else [max((len(c) for c in g), default=0) for g in groups]
    if groups and group_digits and len(group_digits) != len(groups):
        raise CamsisError(f"--group-digits gives {len(group_digits)} widths for {len(groups)} group label sets")
    for k, g in enumerate(groups):
        too_wide = [c for c in g if len(c) > widths[k]]
        if too_wide:
            raise CamsisError(f"{group_names[k]}: codes {', '.join(too_wide[:10])} are wider than "
                              f"its level's {widths[k]} digits")
    chain = [width] + widths
    if any(b >= a for a, b in zip(chain, chain[1:])) or any(w < 1 for w in widths):
        raise CamsisError(f"level widths must shrink from the units to the coarsest group, found {chain} digits "
                          f"({unit_name}, then {', '.join(group_names[:len(groups)]) or '--group-digits'})")
    n_levels = len(widths) + 1
    level_of_width = {w: n_levels - 1 - k for k, w in enumerate(widths)}  # finest group = level n-1
    return _Levels(width, widths, level_of_width, n_levels)


def _read_groups(groups: list[dict[str, str]], units: dict[str, str], levels: _Levels,
                 group_names: list[str]) -> tuple[dict[int, dict[str, str]], dict[tuple[int, str], str]]:
    """The groups of each level (level -> {code at its width: label}) and the labels of groups
    written again elsewhere (fallback titles), from the group sets."""
    width, widths, level_of_width, _ = levels
    # Group sets, coarsest first: a code is its level's code, or the trailing-zero form of
    # a coarser group already read: it is, unless its title is not that group's and units
    # begin with it (UK SOC 1990's minor group 10 of units 100-103 is not major group 1).
    known: dict[int, dict[str, str]] = {level_of_width[w]: {} for w in widths}
    repeats: dict[tuple[int, str], str] = {}  # labels of groups written elsewhere (fallback titles)
    order = sorted(range(len(groups)), key=lambda k: widths[k])
    for k in order:
        level = level_of_width[widths[k]]
        for code, label in groups[k].items():
            padded = _pad(code, widths[k])
            owners = _trailing_zero_owners(padded, known, widths, level_of_width, coarser_than=level)
            owner = _group_titled(padded, label, known, widths, level_of_width, coarser_than=level)
            if owner is None and owners and not any(u.zfill(width).startswith(padded) and
                                                    set(u.zfill(width)[len(padded):]) != {"0"} for u in units):
                owner = owners[0]
            if owner is not None:
                repeats.setdefault(owner, label)
                continue
            if padded in known[level]:
                raise CamsisError(f"{group_names[k]}: codes '{code}' and another code both read as "
                                  f"{padded} at {widths[k]} digits")
            known[level][padded] = label
    return known, repeats


def _read_units(units: dict[str, str], known, repeats: dict, levels: _Levels, unit_name: str,
                report: FrameReport) -> dict[str, str]:
    """The units ({code at the unit width: label}) of the unit set, telling them from the groups
    it writes too; those groups' labels go to ``repeats``."""
    width, widths, level_of_width, n_levels = levels
    # Unit set: repeats of group codes at their own width, trailing-zero forms, units.
    unit_rows: dict[str, str] = {}
    candidate_forms: dict[str, tuple[int, str, str]] = {}  # unit-width code -> (level, group, label)
    forms: dict[int, int] = {}  # level -> unit-set codes that are a group's trailing-zero form
    for code, label in units.items():
        if len(code) < width and len(code) in level_of_width and code in known[level_of_width[len(code)]]:
            repeats[(level_of_width[len(code)], _pad(code, len(code)))] = label
            report.repeated_group_labels.append(code)
            continue
        padded = _pad(code, width)
        owners = _trailing_zero_owners(padded, known, widths, level_of_width, coarser_than=n_levels)
        for level, _ in owners:
            forms[level] = forms.get(level, 0) + 1
        owner = _group_titled(padded, label, known, widths, level_of_width, coarser_than=n_levels)
        if owner is not None:
            candidate_forms[padded] = (owner[0], owner[1], label)
            continue
        if owners:
            report.units_like_group_codes.append(padded)
        if padded in unit_rows:
            raise CamsisError(f"{unit_name}: codes '{code}' and another code both read as {padded}")
        unit_rows[padded] = label
    # A file writes a level's groups in the unit set only if most such codes carry their
    # group's title (ISCO: all but a few abbreviations). Where few do (UK SOC 1990: 600
    # "NCOs and other ranks, UK armed forces" alone among its 74 units coded x0), a title
    # like its group's is a unit named after its group, not the group.
    titled = pd.Series([level for level, _, _ in candidate_forms.values()], dtype=np.int64).value_counts()
    for padded, (level, _, label) in list(candidate_forms.items()):
        if 2 * titled.get(level, 0) < forms[level]:
            del candidate_forms[padded]
            unit_rows[padded] = label
            report.units_like_group_codes.append(padded)
    report.units_like_group_codes.sort()
    # A trailing-zero form whose group has no other unit is that group's single unit;
    # finest groups first, so 3310 (minor 331's only unit) counts as a unit of 3300.
    for padded, (level, group, label) in sorted(candidate_forms.items(), key=lambda item: -item[1][0]):
        if any(u.startswith(group) for u in unit_rows):
            report.trailing_zero.append(padded)
            repeats[(level, group)] = label
        else:
            unit_rows[padded] = label
            report.single_unit_groups.append(f"{group}/{padded}")
    return unit_rows


def _membership(unit_rows: dict[str, str], known, levels: _Levels, has_groups: bool,
                report: FrameReport) -> tuple[dict[str, dict[int, str]], dict[int, set[str]]]:
    """Each unit's group at every level (missing groups inferred) and the groups in use per level."""
    _, widths, level_of_width, _ = levels
    # Membership: each unit's group at every level; missing groups are inferred.
    membership: dict[str, dict[int, str]] = {}
    for unit in unit_rows:
        membership[unit] = {}
        for w in widths:
            level = level_of_width[w]
            group = unit[:w]
            if group not in known[level]:
                if has_groups:  # with digits only, every group is inferred: no need to list units
                    report.units_without_group.setdefault(level, []).append(unit)
                if group not in report.inferred_groups.setdefault(level, []):
                    report.inferred_groups[level].append(group)
            membership[unit][level] = group
    report.inferred_groups = {k: v for k, v in report.inferred_groups.items() if v}
    used = {level: {m[level] for m in membership.values()} for level in known}
    for level, codes in known.items():
        empty = sorted(set(codes) - used[level])
        if empty:
            report.groups_without_units[level] = empty
    return membership, used


def _group_codes(used: dict[int, set[str]], unit_ints: dict[str, int], levels: _Levels, names_by_level: dict,
                 report: FrameReport) -> dict[tuple[int, str], int]:
    """The integer code of each group, (level, group) -> code, refusing codes that clash once integers."""
    width, n_levels = levels.width, levels.n_levels
    trailing_zero_mode = bool(report.trailing_zero)
    # Frame codes.
    group_codes: dict[tuple[int, str], int] = {}
    for level in sorted(used):
        for group in sorted(used[level]):
            group_codes[(level, group)] = int(group.ljust(width, "0")) if trailing_zero_mode else int(group)
    if trailing_zero_mode:
        taken = set(unit_ints.values())
        for key in sorted(group_codes):  # coarsest first: the finer group yields its code
            if group_codes[key] in taken:
                group_codes[key] = int(key[1])
                report.short_coded_groups.append(key[1])
            taken.add(group_codes[key])
    everything = [(u, n_levels, c) for u, c in unit_ints.items()] + [(g, lv, c) for (lv, g), c in group_codes.items()]
    by_code: dict[int, list[str]] = {}
    for text, level, code in everything:
        by_code.setdefault(code, []).append(f"{text} ({names_by_level[level]})")
    clashes = {c: t for c, t in by_code.items() if len(t) > 1}
    if clashes:
        shown = "; ".join(f"{c}: {' and '.join(t)}" for c, t in list(clashes.items())[:5])
        raise CamsisError(f"codes that cannot be told apart once stored as integers: {shown} "
                          f"(leave some out with --exclude, or give the group label sets with --groups)")
    return group_codes


def _frame_rows(group_codes, unit_ints, unit_rows, known, repeats, membership, levels: _Levels) -> list[tuple]:
    """(code, level, parent, title, label) of every group and unit."""
    level_of_width, n_levels = levels.level_of_width, levels.n_levels
    rows = []
    for (level, group), code in group_codes.items():
        label = known[level].get(group) or repeats.get((level, group))
        parent = group_codes[(level - 1, group[:_width_of(level - 1, level_of_width)])] if level > 1 else pd.NA
        title = _title(label, group) if label else ""
        rows.append((code, level, parent, title, label if label else f"{group} (untitled group)"))
    for unit, code in unit_ints.items():
        label = unit_rows[unit]
        parent = group_codes[(n_levels - 1, membership[unit][n_levels - 1])] if n_levels > 1 else pd.NA
        rows.append((code, n_levels, parent, _title(label, unit), label))
    return rows


def _width_of(level: int, level_of_width: dict[int, int]) -> int:
    return next(w for w, lv in level_of_width.items() if lv == level)


def _trailing_zero_owners(padded: str, known, widths, level_of_width, coarser_than: int) -> list[tuple[int, str]]:
    """(level, group) of every group coarser than a level whose trailing-zero form `padded`
    is, finest first (2100 could be minor 210 and sub-major 21)."""
    owners = []
    for w in widths:
        level = level_of_width[w]
        if level >= coarser_than or w >= len(padded):
            continue
        if set(padded[w:]) == {"0"} and padded[:w] in known[level]:
            owners.append((level, padded[:w]))
    return sorted(owners, reverse=True)


def _group_titled(padded: str, label: str, known, widths, level_of_width, coarser_than: int) -> tuple[int, str] | None:
    """The finest group whose trailing-zero form `padded` is and whose title `label` gives."""
    for level, group in _trailing_zero_owners(padded, known, widths, level_of_width, coarser_than):
        if same_title(_title(label, padded), _title(known[level][group], group)):
            return level, group
    return None


# Words a title match ignores, and how close two titles must be: every ISCO-08 and ISCO-88
# trailing-zero repeat scores 0.8 or more against its group's title (the abbreviated ones
# lowest), while the UK SOC 1990 units coded like their minor group (100 in 10) score 0.45
# or less.
_FILLER = frozenset({"a", "an", "and", "c", "e", "etc", "for", "in", "n", "nec", "of", "or", "the", "to", "with"})
SAME_TITLE = 0.8


def same_title(first: str, second: str) -> bool:
    """Whether two labels name the same group, allowing label files' abbreviations.

    Words match when equal, when one begins the other ("assoc", "manufactur"), when they
    share their first five letters, or when the shorter is the longer with letters left
    out ("wrkrs"); a short word also matches the initials of a run of the other's words
    ("ICT", "arw" for "and related workers"). The titles are the same when at least
    SAME_TITLE of each one's words (fillers aside) are matched.
    """
    a = re.findall(r"[a-z0-9]+", first.lower().replace("&", " and "))
    b = re.findall(r"[a-z0-9]+", second.lower().replace("&", " and "))
    hit_a, hit_b = [False] * len(a), [False] * len(b)
    for i, word in enumerate(a):
        for j, other in enumerate(b):
            if word not in _FILLER and other not in _FILLER and _same_word(word, other):
                hit_a[i] = hit_b[j] = True
    _initials(a, b, hit_a, hit_b)
    _initials(b, a, hit_b, hit_a)

    def share(words: list[str], hits: list[bool]) -> float:
        counted = [hit for word, hit in zip(words, hits) if word not in _FILLER]
        return sum(counted) / len(counted) if counted else 1.0

    return min(share(a, hit_a), share(b, hit_b)) >= SAME_TITLE


def _same_word(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    if short == long or (len(short) >= 3 and long.startswith(short)):
        return True
    if len(short) >= 5 and long[:5] == short[:5]:
        return True
    if len(short) >= 3 and short[0] == long[0]:
        rest = iter(long)
        return all(letter in rest for letter in short)
    return False


def _initials(a: list[str], b: list[str], hit_a: list[bool], hit_b: list[bool]) -> None:
    """Mark words of `a` that are the initials of a run of words of `b` (fillers in or out)."""
    runs = (list(range(len(b))), [j for j, word in enumerate(b) if word not in _FILLER])
    for i, word in enumerate(a):
        if not 2 <= len(word) <= 5:
            continue
        for positions in runs:
            for start in range(len(positions) - len(word) + 1):
                run = positions[start:start + len(word)]
                if "".join(b[j][0] for j in run) == word:
                    hit_a[i] = True
                    for j in run:
                        hit_b[j] = True


def _level_names(n_levels: int) -> dict[int, str]:
    if n_levels == 4:
        return dict(LEVEL_NAMES)
    names = {level: f"level {level}" for level in range(1, n_levels + 1)}
    names[n_levels] = "unit"
    return names


def _title(label: str, code: str) -> str:
    """The label without a leading copy of its code ("1111. Chief ..." -> "Chief ...")."""
    number = code.lstrip("0") or "0"
    stripped = re.sub(rf"^0*{number}\s*[.:)\-]?\s+", "", label.strip())
    return stripped or label.strip()


# --- links ---------------------------------------------------------------------------

def read_links(path: str | Path, code: str | None, measures: list[str] | None, default_code: str) -> tuple[pd.DataFrame, dict, dict, dict]:
    """Read a link file (.csv/.tsv/.dta/.sav): the code column and the measures.

    Returns (data, variable labels, value labels {measure: {code: label}}, float32
    columns). The code column is `code`, else `default_code` (the frame's name), else
    the file's first column.
    """
    path = Path(path)
    if not path.is_file():
        raise CamsisError(f"--links {path}: no such file")
    suffix = path.suffix.lower()
    variable_labels, value_labels, float32 = {}, {}, set()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            data = pd.read_csv(path, sep="\t" if suffix != ".csv" else ",")
        elif suffix in (".dta", ".sav"):
            reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
            data, meta = reader(str(path))
            variable_labels = {k: v for k, v in meta.column_names_to_labels.items() if v}
            value_labels = {var: meta.value_labels[name] for var, name in meta.variable_to_label.items()
                            if name in meta.value_labels}
            float32 = {k for k, t in (meta.readstat_variable_types or {}).items() if t == "float"}
        else:
            raise CamsisError(f"--links {path}: use a .csv, .tsv, .dta or .sav file")
    except CamsisError:
        raise
    except Exception as error:  # readers raise many types for a corrupt file
        raise CamsisError(f"--links {path}: cannot read it: {' '.join(str(error).split())}") from None
    columns = [str(c) for c in data.columns]
    key = code or next((c for c in ("code", default_code) if c in columns), columns[0] if columns else None)
    if key not in columns:
        raise CamsisError(f"--links {path}: no column {key} (it has {', '.join(columns)})")
    chosen = measures or [c for c in columns if c != key and pd.api.types.is_numeric_dtype(data[c])]
    missing = [m for m in chosen if m not in columns]
    if missing:
        raise CamsisError(f"--links {path}: no column(s) {', '.join(missing)} (it has {', '.join(columns)})")
    return data[[key, *chosen]].rename(columns={key: "code"}), variable_labels, value_labels, float32


def join_links(frame: pd.DataFrame, data: pd.DataFrame, float32: set[str], path: str) -> tuple[pd.DataFrame, list[int]]:
    """Join link values onto the frame's codes; a code linked twice must agree.

    Returns the frame with the measures added (as text, float32 values written as the
    shortest decimal that reads back as the stored float) and the link codes that are
    not codes of the frame (reported, not an error: link files cover other frames too).
    """
    codes = pd.to_numeric(data["code"], errors="coerce")
    bad = codes.isna() & data["code"].notna()
    if bad.any() or (codes.dropna() != codes.dropna().round()).any():
        first = data["code"][bad | (codes != codes.round())].iloc[0]
        raise CamsisError(f"--links {path}: code '{first}' is not an integer")
    data = data.assign(code=codes).dropna(subset=["code"])
    data["code"] = data["code"].astype(np.int64)
    measures = [c for c in data.columns if c != "code"]
    clash = [c for c in measures if c in ("code", "level", "parent", "title", "label")]
    if clash:
        raise CamsisError(f"--links {path}: measure name {clash[0]} is a code frame column; rename it")
    distinct = data.drop_duplicates()
    twice = distinct["code"][distinct["code"].duplicated()]
    if len(twice):
        code = int(twice.iloc[0])
        rows = distinct[distinct["code"] == code]
        raise CamsisError(f"--links {path}: code {code} is linked to different values "
                          f"({rows[measures].to_dict(orient='records')[:2]})")
    values = distinct.set_index("code")
    for column in measures:
        values[column] = _as_text(values[column], column in float32)
    unmatched = sorted(int(c) for c in values.index.difference(frame["code"]))
    joined = frame.join(values, on="code")
    return joined, unmatched


def _as_text(values: pd.Series, float32: bool) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(values):
        return values.astype("string")
    if float32:
        return values.map(lambda v: "" if pd.isna(v) else np.format_float_positional(np.float32(v), trim="-"))
    present = values.dropna()
    if len(present) and (present == present.round()).all():
        return values.astype("Int64").astype("string")
    return values.map(lambda v: "" if pd.isna(v) else repr(float(v)))


# --- the import ----------------------------------------------------------------------

def import_classification(
    path: str | Path,
    name: str,
    units: str,
    groups: list[str] | None = None,
    group_digits: list[int] | None = None,
    exclude: list[int] | None = None,
    links: str | Path | None = None,
    link_code: str | None = None,
    link_measures: list[str] | None = None,
    reference_measure: str | None = None,
    variable: str | None = None,
    label: str | None = None,
) -> tuple[pd.DataFrame, dict, FrameReport]:
    """Frame rows and metadata of a classification imported from a label file.

    Returns the rows of `{name}.tsv`, the mapping of `{name}.yaml` and the report.
    `units` names a label set (or, in a .dta/.sav, a variable); `groups` label sets of
    coarser levels, finest first.
    """
    path = Path(path)
    repeated: dict[str, list[str]] = {}
    sets = read_label_sets(path, repeated)
    wanted = [units, *(groups or [])]
    missing = [s for s in wanted if s not in sets]
    if missing:
        raise CamsisError(f"{path}: no label set {', '.join(missing)} (it has: {', '.join(sets) or 'none'})"
                          + _recode_hint(path, sets))
    frame, report = build_frame(sets[units], [sets[g] for g in groups or []], group_digits, exclude,
                                names=(units, list(groups or [])))
    report.repeated_codes = {name: repeated[name] for name in wanted if repeated.get(name)}
    measures_labels: dict[str, str] = {}
    value_labels: dict[str, dict[int, str]] = {}
    unmatched: list[int] = []
    if links:
        data, measures_labels, link_value_labels, float32 = read_links(links, link_code, link_measures, name)
        frame, unmatched = join_links(frame, data, float32, str(links))
        measures = [c for c in data.columns if c != "code"]
        measures_labels = {m: measures_labels.get(m, m) for m in measures}
        value_labels = {m: {int(k): str(v) for k, v in link_value_labels[m].items()}
                        for m in measures if m in link_value_labels}
        report.unmatched_links = unmatched
    measures = [c for c in frame.columns if c not in ("code", "level", "parent", "title", "label")]
    if reference_measure and reference_measure not in measures:
        raise CamsisError(f"--reference-measure {reference_measure}: not a linked measure "
                          f"(links: {', '.join(measures) or 'none, give --links'})")
    unit_label = variable_labels(path).get(units)
    # in a .dta/.sav, --units may name the variable: the value label set keeps its own name
    set_name = next(k for k, v in sets.items() if v is sets[units])
    metadata = {
        "variable": variable or name,
        "label": label or unit_label or name,
        "value_label_name": set_name if re.fullmatch(r"[A-Za-z_]\w{0,31}", set_name) else f"{name}_label",
        "reference_measure": reference_measure or "",
        "source": f"value labels {units}" + (f" (groups: {', '.join(groups)})" if groups else "")
                  + f" of {path.name}" + (f"; measures linked from {Path(links).name}" if links else ""),
        "link_labels": measures_labels,
        "link_value_labels": value_labels,
    }
    return frame, metadata, report


def _recode_hint(path: Path, sets: dict) -> str:
    """Why a syntax file without the label sets asked for may not be a label file at all."""
    if sets or path.suffix.lower() not in (".sps", ".do", ".ado"):
        return ""

    text = decode(path.read_bytes())
    if re.search(r"^\s*recode\b", text, re.I | re.M):
        return ("; it is a recode file (RECODE commands that assign scores to codes), not a label file: "
                "import the code frame from the file that labels the codes")
    return ""


def check_destination(directory: str | Path, name: str, force: bool = False) -> Path:
    """The --out directory where `name` may be written: an existing frame of that name is
    replaced only with force, so a shipped frame is never lost by accident."""
    directory = Path(directory)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise CamsisError(f"--name {name!r}: use letters, digits and _ (it names the files and the scale sheet's column)")
    if directory.exists() and not directory.is_dir():
        raise CamsisError(f"--out {directory}: is a file, not a directory")
    existing = [directory / f"{name}{suffix}" for suffix in (".tsv", ".yaml") if (directory / f"{name}{suffix}").exists()]
    if existing and not force:
        raise CamsisError(f"--out {directory}: a classification {name} is already there ({existing[0]}); "
                          f"choose another --name, or give --force to replace it")
    return directory


def write_classification_files(frame: pd.DataFrame, metadata: dict, directory: str | Path, name: str,
                               force: bool = False) -> tuple[Path, Path]:
    """Write `{name}.tsv` and `.yaml` (into `directory`, made if absent), then read them back
    with load_classification so a frame it would refuse is never left in place."""
    directory = check_destination(directory, name, force)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CamsisError(f"--out {directory}: cannot make the directory ({error.strerror})") from None
    with tempfile.TemporaryDirectory(dir=directory, prefix=f".{name}.") as staging:
        staging = Path(staging)
        frame.to_csv(staging / f"{name}.tsv", sep="\t", index=False, lineterminator="\n")
        with open(staging / f"{name}.yaml", "w", encoding="utf-8") as handle:
            yaml.safe_dump(metadata, handle, sort_keys=False, allow_unicode=True, width=200)
        load_classification(name, staging)
        for suffix in (".tsv", ".yaml"):
            shutil.move(str(staging / f"{name}{suffix}"), directory / f"{name}{suffix}")
    return directory / f"{name}.tsv", directory / f"{name}.yaml"

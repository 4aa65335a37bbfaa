"""Publishing a scale as CAMSIS scales are published: one folder and one zip per scale.

The published releases (e.g. DE95ISCO88) ship the same index table as Stata, SPSS and
plain text with a readme that explains the scale, its codes and statuses, gender,
pseudo-diagonals and how to match the table onto survey data. Everything here is made
from the build itself (the score file and summary.json), so a release cannot describe
choices other than the ones actually used. The text and syntax are pure functions of
that information; `write_release` writes them, each file atomically, and the zip last.
"""

from __future__ import annotations

import datetime
import json
import shutil
import string
import textwrap
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import yaml

from camsis.io.reading import file_sha256
from camsis.io.writing import atomic_path
from camsis.publish.match import score_index
from camsis.vocabulary import PEOPLE_NAMES

CAMSIS_REFERENCE = (
    "Prandy, K. and Lambert, P. (2003) 'Marriage, Social Distance and the Social Space: "
    "An Alternative Derivation and Validation of the Cambridge Scale', Sociology 37(3): 397-411."
)
CAMSIS_WEB = "CAMSIS project: http://www.camsis.stir.ac.uk/"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same release zips to the same bytes


def release_metadata(scale: str, row: dict, defaults: dict, summary: dict, variable: str) -> dict:
    """Version, title, author and date of a release: the sheet row first, then the config.

    ``defaults`` is the config's ``release`` block; an empty sheet cell falls back to
    it. The date is the build's (summary.json ``built``), not the day the zip was made.
    """
    def pick(key, fallback):
        value = row.get(key) or (defaults or {}).get(key)
        return str(value) if value not in (None, "") else fallback

    return {
        "scale": scale,
        "version": pick("version", "1.0"),
        "title": pick("title", f"CAMSIS scale {scale} for {variable.upper()}"),
        "author": pick("author", "the CAMSIS scale's builders"),
        "date": summary.get("built", ""),
        "camsis_version": summary.get("camsis_version", ""),
    }


def describe_columns(scores: pd.DataFrame, column_labels: dict, value_labels: dict) -> dict:
    """The score file's layout: code and status columns (see camsis.match), labels of each."""
    index = score_index(scores)
    return {
        "code": index.code,
        "status": index.status,
        "statuses": {int(k): v for k, v in value_labels.get(index.status, {}).items()} if index.status else {},
        "status_values": list(index.statuses),
        "labels": {c: column_labels.get(c) or c for c in scores.columns},
        "codes": int(scores[index.code].nunique()),
        "rows": int(len(scores)),
    }


def _wrap(text: str) -> str:
    """Fill each line to 88 columns; indented lines (file lists, commands) are kept whole."""
    return "\n".join(part if part.startswith("  ") or not part.strip() else textwrap.fill(part, 88)
                     for part in text.split("\n"))


def _number(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _method_lines(summary: dict) -> list[str]:
    """What the build actually did, from summary.json (absent sections are said to be absent)."""
    row, config = summary.get("sheet_row", {}), summary.get("config", {})
    lines = []
    digits, groups = str(row.get("diagonal_digits", "") or "0"), row.get("diagonal_groups", "") or ""
    diagonal = ("couples in the same unit group (the diagonal)" if digits in ("0", "") else
                f"couples whose codes agree once their last {digits} digit(s) are dropped")
    if groups:
        diagonal += f", only within the group(s) {groups}"
    lines.append(f"Diagonal rule: blanked {diagonal}.")
    psds = row.get("psds") or ""
    blanking = summary.get("blanking", {})
    ca = blanking.get("ca", {})
    lines.append(
        f"Pseudo-diagonals: {'cells listed in ' + psds if psds else 'none listed'}; together with the "
        f"diagonals {_number(ca.get('cells_blanked'))} cells were blanked for the correspondence analysis, "
        f"holding {_number(ca.get('pairs_blanked'))} pairs ({_number(100 * ca.get('share_blanked_weighted', float('nan')), 1)}% "
        f"of the weighted pairs)."
        + ("" if blanking.get("same_sets", True) else
           f" The smoothing used its own set ({row.get('psds_smooth')}): "
           f"{_number(blanking.get('smooth', {}).get('cells_blanked'))} cells.")
    )
    rounds = summary.get("psd_rounds")
    if rounds:
        lines.append(
            f"Blanking rounds: {rounds.get('rounds')} round(s) blanked the cells whose Pearson residual in the fitted "
            f"table exceeded {rounds.get('threshold')}, {_number(rounds.get('cells_blanked'))} cells in all, refitting "
            f"after each; the scale is built on the final blanking."
        )
    merging = summary.get("merging", {})
    if merging:
        lines.append(
            f"Merges: unit groups with at most {config.get('min_n', '?')} non-blanked pairs were merged into a "
            f"related unit for the correspondence analysis: {_number(merging.get('m', {}).get('merged'))} on the "
            f"men's side, {_number(merging.get('f', {}).get('merged'))} on the women's"
            + (f"; recodes from {row['recodes']}" if row.get("recodes") else "") + "."
        )
    analysis = summary.get("ca", {})
    if analysis:
        lines.append(
            f"Dimension: of {len(analysis.get('inertia', {}))} dimensions of the correspondence analysis, "
            f"dimension {analysis.get('chosen_dimension')} was taken as the scale (correlation "
            f"{_number(analysis.get('chosen_correlation'))} with {analysis.get('reference_measure')}, which also "
            f"set its direction); it holds {_number(100 * analysis.get('inertia', {}).get('dim' + str(analysis.get('chosen_dimension')), float('nan')), 1)}% "
            f"of the inertia."
        )
    smoothing = summary.get("smoothing", {})
    if smoothing:
        fit = "REML" if config.get("reml", True) else "maximum likelihood"
        nested = any(len(s.get("levels") or []) > 1 for s in smoothing.values())
        if nested:
            parts = [f"{PEOPLE_NAMES[side]}: " + ", ".join(f"sigma {level['name']} {_number(level['sigma'])}"
                                                            for level in s.get("levels") or [])
                     + f", sigma_e {_number(s.get('sigma_e'))}" for side, s in smoothing.items()]
            lines.append(
                "Smoothing: each unit's score is the empirical Bayes estimate (fixed part + the posterior mean of "
                "its own and its groups' effects) of a nested random-effects model of its partners' scores, "
                f"units within the classification's groups, fitted by {fit} ({'; '.join(parts)}).")
        else:
            parts = [f"{PEOPLE_NAMES[side]}: sigma_u {_number(s.get('sigma_u'))}, "
                     f"ICC {_number(s.get('icc'))}{', at the boundary' if s.get('boundary') else ''}"
                     for side, s in smoothing.items()]
            lines.append(
                "Smoothing: each unit's score is the empirical Bayes estimate (intercept + BLUP) of a "
                f"random-intercept model of its partners' scores, fitted by {fit} ({'; '.join(parts)})."
            )
    clip = config.get("clip") or [None, None]
    lines.append(
        f"Standardisation: mean {config.get('mean', 50)} and standard deviation {config.get('sd', 15)} over the "
        f"couples of the input (weighted), separately for men and women"
        + (f"; scores cropped to {clip[0]}-{clip[1]}" if clip and clip[0] is not None else "") + "."
    )
    imputed = summary.get("units_imputed")
    if imputed:
        lines.append(
            f"Units without cases of their own take the score of their closest scored parent group "
            f"(men {_number(imputed.get('m'))}, women {_number(imputed.get('f'))} units; flagged in m_imputed, "
            f"f_imputed). Group codes score the population-weighted mean of their units."
        )
    boot = summary.get("bootstrap")
    if boot:
        lines.append(f"Uncertainty: {boot.get('replicates')} bootstrap replicates (seed {boot.get('seed')}): "
                     f"{boot.get('resampling', '')}.")
    return lines


def _status_section(files: "MatchFiles", layout: dict, summary: dict, scheme=None) -> str:
    """What the readme says of employment status: the scheme, status 0, the merges, the by-status build."""
    code, status = files.code, files.status
    name = f"{files.by_status}.dta (.sav, .tsv)"
    statuses = "\n".join(f"  {k} {v}" for k, v in sorted(layout["statuses"].items()))
    unknown = scheme.unknown if scheme is not None else 0
    text = (f"{name} crosses the occupational codes with employment status {status} "
            f"({layout['labels'].get(status, status)}): one row per {code} x {status}, {_number(layout['rows'])} rows. "
            f"Statuses:\n{statuses}\n")
    if files.title:
        text += (f"Status {unknown} ('no information') rows are defined as the title-only scale: their mcamsis "
                 f"and fcamsis are those of {files.title}.dta, built from the same pairs, so users without "
                 f"status data, or without it for some people, still match every occupation (set the status to "
                 f"{unknown} where it is not known). Every unit has a row for every status; every group code has "
                 f"a row for status {unknown} only, and takes that score whatever the status.")
    else:
        text += (f"Status {unknown} means no information (the title-only score); group codes are scored at "
                 f"status {unknown} only and take that score whatever the status.")
    columns = list(layout["labels"])
    combined = columns[columns.index(status) + 1:columns.index("mcamsis")] if "mcamsis" in columns else []
    if len(combined) == 1 and files.title:  # the workflow's combined code (camsis.match skips it too)
        text += f" {combined[0]} is the combined code {code}*10 + {status}."
    section = summary.get("by_status") or {}
    if section:
        scored = {s: g for s, g in scheme.groups.items()} if scheme is not None else {}
        pools = {}
        for s, g in sorted(scored.items()):
            pools.setdefault(g, []).append(str(s))
        shared = section.get("shared", {})
        merging = section.get("merging", {})
        ca = section.get("ca", {})
        text += (
            f"\nThe by-status scale was built on (occupation, status) units from the "
            f"{_number(section.get('pairs_used'))} pairs with a scored status on both sides; "
            f"{_number(summary.get('status_unknown'))} pairs without one (status missing, negative, {unknown} or not in "
            f"the scheme) were used for the title-only scale only. Diagonals and pseudo-diagonals were judged on "
            f"the occupations: a blanked cell covers every status. "
            f"Sparse units x status were merged first across statuses of the same occupation"
            + (f" (statuses {'; '.join(' and '.join(p) for p in pools.values() if len(p) > 1)} pooled first, then "
               f"the whole occupation)" if any(len(p) > 1 for p in pools.values()) else "")
            + f", then up the occupational hierarchy: {_number(merging.get('m', {}).get('merged'))} units on the "
            f"men's side, {_number(merging.get('f', {}).get('merged'))} on the women's. Units merged within one "
            f"occupation share their score: {_number(shared.get('m', {}).get('units'))} units (men) and "
            f"{_number(shared.get('f', {}).get('units'))} (women), flagged in m_merged and f_merged (the combined "
            f"code of the unit they were pooled into); their pair counts are the pool's. Units x status without "
            f"cases of their own borrow the score of their status group or occupation (m_imputed, f_imputed)."
            + (f" The correspondence analysis chose dimension {ca.get('chosen_dimension')} (correlation "
               f"{_number(ca.get('chosen_correlation'))} with {ca.get('reference_measure')})." if ca else "")
            + ("\nWarnings of the by-status build:\n" + "\n".join(f"- {w}" for w in section["warnings"])
               if section.get("warnings") else "")
        )
    return text


def _matching_section(scale: str, files: "MatchFiles") -> str:
    code, status = files.code, files.status
    if not status:
        how = (f"Match each occupation variable of your data on {code} in {files.title}.dta, which has one row "
               f"per {code}.")
    elif files.title:
        how = (f"Match each occupation variable of your data on {code} in {files.title}.dta (one row per {code}) "
               f"or, where you have employment status, on {code} and {status} in {files.by_status}.dta (one row "
               f"per {code} x {status}; set the status to 0 where it is not known). The files below do either: "
               f"with a status variable they use the by-status file.")
    else:
        how = (f"Match each occupation variable of your data on {code} and {status} (set the status to 0 where "
               f"it is not known, even if it is never known). The file has one row per {code} x {status}.")
    by = f" --status empst" if status else ""
    scores = files.by_status if status else files.title
    return (
        "7) Matching to data files\n" + how + " Ready-made:\n"
        f"  Stata:  use mydata, clear\n          do {scale}_match.do occ{' empst' if status else ' .'} sex\n"
        f"  SPSS:   INSERT FILE='{scale}_match.sps'.\n"
        f"          !add_camsis occ=occ{' status=empst' if status else ''} sex=sex.\n"
        f"  R:      source('{scale}_match.R')\n"
        f"          mydata <- add_camsis(mydata, occ = 'occ'{', status = ' + chr(39) + 'empst' + chr(39) if status else ''}, sex = 'sex')\n"
        f"  camsis: camsis match mydata.dta --scores {scores}.dta --occ occ{by} --sex sex --out mydata_camsis.dta\n"
        + (f"(without status: leave empst out, or give . in Stata; camsis match --scores {files.title}.dta)\n"
           if status and files.title else "")
        + "Each adds mcamsis and fcamsis, and with a sex variable (1 male, 2 female) camsis, the own-sex "
        "score. Negative or empty codes stay missing"
        + (f"; a missing or negative status counts as 0; a status not in the scheme leaves the row unmatched "
           f"(except for group codes, scored whatever the status)" if status else "")
        + ". To score a second occupation (a spouse's), rename the new variables first (camsis match: --prefix)."
    )


def readme_text(meta: dict, summary: dict, layout: dict, files: list[str], status_layout: dict | None = None,
                scheme=None) -> str:
    """The release's readme, in the published readmes' order, from this build's facts.

    ``layout`` describes the release's main score file (``describe_columns``),
    ``status_layout`` its by-status file if the scale was built with statuses, whose
    ``scheme`` (camsis.classifications.statuses.StatusScheme) tells which statuses pool first.
    """
    scale, code = meta["scale"], layout["code"]
    match_files = MatchFiles.of(scale, layout, status_layout)
    status = match_files.status
    row = summary.get("sheet_row", {})
    data = summary.get("input", {})
    dropped = summary.get("dropped", {})
    weight = row.get("weight") or ""
    sections = [
        f"{meta['title']}\n{'=' * len(meta['title'])}\n"
        f"Scale {scale}, version {meta['version']}, built {meta['date']} by camsis {meta['camsis_version']}. "
        f"Author: {meta['author']}.",
        "These notes were written by the camsis tool from the build itself (summary.json); the figures "
        "in them are the ones the scale was made with.",
        "Files in this release:\n" + "\n".join(f"  {name}" for name in files),
        "1) The scale\n"
        "CAMSIS (Cambridge Social Interaction and Stratification) scores give each occupational unit "
        "its relative position in the order of social interaction and stratification, as shown by "
        "who partners with whom. They come from a correspondence analysis of the table of husbands' "
        "by wives' occupations, smoothed and re-scaled so that the couples of the input have mean 50 "
        "and standard deviation 15 on each sex's scale. Higher scores mean greater advantage. "
        "Men's (mcamsis) and women's (fcamsis) scores differ: see 5) below.",
        f"2) Occupational unit{' and status' if status else ''} groups\n"
        f"Codes are {code} ({layout['labels'].get(code, code)}): {layout['codes']} codes, units and every "
        f"group above them, so data coded only to a group can be matched at that level."
        + (f" {scale}.dta is by occupational title only (one row per code)." if match_files.title and status else "")
        + ("\n" + _status_section(match_files, status_layout or layout, summary, scheme)
           if status else " The scale is by occupational title only (no employment status)."),
        "3) The data\n"
        f"Input {data.get('path')} (sha256 {data.get('sha256')}). Pairs read {_number(summary.get('pairs_read'))}, "
        f"used {_number(summary.get('pairs_used'))}; left out: "
        + (", ".join(f"{k.replace('_', ' ')} {_number(v)}" for k, v in dropped.items()) or "none") + ". "
        + (f"Each couple is weighted by {weight}." if weight else "Couples are unweighted.")
        + (f" Filter: {row['filter']}." if row.get("filter") else ""),
        "4) How the scale was built\n" + "\n".join(f"- {line}" for line in _method_lines(summary))
        + ("\nWarnings of the build:\n" + "\n".join(f"- {w}" for w in summary["warnings"])
           if summary.get("warnings") else "\nThe build raised no warnings."),
        "5) Gender groups\n"
        "The scales are derived within gender groups: mcamsis ranks men's occupations in the men's "
        "hierarchy of social interaction, fcamsis women's in the women's. There is no necessary "
        "relationship between an occupation's two scores. Both are re-scaled to the same mean and "
        "standard deviation, so giving men their male score and women their female score (the "
        "variable camsis made by the matching files) is defensible; giving everyone the male score "
        "is the 'conventional' alternative. In models of a mixed-sex population consider an "
        "interaction of the score with sex.",
        "6) Pseudo-diagonals\n"
        "Couples whose combination of occupations is much more frequent than their general positions "
        "imply, for an economic or institutional reason (farmers and agricultural workers, doctors and "
        "nurses, ...), were blanked with the diagonals, so the scores describe the general order of "
        "interaction only. For most units few cases are affected; for a few, many are, and their "
        "scores rest on the remaining cases (counts per unit: n_m, n_f).",
        _matching_section(scale, match_files),
        "8) How to cite\n"
        f"{meta['author']} ({meta['date'][:4]}) {meta['title']}, version {meta['version']}. "
        f"Built with camsis {meta['camsis_version']}. See CITATION.cff. On the method: {CAMSIS_REFERENCE} "
        f"{CAMSIS_WEB}",
        "9) Checking the files\n"
        "SHA256SUMS lists the checksum of every file of the release (check with: sha256sum -c SHA256SUMS).",
    ]
    return "\n\n".join(_wrap(section) for section in sections) + "\n"


def _cff_authors(author: str) -> list[dict]:
    people = []
    for name in (part.strip() for part in author.split(";")):
        if not name:
            continue
        if "," in name:
            family, given = (p.strip() for p in name.split(",", 1))
            people.append({"family-names": family, "given-names": given})
        else:
            people.append({"name": name})
    return people


def citation_cff(meta: dict) -> str:
    """CITATION.cff (Citation File Format 1.2.0) for the release; authors 'Family, Given; ...'."""
    data = {
        "cff-version": "1.2.0",
        "message": "If you use these scores, please cite them as below.",
        "type": "dataset",
        "title": meta["title"],
        "version": meta["version"],
        "date-released": meta["date"],
        "authors": _cff_authors(meta["author"]) or [{"name": "unknown"}],
        "keywords": ["CAMSIS", "occupational scale", "social stratification"],
        "references": [{"type": "article", "title": "Marriage, Social Distance and the Social Space: An Alternative "
                        "Derivation and Validation of the Cambridge Scale",
                        "authors": [{"family-names": "Prandy", "given-names": "Ken"},
                                    {"family-names": "Lambert", "given-names": "Paul"}],
                        "journal": "Sociology", "year": 2003, "volume": 37, "issue": 3,
                        "start": 397, "end": 411}],
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class MatchFiles:
    """What a release's matching syntax looks up: the code and status columns and which files hold them.

    ``title`` is the stem of the title-only score file (one row per code), ``by_status`` that
    of the by-status one (code x ``status``); a scale built with statuses has both (the
    workflow's ``{scale}.dta`` and ``{scale}_by_status.dta``), a published by-status file
    alone (GB SOC2020 v2) only ``by_status``, a title-only scale only ``title``. With both,
    a user who gives a status is matched on the by-status file, one who does not on the
    title-only one, which is the same as status 0 of the by-status file.
    """

    code: str
    status: str | None = None
    title: str | None = None
    by_status: str | None = None
    title_columns: tuple[str, ...] = ()
    status_columns: tuple[str, ...] = ()
    scored_status: int | None = None  # a status every unit has a row for (the first above 0)

    @classmethod
    def of(cls, scale: str, title_layout: dict, status_layout: dict | None = None) -> "MatchFiles":
        columns = tuple(title_layout["labels"])
        if status_layout is not None:
            return cls(title_layout["code"], status_layout["status"], scale, f"{scale}_by_status", columns,
                       tuple(status_layout["labels"]), _scored(status_layout))
        if title_layout["status"]:
            return cls(title_layout["code"], title_layout["status"], None, scale, (), columns, _scored(title_layout))
        return cls(title_layout["code"], None, scale, None, columns)


class _Syntax(string.Template):
    """A template of matching syntax: ``@{name}`` is a value, since ``$`` and braces are Stata's, SPSS's and R's own."""

    delimiter = "@"


def render(name: str, **values) -> str:
    """The template ``camsis/publish/templates/{name}`` with the release's values in place of its ``@{name}`` fields."""
    text = resources.files("camsis.publish").joinpath("templates", name).read_text(encoding="utf-8")
    return _Syntax(text).substitute(values)


def _fragment(name: str, **values) -> str:
    """A template that is part of another: without the file's final line break."""
    return render(name, **values).removesuffix("\n")


def _scored(layout: dict) -> int | None:
    return min((s for s in layout["status_values"] if s > 0), default=None)


def _stata_lookup(files: MatchFiles, branch: str) -> tuple[str, str]:
    """The look-up tables built between preserve and restore, and the merges after, of one branch."""
    return (_fragment(f"match_lookup_{branch}.do", code=files.code, status=files.status),
            _fragment(f"match_merge_{branch}.do"))


def _stata_branches(files: MatchFiles, part: int) -> str:
    """Part 0 (look-ups) or 1 (merges): by status where a status is given, else title-only."""
    if files.title and files.by_status:
        status_part, title_part = _stata_lookup(files, "status")[part], _stata_lookup(files, "title")[part]
        return (f'if "`status\'" != "" {{\n{textwrap.indent(status_part, "    ")}\n}}\n'
                f'else {{\n{textwrap.indent(title_part, "    ")}\n}}')
    return _stata_lookup(files, "title" if files.by_status is None else "status")[part]


def stata_match(scale: str, files: MatchFiles) -> str:
    """A Stata 13+ do-file adding mcamsis, fcamsis (and camsis) to the data in memory."""
    code, status = files.code, files.status
    status_arg = "STATUSVAR" if status else "."
    kind = "both" if status and files.title else "status" if status else "title"
    names = dict(scale=scale, title=files.title, by_status=files.by_status)
    scores, where = _fragment(f"match_scores_{kind}.do", **names), _fragment(f"match_where_{kind}.do", **names)
    lookups = textwrap.indent(_stata_branches(files, 0), "    ")
    merges = textwrap.indent(_stata_branches(files, 1), "    ")
    status_line = (f"STATUSVAR: employment status coded as {status}, or . if unknown; missing or negative = 0 (no information)."
                   if status else "The scale has no employment status: give . in its place.")
    return render("match.do", scale=scale, status_arg=status_arg, code=code, status_line=status_line, where=where,
                  scores=scores, lookups=lookups, merges=merges)


def _spss_table(source: str, columns, keys: dict, values: dict, flag: str | None = None) -> str:
    """Sort the survey by ``keys`` and match one table of the release onto it (MATCH FILES /TABLE).

    ``keys`` and ``values`` map the table's columns to the survey's key variables and to the
    new variables; every other column of the table is renamed (so it cannot meet a survey
    variable of the same name) and dropped. No second dataset is opened: SPSS and PSPP
    differ on what GET does to a named active dataset, and the survey stays the user's own.
    """
    others = [c for c in columns if c not in keys and c not in values]
    renames = {**keys, **values, **{c: f"camsis_x{i}" for i, c in enumerate(others, 1)}}
    by = " ".join(keys.values())
    wrap = lambda text: textwrap.fill(text, 100, subsequent_indent="    ", break_on_hyphens=False)  # noqa: E731
    lines = [f"SORT CASES BY {by}.", f"MATCH FILES /FILE=* /TABLE={source}",
             wrap(f"  /RENAME=({' '.join(renames)} = {' '.join(renames.values())})")]
    if flag:
        lines.append(f"  /IN={flag}")
    lines.append(f"  /BY {by}" + ("" if others else "."))
    if others:
        lines.append(wrap(f"  /DROP={' '.join(f'camsis_x{i}' for i in range(1, len(others) + 1))}."))
    return "\n".join(lines)


def _spss_lookup(files: MatchFiles, branch: str, scores: str, status_given: bool) -> str:
    """One branch of !add_camsis: the survey's status (by status) and the matches."""
    code, status = files.code, files.status
    scores_values = {"mcamsis": "camsis_m", "fcamsis": "camsis_f"}
    if branch == "title":
        return _spss_table(scores, files.title_columns, {code: "camsis_code"}, scores_values)
    own_status = ("IF (NOT MISSING(!status) AND !status >= 0) camsis_status = !status." if status_given else
                  "!IF (!status !NE none) !THEN\n"
                  "IF (NOT MISSING(!status) AND !status >= 0) camsis_status = !status.\n"
                  "!IFEND")
    columns = files.status_columns
    return _fragment(
        "match_status.sps", own_status=own_status, scored_status=files.scored_status,
        by_status=_spss_table(scores, columns, {code: "camsis_code", status: "camsis_status"}, scores_values),
        unit=_spss_table(scores, columns, {code: "camsis_code", status: "camsis_unit_status"}, {}, flag="camsis_unit"),
        zero=_spss_table(scores, columns, {code: "camsis_code", status: "camsis_zero"},
                         {"mcamsis": "camsis_m0", "fcamsis": "camsis_f0"}))


def spss_match(scale: str, files: MatchFiles) -> str:
    """SPSS syntax defining !add_camsis, which adds mcamsis, fcamsis (and camsis) to the active dataset."""
    code, status = files.code, files.status
    both = bool(files.title and files.by_status)
    arguments = ["occ = !TOKENS(1)"]
    if status:
        arguments.append("status = !DEFAULT(none) !TOKENS(1)")
    arguments.append("sex = !DEFAULT(none) !TOKENS(1)")
    arguments.append(f"scores = !DEFAULT('{files.title or files.by_status}.sav') !TOKENS(1)")
    if both:
        arguments.append(f"byscores = !DEFAULT('{files.by_status}.sav') !TOKENS(1)")
    if both:
        body = (f"!IF (!status !NE none) !THEN\n{_spss_lookup(files, 'status', '!byscores', True)}\n"
                f"!ELSE\n{_spss_lookup(files, 'title', '!scores', False)}\n!IFEND")
    elif status:
        body = _spss_lookup(files, "status", "!scores", False)
    else:
        body = _spss_lookup(files, "title", "!scores", False)
    if both:
        usage = (f"* status (optional): employment status coded as {status}; missing or negative = 0 (no\n"
                 f"* information). With it the scores come from byscores ({files.by_status}.sav, code x status),\n"
                 f"* without it from scores ({files.title}.sav, the same as status 0).")
    elif status:
        usage = (f"* status (optional): employment status coded as {status}; missing or negative = 0 (no\n"
                 "* information); leave it out if unknown.")
    else:
        usage = "* The scale has no employment status."
    return render("match.sps", scale=scale, status_usage=" status=STATUSVAR" if status else "", code=code, usage=usage,
                  arguments="\n  /".join(arguments), body=body)


def r_match(scale: str, files: MatchFiles) -> str:
    """R code defining add_camsis(data, occ, status, sex, scores), using haven."""
    code, status = files.code, files.status
    default = f"{files.title or files.by_status}.dta"
    if files.title and files.by_status:
        about = (f"# status (optional): employment status coded as {status}; missing or negative = 0 (no information).\n"
                 f"# With a status the scores come from {files.by_status}.dta (code x status), found beside\n"
                 f"# `scores` ({files.title}.dta, title-only: the same as status 0).")
        switch = (f'  if (!is.null(status) && basename(scores) == "{files.title}.dta") {{\n'
                  f'    scores <- file.path(dirname(scores), "{files.by_status}.dta")\n  }}\n')
    elif status:
        about = f"# status (optional): employment status coded as {status}; missing or negative = 0 (no information)."
        switch = ""
    else:
        about = "# The scale has no employment status: leave status out."
        switch = ""
    return render("match.R", scale=scale, status_example=', status = "empst"' if status else "", code=code, about=about,
                  default=default, status=status or "", switch=switch)


def numeric_columns(scores: pd.DataFrame) -> pd.DataFrame:
    """Integer columns with missing values that pyreadstat reads as objects, as floats again.

    (pyreadstat hands a Stata int column with missing values back as Python ints and NaN in an
    object column, which it then cannot write to SPSS.)
    """
    out = scores.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object and values.dropna().map(lambda v: isinstance(v, (int, float, np.number))).all():
            out[column] = pd.to_numeric(values).astype("float64")
    return out


def tsv_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The table as published .dat files show it: whole numbers without a decimal point."""
    out = scores.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            finite = values.dropna()
            if len(finite) and np.all(np.mod(finite, 1) == 0) and finite.abs().max() < 2**53:
                out[column] = values.astype("Int64")
    return out




def sha256sums(paths) -> str:
    """SHA256SUMS in the format `sha256sum -c` reads: '<hex>  <name>' per line."""
    return "".join(f"{file_sha256(path)}  {Path(path).name}\n" for path in sorted(paths, key=lambda p: Path(p).name))


def write_zip(paths, target) -> None:
    """A zip of ``paths`` under the folder name of the release, with fixed dates (reproducible)."""
    folder = Path(target).stem
    with atomic_path(target) as temporary:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(paths, key=lambda p: Path(p).name):
                info = zipfile.ZipInfo(f"{folder}/{Path(path).name}", ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, Path(path).read_bytes())


def stamp_sav(path, date: str) -> None:
    """Set a .sav header's creation date to ``date`` (ISO) at 00:00:00, in place.

    readstat stamps the time of writing, so two builds of the same scale would zip to
    different bytes; the build date is what the readme and CITATION.cff state anyway.
    The header is '$FL2', 60 bytes of product name, five 4-byte fields and an 8-byte
    bias, then the date (9 bytes, 'dd Mmm yy') and time (8 bytes, 'hh:mm:ss').
    """
    day = datetime.date.fromisoformat(date) if date else datetime.date(1980, 1, 1)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    stamp = f"{day.day:02d} {months[day.month - 1]} {day.year % 100:02d}00:00:00".encode("ascii")
    with open(path, "r+b") as handle:
        if handle.read(4) not in (b"$FL2", b"$FL3"):
            raise ValueError(f"{path} is not an SPSS .sav file")
        handle.seek(92)
        handle.write(stamp)


# The .sav dictionary of the published files (de95isco88.sav): codes F6.0, CAMSIS scores
# F6.1, -777 declared user-missing on the code, status and score columns (so a user's
# own -777 "not scoreable" code is never read as a score), display width 6.
SAV_MISSING = -777
SAV_SCORES = ("mcamsis", "fcamsis", "mcamsis2", "fcamsis2", "mcam_lo", "mcam_hi", "fcam_lo", "fcam_hi")
SAV_FILE_LABEL = 64  # bytes an SPSS file label holds


def sav_dictionary(scores: pd.DataFrame, keys: list[str], value_labels: dict) -> dict:
    """pyreadstat.write_sav's dictionary arguments for a score table, as published.

    Whole-number columns (codes, statuses, counts, categorical links) get integer formats
    wide enough for their values; CAMSIS scores one decimal; other measures (standard
    errors) two. The key columns (code, status) and the scores declare -777 missing.
    Labelled columns are nominal, the others scale.
    """
    formats, widths, measures, missing = {}, {}, {}, {}
    for column in scores.columns:
        values = pd.to_numeric(scores[column], errors="coerce").dropna()
        whole = len(values) == 0 or bool(np.all(np.mod(values, 1) == 0))
        if column.lower() in SAV_SCORES:
            formats[column] = "F6.1"
        elif whole:
            digits = len(str(int(values.abs().max()))) + int((values < 0).any()) if len(values) else 1
            formats[column] = f"F{max(6, digits)}.0"
        else:
            formats[column] = "F8.2"
        widths[column] = int(formats[column][1:].split(".")[0])
        measures[column] = "nominal" if column in value_labels or column in keys else "scale"
        if column in keys or column.lower() in SAV_SCORES[:4]:
            missing[column] = [SAV_MISSING]
    return {"variable_format": formats, "variable_display_width": widths, "variable_measure": measures,
            "missing_ranges": missing}


def sav_file_label(text: str) -> str:
    """A file label within SPSS's 64 bytes, cut at a word (not mid-word, as readstat cuts)."""
    if len(text.encode("utf-8")) <= SAV_FILE_LABEL:
        return text
    cut = text.encode("utf-8")[:SAV_FILE_LABEL + 1].decode("utf-8", errors="ignore")
    cut = cut[:cut.rfind(" ")] if " " in cut else cut[:SAV_FILE_LABEL]
    return cut.rstrip(" ,;:-\\/([").encode("utf-8")[:SAV_FILE_LABEL].decode("utf-8", errors="ignore")


def _write_text(text: str, path) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_table(score_file, dta, sav, tsv, date: str) -> list[Path]:
    """One score table of a release as .dta (the workflow's file, byte for byte: already format
    117), .sav and .tsv made from it, so all three hold the same values and labels (the .sav's
    rows in ascending code[, status] order)."""
    scores, info = pyreadstat.read_dta(str(score_file))
    scores = numeric_columns(scores)
    with atomic_path(dta) as temporary:
        shutil.copyfile(score_file, temporary)
    # SPSS's MATCH FILES /TABLE (the .sps) needs the table in ascending key order; the workflow's
    # files are in their classification's order, which need not be.
    index = score_index(scores)
    keys = [index.code] + ([index.status] if index.status else [])
    sorted_scores = scores.sort_values(keys, kind="stable").reset_index(drop=True)
    with atomic_path(sav) as temporary:
        pyreadstat.write_sav(sorted_scores, str(temporary), file_label=sav_file_label(info.file_label or ""),
                             column_labels=[info.column_names_to_labels.get(c) for c in scores.columns],
                             variable_value_labels=info.variable_value_labels or None,
                             **sav_dictionary(sorted_scores, keys, info.variable_value_labels or {}))
        stamp_sav(temporary, date)
    with atomic_path(tsv) as temporary:
        tsv_table(scores).to_csv(temporary, sep="\t", index=False, na_rep="")
    return [Path(dta), Path(sav), Path(tsv)]


def table_paths(folder, stem: str) -> list[Path]:
    """The .dta, .sav and .tsv of one score table in a release folder."""
    return [Path(folder) / f"{stem}{suffix}" for suffix in (".dta", ".sav", ".tsv")]


def note_paths(folder, scale: str) -> list[Path]:
    """The files of a release made from its tables: readme, matching syntax, citation, checksums."""
    folder = Path(folder)
    return [folder / name for name in (f"{scale}_readme.txt", f"{scale}_match.do", f"{scale}_match.sps",
                                       f"{scale}_match.R", "CITATION.cff", "SHA256SUMS")]


def _layout(path) -> dict:
    scores, info = pyreadstat.read_dta(str(path))
    return describe_columns(numeric_columns(scores), info.column_names_to_labels, info.variable_value_labels)


def write_notes(folder, zip_path, meta: dict, summary: dict, has_status: bool = False, scheme=None) -> list[Path]:
    """Everything of a release but its tables, then SHA256SUMS over all and the zip.

    The tables (``write_table``) must be in ``folder`` already: ``{scale}.dta`` and, for a
    scale built with statuses (``has_status``), ``{scale}_by_status.dta``, whose ``scheme``
    (camsis.classifications.statuses.StatusScheme) the readme describes. Returns every file of the release.
    """
    scale = meta["scale"]
    tables = table_paths(folder, scale)
    by_status = table_paths(folder, f"{scale}_by_status")
    tables += by_status if has_status else []
    layout = _layout(tables[0])
    status_layout = _layout(by_status[0]) if has_status else None
    files = MatchFiles.of(scale, layout, status_layout)
    readme, do, sps, r, cff, sums = note_paths(folder, scale)
    _write_text(stata_match(scale, files), do)
    _write_text(spss_match(scale, files), sps)
    _write_text(r_match(scale, files), r)
    _write_text(citation_cff(meta), cff)
    names = [p.name for p in [*tables, readme, do, sps, r, cff, sums]]
    _write_text(readme_text(meta, summary, layout, names, status_layout, scheme), readme)
    content = [*tables, readme, do, sps, r, cff]
    _write_text(sha256sums(content), sums)
    write_zip([*content, sums], zip_path)
    return [*content, sums]


def write_release(score_file, summary: dict, folder, zip_path, meta: dict, by_status_file=None,
                  scheme=None) -> list[Path]:
    """Write the whole release of one scale into ``folder`` and zip it; returns the files written.

    ``by_status_file`` is the scale's by-status score file (``{scale}_by_status.dta``), if
    it was built with statuses; ``scheme`` its status scheme.
    """
    scale = meta["scale"]
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_table(score_file, *table_paths(folder, scale), meta["date"])
    if by_status_file is not None:
        write_table(by_status_file, *table_paths(folder, f"{scale}_by_status"), meta["date"])
    return write_notes(folder, zip_path, meta, summary, by_status_file is not None, scheme)


def scale_metadata(summary_path, score_file, scale: str, version: str = "", title: str = "", author: str = "",
                   defaults: dict | None = None) -> tuple[dict, dict]:
    """The build's summary and the release's metadata: ``version``, ``title`` and ``author`` are the
    scale's sheet cells (empty: the config's ``release`` defaults, ``defaults``)."""
    summary = json.loads(Path(summary_path).read_text())
    variable = pyreadstat.read_dta(str(score_file), metadataonly=True)[1].column_names[0]
    meta = release_metadata(scale, {"version": version, "title": title, "author": author}, defaults or {},
                            summary, variable)
    return summary, meta

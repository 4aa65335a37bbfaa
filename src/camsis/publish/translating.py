"""Carry a built scale's scores to another classification through a crosswalk.

How the published GB 2010 ISCO-08 file was made from the SOC2010 scale: each target
unit gets the weighted mean of the scores of the source units the crosswalk maps to it,
weighted by the people behind each source score (the build's `n_m` for husbands' scores,
`n_f` for wives'), so the target score describes the same people as the source scores.
Target units that no source code maps to stay missing and are counted; target groups
are the weighted means of their units, as camsis.method.filling does for a build.

A by-status score file (one row per code and employment status, as the published GB 2010
SOC2010 file and a build's `_by_status.dta`) is translated status by status: the
published ISCO-08 file's status-3 scores are the weighted means of the SOC2010 status-3
scores, so the statuses of one code never mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from camsis.errors import CamsisError
from camsis.io.writing import write_csv, write_dta
from camsis.method.filling import _group_sums, score_groups
from camsis.vocabulary import PARTNER_NAMES, SIDES

SCORE_COLUMNS = {"mcamsis": "n_m", "fcamsis": "n_f", "mcamsis2": "n_m", "fcamsis2": "n_f"}


def _read_table(path: str | Path, what: str) -> tuple[pd.DataFrame, dict, dict]:
    path = Path(path)
    if not path.is_file():
        raise CamsisError(f"{what} {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".dta", ".sav"):
            reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
            data, meta = reader(str(path))
            value_labels = {k: (meta.variable_to_label.get(k), v) for k, v in meta.variable_value_labels.items()}
            return data, {k: v for k, v in meta.column_names_to_labels.items() if v}, value_labels
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ","), {}, {}
    except Exception as error:  # readers raise many types for a corrupt file
        raise CamsisError(f"{what} {path}: cannot read it: {' '.join(str(error).split())}") from None
    raise CamsisError(f"{what} {path}: use a .dta, .sav, .csv or .tsv file")


@dataclass
class ScoreFile:
    """A score file to translate: its rows, code column, score columns with the column
    weighting each, the status column of a by-status file (else None), and the status
    variable's value labels (for the .dta written)."""

    data: pd.DataFrame
    code: str
    weights: dict[str, str]
    status: str | None = None
    status_labels: dict = field(default_factory=dict)
    status_label_set: str | None = None


def read_scores(path: str | Path, columns: list[str] | None = None, weights: list[str] | None = None,
                status: str | None = None, schemes: list | None = None) -> ScoreFile:
    """A score file: the code variable is its first column (as camsis and the published
    files write them).

    `columns` are the scores to translate (default: mcamsis, fcamsis and their second
    dimension, those present); `weights` one column for all, or one per score (default:
    n_m / n_f for camsis's own columns, or the pair counts of the status scheme
    (`schemes`, camsis.classifications.statuses) whose variable is the status column, as in a build's
    `_by_status.dta`; `n_{column}` for other columns, as the published files' n_gb_csm
    for gb_csm). A file whose codes repeat is by status: `status` names its status
    column, else the integer column 0-9 that tells the repeats apart (a scheme's
    variable first) is taken.
    """
    data, _, value_labels = _read_table(path, "SCOREFILE")
    names = [str(c) for c in data.columns]
    scores = columns or [c for c in SCORE_COLUMNS if c in names]
    if not scores:
        raise CamsisError(f"SCOREFILE {path}: no score column ({', '.join(SCORE_COLUMNS)}); "
                          f"name yours with --score-columns (it has {', '.join(names)})")
    absent = [c for c in scores if c not in names]
    if absent:
        raise CamsisError(f"SCOREFILE {path}: no column {', '.join(absent)} (it has {', '.join(names)})")
    if weights and len(weights) not in (1, len(scores)):
        raise CamsisError(f"--weight gives {len(weights)} columns for {len(scores)} score columns: give one, or one per score")
    code = names[0]
    if status is not None and status not in names:
        raise CamsisError(f"--status {status}: not a column of {path} (it has {', '.join(names)})")
    codes = pd.to_numeric(data[code], errors="coerce")
    if status is None and codes.dropna().duplicated().any():
        status = _status_column(data, code, set(scores), [s.variable for s in schemes or []], path)
    scheme = next((s for s in schemes or [] if s.variable == status), None)
    chosen = {}
    for k, column in enumerate(scores):
        if weights:
            chosen[column] = weights[0] if len(weights) == 1 else weights[k]
        elif column in SCORE_COLUMNS and SCORE_COLUMNS[column] not in names and scheme is not None:
            chosen[column] = scheme.counts[SCORE_COLUMNS[column][-1]]
        else:
            chosen[column] = SCORE_COLUMNS.get(column, f"n_{column}")
    missing = sorted({w for w in chosen.values() if w not in names})
    if missing:
        raise CamsisError(f"SCOREFILE {path}: no weight column {', '.join(missing)} (name the columns that count "
                          f"the people behind each score with --weight)")
    if status is not None:
        keys = data[[code, status]].apply(pd.to_numeric, errors="coerce").dropna()
        twice = keys[keys.duplicated()]
        if len(twice):
            raise CamsisError(f"SCOREFILE {path}: code {twice.iloc[0, 0]:g} has two rows at {status} {twice.iloc[0, 1]:g}")
    label_set, labels = value_labels.get(status, (None, {})) if status else (None, {})
    return ScoreFile(data, code, chosen, status, dict(labels), label_set)


def _status_column(data: pd.DataFrame, code: str, taken: set, known: list[str], path) -> str:
    """The column that tells a by-status file's repeated codes apart: whole numbers 0-9 (a
    status of code*10 + status) that with the code make every row unique; a status
    scheme's variable (`known`) before any other."""
    candidates = []
    for column in data.columns:
        if column == code or column in taken:
            continue
        values = pd.to_numeric(data[column], errors="coerce")
        if values.isna().any() or not values.between(0, 9).all() or (values != values.round()).any():
            continue
        if not data[[code]].assign(status=values).duplicated().any():
            candidates.append(str(column))
    candidates = [c for c in candidates if c in known] or candidates
    if len(candidates) != 1:
        found = f"columns {', '.join(candidates)} could be it" if candidates else "no column tells the repeats apart"
        raise CamsisError(f"SCOREFILE {path}: codes repeat, as in a by-status file, and {found}: "
                          f"name the status column with --status")
    return candidates[0]


def read_crosswalk(path: str | Path, source: str, target: str) -> pd.DataFrame:
    """Pairs (source, target) of integer codes; rows with either side missing are left out."""
    data, _, _ = _read_table(path, "--crosswalk")
    if source not in data.columns and "code" in data.columns:
        source = "code"
    missing = [c for c in (source, target) if c not in data.columns]
    if missing:
        raise CamsisError(f"--crosswalk {path}: no column {', '.join(missing)} (it has {', '.join(map(str, data.columns))}); "
                          f"name them with --from-column / --to-column")
    pairs = data[[source, target]].apply(pd.to_numeric, errors="coerce").dropna()
    if (pairs != pairs.round()).any().any():
        raise CamsisError(f"--crosswalk {path}: codes must be integers")
    pairs = pairs.astype(np.int64).drop_duplicates()
    pairs.columns = ["source", "target"]
    return pairs


def translate_scores(scores: pd.DataFrame, code: str, crosswalk: pd.DataFrame, target, weights: dict[str, str]
                     ) -> tuple[pd.DataFrame, dict]:
    """Weighted means of the source scores per target code.

    `weights` maps each score column to the column weighting it. A source code mapped to
    several target codes counts in full towards each (the crosswalk says its people could
    be in any of them; splitting them would need shares the crosswalk does not give).
    Returns the target table (target variable, scores, summed weights named as the
    source's, number of source codes) and a report.
    """
    columns = list(weights)
    source = scores.assign(**{code: pd.to_numeric(scores[code], errors="coerce")}).dropna(subset=[code])
    twice = source[code][source[code].duplicated()]
    if len(twice):
        raise CamsisError(f"SCOREFILE: code {twice.iloc[0]:g} has two rows (a by-status file? name its status "
                          f"column with --status)")
    source = source.set_index(source[code].astype(np.int64).to_numpy())
    units = pd.Index(target.units)
    linked = crosswalk[crosswalk["source"].isin(source.index)]
    outside = sorted(set(linked["target"]) - set(target.frame.index))
    if outside:
        raise CamsisError(f"--crosswalk maps to {len(outside)} codes that are not codes of {target.name}: "
                          f"{', '.join(map(str, outside[:10]))}")
    # a crosswalk that stops at a group (an approximation coded 2200) cannot say which unit:
    # those pairs are left out, counted and named, and the group still gets its units' mean
    to_groups = linked[~linked["target"].isin(units)]
    linked = linked[linked["target"].isin(units)]
    unmapped_sources = sorted(set(crosswalk["source"]) - set(source.index))
    out = pd.DataFrame({target.variable: target.frame.index.to_numpy(dtype=np.int64)}, index=target.frame.index)
    population = {}
    for column in columns:
        w = source[weights[column]].astype(float).fillna(0.0)
        values = source[column].astype(float)
        rows = pd.DataFrame({"target": linked["target"].to_numpy(),
                             "value": values.reindex(linked["source"]).to_numpy(),
                             "weight": w.reindex(linked["source"]).to_numpy()})
        rows = rows[np.isfinite(rows["value"])]
        rows["wx"] = rows["value"] * rows["weight"]
        sums = rows.groupby("target").agg(wx=("wx", "sum"), weight=("weight", "sum"), plain=("value", "mean"))
        means = (sums["wx"] / sums["weight"].where(sums["weight"] > 0)).fillna(sums["plain"])
        population[column] = sums["weight"].reindex(units).fillna(0.0)
        out[column] = score_groups(means.reindex(units), population[column], target)
    for column, weight in weights.items():
        if weight not in out:  # mcamsis and mcamsis2 share n_m: the first score's people
            out[weight] = _group_sums(population[column], target)
    counted = linked.groupby("target")["source"].nunique().reindex(units).fillna(0).astype(np.int64)
    out["n_sources"] = _group_sums(counted.astype(float), target).round().astype(np.int64)
    for link in target.links:
        out[link] = target.frame[link]
    without = [int(u) for u in units if counted.get(u, 0) == 0]
    report = {
        "targets": int(len(units)),
        "targets_scored": int(len(units) - len(without)),
        "targets_without_source": without,
        "sources_used": int(linked["source"].nunique()),
        "crosswalk_sources_not_scored": unmapped_sources,
        "pairs_to_groups": int(len(to_groups)),
        "lines": [],
    }
    if len(to_groups):
        groups = sorted(int(c) for c in set(to_groups["target"]))
        report["lines"].append(f"{len(to_groups)} crosswalk pairs map to {target.name} groups, not units, and are "
                               f"left out: {', '.join(map(str, groups[:20]))}" + (" ..." if len(groups) > 20 else ""))
    if without:
        report["lines"].append(f"{len(without)} {target.name} units have no source code in the crosswalk and are "
                               f"left missing: {', '.join(map(str, without[:20]))}" + (" ..." if len(without) > 20 else ""))
    return out.reset_index(drop=True), report


def translate_by_status(scores: ScoreFile, crosswalk: pd.DataFrame, target) -> tuple[pd.DataFrame, dict]:
    """`translate_scores` at each status of a by-status file, the statuses never mixed.

    Returns one table of (target code, status) rows, sorted by code then status, and the
    report: counts summed over statuses, and each warning once with the statuses it holds
    for (all of them, as a rule, since every code has a row at every status).
    """
    statuses = pd.to_numeric(scores.data[scores.status], errors="coerce")
    tables, reports = [], {}
    for value in sorted(statuses.dropna().unique()):
        table, report = translate_scores(scores.data[statuses == value], scores.code, crosswalk, target, scores.weights)
        table.insert(1, scores.status, int(value))
        tables.append(table)
        reports[int(value)] = report
    if not tables:
        raise CamsisError(f"SCOREFILE: no row has a status in {scores.status}")
    out = pd.concat(tables, ignore_index=True).sort_values([target.variable, scores.status], kind="stable")
    by_line: dict[str, list[int]] = {}
    for value, report in reports.items():
        for line in report["lines"]:
            by_line.setdefault(line, []).append(value)
    first = next(iter(reports.values()))
    summary = {
        "statuses": sorted(reports),
        "targets": first["targets"],
        "targets_scored": max(r["targets_scored"] for r in reports.values()),
        "targets_without_source": sorted(set.intersection(*(set(r["targets_without_source"]) for r in reports.values()))),
        "sources_used": max(r["sources_used"] for r in reports.values()),
        "pairs_to_groups": first["pairs_to_groups"],
        "lines": [line if len(held) == len(reports) else f"{scores.status} {', '.join(map(str, held))}: {line}"
                  for line, held in by_line.items()],
    }
    if rows_without := int(statuses.isna().sum()):
        summary["lines"].append(f"{rows_without} rows of the score file have no {scores.status} and are left out")
    return out.reset_index(drop=True), summary


def write_translation(table: pd.DataFrame, report: dict, target, path: str | Path, source: str,
                      scores: ScoreFile | None = None) -> None:
    """The translated table as .csv, or .dta with the target's value labels (and the
    status's, for a by-status file) and a note of what was missing."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        write_csv(table, path)
        return
    labels = {target.variable: target.label, "n_sources": "Source codes behind the score"}
    value_labels = {target.variable: target.value_labels()}
    for side in SIDES:
        labels[f"n_{side}"] = f"{PARTNER_NAMES[side].capitalize()} behind the score (sum of source n_{side})"
        labels[f"{side}camsis"] = f"CAMSIS, {PARTNER_NAMES[side]}, translated from {source}"
    for column, weight in (scores.weights.items() if scores else ()):
        labels.setdefault(column, f"{column} translated from {source}")
        labels.setdefault(weight, f"Sum of the source {weight} behind the score")
    set_names = target.label_set_names()
    if scores and scores.status:
        labels[scores.status] = f"Employment status ({scores.status} of {source})"
        if scores.status_labels:
            value_labels[scores.status] = {int(k): str(v) for k, v in scores.status_labels.items()}
            set_names[scores.status] = scores.status_label_set or f"{scores.status}l"
    labels.update(target.link_labels)
    write_dta(table, path, {c: labels.get(c, c)[:80] for c in table.columns},
              value_labels | {k: v for k, v in target.link_value_labels.items() if k in table.columns},
              f"CAMSIS translated to {target.name} from {source}", notes=report["lines"], label_set_names=set_names)

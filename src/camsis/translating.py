"""Carry a built scale's scores to another classification through a crosswalk.

How the published GB 2010 ISCO-08 file was made from the SOC2010 scale: each target
unit gets the weighted mean of the scores of the source units the crosswalk maps to it,
weighted by the people behind each source score (the build's `n_m` for husbands' scores,
`n_f` for wives'), so the target score describes the same people as the source scores.
Target units that no source code maps to stay missing and are counted; target groups
are the weighted means of their units, as camsis.filling does for a build.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.filling import _group_sums, score_groups
from camsis.vocabulary import PARTNER_NAMES, SIDES

SCORE_COLUMNS = {"mcamsis": "n_m", "fcamsis": "n_f", "mcamsis2": "n_m", "fcamsis2": "n_f"}


def _read_table(path: str | Path, what: str) -> tuple[pd.DataFrame, dict]:
    path = Path(path)
    if not path.is_file():
        raise CamsisError(f"{what} {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".dta", ".sav"):
            import pyreadstat

            reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
            data, meta = reader(str(path))
            return data, {k: v for k, v in meta.column_names_to_labels.items() if v}
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ","), {}
    except Exception as error:  # readers raise many types for a corrupt file
        raise CamsisError(f"{what} {path}: cannot read it: {' '.join(str(error).split())}") from None
    raise CamsisError(f"{what} {path}: use a .dta, .sav, .csv or .tsv file")


def read_scores(path: str | Path) -> tuple[pd.DataFrame, str]:
    """A score file and its code variable (the first column, as camsis writes them)."""
    data, _ = _read_table(path, "SCOREFILE")
    if not any(c in data.columns for c in SCORE_COLUMNS):
        raise CamsisError(f"SCOREFILE {path}: no score column ({', '.join(SCORE_COLUMNS)})")
    return data, str(data.columns[0])


def read_crosswalk(path: str | Path, source: str, target: str) -> pd.DataFrame:
    """Pairs (source, target) of integer codes; rows with either side missing are left out."""
    data, _ = _read_table(path, "--crosswalk")
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


def translate_scores(scores: pd.DataFrame, code: str, crosswalk: pd.DataFrame, target, weight: str | None = None
                     ) -> tuple[pd.DataFrame, dict]:
    """Weighted means of the source scores per target code.

    A source code mapped to several target codes counts in full towards each (the
    crosswalk says its people could be in any of them; splitting them would need shares
    the crosswalk does not give). Returns the target table (target variable, scores,
    summed weights, number of source codes) and a report.
    """
    columns = [c for c in SCORE_COLUMNS if c in scores.columns]
    weights = {c: weight or SCORE_COLUMNS[c] for c in columns}
    absent = sorted({w for w in weights.values() if w not in scores.columns})
    if absent:
        raise CamsisError(f"SCOREFILE has no weight column {', '.join(absent)} (give --weight)")
    source = scores.assign(**{code: pd.to_numeric(scores[code], errors="coerce")}).dropna(subset=[code])
    source = source.drop_duplicates(subset=[code]).set_index(source[code].astype(np.int64).to_numpy())
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
    for side in SIDES:
        key = f"{side}camsis" if f"{side}camsis" in population else None
        if key:
            total = population[key]
            out[f"n_{side}"] = _group_sums(total, target)
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


def write_translation(table: pd.DataFrame, report: dict, target, path: str | Path, source: str) -> None:
    """The translated table as .csv, or .dta with the target's value labels and a note of what was missing."""
    from camsis.writing import write_csv, write_dta

    path = Path(path)
    if path.suffix.lower() == ".csv":
        write_csv(table, path)
        return
    labels = {target.variable: target.label, "n_sources": "Source codes behind the score"}
    for side in SIDES:
        labels[f"n_{side}"] = f"{PARTNER_NAMES[side].capitalize()} behind the score (sum of source n_{side})"
        labels[f"{side}camsis"] = f"CAMSIS, {PARTNER_NAMES[side]}, translated from {source}"
    labels.update(target.link_labels)
    write_dta(table, path, {c: labels.get(c, c)[:80] for c in table.columns},
              {target.variable: target.value_labels()}, f"CAMSIS translated to {target.name} from {source}",
              notes=report["lines"])

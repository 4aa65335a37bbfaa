"""A new build against an existing score file (``compare_to``): how far the scale moved, and where.

Both files are in the published format: one row per code (column named after the
classification's variable, e.g. ``soc2020``) with ``mcamsis`` and ``fcamsis``.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.io.reading import input_columns, iter_chunks
from camsis.method.correlation import pearson
from camsis.vocabulary import SEX_NAMES, SIDES

log = logging.getLogger("camsis.publish.compare")

SEXES = {SEX_NAMES[side]: f"{side}camsis" for side in SIDES}  # male -> mcamsis, female -> fcamsis
SCORE_FORMATS = (".dta", ".csv")


@dataclass
class Comparison:
    """A new score file set against an old one.

    Attributes
    ----------
    scores : DataFrame indexed by code (codes in both files), columns ``title``, ``unit``
        (True for finest-level codes), then ``{column}_new``, ``{column}_old`` for
        ``mcamsis`` and ``fcamsis``.
    correlations : one row per set of codes (``units``, ``all codes``) and sex (``male``,
        ``female``): ``codes``, ``sex``, ``n`` (codes scored in both), ``pearson``,
        ``spearman``, ``mean_new``, ``mean_old``, ``mean_abs_difference``,
        ``max_abs_difference``.
    top : the codes that moved most, per sex, largest absolute change first: ``sex``,
        the code column (named as in the files), ``title``, ``new``, ``old``,
        ``difference`` (new - old).
    only_new, only_old : codes scored in one file only.
    """

    scores: pd.DataFrame
    correlations: pd.DataFrame
    top: pd.DataFrame
    only_new: list
    only_old: list


def read_score_file(path, code: str, status: str | None = None, unknown: int = 0) -> pd.DataFrame:
    """The code, mcamsis and fcamsis columns of a .dta or .csv score file, one row per code.

    A by-status file (one row per code x status, such as the published gb_soc2020_v2.dta)
    is read as its status-``unknown`` rows, the scores of occupations whatever the status,
    when the title-only scale is compared with it. ``status`` names its status variable:
    it is found by the code repeating, and given, the rows are keyed instead by the combined
    code ``code*10 + status`` (in the ``code`` column), to compare two by-status files unit
    x status by unit x status.
    """
    path = Path(path)
    if path.suffix.lower() not in SCORE_FORMATS:
        raise CamsisError(f"compare_to file {path}: expected a score file ending in .dta or .csv")
    if not path.is_file():
        raise CamsisError(f"compare_to file {path} does not exist")
    columns = [code, *SEXES.values()]
    available = input_columns(path)
    has_status = status is not None and status in available
    frame = pd.concat(list(iter_chunks(path, columns + ([status] if has_status else []))), ignore_index=True)
    codes = pd.to_numeric(frame[code], errors="coerce")
    if codes.isna().any() or not (codes == codes.round()).all():
        raise CamsisError(f"compare_to file {path}: column {code} holds a value that is not a whole-number code")
    frame[code] = codes.astype("int64")
    if has_status:
        statuses = pd.to_numeric(frame[status], errors="coerce")
        if statuses.isna().any() or ((statuses < 0) | (statuses > 9) | (statuses != statuses.round())).any():
            raise CamsisError(f"compare_to file {path}: status variable {status} holds a value that is not a status 0-9")
        frame[code] = frame[code] * 10 + statuses.astype("int64")
        frame = frame.drop(columns=[status])
    duplicated = frame[code][frame[code].duplicated()].unique()
    if len(duplicated):
        raise CamsisError(
            f"compare_to file {path}: code(s) {', '.join(map(str, duplicated[:5]))} appear more than once in {code}"
            + ("" if status is None else f" (and it has no status variable {status} to tell them apart)")
        )
    for column in SEXES.values():
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().sum() == 0:
            raise CamsisError(f"compare_to file {path}: column {column} holds no scores")
        frame[column] = values.astype(float)
    return frame


def title_only_rows(path, code: str, schemes: Sequence[tuple[str, int]] = ()) -> pd.DataFrame:
    """A score file's title-only scores: all of it, or the no-information rows of a by-status file.

    ``schemes`` lists (status variable, its no-information status), e.g. ("empst3", 0): the
    first variable the file has marks it as a by-status file such as gb_soc2020_v2.dta.
    """
    available = input_columns(path) if Path(path).is_file() else []
    for status, unknown in schemes:
        if status in available:
            frame = read_score_file(path, code, status)
            frame = frame[frame[code] % 10 == unknown].copy()
            frame[code] = frame[code] // 10
            return frame.reset_index(drop=True)
    return read_score_file(path, code)


def by_status_rows(path, code: str, status: str, statuses: Sequence[int]) -> pd.DataFrame:
    """A score file keyed by combined code ``code*10 + status``: a title-only file gives every status its code's scores."""
    if Path(path).is_file() and status in input_columns(path):
        return read_score_file(path, code, status)
    frame = read_score_file(path, code)
    parts = [frame.assign(**{code: frame[code] * 10 + int(s)}) for s in statuses]
    return pd.concat(parts, ignore_index=True)


def _correlation_row(new: pd.Series, old: pd.Series) -> dict:
    both = pd.DataFrame({"new": new, "old": old}).dropna()
    difference = both["new"] - both["old"]
    r, n = pearson(both["new"], both["old"], at_least=3)
    ranks = both.rank()
    return {
        "n": n,
        "pearson": r,
        "spearman": pearson(ranks["new"], ranks["old"], at_least=3)[0],  # Spearman's rho: Pearson's r of the ranks
        "mean_new": both["new"].mean(),
        "mean_old": both["old"].mean(),
        "mean_abs_difference": difference.abs().mean(),
        "max_abs_difference": difference.abs().max(),
    }


def compare_scores(new: pd.DataFrame, old: pd.DataFrame, code: str, units: Iterable | None = None,
                   titles: Mapping | pd.Series | None = None, top: int = 20) -> Comparison:
    """Correlations of the two files' scores, and the `top` codes per sex that moved most.

    `units` (finest-level codes) adds the "units" rows to the correlations and limits the
    list of movers to units, since group scores are averages of their units'; without it
    every shared code counts. `titles` maps code -> title for that list.
    """
    for name, frame in (("new", new), ("old", old)):
        missing = [c for c in (code, *SEXES.values()) if c not in frame.columns]
        if missing:
            raise CamsisError(f"compare: the {name} scores lack column(s) {', '.join(missing)}")
    left, right = new.set_index(code), old.set_index(code)
    shared = left.index.intersection(right.index, sort=False).sort_values()
    if shared.empty:
        raise CamsisError(f"compare: the two score files have no {code} code in common")
    unit_set = set(units) if units is not None else set(shared)
    scores = pd.DataFrame(index=pd.Index(shared, name=code))
    scores["title"] = pd.Series(titles).reindex(shared) if titles is not None else ""
    scores["unit"] = shared.isin(list(unit_set))
    for column in SEXES.values():
        scores[f"{column}_new"] = left.loc[shared, column].astype(float)
        scores[f"{column}_old"] = right.loc[shared, column].astype(float)

    sets = [("units", scores["unit"]), ("all codes", pd.Series(True, index=shared))] if units is not None \
        else [("all codes", pd.Series(True, index=shared))]
    rows = []
    for label, chosen in sets:
        for sex, column in SEXES.items():
            part = scores[chosen]
            rows.append({"codes": label, "sex": sex} | _correlation_row(part[f"{column}_new"], part[f"{column}_old"]))
    correlations = pd.DataFrame(rows)

    movers = []
    candidates = scores[scores["unit"]]
    for sex, column in SEXES.items():
        difference = (candidates[f"{column}_new"] - candidates[f"{column}_old"]).dropna()
        order = difference.abs().sort_values(ascending=False, kind="stable").index[:top]
        movers.append(pd.DataFrame({
            "sex": sex, code: order, "title": candidates.loc[order, "title"].to_numpy(),
            "new": candidates.loc[order, f"{column}_new"].to_numpy(),
            "old": candidates.loc[order, f"{column}_old"].to_numpy(),
            "difference": difference.loc[order].to_numpy(),
        }))
    only_new = sorted(set(left.index) - set(right.index))
    only_old = sorted(set(right.index) - set(left.index))
    if only_new or only_old:
        log.info("codes in the new file only: %d; in the old file only: %d", len(only_new), len(only_old))
    return Comparison(scores=scores, correlations=correlations, top=pd.concat(movers, ignore_index=True),
                      only_new=only_new, only_old=only_old)


def comparison_html(comparison: Comparison, scale: str, old_path) -> str:
    """The comparison as one self-contained HTML page, for the Snakemake report."""
    style = ("body{font-family:sans-serif;font-size:14px;margin:1em}table{border-collapse:collapse;margin:0.5em 0 1.5em}"
             "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
             "td:nth-child(2),td:nth-child(3){text-align:left}")
    correlations = comparison.correlations.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)
    top = comparison.top.to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0)
    only = (f"<p>Codes scored only in this build: {len(comparison.only_new)}; only in {Path(old_path).name}: "
            f"{len(comparison.only_old)}.</p>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(scale)} vs {html.escape(Path(old_path).name)}</title>"
            f"<style>{style}</style></head><body><h2>{html.escape(scale)} against {html.escape(str(old_path))}</h2>"
            f"<h3>Correlations of the scores</h3>{correlations}{only}"
            f"<h3>The codes that moved most (difference = this build - {Path(old_path).name})</h3>{top}</body></html>")

"""The by-status build and its score file: stages 4-7 on (occupation, status) units, the v2 layout.

The units, their classification and codes are ``camsis.classifications.statuses`` (below ``camsis.scaling.scale``);
this module builds on them with ``camsis.scaling.scale.build_unit_scores``, shares the score of units
merged within one occupation, as in the published files, and lays out the by-status file
(one row per unit x status, status-0 rows from the title-only scale) with its Stata labels.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from camsis.classifications.classification import Classification
from camsis.classifications.statuses import RADIX, StatusScheme, by_status_classification, by_status_recodes, combine, expand_mask, split
from camsis.io.writing import score_file_labels
from camsis.method.filling import BOOTSTRAP_COLUMNS, impute_missing_units
from camsis.scaling.scale import ScaleOptions, UnitScores, build_unit_scores
from camsis.vocabulary import SIDES


SHARED_COLUMNS = ("camsis", "cam_se", "camsis2", "_ca", "_ca2", "_lambda", "_own_se")


def share_merged_scores(scores: pd.DataFrame, population: pd.DataFrame, maps: dict[str, pd.Series]) -> pd.DataFrame:
    """Units merged for the CA within one occupation share one score, as in the published files.

    ``maps`` (side -> merge map, combined unit -> CA row/column it joined) say which units
    were pooled because they were too sparse. Within each pool, the units of one occupation
    (pools that climbed above the occupation also hold other occupations, which keep their
    own scores) get the population-weighted mean of their scores and the pool's pairs as
    their count. ``{s}_merged`` is the combined code of the unit the pool is named after (0
    for a unit on its own).

    The shared score stands for each member, whose own score differs from it: a member's
    ``{s}cam_se`` is the root of the smoothing model's expected squared error of the shared
    score for that member, its posterior variance plus the squared distance from its own
    posterior mean to the shared score (the SE of the pool's mean would cover the pool, not
    the member: 61-67% of members with 100+ pairs behind them in validation). A member without
    a score of its own gets the SE of the pool's mean for independent scores, as
    ``{s}_own_se`` (the part due to pairs, what the total SE takes out of the bootstrap's) does.
    """
    # Columns as arrays, framed once at the end: reading and setting a frame's columns one by one
    # cost every by-status bootstrap replicate a few milliseconds.
    out = {column: scores[column].to_numpy(copy=True) for column in scores.columns}
    units = scores.index.to_numpy(dtype=np.int64)
    occupation, _ = split(units)
    for side in SIDES:
        target = maps[side].reindex(scores.index).to_numpy(dtype=np.int64)
        # One integer per (CA row, occupation) pool, and sums per pool by np.bincount: a pandas
        # group-by on tuples per column cost the by-status build ~0.3 s.
        _, pool = np.unique(np.stack([target, occupation], axis=1), axis=0, return_inverse=True)
        pool = pool.ravel()
        pooled = np.bincount(pool)[pool] > 1
        out[f"{side}_merged"] = np.where(pooled, target, 0).astype(np.int64)
        if not pooled.any():
            continue
        keys = pool[pooled]
        size = int(keys.max()) + 1
        weight = population[side].reindex(scores.index).to_numpy(dtype=float)[pooled]
        weight = np.nan_to_num(weight, nan=0.0) + 1e-12
        own_score = out[f"{side}camsis"].astype(float)[pooled]
        own_se = out[f"{side}cam_se"].astype(float)[pooled] if f"{side}cam_se" in out else np.full(len(keys), np.nan)
        for suffix in SHARED_COLUMNS:
            column = f"{side}{suffix}"
            if column not in out:
                continue
            values = out[column].astype(float)
            x = values[pooled]
            have = ~np.isnan(x)
            w, wx = weight[have], weight[have] * x[have]
            total = np.bincount(keys[have], weights=w, minlength=size)
            with np.errstate(invalid="ignore", divide="ignore"):
                if suffix in ("cam_se", "_own_se"):  # errors of a weighted mean of the units' scores
                    shared = np.sqrt(np.bincount(keys[have], weights=wx**2, minlength=size)) / total
                else:
                    shared = np.bincount(keys[have], weights=wx, minlength=size) / total
            values[pooled] = np.where(total[keys] > 0, shared[keys], np.nan)
            out[column] = values
        if f"{side}cam_se" in out:  # each member's expected squared error of the shared score
            error = np.sqrt(own_se**2 + (out[f"{side}camsis"][pooled] - own_score) ** 2)
            out[f"{side}cam_se"][pooled] = np.where(np.isnan(error), out[f"{side}cam_se"][pooled], error)
        n = out[f"n_{side}"].astype(float)
        n[pooled] = np.bincount(keys, weights=n[pooled], minlength=size)[keys]
        out[f"n_{side}"] = n
        imputed = out[f"{side}_imputed"]
        # A pool with scored members gives them all that score: none of them is imputed any more.
        scored = np.bincount(keys, weights=(imputed[pooled] == 0), minlength=size)[keys] > 0
        imputed[np.flatnonzero(pooled)[scored]] = 0
    return pd.DataFrame(out, index=scores.index)


STATUS_ZERO_NOTE = "status {unknown} rows: the title-only scale (occupation without status)"


def by_status_table(
    unit_scores: pd.DataFrame,
    title_table: pd.DataFrame,
    classification: Classification,
    scheme: StatusScheme,
    bootstrap: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The by-status score file in the layout of the published v2: one row per unit x status.

    Rows: every unit of ``classification`` with every status of the scheme (the unknown one
    included), then every group code with the unknown status only; sorted by code, status.
    ``unit_scores`` (indexed by combined code; ``share_merged_scores`` output) gives the
    scored statuses; ``title_table`` (``camsis.method.filling.fill_classification`` of the
    title-only scale built from the same pairs) gives the unknown-status rows, so a user
    without status data still matches every occupation. ``bootstrap`` (indexed by combined
    code) adds bootstrap columns to the scored statuses; the title-only table carries its own.
    """
    variable = classification.variable
    title = title_table.set_index(variable)
    codes = classification.frame.index.to_numpy(dtype=np.int64)
    unit_set = set(classification.units.tolist())
    statuses = sorted(scheme.labels)
    rows = [(c, s) for c in codes for s in (statuses if c in unit_set else [scheme.unknown])]
    out = pd.DataFrame(rows, columns=[variable, scheme.variable]).sort_values([variable, scheme.variable])
    out = out.reset_index(drop=True)
    out[f"{variable}_{scheme.name}"] = combine(out[variable], out[scheme.variable])
    zero = (out[scheme.variable] == scheme.unknown).to_numpy()
    combined = out[f"{variable}_{scheme.name}"].to_numpy()
    scored = unit_scores.reindex(combined)
    if bootstrap is not None:
        scored = scored.join(bootstrap.reindex(combined)[[c for c in BOOTSTRAP_COLUMNS if c in bootstrap]])
    from_title = title.reindex(out[variable].to_numpy())

    def column(name: str, title_name: str | None = None) -> np.ndarray:
        own = scored[name].to_numpy(dtype=float) if name in scored else np.full(len(out), np.nan)
        other = from_title[title_name or name].to_numpy(dtype=float) if (title_name or name) in from_title else own
        return np.where(zero, other, own)

    for name in ("mcamsis", "fcamsis", "mcam_se", "fcam_se"):
        out[name] = column(name)
    for name in BOOTSTRAP_COLUMNS:
        if name in scored or name in from_title:
            out[name] = column(name)
    for side in SIDES:
        out[scheme.counts[side]] = pd.array(np.round(column(f"n_{side}")), dtype="Int64")
    for side in SIDES:
        imputed = column(f"{side}_imputed")
        # A node of the (occupation, status group) is named by its occupation in the file.
        imputed = np.where(imputed < 0, (-imputed) // RADIX, imputed)
        out[f"{side}_imputed"] = pd.array(np.nan_to_num(imputed, nan=0.0).astype(np.int64), dtype="Int64")
    for side in SIDES:
        merged = scored[f"{side}_merged"].to_numpy(dtype=float) if f"{side}_merged" in scored else np.zeros(len(out))
        out[f"{side}_merged"] = np.where(zero, 0, np.nan_to_num(merged)).astype(np.int64)
    for name in ("mcamsis2", "fcamsis2"):
        if name in scored or name in from_title:
            out[name] = column(name)
    by_status = classification.status_links.get(scheme.name)
    for link in classification.links:
        values = classification.frame[link].reindex(out[variable].to_numpy())
        if by_status is not None and link in by_status:  # NS-SEC: occupation and status together
            own = by_status[link].reindex(pd.MultiIndex.from_arrays([out[variable], out[scheme.variable]]))
            values = pd.Series(np.where(own.notna(), own.to_numpy(), values.to_numpy()), dtype=values.dtype)
        out[link] = values.to_numpy()
    return out


def by_status_labels(classification: Classification, scheme: StatusScheme, columns) -> dict[str, str]:
    """Variable labels of the by-status file; the score labels say where status-0 rows come from."""
    labels = score_file_labels(classification, columns)
    unknown = scheme.unknown
    name = classification.variable.upper()
    labels.update({
        scheme.variable: scheme.label,
        f"{classification.variable}_{scheme.name}": f"{name} x {scheme.variable}: code*10 + status",
        "mcamsis": f"CAMSIS for {name} x {scheme.variable}, males (status {unknown}: title-only)",
        "fcamsis": f"CAMSIS for {name} x {scheme.variable}, females (status {unknown}: title-only)",
        "m_imputed": "MCAMSIS borrowed from this group's units (0: own cases or shared)",
        "f_imputed": "FCAMSIS borrowed from this group's units (0: own cases or shared)",
        "m_merged": "MCAMSIS shared with the statuses merged into this unit (0: own)",
        "f_merged": "FCAMSIS shared with the statuses merged into this unit (0: own)",
    })
    for side in SIDES:
        text = scheme.count_labels.get(side) or f"Pairs behind the {side.upper()}CAMSIS of the unit x status"
        labels[scheme.counts[side]] = text
    return {column: labels.get(column, column)[:80] for column in columns}


def by_status_value_labels(classification: Classification, scheme: StatusScheme) -> dict[str, dict[int, str]]:
    """Value labels of the code and the status variables, and of categorical links."""
    return {
        classification.variable: classification.value_labels(),
        scheme.variable: dict(sorted(scheme.labels.items())),
    } | classification.link_value_labels


def _reimpute(scores: pd.DataFrame, population: pd.DataFrame, derived: Classification,
              name_sources: bool = False) -> pd.DataFrame:
    """Borrowed scores taken again after the sharing, so an empty status borrows the shared score of its siblings.

    With ``name_sources`` the borrowers' ``{s}_imputed`` names the group they now borrow from:
    the nested smoothing had named the occupation whose posterior it gave them.
    """
    out = scores.copy()
    for side in SIDES:
        own = out[f"{side}_imputed"] == 0
        for column in (f"{side}camsis", f"{side}camsis2"):
            if column in out:
                filled, source = impute_missing_units(out[column].where(own), population[side], derived)
                out[column] = filled.reindex(out.index).to_numpy()
                if name_sources and column == f"{side}camsis":
                    out[f"{side}_imputed"] = np.where(own, 0, source.reindex(out.index).to_numpy())
    return out


class StatusUnitInputs(NamedTuple):
    """What a build on (occupation, status) units takes besides its table, worked out once.

    A bootstrap batch rebuilds many tables on the same units: deriving the classification
    and expanding the masks cost a by-status replicate ~30 ms, so ``status_unit_inputs``
    makes them once and ``build_on_status_units`` takes them.
    """

    classification: Classification  # by_status_classification
    ca_blank: pd.DataFrame  # the occupation masks on the combined units (expand_mask)
    smooth_blank: pd.DataFrame
    options: ScaleOptions  # recodes of occupations applied to each status


def status_unit_inputs(ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame, classification: Classification,
                       scheme: StatusScheme, options: ScaleOptions) -> StatusUnitInputs:
    """The derived classification, the occupation masks expanded to every status, hand recodes per status."""
    derived = by_status_classification(classification, scheme)
    units = derived.units
    ca = expand_mask(ca_blank, units)
    smooth = ca if smooth_blank is ca_blank or smooth_blank.equals(ca_blank) else expand_mask(smooth_blank, units)
    return StatusUnitInputs(derived, ca, smooth, replace(options, recodes=by_status_recodes(options.recodes, scheme),
                                                         smoothing_levels=by_status_levels(options.smoothing_levels)))


def by_status_levels(levels: dict) -> dict:
    """The nested smoothing's levels for (occupation, status) units: a status unit within its
    occupation (two levels up: the status-group node is skipped, its few statuses give no
    variance to estimate), then the occupation's levels as the title-only scale has them."""
    fixed = levels.get("fixed")
    return {"random": [2, *[int(k) + 2 for k in levels.get("random") or []]],
            "fixed": fixed + 2 if isinstance(fixed, int) else fixed}


def build_on_status_units(table, inputs: StatusUnitInputs) -> UnitScores:
    """``camsis.scaling.scale.build_unit_scores`` on (occupation, status) units, merged units then sharing their score.

    Units merged within an occupation share their score (``share_merged_scores``), reported
    in ``diagnostics.shared``; empty statuses then borrow the shared scores (``_reimpute``).
    """
    derived = inputs.classification
    result = build_unit_scores(table, inputs.ca_blank, inputs.smooth_blank, derived, inputs.options)
    maps = {"m": result.fit.row_map, "f": result.fit.column_map}
    result.scores = _reimpute(share_merged_scores(result.scores, result.population, maps), result.population, derived,
                              name_sources=inputs.options.smoothing == "nested")
    result.diagnostics.shared = {side: _pools(result.scores[f"{side}_merged"]) for side in SIDES}
    return result


def _pools(merged: pd.Series) -> dict:
    """The units sharing a score, per pool (named by its target), for ``diagnostics.shared``."""
    values = merged.to_numpy(dtype=np.int64)
    pooled = values > 0
    units, targets = merged.index.to_numpy(dtype=np.int64)[pooled], values[pooled]
    order = np.lexsort((units, targets))
    pools: dict[str, list[int]] = {}
    for target, unit in zip(targets[order].tolist(), units[order].tolist()):
        pools.setdefault(str(target), []).append(unit)
    return {"units": int(pooled.sum()), "pools": pools}


def build_by_status_scores(table, ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame, classification: Classification,
                           scheme: StatusScheme, options: ScaleOptions) -> UnitScores:
    """Stages 4-7 on (occupation, status) units: ``camsis.scaling.scale.build_unit_scores`` on the derived classification.

    ``table`` is the by-status table (``camsis.method.tables.tabulate_by_status``); the masks are
    the occupation masks of the title-only build, expanded to every status; hand recodes
    of occupations apply to each of their statuses (``status_unit_inputs``). Units merged
    within an occupation then share their score (``build_on_status_units``).
    """
    return build_on_status_units(table, status_unit_inputs(ca_blank, smooth_blank, classification, scheme, options))

"""Occupation-by-employment-status units: status schemes and the by-status classification.

CAMSIS has long treated employment status as part of the occupation (a self-employed and
an employee plumber are different units: "title-by-status"). Rather than a second
pipeline, a status scheme turns the occupational classification into another
classification whose units are the combined codes ``code * 10 + status``; every stage
(tabulate, sparse merging, CA, smoothing, standardising, filling) then runs unchanged on it:

* the parent of a combined unit is its (occupation, status group) node, whose parent is the
  occupation, then the occupational hierarchy as before; so the sparse merging pools a
  sparse status first with the statuses of its group (empst3: self-employed with
  managers), then with the whole occupation, then up the hierarchy; an empty status
  borrows its score in the same order;
* blanking is judged on the occupations (``expand_mask``): a pseudo-diagonal block covers
  every status;
* units merged for the CA within one occupation share their score (``share_merged_scores``),
  as in the published files.

A scheme is data: ``data/statuses/{name}.tsv`` (``status``, ``label``, ``group``; the status
with no group is "no information", whose rows carry the title-only scale) and
``{name}.yaml`` (variable, label, value label set, names of the pair-count variables).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import yaml

from camsis.classification import FRAME_COLUMNS, Classification
from camsis.errors import CamsisError
from camsis.vocabulary import SIDES

log = logging.getLogger("camsis.statuses")

SCHEME_COLUMNS = ["status", "label", "group"]
REQUIRED_METADATA = ["variable", "label", "value_label_name", "unknown", "counts"]
# Combined codes are code * 10 + status, as the published files' soc2010_es5.
RADIX = 10


@dataclass(frozen=True)
class StatusScheme:
    """An employment status scheme.

    Attributes
    ----------
    name : str
        The name the scale sheet's ``statuses`` column uses (file stem).
    labels : dict
        Status -> value label, every status of the scheme (the unknown one included).
    groups : dict
        Scored status -> merge group (statuses of one group pool first when sparse).
    unknown : int
        The "no information" status (0): not scored on its own; its rows carry the
        title-only scale.
    variable, label, value_label_name : str
        The status variable of the by-status file.
    counts : dict
        Side ("m", "f") -> name of the pair-count variable (v2: n_hbst3, n_wbst3).
    count_labels : dict
        Side -> variable label of the pair-count variable.
    """

    name: str
    labels: dict[int, str]
    groups: dict[int, int]
    unknown: int
    variable: str
    label: str
    value_label_name: str
    counts: dict[str, str]
    count_labels: dict[str, str] = field(default_factory=dict)

    @property
    def scored(self) -> np.ndarray:
        """Statuses that are scored on their own (sorted int64): all but the unknown one."""
        return np.array(sorted(self.groups), dtype=np.int64)


def available_schemes(directory: str | Path) -> list[str]:
    """Scheme names with both files in ``directory``, for the message naming what could have been meant."""
    return sorted(p.stem for p in Path(directory).glob("*.tsv") if p.with_suffix(".yaml").exists())


def load_scheme(name: str, directory: str | Path) -> StatusScheme:
    """Read ``{directory}/{name}.tsv`` and ``.yaml``; refuse what the combined codes cannot hold."""
    directory = Path(directory)
    tsv, meta_path = directory / f"{name}.tsv", directory / f"{name}.yaml"
    if not tsv.exists() or not meta_path.exists():
        names = ", ".join(available_schemes(directory)) or "none"
        raise CamsisError(f"unknown status scheme '{name}' in {directory} (available: {names})")
    try:
        raw = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
        metadata = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    except (pd.errors.ParserError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CamsisError(f"status scheme {name}: unreadable ({str(error).splitlines()[0]})") from None
    if list(raw.columns[:3]) != SCHEME_COLUMNS:
        raise CamsisError(f"{tsv}: expected the header {' '.join(SCHEME_COLUMNS)}, found {' '.join(raw.columns)}")
    if not isinstance(metadata, dict) or any(key not in metadata for key in REQUIRED_METADATA):
        missing = [key for key in REQUIRED_METADATA if not isinstance(metadata, dict) or key not in metadata]
        raise CamsisError(f"{meta_path}: missing key(s) {', '.join(missing)}")
    labels, groups = {}, {}
    for line, (status, label, group) in enumerate(raw[SCHEME_COLUMNS].itertuples(index=False), start=2):
        if not status.isdigit() or int(status) >= RADIX:
            raise CamsisError(f"{tsv}: line {line}: status '{status}' must be a whole number from 0 to {RADIX - 1}")
        if int(status) in labels:
            raise CamsisError(f"{tsv}: line {line}: status {status} appears more than once")
        labels[int(status)] = label
        if group.strip():
            if not group.strip().isdigit():
                raise CamsisError(f"{tsv}: line {line}: group '{group}' must be a whole number")
            groups[int(status)] = int(group)
    unknown = int(metadata["unknown"])
    if unknown not in labels or unknown in groups:
        raise CamsisError(f"{tsv}: the unknown status {unknown} must be listed, with an empty group")
    ungrouped = sorted(set(labels) - set(groups) - {unknown})
    if ungrouped or not groups:
        raise CamsisError(f"{tsv}: every status but the unknown one needs a group (status {ungrouped[0] if ungrouped else '-'})")
    counts = {side: str(metadata["counts"].get(side, "")) for side in SIDES}
    if not all(counts.values()):
        raise CamsisError(f"{meta_path}: counts must name the pair-count variable of both sides, m and f")
    return StatusScheme(
        name=name,
        labels=labels,
        groups=groups,
        unknown=unknown,
        variable=str(metadata["variable"]),
        label=str(metadata["label"]),
        value_label_name=str(metadata["value_label_name"]),
        counts=counts,
        count_labels={str(k): str(v) for k, v in (metadata.get("count_labels") or {}).items()},
    )


def combine(codes, statuses) -> np.ndarray:
    """Combined codes ``code * 10 + status`` (int64)."""
    return np.asarray(codes, dtype=np.int64) * RADIX + np.asarray(statuses, dtype=np.int64)


def split(combined) -> tuple[np.ndarray, np.ndarray]:
    """Occupation codes and statuses of combined codes."""
    combined = np.asarray(combined, dtype=np.int64)
    return combined // RADIX, combined % RADIX


def group_node(codes, groups) -> np.ndarray:
    """Code of the (occupation, status group) node: negative, so it never meets a real code."""
    return -(np.asarray(codes, dtype=np.int64) * RADIX + np.asarray(groups, dtype=np.int64))


def by_status_classification(classification: Classification, scheme: StatusScheme) -> Classification:
    """The classification whose units are (occupation unit, scored status), as combined codes.

    Two levels are added below the occupational units: the (unit, status group) nodes and
    the combined units. Every added code carries its occupation's title and linked
    measures (the reference measure orients the CA the same way). The occupation codes
    stay in the frame as groups, so filling and merging climb the same hierarchy.
    """
    frame = classification.frame
    units = classification.units
    unit_level = int(frame["level"].max())
    statuses = scheme.scored
    status_groups = np.array([scheme.groups[s] for s in statuses], dtype=np.int64)
    node_groups = np.unique(status_groups)

    node_codes = np.repeat(units, len(node_groups))
    node_group = np.tile(node_groups, len(units))
    nodes = frame.loc[node_codes].copy()
    nodes.index = pd.Index(group_node(node_codes, node_group), name="code")
    nodes["level"] = unit_level + 1
    nodes["parent"] = pd.array(node_codes, dtype="Int64")
    # Labels built from arrays: a ``frame.at`` per code cost the by-status build ~0.3 s.
    labels = frame["label"].to_numpy(dtype=object)[frame.index.get_indexer(units)]
    nodes["label"] = [f"{label} [status group {g}]" for label, g in zip(np.repeat(labels, len(node_groups)), node_group)]

    unit_codes = np.repeat(units, len(statuses))
    unit_status = np.tile(statuses, len(units))
    combined = frame.loc[unit_codes].copy()
    combined.index = pd.Index(combine(unit_codes, unit_status), name="code")
    combined["level"] = unit_level + 2
    combined["parent"] = pd.array(group_node(unit_codes, np.tile(status_groups, len(units))), dtype="Int64")
    status_labels = [scheme.labels[s] for s in statuses]
    combined["label"] = [f"{label} x {status}" for label in labels for status in status_labels]

    derived = pd.concat([frame, nodes, combined])
    derived = derived[FRAME_COLUMNS[1:] + classification.links]
    return Classification(
        name=f"{classification.name}+{scheme.name}",
        frame=derived,
        variable=f"{classification.variable}_{scheme.name}",
        label=f"{classification.variable} x {scheme.variable}: code*10 + status",
        value_label_name=f"{classification.value_label_name}_{scheme.name}",
        reference_measure=classification.reference_measure,
        link_labels=classification.link_labels,
        link_value_labels=classification.link_value_labels,
    )


def by_status_recodes(recodes: dict[int, int] | None, scheme: StatusScheme) -> dict[int, int]:
    """Hand recodes of occupation units, applied to every scored status of them."""
    return {
        int(combine(source, status)): int(combine(target, status))
        for source, target in (recodes or {}).items()
        for status in scheme.scored
    }


def expand_mask(mask: pd.DataFrame, units) -> pd.DataFrame:
    """An occupation x occupation blank mask on combined units: a blanked cell covers every status."""
    occupations, _ = split(units)
    rows = mask.index.get_indexer(occupations)
    cols = mask.columns.get_indexer(occupations)
    if (rows < 0).any() or (cols < 0).any():
        raise ValueError("the mask does not cover every occupation of the combined units")
    values = mask.to_numpy(dtype=bool)[np.ix_(rows, cols)]
    units = np.asarray(units, dtype=np.int64)
    # Row-major, as picked: every bootstrap replicate picks its cells out of it row by row.
    return pd.DataFrame(values, index=pd.Index(units, name="occ1"), columns=pd.Index(units, name="occ2"), copy=False)


SHARED_COLUMNS = ("camsis", "cam_se", "camsis2", "_ca", "_ca2", "_lambda")


def share_merged_scores(scores: pd.DataFrame, population: pd.DataFrame, maps: dict[str, pd.Series]) -> pd.DataFrame:
    """Units merged for the CA within one occupation share one score, as in the published files.

    ``maps`` (side -> merge map, combined unit -> CA row/column it joined) say which units
    were pooled because they were too sparse. Within each pool, the units of one occupation
    (pools that climbed above the occupation also hold other occupations, which keep their
    own scores) get the population-weighted mean of their scores, the standard error of
    that mean for independent scores, and the pool's pairs as their count. ``{s}_merged``
    is the combined code of the unit the pool is named after (0 for a unit on its own).
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
                if suffix == "cam_se":
                    shared = np.sqrt(np.bincount(keys[have], weights=wx**2, minlength=size)) / total
                else:
                    shared = np.bincount(keys[have], weights=wx, minlength=size) / total
            values[pooled] = np.where(total[keys] > 0, shared[keys], np.nan)
            out[column] = values
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
    scored statuses; ``title_table`` (``camsis.filling.fill_classification`` of the
    title-only scale built from the same pairs) gives the unknown-status rows, so a user
    without status data still matches every occupation. ``bootstrap`` (indexed by combined
    code) adds bootstrap columns to the scored statuses; the title-only table carries its own.
    """
    from camsis.filling import BOOTSTRAP_COLUMNS

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
    from camsis.writing import score_file_labels

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
    from camsis.filling import impute_missing_units

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
    options: object  # camsis.scale.ScaleOptions, recodes of occupations applied to each status


def status_unit_inputs(ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame, classification: Classification,
                       scheme: StatusScheme, options) -> StatusUnitInputs:
    """The derived classification, the occupation masks expanded to every status, hand recodes per status."""
    from dataclasses import replace

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


def build_on_status_units(table, inputs: StatusUnitInputs):
    """``camsis.scale.build_unit_scores`` on (occupation, status) units, merged units then sharing their score.

    Units merged within an occupation share their score (``share_merged_scores``), reported
    in ``diagnostics.shared``; empty statuses then borrow the shared scores (``_reimpute``).
    """
    from camsis.scale import build_unit_scores

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
                           scheme: StatusScheme, options):
    """Stages 4-7 on (occupation, status) units: ``camsis.scale.build_unit_scores`` on the derived classification.

    ``table`` is the by-status table (``camsis.tables.tabulate_by_status``); the masks are
    the occupation masks of the title-only build, expanded to every status; hand recodes
    of occupations apply to each of their statuses (``status_unit_inputs``). Units merged
    within an occupation then share their score (``build_on_status_units``).
    """
    return build_on_status_units(table, status_unit_inputs(ca_blank, smooth_blank, classification, scheme, options))

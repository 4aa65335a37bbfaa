"""Stage 4: merge sparse units into populous neighbours before the correspondence analysis.

A row or column with a handful of pairs gets an extreme, unstable CA score and can capture a
whole dimension, so for the CA only it joins the row (column) of a populous unit nearby in
the classification. The original units are kept: the merge map says which CA row or column
each unit borrows its score from, and the smoothing later scores every unit on its own pairs.

The rule (``merge_sparse_units``), for one side of the table:

* ``totals`` are the unit's non-blanked pairs. A unit is *sparse* when ``0 < total <= min_n``.
  Units with a zero total are *empty*: they have no mass, so they are never merged (they map
  to themselves and leave the CA as zero-mass rows); ``MergeResult.empty`` lists them.
* Every unit with pairs starts as its own merged set, represented by itself. The groups of
  the classification are visited from the finest level to the coarsest (ascending code
  within a level). At a group g, every set inside g whose total is still <= min_n joins the
  largest set inside g (most pairs; ties go to the lowest representative code), whose
  representative stays. A joined set still <= min_n climbs on to the next coarser group.
* At the first step every set is a single unit, so a sparse unit joins the most populous
  unit of its parent group, and several sparse units may join the same one. A minor group
  that is sparse as a whole but holds more than min_n pairs together is merged into its own
  most populous unit; one that holds too few climbs, as a whole, to the largest row of its
  grandparent group (usually its most populous unit; the set of pairs already merged into a
  unit counts, so a sparse unit that happens to be the group's largest does not absorb the
  climbers and leave them below min_n while a populous set exists), and so on. A unit with
  more than min_n pairs is never merged away.
* A set still <= min_n after its top-level group (SOC2020: its major group) stays merged
  into that group's largest set, and a warning names it. Sets never cross
  top-level groups.
* Merging is only sensible between neighbours. When the group a set was merged within holds
  every unit with pairs on that side (a classification with one top-level group, or a flat
  list of categories under one root), the merge mixes the whole status range: the top
  category can join a middle one and the scale collapse. ``merge_warnings`` says so, naming
  the units, and suggests what to do (hand recodes, a classification with groups of
  neighbouring categories, or a lower min_n: 0 merges nothing).

Hand-written recodes from published construction files (unit -> unit) win over the rule:
``merge_sparse_units(..., recodes=...)`` applies them before it (the method's order: the
recoded unit's pairs count toward its target's total); ``apply_recodes`` composes them with
an existing map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from camsis.classifications.classification import Hierarchy
from camsis.errors import CamsisError


def _hierarchy(parents: pd.Series | Hierarchy) -> Hierarchy:
    """The parents as a ``Hierarchy``: a classification passes its own (``Classification.hierarchy``),
    which keeps every chain walked across the bootstrap replicates that merge again."""
    return parents if isinstance(parents, Hierarchy) else Hierarchy(parents)


def _sparse_merge(totals: pd.Series, hierarchy: Hierarchy, min_n: float) -> pd.Series:
    """The merge rule of the module docstring on units with their own totals.

    Done one depth of the hierarchy at a time, all groups of that depth at once (numpy on
    each unit's ancestor at that depth, ``Hierarchy.by_depth``): groups of one depth hold
    disjoint units, so the order the rule visits them in within a depth changes nothing,
    and a Python loop over each group's units cost a by-status replicate ~30 ms. The
    pairs of the sets joining a target are added to its total one by one in ascending
    code (``np.add.at``), as the visit did, so the totals compared with min_n are the same.
    """
    units = totals.index.to_numpy(dtype=np.int64)
    order = np.argsort(units, kind="stable")
    units = units[order]
    table, depth = hierarchy.by_depth(units)
    set_total = totals.to_numpy(dtype=float)[order].copy()
    live = set_total > 0  # representatives of sets: every unit with pairs to start with
    joins = np.arange(len(units))  # the position of the unit whose set each set joined
    for d in range(table.shape[1] - 1, -1, -1):  # the groups at depth d, finest first
        inside = live & (depth > d)
        pending = inside & (set_total <= min_n)
        if not pending.any():
            continue
        group = table[:, d]
        inside &= np.isin(group, group[pending])
        # The largest set of each group (most pairs, then the lowest code) is the target.
        ranked = np.flatnonzero(inside)
        ranked = ranked[np.lexsort((units[ranked], -set_total[ranked], group[ranked]))]
        first = np.r_[True, group[ranked][1:] != group[ranked][:-1]]
        groups, targets = group[ranked][first], ranked[first]
        joining = np.flatnonzero(pending)
        target = targets[np.searchsorted(groups, group[joining])]
        joining, target = joining[joining != target], target[joining != target]
        np.add.at(set_total, target, set_total[joining])
        live[joining] = False
        joins[joining] = target
    representative = joins
    while True:
        further = joins[representative]
        if (further == representative).all():
            break
        representative = further
    # Sets still <= min_n here stay as they are; summarise_merge lists them and merge_warnings says so.
    return pd.Series(units[representative], index=pd.Index(units, name=totals.index.name), name="target",
                     dtype="int64")


def merge_sparse_units(
    totals: pd.Series, parents: pd.Series | Hierarchy, min_n: float, recodes: dict[int, int] | None = None
) -> pd.Series:
    """Map each unit to the unit whose CA row (or column) it joins: itself when not merged.

    A unit with few pairs gives the CA a score that is mostly noise; merged into a populous
    neighbour of its group it shares that unit's row, and the smoothing later gives it a
    score of its own from its own pairs.

    Parameters
    ----------
    totals : Series
        Non-blanked pairs per unit on one side (row totals for occ1, column totals for occ2).
    parents : Series or Hierarchy
        Parent code of every code of the classification (NA at the top level), e.g.
        ``classification.frame["parent"]``, or the classification's ``hierarchy``, which
        keeps the chains it has walked for the next merge.
    min_n : float
        Units (and merged sets) with at most this many pairs are merged.
    recodes : dict, optional
        Hand-written unit -> unit recodes applied first; they win over the rule.

    Returns
    -------
    Series
        Unit -> the unit whose row or column it joins (named ``target``).
    """
    if not (totals.to_numpy(dtype=float, na_value=np.nan) >= 0).all():  # NaN is not >= 0 either
        bad = totals[(totals < 0) | totals.isna()].index[0]
        raise CamsisError(f"unit {bad} has a negative or missing pair total")
    hierarchy = _hierarchy(parents)
    if not recodes:
        return _sparse_merge(totals, hierarchy, min_n)
    hand = apply_recodes(pd.Series(totals.index, index=totals.index), recodes)
    recoded_totals = totals.groupby(hand.to_numpy()).sum()
    recoded_totals.index.name = totals.index.name
    auto = _sparse_merge(recoded_totals, hierarchy, min_n)
    return pd.Series(auto.loc[hand.to_numpy()].to_numpy(), index=totals.index, name="target", dtype="int64")


def apply_recodes(unit_map: pd.Series, recodes: dict[int, int] | None) -> pd.Series:
    """Compose hand-written recodes with a merge map; the recodes win.

    A recoded unit goes to its recode target and from there wherever the map (and further
    recodes) send that target; a unit the map sent to a recoded unit follows it, so every
    CA row or column a unit joins still exists. Both ends of a recode must be units of the map.
    """
    result = unit_map.copy()
    if not recodes:
        return result
    recodes = {int(k): int(v) for k, v in recodes.items()}
    for code in list(recodes) + list(recodes.values()):
        if code not in unit_map.index:
            raise CamsisError(f"hand recode names code {code}, which is not a unit of the classification")

    def resolve(code: int) -> int:
        seen = [code]
        while True:
            step = recodes[code] if code in recodes else int(unit_map.loc[code])
            if step == code:
                return code
            if step in seen:
                raise CamsisError(f"hand recodes form a cycle: {' -> '.join(str(c) for c in seen + [step])}")
            seen.append(step)
            code = step

    result[:] = [resolve(int(u)) for u in unit_map.index]
    return result


def apply_merge(table: pd.DataFrame, row_map: pd.Series, col_map: pd.Series, cells=None) -> pd.DataFrame:
    """Sum rows and columns into the units they join; labels become the target codes (sorted).

    ``cells`` (``camsis.method.pairtable.Cells``, e.g. ``PairTable.cells()``) names the only cells
    that may be non-zero: they are summed straight into the merged cells, one pass over a
    twentieth of a by-status table instead of two products with the whole of it (each
    merged cell then adds its cells in row-major order, which can change the last bit of a
    sum of non-integer weights).
    """
    missing_rows = table.index.difference(row_map.index)
    missing_cols = table.columns.difference(col_map.index)
    if len(missing_rows) or len(missing_cols):
        raise ValueError(f"merge maps lack table labels: rows {list(missing_rows)}, columns {list(missing_cols)}")
    row_targets = row_map.reindex(table.index).to_numpy()
    col_targets = col_map.reindex(table.columns).to_numpy()
    if cells is None:
        row_labels, values = _sum_by(table.to_numpy(), row_targets, axis=0)
        col_labels, values = _sum_by(values, col_targets, axis=1)
    else:
        row_labels, row_of = np.unique(row_targets, return_inverse=True)
        col_labels, col_of = np.unique(col_targets, return_inverse=True)
        merged_cell = row_of.ravel()[cells.rows] * len(col_labels) + col_of.ravel()[cells.columns]
        values = np.bincount(merged_cell, weights=cells.of(table.to_numpy(dtype=float)),
                             minlength=len(row_labels) * len(col_labels)).reshape(len(row_labels), len(col_labels))
    return pd.DataFrame(
        values,
        index=pd.Index(row_labels, name=table.index.name),
        columns=pd.Index(col_labels, name=table.columns.name),
    )


def _sum_by(values: np.ndarray, labels: np.ndarray, axis: int):
    """Sorted unique labels and the sums of the rows (axis 0) or columns (axis 1) sharing each.

    A product with a sparse 0/1 matrix (label x row): every bootstrap replicate merges its
    table, a pandas group-by of a 400 x 400 frame costs ten times as much, and a sort and
    ``np.add.reduceat`` four times as much on the 1,236 units of a by-status table. The
    rows of a label are added in their order, as the sort did, so the sums are the same.
    """
    targets, inverse = np.unique(labels, return_inverse=True)
    member = sparse.csr_matrix((np.ones(len(labels)), (inverse.ravel(), np.arange(len(labels)))),
                               shape=(len(targets), len(labels)))
    return targets, (member @ values if axis == 0 else (member @ values.T).T)


@dataclass(frozen=True)
class MergeResult:
    """What the merge did on one side of the table, for summary.json.

    Attributes
    ----------
    unit_map : Series
        Unit -> unit whose CA row/column it joins.
    merged : int
        Number of units with pairs that join another unit's row/column.
    empty : list
        Units with no non-blanked pairs (not merged; no CA score; scored later).
    still_sparse : list
        Targets whose merged set has at most min_n pairs even at the top level.
    targets : dict
        Target -> the other units merged into it.
    set_pairs : dict
        Target -> non-blanked pairs of its merged set (every target with pairs).
    whole_table : list
        Targets whose merged set was formed within a group holding every unit with pairs on this
        side (so the merge crossed the whole status range).
    min_n : float
        The threshold the map was built with.
    """

    unit_map: pd.Series
    merged: int
    empty: list[int]
    still_sparse: list[int]
    targets: dict[int, list[int]]
    set_pairs: dict[int, float] = field(default_factory=dict)
    whole_table: list[int] = field(default_factory=list)
    min_n: float = 0.0

    def as_dict(self) -> dict:
        """summary.json's ``merging`` per side: the counts and lists a reader needs, not the full map."""
        return {
            "merged": self.merged,
            "empty": self.empty,
            "still_sparse": self.still_sparse,
            "whole_table": self.whole_table,
            "targets": {str(t): units for t, units in self.targets.items()},
        }


def _common_group(units: list[int], hierarchy: Hierarchy) -> int | None:
    """The finest group holding every unit of ``units`` (None when they share no group)."""
    chains = [hierarchy.ancestors(u) for u in units]
    shared = set(chains[0]).intersection(*chains[1:])
    return next((g for g in chains[0] if g in shared), None)


def _common_group_of(inside: np.ndarray, units: np.ndarray, hierarchy: Hierarchy) -> int | None:
    """``_common_group`` of ``units[inside]`` (at least one), on the ancestors by depth of all ``units``.

    The groups a set of units shares are those of its common chain from the top down, so
    the finest is the deepest depth where all have one and the same ancestor. Walking the
    chains of every unit with pairs cost a by-status replicate ~2 ms a side.
    """
    table, depth = hierarchy.by_depth(units)
    table, depth = table[inside], depth[inside]
    common = None
    for level in range(table.shape[1]):
        if not ((depth > level).all() and (table[:, level] == table[0, level]).all()):
            break
        common = int(table[0, level])
    return common


def summarise_merge(totals: pd.Series, unit_map: pd.Series, min_n: float,
                    parents: pd.Series | Hierarchy | None = None) -> MergeResult:
    """Count and list what a merge map does with these totals.

    With ``parents`` (the classification's parent column or its ``hierarchy``), merged sets
    formed within a group that holds every unit with pairs are listed in ``whole_table``.
    Worked on arrays, as every bootstrap replicate summarises both sides' merges. A set's
    pairs are added in code order (``np.bincount``): the totals are pair counts, whole
    numbers, whose sums do not depend on the order of addition.
    """
    units = unit_map.index.to_numpy(dtype=np.int64)
    target = unit_map.to_numpy(dtype=np.int64)
    pairs = totals.reindex(unit_map.index).fillna(0.0).to_numpy(dtype=float)
    active = pairs > 0
    moved = np.flatnonzero((target != units) & active)
    moved = moved[np.argsort(units[moved], kind="stable")]
    targets: dict[int, list[int]] = {}
    for unit, joined in zip(units[moved].tolist(), target[moved].tolist()):
        targets.setdefault(joined, []).append(unit)
    sets, position = np.unique(target, return_inverse=True)
    set_pairs = np.bincount(position.ravel(), weights=pairs, minlength=len(sets))
    whole = []
    if parents is not None and targets:
        hierarchy = _hierarchy(parents)
        everything = _common_group_of(active, units, hierarchy)
        whole = [t for t, members in targets.items() if everything is not None
                 and _common_group([t] + members, hierarchy) == everything]
    return MergeResult(
        unit_map=unit_map,
        merged=len(moved),
        empty=units[pairs <= 0].tolist(),
        still_sparse=sets[(set_pairs > 0) & (set_pairs <= min_n)].tolist(),
        targets=dict(sorted(targets.items())),
        set_pairs=dict(zip(sets[set_pairs > 0].tolist(), set_pairs[set_pairs > 0].tolist())),
        whole_table=whole,
        min_n=float(min_n),
    )


def merge_warnings(result: MergeResult, side: str) -> list[str]:
    """The lines a user must read about one side's merge (``side`` names it, e.g. "husbands (occ1)").

    One line for the sets still sparse at the top level (all of them, not one line each),
    one for merges across the whole table. Empty when the merge is unremarkable.
    """
    lines = []
    if result.still_sparse:
        sets = ", ".join(
            f"{t}" + (f" (+{', '.join(str(u) for u in result.targets[t])})" if t in result.targets else "")
            + f": {result.set_pairs.get(t, 0.0):g} pairs"
            for t in result.still_sparse
        )
        lines.append(
            f"{side}: {len(result.still_sparse)} CA row/column set(s) hold at most min_n {result.min_n:g} non-blanked "
            f"pairs even after merging up to their top-level group, and enter the CA anyway: {sets}"
        )
    if result.whole_table:
        sets = "; ".join(f"{', '.join(str(u) for u in result.targets[t])} into {t}" for t in result.whole_table)
        lines.append(
            f"{side}: sparse merging (min_n {result.min_n:g}) merged units across the whole table, within a group "
            f"that holds every unit, so categories far apart in status may share one CA score: {sets}. Give the "
            "classification groups of neighbouring categories, write hand recodes, or lower min_n (0 merges nothing)"
        )
    return lines

"""Occupation-by-employment-status units: status schemes, their codes and the by-status classification.

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
* units merged for the CA within one occupation share their score
  (``camsis.scaling.by_status.share_merged_scores``), as in the published files.

A scheme is data: ``data/statuses/{name}.tsv`` (``status``, ``label``, ``group``; the status
with no group is "no information", whose rows carry the title-only scale) and
``{name}.yaml`` (variable, label, value label set, names of the pair-count variables).

This module is the low half: the scheme, the combined codes (``combine``, ``split``) and
what is derived from them. The build on these units and the by-status score file are
``camsis.scaling.by_status``, above ``camsis.scaling.scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from camsis.classifications.classification import FRAME_COLUMNS, Classification
from camsis.errors import CamsisError
from camsis.vocabulary import SIDES

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

"""Code frames of occupational classifications, read from `data/classifications/`.

A classification is data, not code: `{name}.tsv` lists every code with its level, parent,
title, value label and linked measures; `{name}.yaml` holds the labels the score file
needs. Everything downstream (units to tabulate, groups to merge into, rows to fill and
label) comes from here.
"""

import copy
import hashlib
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import sparse

from camsis.errors import CamsisError

log = logging.getLogger("camsis.classifications.classification")

FRAME_COLUMNS = ["code", "level", "parent", "title", "label"]
REQUIRED_METADATA = ["variable", "label", "value_label_name"]
# Classifications this process has read, by their files' paths: digests of the files read, and
# what was read from them. A job running a stage of many scales reads a code frame once, not once a scale.
_READ: dict[tuple[Path, Path], tuple[dict[Path, bytes | None], "Classification"]] = {}


class Hierarchy:
    """The parent of every code and, walked once each, its chain of ancestors.

    Every bootstrap replicate merges sparse units twice and summarises the merges, which
    walks each unit's chain up to its top-level group several times: a by-status
    classification (1,236 units, 6 levels) did some 7,000 walks per replicate. A chain is
    walked the first time it is asked for and kept; the walk stops at the first ancestor
    whose chain is known, so every code costs about one step. A chain that would reach a
    code missing from the parent column, or loop, raises when it is asked for, not before:
    a parent column may be broken where no unit of the table leads.

    Parameters
    ----------
    parents : Series
        Parent code of every code (NA at the top level), e.g. ``Classification.frame["parent"]``.
    """

    def __init__(self, parents: pd.Series):
        missing = parents.isna().to_numpy().tolist()
        values = parents.to_numpy(dtype=np.int64, na_value=0).tolist()
        codes = parents.index.to_numpy(dtype=np.int64).tolist()
        self._parent = {code: (None if gone else value) for code, value, gone in zip(codes, values, missing)}
        self._chains: dict[int, tuple[int, ...]] = {}
        self._tables: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def ancestors(self, code: int) -> tuple[int, ...]:
        """Parent, grandparent, ... of ``code`` (empty at the top).

        Raises
        ------
        CamsisError
            When the chain reaches a code that is not in the parent column, or loops.
        """
        known = self._chains.get(code)
        if known is not None:
            return known
        chain: list[int] = []
        current = code
        while True:
            if current not in self._parent:
                raise CamsisError(f"code {current} is not in the classification's parent column")
            parent = self._parent[current]
            if parent is None:
                break
            if parent in chain or parent == code:
                raise CamsisError(f"the parents of code {code} form a cycle through {parent}")
            chain.append(parent)
            if parent in self._chains:
                # A known chain is finite and ends at the top, so no loop lies beyond it.
                chain.extend(self._chains[parent])
                break
            current = parent
        self._chains[code] = known = tuple(chain)
        return known

    def depth(self, code: int) -> int:
        """Number of ancestors of ``code`` (0 at the top)."""
        return len(self.ancestors(code))

    def by_depth(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each unit's ancestors as an array, for work on all groups of one depth at once.

        Returns the units x (most ancestors) array whose column d holds each unit's ancestor
        at depth d (0: the top level; the unit's own code where it has no ancestor that
        deep) and each unit's depth. Kept per set of units: a bootstrap batch asks for the
        same units in every replicate.
        """
        units = np.asarray(units, dtype=np.int64)
        key = units.tobytes()
        if key not in self._tables:
            chains = [self.ancestors(u) for u in units.tolist()]
            depth = np.array([len(chain) for chain in chains], dtype=np.int64)
            table = np.repeat(units[:, None], max(depth.max(initial=0), 1), axis=1)
            for row, chain in enumerate(chains):
                table[row, :len(chain)] = chain[::-1]
            table.flags.writeable = depth.flags.writeable = False
            self._tables[key] = (table, depth)
        return self._tables[key]


@dataclass(frozen=True)
class UnitGroups:
    """Each unit's group at one level, as the products of the filling use it.

    Attributes
    ----------
    codes : ndarray
        The distinct groups, sorted (int64 for a classification's levels).
    position : ndarray
        Each unit's row in ``codes`` (-1: no group), in the order of the units.
    member : csr_matrix
        Groups x units, 1 where the unit lies in the group. Sparse: a dense one costs a
        by-status classification's 1,236 units a product with a million zeros per level.
    """

    codes: np.ndarray
    position: np.ndarray
    member: sparse.csr_matrix

    @classmethod
    def of(cls, groups) -> "UnitGroups":
        """From each unit's group (array-like; NA: none)."""
        position, codes = pd.factorize(np.asarray(groups), sort=True)
        inside = np.flatnonzero(position >= 0)
        member = sparse.csr_matrix((np.ones(len(inside)), (position[inside], inside)),
                                   shape=(len(codes), len(position)))
        return cls(np.asarray(codes), position, member)


@dataclass(frozen=True)
class Classification:
    """A hierarchical code frame and the metadata a score file needs.

    Attributes
    ----------
    name
        the name the scale sheet uses (file stem in the classifications directory).
    frame
        DataFrame indexed by int `code`, columns `level` (1 = coarsest), `parent`
        (Int64, <NA> at level 1), `title`, `label`, then one column per linked measure.
    variable
        name of the code variable in the score file.
    label
        its variable label.
    value_label_name
        name of its value label set.
    reference_measure
        link column used by default to orient the CA dimension
        ("" when the classification names none: the scale sheet must then give one).
    link_labels
        variable label of each link column.
    link_value_labels
        value labels of categorical link columns.
    link_value_label_names
        names of their Stata label sets, where not ``{column}l``.
    status_links
        status scheme name -> DataFrame indexed by (code, status) of link values that
        depend on employment status as well as occupation (NS-SEC is derived from both);
        a by-status score file takes them where given, else the code's value in ``frame``.
    """

    name: str
    frame: pd.DataFrame
    variable: str
    label: str
    value_label_name: str
    reference_measure: str
    link_labels: dict[str, str] = field(default_factory=dict)
    link_value_labels: dict[str, dict[int, str]] = field(default_factory=dict)
    link_value_label_names: dict[str, str] = field(default_factory=dict)
    status_links: dict[str, pd.DataFrame] = field(default_factory=dict)

    @cached_property
    def units(self) -> np.ndarray:
        """Codes of the finest level, the ones pairs are coded on (sorted int64; read-only, worked out once)."""
        levels = self.frame["level"]
        units = np.sort(self.frame.index[levels == levels.max()].to_numpy(dtype=np.int64))
        units.flags.writeable = False
        return units

    @cached_property
    def levels(self) -> tuple[int, ...]:
        """The levels, coarsest (1) first (read once: the filling climbs them several times per bootstrap replicate)."""
        return tuple(sorted(set(self.frame["level"].tolist())))

    @property
    def links(self) -> list[str]:
        """Linked measures, in file order: they are carried into the score file."""
        return [c for c in self.frame.columns if c not in FRAME_COLUMNS]

    def ancestors(self, code: int) -> list[int]:
        """Parent, grandparent, ... of `code` (empty for a top-level code)."""
        if code not in self.frame.index:
            raise CamsisError(f"code {code} is not in classification {self.name}")
        return list(self.hierarchy.ancestors(int(code)))

    @cached_property
    def hierarchy(self) -> Hierarchy:
        """The parent column as a ``Hierarchy``, read once: a ``frame.at`` per step cost the
        blanking of SOC2020's diagonal groups (1,648 walks) about half a second, and the
        sparse merging walks every unit's chain in every bootstrap replicate."""
        return Hierarchy(self.frame["parent"])

    def unit_parents(self, level: int) -> pd.Series:
        """Each unit's group at `level` (a unit at that level maps to itself)."""
        if level not in self._unit_parents:
            raise CamsisError(
                f"classification {self.name} has no level {level} (levels {sorted(self._unit_parents)})"
            )
        return self._unit_parents[level].copy()

    def unit_groups(self, level: int) -> UnitGroups:
        """Each unit's group at `level` as ``UnitGroups`` (units in the order of ``units``).

        Worked out once per level: the filling takes group means at every level several
        times per bootstrap replicate, and the groups never change.
        """
        if level not in self._unit_groups:
            self.unit_parents(level)  # raises the error that names the levels there are
        return self._unit_groups[level]

    @cached_property
    def _unit_groups(self) -> dict[int, UnitGroups]:
        return {level: UnitGroups.of(groups.to_numpy()) for level, groups in self._unit_parents.items()}

    @cached_property
    def _unit_parents(self) -> dict[int, pd.Series]:
        """unit_parents of every level, worked out once: every bootstrap replicate fills its groups with them.

        Walked on positions in arrays, all units one level up at a time: a ``.loc`` lookup per
        level and step cost a by-status classification (1,236 units, 6 levels) ~0.2 s.
        """
        codes = self.frame.index.to_numpy(dtype=np.int64)
        levels = self.frame["level"].to_numpy(dtype=np.int64)
        parents = self.frame["parent"]
        has_parent = parents.notna().to_numpy()
        parent_position = np.full(len(codes), -1, dtype=np.int64)
        parent_position[has_parent] = self.frame.index.get_indexer(parents[has_parent].to_numpy(dtype=np.int64))
        units = self.units
        position = self.frame.index.get_indexer(units)
        out = {}
        for level in sorted(set(levels.tolist()), reverse=True):
            deeper = levels[position] > level
            while deeper.any():
                position = np.where(deeper, parent_position[position], position)
                deeper = levels[position] > level
            groups = pd.Series(codes[position], index=pd.Index(units, name="code"), dtype=np.int64, name=f"level{level}")
            out[int(level)] = groups
        return dict(sorted(out.items()))

    def value_labels(self) -> dict[int, str]:
        """Code -> published value label, as Stata's value label set wants it."""
        return {int(code): str(label) for code, label in self.frame["label"].items()}

    def label_set_names(self) -> dict[str, str]:
        """Name of the Stata value label set of the code variable and of each categorical link.

        The code variable's set is the declared ``value_label_name`` (SOC2020: ``soc2020a``);
        a link's is its ``link_value_label_names`` entry, else the column name with ``l``
        appended, as the published files name them (``ns_secl``, ``ns_sec_opl``).

        Returns
        -------
        dict
            Variable name -> label set name.
        """
        names = {self.variable: self.value_label_name}
        for column in self.link_value_labels:
            names[column] = self.link_value_label_names.get(column, f"{column}l")
        return names


def check_units(units, where: str = "units", minimum: int = 1) -> np.ndarray:
    """Unit codes as the table and the simulator use them: sorted, distinct integers, none negative.

    Parameters
    ----------
    units : array-like
        Codes of the finest level (``Classification.units``).
    where : str
        What to name in the error (e.g. ``"simulate_couples: units"``).
    minimum : int
        The fewest codes accepted.

    Returns
    -------
    ndarray
        The codes, sorted, as int64.
    """
    codes = np.asarray(units)
    if codes.ndim != 1 or codes.size < minimum or not np.issubdtype(codes.dtype, np.integer):
        raise CamsisError(f"{where} must be a 1-D array of at least {minimum} integer code(s)")
    codes = np.sort(codes.astype(np.int64))
    if codes[0] < 0 or np.any(np.diff(codes) == 0):
        raise CamsisError(f"{where} must be distinct codes, none negative (negative codes are survey missing values)")
    return codes


def available_classifications(directory: str | Path) -> list[str]:
    """Names with both files present, for error messages that say what would work."""
    return sorted(p.stem for p in Path(directory).glob("*.tsv") if p.with_suffix(".yaml").exists())


def load_classification(name: str, directory: str | Path) -> Classification:
    """Read classification ``name`` from ``directory`` (``{name}.tsv`` and ``{name}.yaml``).

    Parameters
    ----------
    name : str
        The name the scales sheet uses (the files' stem).
    directory : str or Path
        The classifications folder (config ``classifications``).

    Returns
    -------
    Classification
    """
    directory = Path(directory)
    tsv, meta_path = directory / f"{name}.tsv", directory / f"{name}.yaml"
    if not tsv.exists() or not meta_path.exists():
        names = ", ".join(available_classifications(directory)) or "none"
        raise CamsisError(f"unknown classification '{name}' in {directory} (available: {names})")
    return read_classification(tsv, meta_path)


def read_classification(tsv: str | Path, metadata: str | Path | None = None) -> Classification:
    """Read a classification from its two files, as a rule declares them as inputs.

    Parameters
    ----------
    tsv : str or Path
        The code frame, ``{name}.tsv``; its stem is the classification's name.
    metadata : str or Path, optional
        Its ``.yaml``; by default the file beside ``tsv`` with that suffix.

    Returns
    -------
    Classification
    """
    tsv = Path(tsv)
    meta_path = Path(metadata) if metadata is not None else tsv.with_suffix(".yaml")
    for path in (tsv, meta_path):
        if not path.is_file():
            raise CamsisError(f"classification file {path} does not exist")
    key = (tsv.resolve(), meta_path.resolve())
    stamps, read = _READ.get(key, ({}, None))
    if read is None or any(_stamp(path) != stamp for path, stamp in stamps.items()):
        stamps = {path: _stamp(path) for path in key}
        read, links = _read_classification(tsv, meta_path)
        _READ[key] = stamps | {path: _stamp(path) for path in links}, read
    # A copy: the caller may change its frame, and the next caller must get the files' contents.
    return copy.deepcopy(read)


def _stamp(path: Path) -> bytes | None:
    """A digest of the file's contents (None once it is gone): a file rewritten within the
    resolution of its modification time, to the same size, is still seen to change."""
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
    except FileNotFoundError:
        return None


def _read_classification(tsv: Path, meta_path: Path) -> tuple[Classification, list[Path]]:
    """The classification of the two files, and the status-links files its metadata names (read too)."""
    frame = _read_frame(tsv)
    metadata = _read_metadata(meta_path)
    _check_metadata(metadata, frame, meta_path)
    name = tsv.stem
    log.debug("classification %s: %d codes, %d units", name, len(frame), (frame["level"] == frame["level"].max()).sum())
    links = {str(scheme): meta_path.parent / str(file) for scheme, file in (metadata.get("status_links") or {}).items()}
    return Classification(
        name=name,
        frame=frame,
        variable=str(metadata["variable"]),
        label=str(metadata["label"]),
        value_label_name=str(metadata["value_label_name"]),
        reference_measure=str(metadata.get("reference_measure") or ""),
        link_labels={str(k): str(v) for k, v in (metadata.get("link_labels") or {}).items()},
        link_value_labels={
            str(column): {int(k): str(v) for k, v in labels.items()}
            for column, labels in (metadata.get("link_value_labels") or {}).items()
        },
        link_value_label_names={str(k): str(v) for k, v in (metadata.get("link_value_label_names") or {}).items()},
        status_links={scheme: _read_status_links(path, frame, meta_path) for scheme, path in links.items()},
    ), [path.resolve() for path in links.values()]


def _read_status_links(path: Path, frame: pd.DataFrame, meta_path: Path) -> pd.DataFrame:
    """A status-links file (``code``, ``status``, then link columns of the frame), checked:
    codes of the frame's units, whole-number statuses, one row per (code, status)."""
    if not path.is_file():
        raise CamsisError(f"{meta_path}: status_links names {path}, which does not exist")
    try:
        raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise CamsisError(f"{path}: unreadable ({str(error).splitlines()[0]})") from None
    links = [c for c in frame.columns if c not in FRAME_COLUMNS]
    if list(raw.columns[:2]) != ["code", "status"] or not set(raw.columns[2:]) <= set(links) or len(raw.columns) < 3:
        raise CamsisError(f"{path}: expected the columns code, status and link columns of the frame "
                          f"({', '.join(links) or 'none'}); found {' '.join(raw.columns)}")
    keys = raw[["code", "status"]].apply(pd.to_numeric, errors="coerce")
    if keys.isna().any().any() or (keys != keys.round()).any().any():
        raise CamsisError(f"{path}: code and status must be whole numbers")
    keys = keys.astype(np.int64)
    outside = sorted(set(keys["code"]) - set(frame.index[frame["level"] == frame["level"].max()]))
    if outside:
        raise CamsisError(f"{path}: codes that are not units of the frame: {', '.join(map(str, outside[:10]))}")
    if keys.duplicated().any():
        code, status = keys[keys.duplicated()].iloc[0]
        raise CamsisError(f"{path}: code {code} at status {status} appears more than once")
    values = raw.iloc[:, 2:].apply(pd.to_numeric, errors="coerce")
    return values.set_index(pd.MultiIndex.from_frame(keys))


def _read_frame(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise CamsisError(f"{path}: unreadable code frame ({str(error).splitlines()[0]})") from None
    missing = [c for c in FRAME_COLUMNS if c not in raw.columns]
    if missing:
        raise CamsisError(f"{path}: missing column(s) {', '.join(missing)}")
    frame = pd.DataFrame(index=pd.Index(_integers(raw["code"], path, "code", nullable=False), name="code"))
    frame["level"] = _integers(raw["level"], path, "level", nullable=False)
    frame["parent"] = pd.array(_integers(raw["parent"], path, "parent", nullable=True), dtype="Int64")
    frame["title"] = raw["title"].fillna("").to_numpy()
    frame["label"] = raw["label"].fillna("").to_numpy()
    for column in raw.columns.difference(FRAME_COLUMNS, sort=False):
        frame[column] = _link_column(raw[column]).array
    _check_frame(frame, path)
    return frame


def _integers(values: pd.Series, path: Path, column: str, nullable: bool) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()) | (numbers.notna() & (numbers != numbers.round()))
    if not nullable:
        bad |= values.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CamsisError(f"{path}: line {row + 2}: {column} '{values.iloc[row]}' is not an integer")
    return numbers.astype("Int64").to_numpy() if nullable else numbers.astype(np.int64).to_numpy()


def _link_column(values: pd.Series) -> pd.Series:
    """Numbers when every value is numeric (Int64 when all whole), else text."""
    numbers = pd.to_numeric(values, errors="coerce")
    if (numbers.isna() & values.notna()).any():
        return values
    present = numbers.dropna()
    return numbers.astype("Int64") if (present == present.round()).all() else numbers.astype(np.float64)


def _check_frame(frame: pd.DataFrame, path: Path) -> None:
    duplicated = frame.index[frame.index.duplicated()]
    if len(duplicated):
        raise CamsisError(f"{path}: code {duplicated[0]} appears more than once")
    if (frame["level"] < 1).any():
        code = frame.index[frame["level"] < 1][0]
        raise CamsisError(f"{path}: code {code} has level {frame.at[code, 'level']}, levels start at 1")
    parents = frame["parent"]
    orphans = parents.notna() & ~parents.isin(frame.index)
    if orphans.any():
        code = frame.index[orphans.to_numpy()][0]
        raise CamsisError(f"{path}: code {code} has parent {parents[code]}, which is not a code")
    top = frame["level"] == 1
    if parents[top].notna().any():
        code = frame.index[(top & parents.notna()).to_numpy()][0]
        raise CamsisError(f"{path}: code {code} is at level 1 but has parent {parents[code]}")
    if parents[~top].isna().any():
        code = frame.index[(~top & parents.isna()).to_numpy()][0]
        raise CamsisError(f"{path}: code {code} is at level {frame.at[code, 'level']} but has no parent")
    inner = parents.notna().to_numpy()
    parent_levels = frame["level"].reindex(parents[inner].astype(np.int64)).to_numpy()
    wrong = frame["level"].to_numpy()[inner] != parent_levels + 1
    if wrong.any():
        code = frame.index[inner][wrong][0]
        raise CamsisError(
            f"{path}: code {code} is at level {frame.at[code, 'level']} but its parent "
            f"{parents[code]} is at level {frame.at[int(parents[code]), 'level']}"
        )


def _read_metadata(path: Path) -> dict:
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CamsisError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(metadata, dict):
        raise CamsisError(f"{path}: expected a mapping of metadata keys")
    return metadata


def _check_metadata(metadata: dict, frame: pd.DataFrame, path: Path) -> None:
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise CamsisError(f"{path}: missing key(s) {', '.join(missing)}")
    links = [c for c in frame.columns if c not in FRAME_COLUMNS]
    reference = metadata.get("reference_measure")
    if reference and reference not in links:
        raise CamsisError(
            f"{path}: reference_measure '{reference}' is not a link column (links: {', '.join(links) or 'none'})"
        )
    for key in ["link_labels", "link_value_labels", "link_value_label_names"]:
        unknown = [c for c in (metadata.get(key) or {}) if c not in links]
        if unknown:
            raise CamsisError(f"{path}: {key} names '{unknown[0]}', which is not a link column")

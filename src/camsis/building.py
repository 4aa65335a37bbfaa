"""A whole scale from Python in one call: ``camsis.build_scale``, for users not running Snakemake.

Every stage is the one the workflow's rules run (``camsis.method.tables``, ``camsis.steps``'
in-memory cores of rules blank, bootstrap_gather and score_file, ``camsis.scaling.scale``,
``camsis.scaling.by_status``, ``camsis.method.filling``, ``camsis.scaling.summary``), in memory and in the rules'
order, so a sheet row and this call with the same settings give the same score file.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import pandas as pd

from camsis import steps
from camsis.classifications.classification import Classification, read_classification
from camsis.classifications.statuses import StatusScheme, by_status_classification, load_scheme
from camsis.errors import CamsisError
from camsis.io.reading import check_columns, file_sha256
from camsis.io.writing import fit_dta_labels, write_csv
from camsis.method import tables
from camsis.method.filling import fill_classification
from camsis.scaling import uncertainty
from camsis.scaling.by_status import build_by_status_scores, by_status_table
from camsis.scaling.scale import ScaleOptions, UnitScores, build_unit_scores
from camsis.scaling.summary import all_warnings, build_summary

# A checkout's data folders: the shipped code frames and status schemes are not package data.
_CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BuildOptions(ScaleOptions):
    """``ScaleOptions`` (the scaling's choices) and the sheet's less common columns.

    Attributes
    ----------
    name : str
        The scale's name, in the .dta's label and notes and summary.json (the sheet's ``scale``).
    diagonal_groups : str
        Codes whose sub-units blank each other, e.g. "1,2" (the sheet's column).
    psds_smooth : str or Path, optional
        Pseudo-diagonal cells blanked for the smoothing only (the sheet's column).
    where : str, optional
        A pandas query keeping the couples to count (the sheet's ``filter``).
    weight_type : str
        "survey" or "frequency" (a row is ``weight`` couples).
    on_missing_weight : str
        "error" or "drop" (counted under ``missing_weight``).
    """

    name: str = "camsis"
    diagonal_groups: str = ""
    psds_smooth: str | Path | None = None
    where: str | None = None
    weight_type: str = "survey"
    on_missing_weight: str = "error"

    def scaling(self) -> ScaleOptions:
        """The ``ScaleOptions`` part, as the rules pass it to ``camsis.scaling.scale.build_unit_scores``."""
        return ScaleOptions(**{f.name: getattr(self, f.name) for f in fields(ScaleOptions)})


@dataclass
class ScaleResult:
    """A built scale: what the workflow writes to ``results/{scale}/``, in memory.

    Attributes
    ----------
    scores : DataFrame
        The score file, one row per code of the classification, columns as ``{scale}.csv`` has them.
    summary : dict
        What ``summary.json`` holds: pairs read, used and dropped, blanking, CA, smoothing, warnings.
    by_status : DataFrame or None
        The by-status score file (``{scale}_by_status.csv``) when built with statuses.
    units : UnitScores
        The unit-level scores and diagnostics (``work/unit_scores.tsv``), with the CA fit.
    classification : Classification
        The code frame the scale is built on.
    statuses : StatusScheme or None
        The status scheme of ``by_status``.
    built : str
        ISO date of the build, in the files' labels and notes.
    notes, by_status_notes : list of str
        The .dta notes (provenance and warnings), as the workflow writes them.
    """

    scores: pd.DataFrame
    summary: dict
    by_status: pd.DataFrame | None
    units: UnitScores
    classification: Classification
    statuses: StatusScheme | None
    built: str
    notes: list[str] = field(default_factory=list, repr=False)
    by_status_notes: list[str] = field(default_factory=list, repr=False)

    def to_stata(self, path, by_status: bool = False) -> Path:
        """Write the labelled score file (the by-status one with ``by_status``) as the workflow's .dta."""
        name = self.summary["scale"]
        if not by_status:
            steps.write_score_dta(self.scores, self.classification, path, name, self.built, self.notes)
        elif self.by_status is None:
            raise CamsisError(f"scale {name} was built without statuses: it has no by-status file")
        else:
            steps.write_by_status_dta(self.by_status, self.classification, self.statuses, path, name, self.built,
                                      self.by_status_notes)
        return Path(path)

    def to_csv(self, path, by_status: bool = False) -> Path:
        """Write the score file (the by-status one with ``by_status``) as the workflow's .csv."""
        table = self.by_status if by_status else self.scores
        if table is None:
            raise CamsisError(f"scale {self.summary['scale']} was built without statuses: it has no by-status file")
        write_csv(table, path)
        return Path(path)


def build_scale(couples, occ1: str = "hocc", occ2: str = "wocc", classification="soc2020", *,
                weight: str | None = None, psds=None, diagonal_digits: int = 0, statuses=None,
                status: tuple[str, str] | None = None, bootstrap: int = 0, seed: int = 2020,
                options: ScaleOptions | None = None) -> ScaleResult:
    """Build a CAMSIS scale from couples, as one row of the scales sheet does (docs/python.md).

    Parameters
    ----------
    couples : DataFrame, str or Path
        One row per couple (any file the workflow reads: .dta, .sav, .csv, .parquet, ...).
    occ1, occ2 : str
        The variables of the first (husband's) and second (wife's) occupation.
    classification : str, Path or Classification
        A code frame: a ``Classification``, the path of its ``.tsv`` (its ``.yaml`` beside
        it), or the name of one in ``data/classifications`` of the working folder or of the
        camsis checkout (a pip-installed camsis does not ship them).
    weight : str, optional
        The weight variable; None counts every couple once.
    psds : str or Path, optional
        The pseudo-diagonal cells to blank (a file as ``data/psds/gb_soc2020.tsv``).
    diagonal_digits : int
        Blank the pairs whose codes agree on this many leading digits (0: the same code).
    statuses : str, Path or StatusScheme, optional
        A status scheme (name in ``data/statuses``, path of its ``.tsv``, or loaded): also
        build the occupation-by-status scale, from ``status``.
    status : (str, str), optional
        The two partners' status variables, with ``statuses``.
    bootstrap : int
        Bootstrap replicates B (0: none); the score file then has bootstrap SEs and intervals.
    seed : int
        Replicate r draws from the stream (seed, r), as the workflow's ``bootstrap_seed``.
    options : ScaleOptions or BuildOptions, optional
        The method's other choices; the published method's by default.

    Returns
    -------
    ScaleResult
    """
    options = options if isinstance(options, BuildOptions) else BuildOptions(**asdict(options or ScaleOptions()))
    frame = _classification(classification)
    scheme = _scheme(statuses) if statuses is not None else None
    if (scheme is None) != (status is None):
        raise CamsisError("statuses and status go together: a status scheme and the pair (status1, status2) "
                          "of its variables")
    source = _source_name(couples)
    built = datetime.date.today().isoformat()
    title, status_pairs = _tabulate(couples, source, occ1, occ2, weight, frame, scheme, status, options)
    ca_blank, smooth_blank, blanking = steps.blank_table(
        title, frame, scale=options.name, diagonal_digits=diagonal_digits, diagonal_groups=options.diagonal_groups,
        psds=str(psds) if psds else None, psds_smooth=str(options.psds_smooth) if options.psds_smooth else None)
    scaling = options.scaling()
    units = build_unit_scores(title, ca_blank, smooth_blank, frame, scaling)
    status_units = (build_by_status_scores(status_pairs, ca_blank, smooth_blank, frame, scheme, scaling)
                    if scheme is not None else None)
    boot = _bootstrap(bootstrap, seed, title, status_pairs, ca_blank, smooth_blank, frame, scheme, scaling,
                      units, status_units)
    table = fill_classification(units.scores, units.population, frame, boot["title"][0] if boot else None)

    sheet_row = {"scale": options.name, "input": source, "occ1": occ1, "occ2": occ2, "weight": weight or "",
                 "classification": frame.name, "psds": str(psds or ""), "diagonal_digits": diagonal_digits,
                 "diagonal_groups": options.diagonal_groups, "psds_smooth": str(options.psds_smooth or ""),
                 "filter": options.where or "", "weight_type": options.weight_type}
    if scheme is not None:
        sheet_row |= {"statuses": scheme.name, "status1": status[0], "status2": status[1]}
    config = asdict(scaling) | {"bootstrap": bootstrap, "bootstrap_seed": seed,
                                          "on_missing_weight": options.on_missing_weight}
    info = title.info() | {"input_sha256": file_sha256(couples) if source != _FRAME else None}
    intervals = boot is not None and "mcam_tse" in boot["title"][0]
    notes = steps.score_file_notes(frame, options.name, built, sheet_row, config, info["input_sha256"],
                                   all_warnings(blanking.as_dict(), units.diagnostics), intervals)
    labels, value_labels, file_label = steps.score_dta_labels(table, frame, options.name, built)
    label_warnings = fit_dta_labels({c: labels.get(c) for c in table.columns}, value_labels, file_label)[3]
    scaling_summary = replace(units.diagnostics, warnings=units.diagnostics.warnings + label_warnings)
    by_status, by_status_notes, sections = None, [], {}
    if scheme is not None:
        status_info = status_pairs.info() | {"statuses": scheme.name}
        by_status = by_status_table(status_units.scores, table, frame, scheme, boot["status"][0] if boot else None)
        by_status_notes = steps.by_status_file_notes(frame, scheme, options.name, built, sheet_row, config,
                                                     status_info, status_units.diagnostics.warnings, intervals)
        sections = dict(status_unknown=status_info["dropped"].get("status_unknown", 0),
                        by_status=steps.by_status_section(status_info, status_units.diagnostics,
                                                          boot["status"][1].as_dict() if boot else None))
    summary = build_summary(options.name, built, info, blanking.as_dict(), scaling_summary, table, sheet_row, config,
                            bootstrap=boot["title"][1] if boot else None, **sections)
    return ScaleResult(scores=table, summary=summary, by_status=by_status, units=units, classification=frame,
                       statuses=scheme, built=built, notes=notes, by_status_notes=by_status_notes)


_FRAME = "<data frame>"


def _source_name(couples) -> str:
    if isinstance(couples, pd.DataFrame):
        return _FRAME
    if isinstance(couples, (str, os.PathLike)):
        if not Path(couples).is_file():
            raise CamsisError(f"input file {couples} does not exist")
        return str(couples)
    raise CamsisError(f"couples must be a pandas DataFrame or the path of a file, not {type(couples).__name__}")


def _tabulate(couples, source, occ1, occ2, weight, frame, scheme, status, options: BuildOptions):
    """The title-only table (and the by-status one), as rule tabulate counts them (both variants)."""
    reading = dict(on_missing_weight=options.on_missing_weight, where=options.where or None,
                   weight_type=options.weight_type)
    if source == _FRAME:
        columns = [occ1, occ2] + ([weight] if weight else []) + (list(status) if status else [])
        check_columns(source, columns, [str(c) for c in couples.columns])
    if scheme is not None:
        return tables.tabulate_by_status(source, tables.CoupleColumns(occ1, occ2, *status, weight), frame.units,
                                         scheme.scored,
                                         frame=couples if source == _FRAME else None, **reading)
    if source == _FRAME:
        return tables.tabulate_frame(couples, occ1, occ2, weight, frame.units, source, **reading), None
    return tables.tabulate(source, occ1, occ2, weight, frame.units, **reading), None


def _bootstrap(replicates, seed, title, status_pairs, ca_blank, smooth_blank, frame, scheme, options, units,
               status_units) -> dict | None:
    """Each table's (per-unit summary, BootstrapInfo), as rules bootstrap_batch(_by_status) and _gather make them."""
    if not replicates:
        return None
    numbers = list(range(1, int(replicates) + 1))
    if scheme is None:
        batches = {"title": uncertainty.bootstrap_batch(title, ca_blank, smooth_blank, frame, options, numbers, seed)}
    else:
        title_long, long = uncertainty.bootstrap_batch_by_status(title, status_pairs, ca_blank, smooth_blank, frame,
                                                                 scheme, options, numbers, seed)
        batches = {"title": title_long, "status": long}
    gathered = {"title": steps.gather_bootstrap([batches["title"]], units, frame, replicates=int(replicates),
                                                seed=int(seed))}
    if scheme is not None:
        gathered["status"] = steps.gather_bootstrap([batches["status"]], status_units,
                                                    by_status_classification(frame, scheme),
                                                    replicates=int(replicates), seed=int(seed))
    return {key: (per_unit, info) for key, (per_unit, _, info) in gathered.items()}


def _data_file(given, what: str, folder: str) -> Path:
    """The ``.tsv`` of ``given``: its path, or a name in ``folder`` of the working folder or of the checkout."""
    path = Path(given)
    if path.suffix == ".tsv" and path.is_file():
        return path
    for base in (Path.cwd(), _CHECKOUT):
        if (base / folder / f"{given}.tsv").is_file():
            return base / folder / f"{given}.tsv"
    raise CamsisError(f"{what} '{given}' is neither a .tsv file nor a name in {folder} of {Path.cwd()} or "
                      f"{_CHECKOUT}; pass the path of its .tsv (its .yaml beside it) or a loaded {what}")


def _classification(given) -> Classification:
    if isinstance(given, Classification):
        return given
    return read_classification(_data_file(given, "classification", "data/classifications"))


def _scheme(given) -> StatusScheme:
    if isinstance(given, StatusScheme):
        return given
    tsv = _data_file(given, "status scheme", "data/statuses")
    return load_scheme(tsv.stem, tsv.parent)

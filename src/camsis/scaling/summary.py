"""summary.json: what a build did, assembled in one place from the stages' saved summaries.

Each stage saves its own summary (the table's bookkeeping, the blanking, the scaling
diagnostics, the bootstrap, the psd rounds) as JSON next to its result; ``build_summary``
is the only function that puts them together. A new stage adds its section by passing
it as a keyword to ``build_summary`` (rule ``score_file`` declares the file as an input
and ``camsis.steps.score_file`` reads it); nothing else writes summary.json.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import camsis
from camsis.errors import CamsisError
from camsis.io.writing import read_json, write_json
from camsis.vocabulary import SIDES

log = logging.getLogger("camsis.scaling.summary")


class _Summary:
    """A stage's summary: a dataclass whose fields are what its JSON file holds."""

    def as_dict(self) -> dict:
        """Plain types, as JSON stores them."""
        return asdict(self)


@dataclass
class BlankingSummary(_Summary):
    """Cells and pairs blanked for the CA and for the smoothing (``blanking.json``).

    Attributes
    ----------
    ca, smooth : dict
        ``camsis.method.blanking.summarise_blanking`` of each mask.
    same_sets : bool
        True when the smoothing uses the CA's mask (no ``psds_smooth``).
    warnings : list of str
        What a user must know about the blanking (psd rows that cover no code, a diagonal
        rule that blanks whole groups).
    """

    ca: dict
    smooth: dict
    same_sets: bool
    warnings: list[str] = field(default_factory=list)


@dataclass
class BootstrapInfo(_Summary):
    """How the bootstrap went (``bootstrap.json``).

    Attributes
    ----------
    replicates : int
        Replicates gathered.
    seed : int
        The seed replicate r's stream derives from (with r).
    correlation_with_scale : dict
        Per side, min and median correlation of a replicate's scores with the scale's.
    replicates_disagreeing : list of int
        Replicates correlating below ``camsis.scaling.uncertainty.DISAGREEMENT`` on either side.
    replicates_fallen_apart : int
        Replicates whose redrawn table fell apart into blocks after blanking: their smaller
        blocks' units were left out of the replicate's CA and imputed from their groups
        (``camsis.scaling.uncertainty.fallen_apart``).
    units_left_out : dict
        Replicate -> units (both sides) it left out, for those replicates.
    """

    replicates: int
    seed: int
    correlation_with_scale: dict
    replicates_disagreeing: list[int]
    replicates_fallen_apart: int = 0
    units_left_out: dict[int, int] = field(default_factory=dict)
    resampling: str = "multinomial draw of the pairs over all cells of the table, each pair with its cell's mean weight"


@dataclass
class RoundsSummary(_Summary):
    """What the blanking rounds did (``psd_rounds.json``).

    Attributes
    ----------
    rounds : int
        Rounds asked for.
    threshold : float
        Residual above which a round blanks a cell.
    cells_blanked : int
        Cells blanked over all rounds.
    per_round : list of dict
        Per round: ``round``, ``cells``, ``pairs_weighted``, ``cells_blanked``.
    candidates_left_above_threshold : int
        Candidates of the final build still above the threshold.
    """

    rounds: int
    threshold: float
    cells_blanked: int
    per_round: list[dict] = field(default_factory=list)
    candidates_left_above_threshold: int = 0


@dataclass(kw_only=True)
class DimensionSummary(_Summary):
    """The chosen dimension of a fitted model (CA or RC), as ``ca.choose_dimension`` left it.

    Attributes
    ----------
    chosen_dimension : int
        The model's own number of the dimension the scale is built from.
    chosen_correlation : float
        Its mean signed correlation with the reference measure.
    correlations : dict
        Every dimension's (by its own number, as a string) mean signed correlation.
    chosen_row_correlation, chosen_column_correlation : float
        The chosen dimension's correlation per side (husbands' rows, wives' columns).
    male_female_correlation : float or None
        Weighted correlation of a unit's two raw scores on it (units scored on both sides).
    """

    chosen_dimension: int
    chosen_correlation: float
    correlations: dict[str, float]
    chosen_row_correlation: float
    chosen_column_correlation: float
    male_female_correlation: float | None = None

    @staticmethod
    def chosen(model) -> dict:
        """The fields above read off a model after ``choose_dimension`` (``ca.DimensionChoice``)."""
        return {
            "chosen_dimension": int(model.chosen),
            "chosen_correlation": float(model.correlations[model.chosen]),
            "correlations": {str(k): float(v) for k, v in model.correlations.items()},
            "chosen_row_correlation": float(model.row_correlations[model.chosen]),
            "chosen_column_correlation": float(model.column_correlations[model.chosen]),
        }


@dataclass(kw_only=True)
class CASummary(DimensionSummary):
    """The CA of a build (``scaling.json``, key ``ca``); fitted with either estimator.

    Attributes
    ----------
    inertia : dict
        Share of the total inertia per dimension, by the CA's own numbers (``dim1``, ...),
        not the chosen order: the order a reader of the CA expects.
    total_inertia : float
        Chi-square / N of the merged table.
    reference_measure : str
        The classification column the dimension was chosen and oriented by.
    units_in_ca : dict
        Rows (``m``) and columns (``f``) of the merged table with pairs.
    blanked_cells : str
        "zero" or "reconstitute" (``ScaleOptions.blanked_cells``).
    """

    inertia: dict[str, float]
    total_inertia: float
    reference_measure: str
    units_in_ca: dict[str, int]
    blanked_cells: str


@dataclass(kw_only=True)
class RCSummary(DimensionSummary):
    """The RC(M) model of a build under ``estimator: rc2`` (``scaling.json``, key ``rc2``).

    Attributes
    ----------
    deviance, df, iterations, converged, phi
        The fit (``camsis.method.rc.RCResult.summary``).
    starts, starts_at_minimum, other_deviances, starts_not_converged
        How the starts went (``camsis.method.rc.RCResult.summary``): starts tried, how many reached
        the returned deviance, the min and max deviance of the other converged starts (None
        when all reached it), and how many did not converge.
    dimensions : int
        M.
    start : str
        What the fit started from ("ca", or the start that won, see ``camsis.method.rc.fit_rc``).
    blanked_cells : int
        Merged cells held as structural zeros.
    """

    deviance: float
    df: int
    iterations: int
    converged: bool
    phi: list[float]
    dimensions: int
    start: str
    blanked_cells: int
    starts: int = 1
    starts_at_minimum: int = 1
    other_deviances: dict | None = None
    starts_not_converged: int = 0


@dataclass
class ScalingSummary(_Summary):
    """How stages 4-7 went (``scaling.json``; ``UnitScores.diagnostics``); its keys go to summary.json's top level.

    Optional sections left as None are left out of the file, so a key is there only when
    the build did that thing.

    Attributes
    ----------
    warnings : list of str
        One line each, what a user must know (dropped blocks, sparse units merged across
        the whole table, a weak or disagreeing dimension, a boundary smoothing fit ...).
    dropped_blocks : dict or None
        Units and pairs outside the main block (``disconnected: drop``, the default), in all
        and per block (``per_block``).
    merging : dict
        Per side, the sparse-unit merge (``camsis.method.merging.MergeResult.as_dict``).
    reconstitution : dict or None
        How the blanked cells were filled (``blanked_cells: reconstitute``).
    ca : CASummary or None
        The CA (always fitted: it starts the RC model and draws the CA map).
    rc2 : RCSummary or None
        The RC model (``estimator: rc2``).
    smoothing : dict
        Per side, the ESRES fit of the first dimension (``camsis.method.smoothing``).
    male_female_correlation : float or None
        Weighted correlation of a unit's mcamsis with its fcamsis.
    shared : dict or None
        By-status builds: units sharing their occupation's merged score
        (``camsis.scaling.by_status.build_by_status_scores``).
    """

    warnings: list[str] = field(default_factory=list)
    dropped_blocks: dict | None = None
    merging: dict[str, dict] = field(default_factory=dict)
    reconstitution: dict | None = None
    ca: CASummary | None = None
    rc2: RCSummary | None = None
    smoothing: dict[str, dict] = field(default_factory=dict)
    male_female_correlation: float | None = None
    shared: dict | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = ("dropped_blocks", "reconstitution", "rc2", "shared")

    def as_dict(self) -> dict:
        """Plain types, as JSON stores them; optional sections left as None are left out."""
        return {key: value for key, value in asdict(self).items() if value is not None or key not in self.OPTIONAL}

    def warn(self, *messages: str | None) -> None:
        """Log each message and keep it for summary.json and the notes (None entries are skipped)."""
        for message in messages:
            if message:
                log.warning("%s", message)
                self.warnings.append(message)

    @property
    def model(self) -> DimensionSummary | None:
        """The summary of the model the scale is built from: the RC model's, else the CA's."""
        return self.rc2 or self.ca

    @classmethod
    def from_dict(cls, data: dict, source="scaling.json") -> ScalingSummary:
        """What ``as_dict`` wrote, typed again; a file of another layout is a one-line CamsisError."""
        try:
            sections = {"ca": CASummary, "rc2": RCSummary}
            typed = {key: sections[key](**value) if key in sections and value is not None else value
                     for key, value in data.items()}
            return cls(**typed)
        except TypeError as err:
            raise CamsisError(f"{source} is not a scaling summary this camsis wrote ({err}): rebuild the scale") from None

    @classmethod
    def load(cls, path) -> ScalingSummary:
        """Read a ``scaling.json``."""
        return cls.from_dict(read_json(path), path)

    def save(self, path) -> None:
        """Write ``scaling.json`` (atomically)."""
        write_json(self.as_dict(), path)


def all_warnings(*stages: dict | ScalingSummary) -> list[str]:
    """Every stage's warnings, in stage order: summary.json and the .dta notes list the same.

    A stage is its saved JSON (a dict with a ``warnings`` list) or a summary with a
    ``warnings`` attribute.
    """
    return [text for stage in stages
            for text in (stage.get("warnings", []) if isinstance(stage, dict) else stage.warnings)]


def build_summary(
    scale: str,
    built: str,
    table_info: dict,
    blanking: dict,
    scaling: ScalingSummary,
    score_table,
    sheet_row: dict,
    config: dict,
    **sections: Any,
) -> dict:
    """The contents of summary.json.

    Parameters
    ----------
    scale : str
        The scale's name.
    built : str
        ISO date of the build.
    table_info : dict
        ``table.json`` (``PairTable.save``): ``source``, ``read``, ``used``, ``dropped``,
        ``input_sha256``.
    blanking : dict
        ``blanking.json`` (``BlankingSummary``).
    scaling : ScalingSummary
        ``scaling.json`` (``UnitScores.diagnostics``): its keys go to the top level.
    score_table : DataFrame
        The published table (``camsis.method.filling.fill_classification``).
    sheet_row, config : dict
        The scale's sheet row and the run's config, for provenance.
    **sections
        Optional sections by name (``bootstrap``, ``psd_rounds``, ...): dicts or objects
        with ``as_dict()``; None leaves a section out.

    Returns
    -------
    dict
        Ready for ``camsis.io.writing.write_json``.
    """
    summary = {
        "scale": scale,
        "camsis_version": camsis.__version__,
        "built": built,
        "input": {"path": sheet_row.get("input"), "sha256": table_info.get("input_sha256")},
        "pairs_read": table_info["read"],
        "pairs_used": table_info["used"],
        "dropped": table_info["dropped"],
        "blanking": blanking,
        **scaling.as_dict(),
        "warnings": all_warnings(blanking, scaling),
        "codes_written": len(score_table),
        "units_imputed": {side: int((score_table[f"{side}_imputed"] > 0).sum()) for side in SIDES},
    }
    for name, section in sections.items():
        if section is not None:
            summary[name] = section.as_dict() if hasattr(section, "as_dict") else section
    summary["sheet_row"] = dict(sheet_row)
    summary["config"] = config
    return summary

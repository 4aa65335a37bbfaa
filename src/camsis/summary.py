"""summary.json: what a build did, assembled in one place from the stages' saved summaries.

Each stage saves its own summary (the table's bookkeeping, the blanking, the scaling
diagnostics, the bootstrap, the psd rounds) as JSON next to its result; ``build_summary``
is the only function that puts them together. A new stage adds its section by passing
it as a keyword to ``build_summary`` (rule ``score_file`` declares the file as an input
and ``camsis.steps.score_file`` reads it); nothing else writes summary.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import camsis
from camsis.vocabulary import SIDES


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
        ``camsis.blanking.summarise_blanking`` of each mask.
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
        Replicates correlating below ``camsis.uncertainty.DISAGREEMENT`` on either side.
    """

    replicates: int
    seed: int
    correlation_with_scale: dict
    replicates_disagreeing: list[int]
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


def all_warnings(*stages: dict) -> list[str]:
    """Every stage's warnings, in stage order: summary.json and the .dta notes list the same."""
    return [text for stage in stages for text in stage.get("warnings", [])]


def build_summary(
    scale: str,
    built: str,
    table_info: dict,
    blanking: dict,
    scaling: dict,
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
    scaling : dict
        ``scaling.json`` (``UnitScores.diagnostics``): its keys go to the top level.
    score_table : DataFrame
        The published table (``camsis.filling.fill_classification``).
    sheet_row, config : dict
        The scale's sheet row and the run's config, for provenance.
    **sections
        Optional sections by name (``bootstrap``, ``psd_rounds``, ...): dicts or objects
        with ``as_dict()``; None leaves a section out.

    Returns
    -------
    dict
        Ready for ``camsis.writing.write_json``.
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
        **scaling,
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

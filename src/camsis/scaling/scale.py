"""From a pair table and its blank masks to standardised unit scores (stages 4 to 7).

This is the part of a build that a bootstrap replicate repeats, so it takes only the
table and returns only unit-level results; filling and writing come after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.io.writing import atomic_path
from camsis.method.ca import (
    CAResult,
    choose_dimension,
    connected_blocks,
    correspondence_analysis,
    describe_blocks,
    expand_scores,
    sides_correlation,
    sides_warning,
)
from camsis.method.filling import impute_missing_units
from camsis.method.merging import apply_merge, merge_sparse_units, merge_warnings, summarise_merge
from camsis.method.pairtable import Cells
from camsis.method.rc import RCResult, fit_rc
from camsis.method.reconstitution import reconstitute, unit_fitted
from camsis.method.smoothing import DEFAULT_LEVELS, SMOOTHING_METHODS, SideCells, UnitHierarchy
from camsis.method.standardising import fit_standardisation
from camsis.scaling.summary import CASummary, DimensionSummary, RCSummary, ScalingSummary
from camsis.vocabulary import PARTNERS_OF, SIDE_NAMES, SIDES, other

log = logging.getLogger("camsis.scaling.scale")

POPULATION_PREFIX = "population_"
ESTIMATORS = ("ca", "rc2")


@dataclass(frozen=True)
class ScaleOptions:
    """Choices of a build; the defaults are the published method's.

    Attributes
    ----------
    min_n : float
        Units with at most this many non-blanked pairs are merged before the CA.
    n_components : int
        CA dimensions kept (the chosen one and at least one more).
    reference_measure : str or None
        Link column of the classification used to choose and orient the CA dimension; None takes
        the classification's own default.
    recodes : dict
        Hand-written unit -> unit merges applied before the sparse merging.
    mean, sd, clip : float
        The published metric.
    disconnected : str
        "drop" (the default) the units outside the largest block of a table that falls apart
        into blocks after blanking (they are then imputed, flagged and counted), or "refuse"
        such a table.
    reml : bool
        REML (the published method) or ML for the smoothing models.
    smoothing : str
        The smoothing model (docs/smoothing.md): "nested" (units within the classification's
        groups, ``smoothing_levels``) or "one_level" (one random intercept per unit, every unit
        shrunk toward one grand mean: the first releases' model).
    smoothing_levels : dict
        With ``smoothing: nested``, the levels above the units counted up from them (1: the
        units' own groups): ``random`` (a list: nested random effects) and ``fixed`` (a level,
        "top" for the coarsest, or None: fixed effects). A by-status build puts the status
        units within their occupation, then shifts these levels up to the occupation's.
    estimator : str
        Where the raw scores come from: "ca" (correspondence analysis, the default) or "rc2"
        (Goodman's RC(M) association model, the "RC-II" of the first CAMSIS releases, see
        camsis.method.rc), fitted to the same merged, blanked table with the blanked cells as
        structural zeros.
    rc_dimensions : int
        M of the RC model; with 1 there is no second dimension to publish.
    blanked_cells : str
        "zero" (the published method: blanked cells count as zero in the CA) or "reconstitute"
        (treated as missing and filled from the CA model of order ``reconstitution_order``,
        iterated to its fixed point; order 0 is the quasi-independence fit; see
        camsis.method.reconstitution). The smoothing counts only non-blanked pairs in n either way;
        under reconstitute it also sees the blanked cells' fill as frequency weight (the table
        the CA saw). With ``estimator: rc2`` the RC model keeps blanked cells as structural
        zeros either way: reconstitute changes its CA start and the smoothing.
    reconstitution_order : int
        CA dimensions the blanked cells are filled from (0: independence).
    second_dimension : bool
        Smooth and standardise the second dimension too (the score file's ``camsis2``). A
        bootstrap replicate keeps only the first, which does not depend on the second, so it
        leaves the columns ``{s}camsis2`` out and saves two of the four smoothing fits.
    """

    min_n: float = 30
    n_components: int = 2
    reference_measure: str | None = None
    recodes: dict = field(default_factory=dict)
    mean: float = 50.0
    sd: float = 15.0
    clip: tuple = (1.0, 99.0)
    disconnected: str = "drop"
    reml: bool = True
    smoothing: str = "nested"
    smoothing_levels: dict = field(default_factory=lambda: {"random": list(DEFAULT_LEVELS["random"]),
                                                            "fixed": DEFAULT_LEVELS["fixed"]})
    estimator: str = "ca"
    rc_dimensions: int = 1
    blanked_cells: str = "zero"
    reconstitution_order: int = 0
    second_dimension: bool = True

    def __post_init__(self):
        if self.estimator not in ESTIMATORS:
            raise CamsisError(f"estimator '{self.estimator}' is not one of {', '.join(ESTIMATORS)}")
        if self.smoothing not in SMOOTHING_METHODS:
            raise CamsisError(f"smoothing '{self.smoothing}' is not one of {', '.join(SMOOTHING_METHODS)}")
        if not isinstance(self.smoothing_levels, dict):
            raise CamsisError(f"smoothing_levels must be a mapping such as {{random: [1], fixed: top}}, "
                              f"got {self.smoothing_levels!r}")
        if int(self.rc_dimensions) != self.rc_dimensions or self.rc_dimensions < 1:
            raise CamsisError(f"rc_dimensions must be a whole number >= 1, got {self.rc_dimensions}")


@dataclass
class CAFit:
    """What the CA of a build saw and found, for diagnostics on the fitted table.

    Attributes
    ----------
    kept : DataFrame
        Unit x unit weighted table the CA was built from (blanked cells and dropped blocks set
        to 0; with ``blanked_cells: reconstitute`` the blanked cells hold the model's fill
        instead, so fitted counts and residuals are those of the table the CA saw), before
        sparse merging.
    row_map, column_map : Series
        Merge maps (unit -> merged CA row / column).
    ca : CAResult
        The CA of the merged table, after ``choose_dimension`` (computed with either estimator:
        it starts the RC model and draws the CA map).
    rc : RCResult or None
        The RC model of the merged table after ``choose_dimension`` when the estimator is "rc2",
        else None.
    """

    kept: pd.DataFrame
    row_map: pd.Series
    column_map: pd.Series
    ca: CAResult
    rc: RCResult | None = None

    @property
    def model(self) -> CAResult | RCResult:
        """The fit whose scores the scale is built from."""
        return self.ca if self.rc is None else self.rc


@dataclass
class UnitScores:
    """Standardised scores of every unit of the classification.

    Attributes
    ----------
    scores : DataFrame
        Indexed by unit with, for each side s in m (husbands) and f (wives):
        ``{s}camsis``, ``{s}cam_se``, ``{s}camsis2`` (second dimension), ``n_{s}`` (pairs behind
        the score), ``{s}_imputed`` (code of the group the score was borrowed from, 0 if none),
        ``{s}_raw`` (the raw score of the estimator, smoothed into ``{s}camsis``), ``{s}_ca``
        (the raw CA score: ``{s}_raw`` of the CA estimator), ``{s}_ca2`` (its second dimension,
        for the CA map), ``{s}_lambda`` (shrinkage factor), ``{s}_own_se`` (the part of ``{s}cam_se``
        due to the unit's own pairs, lambda sigma_e / sqrt(n), on the metric: what the total SE takes out of
        the bootstrap's spread). With the RC estimator and one
        dimension ``{s}camsis2`` is empty.
    population : DataFrame
        Indexed by unit, columns m and f: weighted people per unit in the input,
        blanked pairs included (the standardisation's population).
    diagnostics : ScalingSummary
        What summary.json reports about the CA and the smoothing; ``warnings``
        lists, one line each, what a user must know (dropped blocks, a weak reference
        correlation, a boundary smoothing fit).
    fit : CAFit or None
        The CA (and RC model) behind the scores (camsis.scaling.candidates reads the fitted table from
        it).
    """

    scores: pd.DataFrame
    population: pd.DataFrame
    diagnostics: ScalingSummary = field(default_factory=ScalingSummary)
    fit: CAFit | None = None

    def table(self) -> pd.DataFrame:
        """Scores and population side by side, as saved: population columns ``population_m``, ``population_f``."""
        return self.scores.join(self.population.add_prefix(POPULATION_PREFIX))

    def save(self, path, diagnostics_path=None) -> None:
        """Write the unit file (``unit_scores.tsv``) and, if a path is given, the diagnostics (``scaling.json``).

        Parameters
        ----------
        path : str or Path
            Tab-separated file, one row per unit (index column ``unit``).
        diagnostics_path : str or Path, optional
            JSON file for ``diagnostics``. The CA fit is not saved.
        """
        with atomic_path(path) as temporary:
            self.table().to_csv(temporary, sep="\t")
        if diagnostics_path is not None:
            self.diagnostics.save(diagnostics_path)

    @classmethod
    def load(cls, path, diagnostics_path=None) -> UnitScores:
        """Read what ``save`` wrote (``fit`` is None: the CA is not saved).

        Parameters
        ----------
        path : str or Path
            The unit file.
        diagnostics_path : str or Path, optional
            The diagnostics JSON; without it ``diagnostics`` is an empty ``ScalingSummary``.
        """
        try:
            frame = pd.read_csv(path, sep="\t", index_col=0)
        except (OSError, ValueError) as err:
            raise CamsisError(f"cannot read unit scores {path}: {err}") from None
        frame.index.name = "unit"
        population_columns = [POPULATION_PREFIX + side for side in SIDES]
        missing = [c for c in population_columns if c not in frame.columns]
        if missing:
            raise CamsisError(f"unit scores {path} lack column(s) {', '.join(missing)}")
        population = frame[population_columns].rename(columns=lambda c: c.removeprefix(POPULATION_PREFIX))
        scores = frame.drop(columns=population_columns)
        diagnostics = ScalingSummary.load(diagnostics_path) if diagnostics_path is not None else ScalingSummary()
        return cls(scores=scores, population=population, diagnostics=diagnostics)


def _reference_for(mass: pd.Series, unit_map: pd.Series, reference: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Mass-weighted reference value and mass of each merged row or column, from its units' ``mass``."""
    labels, mass = mass.index, mass.to_numpy()
    ref = reference.reindex(labels).to_numpy(dtype=float, na_value=np.nan)
    target = unit_map.reindex(labels).to_numpy()
    use = ~np.isnan(ref) & (mass > 0)
    codes, targets = pd.factorize(target[use], sort=True)
    wref = np.bincount(codes, weights=mass[use] * ref[use], minlength=len(targets))
    total = np.bincount(codes, weights=mass[use], minlength=len(targets))
    index = pd.Index(targets, name="target")
    return pd.Series(wref / total, index=index), pd.Series(total, index=index, name="mass")


def _drop_outside_main_block(kept: pd.DataFrame, cells: _KeptCells, disconnected: str,
                              diagnostics: ScalingSummary) -> tuple[list, list]:
    """Refuse a table that falls apart into blocks, or name the units outside the largest one.

    Returns the row and column units to leave out (none for a connected table); what is
    left out, in all and per block (units and pairs), goes to ``diagnostics.dropped_blocks``
    and to a warning, so a stray block is never lost silently.
    """
    blocks = connected_blocks(kept, cells.cells)
    if len(blocks) <= 1:
        return [], []
    if disconnected != "drop":
        raise CamsisError(
            "the table falls apart after blanking: " + describe_blocks(blocks)
            + " (set disconnected: drop to leave the smaller blocks out of the CA)"
        )
    per_block = []
    for block_rows, block_cols in blocks[1:]:
        # Blocks share no non-blanked pair, so every kept pair of a block's row lies in its columns.
        inside = cells.within(kept.index.get_indexer(block_rows), kept.columns.get_indexer(block_cols))
        per_block.append({"rows": [int(r) for r in block_rows], "columns": [int(c) for c in block_cols],
                          "pairs": int(round(cells.counts[inside].sum())),
                          "pairs_weighted": float(cells.weighted[inside].sum())})
    rows = [r for block in per_block for r in block["rows"]]
    cols = [c for block in per_block for c in block["columns"]]
    pairs = sum(block["pairs"] for block in per_block)
    diagnostics.dropped_blocks = {
        "blocks": len(per_block),
        "units": {"m": len(rows), "f": len(cols)},
        "rows": rows,
        "columns": cols,
        "pairs": pairs,
        "pairs_weighted": sum(block["pairs_weighted"] for block in per_block),
        "per_block": per_block,
    }
    each = f"; {', '.join(format(block['pairs'], ',') for block in per_block)} per block" if len(per_block) > 1 else ""
    message = (f"left {len(rows)} {PARTNERS_OF['m']} and {len(cols)} {PARTNERS_OF['f']} units outside the main block "
               f"out of the scale, with their {pairs:,} pairs{each} (imputed from their groups, flagged in "
               f"m_imputed/f_imputed): {describe_blocks(blocks)}")
    diagnostics.warn(message)
    return rows, cols


def _reconstituted(merged: pd.DataFrame, ca_blank: pd.DataFrame, row_map: pd.Series, col_map: pd.Series,
                   order: int, diagnostics: ScalingSummary) -> pd.DataFrame:
    """The merged table with its blanked cells filled (``blanked_cells: reconstitute``).

    A merged cell is missing when every unit cell merged into it is blanked; one that mixes
    blanked and kept unit cells keeps its kept pairs as observed. How the filling went goes
    to ``diagnostics.reconstitution``.
    """
    blanked = apply_merge(ca_blank.astype(float), row_map, col_map)
    cells = apply_merge(pd.DataFrame(1.0, index=ca_blank.index, columns=ca_blank.columns), row_map, col_map)
    missing = (blanked >= cells).reindex(index=merged.index, columns=merged.columns, fill_value=False)
    result = reconstitute(merged, missing, order=order)
    diagnostics.reconstitution = result.as_dict()
    log.info("blanked cells reconstituted (order %d): %d cells filled, %d passes, converged %s",
             order, result.filled, result.iterations, result.converged)
    diagnostics.warn(result.warning)
    return result.table


# Below this many pairs a table that blanking leaves without 2 rows or columns is first of all
# too small: more blanking advice would not help (two couples make no scale).
FEW_PAIRS = 100


def _check_ca_shape(row_totals: np.ndarray, column_totals: np.ndarray, stage: str, advice: str) -> None:
    """Refuse, naming the stage that caused it, a table with pairs in fewer than 2 rows or columns."""
    rows = int((np.asarray(row_totals) > 0).sum())
    cols = int((np.asarray(column_totals) > 0).sum())
    if rows < 2 or cols < 2:
        raise CamsisError(
            f"the CA needs pairs in at least 2 rows and 2 columns; {stage} only {rows} {PARTNERS_OF['m']} row(s) and "
            f"{cols} {PARTNERS_OF['f']} column(s) have any: {advice}"
        )


def _boundary_fallback(smoothed) -> pd.DataFrame:
    """With no unit variance, shrinkage would give every unit one score: keep each unit's own mean.

    ``esres`` becomes ``eps`` (lambda 1: no shrinkage), with the standard error of a mean,
    sigma_e / sqrt(n), n being the unit's frequency weight in the model (``n_model``, the
    limit of the posterior SD as shrinkage vanishes), not its unweighted count of pairs.
    """
    scores = smoothed.scores.copy()
    if "imputed" in scores:  # a group's posterior is its fixed part: left to the filling instead
        scores = scores[scores["imputed"] == 0].drop(columns="imputed")
    scores["esres"] = scores["eps"]
    scores["lambda"] = 1.0
    scores["esres_se"] = smoothed.summary["sigma_e"] / np.sqrt(scores["n_model"].where(scores["n_model"] > 0))
    return scores


def _fit_rc2(merged: pd.DataFrame, kept_open: pd.DataFrame, row_map: pd.Series, column_map: pd.Series,
             ca: CAResult, dimensions: int) -> RCResult:
    """The RC(M) model of the merged table, started from its CA.

    A merged cell is a structural zero when every unit cell in it is blanked; one open unit
    cell makes it an observed count (possibly 0). The CA's standard coordinates and singular
    values are the start when the CA kept at least M dimensions with inertia.
    """
    structural = apply_merge(kept_open.astype(float), row_map, column_map) <= 0
    sigma = np.sqrt(np.asarray(ca.eigenvalues[:dimensions], dtype=float))
    start = "ca"
    if len(sigma) == dimensions and (sigma > 0).all():
        # The CA's scores are principal coordinates; fit_rc wants standard ones (and keeps
        # only the scored rows, the same rows and columns the CA kept).
        start = (ca.row_scores.to_numpy()[:, :dimensions] / sigma, ca.column_scores.to_numpy()[:, :dimensions] / sigma, sigma)
    rc = fit_rc(merged, structural, n_dimensions=dimensions, start=start)
    if list(rc.row_scores.index) != list(ca.row_scores.index) or list(rc.column_scores.index) != list(ca.column_scores.index):
        raise AssertionError("the RC model and the CA scored different rows or columns of one table")
    return rc


class _KeptCells(NamedTuple):
    """The kept values of the cells that may hold pairs (``PairTable.cells``): the table's sums come from them."""

    cells: Cells
    weighted: np.ndarray  # blanked (and dropped) cells 0
    counts: np.ndarray  # the same in pairs

    def within(self, rows, columns) -> np.ndarray:
        """Which cells lie in one of ``rows`` and one of ``columns`` (positions)."""
        return np.isin(self.cells.rows, rows) & np.isin(self.cells.columns, columns)

    def totals(self, values: np.ndarray, shape: tuple) -> dict[str, np.ndarray]:
        """Side -> sums of ``values`` (one per cell) by row (m) and by column (f)."""
        return {"m": np.bincount(self.cells.rows, weights=values, minlength=shape[0]),
                "f": np.bincount(self.cells.columns, weights=values, minlength=shape[1])}


class _Kept(NamedTuple):
    """The cells the models see after blanking (and leaving out the smaller blocks)."""

    weighted: pd.DataFrame  # weighted pairs of the non-blanked cells, blanked and dropped cells 0
    open: pd.DataFrame  # cells the model may see: a zero there is a count, not a structural zero
    smooth_blank: pd.DataFrame  # the smoothing's mask, dropped blocks' units blanked too (so they are imputed)
    cells: Cells  # the table's cells that may hold pairs (PairTable.cells): the rest are zero in every table here
    pairs: dict  # side -> non-blanked pairs per unit (m: rows, f: columns; cells of a positive weight), Series
    mass: dict  # side -> weighted non-blanked pairs per unit, Series


class _Smoothing(NamedTuple):
    """The cells the smoothing models see, per side, and the unit table the fitted counts are those of."""

    cells: dict[str, SideCells]  # side -> its units' non-blanked cells (f: the table transposed)
    fit_table: pd.DataFrame

    @classmethod
    def of(cls, weighted: pd.DataFrame, counts: pd.DataFrame, blank: pd.DataFrame, fit_table: pd.DataFrame,
           cells=None, squares: pd.DataFrame | None = None) -> _Smoothing:
        rows = SideCells.from_frames(weighted, counts, blank, cells, squares)
        return cls({"m": rows, "f": rows.transposed()}, fit_table)


def _kept_table(table, ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame, disconnected: str,
                diagnostics: ScalingSummary) -> _Kept:
    """Step 1: the non-blanked cells, a table that falls apart refused or reduced to its main block.

    Units outside the main block (``disconnected: drop``) are left out of the smoothing too,
    so they are imputed from their groups and flagged.
    """
    # The dense kept table is framed once, without a copy; its sums come from the cells that may
    # hold pairs: pandas' ``where``, sums and copies of a by-status replicate's 1,236-unit-square
    # tables cost it more than its CA.
    blank = ca_blank.to_numpy(bool)
    weighted = table.weighted.to_numpy(float)
    all_counts = table.counts.to_numpy()
    table_cells = table.cells()
    open_at = ~table_cells.of(blank)
    cells = _KeptCells(table_cells, np.where(open_at, table_cells.of(weighted), 0.0),
                       np.where(open_at, table_cells.of(all_counts), 0))
    kept = pd.DataFrame(np.where(blank, 0.0, weighted), index=table.weighted.index, columns=table.weighted.columns,
                        copy=False)
    kept_open = ~ca_blank
    pairs_in_table = int(all_counts.sum())
    if pairs_in_table == 0:
        raise CamsisError(f"the table of {table.source} holds no pairs: nothing is left for the CA")
    too_few = f"{table.source} has only {pairs_in_table:,} pairs: far too few couples for a scale (it takes hundreds at least)"
    _check_ca_shape(all_counts.sum(axis=1), all_counts.sum(axis=0), "before any blanking",
                    too_few if pairs_in_table < FEW_PAIRS else "check that occ1 and occ2 (occ) name the occupation variables")
    if cells.weighted.sum() <= 0:
        raise CamsisError(f"every remaining pair in {table.source} is blanked: nothing is left for the CA"
                          + (f" ({too_few})" if pairs_in_table < FEW_PAIRS else ""))
    dropped_rows, dropped_cols = _drop_outside_main_block(kept, cells, disconnected, diagnostics)
    if dropped_rows or dropped_cols:
        kept, smooth_blank, kept_open = kept.copy(), smooth_blank.copy(), kept_open.copy()
        kept.loc[dropped_rows, :], kept.loc[:, dropped_cols] = 0.0, 0.0
        smooth_blank.loc[dropped_rows, :], smooth_blank.loc[:, dropped_cols] = True, True
        kept_open.loc[dropped_rows, :], kept_open.loc[:, dropped_cols] = False, False
        out = (np.isin(table_cells.rows, kept.index.get_indexer(dropped_rows))
               | np.isin(table_cells.columns, kept.columns.get_indexer(dropped_cols)))
        cells = cells._replace(weighted=np.where(out, 0.0, cells.weighted), counts=np.where(out, 0, cells.counts))
    # Pairs count where their cell keeps a positive weight (pairs of weight 0 carry no information).
    counts = np.where(cells.weighted > 0, cells.counts, 0)
    mass = cells.totals(cells.weighted, kept.shape)
    _check_ca_shape(mass["m"], mass["f"], "after blanking" + (" and leaving out the smaller blocks"
                                                              if dropped_rows or dropped_cols else ""),
                    too_few if pairs_in_table < FEW_PAIRS else "blank fewer cells")
    labels = {"m": kept.index, "f": kept.columns}
    # Sums of whole numbers of pairs: exact in float64, so back to int64 as pandas' sums gave them.
    pairs = {side: pd.Series(np.rint(total).astype(np.int64), index=labels[side])
             for side, total in cells.totals(counts, kept.shape).items()}
    return _Kept(kept, kept_open, smooth_blank, table_cells, pairs,
                 {side: pd.Series(total, index=labels[side]) for side, total in mass.items()})


def _merge_maps(pairs: dict, classification, options: ScaleOptions, diagnostics: ScalingSummary) -> dict:
    """Step 2: per side, the sparse-unit merge map (unit -> CA row or column), summarised and warned of.

    ``pairs`` are each side's non-blanked pairs per unit (``_Kept.pairs``). The
    classification's ``hierarchy`` keeps the chains the merge walks for the next side and replicate."""
    parents = classification.hierarchy
    maps = {}
    for side in SIDES:
        totals = pairs[side]
        maps[side] = merge_sparse_units(totals, parents, options.min_n, recodes=options.recodes)
        summary = summarise_merge(totals, maps[side], options.min_n, parents)
        diagnostics.merging[side] = summary.as_dict()
        diagnostics.warn(*merge_warnings(summary, SIDE_NAMES[side]))
    return maps


def _model_tables(table, kept: _Kept, ca_blank: pd.DataFrame, maps: dict, options: ScaleOptions,
                  diagnostics: ScalingSummary) -> tuple[pd.DataFrame, _Smoothing]:
    """Step 3: the merged table the models fit, and the table the smoothing sees.

    With ``blanked_cells: zero`` blanked cells count as zero in the models and are left out
    of the smoothing. With ``reconstitute`` the merged table's blanked cells are filled from
    the model, and the smoothing sees that fill as frequency weight (no pair of it counts
    in n, nor in a unit's effective sample size), so both stages see the table the CA saw.
    """
    merged = apply_merge(kept.weighted, maps["m"], maps["f"], kept.cells)
    _check_ca_shape(merged.sum(axis=1), merged.sum(axis=0), f"after sparse merging (min_n {options.min_n:g}{', hand recodes' if options.recodes else ''})",
                    "lower min_n (0 merges nothing) or give the classification groups of neighbouring categories")
    if options.blanked_cells == "zero":
        return merged, _Smoothing.of(table.weighted, table.counts, kept.smooth_blank, kept.weighted, kept.cells,
                                     table.weights_squared)
    if options.blanked_cells != "reconstitute":
        raise CamsisError(f"blanked_cells must be 'zero' or 'reconstitute', got '{options.blanked_cells}'")
    merged = _reconstituted(merged, ca_blank, maps["m"], maps["f"], options.reconstitution_order, diagnostics)
    fitted = unit_fitted(merged, kept.weighted, maps["m"], maps["f"], options.reconstitution_order)
    smoothing = _Smoothing.of(
        weighted=table.weighted.where(~kept.smooth_blank, fitted),
        counts=table.counts.where(~kept.smooth_blank, 0.0),
        blank=kept.smooth_blank & False,
        fit_table=kept.weighted.where(~ca_blank, fitted),
        squares=table.weights_squared,  # the fill holds no pairs, so no squared weight (SideCells.from_frames)
    )
    return merged, smoothing


def _fitted_models(merged: pd.DataFrame, kept: _Kept, maps: dict, classification, options: ScaleOptions,
                   diagnostics: ScalingSummary) -> tuple[CAResult, RCResult | None]:
    """Step 4: the CA (and, for ``estimator: rc2``, the RC model), dimension chosen and oriented.

    Both go through ``choose_dimension`` against the classification's reference measure;
    their figures go to ``diagnostics.ca`` and ``diagnostics.rc2``, and a warning of the
    estimator's own model to ``diagnostics.warnings``.
    """
    ca = correspondence_analysis(merged, n_components=options.n_components)
    measure = options.reference_measure or classification.reference_measure
    if measure not in classification.frame.columns:
        raise CamsisError(f"reference measure '{measure}' is not a column of classification {classification.name}")
    reference = classification.frame[measure].astype(float)
    row_ref, row_mass = _reference_for(kept.mass["m"], maps["m"], reference)
    col_ref, col_mass = _reference_for(kept.mass["f"], maps["f"], reference)
    ca = choose_dimension(ca, row_ref, col_ref, row_mass, col_mass)
    if ca.warning and options.estimator == "ca":
        diagnostics.warnings.append(f"{ca.warning} (reference measure: {measure})")
    diagnostics.ca = CASummary(
        **CASummary.chosen(ca),
        # Listed by the CA's own dimension numbers, not the chosen order.
        inertia={f"dim{d}": float(x) for d, x in sorted(zip(ca.order, ca.inertia))},
        total_inertia=float(ca.total_inertia),
        reference_measure=measure,
        units_in_ca={"m": int(len(ca.row_scores)), "f": int(len(ca.column_scores))},
        blanked_cells=options.blanked_cells,
    )
    if options.estimator != "rc2":
        return ca, None
    rc = _fit_rc2(merged, kept.open, maps["m"], maps["f"], ca, options.rc_dimensions)
    if not rc.converged:
        diagnostics.warnings.append(rc.warning)
    # The same direction checks as the CA's: the RC scores are what the scale is built from.
    rc = choose_dimension(rc, row_ref, col_ref, row_mass, col_mass, model="RC")
    if rc.warning:
        diagnostics.warnings.append(f"{rc.warning} (reference measure: {measure})")
    diagnostics.rc2 = RCSummary(
        **rc.summary(),
        **RCSummary.chosen(rc),
        dimensions=int(options.rc_dimensions),
        start=rc.start,
        blanked_cells=int(rc.blanked.to_numpy().sum()),
    )
    return ca, rc


def _unit_raw_scores(model: CAResult | RCResult, maps: dict, side_weights: pd.Series,
                     summary: DimensionSummary) -> dict[str, pd.DataFrame]:
    """Step 5: each side's raw scores per unit (merged units share their group's), and how the sides agree.

    ``summary.male_female_correlation`` gets the weighted correlation of a unit's two sides
    on the chosen dimension.
    """
    raw = {"m": expand_scores(model.row_scores, maps["m"]), "f": expand_scores(model.column_scores, maps["f"])}
    summary.male_female_correlation = sides_correlation(raw["m"]["dim1"], raw["f"]["dim1"], side_weights)
    return raw


def _smoothed(smoothing: _Smoothing, partner_raw: pd.Series, side: str, dim: str, options: ScaleOptions,
              diagnostics: ScalingSummary, hierarchy: UnitHierarchy | None = None):
    """Step 6 for one side and dimension: the ESRES smoothing, unshrunk (with a warning) at a boundary fit.

    Side m's units are the table's rows, smoothed on their partners' (f's) raw scores; f
    is smoothed on the transposed table.
    """
    smoothed = smoothing.cells[side].smooth(partner_raw, reml=options.reml, hierarchy=hierarchy)
    if smoothed.summary.get("boundary"):
        message = (f"no {SIDE_NAMES[side]} unit variance in the smoothing model of {options.estimator.upper()} "
                   f"dimension {dim[-1]} (boundary fit): each unit keeps the mean of its partners' scores, unshrunk")
        diagnostics.warn(message)
        smoothed.scores = _boundary_fallback(smoothed)
    return smoothed


def _own_pairs_se(on_units: pd.DataFrame, summary: dict) -> pd.Series:
    """The part of a smoothed score's error due to the unit's own pairs: lambda sigma_e / sqrt(n_model).

    The score moves by lambda times its own pairs' mean error (``camsis.scaling.uncertainty.total_standard_errors``
    takes it out of the bootstrap's spread); NaN for a unit without pairs in the model.
    """
    n_model = on_units["n_model"].where(on_units["n_model"] > 0)
    return on_units["lambda"] * summary["sigma_e"] / np.sqrt(n_model)


def _side_scores(smoothing: _Smoothing, raw: dict, ca_raw: dict, population: pd.DataFrame, classification,
                 options: ScaleOptions, diagnostics: ScalingSummary) -> pd.DataFrame:
    """Steps 6-7: each side smoothed on its partners' raw scores, missing units imputed, standardised.

    The columns are those ``UnitScores.scores`` lists, in the order the unit file has them.
    """
    units = pd.Index(classification.units, name="unit")
    hierarchy = UnitHierarchy.of(classification, options.smoothing_levels) if options.smoothing == "nested" else None
    # Columns gathered as arrays in the units' order and framed once: inserting them one by one,
    # or reindexing each, cost a replicate ~10 ms.
    columns: dict[str, np.ndarray] = {}
    for dim, suffix in (("dim1", ""), ("dim2", "2"))[: 2 if options.second_dimension else 1]:
        if dim not in raw["m"].columns:
            for side in SIDES:  # the second dimension of an RC(1) model: nothing to publish
                columns[f"{side}camsis{suffix}"] = np.full(len(units), np.nan)
            continue
        for side in SIDES:
            smoothed = _smoothed(smoothing, raw[other(side)][dim], side, dim, options, diagnostics, hierarchy)
            on_units = smoothed.scores.reindex(units)
            imputed, source = impute_missing_units(on_units["esres"], population[side], classification)
            if "imputed" in on_units:  # units the nested smoothing gave their group's posterior
                source = source.where(on_units["imputed"].fillna(0).to_numpy() == 0,
                                      on_units["imputed"].fillna(0).astype(np.int64).to_numpy())
            standard = fit_standardisation(imputed, population[side], options.mean, options.sd, tuple(options.clip))
            columns[f"{side}camsis{suffix}"] = standard.scores(imputed).to_numpy()
            if suffix:
                continue
            columns[f"{side}cam_se"] = standard.standard_errors(on_units["esres_se"]).to_numpy()
            columns[f"n_{side}"] = on_units["n"].fillna(0.0).to_numpy()
            columns[f"{side}_imputed"] = source.to_numpy()
            columns[f"{side}_raw"] = raw[side][dim].reindex(units).to_numpy()
            columns[f"{side}_lambda"] = on_units["lambda"].to_numpy()
            columns[f"{side}_own_se"] = standard.standard_errors(_own_pairs_se(on_units, smoothed.summary)).to_numpy()
            diagnostics.smoothing[side] = smoothed.summary
    for side in SIDES:
        for dim, suffix in (("dim1", ""), ("dim2", "2")):
            if dim in ca_raw[side].columns:
                columns[f"{side}_ca{suffix}"] = ca_raw[side][dim].reindex(units).to_numpy()
    return pd.DataFrame(columns, index=units)


def build_unit_scores(table, ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame, classification, options: ScaleOptions) -> UnitScores:
    """Stages 4-7: merge sparse units, fit the CA (or RC model), choose the dimension, smooth, standardise.

    Each step is a function of its own, in order: ``_kept_table``, ``_merge_maps``,
    ``_model_tables``, ``_fitted_models``, ``_unit_raw_scores``, ``_side_scores``; a user
    hears (``diagnostics.warnings``) of every choice made for them on the way.

    Parameters
    ----------
    table : camsis.method.pairtable.PairTable
        The occ1 x occ2 table of the input.
    ca_blank, smooth_blank : DataFrame of bool
        Cells left out of the CA and of the smoothing (``camsis.method.blanking``).
    classification : camsis.classifications.classification.Classification
        Units, groups (for merging and imputing) and the reference measure.
    options : ScaleOptions
        The build's choices.

    Returns
    -------
    UnitScores
        Scores of every unit of the classification, with the fit behind them.
    """
    diagnostics = ScalingSummary()
    kept = _kept_table(table, ca_blank, smooth_blank, options.disconnected, diagnostics)
    maps = _merge_maps(kept.pairs, classification, options, diagnostics)
    merged, smoothing = _model_tables(table, kept, ca_blank, maps, options, diagnostics)
    ca, rc = _fitted_models(merged, kept, maps, classification, options, diagnostics)
    side_weights = pd.Series(kept.mass["m"].to_numpy() + kept.mass["f"].to_numpy(), index=kept.weighted.index)
    ca_raw = _unit_raw_scores(ca, maps, side_weights, diagnostics.ca)
    raw = ca_raw if rc is None else _unit_raw_scores(rc, maps, side_weights, diagnostics.rc2)

    weighted = table.weighted.to_numpy()
    population = pd.DataFrame({"m": weighted.sum(axis=1), "f": weighted.sum(axis=0)}, index=table.weighted.index.rename(None))
    scores = _side_scores(smoothing, raw, ca_raw, population, classification, options, diagnostics)
    # The two sides of one unit should rise together: a scale whose husbands' and wives'
    # scores point opposite ways is built, and said to be (of the estimator's own raw scores).
    scale_agreement = sides_correlation(scores["mcamsis"], scores["fcamsis"], population["m"] + population["f"])
    diagnostics.male_female_correlation = scale_agreement
    model = diagnostics.model
    diagnostics.warn(sides_warning(model.male_female_correlation, scale_agreement, model.chosen_row_correlation,
                                   model.chosen_column_correlation, model="CA" if rc is None else "RC"))
    fit = CAFit(kept=smoothing.fit_table, row_map=maps["m"], column_map=maps["f"], ca=ca, rc=rc)
    return UnitScores(scores=scores, population=population, diagnostics=diagnostics, fit=fit)

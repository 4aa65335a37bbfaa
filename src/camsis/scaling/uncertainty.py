"""Uncertainty of a scale: bootstrap replicates of the couples, their summaries, plausible values.

A replicate resamples the couples with replacement. Since every later stage works on the
occ1 x occ2 table, resampling n couples is exactly a multinomial draw of n pairs over the
cells with probabilities count_ij / n, so a replicate never touches the microdata. The
replicate is then rebuilt through the same stages as the scale itself
(camsis.scaling.scale.build_unit_scores: merging, CA, dimension choice and orientation by the
reference measure, smoothing, standardisation), so its spread is the whole pipeline's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from camsis.classifications.statuses import split
from camsis.errors import CamsisError
from camsis.method.correlation import pearson
from camsis.method.filling import fill_groups
from camsis.method.pairtable import PairTable
from camsis.scaling.by_status import build_on_status_units, status_unit_inputs
from camsis.scaling.scale import build_unit_scores
from camsis.vocabulary import SEX_CODES, SIDES

log = logging.getLogger("camsis.scaling.uncertainty")

# Replicates whose scores correlate less than this with the scale's own suggest a
# different dimension or sign was chosen: they are reported.
DISAGREEMENT = 0.5
# The 95% interval of the score files: score -/+ this many total SEs (normal quantile 0.975).
INTERVAL_Z = 1.959963984540054
# Column of a batch's rows: units its replicate left out, its redrawn table having fallen apart.
LEFT_OUT = "units_left_out"


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    """The generator of replicate ``replicate``: independent streams from one seed, any order of jobs."""
    return np.random.default_rng([int(seed), int(replicate)])


class CoupleDraw:
    """Bootstrap draws of the couples behind one table: what every redraw shares, worked out once.

    A draw is ``n = table.used`` pairs over all cells (blanked ones included: the masks stay
    fixed) with probabilities proportional to the unweighted counts, i.e. every couple is
    equally likely, as in resampling the rows. Each drawn pair carries its cell's mean
    weight, so the expected weighted table is the observed one (drawing with probabilities
    proportional to the weighted counts would count the weights twice).

    Only the cells with pairs can be drawn, so only they enter the multinomial (a table is
    mostly empty cells); a cell of probability 0 takes no random number, so the draw is the
    one over every cell, number for number (``sentinel``: the multinomial gives its last
    category the remainder without a draw, so when the table's last cell is empty an empty
    category closes the list, as that cell did).

    Calling the object with a generator (``replicate_rng(seed, r)``) returns the replicate's
    table; ``drawn_counts`` returns the counts of the cells with pairs only.

    Attributes
    ----------
    table : PairTable
        The observed table.
    cells : ndarray
        Flat positions of its cells with pairs (a replicate's table carries them as its
        ``support``).
    n : int
        Pairs drawn: the observed table's.
    probabilities : ndarray
        Each cell's share of the pairs (and the closing empty category, if any).
    mean_weight : ndarray
        Each cell's weighted pairs over its pairs.
    mean_square : ndarray or None
        Each cell's sum of squared weights over its pairs (survey weights only, see
        ``PairTable.weights_squared``): a drawn pair carries it as it carries its mean weight.
    """

    def __init__(self, table: PairTable):
        counts = table.counts.to_numpy(dtype=np.int64)
        self.table = table
        self.shape = counts.shape
        self.cells = np.flatnonzero(counts)
        self.n = int(counts.sum())
        flat = counts.ravel()[self.cells].astype(np.float64)
        sentinel = [0.0] if len(self.cells) and self.cells[-1] != counts.size - 1 else []
        self.probabilities = np.concatenate([flat / counts.sum(), sentinel])
        weighted = table.weighted.to_numpy(dtype=np.float64).ravel()[self.cells]
        self.mean_weight = weighted / flat
        squares = table.weights_squared
        self.mean_square = None if squares is None else squares.to_numpy(dtype=np.float64).ravel()[self.cells] / flat

    def drawn_counts(self, rng: np.random.Generator) -> np.ndarray:
        """Pairs drawn in each cell with pairs (in the order of ``cells``)."""
        return rng.multinomial(self.n, self.probabilities)[: len(self.cells)]

    def __call__(self, rng: np.random.Generator) -> PairTable:
        return self.table_of(self.drawn_counts(rng))

    def table_of(self, drawn: np.ndarray) -> PairTable:
        """The replicate's table: ``drawn`` pairs in the cells with pairs, each at its cell's mean weight."""
        table = self.table
        return PairTable(
            weighted=self._on_cells(drawn * self.mean_weight),
            counts=self._on_cells(np.asarray(drawn, dtype=np.int64)),
            read=table.read,
            used=int(drawn.sum()),
            dropped=dict(table.dropped),
            source=f"{table.source} (bootstrap replicate)",
            support=self.cells,
            weights_squared=None if self.mean_square is None else self._on_cells(drawn * self.mean_square),
        )

    def _on_cells(self, values: np.ndarray) -> pd.DataFrame:
        """A table labelled as the observed one, ``values`` in its cells with pairs and 0 elsewhere."""
        full = np.zeros(self.shape, dtype=values.dtype)
        full.ravel()[self.cells] = values
        # copy=False: pandas would copy each new 1,236-unit-square array of a by-status replicate.
        return pd.DataFrame(full, index=self.table.counts.index, columns=self.table.counts.columns, copy=False)


class StatusDraw(CoupleDraw):
    """Bootstrap draws of the (occupation, status) table: the same couples as the title-only draw.

    The by-status pairs are the title-only table's pairs that have a scored status on both
    sides, so every couple sits in one occupation cell of ``title`` and, if its statuses are
    known, in one (occupation, status) cell of ``table`` inside it. The draw is made in two
    steps: first exactly the title-only replicate's draw (``CoupleDraw(title)``, the same
    stream, so replicate r of the title-only and of the by-status bootstrap resample the
    same couples), then each occupation cell's drawn couples are spread over its status cells
    and its couples without a status by a multinomial with their observed shares. A couple
    drawn with replacement from a cell is a uniform pick of that cell's couples, so the two
    steps together are one multinomial draw of n couples over the status cells (the
    conditional property of the multinomial), i.e. rows resampled as in ``CoupleDraw``.
    Each drawn pair carries its status cell's mean weight.

    Parameters
    ----------
    title : PairTable
        The title-only table of the same pairs (occupation units).
    table : PairTable
        The by-status table: units are combined codes ``occupation * 10 + status``.

    Attributes
    ----------
    title : CoupleDraw
        The title-only draw.
    occupation_cells : ndarray
        Where the occupation cells holding status cells sit among ``title.cells``.
    shares : ndarray
        Occupation cells x (status pairs, then "no scored status"): the observed shares.
    slots : ndarray
        Each status cell's flat position in that array.
    """

    def __init__(self, title: PairTable, table: PairTable):
        super().__init__(table)
        self.title = CoupleDraw(title)
        counts = table.counts.to_numpy(dtype=np.int64)
        occupations, partners = title.counts.index, title.counts.columns
        rows_occ, rows_status = split(table.counts.index)
        cols_occ, cols_status = split(table.counts.columns)
        ro, co = occupations.get_indexer(rows_occ), partners.get_indexer(cols_occ)
        if (ro < 0).any() or (co < 0).any():
            raise CamsisError("the by-status table names occupations the title-only table lacks: not built from the same pairs")
        statuses = np.unique(np.concatenate([rows_status, cols_status]))
        k = len(statuses)
        # The status cells with pairs (self.cells): their occupation cell and their slot within it.
        r, c = np.divmod(self.cells, counts.shape[1])
        cell = ro[r] * len(partners) + co[c]
        slot = np.searchsorted(statuses, rows_status[r]) * k + np.searchsorted(statuses, cols_status[c])
        occupation_cells, which = np.unique(cell, return_inverse=True)
        inside = np.zeros((len(occupation_cells), k * k + 1), dtype=np.int64)
        inside[which, slot] = counts.ravel()[self.cells]
        # Flat positions in the occupation cells x slots array (picking by flat position is ten
        # times faster than by row and column, and every replicate picks all the status cells).
        self.slots = which.ravel() * inside.shape[1] + slot
        observed = title.counts.to_numpy(dtype=np.int64).ravel()[occupation_cells]
        inside[:, -1] = observed - inside[:, :-1].sum(axis=1)  # the cell's couples without a scored status
        if (inside[:, -1] < 0).any():
            i, j = np.divmod(occupation_cells[np.argmax(inside[:, -1] < 0)], len(partners))
            raise CamsisError(f"the by-status table holds more pairs than the title-only table in cell "
                              f"({occupations[i]}, {partners[j]}): not built from the same pairs")
        # Where the occupation cells sit among the title-only cells with pairs (every one has pairs).
        self.occupation_cells = np.searchsorted(self.title.cells, occupation_cells)
        self.shares = inside / observed[:, None]

    def drawn_counts(self, rng: np.random.Generator) -> np.ndarray:
        return self.spread(self.title.drawn_counts(rng), rng)

    def spread(self, drawn_title: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The status cells' pairs (in the order of ``cells``), given the title-only draw's (``self.title.drawn_counts``).

        ``rng`` goes on from the title-only draw. Only the occupation cells with drawn
        couples enter the multinomial: a row of none takes no random number, so the draw is
        the same as over every row.
        """
        couples = drawn_title[self.occupation_cells]
        drawn = couples > 0
        spread = np.zeros(self.shares.shape, dtype=np.int64)
        spread[drawn] = rng.multinomial(couples[drawn], self.shares[drawn])
        return np.take(spread, self.slots)


def resample_table(table: PairTable, rng: np.random.Generator) -> PairTable:
    """One bootstrap draw of the couples behind ``table``, as a table of the same shape (``CoupleDraw``).

    A batch of replicates makes the ``CoupleDraw`` once and calls it for each.
    """
    return CoupleDraw(table)(rng)


def resample_by_status(title: PairTable, table: PairTable, rng: np.random.Generator) -> PairTable:
    """One bootstrap draw of the (occupation, status) table: the same couples as the title-only draw (``StatusDraw``)."""
    return StatusDraw(title, table)(rng)


def fill_replicates(values: dict, population: dict, numbers: Sequence[int], classification,
                    left_out: Sequence[int] | None = None) -> pd.DataFrame:
    """Long table of every code's m and f score in each replicate: code, replicate, mcamsis, fcamsis.

    ``values[side]`` and ``population[side]`` are units x replicates arrays (units in the
    order of ``classification.units``, one column per entry of ``numbers``): the replicate's
    unit scores and its people per unit. Groups are weighted by each replicate's own people
    (``camsis.method.filling.fill_groups``), all replicates in one matrix product. Rows go
    replicate by replicate, codes in the classification's order. ``left_out`` (one per
    replicate) adds the column ``units_left_out``: units of a replicate whose redrawn table
    fell apart, left out of its CA and imputed (``fallen_apart`` reads it).
    """
    codes = classification.frame.index.to_numpy()
    numbers = np.asarray(numbers, dtype=np.int64)
    columns = {"code": np.tile(codes, len(numbers)), "replicate": np.repeat(numbers, len(codes))}
    for side in SIDES:
        filled = fill_groups(np.asarray(values[side], dtype=float), np.asarray(population[side], dtype=float),
                             classification)
        columns[f"{side}camsis"] = filled.T.ravel()
    if left_out is not None:
        columns[LEFT_OUT] = np.repeat(np.asarray(left_out, dtype=np.int64), len(codes))
    return pd.DataFrame(columns)


def fallen_apart(long: pd.DataFrame) -> dict[int, int]:
    """Replicate -> units left out, for the replicates of ``long`` whose redrawn table fell apart.

    Batches written before the column existed left nothing out.
    """
    if LEFT_OUT not in long.columns:
        return {}
    per_replicate = long.groupby("replicate")[LEFT_OUT].max()
    return {int(r): int(n) for r, n in per_replicate[per_replicate > 0].items()}


def fill_replicate(unit_scores, classification) -> pd.DataFrame:
    """Every code's m and f score in one replicate: units as scored, groups weighted by that replicate's people.

    Parameters
    ----------
    unit_scores : camsis.scaling.scale.UnitScores
        A replicate's (or the scale's) unit scores, e.g. ``UnitScores.load`` of its file.
    classification : camsis.classifications.classification.Classification

    Returns
    -------
    DataFrame
        Indexed by code, columns ``mcamsis``, ``fcamsis``.
    """
    return gather_replicates([unit_scores], classification).set_index("code")[[f"{side}camsis" for side in SIDES]]


def gather_replicates(replicates: Sequence, classification) -> pd.DataFrame:
    """Long table of every code's scores in every replicate: code, replicate (1..B), mcamsis, fcamsis.

    ``replicates`` are ``camsis.scaling.scale.UnitScores`` (scores and population per unit), numbered 1..B in order.
    """
    units = classification.units
    values = {side: np.column_stack([replicate.scores[f"{side}camsis"].reindex(units).to_numpy(dtype=float)
                                     for replicate in replicates]) for side in SIDES}
    population = {side: np.column_stack([replicate.population[side].reindex(units).fillna(0.0).to_numpy(dtype=float)
                                         for replicate in replicates]) for side in SIDES}
    return fill_replicates(values, population, range(1, len(replicates) + 1), classification)


class _ReplicateScores:
    """Each unit's scores and people in every replicate of a batch, as units x replicates arrays."""

    def __init__(self, classification, replicates: Sequence[int]):
        self.classification, self.replicates = classification, list(replicates)
        self.units = pd.Index(classification.units)
        shape = (len(self.units), len(self.replicates))
        self.values = {side: np.empty(shape) for side in SIDES}
        self.population = {side: np.empty(shape) for side in SIDES}
        self.left_out = np.zeros(len(self.replicates), dtype=np.int64)

    def add(self, column: int, built) -> None:
        """Replicate ``self.replicates[column]``'s build (``camsis.scaling.scale.UnitScores``)."""
        for side in SIDES:
            self.values[side][:, column] = built.scores[f"{side}camsis"].reindex(self.units).to_numpy(dtype=float)
            self.population[side][:, column] = built.population[side].reindex(self.units).fillna(0.0).to_numpy(dtype=float)
        dropped = built.diagnostics.dropped_blocks
        self.left_out[column] = sum(dropped["units"].values()) if dropped else 0

    def long(self) -> pd.DataFrame:
        """Every code's scores in each replicate (``fill_replicates``), with the units each left out."""
        return fill_replicates(self.values, self.population, self.replicates, self.classification, self.left_out)


def _row_major(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` over a row-major copy of its values, for the masks every replicate reads.

    pandas keeps a frame's values column by column, and a replicate picks its cells out of
    the masks row by row: across the grain every pick is a cache miss, a few milliseconds
    a replicate on a by-status table, so the batch turns its masks once.
    """
    return pd.DataFrame(np.ascontiguousarray(frame.to_numpy()), index=frame.index, columns=frame.columns, copy=False)


def _replicate_inputs(ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame, options):
    """The masks (row-major) and options of a batch's builds.

    A replicate keeps the first dimension only, and is built with ``disconnected: drop``
    (a connected table is unchanged by it; the scale's own build has refused a table that
    falls apart, if so asked): a redraw that misses the few pairs joining a unit or two to
    the rest leaves them in a block of their own, a chance of the draw, not a fault of the
    data. They are left out of that replicate's CA and imputed from their groups, as the
    scale does with ``disconnected: drop``, and counted (``fallen_apart``).
    """
    return _row_major(ca_blank), _row_major(smooth_blank), replace(options, second_dimension=False, disconnected="drop")


def _rebuilt(number: int, seed: int, build, kind: str = ""):
    """``build()``, its error (if any) naming the replicate that failed; a replicate fallen apart is logged."""
    try:
        built = build()
    except CamsisError as error:
        raise CamsisError(f"bootstrap replicate {number} (seed {seed}): {error}") from None
    dropped = built.diagnostics.dropped_blocks
    if dropped:
        log.warning("%sbootstrap replicate %d fell apart into blocks: husbands' units %s and wives' units %s "
                    "(%d pairs) left out of its CA and imputed from their groups",
                    kind, number, dropped["rows"], dropped["columns"], dropped["pairs"])
    return built


def bootstrap_batch(table: PairTable, ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame, classification, options,
                    replicates: Sequence[int], seed: int) -> pd.DataFrame:
    """Draw and rebuild the replicates numbered ``replicates`` in one process; every code's scores in each.

    Takes what the scale's own build takes and calls ``camsis.scaling.scale.build_unit_scores``
    with the same masks, classification and options, so a replicate repeats exactly what
    the scale does (but for the second dimension, which a replicate does not keep).
    Replicate r draws from ``replicate_rng(seed, r)`` whichever batch it is in, so the
    results do not depend on how the B replicates are cut into batches or where the
    batches run. The batch pays once for what every replicate shares (starting Python,
    the imports, reading the table, masks and classification, the classification's group
    structure, the table's cells: ``CoupleDraw``) and fills the groups of all its
    replicates in one matrix product.

    Returns the rows of ``fill_replicates`` (code, replicate, mcamsis, fcamsis,
    units_left_out) for these replicates. A replicate whose redrawn table falls apart is
    built without its smaller blocks (``_replicate_inputs``) and logged; one whose build
    fails otherwise stops the batch, naming the replicate.
    """
    draw = CoupleDraw(table)
    ca_blank, smooth_blank, options = _replicate_inputs(ca_blank, smooth_blank, options)
    scores = _ReplicateScores(classification, replicates)
    with _one_blas_thread():
        for column, number in enumerate(replicates):
            drawn = draw(replicate_rng(seed, number))
            scores.add(column, _rebuilt(number, seed, lambda: build_unit_scores(drawn, ca_blank, smooth_blank,
                                                                                classification, options)))
            log.info("bootstrap replicate %d rebuilt", number)
    return scores.long()


def bootstrap_batch_by_status(title: PairTable, table: PairTable, ca_blank: pd.DataFrame, smooth_blank: pd.DataFrame,
                              classification, scheme, options, replicates: Sequence[int],
                              seed: int, *, with_title: bool = True) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The title-only and the by-status replicates numbered ``replicates``, drawn and rebuilt together.

    Replicate r of the by-status bootstrap resamples the same couples as replicate r of the
    title-only one (``StatusDraw``: the title-only draw, then each occupation cell's couples
    spread over its statuses, from the same stream), so one process draws the couples once
    and rebuilds both: the title-only scale as ``bootstrap_batch`` does (the same numbers),
    the by-status one as rule score_units does by status
    (``camsis.scaling.by_status.build_by_status_scores`` with the occupation masks and
    classification), so its spread is the whole by-status pipeline's (merging, CA, sharing,
    smoothing, standardising). A scale built with statuses runs one job per batch, not two.

    A replicate whose table falls apart into blocks is built with ``disconnected: drop``,
    as in ``bootstrap_batch`` (a connected one is unchanged by it): the sparse status cells
    of a redraw often leave a unit or two whose only pairs are with each other, units the
    scale pools with their occupation anyway; they are left out of that replicate's CA and
    take their group's score, as an empty status does. Each such replicate is logged as a
    warning naming the units, and counted in the rows (``units_left_out``).

    ``with_title=False`` skips the title-only rebuilds (the workflow's title-only replicates
    come from their own job, rule bootstrap_batch, from the same streams): the by-status
    replicates are the same either way, the draw of the couples being made in full.

    Returns
    -------
    title_long : DataFrame or None
        ``bootstrap_batch``'s rows: every code of ``classification`` in each replicate
        (None with ``with_title=False``).
    status_long : DataFrame
        Code (combined code), replicate, mcamsis, fcamsis of the (occupation, status) units
        only: the by-status file's other rows (status 0, groups) are the title-only scale's.
    """
    ca_blank, smooth_blank, options = _replicate_inputs(ca_blank, smooth_blank, options)
    # expand_mask makes the by-status masks row-major already
    inputs = status_unit_inputs(ca_blank, smooth_blank, classification, scheme, options)
    draw = StatusDraw(title, table)
    title_scores = _ReplicateScores(classification, replicates)
    status_scores = _ReplicateScores(inputs.classification, replicates)

    with _one_blas_thread():
        for column, number in enumerate(replicates):
            rng = replicate_rng(seed, number)
            couples = draw.title.drawn_counts(rng)
            if with_title:
                title_table = draw.title.table_of(couples)
                title_scores.add(column, _rebuilt(number, seed, lambda: build_unit_scores(
                    title_table, ca_blank, smooth_blank, classification, options)))
            status_table = draw.table_of(draw.spread(couples, rng))
            status_scores.add(column, _rebuilt(number, seed, lambda: build_on_status_units(status_table, inputs),
                                               kind="by-status "))
            log.info("bootstrap replicate %d rebuilt%s", number, ", title-only and by status" if with_title else " by status")
    status_long = status_scores.long()
    return title_scores.long() if with_title else None, status_long[status_long["code"].isin(inputs.classification.units)].reset_index(drop=True)


def _one_blas_thread():
    """BLAS on one thread while the replicates run: a batch is one job on one core, and on a
    busy machine a second BLAS thread spinning for the small matrices of a replicate made a
    CA several times slower."""
    return threadpool_limits(limits=1, user_api="blas")


def batches(replicates: int, size: int) -> list[range]:
    """Replicates 1..B cut into consecutive batches of at most ``size`` (the last may be smaller)."""
    if replicates < 0 or size < 1:
        raise CamsisError(f"bootstrap batches need B >= 0 and a batch size >= 1, not B {replicates}, size {size}")
    return [range(start, min(start + size, replicates + 1)) for start in range(1, replicates + 1, size)]


def combine_batches(parts: Sequence[pd.DataFrame], replicates: int) -> pd.DataFrame:
    """The batches' rows as one long table ordered by replicate, checked to hold replicates 1..B once each.

    The batches may come in any order (they are separate jobs); within a replicate the codes
    keep the classification's order.
    """
    long = pd.concat(parts, ignore_index=True).sort_values("replicate", kind="stable").reset_index(drop=True)
    found = long.groupby("replicate", sort=True)["code"].size()
    expected = np.arange(1, replicates + 1)
    twice = long.duplicated(["replicate", "code"])
    if not np.array_equal(found.index.to_numpy(), expected) or found.nunique() > 1 or twice.any():
        missing = sorted(int(r) for r in set(expected) - set(found.index))
        extra = sorted(int(r) for r in set(found.index) - set(expected))
        repeated = sorted({int(r) for r in long.loc[twice, "replicate"]})
        raise CamsisError(f"bootstrap batches do not hold replicates 1..{replicates} once each "
                          f"(missing {missing[:10]}, unexpected {extra[:10]}, repeated {repeated[:10]})")
    return long


def bootstrap_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per code: bootstrap SE (SD over replicates, ddof 1) for m and f, and the number of replicates.

    Columns ``mcam_bse``, ``fcam_bse`` and ``replicates``, indexed by code. No percentile
    interval: a replicate shrinks a small unit as far as the scale did, so the replicates'
    spread misses the shrinkage's bias (covered 69-89% in validation); ``add_total_errors``
    gives the interval from the total SE.
    """
    grouped = long.groupby("code")
    out = pd.DataFrame(index=pd.Index(sorted(long["code"].unique()), name="code"))
    for side in SIDES:
        out[f"{side}cam_bse"] = grouped[f"{side}camsis"].std(ddof=1)
    out["replicates"] = grouped["replicate"].nunique()
    return out


def total_standard_errors(bse, se, shrinkage, own=None):
    """The error of a smoothed score from every source: the model's posterior SD and the bootstrap's spread.

    The model-based SE (``se``, the posterior SD of the random effect) is conditional on the
    partners' scores, the variance ratio and the standardisation, all estimated; the
    bootstrap SE (``bse``) is the spread of the estimate over resampled couples, which holds
    those errors but not the shrinkage's bias (a redraw shrinks a small unit as far). The
    total variance (Laird and Louis' bootstrap for empirical Bayes: expected posterior
    variance plus the variance of the posterior mean) is

        tse^2 = se^2 + max(0, bse^2 - lambda * se^2)

    since the part of ``bse^2`` due to the unit's own pairs is lambda^2 s2_e / n =
    lambda * se^2 (se^2 = s2_u (1 - lambda) = lambda s2_e / n), already in the posterior
    variance. A large unit (lambda near 1) gets about the larger of ``se`` and ``bse``, a
    unit with a few pairs (lambda near 0) about the prior SD with the model's own error
    added. A unit with a model SE but no shrinkage factor (no pairs of its own: the nested
    smoothing gives it its group's posterior) has lambda 0; where there is no model SE
    (groups) it is ``bse``.

    With the nested smoothing the posterior variance also holds the group effects'
    uncertainty, so ``lambda * se^2`` overstates the own pairs' part; ``own`` (the unit
    file's ``{s}_own_se``: lambda sigma_e / sqrt(n), on the metric) gives it exactly, and is
    the same as ``sqrt(lambda) * se`` for the one-level model.

    Parameters
    ----------
    bse, se, shrinkage : Series
        Bootstrap SE, model-based SE (same metric) and shrinkage factor lambda, on one index;
        ``se`` missing where the code has no model-based SE, ``shrinkage`` where the unit has no pairs.
    own : Series, optional
        The own pairs' SE where known (missing: ``lambda * se^2`` is used).

    Returns
    -------
    Series
        ``tse`` on the index of ``bse``.
    """
    b, m, lam = (np.asarray(x, dtype=float) for x in (bse, se, shrinkage))
    lam = np.where(np.isfinite(lam), lam, 0.0)  # no pairs of its own: nothing of bse is its own pairs'
    own_var = lam * np.square(m)
    if own is not None:
        own = np.asarray(own, dtype=float)
        own_var = np.where(np.isfinite(own), np.square(own), own_var)
    total = np.sqrt(np.square(m) + np.maximum(0.0, np.square(b) - own_var))
    return pd.Series(np.where(np.isfinite(m), total, b), index=bse.index, name=bse.name)


def add_total_errors(summary: pd.DataFrame, unit_scores: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``bootstrap_summary``'s table with ``{s}cam_tse`` (``total_standard_errors``) and the 95% interval.

    ``unit_scores`` are the scale's own (``camsis.scaling.scale.UnitScores.scores``: ``{s}cam_se``,
    ``{s}_lambda``, ``{s}_own_se``), indexed by unit; codes that are not units get the
    bootstrap SE. ``scores`` are the scale's scores of every code (``fill_replicate``:
    groups weighted by the population, as in the score file); the interval
    ``{s}cam_lo``-``{s}cam_hi`` is score -/+ 1.96 tse (for a group: its bootstrap SE), the
    interval that covered 89-95% of true scores in every band of unit size in validation.
    """
    out = summary.copy()
    for side in SIDES:
        se = unit_scores[f"{side}cam_se"].reindex(out.index)
        shrinkage = unit_scores[f"{side}_lambda"].reindex(out.index)
        own = unit_scores[f"{side}_own_se"].reindex(out.index) if f"{side}_own_se" in unit_scores else None
        out[f"{side}cam_tse"] = total_standard_errors(out[f"{side}cam_bse"], se, shrinkage, own)
    for side in SIDES:
        score, half = scores[f"{side}camsis"].reindex(out.index), INTERVAL_Z * out[f"{side}cam_tse"]
        out[f"{side}cam_lo"], out[f"{side}cam_hi"] = score - half, score + half
    ordered = ["mcam_bse", "fcam_bse", "mcam_tse", "fcam_tse", "mcam_lo", "mcam_hi", "fcam_lo", "fcam_hi"]
    return out[ordered + [c for c in out.columns if c not in ordered]]


def replicate_agreement(long: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Correlation of each replicate's unit-and-group scores with the scale's own, per side.

    A replicate whose CA chose another dimension, or whose sign came out the other way,
    shows up here as a low or negative correlation.
    """
    rows = []
    for number, replicate in long.groupby("replicate"):
        replicate = replicate.set_index("code")
        row = {"replicate": int(number)}
        for side in SIDES:
            column = f"{side}camsis"
            row[side] = pearson(replicate[column], scores[column])[0]
        rows.append(row)
    agreement = pd.DataFrame(rows).set_index("replicate")
    odd = agreement[(agreement[list(SIDES)] < DISAGREEMENT).any(axis=1)]
    if len(odd):
        log.warning(
            "%d bootstrap replicate(s) disagree with the scale (correlation below %.1f): %s",
            len(odd), DISAGREEMENT,
            "; ".join(f"replicate {r}: m {v['m']:.2f}, f {v['f']:.2f}" for r, v in odd.iterrows()),
        )
    return agreement


def plausible_values(long: pd.DataFrame, m: int, seed: int, errors: pd.DataFrame | None = None,
                     clip: tuple = (1.0, 99.0), stream: int = 1) -> pd.DataFrame:
    """M plausible values per code and sex: M replicates picked at random, plus each unit's remaining deviation.

    Whole replicates are the base, not independent draws per code, because an analysis uses
    many codes at once: a replicate keeps the errors' dependence across codes and sexes
    (shared CA, shared standardisation). But a replicate shrinks a small unit as far as the
    scale did, so across replicates a unit varies by its bootstrap SE only, less than its
    total SE (``total_standard_errors``). With ``errors`` (the bootstrap summary, indexed by
    code, with ``{s}cam_bse`` and ``{s}cam_tse``) each value gets an independent normal draw
    of variance max(0, tse^2 - bse^2), so that across plausible values a unit's variance is
    its tse^2, as the score file's interval says; groups (tse = bse) and codes missing from
    ``errors`` get none. The draws come from their own stream ``stream`` of ``seed`` (another
    stream for another set of codes drawn with the same replicates), in code order, so
    the replicates chosen do not change and the values do not depend on how the replicates
    were batched. Values are clipped to ``clip`` as scores are. Returns long rows code, sex
    (1 male, 2 female), pv (1..M), camsis, and the replicate each pv came from.
    """
    available = np.sort(long["replicate"].unique())
    if m > len(available):
        raise ValueError(f"{m} plausible values asked for but only {len(available)} bootstrap replicates")
    chosen = np.random.default_rng([int(seed), 0]).choice(available, size=m, replace=False)
    codes = np.sort(long["code"].unique())
    noise = np.random.default_rng([int(seed), int(stream)]).standard_normal((m, len(SIDES), len(codes)))
    extra = {}
    for k, side in enumerate(SIDES):
        sd = np.zeros(len(codes))
        if errors is not None:
            table = errors.reindex(codes)
            gap = table[f"{side}cam_tse"].to_numpy(float) ** 2 - table[f"{side}cam_bse"].to_numpy(float) ** 2
            sd = np.sqrt(np.clip(np.nan_to_num(gap, nan=0.0), 0.0, None))
        extra[side] = pd.DataFrame(noise[:, k, :] * sd, columns=codes)
    parts = []
    for pv, replicate in enumerate(chosen, start=1):
        scores = long[long["replicate"] == replicate]
        for side in SIDES:
            sex = SEX_CODES[side]
            deviation = extra[side].iloc[pv - 1].reindex(scores["code"]).to_numpy()
            value = scores[f"{side}camsis"].to_numpy() + deviation
            parts.append(
                pd.DataFrame(
                    {"code": scores["code"].to_numpy(), "sex": sex, "pv": pv,
                     "camsis": np.clip(value, *clip), "replicate": int(replicate)}
                )
            )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["code", "sex", "pv"], kind="stable").reset_index(drop=True)

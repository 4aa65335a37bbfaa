"""Stage 5: correspondence analysis of the non-blanked (merged) table, and the choice of dimension.

Normalisation: scores are *principal* coordinates. With P = table / N, row masses r, column
masses c and S = D_r^-1/2 (P - r c') D_c^-1/2 = U Sigma V', the row scores are
F = D_r^-1/2 U Sigma and the column scores G = D_c^-1/2 V Sigma; each dimension has
mass-weighted mean 0 and mass-weighted variance equal to its principal inertia (eigenvalue
sigma^2). A row score is the weighted mean of its partners' column *standard* coordinates
G / sigma (the transition formula), which is why the smoothing stage can rebuild it.
The k leading dimensions are the leading eigenvectors of the smaller Gram matrix of S, found
to machine precision (see ``_principal_coordinates``); the results equal prince's CA with the
exact scipy SVD.

Signs and order of CA dimensions are arbitrary. ``correspondence_analysis`` fixes a
deterministic sign (the row with the largest absolute score, lowest label on ties, is
positive); ``choose_dimension`` then picks the dimension that tracks a reference measure of
advantage and orients it positively, flipping rows and columns together. It respects
direction: a dimension whose row (husbands') and column (wives') scores correlate with the
reference in opposite signs is not chosen while another agrees, and a scale built anyway on
a disagreeing or weak dimension carries a warning naming the figures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh

from camsis.errors import CamsisError
from camsis.method.correlation import pearson
from camsis.vocabulary import PARTNERS_OF, TABLE_AXES

log = logging.getLogger("camsis.method.ca")

WEAK_CORRELATION = 0.3
# The columns of every table of correlations with the reference (one Index, built once: pandas
# infers the type of a list of labels anew in every frame made from it).
_SIDE_COLUMNS = pd.Index(["rows", "columns"])
DIRECTION_ADVICE = (
    "On a small table with its diagonal blanked this is common: try blanked_cells: reconstitute (blanked cells "
    "imputed from the CA model instead of counted as zero), blank fewer cells, or check the reference measure"
)


@dataclass(frozen=True, kw_only=True)
class DimensionChoice:
    """What ``choose_dimension`` reads and records on a fitted scaling model (CA or RC).

    Attributes
    ----------
    empty_rows, empty_columns : list
        Labels with zero mass (or no count), left out of the fit.
    chosen : int or None
        Original number of the chosen dimension; None until ``choose_dimension``.
    correlations : dict
        Original dimension -> mean of its row and column correlations with the reference,
        signed as the returned scores are (the chosen one is positive; each side's own sign
        is in the two below).
    row_correlations, column_correlations : dict
        The two correlations behind it (NaN where a side has no usable reference).
    warning : str or None
        Set by ``choose_dimension`` when no dimension's rows and columns agree in sign with
        the reference, or the chosen one tracks it only weakly on either side, naming every
        dimension's correlations; None otherwise.
    """

    empty_rows: list = field(default_factory=list)
    empty_columns: list = field(default_factory=list)
    chosen: int | None = None
    correlations: dict[int, float] = field(default_factory=dict)
    row_correlations: dict[int, float] = field(default_factory=dict)
    column_correlations: dict[int, float] = field(default_factory=dict)
    warning: str | None = None


@dataclass(frozen=True)
class CAResult(DimensionChoice):
    """A fitted CA.

    Attributes
    ----------
    row_scores, column_scores : DataFrame
        Principal coordinates, indexed by the table's row / column labels (rows and columns with
        mass only), columns ``dim1``..``dimK``. After ``choose_dimension``, ``dim1`` is the
        chosen, oriented dimension.
    eigenvalues : ndarray
        Principal inertia of each column ``dim1``..``dimK`` (in that order).
    inertia : ndarray
        Share of the total inertia of each column ``dim1``..``dimK``.
    total_inertia : float
        Chi-square / N of the table CA'd.
    row_masses, column_masses : Series
        r and c (sum to 1), indexed like the scores.
    order : tuple
        Original (1-based, by decreasing inertia) dimension number of each column.
    empty_rows, empty_columns, chosen, correlations, row_correlations, column_correlations, warning
        See ``DimensionChoice``.
    """

    row_scores: pd.DataFrame
    column_scores: pd.DataFrame
    eigenvalues: np.ndarray
    inertia: np.ndarray
    total_inertia: float
    row_masses: pd.Series
    column_masses: pd.Series
    order: tuple[int, ...]


def correspondence_analysis(table: pd.DataFrame, n_components: int = 2) -> CAResult:
    """CA of a table of non-negative counts, zero-mass rows and columns removed first.

    Fewer than ``n_components`` dimensions come back when the table has fewer
    (min(rows, columns) - 1 after removing empty ones).
    """
    values = table.to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("the CA table must hold finite, non-negative counts")
    has_rows, has_columns = values.sum(axis=1) > 0, values.sum(axis=0) > 0
    empty_rows = list(table.index[~has_rows])
    empty_columns = list(table.columns[~has_columns])
    row_labels, column_labels = table.index[has_rows], table.columns[has_columns]
    if len(row_labels) < 2 or len(column_labels) < 2:
        raise CamsisError(
            f"the CA needs pairs in at least 2 rows and 2 columns; the table has only "
            f"{len(row_labels)} row(s) and {len(column_labels)} column(s) with any"
        )

    k = min(n_components, min(len(row_labels), len(column_labels)) - 1)
    if k < n_components:
        log.info("the table supports only %d CA dimension(s) of the %d asked for", k, n_components)
    # Arrays until the end: a bootstrap replicate runs this on a table of hundreds of units.
    # pandas holds a frame's values column by column, so the contiguous array is the table's
    # transpose; its CA is the table's with rows and columns swapped, and picking the active
    # cells out of it cost a quarter of picking them across the grain.
    active = values.T[np.ix_(has_columns, has_rows)]
    cols, rows, eigenvalues, total = _principal_coordinates(active, k)

    # Deterministic sign: the row farthest from the origin (lowest label on ties) is positive.
    for d in range(k):
        magnitude = np.abs(rows[:, d])
        tied = np.flatnonzero(magnitude >= magnitude.max() * (1 - 1e-9))
        if rows[tied[row_labels[tied].argmin()], d] < 0:
            rows[:, d] = -rows[:, d]
            cols[:, d] = -cols[:, d]

    # A dimension without inertia has no scores (the transition formula can leave a constant there).
    null = eigenvalues <= 1e-12 * max(total, 1e-300)
    rows[:, null] = 0.0
    cols[:, null] = 0.0
    names = pd.Index([f"dim{d + 1}" for d in range(k)])
    masses = active.sum()
    return CAResult(
        row_scores=pd.DataFrame(rows, index=row_labels, columns=names),
        column_scores=pd.DataFrame(cols, index=column_labels, columns=names),
        eigenvalues=eigenvalues,
        inertia=eigenvalues / total if total > 0 else np.zeros(k),
        total_inertia=total,
        row_masses=pd.Series(active.sum(axis=0) / masses, index=row_labels),
        column_masses=pd.Series(active.sum(axis=1) / masses, index=column_labels),
        order=tuple(range(1, k + 1)),
        empty_rows=empty_rows,
        empty_columns=empty_columns,
    )


def _principal_coordinates(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Row and column principal coordinates of the k leading dimensions, their eigenvalues, the total inertia.

    S = D_r^-1/2 (P - r c') D_c^-1/2 as in the module docstring. Only k singular vectors are
    needed, so they are the leading eigenvectors of the smaller Gram matrix (S'S or SS'),
    found by Lanczos iteration (ARPACK's ``eigsh``, to machine precision, from a fixed start)
    on products with S: a bootstrap replicate pays a few dozen matrix-vector products
    instead of forming the Gram matrix and decomposing it (ten times the cost on a
    by-status table). The other side's vectors follow from S. Coordinates are then the
    transition formula (profiles times the other side's standard coordinates), as prince
    computes them; tests hold the result to prince's CA.
    """
    n = values.sum()
    row_sums, col_sums = values.sum(axis=1), values.sum(axis=0)
    root_r, root_c = np.sqrt(row_sums / n), np.sqrt(col_sums / n)
    S = values / (n * root_r)[:, None]
    S /= root_c
    S -= np.outer(root_r, root_c)
    total = float(np.einsum("ij,ij->", S, S))
    transpose = S.shape[0] < S.shape[1]
    tall = S.T if transpose else S
    size = tall.shape[1]

    def gram(x):
        return tall.T @ (tall @ x)

    operator = LinearOperator((size, size), matvec=gram, matmat=gram, dtype=float)
    start = np.random.default_rng(0).uniform(0.5, 1.5, size)
    # A Lanczos basis of 12 vectors, not ARPACK's default 20: on by-status tables the longer
    # basis often made the final step (dseupd) five times the cost of the whole iteration
    # (presumably subnormal numbers in the converged vectors' tails), for the same accuracy.
    basis = min(size, max(2 * k + 1, 12))
    try:
        eigenvalues, vectors = eigsh(operator, k=k, which="LA", tol=0, v0=start, ncv=basis)
    except ArpackError:
        # A table without inertia (S exactly zero, as for a uniform table) leaves Lanczos no
        # starting vector; the dense decomposition of the Gram matrix has no such trouble.
        eigenvalues, vectors = linalg.eigh(tall.T @ tall, subset_by_index=[size - k, size - 1])
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = np.clip(eigenvalues[order], 0.0, None), vectors[:, order]
    sigma = np.sqrt(eigenvalues)
    other = tall @ vectors
    other = np.divide(other, sigma, out=np.zeros_like(other), where=sigma > 0)
    U, V = (vectors, other) if transpose else (other, vectors)
    # Profiles are the counts over their sums: P itself (values / n) is never needed.
    rows = (values @ (V / root_c[:, None])) / row_sums[:, None]
    cols = (values.T @ (U / root_r[:, None])) / col_sums[:, None]
    return rows, cols, eigenvalues, total


def _weighted_correlation(x: pd.Series, y: pd.Series, w: pd.Series) -> float:
    """Weighted Pearson correlation over labels where x, y and a positive weight are all present."""
    return pearson(x, y, w)[0]


def reference_correlations(
    result: CAResult,
    row_reference: pd.Series,
    column_reference: pd.Series,
    row_weights: pd.Series | None = None,
    column_weights: pd.Series | None = None,
) -> pd.DataFrame:
    """Step 1 of the choice: each dimension's weighted correlation with the reference, per side.

    Indexed by original dimension number, columns ``rows`` and ``columns``, signed as the
    result's scores are (NaN where a side has no usable reference). Weights default to the
    CA masses; units with a missing reference are ignored.
    """
    row_weights = result.row_masses if row_weights is None else row_weights
    column_weights = result.column_masses if column_weights is None else column_weights
    records = [
        (
            _weighted_correlation(result.row_scores[name], row_reference, row_weights),
            _weighted_correlation(result.column_scores[name], column_reference, column_weights),
        )
        for name in result.row_scores.columns
    ]
    return pd.DataFrame(records, index=pd.Index(result.order), columns=_SIDE_COLUMNS, dtype=float)


def _sides(correlations: pd.DataFrame) -> np.ndarray:
    """The rows and columns correlations as a dimensions x 2 array."""
    return np.column_stack([correlations[side].to_numpy(float) for side in _SIDE_COLUMNS])


def _mean_of_known(values: np.ndarray) -> np.ndarray:
    """Mean of each row's non-NaN values (NaN where there are none), as pandas' skipna mean computes it."""
    known = ~np.isnan(values)
    count = known.sum(axis=1)
    return np.divide(np.where(known, values, 0.0).sum(axis=1), count, out=np.full(len(count), np.nan), where=count > 0)


def pick_dimension(correlations: pd.DataFrame) -> tuple[int, pd.Series, bool]:
    """Step 2: the chosen dimension, every dimension's sign, and whether the chosen one agrees.

    A dimension's sign is the one that makes the sum of its row and column correlations
    positive (rows and columns flip together: CA signs are joint). It *agrees* when, so
    signed, neither side correlates negatively with the reference: husbands' and wives'
    scores then point the same way. The criterion is the mean of the two signed
    correlations (the one available when a side has no usable reference), so a dimension
    whose sides point opposite ways scores near zero rather than high, as the mean of
    absolute values did. Among agreeing dimensions the largest criterion wins (the lowest
    dimension on ties); only when none agrees is the largest criterion of all taken, and
    ``agrees`` is False so the caller can warn.
    """
    # On arrays: pandas' per-call overhead on this 2-row table cost more than the CA's eigenvectors.
    values = _sides(correlations)
    signs = np.where(np.nansum(values, axis=1) < 0, -1.0, 1.0)
    oriented = values * signs[:, None]
    criterion = _mean_of_known(oriented)
    scored = ~np.isnan(criterion)
    if not scored.any():
        raise CamsisError(
            "the reference measure is missing or constant for every unit in the CA, so no dimension can be chosen"
        )
    agreeing = (np.nan_to_num(oriented, nan=0.0) >= 0).all(axis=1) & scored
    dimensions = correlations.index.to_numpy()
    pool = np.flatnonzero(agreeing if agreeing.any() else scored)
    chosen = int(dimensions[max(pool, key=lambda i: (criterion[i], -dimensions[i]))])
    return chosen, pd.Series(signs, index=correlations.index), bool(agreeing.any())


def orient_dimensions(result: CAResult, chosen: int, signs: pd.Series) -> CAResult:
    """Step 3: put ``chosen`` first, the others after it in their order, each multiplied by its sign."""
    position = {d: i for i, d in enumerate(result.order)}
    new_order = [chosen] + [d for d in result.order if d != chosen]
    idx = [position[d] for d in new_order]
    sign = np.array([signs[d] for d in new_order], dtype=float)
    names = pd.Index([f"dim{i + 1}" for i in range(len(new_order))])
    return replace(
        result,
        row_scores=pd.DataFrame(result.row_scores.to_numpy()[:, idx] * sign, index=result.row_scores.index, columns=names),
        column_scores=pd.DataFrame(
            result.column_scores.to_numpy()[:, idx] * sign, index=result.column_scores.index, columns=names
        ),
        eigenvalues=result.eigenvalues[idx],
        inertia=result.inertia[idx],
        order=tuple(new_order),
        chosen=chosen,
    )


def direction_warning(chosen: int, oriented: pd.DataFrame, agrees: bool, model: str = "CA") -> str | None:
    """Step 4: what a user must hear about the chosen dimension's direction, or None.

    Warned: no dimension whose husbands' and wives' scores agree in sign with the reference
    (the scale then points opposite ways for the two sides), or a chosen dimension whose
    signed correlation on either side is below WEAK_CORRELATION. Names every dimension's
    figures and what to try.
    """
    figures = "; ".join(
        f"dimension {d}: rows {oriented.at[d, 'rows']:.3f}, columns {oriented.at[d, 'columns']:.3f}"
        for d in oriented.index
    )
    if not agrees:
        return (
            f"no {model} dimension has {PARTNERS_OF['m']} ({TABLE_AXES['m']}) and {PARTNERS_OF['f']} ({TABLE_AXES['f']}) "
            "scores agreeing in sign with the reference "
            f"measure, so the scale points opposite ways for the two sides; dimension {chosen} was taken: {figures}. "
            f"{DIRECTION_ADVICE}"
        )
    weakest = np.nanmin(oriented.loc[chosen].to_numpy(float))
    if weakest < WEAK_CORRELATION:
        return (
            f"the chosen {model} dimension {chosen} correlates only weakly (below {WEAK_CORRELATION}, signed) with the "
            f"reference measure on at least one side: {figures}. {DIRECTION_ADVICE}"
        )
    return None


def choose_dimension(
    result: CAResult,
    row_reference: pd.Series,
    column_reference: pd.Series,
    row_weights: pd.Series | None = None,
    column_weights: pd.Series | None = None,
    model: str = "CA",
) -> CAResult:
    """Put the dimension that best tracks the reference first, oriented so it correlates positively.

    The steps, each a function of its own: ``reference_correlations`` (weighted correlation
    of each dimension's row scores with ``row_reference`` and of its column scores with
    ``column_reference``, both indexed by the scores' labels; weights default to the CA
    masses), ``pick_dimension`` (sign each dimension so its two correlations sum to a
    positive number; choose, among dimensions whose rows and columns then both correlate
    non-negatively, the largest mean signed correlation), ``orient_dimensions`` (chosen
    first as ``dim1``, the others after it in their order) and ``direction_warning``.

    Direction is respected, not just strength: a dimension whose husbands' scores rise with
    the reference while its wives' scores fall would give male and female scales of
    opposite direction, so it is not chosen while another dimension agrees. When none
    agrees, or the chosen dimension's signed correlation is weak on either side, the scale
    is still built (the files let a user see why) and ``warning`` says so, naming every
    dimension's row and column correlations and what to try; the caller passes it to the
    log, summary.json and the notes. ``model`` names the scores in the warning: "CA", or "RC"
    for an RC(M) result (``camsis.method.rc.RCResult``, chosen and oriented the same way).
    """
    correlations = reference_correlations(result, row_reference, column_reference, row_weights, column_weights)
    chosen, signs, agrees = pick_dimension(correlations)
    oriented_result = orient_dimensions(result, chosen, signs)
    order = list(oriented_result.order)
    at = correlations.index.get_indexer(order)
    values = _sides(correlations)[at] * signs.to_numpy(float)[at, None]
    oriented = pd.DataFrame(values, index=pd.Index(order), columns=_SIDE_COLUMNS)
    warning = direction_warning(chosen, oriented, agrees, model)
    if warning:
        log.warning("%s", warning)
    return replace(
        oriented_result,
        correlations={int(d): float(v) for d, v in zip(order, _mean_of_known(values))},
        row_correlations={int(d): float(v) for d, v in zip(order, values[:, 0])},
        column_correlations={int(d): float(v) for d, v in zip(order, values[:, 1])},
        warning=warning,
    )


def sides_correlation(husbands: pd.Series, wives: pd.Series, weights: pd.Series) -> float:
    """Weighted correlation of each unit's husbands' score with its wives' score (units with both)."""
    return _weighted_correlation(husbands, wives, weights)


def sides_warning(ca_correlation: float, scale_correlation: float, row_correlation: float,
                  column_correlation: float, model: str = "CA") -> str | None:
    """A warning when husbands' and wives' scores of the same units disagree, or None.

    ``ca_correlation`` is the weighted correlation, over units scored on both sides, of a
    unit's husbands' raw score with its wives' raw score on the chosen dimension of
    ``model`` ("CA", or "RC" under ``estimator: rc2``);
    ``scale_correlation`` the same for the finished (smoothed, standardised) scores; the
    other two are the chosen dimension's signed correlations with the reference. When
    either correlation is below WEAK_CORRELATION (negative: the two scales point opposite
    ways) the scale is built and this says so, with all four figures.
    """
    figures = [v for v in (ca_correlation, scale_correlation) if not np.isnan(v)]
    if not figures or min(figures) >= WEAK_CORRELATION:
        return None
    how = "point opposite ways" if min(figures) < 0 else "agree only weakly"
    return (
        f"{PARTNERS_OF['m']} and {PARTNERS_OF['f']} scores of the same units {how}: they correlate {scale_correlation:.3f} in the "
        f"scale ({ca_correlation:.3f} in the chosen {model} dimension, whose signed correlations with the reference "
        f"measure are rows {row_correlation:.3f}, columns {column_correlation:.3f}). {DIRECTION_ADVICE}"
    )


def expand_scores(scores: pd.DataFrame, unit_map: pd.Series) -> pd.DataFrame:
    """Give every original unit the scores of the CA row/column it joined (NaN without mass)."""
    expanded = scores.reindex(unit_map.to_numpy())
    expanded.index = unit_map.index.copy()
    return expanded


def connected_blocks(table: pd.DataFrame, cells=None) -> list[tuple[list, list]]:
    """Row and column labels of each group of units linked by non-zero cells, largest first.

    The components of the bipartite graph whose edges are the non-zero cells. Zero-mass
    rows and columns belong to no block (the CA drops them anyway). Blocks are ordered by
    their number of pairs, then by number of units, then by their lowest row label.
    ``cells`` (``camsis.method.pairtable.Cells``, e.g. ``PairTable.cells()``: distinct cells) names the
    only cells that may be non-zero, so the table is not searched for them.
    """
    values = table.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    # The non-zero cells, found in memory order (a DataFrame's values are usually its block's
    # transpose) and as flat positions: the two-dimensional search across the grain was the
    # dearest step of a by-status bootstrap replicate.
    if cells is not None:
        non_zero = cells.of(values) != 0
        cell_rows, cell_cols = cells.rows[non_zero], cells.columns[non_zero]
    elif values.flags.f_contiguous:
        cell_cols, cell_rows = np.divmod(np.flatnonzero(values.T != 0), n_rows)
    else:
        cell_rows, cell_cols = np.divmod(np.flatnonzero(values != 0), n_cols)
    cells = values[cell_rows, cell_cols]
    graph = sparse.coo_matrix((cells, (cell_rows, n_rows + cell_cols)), shape=(n_rows + n_cols, n_rows + n_cols))
    _, labels = connected_components(graph, directed=False)
    row_labels, col_labels = labels[:n_rows], labels[n_rows:]
    pairs = np.bincount(row_labels[cell_rows], weights=cells, minlength=n_rows + n_cols)
    row_held = np.bincount(cell_rows, weights=cells, minlength=n_rows) != 0
    col_held = np.bincount(cell_cols, weights=cells, minlength=n_cols) != 0
    row_units, row_labels = table.index.to_numpy()[row_held], row_labels[row_held]
    col_units, col_labels = table.columns.to_numpy()[col_held], col_labels[col_held]
    blocks = []
    # Only components holding a row with mass can be blocks (the others are empty rows and columns).
    for label in np.unique(row_labels):
        rows, cols = list(row_units[row_labels == label]), list(col_units[col_labels == label])
        blocks.append((pairs[label], len(rows) + len(cols), rows, cols))
    blocks.sort(key=lambda b: (-b[0], -b[1], min(b[2])))
    return [(rows, cols) for _, _, rows, cols in blocks]


def describe_blocks(blocks: list[tuple[list, list]], row_name: str = "occ1", column_name: str = "occ2") -> str:
    """One line naming the units of every block but the largest."""
    if len(blocks) <= 1:
        return "the table is connected"
    smaller = "; ".join(
        f"{row_name} {', '.join(str(r) for r in rows) or '-'} with {column_name} {', '.join(str(c) for c in cols) or '-'}"
        for rows, cols in blocks[1:]
    )
    return f"{len(blocks)} blocks with no pairs between them; outside the largest: {smaller}"

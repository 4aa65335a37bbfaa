"""Stage 5: correspondence analysis of the non-blanked (merged) table, and the choice of dimension.

Normalisation: scores are *principal* coordinates. With P = table / N, row masses r, column
masses c and S = D_r^-1/2 (P - r c') D_c^-1/2 = U Sigma V', the row scores are
F = D_r^-1/2 U Sigma and the column scores G = D_c^-1/2 V Sigma; each dimension has
mass-weighted mean 0 and mass-weighted variance equal to its principal inertia (eigenvalue
sigma^2). A row score is the weighted mean of its partners' column *standard* coordinates
G / sigma (the transition formula), which is why the smoothing stage can rebuild it.
The k leading dimensions come from an exact eigendecomposition of the smaller Gram matrix of S
(see ``_principal_coordinates``); the results equal prince's CA with the exact scipy SVD.

Signs and order of CA dimensions are arbitrary. ``correspondence_analysis`` fixes a
deterministic sign (the row with the largest absolute score, lowest label on ties, is
positive); ``choose_dimension`` then picks the dimension that tracks a reference measure of
advantage and orients it positively, flipping rows and columns together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.sparse.csgraph import connected_components

from camsis.correlation import pearson
from camsis.errors import CamsisError

log = logging.getLogger("camsis.ca")

WEAK_CORRELATION = 0.3


@dataclass(frozen=True)
class CAResult:
    """A fitted CA.

    row_scores, column_scores : principal coordinates, indexed by the table's row / column
        labels (rows and columns with mass only), columns ``dim1``..``dimK``. After
        ``choose_dimension``, ``dim1`` is the chosen, oriented dimension.
    eigenvalues : principal inertia of each column ``dim1``..``dimK`` (in that order).
    inertia : share of the total inertia of each column ``dim1``..``dimK``.
    total_inertia : chi-square / N of the table CA'd.
    row_masses, column_masses : r and c (sum to 1), indexed like the scores.
    order : original (1-based, by decreasing inertia) dimension number of each column.
    chosen : original number of the chosen dimension; None until ``choose_dimension``.
    correlations : original dimension -> mean of its row and column correlations with the
        reference, signed as the returned scores are (the chosen one is positive).
    row_correlations, column_correlations : the two correlations behind it (NaN where a side
        has no usable reference).
    empty_rows, empty_columns : labels with zero mass, left out of the CA.
    warning : set by ``choose_dimension`` when the chosen dimension tracks the reference only
        weakly, naming every dimension's correlations; None otherwise.
    """

    row_scores: pd.DataFrame
    column_scores: pd.DataFrame
    eigenvalues: np.ndarray
    inertia: np.ndarray
    total_inertia: float
    row_masses: pd.Series
    column_masses: pd.Series
    order: tuple[int, ...]
    empty_rows: list = field(default_factory=list)
    empty_columns: list = field(default_factory=list)
    chosen: int | None = None
    correlations: dict[int, float] = field(default_factory=dict)
    row_correlations: dict[int, float] = field(default_factory=dict)
    column_correlations: dict[int, float] = field(default_factory=dict)
    warning: str | None = None


def correspondence_analysis(table: pd.DataFrame, n_components: int = 2) -> CAResult:
    """CA of a table of non-negative counts, zero-mass rows and columns removed first.

    Fewer than ``n_components`` dimensions come back when the table has fewer
    (min(rows, columns) - 1 after removing empty ones).
    """
    values = table.to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("the CA table must hold finite, non-negative counts")
    row_mass = values.sum(axis=1)
    col_mass = values.sum(axis=0)
    empty_rows = list(table.index[row_mass <= 0])
    empty_columns = list(table.columns[col_mass <= 0])
    active = table.loc[row_mass > 0, col_mass > 0].astype(float)
    if active.shape[0] < 2 or active.shape[1] < 2:
        raise CamsisError(
            f"the CA needs pairs in at least 2 rows and 2 columns; after blanking only "
            f"{active.shape[0]} row and {active.shape[1]} column units have any"
        )

    k = min(n_components, min(active.shape) - 1)
    if k < n_components:
        log.info("the table supports only %d CA dimension(s) of the %d asked for", k, n_components)
    values = active.to_numpy()
    rows, cols, eigenvalues, total = _principal_coordinates(values, k)
    names = [f"dim{d + 1}" for d in range(k)]
    rows = pd.DataFrame(rows, index=active.index, columns=names)
    cols = pd.DataFrame(cols, index=active.columns, columns=names)

    # Deterministic sign: the row farthest from the origin (lowest label on ties) is positive.
    for name in names:
        magnitude = rows[name].abs()
        leader = magnitude[magnitude >= magnitude.max() * (1 - 1e-9)].index.min()
        if rows.loc[leader, name] < 0:
            rows[name] = -rows[name]
            cols[name] = -cols[name]

    # A dimension without inertia has no scores (the transition formula can leave a constant there).
    null = [name for name, value in zip(names, eigenvalues) if value <= 1e-12 * max(total, 1e-300)]
    rows[null] = 0.0
    cols[null] = 0.0
    masses = active.to_numpy().sum()
    return CAResult(
        row_scores=rows,
        column_scores=cols,
        eigenvalues=eigenvalues,
        inertia=eigenvalues / total if total > 0 else np.zeros(k),
        total_inertia=total,
        row_masses=active.sum(axis=1) / masses,
        column_masses=active.sum(axis=0) / masses,
        order=tuple(range(1, k + 1)),
        empty_rows=empty_rows,
        empty_columns=empty_columns,
    )


def _principal_coordinates(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Row and column principal coordinates of the k leading dimensions, their eigenvalues, the total inertia.

    S = D_r^-1/2 (P - r c') D_c^-1/2 as in the module docstring. Only k singular vectors are
    needed, so they come from the eigenvectors of the smaller Gram matrix (S'S or SS',
    LAPACK's ``syevr`` on a subset), a few times cheaper than the full SVD a bootstrap
    replicate would otherwise pay for; the other side's vectors follow from S. Coordinates
    are then the transition formula (profiles times the other side's standard
    coordinates), as prince computes them; tests hold the result to prince's CA.
    """
    P = values / values.sum()
    r, c = P.sum(axis=1), P.sum(axis=0)
    S = (P - np.outer(r, c)) / np.sqrt(np.outer(r, c))
    total = float(np.einsum("ij,ij->", S, S))
    transpose = S.shape[0] < S.shape[1]
    small = S @ S.T if transpose else S.T @ S
    size = small.shape[0]
    eigenvalues, vectors = linalg.eigh(small, subset_by_index=[size - k, size - 1])
    eigenvalues, vectors = np.clip(eigenvalues[::-1], 0.0, None), vectors[:, ::-1]
    sigma = np.sqrt(eigenvalues)
    other = (S.T if transpose else S) @ vectors
    other = np.divide(other, sigma, out=np.zeros_like(other), where=sigma > 0)
    U, V = (vectors, other) if transpose else (other, vectors)
    rows = (P / r[:, None]) @ (V / np.sqrt(c)[:, None])
    cols = (P.T / c[:, None]) @ (U / np.sqrt(r)[:, None])
    return rows, cols, eigenvalues, total


def _weighted_correlation(x: pd.Series, y: pd.Series, w: pd.Series) -> float:
    """Weighted Pearson correlation over labels where x, y and a positive weight are all present."""
    return pearson(x, y, w)[0]


def choose_dimension(
    result: CAResult,
    row_reference: pd.Series,
    column_reference: pd.Series,
    row_weights: pd.Series | None = None,
    column_weights: pd.Series | None = None,
) -> CAResult:
    """Put the dimension that best tracks the reference first, oriented so it correlates positively.

    Per dimension: the weighted correlation of the row scores with ``row_reference`` and of
    the column scores with ``column_reference`` (both indexed by the scores' labels; units
    with a missing reference are ignored; weights default to the CA masses). The criterion
    is the mean of the two absolute correlations (of the one available when a side has no
    usable reference); the largest wins, the lowest dimension on ties. Every dimension is
    then signed so the mean of its two correlations is positive (rows and columns flip
    together, as CA signs are joint); the chosen one becomes ``dim1``, the others follow
    in their original order.
    """
    row_weights = result.row_masses if row_weights is None else row_weights
    column_weights = result.column_masses if column_weights is None else column_weights
    names = list(result.row_scores.columns)
    row_corr, col_corr, criterion = {}, {}, {}
    for name, original in zip(names, result.order):
        row_corr[original] = _weighted_correlation(result.row_scores[name], row_reference, row_weights)
        col_corr[original] = _weighted_correlation(result.column_scores[name], column_reference, column_weights)
        pair = [abs(v) for v in (row_corr[original], col_corr[original]) if not np.isnan(v)]
        criterion[original] = float(np.mean(pair)) if pair else float("nan")
    if all(np.isnan(v) for v in criterion.values()):
        raise CamsisError(
            "the reference measure is missing or constant for every unit in the CA, so no dimension can be chosen"
        )
    chosen = max((d for d in criterion if not np.isnan(criterion[d])), key=lambda d: (criterion[d], -d))

    new_order = [chosen] + [d for d in result.order if d != chosen]
    position = {d: i for i, d in enumerate(result.order)}
    rows, cols = {}, {}
    correlations, oriented_rows, oriented_cols = {}, {}, {}
    for i, original in enumerate(new_order):
        old = names[position[original]]
        signed = np.nansum([row_corr[original], col_corr[original]])
        sign = -1.0 if signed < 0 else 1.0
        rows[f"dim{i + 1}"] = sign * result.row_scores[old]
        cols[f"dim{i + 1}"] = sign * result.column_scores[old]
        oriented_rows[original] = sign * row_corr[original]
        oriented_cols[original] = sign * col_corr[original]
        correlations[original] = float(np.nanmean([oriented_rows[original], oriented_cols[original]])) \
            if not np.isnan(criterion[original]) else float("nan")

    warning = None
    if criterion[chosen] < WEAK_CORRELATION:
        warning = (
            f"the chosen CA dimension {chosen} correlates only weakly (below {WEAK_CORRELATION}) with the reference "
            "measure: " + "; ".join(
                f"dimension {d}: rows {oriented_rows[d]:.3f}, columns {oriented_cols[d]:.3f}" for d in new_order
            )
        )
        log.warning("%s", warning)
    idx = [position[d] for d in new_order]
    return replace(
        result,
        row_scores=pd.DataFrame(rows, index=result.row_scores.index),
        column_scores=pd.DataFrame(cols, index=result.column_scores.index),
        eigenvalues=result.eigenvalues[idx],
        inertia=result.inertia[idx],
        order=tuple(new_order),
        chosen=chosen,
        correlations=correlations,
        row_correlations=oriented_rows,
        column_correlations=oriented_cols,
        warning=warning,
    )


def expand_scores(scores: pd.DataFrame, unit_map: pd.Series) -> pd.DataFrame:
    """Give every original unit the scores of the CA row/column it joined (NaN without mass)."""
    expanded = scores.reindex(unit_map.to_numpy())
    expanded.index = unit_map.index.copy()
    return expanded


def connected_blocks(table: pd.DataFrame) -> list[tuple[list, list]]:
    """Row and column labels of each group of units linked by non-zero cells, largest first.

    The components of the bipartite graph whose edges are the non-zero cells. Zero-mass
    rows and columns belong to no block (the CA drops them anyway). Blocks are ordered by
    their number of pairs, then by number of units, then by their lowest row label.
    """
    values = table.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    cells = sparse.coo_matrix(values != 0)
    graph = sparse.coo_matrix(
        (np.ones(cells.nnz), (cells.row, n_rows + cells.col)), shape=(n_rows + n_cols, n_rows + n_cols)
    )
    _, labels = connected_components(graph, directed=False)
    row_mass, col_mass = values.sum(axis=1), values.sum(axis=0)
    blocks = []
    # Only components holding a row with mass can be blocks (the others are empty rows and columns).
    for label in np.unique(labels[:n_rows][row_mass != 0]):
        rows = [table.index[i] for i in np.flatnonzero(labels[:n_rows] == label) if row_mass[i] != 0]
        cols = [table.columns[j] for j in np.flatnonzero(labels[n_rows:] == label) if col_mass[j] != 0]
        if not rows:
            continue
        pairs = float(table.loc[rows, cols].to_numpy().sum())
        blocks.append((pairs, len(rows) + len(cols), rows, cols))
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

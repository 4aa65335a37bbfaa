"""Goodman's RC(M) association model ("RC-II"), the estimator of the first CAMSIS releases.

The model for the count of cell (i, j) of a table, over its non-blanked cells only, is

    log mu_ij = lambda + alpha_i + beta_j + sum_k phi_k x_ik y_jk        (k = 1 .. M)

with Poisson maximum likelihood. Blanked cells are *structural* zeros: they do not enter
the likelihood at all (CA, by contrast, sees them as zero counts). Rows and columns with no
count left are not scored, as in the CA.

Identification (the usual one, and the CA's for standard coordinates): with r and c the
row and column margins of the non-blanked table as proportions, each score dimension has
r- (c-) weighted mean 0 and weighted variance 1, dimensions are weighted-orthogonal, and
phi_1 >= phi_2 >= ... >= 0. The sign of a dimension is fixed as the CA's is (the row with
the largest absolute score is positive) until ``camsis.method.ca.choose_dimension`` orients it.

Fitting. The interaction is carried as Theta = A B' (A rows x M, B columns x M). One
iteration is two block Newton (IRLS) half-steps: given the column parameters (beta, B),
each row's (alpha_i, A_i) is a small Poisson GLM with design [1, B] and offset beta, and
all rows take one exact Newton step at once (a batched (M+1) x (M+1) solve), halving the
step for any row whose own log-likelihood would fall; then the same for the columns
given the rows. The main effects start from iterative proportional fitting on the
non-blanked cells. After every half-step Theta is re-identified (centred and
orthonormalised by the margins, the centring moved into alpha and beta), which leaves
the fitted values unchanged and keeps the alternation well conditioned. Each step can
only raise the likelihood, so the deviance falls monotonically; the fit has converged
when the relative change of the deviance and the largest change of a fitted
association term phi_k x_ik y_jk summed over k between iterations are both below ``tol``
(so the scores are settled to about tol / phi_k).

Starts. The likelihood of an RC model can have several local maxima, e.g. near each of
two association dimensions of nearly equal strength, or between them, when only one is
fitted: a start that converges has found *a* maximum, not necessarily the best. So every
start is tried (``n_starts``, 6 by default): the CA of the same table (Goodman's
suggestion: for weak association RC and CA agree, phi_k ~ the k-th singular value); the
CA with its last dimension turned 45, 90 and 135 degrees toward the next one, which puts a
start near each such maximum; "log" (the SVD of the double-centred log table); then
seeded random scores. The converged fit of lowest deviance is returned (the earliest start
reaching it, so the CA start wins when it gets there); when none converged, the lowest
deviance reached, flagged and warned about. How many starts reached that deviance and how
far the others stopped from it are part of the result (``RCResult.summary``): starts
stopping at other deviances are the sign of competing maxima. On 30 x 30 tables with two
nearly equal dimensions, a random start found the best maximum one time in two or three;
the turned CA starts found it on every table tried.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from camsis.errors import CamsisError
from camsis.method.ca import DimensionChoice

log = logging.getLogger("camsis.method.rc")

STARTS = ("ca", "log", "random")
# Largest |sum_k phi_k x_ik y_jk| a start may reach before it counts as running off to
# infinity: e^50 between two cells of one row is no association a table of couples shows.
THETA_LIMIT = 50.0


class RCConvergenceWarning(UserWarning):
    """The RC model did not converge from any start within ``max_iter`` iterations."""


@dataclass(frozen=True)
class RCResult(DimensionChoice):
    """A fitted RC(M) model.

    Attributes
    ----------
    row_scores, column_scores : DataFrame
        Identified scores (see the module docstring), indexed by the table's row / column labels
        with a non-blanked count, columns ``dim1``..``dimM``. After
        ``camsis.method.ca.choose_dimension`` (which takes this object), ``dim1`` is the chosen,
        oriented dimension.
    eigenvalues : ndarray
        phi, the intrinsic association of each column ``dim1``..``dimM`` (under the name
        ``choose_dimension`` reorders along with the scores; ``phi`` reads it).
    inertia : ndarray
        phi / sum(phi), each dimension's share of the association.
    deviance : float
        Poisson deviance 2 sum n log(n / mu) - (n - mu) over the non-blanked cells (what R's gnm
        reports for the same model and cells).
    df : int
        Residual degrees of freedom, non-blanked cells - (I + J - 1) - M (I + J - 2 - M).
    iterations : int
    converged : bool
        Of the returned fit.
    fitted : DataFrame
        mu for every cell of the scored rows and columns; blanked cells hold the model's
        prediction (they were not fitted), so observed / fitted shows how far a blanked cell
        lies from the scale.
    intercept : float
    row_effects, column_effects : Series
        lambda, alpha and beta, the effects r- and c-weighted to mean 0.
    row_masses, column_masses : Series
        r and c, the identification weights.
    blanked : DataFrame
        The structural zeros of the scored table.
    order : tuple
        As on ``camsis.method.ca.CAResult``; so are the fields of ``camsis.method.ca.DimensionChoice``, whose
        ``warning`` here also carries a convergence failure.
    start : str
        The start of the returned fit.
    starts_tried : list
        (start, deviance, converged) of each start tried, in order.
    """

    row_scores: pd.DataFrame
    column_scores: pd.DataFrame
    eigenvalues: np.ndarray
    inertia: np.ndarray
    deviance: float
    df: int
    iterations: int
    converged: bool
    fitted: pd.DataFrame
    intercept: float
    row_effects: pd.Series
    column_effects: pd.Series
    row_masses: pd.Series
    column_masses: pd.Series
    blanked: pd.DataFrame
    order: tuple[int, ...]
    start: str = "ca"
    starts_tried: list = field(default_factory=list)

    @property
    def phi(self) -> np.ndarray:
        """Intrinsic association of each column ``dim1``..``dimM``."""
        return self.eigenvalues

    def summary(self) -> dict:
        """The figures summary.json reports: deviance, df, iterations, converged, phi, and how the starts went.

        ``starts``: starts tried; ``starts_at_minimum``: those that reached the returned
        deviance (``at_minimum``); ``other_deviances``: min and max of the deviances the other
        converged starts stopped at (None when every converged start reached the minimum);
        ``starts_not_converged``.
        """
        reached = [at_minimum(deviance, self.deviance) for _, deviance, _ in self.starts_tried]
        others = [deviance for (_, deviance, converged), at in zip(self.starts_tried, reached) if converged and not at]
        return {
            "deviance": float(self.deviance),
            "df": int(self.df),
            "iterations": int(self.iterations),
            "converged": bool(self.converged),
            "phi": [float(p) for p in self.phi],
            "starts": len(self.starts_tried),
            "starts_at_minimum": int(sum(reached)),
            "other_deviances": {"min": float(min(others)), "max": float(max(others))} if others else None,
            "starts_not_converged": int(sum(not converged for _, _, converged in self.starts_tried)),
        }


def at_minimum(deviance: float, minimum: float) -> bool:
    """Whether a start's ``deviance`` is the lowest one reached, up to the convergence's precision."""
    return bool(deviance <= minimum + 1e-7 * (abs(minimum) + 1.0))


def poisson_deviance(observed: np.ndarray, fitted: np.ndarray) -> float:
    """2 sum [n log(n / mu) - (n - mu)] over the cells given (n log n = 0 at n = 0)."""
    observed = np.asarray(observed, dtype=float)
    fitted = np.asarray(fitted, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(observed > 0, observed * np.log(observed / fitted), 0.0)
    return float(2.0 * np.sum(term - (observed - fitted)))


def _identify(A: np.ndarray, B: np.ndarray, r: np.ndarray, c: np.ndarray):
    """Rewrite Theta = A B' as shifts of alpha and beta plus phi-scaled standard scores.

    Returns (row_shift, column_shift, x, y, phi) with Theta = row_shift 1' + 1 column_shift'
    + x diag(phi) y', x r-standardised, y c-standardised, both weighted-orthonormal, phi
    descending, the row with the largest |x| positive in each dimension.
    """
    a_mean, b_mean = r @ A, c @ B
    Ac, Bc = A - a_mean, B - b_mean
    # Theta = (Ac + 1 a)(Bc + 1 b)' : the cross terms are row and column effects.
    row_shift = Ac @ b_mean + a_mean @ b_mean
    column_shift = Bc @ a_mean
    qa, ra = np.linalg.qr(np.sqrt(r)[:, None] * Ac)
    qb, rb = np.linalg.qr(np.sqrt(c)[:, None] * Bc)
    u, s, vt = np.linalg.svd(ra @ rb.T)
    x = (qa @ u) / np.sqrt(r)[:, None]
    y = (qb @ vt.T) / np.sqrt(c)[:, None]
    for k in range(x.shape[1]):
        magnitude = np.abs(x[:, k])
        leader = np.flatnonzero(magnitude >= magnitude.max() * (1 - 1e-9))[0]
        if x[leader, k] < 0:
            x[:, k], y[:, k] = -x[:, k], -y[:, k]
    return row_shift, column_shift, x, y, s


def _block_newton(wn, w, offset, X, own, loglik_rows):
    """One Newton step, with step halving, for every row's (alpha_i, A_i) given the columns.

    ``own`` holds each row's current parameters (rows x (M+1)) on the design ``X``
    (columns x (M+1): 1 and the column scores); ``offset`` (columns) is beta; ``wn`` the
    counts with blanked cells zeroed, ``w`` 1 where a cell is fitted. Returns the new
    parameters and the rows' log-likelihoods.
    """
    size = X.shape[1]
    eta = offset[None, :] + own @ X.T
    mu = w * np.exp(eta)
    gradient = (wn - mu) @ X
    # H_i = sum_j mu_ij X_j X_j' for every row at once, as one matrix product
    outer = (X[:, :, None] * X[:, None, :]).reshape(len(X), size * size)
    hessian = (mu @ outer).reshape(len(own), size, size)
    # A ridge a million times below the diagonal keeps a (near-)singular block solvable: with
    # no association left a score's direction is free and any value of it is a maximum.
    scale = np.maximum(np.einsum("ikk->i", hessian) / size, 1e-300)
    hessian = hessian + (1e-10 * scale)[:, None, None] * np.eye(size)
    step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
    before = np.sum(wn * eta - mu, axis=1)
    new = own + step
    after = loglik_rows(new)
    worse = ~(after >= before - 1e-12 * np.abs(before))
    halvings = 0
    while worse.any() and halvings < 30:
        step[worse] *= 0.5
        new[worse] = own[worse] + step[worse]
        after[worse] = loglik_rows(new[worse], rows=np.flatnonzero(worse))
        worse = ~(after >= before - 1e-12 * np.abs(before))
        halvings += 1
    new[worse] = own[worse]
    after[worse] = before[worse]
    return new, after


def _row_loglik_factory(wn, w, offset, X):
    """Log-likelihood (up to constants) of each row for candidate parameters ``own``."""

    def loglik(own, rows=None):
        nn, ww = (wn, w) if rows is None else (wn[rows], w[rows])
        eta = offset[None, :] + own @ X.T
        return np.sum(nn * eta - ww * np.exp(eta), axis=1)

    return loglik


def _ipf_effects(n, w, theta, alpha, beta, sweeps=50, tol=1e-10):
    """Iterative proportional fitting of alpha and beta given Theta, on the non-blanked cells."""
    row_total, col_total = (w * n).sum(axis=1), (w * n).sum(axis=0)
    expo = w * np.exp(theta)
    for _ in range(sweeps):
        alpha = np.log(row_total) - np.log(expo @ np.exp(beta))
        new_beta = np.log(col_total) - np.log(np.exp(alpha) @ expo)
        change = np.max(np.abs(new_beta - beta))
        beta = new_beta
        if change < tol:
            break
    return alpha, beta


def _fit_from(n, w, r, c, x, y, phi, max_iter, tol):
    """Alternate row and column block Newton steps from identified scores (x, y, phi)."""
    wn, wnT, wT = w * n, (w * n).T.copy(), w.T.copy()
    active = w > 0
    # deviance = 2 (saturated - fitted) log-likelihood; the saturated one is fixed
    with np.errstate(divide="ignore", invalid="ignore"):
        saturated = float(np.sum(np.where(wn > 0, wn * np.log(wn), 0.0) - wn))
    A, B = x * phi, y.copy()
    alpha, beta = _ipf_effects(n, w, A @ B.T, np.zeros(n.shape[0]), np.zeros(n.shape[1]))
    previous_theta = A @ B.T
    accepted = (alpha, beta, x, y, phi)  # the last state whose Theta passed the divergence guard
    deviance = np.inf
    converged = diverged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):
        # rows given the columns (B standard: the rows carry phi)
        X = np.column_stack([np.ones(len(beta)), B])
        own, _ = _block_newton(wn, w, beta, X, np.column_stack([alpha, A]), _row_loglik_factory(wn, w, beta, X))
        alpha, A = own[:, 0], own[:, 1:]
        rs, cs, x_new, y_new, phi = _identify(A, B, r, c)
        alpha, beta = alpha + rs, beta + cs
        A, B = x_new, y_new * phi  # the columns now carry phi
        # columns given the rows
        X = np.column_stack([np.ones(len(alpha)), A])
        own, loglik = _block_newton(wnT, wT, alpha, X, np.column_stack([beta, B]),
                                    _row_loglik_factory(wnT, wT, alpha, X))
        beta, B = own[:, 0], own[:, 1:]
        rs, cs, x_new, y_new, phi = _identify(A, B, r, c)
        alpha, beta = alpha + rs, beta + cs
        theta = (x_new * phi) @ y_new.T
        if not np.all(np.isfinite(theta)) or np.max(np.abs(theta)) > THETA_LIMIT:
            # A dimension is running off to spend itself on a few cells (typically a blanked
            # one, which no count holds back): a degenerate path, not a maximum. Give up this start.
            diverged = True
            alpha, beta, x, y, phi = accepted
            break
        new_deviance = 2.0 * (saturated - float(loglik.sum()))
        # The change of the fitted association, not of the scores: it does not depend on how
        # the scores are identified, and it still settles when there is no association to score.
        theta_change = np.max(np.abs(theta - previous_theta))
        deviance_change = abs(deviance - new_deviance) / (abs(new_deviance) + 0.1)
        x, y, deviance, previous_theta = x_new, y_new, new_deviance, theta
        accepted = (alpha, beta, x, y, phi)
        A, B = x * phi, y.copy()
        if deviance_change < tol and theta_change < tol:
            converged = True
            break
    fitted = np.exp(alpha[:, None] + beta[None, :] + previous_theta)
    deviance = poisson_deviance(n[active], fitted[active])
    return {"alpha": alpha, "beta": beta, "x": x, "y": y, "phi": phi, "fitted": fitted,
            "deviance": deviance, "iterations": iteration, "converged": converged, "diverged": diverged}


# Turns of the CA start's last dimension toward the next one (degrees): starts of their own,
# since two nearly equal dimensions make a maximum of the RC model near each and between them.
CA_TURNS = (45, 90, 135)


def _start_scores(kind, values, w, r, c, M, rng):
    """Identified start scores (x, y, phi) of one kind ("ca+90": the CA start, dimension M turned 90 degrees toward M+1)."""
    if kind.startswith("ca"):
        # CA of the table with blanked cells as zeros: S = D_r^-1/2 (P - r c') D_c^-1/2.
        P = values * w / (values * w).sum()
        rr, cc = P.sum(axis=1), P.sum(axis=0)
        S = (P - np.outer(rr, cc)) / np.sqrt(np.outer(rr, cc))
        u, s, vt = np.linalg.svd(S, full_matrices=False)
        x, y = u[:, :M + 1] / np.sqrt(rr)[:, None], vt[:M + 1].T / np.sqrt(cc)[:, None]
        turn = np.radians(float(kind.partition("+")[2] or 0))
        x[:, M - 1], y[:, M - 1] = (np.cos(turn) * x[:, M - 1] + np.sin(turn) * x[:, M],
                                    np.cos(turn) * y[:, M - 1] + np.sin(turn) * y[:, M])
        x, y, phi = x[:, :M], y[:, :M], s[:M]
    elif kind == "log":
        logs = np.log(values + 0.5)
        # blanked cells: their independence value from the non-blanked ones, refined a few times
        filled = np.where(w > 0, logs, np.nan)
        for _ in range(10):
            row = np.nanmean(filled, axis=1)
            col = np.nanmean(filled, axis=0)
            guess = row[:, None] + col[None, :] - np.nanmean(filled)
            filled = np.where(w > 0, logs, guess)
        centred = filled - r @ filled - (filled @ c)[:, None] + r @ filled @ c
        root_r, root_c = np.sqrt(r), np.sqrt(c)
        u, s, vt = np.linalg.svd(root_r[:, None] * centred * root_c[None, :], full_matrices=False)
        x, y, phi = u[:, :M] / root_r[:, None], vt[:M].T / root_c[:, None], s[:M]
    elif kind == "random":
        x, y = rng.normal(size=(len(r), M)), rng.normal(size=(len(c), M))
        phi = np.full(M, 0.1)
    else:
        raise ValueError(f"unknown RC start {kind!r}; expected one of {', '.join(STARTS)}")
    _, _, x, y, phi = _identify(x * phi, y, r, c)
    return x, y, np.maximum(phi, 1e-3)


def _scored_cells(table: pd.DataFrame, blanked: pd.DataFrame | None):
    """The counts and the weights (1 counted, 0 blanked) of the rows and columns with pairs once
    the blanked cells are left out, and which rows and columns those are."""
    values = table.to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("the RC table must hold finite, non-negative counts")
    mask = np.zeros(values.shape, bool) if blanked is None else \
        blanked.reindex(index=table.index, columns=table.columns).fillna(True).to_numpy(bool)
    w = (~mask).astype(float)
    counted = values * w
    keep_rows, keep_cols = counted.sum(axis=1) > 0, counted.sum(axis=0) > 0
    return counted[np.ix_(keep_rows, keep_cols)], w[np.ix_(keep_rows, keep_cols)], keep_rows, keep_cols


def _start_kinds(start: str | tuple, n_starts: int, M: int, smaller_side: int) -> tuple[list[str], tuple | None]:
    """The starts to try, in order (see ``fit_rc``'s ``n_starts``), and the scores of a given one."""
    given = None
    # The CA turned toward its next dimension needs one (a nontrivial singular value beyond M).
    turns = [f"ca+{degrees}" for degrees in CA_TURNS] if smaller_side > M + 1 else []
    if isinstance(start, tuple):
        given = tuple(np.asarray(part, dtype=float) for part in start)
        kinds = ["given", *turns, "log", "random"]
    else:
        if start not in STARTS:
            raise ValueError(f"unknown RC start {start!r}; expected one of {', '.join(STARTS)}")
        kinds = [start] + [k for k in ("ca", *turns, "log", "random") if k != start]
    while len(kinds) < n_starts:
        kinds.append("random")
    return kinds[: max(1, n_starts)], given


def _best_fit(fits: list[dict], tried: list[tuple], M: int, max_iter: int) -> tuple[dict, str | None]:
    """The converged fit of lowest deviance (the earliest start reaching it), else the lowest of all
    with the warning that says so; the starts that reached it are logged."""
    candidates = [f for f in fits if f["converged"]] or fits
    lowest = min(f["deviance"] for f in candidates)
    best = next(f for f in candidates if at_minimum(f["deviance"], lowest))
    reached = sum(at_minimum(deviance, lowest) for _, deviance, _ in tried)
    log.info("RC(%d): %d of %d starts reached the lowest deviance, %.6g (from the %s start); the others: %s",
             M, reached, len(tried), lowest, best["start"],
             ", ".join(f"{kind} {deviance:.6g}{'' if converged else ' (not converged)'}"
                       for kind, deviance, converged in tried if not at_minimum(deviance, lowest)) or "none")
    message = None
    if not best["converged"]:
        message = (f"the RC({M}) model did not converge in {max_iter} iterations from any of "
                   f"{len(tried)} start(s) ({', '.join(k for k, _, _ in tried)}); the scores are those "
                   f"of the lowest deviance reached, {best['deviance']:.6g}")
        log.warning("%s", message)
        warnings.warn(message, RCConvergenceWarning, stacklevel=3)  # at fit_rc's caller
    return best, message


def fit_rc(
    table: pd.DataFrame,
    blanked: pd.DataFrame | None = None,
    n_dimensions: int = 1,
    start: str | tuple = "ca",
    max_iter: int = 2000,
    tol: float = 1e-8,
    n_starts: int = 6,
    seed: int = 0,
) -> RCResult:
    """Fit the RC(M) association model to a table of counts by Poisson maximum likelihood.

    Parameters
    ----------
    table : non-negative counts (frequency-weighted counts are fine: the likelihood is the
        Poisson one evaluated at them, as glm/gnm do).
    blanked : boolean frame of the table's shape, True for structural zeros (left out of
        the likelihood); None blanks nothing. A count in a blanked cell is ignored.
    n_dimensions : M, the number of score dimensions, 1 <= M <= min(I, J) - 1 of the scored
        rows and columns (M = min(I, J) - 1 on a full table is the saturated model).
    start : "ca" (default), "log", "random", or a tuple (x, y, phi) of row scores (I x M),
        column scores (J x M) and phi (M) in the scored rows' / columns' order (e.g. a
        CA's standard coordinates and singular values, to reuse a CA already computed).
    max_iter, tol : per start; see the module docstring for the convergence test.
    n_starts : how many starts to try: the given one first, then the CA start with its
        last dimension turned 45, 90 and 135 degrees toward the next, "log", and seeded
        "random" ones (in this order, cut at ``n_starts``); all are tried, a converged start
        having found a local maximum only (see the module docstring). 1 tries the given
        start alone.
    seed : seed of the random starts.

    Returns
    -------
    RCResult : the converged fit of lowest deviance, the earliest start reaching it.
    ``converged`` False (with ``warning`` set, an ``RCConvergenceWarning`` issued and
    logged) when no start converged: it is then the start with the lowest deviance.
    """
    n, w, keep_rows, keep_cols = _scored_cells(table, blanked)
    n_rows, n_cols = n.shape
    M = int(n_dimensions)
    if M < 1 or M > min(n_rows, n_cols) - 1:
        raise CamsisError(
            f"an RC model with {M} dimension(s) needs at least {M + 1} rows and columns with pairs; "
            f"after blanking {n_rows} row and {n_cols} column units have any"
        )
    r, c = n.sum(axis=1) / n.sum(), n.sum(axis=0) / n.sum()
    cells = int(w.sum())
    df = cells - (n_rows + n_cols - 1) - M * (n_rows + n_cols - 2 - M)

    rng = np.random.default_rng(seed)
    kinds, given = _start_kinds(start, n_starts, M, min(n_rows, n_cols))
    tried, fits = [], []
    for kind in kinds:
        if kind == "given":
            x0, y0, phi0 = given
            _, _, x0, y0, phi0 = _identify(x0[:, :M] * phi0[:M], y0[:, :M], r, c)
            phi0 = np.maximum(phi0, 1e-3)
        else:
            x0, y0, phi0 = _start_scores(kind, n, w, r, c, M, rng)
        fit = _fit_from(n, w, r, c, x0, y0, phi0, max_iter, tol)
        fit["start"] = kind
        tried.append((kind, float(fit["deviance"]), bool(fit["converged"])))
        fits.append(fit)
        log.debug("RC(%d) from the %s start: deviance %.6g after %d iterations, converged %s",
                  M, kind, fit["deviance"], fit["iterations"], fit["converged"])
    best, message = _best_fit(fits, tried, M, max_iter)
    rows, cols = table.index[keep_rows], table.columns[keep_cols]
    names = [f"dim{k + 1}" for k in range(M)]
    alpha, beta = best["alpha"], best["beta"]
    a_mean, b_mean = r @ alpha, c @ beta
    phi = np.asarray(best["phi"], dtype=float)
    return RCResult(
        row_scores=pd.DataFrame(best["x"], index=rows, columns=names),
        column_scores=pd.DataFrame(best["y"], index=cols, columns=names),
        eigenvalues=phi,
        inertia=phi / phi.sum() if phi.sum() > 0 else np.zeros(M),
        deviance=float(best["deviance"]),
        df=int(df),
        iterations=int(best["iterations"]),
        converged=bool(best["converged"]),
        fitted=pd.DataFrame(best["fitted"], index=rows, columns=cols),
        intercept=float(a_mean + b_mean),
        row_effects=pd.Series(alpha - a_mean, index=rows),
        column_effects=pd.Series(beta - b_mean, index=cols),
        row_masses=pd.Series(r, index=rows),
        column_masses=pd.Series(c, index=cols),
        blanked=pd.DataFrame(w == 0, index=rows, columns=cols),
        order=tuple(range(1, M + 1)),
        start=best["start"],
        starts_tried=tried,
        empty_rows=list(table.index[~keep_rows]),
        empty_columns=list(table.columns[~keep_cols]),
        warning=message,
    )

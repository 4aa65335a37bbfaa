"""Effect scores from random-effects residuals (ESRES), fitted from per-category sums.

Model: y_ij = x_ij'b + u_j + e_ij with u_j ~ N(0, g s2) and e_ij ~ N(0, s2). Every
quantity the REML/ML fit and the BLUPs need is a function of per-category counts,
sums and cross-products, so the data are read once and the fit costs
O(categories x p^2) per likelihood evaluation, whatever the number of rows. The
likelihood is profiled over b and s2, leaving a bounded search over log g that is
compared with g = 0, so a boundary optimum (no category variance) is exact.
See docs/METHOD.md, section 6, "The estimator from sufficient statistics".
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, sparse

from camsis.errors import CamsisError, shown
from camsis.io.reading import check_columns

log = logging.getLogger("camsis.method.esres")

_GRID_POINTS = 121


@dataclass
class GroupSums:
    """Sufficient statistics of a random-intercept model, one entry per category.

    Attributes
    ----------
    groups
        category labels (J,); its ``name`` names the group column of the scores.
    n
        sum of frequency weights per category (J,).
    n_rows
        unweighted number of rows (or table cells) per category (J,).
    sum_y, sum_yy
        weighted sums of y and y^2 (J,).
    sum_x
        weighted sums of the fixed-effect regressors (J, p); column 0 is the constant.
    sum_xx
        weighted cross-products x x' (J, p, p).
    sum_xy
        weighted cross-products x y (J, p).
    names
        the p fixed-effect names, "const" first.
    dropped_missing
        rows dropped because outcome, group or a control was missing.
    """

    groups: pd.Index
    n: np.ndarray
    n_rows: np.ndarray
    sum_y: np.ndarray
    sum_yy: np.ndarray
    sum_x: np.ndarray
    sum_xx: np.ndarray
    sum_xy: np.ndarray
    names: list[str]
    dropped_missing: int = 0

    @classmethod
    def from_frame(cls, data: pd.DataFrame, outcome: str, group: str,
                   controls: list[str] | None = None, weights: str | None = None) -> GroupSums:
        """Gather the sums from rows in one vectorised pass (no per-group Python loop)."""
        controls = list(controls or [])
        _check_columns(data, [outcome, group, *controls] + ([weights] if weights else []))
        y = _numeric_column(data, outcome, "outcome")
        xs = [_numeric_column(data, c, "control") for c in controls]
        g = data[group]
        keep = ~np.isnan(y) & ~pd.isna(g).to_numpy()
        for x in xs:
            keep &= ~np.isnan(x)
        w = None
        if weights:
            w = _numeric_column(data, weights, "weight")
            _check_weights(w, weights)
        dropped = int(len(y) - keep.sum())
        if dropped:
            log.info("dropped %d of %d rows with a missing outcome, group or control", dropped, len(y))
            y, g, xs = y[keep], g[keep], [x[keep] for x in xs]
            w = None if w is None else w[keep]
        _check_finite(y, outcome)
        _check_varies(y, outcome)
        for x, name in zip(xs, controls):
            _check_finite(x, name)
        codes, labels = pd.factorize(g, sort=True)
        groups = pd.Index(labels, name=group)
        with np.errstate(over="ignore", invalid="ignore"):
            sums = _gather(codes, len(groups), y, xs, w)
        _check_sums(sums, outcome, weights, 1 + len(controls))
        return cls(groups=groups, names=["const", *controls], dropped_missing=dropped, **sums)

    @classmethod
    def from_values(cls, group, y, weight=None) -> GroupSums:
        """Intercept-only sums from (group, y, weight) elements, e.g. the cells of a table.

        With cell counts as frequency weights the fit equals the fit on the expanded
        rows, so a table never has to be turned back into rows.
        """
        group = group if isinstance(group, pd.Series) else pd.Series(group)
        name = group.name if group.name is not None else "group"
        frame = pd.DataFrame({"group": group.to_numpy(), "y": np.asarray(y, dtype=float)})
        if weight is not None:
            frame["weight"] = np.asarray(weight, dtype=float)
        sums = cls.from_frame(frame, "y", "group", weights="weight" if weight is not None else None)
        sums.groups = sums.groups.rename(name)
        return sums


    @classmethod
    def from_cells(cls, groups, group_of_cell, y, frequency) -> GroupSums:
        """Intercept-only sums from the cells of a table: a group, an outcome and a frequency weight each.

        Cell k holds ``frequency[k]`` elements of group ``groups[group_of_cell[k]]`` whose
        outcome is ``y[k]`` (as ``from_values``, but by weighted counting instead of a frame:
        the smoothing of every bootstrap replicate takes its sums this way, from the non-zero
        cells of a table that is mostly zeros). Groups without a positive weight are left
        out; the rest come sorted by label.
        """
        labels = np.asarray(groups)
        group_of_cell = np.asarray(group_of_cell, dtype=np.int64)
        frequency = np.asarray(frequency, dtype=float)
        y = np.asarray(y, dtype=float)
        if not (len(group_of_cell) == len(y) == len(frequency)):
            raise ValueError(f"{len(group_of_cell)} cells' groups, {len(y)} values and {len(frequency)} weights differ")
        if (frequency < 0).any() or not np.isfinite(frequency).all() or not np.isfinite(y).all():
            raise CamsisError("a table of frequency weights must hold finite, non-negative weights and finite values")
        size = len(labels)
        n = np.bincount(group_of_cell, weights=frequency, minlength=size)
        cells = np.bincount(group_of_cell, weights=frequency > 0, minlength=size)
        sum_y = np.bincount(group_of_cell, weights=frequency * y, minlength=size)
        sum_yy = np.bincount(group_of_cell, weights=frequency * y * y, minlength=size)
        keep = np.flatnonzero(cells > 0)
        keep = keep[np.argsort(labels[keep], kind="stable")]
        name = getattr(groups, "name", None)
        return cls(
            groups=pd.Index(labels[keep], name=name if name is not None else "group"),
            n=n[keep],
            n_rows=cells[keep],
            sum_y=sum_y[keep],
            sum_yy=sum_yy[keep],
            sum_x=n[keep, None].copy(),
            sum_xx=n[keep, None, None].copy(),
            sum_xy=sum_y[keep, None].copy(),
            names=["const"],
        )


    def with_fixed_groups(self, codes, name: str = "group") -> GroupSums:
        """Intercept-only sums given fixed effects of a grouping of the categories: a constant and
        one dummy per group but the first (sorted), ``codes`` being each category's group.

        The regressors are constant within a category, so their sums are the category's
        weight times them, and the fit stays one of per-category sums.
        """
        if len(self.names) != 1:
            raise ValueError("fixed groups are added to intercept-only sums")
        _, uniques = pd.factorize(np.asarray(codes), sort=True)
        x = np.asarray(codes)[:, None] == np.asarray(uniques)[None, 1:]
        x = np.concatenate([np.ones((len(x), 1)), x], axis=1)
        return GroupSums(groups=self.groups, n=self.n, n_rows=self.n_rows, sum_y=self.sum_y, sum_yy=self.sum_yy,
                         sum_x=self.n[:, None] * x, sum_xx=self.n[:, None, None] * x[:, :, None] * x[:, None, :],
                         sum_xy=self.sum_y[:, None] * x, names=["const", *[f"{name}={u}" for u in uniques[1:]]],
                         dropped_missing=self.dropped_missing)


@dataclass
class ESRESResult:
    """A fitted random-intercept model and its per-category effect scores.

    Attributes
    ----------
    scores
        one row per category: the group column (named after the group
        variable), ``n`` (weighted count), ``eps`` (category mean of y), ``esres``
        (intercept + BLUP: the score at zero controls), ``esres_se`` (posterior SD
        of the BLUP) and ``lambda`` (shrinkage factor).
    summary
        ``fixed`` = {name: {"coef", "se"}}, ``sigma_u``, ``sigma_e``, ``icc``,
        ``loglik``, ``n`` (weighted), ``n_rows``, ``groups``, ``boundary`` (True when
        the category variance is estimated as zero), ``reml``, ``dropped_missing``,
        ``engine``.
    """

    scores: pd.DataFrame
    summary: dict


def _check_columns(data: pd.DataFrame, needed: list[str]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise CamsisError(f"esres needs a pandas DataFrame, got {type(data).__name__}")
    check_columns("the data", list(dict.fromkeys(needed)), [str(c) for c in data.columns])


def _numeric_column(data: pd.DataFrame, name: str, role: str) -> np.ndarray:
    col = data[name]
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        raise CamsisError(f"{role} {name!r} is not numeric (dtype {col.dtype}); "
                          "recode it to numbers or dummy variables first")
    return col.to_numpy(dtype=float, na_value=np.nan)


def _check_weights(w: np.ndarray, name: str) -> None:
    if np.isnan(w).any():
        raise CamsisError(f"weight {name!r} has {int(np.isnan(w).sum())} missing values")
    if (w < 0).any():
        raise CamsisError(f"weight {name!r} has {int((w < 0).sum())} negative values")
    _check_finite(w, name)
    if len(w) and not (w > 0).any():
        raise CamsisError(f"weight {name!r} is zero on every row: no observation is left to fit")


# Frequency weights are counts: a total beyond this squares past the float range in the fit.
_MAX_TOTAL_WEIGHT = 1e100


def _check_sums(sums: dict, outcome: str, weights: str | None, n_fixed: int) -> None:
    """Weights near the float limits make the fit overflow or leave nothing: name the variable, not inf."""
    culprit = f"weight {weights!r}" if weights else f"outcome {outcome!r}"
    total = float(np.sum(sums["n"]))
    if not all(np.isfinite(v).all() for v in sums.values()) or total > _MAX_TOTAL_WEIGHT:
        raise CamsisError(f"the weighted sums of {culprit} overflow the floating-point range (total weight "
                          f"{total:g}); esres weights are frequency weights (counts): rescale them")
    if weights and 0 < total <= n_fixed:
        raise CamsisError(f"weight {weights!r} sums to {total:g}, too little to fit {n_fixed} fixed effect(s); "
                          "esres weights are frequency weights (counts): rescale them to sum to the observations")


def _check_varies(y: np.ndarray, outcome: str) -> None:
    if len(y) and np.nanmin(y) == np.nanmax(y):
        raise CamsisError(f"outcome {outcome!r} is constant ({y[0]:g} on every row): there is nothing to score")


def _check_finite(v: np.ndarray, name: str) -> None:
    bad = np.isinf(v)
    if bad.any():
        raise CamsisError(f"variable {name!r} has {int(bad.sum())} infinite values")


def _gather(codes: np.ndarray, J: int, y: np.ndarray, xs: list[np.ndarray],
            w: np.ndarray | None) -> dict:
    """Weighted per-category sums via np.bincount: one pass over each product column."""
    p = 1 + len(xs)

    def total(v):
        return np.bincount(codes, weights=v, minlength=J)

    n_rows = np.bincount(codes, minlength=J).astype(float)
    n = n_rows if w is None else total(w)
    wy = y if w is None else w * y
    wxs = xs if w is None else [w * x for x in xs]
    sum_x = np.empty((J, p))
    sum_xx = np.empty((J, p, p))
    sum_xy = np.empty((J, p))
    sum_x[:, 0] = n
    sum_xx[:, 0, 0] = n
    sum_xy[:, 0] = sum_y = total(wy)
    for k, wx in enumerate(wxs, start=1):
        sum_x[:, k] = sum_xx[:, 0, k] = sum_xx[:, k, 0] = total(wx)
        sum_xy[:, k] = total(wx * y)
        for m in range(k, p):
            sum_xx[:, k, m] = sum_xx[:, m, k] = total(wx * xs[m - 1])
    return dict(n=n, n_rows=n_rows, sum_y=sum_y, sum_yy=total(wy * y),
                sum_x=sum_x, sum_xx=sum_xx, sum_xy=sum_xy)


class _Profile:
    """The likelihood profiled over b and s2, as a function of g = s2_u / s2."""

    def __init__(self, sums: GroupSums, reml: bool):
        self.s = sums
        self.reml = reml
        self.N = float(sums.n.sum())
        self.p = len(sums.names)
        self.Txx = sums.sum_xx.sum(axis=0)
        self.Txy = sums.sum_xy.sum(axis=0)
        self.Tyy = float(sums.sum_yy.sum())
        if self.p == 1:
            # Intercept only: the groups' means and the within-group sum of squares, from which
            # A, c and rss are sums of positive terms. Tyy - sum w sum_y^2 and Txx - sum w n^2
            # cancel catastrophically when g n is large (a table of 10^8 pairs).
            has = sums.n > 0
            self.means = np.divide(sums.sum_y, sums.n, out=np.zeros(len(sums.n)), where=has)
            self.within = float(np.sum(sums.sum_yy - self.means * sums.sum_y))

    def parts(self, g: float):
        """The GLS cross-products at variance ratio ``g``, from the group sums alone (no pass over the pairs)."""
        s = self.s
        w = g / (1.0 + g * s.n)
        if self.p == 1:
            # Intercept only (the smoothing of every replicate): the 1 x 1 system solved by hand,
            # its ~10 score evaluations a fit were mostly the overhead of numpy's linear algebra.
            # A = sum n / (1 + g n), c = A b, rss = within + sum_j v_j (mean_j - b)^2 with v = n / (1 + g n):
            # equal to Txx - w'n^2, Txy - w'(n sum_y) and q - c b, without their cancellation.
            v = s.n / (1.0 + g * s.n)
            a = float(v.sum())
            if not a > 0:
                raise np.linalg.LinAlgError("Matrix is not positive definite")
            b = np.array([float(v @ self.means) / a])
            rss = self.within + float(v @ (self.means - b[0]) ** 2)
            return w, np.array([[a]]), np.array([[np.sqrt(a)]]), b, rss
        q = self.Tyy - float(np.sum(w * s.sum_y ** 2))
        A = self.Txx - np.einsum("j,jk,jl->kl", w, s.sum_x, s.sum_x)
        c = self.Txy - (w * s.sum_y) @ s.sum_x
        # numpy, not scipy.linalg's checked wrappers: for a p x p system their overhead was most
        # of the cost of the ~10 score evaluations of every fit (every bootstrap replicate fits four)
        chol = np.linalg.cholesky(A)  # refuses a matrix that is not positive definite, as cho_factor did
        b = np.linalg.solve(A, c)
        rss = q - float(c @ b)
        return w, A, chol, b, rss

    def dof(self) -> float:
        """Degrees of freedom of the residual variance: N - p under REML, N under ML."""
        return self.N - self.p if self.reml else self.N

    def loglik(self, g: float) -> float:
        """The profiled log-likelihood at one ``g`` (``logliks`` does many at once)."""
        return float(self.logliks(np.array([g], dtype=float))[0])

    def logliks(self, gs: np.ndarray) -> np.ndarray:
        """The profiled log-likelihood at every g of ``gs`` at once (the grid search's 121
        points in a few array operations instead of 121 rounds of small LAPACK calls)."""
        s = self.s
        w = gs[:, None] / (1.0 + gs[:, None] * s.n[None, :])
        d = self.dof()
        if self.p == 1:
            # Intercept only (the smoothing of every replicate): A, c and b are scalars per g, and
            # three products with the groups' sums replace the stacked 1 x 1 factorisations.
            v = s.n[None, :] / (1.0 + gs[:, None] * s.n[None, :])  # stable forms, as in ``parts``
            A = v.sum(axis=1)
            b = (v @ self.means) / A
            rss = self.within + np.sum(v * (self.means[None, :] - b[:, None]) ** 2, axis=1)
            if (A <= 0).any():
                raise np.linalg.LinAlgError("Matrix is not positive definite")
            log_det = np.log(A)
        else:
            A = self.Txx[None] - np.einsum("gj,jk,jl->gkl", w, s.sum_x, s.sum_x)
            c = self.Txy[None] - (w * s.sum_y) @ s.sum_x
            q = self.Tyy - np.sum(w * s.sum_y ** 2, axis=1)
            chol = np.linalg.cholesky(A)
            b = np.linalg.solve(A, c[..., None])[..., 0]
            rss = q - np.sum(c * b, axis=1)
            log_det = 2 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        val = d * (np.log(2 * np.pi * rss / d) + 1) + np.sum(np.log1p(gs[:, None] * s.n[None, :]), axis=1)
        if self.reml:
            val += log_det
        return -0.5 * val

    def score_log_g(self, t: float) -> float:
        """d loglik / d log g, analytic (envelope theorem on b), for an exact root."""
        g = np.exp(t)
        s = self.s
        w, A, _, b, rss = self.parts(g)
        dw = 1.0 / (1.0 + g * s.n) ** 2
        resid = s.sum_y - s.sum_x @ b
        drss = -float(np.sum(dw * resid ** 2))
        dl = self.dof() * drss / rss + np.sum(s.n / (1.0 + g * s.n))
        if self.reml and self.p == 1:
            dl -= float(dw @ (s.n * s.n)) / A[0, 0]
        elif self.reml:
            # p x p inverse then einsum: a many-column triangular solve goes through
            # threaded BLAS, which is slow on a busy machine for such small matrices
            Ainv = np.linalg.inv(A)
            dl -= float(np.sum(dw * np.einsum("jk,kl,jl->j", s.sum_x, Ainv, s.sum_x)))
        return -0.5 * dl * g


def _validate(sums: GroupSums) -> None:
    J = len(sums.groups)
    name = sums.groups.name or "group"
    if J == 0:
        raise CamsisError(f"no rows left to fit after dropping {sums.dropped_missing} with missing values")
    if J == 1:
        raise CamsisError(f"group variable {name!r} has a single category ({sums.groups.tolist()[0]!r}); "
                          "ESRES needs at least two")
    if (sums.n_rows < 2).all():
        raise CamsisError(f"every category of {name!r} has fewer than two rows; "
                          "the within-category variance cannot be estimated")
    culprit = _first_collinear(sums.sum_xx.sum(axis=0))
    if culprit is not None:
        before = ", ".join(["the intercept", *sums.names[1:culprit]])
        raise CamsisError(f"control {sums.names[culprit]!r} is constant or collinear with {before}; drop it")
    if sums.n.sum() <= len(sums.names):
        raise CamsisError(f"{sums.n.sum():g} observations cannot fit {len(sums.names)} fixed effects")


def _first_collinear(Txx: np.ndarray) -> int | None:
    """Index of the first regressor lying (numerically) in the span of those before it:
    its residual sum of squares after projecting on them is a tiny share of its own."""
    for k in range(1, len(Txx)):
        own = Txx[k, k]
        resid = own - Txx[k, :k] @ np.linalg.solve(Txx[:k, :k], Txx[:k, k])
        if not own > 0 or resid <= 1e-12 * own:
            return k
    return None


def _optimise(prof: _Profile) -> float:
    """Variance ratio maximising the profiled likelihood: grid over log g, exact root of
    the score in the best bracket, then compared with g = 0 (the OLS fit)."""
    n = prof.s.n[prof.s.n > 0]
    lo, hi = np.log(1e-10 / n.max()), np.log(1e10 / n.min())
    grid = np.linspace(lo, hi, _GRID_POINTS)
    vals = prof.logliks(np.exp(grid))
    k = int(np.nanargmax(vals))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    fa, fb = prof.score_log_g(a), prof.score_log_g(b)
    if fa > 0 > fb:
        t = optimize.brentq(prof.score_log_g, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps)
    else:
        t = optimize.minimize_scalar(lambda t: -prof.loglik(np.exp(t)), bounds=(a, b),
                                     method="bounded", options={"xatol": 1e-12}).x
    g = float(np.exp(t))
    if prof.loglik(0.0) >= prof.loglik(g) or g * n.max() <= 1e-9:
        return 0.0
    if k == len(grid) - 1:
        log.warning("the category variance ratio reached its upper search bound (g = %g)", g)
    return g


def fit_from_sums(sums: GroupSums, reml: bool = True) -> ESRESResult:
    """REML (or ML) random-intercept fit and per-category BLUPs from sufficient statistics."""
    _validate(sums)
    prof = _Profile(sums, reml)
    g = _optimise(prof)
    w, A, _, b, rss = prof.parts(g)
    s2 = rss / prof.dof()
    cov = s2 * np.linalg.inv(A)
    s2_u = g * s2
    lam = g * sums.n / (1.0 + g * sums.n)
    blup = w * (sums.sum_y - sums.sum_x @ b)
    boundary = g == 0.0
    name = sums.groups.name or "group"
    if boundary:
        log.warning("the variance of %r is estimated as zero (boundary fit): "
                    "esres falls back to the fixed part", name)
    with np.errstate(invalid="ignore", divide="ignore"):
        eps = np.where(sums.n > 0, sums.sum_y / sums.n, np.nan)
    scores = pd.DataFrame({
        name: sums.groups.to_numpy(),
        "n": sums.n,
        "eps": eps,
        "esres": b[0] + blup,
        "esres_se": np.sqrt(s2 * w),
        "lambda": lam,
    })
    summary = _summary(sums, b, np.sqrt(np.diag(cov)), s2_u, s2, prof.loglik(g), boundary, reml, "fast")
    return ESRESResult(scores=scores, summary=summary)


def _fixed(names, b, se) -> dict:
    return {k: {"coef": float(c), "se": float(e)} for k, c, e in zip(names, b, se)}


def ols_from_sums(sums: GroupSums) -> dict:
    """The single-level (OLS) fit, as `regress` reports it: coefficients, SEs with
    s2 = RSS / (N - p), and the ML log-likelihood (the g = 0 point of the ML profile)."""
    _validate(sums)
    prof = _Profile(sums, reml=False)
    _, A, _, b, rss = prof.parts(0.0)
    s2 = rss / (prof.N - prof.p)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(A)))
    return {
        "fixed": _fixed(sums.names, b, se),
        "sigma_e": float(np.sqrt(s2)),
        "loglik": prof.loglik(0.0),
        "n": float(prof.N),
        "n_rows": int(sums.n_rows.sum()),
    }


def _summary(sums, b, se, s2_u, s2, loglik, boundary, reml, engine) -> dict:
    return {
        "fixed": _fixed(sums.names, b, se),
        "sigma_u": float(np.sqrt(s2_u)),
        "sigma_e": float(np.sqrt(s2)),
        "icc": float(s2_u / (s2_u + s2)),
        "loglik": float(loglik),
        "n": float(sums.n.sum()),
        "n_rows": int(sums.n_rows.sum()),
        "groups": int(len(sums.groups)),
        "boundary": bool(boundary),
        "reml": bool(reml),
        "dropped_missing": int(sums.dropped_missing),
        "engine": engine,
    }


def _fit_statsmodels(data, outcome, group, controls, weights, reml) -> ESRESResult:
    """The same model through statsmodels MixedLM on (expanded) rows, for checking."""
    # Lazy: statsmodels is slower to import than pandas, and only this checking engine uses it.
    from statsmodels.regression.mixed_linear_model import MixedLM

    sums = GroupSums.from_frame(data, outcome, group, controls, weights)
    _validate(sums)
    cols = [outcome, group, *controls] + ([weights] if weights else [])
    rows = data[cols].dropna(subset=[outcome, group, *controls])
    if weights:
        w = rows[weights].to_numpy(dtype=float)
        if not np.all(w == np.round(w)):
            raise CamsisError(f"engine='statsmodels' needs integer frequency weights; {weights!r} has fractions")
        rows = rows.loc[rows.index.repeat(w.astype(np.int64))]
    codes = pd.Index(sums.groups).get_indexer(rows[group])
    X = np.column_stack([np.ones(len(rows))] + [rows[c].to_numpy(dtype=float) for c in controls])
    y = rows[outcome].to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = MixedLM(y, X, groups=codes).fit(reml=reml, method=["bfgs", "lbfgs"], gtol=1e-10)
    s2 = float(fit.scale)
    s2_u = float(np.asarray(fit.cov_re).ravel()[0])
    b = np.asarray(fit.fe_params)
    se = np.asarray(fit.bse_fe)
    re = fit.random_effects
    recov = fit.random_effects_cov
    blup = np.array([float(np.asarray(re[j])[0]) for j in range(len(sums.groups))])
    post = np.array([float(np.asarray(recov[j]).ravel()[0]) for j in range(len(sums.groups))])
    lam = s2_u * sums.n / (s2_u * sums.n + s2)
    name = sums.groups.name or "group"
    scores = pd.DataFrame({
        name: sums.groups.to_numpy(), "n": sums.n, "eps": sums.sum_y / sums.n,
        "esres": b[0] + blup, "esres_se": np.sqrt(np.clip(post, 0, None)), "lambda": lam,
    })
    boundary = s2_u <= 0
    summary = _summary(sums, b, se, s2_u, s2, float(fit.llf), boundary, reml, "statsmodels")
    return ESRESResult(scores=scores, summary=summary)


def esres(data: pd.DataFrame, outcome: str, group: str, controls: list[str] | None = None,
          weights: str | None = None, reml: bool = True, engine: str = "fast",
          within: list[str] | None = None) -> ESRESResult | NestedResult:
    """Effect scores of the categories of `group` for `outcome`, net of `controls`.

    engine="fast" fits from per-category sums; engine="statsmodels" fits MixedLM on
    the rows (frequency weights expanded), to check the fast engine. ``within`` names the
    variables `group` nests in, finest first (pupils' schools within local authorities:
    ``group="school", within=["la"]``): each is a further random intercept, and a category's
    ESRES is the intercept plus the posterior of its own and its groups' effects
    (``fit_nested``; fast engine only).
    """
    controls = list(controls or [])
    if within:
        if engine != "fast":
            raise CamsisError(f"engine {engine!r} fits one level only; nested groups (within) use engine='fast'")
        return fit_nested(NestedSums.from_frame(data, outcome, [group, *within], controls, weights), reml=reml)
    if engine == "fast":
        return fit_from_sums(GroupSums.from_frame(data, outcome, group, controls, weights), reml=reml)
    if engine == "statsmodels":
        return _fit_statsmodels(data, outcome, group, controls, weights, reml)
    raise CamsisError(f"unknown engine {engine!r}; use 'fast' or 'statsmodels'")


# --- Nested random effects: units within groups within groups -------------------------------


@dataclass
class NestedSums:
    """Sufficient statistics of a nested random-intercept model.

    y_i = x_i'b + u1_unit(i) + u2_group(i) + ... + e_i, each level's effects N(0, g_k s2) and
    independent, e_i ~ N(0, s2). The per-unit sums of ``sums`` and the nesting are all the
    REML/ML fit and the posteriors need (docs/smoothing.md).

    Attributes
    ----------
    sums
        per-unit sums (``GroupSums``; its regressors are the fixed effects).
    labels
        node labels per random level, finest first: ``labels[0]`` is ``sums.groups``.
    parents
        ``parents[k][a]``: position in ``labels[k + 1]`` of the group of node ``a`` of level ``k``.
    """

    sums: GroupSums
    labels: list
    parents: list

    @classmethod
    def from_units(cls, sums: GroupSums, groups: list) -> NestedSums:
        """Nest the units of ``sums`` in ``groups``: per random level above the units (finest
        first), each unit's group label in the order of ``sums.groups``.

        A group must lie in one group of the next level up (the levels nest); a unit
        without a group at a level is refused, naming the level.
        """
        labels, parents = [sums.groups], []
        below = np.arange(len(sums.groups))  # each unit's node at the level below the one read
        for k, column in enumerate(groups):
            column = column if isinstance(column, pd.Series) else pd.Series(np.asarray(column))
            name = column.name if column.name is not None else f"level{k + 2}"
            if len(column) != len(sums.groups):
                raise ValueError(f"{len(column)} group labels for {len(sums.groups)} units")
            if column.isna().any():
                raise CamsisError(f"{int(column.isna().sum())} unit(s) have no {name!r} group; "
                                  "every unit needs a group at every nested level")
            codes, uniques = pd.factorize(column, sort=True)
            parent = np.full(len(labels[-1]), -1, dtype=np.int64)
            parent[below] = codes
            clash = parent[below] != codes
            if clash.any():
                raise CamsisError(f"{labels[-1].name or 'a group'} {labels[-1][below[clash][0]]!r} lies in more than one "
                                  f"{name!r} group: nested levels must nest")
            labels.append(pd.Index(uniques, name=name))
            parents.append(parent)
            below = codes
        return cls(sums, labels, parents)

    @classmethod
    def from_frame(cls, data: pd.DataFrame, outcome: str, groups: list[str], controls: list[str] | None = None,
                   weights: str | None = None) -> NestedSums:
        """Sums from rows: ``groups`` names the unit variable first, then the groups it nests in."""
        unit, above = groups[0], list(groups[1:])
        _check_columns(data, [*groups, outcome])
        complete = data.dropna(subset=above) if above else data
        sums = GroupSums.from_frame(complete, outcome, unit, controls, weights)
        sums.dropped_missing += len(data) - len(complete)
        first = complete.drop_duplicates(unit).set_index(unit)
        for name in above:
            spread = complete.groupby(unit, sort=False)[name].nunique()
            if (spread > 1).any():
                raise CamsisError(f"{unit} {shown(spread.index[spread > 1][0])} lies in more than one {name!r} "
                                  "group: nested levels must nest")
        return cls.from_units(sums, [first[name].reindex(sums.groups).rename(name) for name in above])


@dataclass
class NestedResult:
    """A fitted nested random-intercept model.

    Attributes
    ----------
    scores
        one row per unit: the unit column, ``n``, ``eps`` (the unit's mean), ``esres`` (fixed
        part at zero controls plus the posterior mean of the unit's and its groups' effects),
        ``esres_se`` (posterior SD of that sum), ``lambda`` (the unit level's shrinkage
        g n / (1 + g n)), ``effect`` and ``effect_se`` (the unit's own effect and its SD).
    groups
        per random level above the units (finest first), one row per group: ``group``,
        ``n``, ``effect``, ``effect_se`` (the group's own effect, lme4's condVar), ``path``,
        ``path_se`` (the posterior of the sum of its and its ancestors' effects, which a
        unit of the group without data of its own takes).
    summary
        as ``ESRESResult.summary``, plus ``levels``: per random level, finest first,
        ``name``, ``sigma``, ``groups`` and ``boundary``; ``sigma_u`` is the unit level's.
    coef
        the fixed effects, in the order of ``summary["fixed"]``.
    ratios
        the variance ratios g_k = s2_k / s2 per random level, finest first.
    sigma_e
        the residual SD.
    """

    scores: pd.DataFrame
    groups: list
    summary: dict
    coef: np.ndarray = None
    ratios: np.ndarray = None
    sigma_e: float = np.nan


class _NestedProfile:
    """The likelihood profiled over b and s2, as a function of the variance ratios g_k = s2_k / s2.

    The marginal covariance is block diagonal by top group; Woodbury applied level by level
    (units, then their groups, ...) turns every cross-product Z'V^-1 Z of z = (x, y), the
    log-determinant and the gradient into sums over the levels' nodes.
    """

    def __init__(self, nested: NestedSums, reml: bool):
        s = nested.sums
        self.reml = reml
        self.p = len(s.names)
        self.N = float(s.n.sum())
        self.n = s.n
        self.z = np.concatenate([s.sum_x, s.sum_y[:, None]], axis=1)
        p = self.p
        zz = np.empty((p + 1, p + 1))
        zz[:p, :p] = s.sum_xx.sum(axis=0)
        zz[:p, p] = zz[p, :p] = s.sum_xy.sum(axis=0)
        zz[p, p] = s.sum_yy.sum()
        self.zz = zz
        self.sizes = [len(labels) for labels in nested.labels]
        self.parents = nested.parents
        self.up = [sparse.csr_matrix((np.ones(len(par)), (par, np.arange(len(par)))), shape=(size, len(par)))
                   for par, size in zip(nested.parents, self.sizes[1:])]
        # The largest node's weight per level: a ratio g with g x that below 1e-4 is no variance.
        self.largest = np.array([float(M.max()) for M, _, _ in self.levels(np.zeros(len(self.sizes)))])

    def dof(self) -> float:
        return self.N - self.p if self.reml else self.N

    def levels(self, g: np.ndarray):
        """Per level: the node sums M (of 1'D^-1 1) and T (of 1'D^-1 z) before the level's own effect, and 1 / (1 + g M)."""
        out = []
        M, T = self.n, self.z
        for k, gk in enumerate(g):
            f = 1.0 / (1.0 + gk * M)
            out.append((M, T, f))
            if k < len(self.up):
                M, T = self.up[k] @ (M * f), self.up[k] @ (T * f[:, None])
        return out

    def parts(self, g: np.ndarray):
        """GLS solution at ``g``: (levels, A, b, rss, log det V)."""
        levels = self.levels(g)
        q = self.zz.copy()
        log_det = 0.0
        for gk, (M, T, f) in zip(g, levels):
            if gk > 0:
                q -= (T * (gk * f)[:, None]).T @ T
                log_det -= float(np.sum(np.log(f)))
        p = self.p
        A = q[:p, :p]
        b = np.linalg.solve(A, q[:p, p])
        rss = float(q[p, p] - q[:p, p] @ b)
        return levels, A, b, rss, log_det

    def deviance(self, g: np.ndarray) -> float:
        """-2 x the profiled (restricted) log-likelihood."""
        return self.evaluate(g, gradient=False)[0]

    def gradient(self, g: np.ndarray) -> np.ndarray:
        """d deviance / d g_k (see ``evaluate``)."""
        return self.evaluate(g)[1]

    def evaluate(self, g: np.ndarray, gradient: bool = True):
        """The deviance and, analytic, its gradient in g: the full-V quantities e_a'V^-1 z and
        e_a'V^-1 e_a of every node a, walked up its ancestors (b and s2 at their optimum:
        envelope theorem). One pass over the levels serves both."""
        levels, A, b, rss, log_det = self.parts(g)
        p, d = self.p, self.dof()
        if not rss > 0:
            return np.inf, np.full(len(g), np.nan)
        dev = d * (np.log(2 * np.pi * rss / d) + 1) + log_det
        Ainv = None
        if self.reml:
            chol = np.linalg.cholesky(A)
            dev += 2 * float(np.sum(np.log(np.diag(chol))))
            Ainv = np.linalg.inv(A) if gradient else None
        if not gradient:
            return float(dev), None
        beta = np.append(-b, 1.0)  # z @ beta = y - x'b
        grad = np.empty(len(g))
        for k, (M, T, f) in enumerate(levels):
            E = T * f[:, None]
            phi = M * f
            H = phi.copy()
            node = np.arange(len(M))
            for j in range(k + 1, len(levels)):
                node = self.parents[j - 1][node]
                _, Tj, fj = levels[j]
                dj = g[j] * fj[node]
                E -= (dj * phi)[:, None] * Tj[node]
                H -= dj * phi ** 2
                phi = phi * fj[node]
            resid = E @ beta
            val = -d * float(resid @ resid) / rss + float(H.sum())
            if self.reml:
                Ex = E[:, :p]
                val -= float(np.sum((Ex @ Ainv) * Ex))
            grad[k] = val
        return float(dev), grad


def _optimise_nested(prof: _NestedProfile, start: np.ndarray) -> np.ndarray:
    """Variance ratios minimising the deviance over g >= 0.

    Newton steps in log g on the ratios off the boundary, with the analytic gradient and a
    Hessian from its differences, halved until the deviance falls; a ratio whose steps take it
    below any meaningful size is set to exactly 0 (the boundary), and one at 0 is freed again
    when the deviance falls as it leaves 0 (d deviance / d g < 0 there). Converged when the
    gradient in log g is below 1e-9 on the free ratios and no bound ratio wants to leave.
    """
    tiny = 1e-9 / max(float(prof.n.max()), 1.0)
    g = np.array(start, dtype=float)
    free = g > 0
    dev, grad = prof.evaluate(g)
    for _ in range(200):
        # Newton in log g only creeps toward a boundary optimum: a ratio too small to matter that
        # the deviance would lower is tried at exactly 0, and kept there if that is no worse.
        for k in np.flatnonzero(free & (g * prof.largest < 1e-4) & (grad > 0)):
            trial = g.copy()
            trial[k] = 0.0
            trial_dev, trial_grad = prof.evaluate(trial)
            if trial_grad[k] >= 0 and trial_dev <= dev + 1e-12 * abs(dev):
                g, dev, grad = trial, trial_dev, trial_grad
        free = g > 0
        if free.any():
            t = np.log(g[free])
            grad_t = grad[free] * g[free]
            if np.max(np.abs(grad_t)) < 1e-9:
                step = None
            else:
                h = 1e-6
                hess = np.empty((len(t), len(t)))
                for i in range(len(t)):
                    moved = g.copy()
                    moved[np.flatnonzero(free)[i]] *= np.exp(h)
                    hess[:, i] = (prof.gradient(moved)[free] * moved[free] - grad_t) / h
                # Newton's step where the Hessian is positive definite; elsewhere its eigenvalues
                # by their size (a descent direction scaled by the curvature), at most 3 long.
                values, vectors = np.linalg.eigh((hess + hess.T) / 2)
                values = np.maximum(np.abs(values), 1e-6 * max(1.0, float(np.max(np.abs(values)))))
                step = -vectors @ ((vectors.T @ grad_t) / values)
                step *= min(1.0, 3.0 / float(np.max(np.abs(step))))
        else:
            step = None
        if step is not None:
            while True:
                trial = g.copy()
                trial[free] = np.exp(t + step)
                trial[trial < tiny] = 0.0
                trial_dev, trial_grad = prof.evaluate(trial)
                if trial_dev <= dev + 1e-12 * abs(dev) or np.max(np.abs(step)) < 1e-12:
                    break
                step = step / 2
            g, dev, grad = trial, trial_dev, trial_grad
            free = g > 0
            if np.max(np.abs(step)) > 1e-10:
                continue
        # Does a ratio at 0 want to leave the boundary?
        leave = (~free) & (grad < -1e-9 * max(1.0, abs(dev)))
        if not leave.any():
            break
        g[leave] = 1.0 / max(float(np.mean(prof.n)), 1.0)
        free = g > 0
        dev, grad = prof.evaluate(g)
    return g


def _nested_start(nested: NestedSums) -> np.ndarray:
    """A start: each level's variance as large as the residual's over a typical unit's weight."""
    return np.full(len(nested.labels), 1.0 / max(float(np.mean(nested.sums.n)), 1.0))


def fit_nested(nested: NestedSums, reml: bool = True, start: np.ndarray | None = None) -> NestedResult:
    """REML (or ML) fit of the nested random-intercept model and the posteriors of every unit and group.

    Posteriors are those lme4 reports (condVar): given the data at the estimated fixed
    effects and variances. A unit's score is its fixed part plus the posterior mean of the
    sum of its own and its groups' effects, and its SD that of the sum.
    """
    sums = nested.sums
    _validate(sums)
    prof = _NestedProfile(nested, reml)
    g = _optimise_nested(prof, _nested_start(nested) if start is None else np.asarray(start, float))
    levels, A, b, rss, _ = prof.parts(g)
    s2 = rss / prof.dof()
    cov = s2 * np.linalg.inv(A)
    beta = np.append(-b, 1.0)
    # Top down: given the sum U of its ancestors' effects, a node's effect is
    # N(g (T.r - U M) / (1 + g M), s2 g / (1 + g M)) (M, T before its own effect).
    posts = []
    above_mean = above_var = 0.0
    for k in range(len(levels) - 1, -1, -1):
        M, T, f = levels[k]
        if k < len(levels) - 1:
            above_mean, above_var = path_mean[nested.parents[k]], path_var[nested.parents[k]]
        shrink = g[k] * M * f
        own_mean = g[k] * f * (T @ beta)
        own_var = g[k] * f
        effect = own_mean - shrink * above_mean
        effect_var = own_var + shrink ** 2 * above_var
        path_mean = above_mean + effect
        path_var = own_var + (1 - shrink) ** 2 * above_var
        posts.append((M, effect, effect_var, path_mean, path_var, shrink))
    posts = posts[::-1]
    M, effect, effect_var, path_mean, path_var, shrink = posts[0]
    name = sums.groups.name or "group"
    with np.errstate(invalid="ignore", divide="ignore"):
        eps = np.where(sums.n > 0, sums.sum_y / sums.n, np.nan)
    scores = pd.DataFrame({
        name: sums.groups.to_numpy(), "n": sums.n, "eps": eps,
        "esres": b[0] + path_mean, "esres_se": np.sqrt(s2 * path_var), "lambda": shrink,
        "effect": effect, "effect_se": np.sqrt(s2 * effect_var),
    })
    for k in range(1, len(levels)):  # each unit's group at every level, named by its variable
        scores[nested.labels[k].name or f"level{k + 1}"] = nested.labels[k].to_numpy()[_node_of_units(nested, k)]
    groups = []
    for k in range(1, len(levels)):
        _, eff, eff_var, pm, pv, _ = posts[k]
        groups.append(pd.DataFrame({
            "group": nested.labels[k].to_numpy(), "n": np.bincount(_node_of_units(nested, k), weights=sums.n,
                                                                    minlength=len(nested.labels[k])),
            "effect": eff, "effect_se": np.sqrt(s2 * eff_var), "path": pm, "path_se": np.sqrt(s2 * pv),
        }))
    boundary = g == 0.0
    summary = _summary(sums, b, np.sqrt(np.diag(cov)), g[0] * s2, s2, -0.5 * prof.deviance(g),
                       bool(boundary.all()), reml, "nested")
    summary["levels"] = [{"name": str(labels.name or f"level{k + 1}"), "sigma": float(np.sqrt(gk * s2)),
                          "groups": int(len(labels)), "boundary": bool(gk == 0.0)}
                         for k, (labels, gk) in enumerate(zip(nested.labels, g))]
    for level in summary["levels"]:
        if level["boundary"]:
            log.warning("the variance of %r is estimated as zero (boundary fit)", level["name"])
    return NestedResult(scores=scores, groups=groups, summary=summary, coef=b, ratios=g, sigma_e=float(np.sqrt(s2)))


def _node_of_units(nested: NestedSums, level: int) -> np.ndarray:
    """Each unit's node at random level ``level`` (0: the unit itself)."""
    node = np.arange(len(nested.labels[0]))
    for k in range(level):
        node = nested.parents[k][node]
    return node

"""Cox LASSO path and cross-validation, matched to R's glmnet (``family = "cox"``).

Reproduces::

    fit <- glmnet::glmnet(x, Surv(time, event), family = "cox", alpha = 1, standardize = TRUE)
    cv  <- glmnet::cv.glmnet(x, Surv(time, event), family = "cox", foldid = foldid,
                             type.measure = "deviance")          # grouped = TRUE default

Problem solved at each lambda (glmnet's objective, Breslow ties)::

    minimise  -loglik_Breslow(beta) / n + lambda * sum_j sd_j |beta_j|,
    sd_j = sqrt(mean((x_j - mean x_j)^2))   (standardize = TRUE; 1 otherwise)

Coefficients are returned on the original scale of ``X``. Censored times tied
with an event time are in that event's risk set (the Breslow convention; glmnet
4.1-6 gets this right only for times < ~128, see the reference README: pass
days, this code does not need the time/365.25 workaround).

Algorithm. Pathwise, warm-started along the lambda path with sequential
strong rules and a KKT check over all columns, as glmnet's coxnet, but each
fit is a proximal Newton method rather than coordinate descent: (1) the
quadratic model uses the exact Hessian of the partial likelihood on the
working set; (2) its lasso problem is solved exactly by an active-set method
(feature-sign search: Cholesky solves on the active set and signs), not by
coordinate passes; (3) an Armijo line search on the penalised objective sets
the step; (4) a Hessian is reused while its steps shrink fast. A fit has
converged when a step moves less than glmnet's ``max_j H_jj step_j^2 < thresh
* null deviance`` and either that step was a true Newton step (Hessian at its
starting point; such a step is taken whole, since at that size the line
search would only compare rounding errors) or the KKT conditions on the
working set hold to 1e-10 of lambda (a certificate that needs no new
Hessian). The default ``thresh = 1e-14`` gives the converged optimum (KKT
violations below ~1e-12 of lambda at every lambda of the reference path),
which R only approaches with ``thresh = 1e-20`` (``fixed_lambda_tight`` in
the reference). Fits at glmnet's default ``thresh = 1e-7`` differ from that
optimum by up to ~1e-3 absolute, so they are *not* reproduced digit for digit
(and should not be). Coordinate descent, glmnet's and that of the compiled
engines adelie and scikit-survival, crawls on strongly collinear columns (x,
x^2 and products; radiomics features) and in the p > n tail of the path,
where it stops far from the optimum at its default tolerance; the Newton steps
do not. The loops are compiled with numba (:mod:`._coxnet_kernel`; the
same steps in numpy spent 90% of their time in the interpreter); BLAS runs on
one thread during the fits, so results are bitwise identical whatever the
machine's core count. Rows identical in X, time and event (a bootstrap
resample's copies of a patient) are fitted as one row with a case weight,
which leaves the likelihood, its derivatives and glmnet's standardisation as
they are.

Lambda path (glmnet's default): ``lambda_max = max_j |x_j' (d - H0)| / n`` on
the standardised x (the gradient at beta = 0), ``nlambda = 100`` values
log-spaced down to ``lambda_min_ratio * lambda_max`` with
``lambda_min_ratio = 1e-4`` if n > p else ``1e-2`` (glmnet's default; note the
direction of the rule). The path stops early, as glmnet's Fortran does, once
at least 5 lambdas are done and the deviance ratio grew by less than
``100 * fdev = 1e-3`` (relative) over the last 4 steps, or exceeds 0.99.
Because the reference path was fitted at thresh = 1e-7, its stopping point can
differ by one lambda from the converged path (R gives 70 vs 69 here). A lambda
whose fit diverges (nearly separable data: the partial likelihood overflows) or
does not converge ends the path with a ``RuntimeWarning`` and the solutions for
the larger lambdas are returned, as glmnet does ("Numerical error at kth lambda
value; solutions for larger values of lambda returned").

Cross-validation (cv.glmnet's default for Cox, ``grouped = TRUE``): each fold k
is refitted on the other folds with *its own* default lambda path (cv.glmnet
4.x does not pass the full-data lambdas to the folds unless the user gave
them: in ``cv.glmnet.raw`` the line ``lambda = glmnet.object$lambda`` is
commented out "so each call generates its own lambda sequence"; fitting the
folds on the full-data lambdas instead misses R's ``cv_tight`` cvm by 2e-4 and
cvsd by 1%, see the tests) and its coefficients at the full-data lambdas are taken by glmnet's
linear interpolation in lambda (clamped at the ends of the fold's path);
``cvraw[k, l] = (D_full(beta_kl) - D_train(beta_kl)) / (events in fold k)``
with glmnet 4.1's ``coxnet.deviance`` ``D = 2 (loglik_sat - loglik_Breslow)``,
``loglik_sat = -sum_k d_k log d_k`` (tied deaths), on the whole data and on the
training part (the saturated terms differ between the two, so they matter);
``cvm`` is the events-weighted mean over folds and ``cvsd`` the
events-weighted SD divided by sqrt(K - 1). ``lambda_min`` is the largest
lambda attaining min(cvm); ``lambda_1se`` the largest lambda with
``cvm <= cvm[min] + cvsd[min]``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from . import _coxnet_kernel as _kernel
from ._checks import as_1d_float, check_survival

__all__ = ["LassoCoxPath", "LassoCoxCV", "lasso_cox_path", "lasso_cox_cv"]

# glmnet.control() defaults used by coxnet
_FDEV = 1e-5  # coxnet multiplies it by 100
_DEVMAX = 0.999  # coxnet rescales it to 0.99
_MNLAM = 5
_EPS_FLMIN = 1e-6


class _FitError(RuntimeError):
    """A fit at one lambda that cannot be completed (divergence, no convergence)."""


def _one_blas_thread():
    """BLAS on one thread while fitting: with more threads OpenBLAS splits the
    products differently and the last bits of the coefficients change with the
    machine's core count; the matrices here are small enough that one thread
    is also the fastest."""
    return threadpool_limits(limits=1, user_api="blas")


# ---------------------------------------------------------------------------
# Breslow partial likelihood on time-sorted data
# ---------------------------------------------------------------------------


class _Breslow:
    """Breslow log partial likelihood and its gradient on sorted data (the compiled
    functions of :mod:`._coxnet_kernel`).

    Observation weights are 1/n, as glmnet normalises them, so the scaled
    log-likelihood is ``loglik / n`` up to an additive constant. A row may stand
    for ``w_i`` identical patients (case weights, e.g. a bootstrap resample's
    copies): its weight is then ``w_i / n`` with ``n = sum(w)``, which gives the
    likelihood of the rows written out ``w_i`` times.
    """

    def __init__(self, time_sorted: np.ndarray, event_sorted: np.ndarray, weights_sorted: np.ndarray | None = None):
        w = np.ones(time_sorted.size) if weights_sorted is None else np.asarray(weights_sorted, float)
        n = float(w.sum())
        self.rows = time_sorted.size
        self.n = n
        self.q = 1.0 / n
        self.qw = np.ascontiguousarray(w * self.q)
        ev = event_sorted.astype(bool)
        self.dq = np.ascontiguousarray(ev * self.qw)
        self.t_event = np.unique(time_sorted[ev])  # distinct event times t_k
        # first sorted position in the risk set of t_k: T >= t_k
        self.first = np.searchsorted(time_sorted, self.t_event, side="left").astype(np.int64)
        # number of event times <= T_i: index into cumulative sums over k
        self.k_of = np.searchsorted(self.t_event, time_sorted, side="right").astype(np.int64)
        d_count = np.bincount(np.searchsorted(self.t_event, time_sorted[ev]), weights=w[ev],
                              minlength=self.t_event.size)
        self.d_count = d_count.astype(float)
        self.D = self.d_count * self.q  # weighted deaths per event time (glmnet's dk)

    def eval(self, eta: np.ndarray):
        """Scaled loglik, exp weights, b, risk-set sums and the gradient w.r.t. eta."""
        return _kernel.breslow_eval(np.ascontiguousarray(eta, dtype=float), self.qw, self.first, self.k_of,
                                    self.D, self.dq)

    def loglik(self, eta: np.ndarray) -> float:
        return _kernel.breslow_loglik(np.ascontiguousarray(eta, dtype=float), self.qw, self.first, self.D, self.dq)

    def null_quantities(self):
        """glmnet's r0 (scaled null loglik) and dev0 = -(sum dk log dk + r0)."""
        r0 = self.loglik(np.zeros(self.rows))
        dev0 = -(float(self.D @ np.log(self.D)) + r0)
        return r0, dev0


def _breslow_saturated_loglik(time: np.ndarray, event: np.ndarray) -> float:
    """Saturated Breslow log-likelihood -sum_k d_k log d_k (d_k = deaths tied at t_k)."""
    _, d = np.unique(time[event == 1], return_counts=True)
    return float(-np.sum(d * np.log(d)))


def _breslow_deviance_matrix(time, event, eta) -> np.ndarray:
    """glmnet 4.1's coxnet.deviance: 2 (loglik_saturated - loglik) per column of eta."""
    return 2.0 * (_breslow_saturated_loglik(time, event) - _breslow_loglik_matrix(time, event, eta))


def _breslow_loglik_matrix(time: np.ndarray, event: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Unscaled Breslow log partial likelihood for each column of eta (n x L)."""
    o = np.argsort(time, kind="mergesort")
    ts, es, E = time[o], event[o].astype(bool), eta[o]
    t_event = np.unique(ts[es])
    first = np.searchsorted(ts, t_event, side="left")
    d = np.bincount(np.searchsorted(t_event, ts[es]), minlength=t_event.size).astype(float)
    m = E.max(axis=0)
    S = np.cumsum(np.exp(E - m)[::-1], axis=0)[::-1][first]
    return E[es].sum(axis=0) - d @ (np.log(S) + m)


# ---------------------------------------------------------------------------
# Solver
# ---------------------------------------------------------------------------

_FAILURES = {
    _kernel.OVERFLOW: ("the partial likelihood overflowed at lambda={lam!r}: the data are (nearly) separable "
                       "there and the coefficients diverge; use a larger lambda_min_ratio or fewer columns"),
    _kernel.NO_CONVERGENCE: "no convergence at lambda={lam!r} in {max_iter} iterations",
    _kernel.QP_STALL: "the quadratic subproblem made no progress at lambda={lam!r}",
    _kernel.QP_MAX_STEPS: "the quadratic subproblem did not converge at lambda={lam!r}",
}


class _CoxLassoSolver:
    """Standardised design and warm-started fits at arbitrary lambdas.

    Each fit at a lambda is proximal Newton on a working set (see the module
    docstring and :func:`._coxnet_kernel.solve_lambda`): the quadratic model uses
    the exact Hessian of the partial likelihood, its lasso problem is solved
    exactly by feature-sign search, and an Armijo line search on the penalised
    objective sets the step. A Hessian is reused (also from the previous lambda)
    while the steps it gives shrink fast; convergence is only declared on a true
    Newton step, with glmnet's rule ``max_j H_jj step_j^2 < thresh * null
    deviance``. The working set starts from the sequential strong rule and grows
    by every KKT violator.
    """

    def __init__(self, X, time, event, standardize=True, thresh=1e-14, max_iter=100_000, weights=None):
        o = np.argsort(time, kind="mergesort")
        self.order = o
        Xs = X[o]
        w = None if weights is None else np.asarray(weights, float)[o]
        # glmnet standardises with the observation weights (here: case weights)
        self.xm = Xs.mean(axis=0) if w is None else (w @ Xs) / w.sum()
        Xs = Xs - self.xm
        sd = np.sqrt(np.mean(Xs**2, axis=0) if w is None else (w @ Xs**2) / w.sum())
        self.ok = sd > 0  # glmnet's chkvars: constant columns are left out (coef 0)
        if standardize:
            self.xs = np.where(self.ok, sd, 1.0)
        else:
            self.xs = np.ones(X.shape[1])
        Xs = Xs / self.xs
        Xs[:, ~self.ok] = 0.0
        self.X = np.asfortranarray(Xs)
        self.p = X.shape[1]
        self.lik = _Breslow(time[o], event[o], w)
        self.r0, self.dev0 = self.lik.null_quantities()
        self.thresh = thresh
        self.max_iter = max_iter
        self.cthr = thresh * self.dev0

    def gradient(self, eta):
        ll, e, b, S, wr = self.lik.eval(eta)
        return ll, e, b, S, self.X.T @ wr

    def lambda_max(self) -> float:
        _, _, _, _, g = self.gradient(np.zeros(self.lik.rows))
        return float(np.max(np.abs(g[self.ok])))

    def dev_ratio(self, beta) -> float:
        ll = self.lik.loglik(self.X @ beta)
        return (ll - self.r0) / self.dev0

    def _run(self, lambdas, beta0, lam_prev, early_stop):
        lik = self.lik
        devmax = _DEVMAX * float(np.float32(0.99)) / float(np.float32(0.999))  # coxnet's rescaling
        return _kernel.fit_path(self.X, self.ok, lik.qw, lik.first, lik.k_of, lik.D, lik.dq,
                                np.ascontiguousarray(lambdas, dtype=float), np.ascontiguousarray(beta0, dtype=float),
                                -1.0 if lam_prev is None else float(lam_prev), bool(early_stop), self.cthr,
                                int(self.max_iter), self.r0, self.dev0, _MNLAM, devmax, _FDEV * 100)

    def _failure(self, status, lam) -> str:
        return "lasso_cox: " + _FAILURES[status].format(lam=float(lam), max_iter=self.max_iter)

    def refit(self, lam, beta, strong_prev_lam=None):
        """A fit at ``lam`` from ``beta`` (standardised scale) that does not depend on
        earlier calls. Returns beta."""
        B, _, n_done, status = self._run(np.array([lam], float), beta, strong_prev_lam, False)
        if n_done == 0:
            raise _FitError(self._failure(status, lam))
        return B[:, 0]

    def path(self, lambdas, early_stop):
        """Warm-started fits down ``lambdas`` from beta = 0, with glmnet's early stop.
        Returns (lambdas done, B (p x L) standardised, deviance ratios)."""
        lambdas = np.asarray(lambdas, float)
        B, devs, n_done, status = self._run(lambdas, np.zeros(self.p), None, early_stop)
        if status != _kernel.OK:
            message = self._failure(status, lambdas[n_done])
            if n_done == 0:
                raise _FitError(message)
            # glmnet: "Numerical error at kth lambda value; solutions for larger
            # values of lambda returned" (coxnet's jerr <= -30000), a warning
            warnings.warn(
                f"{message}; the path stops at lambda number {n_done + 1} of {len(lambdas)} and the "
                "solutions for the larger lambdas are returned (as glmnet does)",
                RuntimeWarning,
                stacklevel=2,
            )
        return lambdas[:n_done].copy(), B, devs

    def to_original(self, B):
        return np.where(self.ok[:, None], B / self.xs[:, None], 0.0)

    def to_standardised(self, coef):
        return coef * self.xs


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


def _interp_coef(lambdas: np.ndarray, coef: np.ndarray, s: np.ndarray) -> np.ndarray:
    """glmnet's ``lambda.interp``: coefficients at s by linear interpolation in
    lambda between the bracketing path lambdas; s outside the path is clamped to
    its ends (above lambda_max: the first column; below: the last one)."""
    s = np.atleast_1d(np.asarray(s, float))
    if lambdas.size == 1:
        return np.repeat(coef[:, :1], s.size, axis=1)
    s = np.clip(s, lambdas[-1], lambdas[0])
    # lambdas decrease: k = last index with lambdas[k] >= s
    k = np.searchsorted(-lambdas, -s, side="right") - 1
    k = np.clip(k, 0, lambdas.size - 2)
    left, right = k, k + 1
    span = lambdas[left] - lambdas[right]
    frac = np.where(span > np.finfo(float).eps, (s - lambdas[right]) / np.where(span > 0, span, 1.0), 1.0)
    return coef[:, left] * frac + coef[:, right] * (1 - frac)


def _nearest_warm_start(lambdas, B_std, lam):
    """Solution at the smallest path lambda >= lam (glmnet refits from the top)."""
    above = np.flatnonzero(lambdas >= lam)
    if above.size == 0:
        return np.zeros(B_std.shape[0]), None
    k = above[-1]
    return B_std[:, k], lambdas[k]


@dataclass(frozen=True)
class LassoCoxPath:
    """A fitted Cox LASSO path.

    Attributes
    ----------
    lambdas : (L,) array, decreasing
    coef_path : (p, L) array of coefficients on the original scale of X
    df : (L,) number of nonzero coefficients
    dev_ratio : (L,) fraction of null deviance explained (glmnet's dev.ratio)
    null_deviance : float, glmnet's nulldev
    lambda_max : float
    """

    lambdas: np.ndarray
    coef_path: np.ndarray
    df: np.ndarray
    dev_ratio: np.ndarray
    null_deviance: float
    lambda_max: float
    _solver: _CoxLassoSolver = field(repr=False, compare=False)
    _B_std: np.ndarray = field(repr=False, compare=False)

    def coef(self, lam: float, exact: bool = True) -> np.ndarray:
        """Coefficients (original scale) at any lambda.

        On a path lambda this is the stored solution. Elsewhere, with
        ``exact=True`` (default) the problem is re-solved at ``lam`` to
        convergence, warm-started from the path solution at the next larger
        lambda: glmnet's ``coef(fit, s, exact = TRUE)``. ``exact=False`` gives
        glmnet's default, linear interpolation between the bracketing path
        lambdas (what cv.glmnet uses for the fold fits).
        """
        lam = float(lam)
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam: must be a finite non-negative number, got {lam!r}")
        hit = np.flatnonzero(np.isclose(self.lambdas, lam, rtol=1e-14, atol=0))
        if hit.size:
            return self.coef_path[:, hit[0]].copy()
        if not exact:
            return _interp_coef(self.lambdas, self.coef_path, np.array([lam]))[:, 0]
        b0, lam0 = _nearest_warm_start(self.lambdas, self._B_std, lam)
        with _one_blas_thread():
            b = self._solver.refit(lam, b0, lam0)
        return self._solver.to_original(b[:, None])[:, 0]

    def objective(self, coef: np.ndarray, lam: float) -> float:
        """glmnet's objective  -loglik/n + lam * sum_j sd_j |coef_j|  at original-scale coef."""
        s = self._solver
        b = s.to_standardised(np.asarray(coef, float))
        n = s.lik.n
        # the scaled loglik (weights 1/n) is loglik/n + (sum_k D_k) log n
        ll_over_n = s.lik.loglik(s.X @ b) - s.lik.D.sum() * np.log(n)
        return float(-ll_over_n + lam * np.abs(b).sum())


@dataclass(frozen=True)
class LassoCoxCV:
    """Cross-validated Cox LASSO (cv.glmnet, type.measure = "deviance").

    Attributes
    ----------
    lambdas, cvm, cvsd, cvup, cvlo, nzero : (L,) arrays as in cv.glmnet
    lambda_min, lambda_1se : float
    index_min, index_1se : int, 0-based positions in ``lambdas``
    path : LassoCoxPath, the full-data fit (``cv$glmnet.fit``)
    cvraw : (K, L) per-fold deviance per event
    fit_preval : (n, L) pre-validated linear predictors: each patient's, from the fit of
        the folds without that patient, at every lambda (``cv.glmnet(keep = TRUE)$fit.preval``)
    """

    lambdas: np.ndarray
    cvm: np.ndarray
    cvsd: np.ndarray
    cvup: np.ndarray
    cvlo: np.ndarray
    nzero: np.ndarray
    lambda_min: float
    lambda_1se: float
    index_min: int
    index_1se: int
    path: LassoCoxPath
    cvraw: np.ndarray = field(repr=False)
    fit_preval: np.ndarray = field(repr=False, default=None)

    @property
    def coef_path(self) -> np.ndarray:
        return self.path.coef_path

    def coef(self, lam: float | str = "lambda_1se") -> np.ndarray:
        """Full-data coefficients at ``lam``: a number, "lambda_min" or "lambda_1se"."""
        if isinstance(lam, str):
            if lam not in ("lambda_min", "lambda_1se"):
                raise ValueError(f"lam: expected a number, 'lambda_min' or 'lambda_1se', got {lam!r}")
            lam = getattr(self, lam)
        return self.path.coef(lam)


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


def _check_X(X, n: int) -> np.ndarray:
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"X: cannot be read as numbers ({exc})") from None
    if A.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (patients x features), got shape {A.shape}")
    if A.shape[0] != n:
        raise ValueError(f"mismatched lengths: X has {A.shape[0]} rows, time={n}")
    if A.shape[1] == 0:
        raise ValueError("X: has no columns")
    bad = ~np.isfinite(A)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"X: contains NaN or infinite values (first at row {i}, column {j})")
    if np.all(np.ptp(A, axis=0) == 0):
        raise ValueError("X: every column is constant; nothing to fit")
    return A


def _default_lambdas(solver: _CoxLassoSolver, n: int, p: int, nlambda: int, lambda_min_ratio):
    if lambda_min_ratio is None:
        lambda_min_ratio = 1e-2 if n < p else 1e-4
    if not 0 < lambda_min_ratio < 1:
        raise ValueError(f"lambda_min_ratio: must be in (0, 1), got {lambda_min_ratio!r}")
    if nlambda < 2:
        raise ValueError(f"nlambda: must be at least 2, got {nlambda!r}")
    lmax = solver.lambda_max()
    # coxnet computes alf = eqs**(1.0/(nlam-1)) where the Fortran literal 1.0 is
    # single precision, so the exponent is a float32 quotient; reproducing that
    # keeps the path within 1e-15 of R's instead of ~6e-9 at its end.
    expo = float(np.float32(1.0) / np.float32(nlambda - 1))
    alf = max(_EPS_FLMIN, lambda_min_ratio) ** expo
    return lmax * alf ** np.arange(nlambda), lmax


def _check_lambdas(lambdas) -> np.ndarray:
    lam = as_1d_float(lambdas, "lambdas")
    if (lam < 0).any():
        raise ValueError("lambdas: must be non-negative")
    return np.sort(lam)[::-1]  # glmnet fits user lambdas in decreasing order


def _identical_rows(X, t, e):
    """Rows equal in X, time and event merged into one with a case weight (their count),
    or None when every row is distinct.

    A bootstrap resample repeats about a third of its patients; the Breslow likelihood,
    its derivatives and glmnet's standardisation of the merged rows are those of the
    rows written out, so the fit is the same (to rounding) on ~1/3 fewer rows.
    """
    key = np.column_stack([t, e, X])
    _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
    if first.size == key.shape[0]:
        return None
    order = np.argsort(first)  # each distinct row at its first copy, in the original order
    return first[order], counts[order].astype(float)


def _fit_path(X, t, e, lambdas, nlambda, lambda_min_ratio, standardize, thresh, max_iter):
    n, p = X.shape
    merged = _identical_rows(X, t, e)
    if merged is None:
        solver = _CoxLassoSolver(X, t, e, standardize, thresh, max_iter)
    else:
        index, weights = merged
        solver = _CoxLassoSolver(X[index], t[index], e[index], standardize, thresh, max_iter, weights=weights)
    if lambdas is None:
        lam_seq, lmax = _default_lambdas(solver, n, p, nlambda, lambda_min_ratio)
        early = True
    else:
        lam_seq = _check_lambdas(lambdas)
        lmax = solver.lambda_max()
        early = False
    lams, B_std, dev = solver.path(lam_seq, early)
    coef = solver.to_original(B_std)
    return LassoCoxPath(
        lambdas=lams,
        coef_path=coef,
        df=(coef != 0).sum(axis=0),
        dev_ratio=dev,
        null_deviance=float(2 * n * solver.dev0),
        lambda_max=float(lmax),
        _solver=solver,
        _B_std=B_std,
    )


def _cv_fits(A, t, e, fold_index, events_per_fold, lambdas, nlambda, lambda_min_ratio, standardize, thresh, max_iter):
    """Full-data path and cv.glmnet's grouped deviance per fold and lambda (cvraw)."""
    full = _fit_path(A, t, e, lambdas, nlambda, lambda_min_ratio, standardize, thresh, max_iter)
    lam = full.lambdas
    K = events_per_fold.size
    L = lam.size
    cvraw = np.empty((K, L))
    preval = np.empty((t.size, L))
    for k in range(K):
        test = fold_index == k
        train = ~test
        if lambdas is None:
            # cv.glmnet lets each fold build its own default path (its own lambda_max,
            # lambda.min.ratio and early stop) and takes the coefficients at the
            # full-data lambdas by glmnet's linear interpolation (predict(s = lambda)).
            fit_k = _fit_path(A[train], t[train], e[train], None, nlambda, lambda_min_ratio, standardize, thresh, max_iter)
            coef_k = _interp_coef(fit_k.lambdas, fit_k.coef_path, lam)
        else:
            # user lambdas are passed on to the folds unchanged; a fold path that stopped
            # early carries its last solution on (cv.coxnet fills cvraw with its last value)
            fit_k = _fit_path(A[train], t[train], e[train], lam, nlambda, None, standardize, thresh, max_iter)
            coef_k = fit_k.coef_path[:, np.minimum(np.arange(L), fit_k.lambdas.size - 1)]
        eta_full = A @ coef_k  # centring does not change the partial likelihood
        preval[test] = eta_full[test]
        dev_full = _breslow_deviance_matrix(t, e, eta_full)
        dev_train = _breslow_deviance_matrix(t[train], e[train], eta_full[train])
        cvraw[k] = (dev_full - dev_train) / events_per_fold[k]
    return full, cvraw, preval


def _cv_stats(cvraw: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cv.glmnet's ``cvstats``: events-weighted mean over folds of each lambda's deviance,
    and its SD / sqrt(N - 1), with ``na.rm = TRUE`` (N = the folds that count).

    A fold whose deviance overflowed (a nearly separable fit far down the path, as in
    bootstrap resamples with repeated patients) is left out like R's NA, with a
    RuntimeWarning; with every entry finite this is exactly cv.glmnet's formula.
    """
    ok = np.isfinite(cvraw)
    W = w[:, None] * ok
    x = np.where(ok, cvraw, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cvm = (W * x).sum(0) / W.sum(0)
        N = ok.sum(0)
        cvsd = np.sqrt((W * np.where(ok, cvraw - cvm, 0.0) ** 2).sum(0) / W.sum(0) / (N - 1))
    if not ok.all():
        bad = np.flatnonzero(~ok.all(0))
        warnings.warn(f"lasso_cox_cv: the deviance of {int((~ok).sum())} fold fit(s) is not finite at {bad.size} "
                      "lambda(s); left out of the mean as cv.glmnet leaves out NA", RuntimeWarning, stacklevel=3)
    return cvm, cvsd


def lasso_cox_path(
    X,
    time,
    event,
    lambdas=None,
    *,
    nlambda: int = 100,
    lambda_min_ratio: float | None = None,
    standardize: bool = True,
    thresh: float = 1e-14,
    max_iter: int = 100_000,
) -> LassoCoxPath:
    """Cox LASSO regularisation path (glmnet, ``family = "cox"``, ``alpha = 1``).

    Parameters
    ----------
    X : (n, p) array
        Covariates (no intercept column).
    time, event : arrays
        Follow-up time and event indicator (1 = event).
    lambdas : array, optional
        Penalties to fit (sorted decreasing, no early stop). Default: glmnet's
        path of ``nlambda`` values from lambda_max (see module docstring).
    nlambda, lambda_min_ratio : glmnet's defaults 100 and 1e-4 (n > p) / 1e-2.
    standardize : bool
        Penalise ``sd_j |beta_j|`` (glmnet's ``standardize = TRUE``).
    thresh : float
        Convergence threshold relative to the null deviance, as glmnet's
        ``thresh``; the solver converges quadratically so the default gives
        the converged optimum.
    max_iter : int
        Cap on Newton iterations per lambda.

    Returns
    -------
    LassoCoxPath

    R equivalent::

        glmnet::glmnet(x, Surv(time, event), family = "cox", alpha = 1)
    """
    t, e, _ = check_survival(time, event)
    A = _check_X(X, t.size)
    with _one_blas_thread():
        return _fit_path(A, t, e, lambdas, nlambda, lambda_min_ratio, standardize, thresh, max_iter)


def lasso_cox_cv(
    X,
    time,
    event,
    foldid,
    lambdas=None,
    *,
    nlambda: int = 100,
    lambda_min_ratio: float | None = None,
    standardize: bool = True,
    thresh: float = 1e-14,
    max_iter: int = 100_000,
) -> LassoCoxCV:
    """Cross-validated Cox LASSO with cv.glmnet's grouped partial-likelihood deviance.

    Parameters
    ----------
    X, time, event : as in :func:`lasso_cox_path`.
    foldid : array of int
        Fold label of each patient (any integers; at least 3 folds, each with
        at least one event), as cv.glmnet's ``foldid``.
    lambdas, nlambda, lambda_min_ratio, standardize, thresh, max_iter :
        as in :func:`lasso_cox_path`. Given ``lambdas`` are used by every fold;
        otherwise each fold fits its own default path and is interpolated at
        the full-data lambdas, as cv.glmnet does.

    Returns
    -------
    LassoCoxCV
        ``lambdas``, ``cvm``, ``cvsd``, ``cvup``, ``cvlo``, ``nzero``,
        ``lambda_min``, ``lambda_1se`` (+ 0-based ``index_min``/``index_1se``),
        the full-data ``path`` (``coef_path``) and ``coef(lam)``.

    R equivalent::

        glmnet::cv.glmnet(x, Surv(time, event), family = "cox", foldid = foldid,
                          type.measure = "deviance")
    """
    t, e, _ = check_survival(time, event)
    A = _check_X(X, t.size)
    f = as_1d_float(foldid, "foldid")
    if f.size != t.size:
        raise ValueError(f"mismatched lengths: time={t.size}, foldid={f.size}")
    if np.any(f != np.round(f)):
        raise ValueError("foldid: must hold integer fold labels")
    folds, fold_index = np.unique(f, return_inverse=True)
    K = folds.size
    if K < 3:
        raise ValueError(f"foldid: cv.glmnet needs at least 3 folds, got {K}")
    events_per_fold = np.bincount(fold_index, weights=e, minlength=K)
    if np.any(events_per_fold == 0):
        empty = [int(folds[k]) if float(folds[k]).is_integer() else folds[k] for k in np.flatnonzero(events_per_fold == 0)]
        raise ValueError(
            f"foldid: fold(s) {empty} contain no events; the grouped Cox deviance is divided by "
            "the events in each fold"
        )

    with _one_blas_thread():
        full, cvraw, preval = _cv_fits(A, t, e, fold_index, events_per_fold, lambdas, nlambda, lambda_min_ratio,
                                       standardize, thresh, max_iter)
    lam = full.lambdas
    cvm, cvsd = _cv_stats(cvraw, events_per_fold)
    if not np.any(np.isfinite(cvm)):
        raise ValueError("lasso_cox_cv: the cross-validated deviance is not finite at any lambda")
    i_min = int(np.flatnonzero(cvm <= np.nanmin(cvm))[0])  # lambdas decrease: first = largest
    i_1se = int(np.flatnonzero(cvm <= cvm[i_min] + cvsd[i_min])[0])
    return LassoCoxCV(
        lambdas=lam,
        cvm=cvm,
        cvsd=cvsd,
        cvup=cvm + cvsd,
        cvlo=cvm - cvsd,
        nzero=full.df,
        lambda_min=float(lam[i_min]),
        lambda_1se=float(lam[i_1se]),
        index_min=i_min,
        index_1se=i_1se,
        path=full,
        cvraw=cvraw,
        fit_preval=preval,
    )

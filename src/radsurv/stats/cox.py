"""Cox proportional-hazards regression matched to R ``survival::coxph``.

A plain Newton-Raphson on the Efron or Breslow partial likelihood (starting at 0,
with step halving), iterated to full convergence, so coefficients agree with R's
(which stop at a relative log-likelihood change of 1e-9) to about 1e-10.
Predicted survival follows ``survfit.coxph``: the baseline cumulative hazard of
the same type as R's default for the ties method (Efron fit: ctype 2, the Efron
hazard; Breslow fit: ctype 1, the Breslow estimator), and S(t | x) = exp(-H(t | x))
(stype 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import as_1d_float, as_2d_float, check_survival, same_length
from ._cox_kernel import risk_set_sums

__all__ = ["ChiSquareTest", "CoxFit", "cox_aic", "cox_lr_test", "fit_cox"]

_Z975 = stats.norm.ppf(0.975)
#: fit_cox's Newton-Raphson defaults, which cox_aic shares so that its AIC is fit_cox's
_MAX_ITER, _TOL = 50, 1e-12


@dataclass(frozen=True)
class ChiSquareTest:
    """A chi-square test: statistic, degrees of freedom, p-value."""

    statistic: float
    df: int
    p: float


def _as_matrix(X, name: str = "X"):
    """(array, column names) from a DataFrame, 2-D array or 1-D array."""
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    arr = as_2d_float(X, name)
    if names is None:
        names = [f"x{j + 1}" for j in range(arr.shape[1])]
    return arr, names


class _RiskSets:
    """Distinct event times, tied-death groups and risk-set cumulative sums."""

    def __init__(self, t: np.ndarray, e: np.ndarray):
        order = np.argsort(-t, kind="stable")  # decreasing time: risk sets are prefixes
        self.order = order
        ts = t[order]
        self.ts = ts
        # for each subject in sorted order, index of the end of its risk set prefix
        # (all subjects with time >= its time)
        self.event_times = np.unique(t[e == 1])
        # risk set at u = {time >= u}: prefix of length n_ge(u)
        self.n_ge = np.searchsorted(-ts, -self.event_times, side="right")
        self.death_idx = np.flatnonzero(e == 1)
        self.death_group = np.searchsorted(self.event_times, t[self.death_idx])
        self.d = np.bincount(self.death_group, minlength=self.event_times.size)
        # k / d for each death within its tied group (Efron)
        rank_in_group = np.empty(self.death_idx.size, dtype=float)
        ord_d = np.argsort(self.death_group, kind="stable")
        starts = np.concatenate([[0], np.cumsum(self.d)[:-1]])
        rank_in_group[ord_d] = np.arange(self.death_idx.size) - np.repeat(starts, self.d)
        self.k_over_d = rank_in_group / self.d[self.death_group]


def _loglik_derivs(X, beta, rs: _RiskSets, ties: str, need_info: bool = True):
    """Log partial likelihood, score and information (Efron or Breslow).

    The risk-set sums come from one compiled pass (:mod:`radsurv.stats._cox_kernel`,
    the former numpy cumulative sums' arithmetic to the last bit); the rest is numpy."""
    eta = X @ beta
    r = np.exp(eta)
    G = rs.event_times.size
    dgrp = rs.death_group
    S0, S1, S2, S0D, S1D, S2D = risk_set_sums(X, r, rs.order, rs.n_ge - 1, rs.death_idx, dgrp, G, need_info)
    Xd = X[rs.death_idx]
    if ties == "efron":
        kd = rs.k_over_d
    else:
        kd = np.zeros(dgrp.size)
    # one denominator per death (Efron: subtract k/d of the tied deaths' weight)
    den = S0[dgrp] - kd * S0D[dgrp]
    num1 = S1[dgrp] - kd[:, None] * S1D[dgrp]
    loglik = float(eta[rs.death_idx].sum() - np.log(den).sum())
    xbar = num1 / den[:, None]
    score = Xd.sum(0) - xbar.sum(0)
    if not need_info:
        return loglik, score, None
    num2 = S2[dgrp] - kd[:, None, None] * S2D[dgrp]
    info = (num2 / den[:, None, None]).sum(0) - np.einsum("ki,kj->ij", xbar, xbar)
    return loglik, score, info


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model (``coxph``). Vectors are pandas Series indexed by the
    covariate names; ``vcov`` is a DataFrame."""

    coef: pd.Series
    se: pd.Series
    z: pd.Series
    p: pd.Series
    hr: pd.Series
    hr_lower: pd.Series
    hr_upper: pd.Series
    vcov: pd.DataFrame
    loglik_null: float
    loglik: float
    lr_test: ChiSquareTest
    wald_test: ChiSquareTest
    score_test: ChiSquareTest
    n: int
    n_events: int
    iterations: int
    ties: str
    means: pd.Series
    _time: np.ndarray = field(repr=False)
    _event: np.ndarray = field(repr=False)
    _lp: np.ndarray = field(repr=False)
    #: covariates whose coefficient may be infinite (``monotone="as_r"`` only): R's
    #: "Loglik converged before variable ...; coefficient may be infinite"
    monotone: tuple = ()

    # ---------------------------------------------------------------- summaries
    @property
    def names(self) -> list[str]:
        return list(self.coef.index)

    @property
    def aic(self) -> float:
        """``AIC(fit)`` = -2 logL + 2k."""
        return -2 * self.loglik + 2 * len(self.coef)

    @property
    def bic(self) -> float:
        """``BIC(fit)``: -2 logL + k log(number of events) (R's ``nobs`` for coxph)."""
        return -2 * self.loglik + len(self.coef) * np.log(self.n_events)

    @property
    def bic_n_subjects(self) -> float:
        """-2 logL + k log(number of subjects)."""
        return -2 * self.loglik + len(self.coef) * np.log(self.n)

    def summary(self) -> pd.DataFrame:
        """Coefficient table as ``summary(coxph)``."""
        return pd.DataFrame(
            {"coef": self.coef, "hr": self.hr, "se": self.se, "z": self.z, "p": self.p,
             "hr_lower": self.hr_lower, "hr_upper": self.hr_upper}
        )

    # ---------------------------------------------------------------- prediction
    def _design(self, X) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.names if c not in X.columns]
            if missing:
                raise ValueError(f"X: missing columns {missing}")
            X = X[self.names]
        arr, _ = _as_matrix(X)
        if arr.shape[1] != len(self.coef):
            raise ValueError(f"X: expected {len(self.coef)} columns, got {arr.shape[1]}")
        return arr

    def predict(self, X) -> np.ndarray:
        """Linear predictor X @ beta, not centred (R's ``predict(fit)`` subtracts
        ``sum(means * coef)``; this does not)."""
        return self._design(X) @ self.coef.to_numpy()

    def baseline_cumhaz(self, times, ctype: int | None = None) -> np.ndarray:
        """Baseline cumulative hazard H0(t) at x = 0 (uncentred).

        Reproduces ``survfit(fit, newdata = <all covariates 0>, ctype = ctype)``:
        ``ctype = 1`` is the Breslow estimator sum d_j / S0(t_j); ``ctype = 2``
        the Efron estimator sum_j sum_{k<d_j} 1 / (S0 - k/d_j S0_D). The default
        is R's: 2 for an Efron fit, 1 for a Breslow fit.
        """
        if ctype is None:
            ctype = 2 if self.ties == "efron" else 1
        if ctype not in (1, 2):
            raise ValueError(f"ctype: must be 1 or 2, got {ctype!r}")
        tt = as_1d_float(np.atleast_1d(times), "times")
        t, e, r = self._time, self._event, np.exp(self._lp)
        rs = _RiskSets(t, e)
        c0 = np.cumsum(r[rs.order])
        S0 = c0[rs.n_ge - 1]
        if ctype == 1:
            dH = rs.d / S0
        else:
            dgrp = rs.death_group
            S0D = np.bincount(dgrp, weights=r[rs.death_idx], minlength=S0.size)
            dH = np.bincount(dgrp, weights=1.0 / (S0[dgrp] - rs.k_over_d * S0D[dgrp]),
                             minlength=S0.size)
        H = np.cumsum(dH)
        idx = np.searchsorted(rs.event_times, tt, side="right") - 1
        return np.where(idx >= 0, H[np.maximum(idx, 0)], 0.0)

    def predict_cumhaz(self, X, times, ctype: int | None = None) -> np.ndarray:
        """H(t | x) = H0(t) exp(x beta); rows = subjects, columns = times."""
        H0 = self.baseline_cumhaz(times, ctype)
        return np.exp(self.predict(X))[:, None] * H0[None, :]

    def predict_survival(self, X, times, ctype: int | None = None) -> np.ndarray:
        """S(t | x) = exp(-H(t | x)), as ``summary(survfit(fit, newdata = X),
        times = times)$surv`` (transposed: rows = subjects, columns = times)."""
        return np.exp(-self.predict_cumhaz(X, times, ctype))


def _newton_as_r(Xc, rs: _RiskSets, ties: str, eps: float, max_iter: int):
    """Newton-Raphson with R's ``coxph.fit`` (C ``coxfit6``) iterates and stopping rule.

    Start at 0; stop at the first new iterate whose log-likelihood satisfies
    |1 - best / new| <= eps (``best``: the best log-likelihood so far) and return
    that iterate. A step that lowers the log-likelihood is shortened to
    (new + h * old) / (h + 1) at its h-th halving. Returns (beta, loglik,
    information, iterations, converged).
    """
    beta = np.zeros(Xc.shape[1])
    best, u, info = _loglik_derivs(Xc, beta, rs, ties)[:3]
    new = beta + np.linalg.solve(info, u)
    halving = 0
    for it in range(1, max_iter + 1):
        ll_new, u, info = _loglik_derivs(Xc, new, rs, ties)
        if np.isfinite(ll_new) and abs(1 - best / ll_new) <= eps:
            return new, ll_new, info, it, True
        if not np.isfinite(ll_new) or ll_new < best:
            halving += 1
            new = (new + halving * beta) / (halving + 1)
        else:
            halving = 0
            best, beta = ll_new, new
            new = new + np.linalg.solve(info, u)
    return beta, best, info, max_iter, False


def _dependent_columns(Xa: np.ndarray, names: list[str]) -> list[str]:
    """The columns of one linear dependence among the centred columns of ``Xa`` (those
    with weight in the right singular vector of the smallest singular value), to name
    in the error: e.g. a category's indicators and the variable they are a function of."""
    _, _, vt = np.linalg.svd(Xa - Xa.mean(0), full_matrices=False)
    v = np.abs(vt[-1])
    return [names[j] for j in np.flatnonzero(v > 1e-6 * v.max())]


@dataclass(frozen=True)
class _Fitted:
    """What :func:`_fit` leaves for :func:`fit_cox` (and :func:`cox_aic`) to report."""

    Xa: np.ndarray
    names: list
    t: np.ndarray
    e: np.ndarray
    means: np.ndarray
    beta: np.ndarray
    ll: float
    ll0: float
    u0: np.ndarray
    i0: np.ndarray
    it: int
    runaway: tuple
    vcov: np.ndarray


def _fit(X, time, event, ties: str, max_iter: int, tol: float, eps, monotone: str,
         names: list[str] | None = None) -> _Fitted:
    """The checks, the Newton iterations and the inverse information of :func:`fit_cox`
    (its arguments), without the summaries: every fit, whoever asks for it, runs this.
    ``names``: the columns' names when ``X`` is an array (a DataFrame brings its own)."""
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties: must be 'efron' or 'breslow', got {ties!r}")
    if monotone not in ("raise", "as_r"):
        raise ValueError(f"monotone: must be 'raise' or 'as_r', got {monotone!r}")
    if names is None:
        Xa, names = _as_matrix(X)
    else:
        Xa = as_2d_float(X)
        if len(names) != Xa.shape[1]:
            raise ValueError(f"names: {len(names)} names for {Xa.shape[1]} columns")
    t, e, _ = check_survival(time, event)
    same_length(X=Xa, time=t)
    const = np.flatnonzero(np.all(Xa == Xa[0], axis=0))
    if const.size:
        raise ValueError(f"X: column {names[const[0]]!r} is constant; its coefficient is not identifiable")
    if np.linalg.matrix_rank(Xa - Xa.mean(0)) < Xa.shape[1]:
        raise ValueError(f"X: columns are collinear (design matrix is not of full rank): "
                         f"{', '.join(_dependent_columns(Xa, names))} are linearly dependent")

    # centre for numerical stability (the partial likelihood is shift invariant)
    means = Xa.mean(0)
    Xc = Xa - means
    rs = _RiskSets(t, e)
    p = Xa.shape[1]

    beta = np.zeros(p)
    ll0, u0, i0 = _loglik_derivs(Xc, beta, rs, ties)
    ll, u, info = ll0, u0, i0
    it = 0
    converged = False
    if eps is not None and not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps: must be a positive number, got {eps!r}")
    try:
        if eps is not None:
            beta, ll, info, it, converged = _newton_as_r(Xc, rs, ties, eps, max_iter)
        else:
            for it in range(1, max_iter + 1):
                step = np.linalg.solve(info, u)
                new = beta + step
                ll_new, u_new, info_new = _loglik_derivs(Xc, new, rs, ties)
                halvings = 0
                while not np.isfinite(ll_new) or ll_new < ll - 1e-12 * abs(ll):
                    # step halving, as coxph does when the likelihood gets worse
                    step = step / 2
                    new = beta + step
                    ll_new, u_new, info_new = _loglik_derivs(Xc, new, rs, ties)
                    halvings += 1
                    if halvings > 30:
                        break
                if halvings > 30:
                    # no step improves the likelihood: a flat ridge (a coefficient running
                    # off to infinity whose likelihood gains are below rounding), not an optimum
                    break
                beta, ll, u, info = new, ll_new, u_new, info_new
                if np.max(np.abs(step) / (1 + np.abs(beta))) < tol:
                    converged = True
                    break
    except np.linalg.LinAlgError:
        # the information matrix became singular: coefficients running off to infinity
        converged = False
    runaway: tuple = ()
    r_fit = None
    if eps is None and converged and np.all(np.isfinite(beta)) and (
            np.any(np.abs(beta) * Xa.std(0) > 10) or _flat_direction(info, Xa.std(0))):
        # A hazard ratio above e^10 per SD, or a direction in which the likelihood is flat
        # (a standard error of the per-SD log hazard ratio above 100, or an information
        # matrix that rounding has made indefinite): a coefficient may be running off to
        # infinity with likelihood gains below rounding, so that the steps look converged
        # wherever they stopped (a rare binary covariate whose category has no event stops
        # at a per-SD log HR below 10, at a point that depends on the last bits of the
        # arithmetic). R's own iterates stop earlier, where its test for an infinite
        # coefficient still works.
        r_fit = _as_r_monotone(Xc, rs, ties, names)
        if r_fit[4]:
            converged = False
    if (not converged or not np.all(np.isfinite(beta))) and monotone == "as_r" and eps is None:
        beta, ll, info, it, runaway = r_fit if r_fit is not None else _as_r_monotone(Xc, rs, ties, names)
        if runaway:
            import warnings

            warnings.warn(f"Cox: log-likelihood converged before {', '.join(runaway)}; coefficient may be "
                          "infinite (monotone likelihood, as R's coxph warns)", RuntimeWarning, stacklevel=3)
        converged = True
    if not converged or not np.all(np.isfinite(beta)):
        raise ValueError(
            "X: Newton-Raphson did not converge (possible monotone likelihood: a covariate "
            "separates events from non-events)"
        )

    try:
        vcov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        if not runaway:
            raise ValueError("X: information matrix is singular at the estimate") from None
        vcov = np.full((p, p), np.nan)  # an infinite coefficient has no finite variance
    return _Fitted(Xa=Xa, names=names, t=t, e=e, means=means, beta=beta, ll=float(ll), ll0=float(ll0), u0=u0,
                   i0=i0, it=it, runaway=runaway, vcov=vcov)


def cox_aic(X, time, event, ties: str = "efron", monotone: str = "raise", names: list[str] | None = None) -> float:
    """``AIC(coxph(...))``, -2 logL + 2k: :func:`fit_cox`'s ``aic``, the same fit to the
    last bit, without the standard errors, tests and tables a selection step does not read.

    Parameters
    ----------
    X : pandas.DataFrame or array-like, shape (n, p)
        Covariates, as :func:`fit_cox` takes them. An array must be laid out as
        ``DataFrame.to_numpy`` lays out a frame's columns (column-major) for the fit to be
        :func:`fit_cox`'s to the last bit: BLAS sums a product in another order otherwise.
    time, event, ties, monotone
        As :func:`fit_cox`.
    names : list of str, optional
        The columns' names for the messages, when ``X`` is an array.

    Raises
    ------
    ValueError
        Where :func:`fit_cox` raises (a constant or collinear column, no convergence, a
        singular information matrix at the estimate).
    """
    core = _fit(X, time, event, ties, _MAX_ITER, _TOL, None, monotone, names=names)
    return -2 * core.ll + 2 * core.Xa.shape[1]


def cox_lr_test(X, time, event, ties: str = "efron", monotone: str = "raise",
                names: list[str] | None = None) -> tuple[ChiSquareTest, tuple]:
    """The likelihood-ratio test of a Cox model against the null model and the covariates
    whose coefficient may be infinite: :func:`fit_cox`'s ``lr_test`` and ``monotone``, the
    same fit to the last bit, without the standard errors, other tests and tables a
    univariable screen does not read (they cost more than the fit's own iterations).

    Parameters
    ----------
    X, time, event, ties, monotone, names
        As :func:`cox_aic` (an array laid out column-major, as ``DataFrame.to_numpy``
        lays out a frame, for the fit to be :func:`fit_cox`'s to the last bit).

    Returns
    -------
    (ChiSquareTest, tuple of str)
        2 (logL - logL0) on as many df as columns, and the covariates R's coxph would
        warn about (``monotone="as_r"`` only; empty otherwise).

    Raises
    ------
    ValueError
        Where :func:`fit_cox` raises.
    """
    core = _fit(X, time, event, ties, _MAX_ITER, _TOL, None, monotone, names=names)
    return _lr_test(core), core.runaway


def _lr_test(core: _Fitted) -> ChiSquareTest:
    """2 (logL - logL0) on as many df as columns: the one computation of the test that
    :func:`fit_cox` reports and :func:`cox_lr_test` returns."""
    k = core.Xa.shape[1]
    lrt = 2 * (core.ll - core.ll0)
    return ChiSquareTest(float(lrt), k, float(stats.chi2.sf(lrt, k)))


def fit_cox(X, time, event, ties: str = "efron", max_iter: int = _MAX_ITER, tol: float = _TOL,
            eps: float | None = None, monotone: str = "raise") -> CoxFit:
    """Fit a Cox proportional-hazards model.

    Reproduces ``coxph(Surv(time, event) ~ ., data, ties = ties)``: coefficients,
    model-based (inverse information) standard errors, Wald z and p, hazard
    ratios with 95% CI, the null and fitted log partial likelihood, and the
    likelihood-ratio, Wald and score (log-rank) tests.

    Parameters
    ----------
    X : pandas.DataFrame or array-like, shape (n, p)
        Covariates (already dummy-coded). DataFrame column names are kept.
    time, event : array-like, length n
    ties : {"efron", "breslow"}
    max_iter : int
        Newton-Raphson iterations (R: ``iter.max = 20``).
    tol : float
        Stop when the largest step |delta beta| / (1 + |beta|) is below ``tol``
        (stricter than R's eps = 1e-9 on the log-likelihood, so the optimum is
        reached to rounding).
    eps : float, optional
        Instead of ``tol``, reproduce R's own iterates and stopping rule
        (``coxph.control(eps = eps, iter.max = max_iter)``: stop when the
        relative change of the log-likelihood is at most ``eps``). ``rms::cph``
        uses ``eps = 1e-4, iter.max = 10``, which stops before the optimum
        (coefficients up to ~4e-4 relative from it on GBSG2); this option gives
        R's cph coefficients to ~1e-13.
    monotone : {"raise", "as_r"}
        When a covariate separates events from non-events the likelihood has no
        maximum. ``"raise"``: a ValueError. ``"as_r"``: what ``coxph`` does, used
        where a fit must go on (inside bootstrap resamples): R's iterates with its
        defaults (eps = 1e-9, iter.max = 20) stop when the log-likelihood has
        converged, a RuntimeWarning names the covariates whose coefficient may be
        infinite (R's rule: the next Newton step exceeds eps and sqrt(eps) |beta|),
        and the fit lists them in ``monotone``.

    Returns
    -------
    CoxFit
    """
    core = _fit(X, time, event, ties, max_iter, tol, eps, monotone)
    Xa, names, t, e, means = core.Xa, core.names, core.t, core.e, core.means
    beta, ll, ll0, u0, i0, it, runaway, vcov = core.beta, core.ll, core.ll0, core.u0, core.i0, core.it, \
        core.runaway, core.vcov
    p = Xa.shape[1]
    vcov = (vcov + vcov.T) / 2
    se = np.sqrt(np.diag(vcov))
    z = beta / se
    pval = 2 * stats.norm.sf(np.abs(z))
    k = p
    wald = float(beta @ np.linalg.solve(vcov, beta))
    score = float(u0 @ np.linalg.solve(i0, u0))

    def S(v):
        return pd.Series(v, index=names, dtype=float)

    lp = Xa @ beta
    with np.errstate(over="ignore"):  # an infinite coefficient (monotone="as_r") has an infinite HR
        hr, hr_lo, hr_hi = np.exp(beta), np.exp(beta - _Z975 * se), np.exp(beta + _Z975 * se)
    return CoxFit(
        coef=S(beta), se=S(se), z=S(z), p=S(pval), hr=S(hr), hr_lower=S(hr_lo), hr_upper=S(hr_hi),
        vcov=pd.DataFrame(vcov, index=names, columns=names),
        loglik_null=float(ll0), loglik=float(ll),
        lr_test=_lr_test(core),
        wald_test=ChiSquareTest(wald, k, float(stats.chi2.sf(wald, k))),
        score_test=ChiSquareTest(score, k, float(stats.chi2.sf(score, k))),
        n=int(t.size), n_events=int(e.sum()), iterations=it, ties=ties, means=S(means),
        _time=t, _event=e, _lp=lp, monotone=runaway,
    )


def _flat_direction(info, sd) -> bool:
    """Whether the information matrix leaves a coefficient without a usable variance: not
    invertible, a variance that is not positive (rounding has made it indefinite), or a
    standard error of the per-SD log hazard ratio above 100 (an identifiable coefficient's
    is of order 1/sqrt(events))."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            var = np.diag(np.linalg.inv(info))
    except np.linalg.LinAlgError:
        return True
    with np.errstate(invalid="ignore"):
        return bool(np.any(~(var > 0)) or np.any(np.sqrt(var) * sd > 100))


def _runaway(Xc, beta, rs: _RiskSets, ties: str, info, names: list[str], eps: float = 1e-9) -> tuple:
    """R's test for an infinite coefficient (``coxph.fit``): the next Newton step
    |U' I^-1| exceeds eps and sqrt(eps) |beta|."""
    with np.errstate(over="ignore", invalid="ignore"):
        u = _loglik_derivs(Xc, beta, rs, ties, need_info=False)[1]
        step = np.abs(u @ np.linalg.pinv(info))
    flag = (step > eps) & (step > np.sqrt(eps) * np.abs(beta))
    return tuple(names[i] for i in np.flatnonzero(flag))


def _as_r_monotone(Xc, rs: _RiskSets, ties: str, names: list[str]):
    """coxph's answer to a monotone likelihood: its iterates with eps = 1e-9, iter.max =
    20, stopping when the log-likelihood has converged, and the covariates R warns about."""
    eps = 1e-9
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            beta, ll, info, it, _ = _newton_as_r(Xc, rs, ties, eps, 20)
    except np.linalg.LinAlgError:
        raise ValueError("X: information matrix is singular at the estimate") from None
    if not (np.all(np.isfinite(beta)) and np.isfinite(ll)):
        raise ValueError("X: Newton-Raphson did not converge (possible monotone likelihood: a covariate "
                         "separates events from non-events)")
    return beta, ll, info, it, _runaway(Xc, beta, rs, ties, info, names)

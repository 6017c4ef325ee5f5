"""Test of proportional hazards from Schoenfeld residuals, matched to R ``cox.zph``.

Reproduces ``cox.zph(coxph(Surv(time, event) ~ ., data, ties = ties),
transform = transform, terms = TRUE)`` of survival >= 3.0 (checked against 3.5-3):
the score test of Grambsch & Therneau (1994) for adding ``x * g(t)`` to the
model, with the *full* information matrix (survival < 3.0 used an approximation
based on the correlation of scaled Schoenfeld residuals with g(t)).

With the covariates centred and beta fixed at the Cox estimate, let g_j be the
centred time transform at the j-th death (``g(t) - mean(g(t_deaths))``), xbar_j
the (Efron or Breslow) risk-set mean of x and V_j the risk-set covariance at that
death. The score for the p extra coefficients and the 2p x 2p information are::

    U = sum_j g_j (x_j - xbar_j),
    I = sum_j [[V_j, g_j V_j], [g_j V_j, g_j^2 V_j]].

The score of the original coefficients is taken as 0 (it is 0 at the estimate).
For covariate k the statistic is u' I_kk^-1 u with kk = (1..p, p + k) and
u = (0, U_k); GLOBAL uses all 2p rows (df = p).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import check_survival
from .cox import CoxFit, _as_matrix, _RiskSets, fit_cox

__all__ = ["cox_zph", "zph_time_transform"]

_TRANSFORMS = ("km", "rank", "identity")


def zph_time_transform(time, event, transform: str = "km") -> np.ndarray:
    """The time transform g(t) of ``cox.zph``, one value per subject (not centred).

    Parameters
    ----------
    time, event : array-like, length n
    transform : {"km", "rank", "identity"}
        ``km``: 1 - S(t-), the left-continuous Kaplan-Meier of all subjects
        (R: ``1 - c(1, km$surv)[findInterval(times, km$time, left.open = TRUE) + 1]``);
        ``rank``: ``rank(time)`` over all subjects, ties averaged; ``identity``: t.

    Returns
    -------
    numpy.ndarray
        g(time_i) for every subject.
    """
    if transform not in _TRANSFORMS:
        raise ValueError(f"transform: must be one of {_TRANSFORMS}, got {transform!r}")
    t, e, _ = check_survival(time, event, require_events=False)
    if transform == "identity":
        return t.copy()
    if transform == "rank":
        return stats.rankdata(t, method="average")
    # Kaplan-Meier just before each time: product over event times < t
    ut = np.unique(t[e == 1])
    d = np.array([np.sum((t == u) & (e == 1)) for u in ut], dtype=float)
    n_risk = np.array([np.sum(t >= u) for u in ut], dtype=float)
    surv = np.cumprod(1.0 - d / n_risk)
    idx = np.searchsorted(ut, t, side="left")  # number of event times strictly below t
    return 1.0 - np.concatenate([[1.0], surv])[idx]


def _death_moments(Xc: np.ndarray, beta: np.ndarray, rs: _RiskSets, ties: str):
    """Risk-set mean xbar and covariance V at each death (Efron or Breslow), as the
    terms of the Cox score and information."""
    r = np.exp(Xc @ beta)
    Xs, rsrt = Xc[rs.order], r[rs.order]
    idx = rs.n_ge - 1
    S0 = np.cumsum(rsrt)[idx]
    S1 = np.cumsum(rsrt[:, None] * Xs, axis=0)[idx]
    S2 = np.cumsum(rsrt[:, None, None] * Xs[:, :, None] * Xs[:, None, :], axis=0)[idx]
    G, p = rs.event_times.size, Xc.shape[1]
    dgrp = rs.death_group
    Xd, rd = Xc[rs.death_idx], r[rs.death_idx]
    S0D = np.bincount(dgrp, weights=rd, minlength=G)
    S1D = np.zeros((G, p))
    np.add.at(S1D, dgrp, rd[:, None] * Xd)
    S2D = np.zeros((G, p, p))
    np.add.at(S2D, dgrp, rd[:, None, None] * Xd[:, :, None] * Xd[:, None, :])
    kd = rs.k_over_d if ties == "efron" else np.zeros(dgrp.size)
    den = S0[dgrp] - kd * S0D[dgrp]
    xbar = (S1[dgrp] - kd[:, None] * S1D[dgrp]) / den[:, None]
    V = (S2[dgrp] - kd[:, None, None] * S2D[dgrp]) / den[:, None, None] - xbar[:, :, None] * xbar[:, None, :]
    return Xd, xbar, V


def _zph_score_information(Xc, beta, t, e, g, ties):
    """Score U of the x * g(t) terms and the full 2p x 2p information."""
    rs = _RiskSets(t, e)
    Xd, xbar, V = _death_moments(Xc, beta, rs, ties)
    gd = g[rs.death_idx]
    gd = gd - gd.mean()
    U = (gd[:, None] * (Xd - xbar)).sum(0)
    V0 = V.sum(0)
    V1 = (gd[:, None, None] * V).sum(0)
    V2 = (gd[:, None, None] ** 2 * V).sum(0)
    info = np.block([[V0, V1], [V1, V2]])
    return U, info


def cox_zph(X, time, event, transform: str = "km", ties: str = "efron",
            fit: CoxFit | None = None) -> pd.DataFrame:
    """Proportional-hazards score test per covariate and GLOBAL (``cox.zph``).

    Reproduces, for covariates that are each one term (dummy-coded columns)::

        fit <- coxph(Surv(time, event) ~ ., data, ties = ties)
        cox.zph(fit, transform = transform, terms = TRUE)$table

    Parameters
    ----------
    X : pandas.DataFrame or array-like, shape (n, p)
        Covariates; DataFrame column names become the row names.
    time, event : array-like, length n
    transform : {"km", "rank", "identity"}
        Time transform g(t) (R's default is ``km``); see ``zph_time_transform``.
    ties : {"efron", "breslow"}
        Ties method of the Cox model (R's default: ``efron``).
    fit : CoxFit, optional
        A model already fitted by ``fit_cox`` on the same ``X``, ``time``,
        ``event`` and ``ties``; when omitted the model is fitted here.

    Returns
    -------
    pandas.DataFrame
        Index: the covariate names, then ``GLOBAL``; columns ``chisq``, ``df``
        (1 per covariate, p for GLOBAL) and ``p`` (upper chi-square tail).
    """
    if transform not in _TRANSFORMS:
        raise ValueError(f"transform: must be one of {_TRANSFORMS}, got {transform!r}")
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties: must be 'efron' or 'breslow', got {ties!r}")
    Xa, names = _as_matrix(X)
    if fit is None:
        fit = fit_cox(X, time, event, ties=ties)
    elif not isinstance(fit, CoxFit):
        raise ValueError(f"fit: must be a CoxFit from fit_cox, got {type(fit).__name__}")
    t, e, _ = check_survival(time, event)
    if (fit.ties != ties or fit.n != t.size or len(fit.names) != Xa.shape[1]
            or not np.array_equal(fit._time, t) or not np.array_equal(fit._event, e)):
        raise ValueError("fit: was not fitted on these X, time, event and ties")
    if isinstance(X, pd.DataFrame):
        if fit.names != names:
            raise ValueError(f"fit: covariates {fit.names} differ from the columns of X {names}")
    else:
        names = fit.names
    beta = fit.coef.to_numpy()
    if not np.allclose(Xa @ beta, fit._lp, rtol=1e-12, atol=1e-12 * (1 + np.abs(fit._lp).max())):
        raise ValueError("fit: was not fitted on these X, time, event and ties")

    p = Xa.shape[1]
    g = zph_time_transform(t, e, transform)
    U, info = _zph_score_information(Xa - Xa.mean(0), beta, t, e, g, ties)
    chisq = np.empty(p + 1)
    for k in range(p):
        kk = np.r_[np.arange(p), p + k]
        u = np.r_[np.zeros(p), U[k]]
        chisq[k] = u @ np.linalg.solve(info[np.ix_(kk, kk)], u)
    u = np.r_[np.zeros(p), U]
    chisq[p] = u @ np.linalg.solve(info, u)
    df = np.r_[np.ones(p, dtype=int), p]
    return pd.DataFrame({"chisq": chisq, "df": df, "p": stats.chi2.sf(chisq, df)},
                        index=pd.Index([*names, "GLOBAL"]))

"""Kaplan-Meier curves, medians and the log-rank test, matched to R ``survival``.

Reproduces ``survfit(Surv(time, event) ~ 1)``, ``summary(fit, times = ...)``, the
median with its confidence interval from ``print(fit)`` / ``summary(fit)$table``,
and ``survdiff(Surv(time, event) ~ group)`` (rho = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import as_1d_float, check_conf_level, check_survival, same_length

__all__ = ["kaplan_meier", "logrank", "LogrankResult", "median_survival", "MedianSurvival"]

_CONF_TYPES = ("log", "log-log", "plain")


# --------------------------------------------------------------------------- helpers
def _risk_table(t: np.ndarray, e: np.ndarray):
    """Distinct times with number at risk, events and censorings (as ``survfit``)."""
    ut, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=ut.size)
    c = np.bincount(inv, weights=1 - e, minlength=ut.size)
    total = d + c
    # at risk at u_j = number with time >= u_j: reverse cumulative sum
    n = np.cumsum(total[::-1])[::-1]
    return ut, n, d, c


def _km_from_table(n, d):
    """Product-limit S and Greenwood variance of log S (``survfit``'s ``std.err``^2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n)
        # Greenwood: sum d / (n (n - d)); infinite once n == d (S = 0), as in R
        inc = np.where(d > 0, d / (n * (n - d)), 0.0)
    var_log = np.cumsum(inc)
    return surv, var_log


def _conf_int(surv, se_log, conf_type: str, conf_level: float):
    """Pointwise CI of S exactly as ``survival:::survfit_confint`` (logse = TRUE)."""
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    surv = np.asarray(surv, dtype=float)
    se_log = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            # exp(log S +/- z se); upper capped at 1. S = 0 gives NA in R.
            xx = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * se_log)
            upper = np.minimum(np.exp(np.log(xx) + z * se_log), 1.0)
        elif conf_type == "log-log":
            # NA where S is 0 or 1 (log(-log S) undefined)
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            temp1 = np.exp(np.log(-np.log(xx)) + z * se_log / np.log(xx))
            temp2 = np.exp(np.log(-np.log(xx)) - z * se_log / np.log(xx))
            lower = np.exp(-temp2)
            upper = np.exp(-temp1)
        elif conf_type == "plain":
            se = se_log * surv
            lower = np.maximum(surv - z * se, 0.0)
            upper = np.minimum(surv + z * se, 1.0)
        else:  # pragma: no cover - checked by callers
            raise ValueError(f"conf_type: must be one of {_CONF_TYPES}, got {conf_type!r}")
    return lower, upper


def _check_conf(conf_type: str, conf_level: float) -> None:
    if conf_type not in _CONF_TYPES:
        raise ValueError(f"conf_type: must be one of {_CONF_TYPES}, got {conf_type!r}")
    check_conf_level(conf_level)


# --------------------------------------------------------------------------- KM
def kaplan_meier(
    time,
    event,
    times=None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    extend: bool = True,
) -> pd.DataFrame:
    """Kaplan-Meier estimate with Greenwood standard errors and pointwise CIs.

    Reproduces ``summary(survfit(Surv(time, event) ~ 1, conf.type = conf_type),
    times = times, extend = extend)`` or, when ``times`` is None, the full
    ``survfit`` curve at every distinct observed time.

    Parameters
    ----------
    time, event : array-like
        Follow-up time (>= 0) and event indicator (1 = event, 0 = censored).
    times : array-like, optional
        Times at which to report the step function (S at the last event time
        <= t, as ``summary.survfit``). None: the full curve.
    conf_type : {"log", "log-log", "plain"}
        R's ``conf.type``; "log" is R's default.
    conf_level : float
        Confidence level (0.95).
    extend : bool
        With ``times`` beyond the last observed time: True keeps the last value
        (R's ``extend = TRUE``, n_risk = 0); False reports NaN for those rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``time, n_risk, n_event, [n_censor,] survival, se, lower, upper,
        std_err_log, cumhaz``. ``se`` is the Greenwood SE of S (``summary``'s
        ``std.err``); ``std_err_log`` is the SE of log S (``survfit``'s
        ``std.err``); ``cumhaz`` is the Nelson-Aalen estimate (``survfit``'s
        ``cumhaz``). NA in R is NaN here.
    """
    _check_conf(conf_type, conf_level)
    t, e, _ = check_survival(time, event, require_events=False)
    ut, n, d, c = _risk_table(t, e.astype(float))
    surv, var_log = _km_from_table(n, d)
    se_log = np.sqrt(var_log)
    cumhaz = np.cumsum(d / n)

    if times is None:
        lower, upper = _conf_int(surv, se_log, conf_type, conf_level)
        with np.errstate(invalid="ignore"):  # S = 0 with infinite Greenwood term: NaN as R
            se = surv * se_log
        return pd.DataFrame(
            {
                "time": ut,
                "n_risk": n.astype(int),
                "n_event": d.astype(int),
                "n_censor": c.astype(int),
                "survival": surv,
                "se": se,
                "lower": lower,
                "upper": upper,
                "std_err_log": se_log,
                "cumhaz": cumhaz,
            }
        )

    tt = as_1d_float(np.atleast_1d(times), "times")
    if np.any(np.diff(tt) < 0):
        raise ValueError("times: must be sorted in increasing order")
    # index of the last distinct time <= t (-1: before the first time)
    idx = np.searchsorted(ut, tt, side="right") - 1
    valid = idx >= 0
    s_t = np.where(valid, surv[np.maximum(idx, 0)], 1.0)
    sl_t = np.where(valid, se_log[np.maximum(idx, 0)], 0.0)
    h_t = np.where(valid, cumhaz[np.maximum(idx, 0)], 0.0)
    n_risk = np.array([(t >= x).sum() for x in tt])
    # events in (previous reported time, t]
    cum_d = np.concatenate([[0.0], np.cumsum(d)])
    d_upto = cum_d[idx + 1]
    n_event = np.diff(np.concatenate([[0.0], d_upto]))
    if not extend:
        beyond = tt > ut[-1]
        s_t = np.where(beyond, np.nan, s_t)
        sl_t = np.where(beyond, np.nan, sl_t)
        h_t = np.where(beyond, np.nan, h_t)
    lower, upper = _conf_int(s_t, sl_t, conf_type, conf_level)
    with np.errstate(invalid="ignore"):
        se_t = s_t * sl_t
    return pd.DataFrame(
        {
            "time": tt,
            "n_risk": n_risk.astype(int),
            "n_event": n_event.astype(int),
            "survival": s_t,
            "se": se_t,
            "lower": lower,
            "upper": upper,
            "std_err_log": sl_t,
            "cumhaz": h_t,
        }
    )


def _minmin(y: np.ndarray, x: np.ndarray) -> float:
    """R's ``survival:::survmean`` ``minmin``: first x where y <= 0.5 (midpoint rule)."""
    tol = np.sqrt(np.finfo(float).eps)
    keep = ~np.isnan(y) & (y < 0.5 + tol)
    if not keep.any():
        return np.nan
    x, y = x[keep], y[keep]
    if abs(y[0] - 0.5) < tol and np.any(y < y[0]):
        # S sits at exactly 0.5 on an interval: midpoint to the next drop
        return float((x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2)
    return float(x[0])


@dataclass(frozen=True)
class MedianSurvival:
    """Median survival time with its CI (NaN = not reached, R's NA)."""

    median: float
    lower: float
    upper: float
    conf_type: str


def median_survival(time, event, conf_type: str = "log", conf_level: float = 0.95) -> MedianSurvival:
    """Median survival and its CI as printed by R.

    Reproduces ``summary(survfit(Surv(time, event) ~ 1, conf.type = conf_type))$table[
    c("median", "0.95LCL", "0.95UCL")]``: the median is the smallest time with
    S(t) <= 0.5 (midpoint if S is exactly 0.5 on an interval); the CI limits are
    the same crossing for the lower and upper pointwise confidence curves.

    Parameters
    ----------
    time, event : array-like
    conf_type : {"log", "log-log", "plain"}
    conf_level : float

    Returns
    -------
    MedianSurvival
        ``median``, ``lower``, ``upper`` (NaN where not reached).
    """
    curve = kaplan_meier(time, event, conf_type=conf_type, conf_level=conf_level)
    x = curve["time"].to_numpy()
    return MedianSurvival(
        median=_minmin(curve["survival"].to_numpy(), x),
        lower=_minmin(curve["lower"].to_numpy(), x),
        upper=_minmin(curve["upper"].to_numpy(), x),
        conf_type=conf_type,
    )


# --------------------------------------------------------------------------- log-rank
@dataclass(frozen=True)
class LogrankResult:
    """``survdiff`` output: chi-square test of equal hazards across groups."""

    statistic: float
    df: int
    p: float
    groups: tuple
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray


def logrank(time, event, group) -> LogrankResult:
    """Log-rank test for two or more groups.

    Reproduces ``survdiff(Surv(time, event) ~ group)`` (rho = 0): observed and
    expected events per group, the hypergeometric variance matrix, and the
    chi-square on (number of groups with E > 0) - 1 degrees of freedom.

    Parameters
    ----------
    time, event : array-like
    group : array-like
        Group labels (any sortable type); groups are ordered as R's factor
        levels (sorted unique values).

    Returns
    -------
    LogrankResult
        ``statistic`` (chi-square), ``df``, ``p``, ``groups``, ``n``,
        ``observed``, ``expected``, ``variance`` (G x G).
    """
    t, e, _ = check_survival(time, event)
    g = np.asarray(group)
    if g.ndim != 1:
        raise ValueError(f"group: expected a 1-D array, got shape {g.shape}")
    same_length(time=t, group=g)
    if pd.isna(pd.Series(g)).any():
        raise ValueError("group: contains missing values")
    levels, gi = np.unique(g, return_inverse=True)
    G = levels.size
    if G < 2:
        raise ValueError(f"group: needs at least two groups, got a single group {levels[0]!r}")

    ut, ti = np.unique(t, return_inverse=True)
    T = ut.size
    ef = e.astype(float)
    # per-group counts at each distinct time (G x T)
    flat = gi * T + ti
    d_g = np.bincount(flat, weights=ef, minlength=G * T).reshape(G, T)
    tot_g = np.bincount(flat, minlength=G * T).reshape(G, T).astype(float)
    n_g = np.cumsum(tot_g[:, ::-1], axis=1)[:, ::-1]  # at risk: time >= u_j
    d = d_g.sum(0)
    n = n_g.sum(0)
    ev = d > 0
    d, n, d_g, n_g = d[ev], n[ev], d_g[:, ev], n_g[:, ev]

    observed = d_g.sum(1)
    expected = (n_g * (d / n)).sum(1)
    # hypergeometric variance: d (n - d) / (n^2 (n - 1)) * n_g (delta n - n_h); 0 when n == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n**2 * (n - 1)), 0.0)
    variance = np.diag((n_g * n * w).sum(1)) - (n_g * w) @ n_g.T

    keep = expected > 0
    df = int(keep.sum()) - 1
    if df < 1:
        stat = 0.0
    else:
        oe = (observed - expected)[keep][1:]
        vv = variance[np.ix_(keep, keep)][1:, 1:]
        stat = float(oe @ np.linalg.solve(vv, oe))
    p = float(stats.chi2.sf(stat, df)) if df >= 1 else np.nan
    return LogrankResult(
        statistic=stat,
        df=df,
        p=p,
        groups=tuple(levels.tolist()),
        n=np.bincount(gi, minlength=G),
        observed=observed,
        expected=expected,
        variance=variance,
    )

"""Calibration table of predicted vs Kaplan-Meier observed risk at a fixed time.

Groups of predicted risk (deciles by default) as
``ceiling(n_groups * rank(p, ties.method = "first") / n)``; within each group the
observed risk is 1 - S(t) from ``summary(survfit(Surv(time, event) ~ 1),
times = t, extend = TRUE)``, with the 95% CI of S (conf.type "log", R's default,
and "log-log") turned into a CI of 1 - S.

A group whose follow-up ends before ``t`` with its Kaplan-Meier curve still above 0 (its
last patient censored) has no estimate at ``t``: ``extend = TRUE`` would carry its last
survival forward as if nobody in the group could have an event after their follow-up.
Such a group is marked (``followed_to_t`` False) and its observed risk and CI left
missing, unless ``short_follow_up="extend"`` asks for R's carried value. A group whose
curve reached 0 before its follow-up ended is estimated (S(t) = 0 is then known).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import as_1d_float, check_risk_at_time, same_length
from .survival_curves import kaplan_meier

__all__ = ["calibration_groups", "calibration_table"]


def calibration_groups(predicted_risk, n_groups: int = 10) -> np.ndarray:
    """Equal-size groups 1..n_groups by rank of the predicted risk: the calibration table's
    groups (deciles by default), not the X-tile risk groups of :mod:`radsurv.signatures`.

    ``ceiling(n_groups * rank(p, ties.method = "first") / n)``: ties are broken by
    input order, so the groups always have (almost) equal sizes.
    """
    p = as_1d_float(predicted_risk, "predicted_risk")
    if int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups: must be a positive integer, got {n_groups!r}")
    if n_groups > p.size:
        raise ValueError(f"n_groups: {n_groups} groups for only {p.size} subjects")
    rank_first = np.empty(p.size)
    rank_first[np.argsort(p, kind="stable")] = np.arange(1, p.size + 1)
    # the small relative slack avoids ceil(10 * 69 / 690) = ceil(1.0000000000000002)
    return np.ceil(n_groups * rank_first / p.size - 1e-12).astype(int)


SHORT_FOLLOW_UP = ("mark", "extend")


def calibration_table(time, event, predicted_risk, t: float, n_groups: int = 10, groups=None,
                      conf_level: float = 0.95, short_follow_up: str = "mark") -> pd.DataFrame:
    """Predicted vs observed risk at time ``t`` by groups of predicted risk.

    Parameters
    ----------
    time, event : array-like
    predicted_risk : array-like
        Predicted probability of an event by ``t`` (e.g. 1 - S(t | x) of a Cox model).
    t : float
        Horizon.
    n_groups : int
        Number of rank-based groups (ignored when ``groups`` is given).
    groups : array-like, optional
        Group labels (e.g. exported deciles); sorted unique labels give the rows.
    conf_level : float
    short_follow_up : {"mark", "extend"}
        A group followed for less than ``t`` (its curve above 0 at its last time):
        ``"mark"`` leaves its observed risk and CI missing; ``"extend"`` carries its last
        survival to ``t`` as R's ``summary(..., extend = TRUE)`` does.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, n, n_events_by_t, mean_predicted,
        min_predicted, max_predicted, observed, km_std_err, observed_lower,
        observed_upper, observed_lower_loglog, observed_upper_loglog, max_time,
        followed_to_t``. ``observed`` = 1 - KM S(t); ``km_std_err`` is the Greenwood
        SE of S(t); the CI columns are 1 minus the CI of S (so lower <-> upper swap);
        ``max_time`` is the group's longest follow-up, ``followed_to_t`` whether its
        Kaplan-Meier curve is estimated at ``t`` (followed to ``t``, or at 0 before).
    """
    if short_follow_up not in SHORT_FOLLOW_UP:
        raise ValueError(f"short_follow_up: expected one of {SHORT_FOLLOW_UP}, got {short_follow_up!r}")
    tt, e, p, t = check_risk_at_time(time, event, predicted_risk, t)
    if groups is None:
        g = calibration_groups(p, n_groups)
    else:
        g = np.asarray(groups)
        if g.ndim != 1:
            raise ValueError(f"groups: expected a 1-D array, got shape {g.shape}")
        same_length(time=tt, groups=g)
        if pd.isna(pd.Series(g)).any():
            raise ValueError("groups: contains missing values")

    rows = []
    for lev in np.unique(g):
        m = g == lev
        km_log = kaplan_meier(tt[m], e[m], [t], conf_type="log", conf_level=conf_level, extend=True).iloc[0]
        km_ll = kaplan_meier(tt[m], e[m], [t], conf_type="log-log", conf_level=conf_level, extend=True).iloc[0]
        max_time = float(tt[m].max())
        followed = bool(max_time >= t or km_log["survival"] == 0)
        if not followed and short_follow_up == "mark":
            # the group's curve ends before t: S(t) is not estimated, not carried forward
            km_log = km_log.copy()
            km_ll = km_ll.copy()
            km_log[["survival", "se", "lower", "upper"]] = np.nan
            km_ll[["lower", "upper"]] = np.nan
        rows.append(
            {
                "group": lev,
                "n": int(m.sum()),
                "n_events_by_t": int(((tt <= t) & (e == 1) & m).sum()),
                "mean_predicted": float(p[m].mean()),
                "min_predicted": float(p[m].min()),
                "max_predicted": float(p[m].max()),
                "observed": 1 - km_log["survival"],
                "km_std_err": km_log["se"],
                "observed_lower": 1 - km_log["upper"],
                "observed_upper": 1 - km_log["lower"],
                "observed_lower_loglog": 1 - km_ll["upper"],
                "observed_upper_loglog": 1 - km_ll["lower"],
                "max_time": max_time,
                "followed_to_t": followed,
            }
        )
    return pd.DataFrame(rows)

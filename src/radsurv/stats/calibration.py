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

Calibration-in-the-large and slope of a survival model in one group of patients
(:func:`calibration_in_the_large`, :func:`calibration_slope`), and the update of the
baseline hazard that makes the mean predicted risk match the observed one
(:func:`recalibrated_risk`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats as sps

from ._checks import as_1d_float, check_risk_at_time, check_survival, same_length
from .survival_curves import kaplan_meier

__all__ = ["CalibrationInTheLarge", "CalibrationSlope", "calibration_groups", "calibration_in_the_large",
           "calibration_slope", "calibration_table", "recalibrated_risk"]


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


def recalibrated_risk(predicted_risk, alpha: float) -> np.ndarray:
    """Predicted risk after recalibration-in-the-large: the baseline cumulative hazard
    multiplied by ``exp(alpha)``.

    A proportional-hazards model predicts ``p = 1 - S0(t) ** exp(lp)``, i.e. the
    cumulative hazard ``H = -log(1 - p) = H0(t) exp(lp)``; multiplying ``H0`` by
    ``exp(alpha)`` (the intercept of the linear predictor updated by ``alpha``, the lp's
    weight kept) gives ``1 - (1 - p) ** exp(alpha)`` (Steyerberg 2019, ch. 20).

    Parameters
    ----------
    predicted_risk : array-like
        Predicted risk of an event by the horizon, in [0, 1].
    alpha : float
        The update of the log baseline cumulative hazard.
    """
    p = as_1d_float(predicted_risk, "predicted_risk")
    if (p < 0).any() or (p > 1).any():
        raise ValueError("predicted_risk: must be probabilities in [0, 1]")
    return 1.0 - np.power(1.0 - p, np.exp(float(alpha)))


@dataclass(frozen=True)
class CalibrationInTheLarge:
    """Observed against expected risk by a horizon in one group of patients
    (:func:`calibration_in_the_large`).

    Attributes
    ----------
    n, events_by_t : int
        Patients, and events observed by ``t``.
    t : float
    observed, observed_se : float
        Kaplan-Meier risk ``1 - S(t)`` and its Greenwood SE (O, as a proportion).
    expected : float
        Mean predicted risk (E, as a proportion).
    oe, oe_lower, oe_upper : float
        O/E and its CI (> 1: the model under-predicts).
    log_oe_se : float
        SE of ``log(O/E)``: ``observed_se / observed``.
    alpha, alpha_se, alpha_lower, alpha_upper : float
        Calibration-in-the-large on the log cumulative-hazard scale: the update of the
        log baseline cumulative hazard after which the mean predicted risk equals the
        observed one (0 = calibrated in the large), its delta-method SE and CI.
    conf_level : float
    """

    n: int
    events_by_t: int
    t: float
    observed: float
    observed_se: float
    expected: float
    oe: float
    log_oe_se: float
    oe_lower: float
    oe_upper: float
    alpha: float
    alpha_se: float
    alpha_lower: float
    alpha_upper: float
    conf_level: float

    def recalibrated(self, predicted_risk) -> np.ndarray:
        """The predictions after recalibration-in-the-large by :attr:`alpha`
        (:func:`recalibrated_risk`): their mean is :attr:`observed`."""
        return recalibrated_risk(predicted_risk, self.alpha)


def _solve_alpha(p: np.ndarray, target: float) -> float:
    """The alpha with ``mean(1 - (1 - p) ** exp(alpha)) = target`` (increasing in alpha)."""
    def gap(a):
        return float(np.mean(recalibrated_risk(p, a))) - target

    lo, hi = -1.0, 1.0
    while gap(lo) > 0 and lo > -60:
        lo *= 2
    while gap(hi) < 0 and hi < 60:
        hi *= 2
    if gap(lo) > 0 or gap(hi) < 0:
        return float("nan")
    return float(optimize.brentq(gap, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500))


def calibration_in_the_large(time, event, predicted_risk, t: float,
                             conf_level: float = 0.95) -> CalibrationInTheLarge:
    """Calibration-in-the-large of predicted risks by a horizon: observed/expected (O/E)
    and the update of the baseline hazard that removes it.

    With ``S_KM(t)`` the Kaplan-Meier survival of the group at ``t`` and ``p_i`` the
    predicted risks of its ``n`` patients::

        O = 1 - S_KM(t)            E = mean(p_i)            O/E
        SE(log O/E) = SE_Greenwood(S_KM(t)) / O                (delta method; E is fixed)
        CI = exp(log(O/E) -/+ z SE(log O/E))

    the O/E at a horizon of Debray et al. (2017) for a time-to-event model, the
    Kaplan-Meier risk standing for the observed proportion under censoring. Without
    censoring before ``t`` the Greenwood SE is binomial and ``SE(log O/E) = sqrt(1/d - 1/n)``
    (``d`` events), the binary outcome's formula; there ``log(O/E) = log(sum d / sum p)``
    is also the intercept of a Poisson GLM of the event indicator with offset ``log p_i``,
    whose SE ``1/sqrt(d)`` (Riley et al. 2021) is larger.

    ``alpha`` is calibration-in-the-large on the scale of the model, the log cumulative
    hazard: the root of ``mean(1 - (1 - p_i) ** exp(alpha)) = O``, i.e. the baseline
    cumulative hazard multiplied by ``exp(alpha)`` makes the mean predicted risk equal
    the observed one (:func:`recalibrated_risk`; Steyerberg 2019, ch. 20, "updating the
    intercept"). For a model whose every hazard is ``k`` times the truth, ``exp(alpha)``
    estimates ``1 / k`` (and O/E does when risks are small). Its SE is the delta method's,
    ``SE(O) / mean(H_i' exp(-H_i'))`` with ``H_i'`` the recalibrated cumulative hazards.
    This is the horizon form of the intercept-only Poisson model with offset
    ``log H_i`` of Crowson, Atkinson & Therneau (2016), whose ``alpha = log(sum d_i /
    sum H_i)`` needs the baseline cumulative hazard at every patient's follow-up; a
    model published with its baseline at fixed horizons only (as ``04_models`` writes
    it) is assessed at the horizons.

    Parameters
    ----------
    time, event : array-like
        Follow-up and event indicator of the group.
    predicted_risk : array-like
        Each patient's predicted risk of an event by ``t``, in [0, 1].
    t : float
        Horizon (the units of ``time``).
    conf_level : float

    Returns
    -------
    CalibrationInTheLarge

    Raises
    ------
    ValueError
        The follow-up ends before ``t`` with the Kaplan-Meier curve above 0 (no
        observed risk at ``t``), or no event by ``t`` (O = 0: no log-scale CI).

    References
    ----------
    Crowson CS, Atkinson EJ, Therneau TM. Assessing calibration of prognostic risk
    scores. Stat Methods Med Res 2016;25:1692-1706.
    Debray TPA, Damen JAAG, Snell KIE, et al. A guide to systematic review and
    meta-analysis of prediction model performance. BMJ 2017;356:i6460.
    Riley RD, Debray TPA, Collins GS, et al. Minimum sample size for external validation
    of a clinical prediction model with a binary outcome. Stat Med 2021;40:4230-4251.
    Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer 2019, ch. 20.
    """
    tt, e, p, t = check_risk_at_time(time, event, predicted_risk, t)
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level: must be in (0, 1), got {conf_level!r}")
    km = kaplan_meier(tt, e, [t], extend=True).iloc[0]
    s, se = float(km["survival"]), float(km["se"])
    if tt.max() < t and s > 0:
        raise ValueError(f"t: follow-up ends at {tt.max():g}, before the horizon {t:g}: no observed risk at t")
    d = int(((tt <= t) & (e == 1)).sum())
    if d == 0:
        raise ValueError(f"event: no event by t = {t:g}, so O/E is 0 and has no log-scale CI")
    z = float(sps.norm.ppf(0.5 + conf_level / 2))
    o, ex = 1.0 - s, float(p.mean())
    oe = o / ex if ex > 0 else float("inf")
    log_se = se / o
    alpha = _solve_alpha(p, o)
    if np.isfinite(alpha):
        h = -np.log1p(-np.clip(p, 0.0, np.nextafter(1.0, 0.0))) * np.exp(alpha)   # recalibrated cumulative hazards
        slope = float(np.mean(h * np.exp(-h)))
        alpha_se = se / slope if slope > 0 else float("nan")
    else:
        alpha_se = float("nan")
    return CalibrationInTheLarge(n=int(tt.size), events_by_t=d, t=t, observed=o, observed_se=se, expected=ex, oe=oe,
                                 log_oe_se=log_se, oe_lower=oe * float(np.exp(-z * log_se)),
                                 oe_upper=oe * float(np.exp(z * log_se)), alpha=alpha, alpha_se=alpha_se,
                                 alpha_lower=alpha - z * alpha_se, alpha_upper=alpha + z * alpha_se,
                                 conf_level=conf_level)


@dataclass(frozen=True)
class CalibrationSlope:
    """The calibration slope of a linear predictor in a group (:func:`calibration_slope`):
    ``slope`` with its model-based ``se`` and Wald CI ``lower``-``upper``."""

    slope: float
    se: float
    lower: float
    upper: float
    conf_level: float


def calibration_slope(time, event, lp, conf_level: float = 0.95) -> CalibrationSlope:
    """Calibration slope of a Cox model's linear predictor in a group of patients.

    The coefficient of ``lp`` in ``coxph(Surv(time, event) ~ lp)`` refitted in the group
    (Efron ties; a separating fit as R reports it), with the inverse-information SE and
    the Wald CI: 1 = ideal, below 1 = predictions too extreme (Crowson et al. 2016;
    Steyerberg 2019). An ``lp`` without spread has no slope (NaN).

    Parameters
    ----------
    time, event, lp : array-like
    conf_level : float

    Returns
    -------
    CalibrationSlope

    References
    ----------
    Crowson CS, Atkinson EJ, Therneau TM. Assessing calibration of prognostic risk
    scores. Stat Methods Med Res 2016;25:1692-1706.
    """
    from .cox import fit_cox

    tt, e, o = check_survival(time, event, require_events=False, lp=lp)
    x = o["lp"]
    z = float(sps.norm.ppf(0.5 + conf_level / 2))
    if x.size == 0 or np.ptp(x) == 0 or e.sum() == 0:
        nan = float("nan")
        return CalibrationSlope(nan, nan, nan, nan, conf_level)
    fit = fit_cox(pd.DataFrame({"lp": x}), tt, e, monotone="as_r")
    b, se = float(fit.coef["lp"]), float(fit.se["lp"])
    return CalibrationSlope(b, se, b - z * se, b + z * se, conf_level)

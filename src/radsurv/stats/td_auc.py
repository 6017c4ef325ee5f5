"""Cumulative/dynamic time-dependent AUC with IPCW, matched to riskRegression.

Reproduces::

    riskRegression::Score(list(a = risk_a, b = risk_b), Hist(time, event) ~ 1,
                          data, times, metrics = "auc", cens.model = "km",
                          se.fit = TRUE, conservative = FALSE, contrasts = TRUE)

Estimator (Blanche, Dartigues & Jacqmin-Gadda 2013; Uno-type weights). At a
horizon t, cases are ``T_i <= t`` with the event, weighted ``W_i = 1/G(T_i-)``;
controls are ``T_j > t``, weighted ``W_j = 1/G(t)``; censored ``T <= t`` are
neither, a patient censored exactly at ``t`` included (weight 0; the right-continuous
G(t) already counts that censoring, so the controls' weight stands for them).
:func:`radsurv.stats.binary_at_time`, the fixed-horizon outcome of the DeLong
comparison, uses the same cases and controls.
G is the reverse Kaplan-Meier of the censoring distribution as prodlim
(``reverse = TRUE``) computes it: an event tied with a censoring time is taken
to occur first, so it is *not* in the censoring risk set at that time. Marker ties between a case and a control count 1/2, which is the
trapezoidal area riskRegression computes::

    AUC(t) = sum_ij A_i B_j W_i W_j K_ij / (sum_i A_i W_i * sum_j B_j W_j),
    K_ij = 1{M_i > M_j} + 1/2 1{M_i = M_j}.

Standard error: ``sd(IF) / sqrt(n)`` (R's ``sd``, denominator n - 1) of the
influence function of AUC(t), as riskRegression's ``getInfluenceCurve.AUC``:
the U-statistic part with G held fixed, plus the term from estimating G by
Kaplan-Meier, whose influence function riskRegression takes as that of the
Nelson-Aalen censoring cumulative hazard, ``IF(1/G(s)) = IF(Lambda_C(s)) /
G(s)``, computed with the full risk set #{T >= u} (riskRegression's
``getInfluenceFunctionKM``; this differs from prodlim's G at tied times, and
both conventions are needed to reproduce Score to 1e-15). The G(t) part of the control weights cancels between numerator and
denominator (every control has the same weight), so only G(T_i-) of the cases
contributes. As in riskRegression, the censoring term is dropped when
``t >= max(time)``. CI: AUC +/- z * se clipped to [0, 1]. Contrasts use the
difference of the two influence functions (paired), unclipped CI and a
two-sided normal p.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import as_1d_float, check_conf_level, check_not_constant, check_survival

__all__ = ["td_auc", "td_auc_compare", "td_roc_curve"]


class _Censoring:
    """Reverse Kaplan-Meier of censoring and the Nelson-Aalen influence pieces."""

    def __init__(self, time: np.ndarray, event: np.ndarray):
        n = time.size
        self.n = n
        self.utime, inv = np.unique(time, return_inverse=True)
        self.inv = inv  # index of each subject's time in utime
        counts = np.bincount(inv, minlength=self.utime.size)
        cens = np.bincount(inv, weights=(event == 0).astype(float), minlength=self.utime.size)
        events = counts - cens
        y_all = n - np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(float)  # #{T >= u}
        # G: prodlim's reverse Kaplan-Meier (what Score uses) takes an event tied with
        # u as happening first, so it is not at risk of censoring at u:
        # Y_C(u) = #{T > u} + #{T = u, censored} = #{T >= u} - events(u).
        y_cens = y_all - events
        self.G_after = np.cumprod(1.0 - cens / np.where(y_cens > 0, y_cens, 1.0))
        # The influence function of the censoring cumulative hazard, though, is taken
        # by riskRegression (getInfluenceFunctionKM) with the full risk set #{T >= u};
        # both conventions are needed to reproduce Score's AUC *and* its se.
        self.at_risk = y_all
        self.d_cens = cens
        # increments of the compensator in IF(Lambda_C): n dN_C(u) / Y(u)^2
        self.h = n * cens / y_all**2

    def G_at(self, s: float) -> float:
        """G(s), right-continuous."""
        k = np.searchsorted(self.utime, s, side="right") - 1
        return 1.0 if k < 0 else float(self.G_after[k])

    def G_minus_subjects(self) -> np.ndarray:
        """G(T_i-) for every subject."""
        G_before = np.concatenate([[1.0], self.G_after[:-1]])
        return G_before[self.inv]


def _auc_and_if(time, event, risk, t, cz: _Censoring, G_minus):
    """AUC(t) and its influence function (length n, not centred)."""
    n = time.size
    A = (time <= t) & (event == 1)
    B = time > t
    n_cases, n_controls = int(A.sum()), int(B.sum())
    if n_cases == 0 or n_controls == 0:
        return np.nan, np.full(n, np.nan), n_cases, n_controls
    W = np.zeros(n)
    W[A] = 1.0 / G_minus[A]
    Gt = cz.G_at(t)
    W[B] = 1.0 / Gt

    # a_i = (1/n) sum_j B_j W_j K_ij for cases, b_j = (1/n) sum_i A_i W_i K_ij for controls.
    ctrl_sorted = np.sort(risk[B])
    below = np.searchsorted(ctrl_sorted, risk, side="left")
    upto = np.searchsorted(ctrl_sorted, risk, side="right")
    a = (below + 0.5 * (upto - below)) / (n * Gt)  # controls have the same weight 1/G(t)

    order = np.argsort(risk[A], kind="mergesort")
    case_risk = risk[A][order]
    case_w = W[A][order]
    cw = np.concatenate([[0.0], np.cumsum(case_w)])
    lo = np.searchsorted(case_risk, risk, side="left")
    hi = np.searchsorted(case_risk, risk, side="right")
    total_case_w = cw[-1]
    # weight of cases strictly above + half of ties
    b = ((total_case_w - cw[hi]) + 0.5 * (cw[hi] - cw[lo])) / n

    C_A = W[A].sum() / n
    C_B = W[B].sum() / n
    Den = C_A * C_B
    Num = np.sum(W[A] * a[A]) / n
    auc = Num / Den

    # U-statistic part with G fixed (constants dropped: sd() centres anyway).
    if0 = np.zeros(n)
    if0[A] = W[A] * (a[A] - auc * C_B) / Den
    if0[B] = W[B] * (b[B] - auc * C_A) / Den

    if t >= time.max():
        # riskRegression: conservative = TRUE when t >= max(time)
        return auc, if0, n_cases, n_controls

    # Censoring term: (1/Den)(1/n) sum_i A_i W_i (a_i - AUC C_B) IF_k(Lambda_C(T_i-)), with
    # IF_k(Lambda_C(s-)) = n 1{T_k < s, cens_k} / Y(T_k) - sum_{u < s, u <= T_k} n dN_C(u) / Y(u)^2.
    c = np.zeros(n)
    c[A] = W[A] * (a[A] - auc * C_B) / (n * Den)
    # C(u) = sum_i c_i 1{T_i > u}, on the unique-time grid
    c_by_time = np.bincount(cz.inv, weights=c, minlength=cz.utime.size)
    C_gt = c_by_time[::-1].cumsum()[::-1] - c_by_time  # strictly greater than u
    jump_part = np.where(event == 0, n / cz.at_risk[cz.inv] * C_gt[cz.inv], 0.0)
    comp_part = np.cumsum(cz.h * C_gt)[cz.inv]  # sum over u <= T_k
    cens_if = jump_part - comp_part
    return auc, if0 + cens_if, n_cases, n_controls


def _prepare(time, event, **risks):
    t, e, r = check_survival(time, event, **risks)
    for k, v in r.items():
        check_not_constant(v, k)
    return t, e, r


def _check_times(times) -> np.ndarray:
    tt = np.atleast_1d(as_1d_float(np.atleast_1d(times), "times"))
    if (tt < 0).any():
        raise ValueError("times: horizons must be non-negative")
    return tt


def td_auc(time, event, risk, times, conf_level: float = 0.95) -> pd.DataFrame:
    """Cumulative/dynamic AUC(t) with IPCW (KM censoring) and influence-function SE.

    Parameters
    ----------
    time : array of float
        Follow-up time.
    event : array of 0/1
        1 = event, 0 = censored.
    risk : array of float
        Risk score; higher = higher risk. Used unchanged at every horizon.
    times : float or array
        Horizons t.
    conf_level : float
        Level of the Wald interval (clipped to [0, 1]).

    Returns
    -------
    DataFrame
        One row per horizon: ``time``, ``auc``, ``se``, ``lower``, ``upper``,
        ``n_cases``, ``n_controls``. AUC is NaN where there are no cases or no
        controls at t.

    R equivalent::

        riskRegression::Score(list(m = risk), Hist(time, event) ~ 1, data, times = times,
                              metrics = "auc", cens.model = "km")$AUC$score
    """
    t, e, r = _prepare(time, event, risk=risk)
    tt = _check_times(times)
    cz = _Censoring(t, e)
    Gm = cz.G_minus_subjects()
    z = stats.norm.ppf(0.5 + check_conf_level(conf_level) / 2)
    rows = []
    n = t.size
    for s in tt:
        auc, IF, nc, nn = _auc_and_if(t, e, r["risk"], s, cz, Gm)
        se = float(np.std(IF, ddof=1) / np.sqrt(n)) if np.isfinite(auc) else np.nan
        rows.append(
            dict(
                time=s,
                auc=auc,
                se=se,
                lower=max(0.0, auc - z * se) if np.isfinite(auc) else np.nan,
                upper=min(1.0, auc + z * se) if np.isfinite(auc) else np.nan,
                n_cases=nc,
                n_controls=nn,
            )
        )
    return pd.DataFrame(rows)


def td_auc_compare(time, event, risk_a, risk_b, times, conf_level: float = 0.95) -> pd.DataFrame:
    """Paired comparison of two time-dependent AUCs on the same patients.

    Parameters
    ----------
    time, event : arrays
        Follow-up time and event indicator (1 = event).
    risk_a, risk_b : arrays of float
        Two risk scores on the same patients (higher = higher risk).
    times : float or array
        Horizons t.
    conf_level : float
        Level of the intervals.

    Returns
    -------
    DataFrame
        One row per horizon: ``time``, ``auc_a``, ``se_a``, ``auc_b``, ``se_b``,
        ``delta`` = AUC(b) - AUC(a), ``se`` (of delta, from the difference of
        the influence functions), ``lower``, ``upper`` (delta +/- z se,
        unclipped) and the two-sided ``p``.

    R equivalent::

        riskRegression::Score(list(a = risk_a, b = risk_b), Hist(time, event) ~ 1, data,
                              times = times, metrics = "auc", cens.model = "km",
                              contrasts = TRUE)$AUC$contrasts
    """
    t, e, r = _prepare(time, event, risk_a=risk_a, risk_b=risk_b)
    tt = _check_times(times)
    cz = _Censoring(t, e)
    Gm = cz.G_minus_subjects()
    z = stats.norm.ppf(0.5 + check_conf_level(conf_level) / 2)
    n = t.size
    rows = []
    for s in tt:
        auc_a, IF_a, _, _ = _auc_and_if(t, e, r["risk_a"], s, cz, Gm)
        auc_b, IF_b, _, _ = _auc_and_if(t, e, r["risk_b"], s, cz, Gm)
        delta = auc_b - auc_a
        se = float(np.std(IF_b - IF_a, ddof=1) / np.sqrt(n)) if np.isfinite(delta) else np.nan
        p = float(2 * stats.norm.sf(abs(delta) / se)) if se > 0 else np.nan
        rows.append(
            dict(
                time=s,
                auc_a=auc_a,
                se_a=float(np.std(IF_a, ddof=1) / np.sqrt(n)),
                auc_b=auc_b,
                se_b=float(np.std(IF_b, ddof=1) / np.sqrt(n)),
                delta=delta,
                se=se,
                lower=delta - z * se,
                upper=delta + z * se,
                p=p,
            )
        )
    return pd.DataFrame(rows)


def td_roc_curve(time, event, risk, t: float) -> pd.DataFrame:
    """Cumulative/dynamic ROC curve at horizon ``t`` with IPCW, the curve whose area
    :func:`td_auc` reports.

    Cases are the patients with the event by ``t``, weighted 1/G(T_i-); controls are
    event-free beyond ``t``, weighted 1/G(t) (equal weights). At each threshold c of the
    risk score, sensitivity = weighted share of cases with risk > c and 1 - specificity
    = share of controls with risk > c (``timeROC``'s and riskRegression's definition).

    Parameters
    ----------
    time, event, risk : array-like
    t : float
        Horizon.

    Returns
    -------
    DataFrame
        ``threshold``, ``fpr``, ``tpr`` from (0, 0) to (1, 1) over the distinct risk values
        (highest threshold first). Its trapezoidal area equals ``td_auc``'s AUC (ties in
        risk between a case and a control count one half, as the straight segment does).
    """
    tt, e, r = _prepare(time, event, risk=risk)
    t = float(_check_times([t])[0])
    cz = _Censoring(tt, e)
    G_minus = cz.G_minus_subjects()
    case = (tt <= t) & (e == 1)
    control = tt > t
    if not case.any() or not control.any():
        raise ValueError(f"t: no cases or no controls at horizon {t:g}; the ROC curve is undefined")
    w_case = np.where(case, 1.0 / G_minus, 0.0)
    risk_ = r["risk"]
    thresholds = np.unique(risk_)[::-1]
    # Sums over risk > c, for c at each distinct value (from the highest down).
    order = np.argsort(-risk_, kind="mergesort")
    rs = risk_[order]
    cum_case = np.cumsum(w_case[order])
    cum_ctrl = np.cumsum(control[order].astype(float))
    # index of the last patient with risk > c: patients strictly above each threshold
    above = np.searchsorted(-rs, -thresholds, side="left")
    tp = np.where(above > 0, cum_case[np.maximum(above - 1, 0)], 0.0)
    fp = np.where(above > 0, cum_ctrl[np.maximum(above - 1, 0)], 0.0)
    # (clipped: the cumulative sum can end a rounding error above the total)
    tpr = np.r_[np.minimum(tp / w_case.sum(), 1.0), 1.0]
    fpr = np.r_[np.minimum(fp / control.sum(), 1.0), 1.0]
    return pd.DataFrame({"threshold": np.r_[thresholds, -np.inf], "fpr": fpr, "tpr": tpr})

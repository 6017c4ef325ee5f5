"""Net benefit for a survival outcome at a fixed horizon (decision curve analysis).

For each threshold probability pt, subjects with predicted risk p >= pt are
"treated"; the event probability among them is estimated by Kaplan-Meier, so
censoring before ``t`` is handled as in Vickers et al. (2008):

    NB_model(pt) = (1 - S_high(t)) P_high - S_high(t) P_high pt / (1 - pt)
    NB_all(pt)   = (1 - S(t)) - S(t) pt / (1 - pt)
    NB_none      = 0

with P_high = mean(p >= pt) and S from ``summary(survfit(...), times = t,
extend = TRUE)``. The ``dcurves`` package (not a dependency here) implements the
same survival definition; this is a direct implementation checked against R.

At a high threshold the treated group is small, and its follow-up may end before ``t``:
its Kaplan-Meier survival is then carried from its last time to ``t`` (R's ``extend``),
which assumes no event after the last follow-up. Such thresholds are flagged
(``high_followed_to_t`` False) and :func:`short_follow_up_note` says so in a sentence
the caller can print beside the curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import as_1d_float, check_risk_at_time
from .survival_curves import kaplan_meier

__all__ = ["net_benefit", "short_follow_up_note"]


def net_benefit(time, event, predicted_risk, t: float, thresholds) -> pd.DataFrame:
    """Net benefit of a risk model, treat-all and treat-none at horizon ``t``.

    Parameters
    ----------
    time, event : array-like
    predicted_risk : array-like
        Predicted probability of an event by ``t``.
    t : float
        Horizon.
    thresholds : array-like
        Threshold probabilities in [0, 1).

    Returns
    -------
    pandas.DataFrame
        ``threshold, n_high, prop_high, km_surv_high, max_time_high,
        high_followed_to_t, nb_model, nb_treat_all, nb_treat_none``. When nobody is at
        or above a threshold, ``nb_model`` is 0 and ``km_surv_high``/``max_time_high``
        are NaN. ``high_followed_to_t`` is False where the treated group's longest
        follow-up ends before ``t`` while its Kaplan-Meier curve is above 0, so that
        ``km_surv_high`` (and ``nb_model``) carries its last value to ``t``; True
        otherwise (and where nobody is treated: nothing is estimated).
    """
    tt, e, p, t = check_risk_at_time(time, event, predicted_risk, t)
    pts = as_1d_float(np.atleast_1d(thresholds), "thresholds")
    if (pts < 0).any() or (pts >= 1).any():
        raise ValueError("thresholds: must lie in [0, 1)")

    s_all = float(kaplan_meier(tt, e, [t], extend=True)["survival"].iloc[0])
    rows = []
    for pt in pts:
        high = p >= pt
        n_high = int(high.sum())
        prop = n_high / p.size
        odds = pt / (1 - pt)
        if n_high > 0:
            s_high = float(kaplan_meier(tt[high], e[high], [t], extend=True)["survival"].iloc[0])
            nb = (1 - s_high) * prop - s_high * prop * odds
            max_time = float(tt[high].max())
            followed = bool(max_time >= t or s_high == 0)
        else:
            s_high, nb, max_time, followed = np.nan, 0.0, np.nan, True
        rows.append(
            {
                "threshold": pt,
                "n_high": n_high,
                "prop_high": prop,
                "km_surv_high": s_high,
                "max_time_high": max_time,
                "high_followed_to_t": followed,
                "nb_model": nb,
                "nb_treat_all": (1 - s_all) - s_all * odds,
                "nb_treat_none": 0.0,
            }
        )
    return pd.DataFrame(rows)


def short_follow_up_note(table: pd.DataFrame, t: float) -> str:
    """A sentence on the thresholds whose treated group was not followed to ``t``
    (:func:`net_benefit`'s ``high_followed_to_t``), or "" when there are none.

    Parameters
    ----------
    table : DataFrame
        :func:`net_benefit`'s result.
    t : float
        Its horizon, in the units of the follow-up.
    """
    short = table[~table["high_followed_to_t"].astype(bool)]
    if short.empty:
        return ""
    lo, hi = float(short["threshold"].min()), float(short["threshold"].max())
    span = f"threshold {lo:g}" if lo == hi else f"{len(short)} thresholds between {lo:g} and {hi:g}"
    return (f"at {span} the patients above the threshold were followed for at most "
            f"{float(short['max_time_high'].max()):g} (less than the horizon {float(t):g}), so their Kaplan-Meier "
            "risk and the net benefit there carry the last follow-up forward and are not estimated at the horizon")

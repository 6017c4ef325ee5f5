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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import as_1d_float, check_risk_at_time
from .survival_curves import kaplan_meier

__all__ = ["net_benefit"]


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
        ``threshold, n_high, prop_high, km_surv_high, max_time_high, nb_model,
        nb_treat_all, nb_treat_none``. When nobody is at or above a threshold,
        ``nb_model`` is 0 and ``km_surv_high``/``max_time_high`` are NaN.
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
        else:
            s_high, nb, max_time = np.nan, 0.0, np.nan
        rows.append(
            {
                "threshold": pt,
                "n_high": n_high,
                "prop_high": prop,
                "km_surv_high": s_high,
                "max_time_high": max_time,
                "nb_model": nb,
                "nb_treat_all": (1 - s_all) - s_all * odds,
                "nb_treat_none": 0.0,
            }
        )
    return pd.DataFrame(rows)

"""How well a risk score ranks patients: Harrell's and Uno's C of the Rad-scores in each
set, and the one rule for a score that ranks no one.

A LASSO that keeps no feature gives a constant Rad-score (and a model without a
variable a constant linear predictor). :func:`radsurv.stats.harrell_c` refuses such a
score, as there is nothing to rank; the pipeline scores it :data:`NULL_C` (C = 0.5, with
no uncertainty), the null model, rather than dropping it. :func:`is_constant` and
:func:`score_concordance` are that rule, used by the signatures stage, the
multi-modal comparison, the optimism bootstrap and the permutation null.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import SPLITS
from ..stats import harrell_c, uno_c

__all__ = ["NULL_C", "UNO_TAU_MONTHS", "discrimination", "is_constant", "oracle_discrimination", "score_concordance"]

#: Uno's C is truncated at 5 years (months), where every set still has patients at risk.
UNO_TAU_MONTHS = 60.0
#: The C-index of a constant score (it ranks no pair of patients): the null model's.
NULL_C = 0.5


def is_constant(score: np.ndarray) -> bool:
    """Whether ``score`` is the same for every patient (no feature selected)."""
    return np.ptp(score) == 0


def score_concordance(time: np.ndarray, event: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Harrell's C of ``score`` with R's standard error and Wald 95% CI.

    Returns
    -------
    dict
        ``c``, ``se``, ``lower``, ``upper``: :func:`radsurv.stats.harrell_c`'s, or
        :data:`NULL_C` with a standard error of 0 for a constant score.
    """
    if is_constant(score):
        return {"c": NULL_C, "se": 0.0, "lower": NULL_C, "upper": NULL_C}
    hc = harrell_c(time, event, score)
    return {"c": hc.c, "se": hc.se, "lower": hc.lower, "upper": hc.upper}


def discrimination(scores: pd.DataFrame, outcome: pd.DataFrame, names: list[str],
                   tau: float = UNO_TAU_MONTHS) -> pd.DataFrame:
    """Harrell's C (R's standard error and Wald CI) and Uno's C (truncated at ``tau``)
    of each Rad-score in each set (a set without events is left out).

    Returns
    -------
    DataFrame
        ``signature``, ``set``, ``n``, ``events``, ``c``, ``se``, ``lower``, ``upper``, ``uno_c``.
    """
    rows = []
    for name in names:
        for s in SPLITS:
            sel = (outcome["split"] == s).to_numpy()
            if not sel.any() or outcome.loc[sel, "event"].sum() == 0:
                continue
            t, e, r = outcome.loc[sel, "time"].to_numpy(), outcome.loc[sel, "event"].to_numpy(), \
                scores.loc[sel, name].to_numpy()
            row = {"signature": name, "set": s, "n": int(sel.sum()), "events": int(e.sum())}
            row.update(score_concordance(t, e, r))
            row["uno_c"] = NULL_C if is_constant(r) else uno_c(t, e, r, tau=tau).c
            rows.append(row)
    return pd.DataFrame(rows)


def oracle_discrimination(eta: pd.Series | None, outcome: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`discrimination` of the digital twin's true linear predictor (the best any
    model can reach on these patients), as the ``oracle`` row; None for a real cohort.

    Parameters
    ----------
    eta : Series or None
        The true linear predictor per patient (:func:`radsurv.stages.readers.read_oracle`).
    outcome : DataFrame
        ``split``, ``time``, ``event`` of the analysed patients (its index).
    """
    if eta is None:
        return None
    return discrimination(pd.DataFrame({"oracle": eta.reindex(outcome.index).to_numpy()}, index=outcome.index),
                          outcome, ["oracle"])

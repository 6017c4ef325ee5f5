"""Decision curves of the models at fixed horizons, in every set.

Net benefit of treating (or intensifying follow-up for) the patients whose predicted
risk of recurrence by the horizon is at least a threshold p_t, against treating all and
treating none (Vickers et al. 2008, survival version with Kaplan-Meier risks;
``radsurv.stats.net_benefit``). The predicted risk is the model's ``1 - S0(t) **
exp(score)`` from the training fit, unchanged in the test sets.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import SPLITS
from ..stats import net_benefit
from .calibration import predicted_risk

__all__ = ["benefit_range", "decision_curves"]


def decision_curves(outcome: pd.DataFrame, scores: pd.DataFrame, s0: Mapping[tuple[str, float], float],
                    models: Sequence[str], horizons: Sequence[float], thresholds) -> pd.DataFrame:
    """Net benefit of each model, treat-all and treat-none per set, horizon and threshold.

    Models are compared on the patients every model can score (complete cases of all),
    so that their curves and the treat-all curve share one population. A horizon beyond
    a set's follow-up is left out of that set (the risk is not estimable there).

    Returns
    -------
    DataFrame
        ``set, horizon, strategy`` (a model key, ``"all"`` or ``"none"``), ``threshold``,
        ``net_benefit``, ``n``.
    """
    thresholds = np.asarray(thresholds, dtype=float)
    rows = []
    for split in SPLITS:
        sel = (outcome["split"] == split).to_numpy() & scores[list(models)].notna().all(axis=1).to_numpy()
        t = outcome.loc[sel, "time"].to_numpy(float)
        e = outcome.loc[sel, "event"].to_numpy(int)
        if t.size == 0 or e.sum() == 0:
            continue
        for h in horizons:
            if t.max() < h:
                continue
            for k, key in enumerate(models):
                nb = net_benefit(t, e, predicted_risk(scores.loc[sel, key].to_numpy(float), s0[(key, float(h))]), h,
                                 thresholds)
                frame = pd.DataFrame({"set": split, "horizon": float(h), "strategy": key,
                                      "threshold": nb["threshold"], "net_benefit": nb["nb_model"], "n": int(t.size)})
                if k == 0:
                    for strategy, column in (("all", "nb_treat_all"), ("none", "nb_treat_none")):
                        rows.append(frame.assign(strategy=strategy, net_benefit=nb[column].to_numpy()))
                rows.append(frame)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["set", "horizon", "strategy", "threshold", "net_benefit", "n"])


def benefit_range(curves: pd.DataFrame, split: str, horizon: float, strategy: str,
                  margin: float = 0.0) -> tuple[float, float] | None:
    """The thresholds over which ``strategy`` has a higher net benefit than both treat-all
    and treat-none (by more than ``margin``): the first and last such threshold of the
    longest run of consecutive grid points, or None."""
    d = curves[(curves["set"] == split) & (curves["horizon"] == float(horizon))]
    if d.empty:
        return None
    wide = d.pivot_table(index="threshold", columns="strategy", values="net_benefit")
    if strategy not in wide:
        return None
    better = (wide[strategy] > wide[["all", "none"]].max(axis=1) + margin).to_numpy()
    best, start, run = None, None, 0
    for i, b in enumerate(better):
        if b:
            start = i if start is None else start
            if i - start + 1 > run:
                run, best = i - start + 1, (start, i)
        else:
            start = None
    if best is None:
        return None
    th = wide.index.to_numpy()
    return float(th[best[0]]), float(th[best[1]])

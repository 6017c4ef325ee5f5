"""Decision curves of the models at fixed horizons, in every set.

Net benefit of treating (or intensifying follow-up for) the patients whose predicted
risk of recurrence by the horizon is at least a threshold p_t, against treating all and
treating none (Vickers et al. 2008, survival version with Kaplan-Meier risks;
``radsurv.stats.net_benefit``). The predicted risk is the model's ``1 - S0(t) **
exp(score)`` from the training fit, unchanged in the test sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS, SPLITS
from ..models.six_models import MODELS
from ..preconditions import horizon_reason
from ..results import ShowsItself, new_axes
from ..stats import net_benefit
from .calibration import predicted_risk

__all__ = ["DecisionCurves", "benefit_range", "decision_curves"]

COLUMNS = ["set", "horizon", "strategy", "threshold", "net_benefit", "n"]


def decision_curves(outcome: pd.DataFrame, scores: pd.DataFrame, s0: Mapping[tuple[str, float], float],
                    models: Sequence[str], horizons: Sequence[float], thresholds) -> "DecisionCurves":
    """Net benefit of each model, treat-all and treat-none per set, horizon and threshold.

    Models are compared on the patients every model can score (complete cases of all),
    so that their curves and the treat-all curve share one population. A horizon beyond
    a set's follow-up is left out of that set (the risk is not estimable there).

    Returns
    -------
    DecisionCurves
        Its ``curves``: ``set, horizon, strategy`` (a model key, ``"all"`` or ``"none"``),
        ``threshold``, ``net_benefit``, ``n``.
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
            if horizon_reason(t, e, h):   # follow-up ends before the horizon (`radsurv validate` says so)
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
    curves = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)
    return DecisionCurves(curves=curves, models=tuple(models))


@dataclass(frozen=True, repr=False)
class DecisionCurves(ShowsItself):
    """Net benefit of the models, treat-all and treat-none (Vickers & Elkin 2006).

    Attributes
    ----------
    curves : DataFrame
        ``set, horizon, strategy, threshold, net_benefit, n``.
    models : tuple of str
        The model keys (the figure's colour order).
    """

    curves: pd.DataFrame
    models: tuple

    def summary(self, thresholds: Sequence[float] = (0.1, 0.2, 0.3)) -> pd.DataFrame:
        """Net benefit at a few thresholds: one row per set, horizon and strategy (the
        models, then ``all``; treat-none is 0), one column ``nb_at_<threshold>`` per
        threshold (NaN where the threshold is not on the curves' grid)."""
        rows = []
        for (split, h), d in self.curves.groupby(["set", "horizon"], sort=False):
            for strategy in [*self.models, "all"]:
                nb = d[d["strategy"] == strategy].set_index("threshold")["net_benefit"]
                row = {"set": split, "horizon": float(h), "strategy": strategy,
                       "n": int(d["n"].iloc[0]) if len(d) else 0}
                for th in thresholds:
                    near = nb.index[np.argmin(np.abs(nb.index - th))] if len(nb) else None
                    row[f"nb_at_{th:g}"] = (float(nb.loc[near]) if near is not None and abs(near - th) < 1e-9
                                            else np.nan)
                rows.append(row)
        return pd.DataFrame(rows, columns=["set", "horizon", "strategy", "n", *(f"nb_at_{t:g}" for t in thresholds)])


    def title(self) -> str:
        c = self.curves
        if c.empty:
            return "Decision curves: none estimable"
        return (f"Decision curves of {len(self.models)} models in {c['set'].nunique()} sets at "
                f"{', '.join(f'{h / 12:g}' for h in c['horizon'].unique())} years, thresholds "
                f"{c['threshold'].min():g}-{c['threshold'].max():g} (net benefit; treat none = 0)")

    def benefit_range(self, set: str, horizon: float, strategy: str) -> tuple[float, float] | None:
        """:func:`benefit_range` of ``strategy`` in ``set`` at ``horizon``."""
        return benefit_range(self.curves, set, horizon, strategy)

    def plot(self, ax=None, set: str | None = None, horizon: float | None = None):
        """Net benefit against threshold probability in one set at one horizon: every
        model, treat all and treat none (``radsurv.plots.validation.decision_panel``, the
        published figure's panel).

        Parameters
        ----------
        ax : Axes, optional
        set : str, optional
            Default: the last set with curves (external, if any).
        horizon : float, optional
            Months (default: the longest horizon of that set).

        Returns
        -------
        Axes
        """
        from ..plots.validation import decision_panel

        ax = new_axes(ax, (5.0, 3.6))
        c = self.curves
        if c.empty:
            ax.text(0.5, 0.5, "decision curves not estimable", ha="center", va="center", transform=ax.transAxes)
            ax.axis("off")
            return ax
        set = set or [s for s in SPLITS if (c["set"] == s).any()][-1]
        horizon = float(horizon) if horizon is not None else float(c.loc[c["set"] == set, "horizon"].max())
        decision_panel(ax, c[(c["set"] == set) & (c["horizon"] == horizon)], self.models, MODELS,
                       f"{SPLIT_LABELS[set]}, {horizon / 12:g} years")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
        return ax


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

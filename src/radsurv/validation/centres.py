"""Calibration per test centre, and recalibration-in-the-large as a sensitivity analysis.

TRIPOD asks for a model's calibration in each centre of an external validation, and
describes updating. For each model, each test set as a whole and, when a test set spans
several centres, each of its centres, at each horizon:

* **calibration-in-the-large**: observed (Kaplan-Meier) against expected (mean predicted)
  risk of recurrence by the horizon, O/E with its 95% CI (> 1: the model under-predicts),
  and ``alpha``, the same on the log cumulative-hazard scale
  (:func:`radsurv.stats.calibration_in_the_large`; Debray et al. 2017, Crowson et al. 2016);
* **calibration slope**: the linear predictor's coefficient refitted in the group, with its
  95% CI (:func:`radsurv.stats.calibration_slope`);
* **ICI**: the integrated calibration index of the smoothed curve (Austin et al. 2020), as
  in :func:`radsurv.validation.calibration_by_set`.

**Recalibration-in-the-large** (a named sensitivity analysis, not a validation): in each
group the training baseline cumulative hazard is multiplied by ``exp(alpha_group)``, the
intercept updated and the weights kept (Steyerberg 2019, ch. 20, the simplest update).
One ``alpha`` per group is estimated at its *update horizon*, the longest horizon whose
O/E is estimable, and applied at every horizon; there the recalibrated mean predicted
risk equals the observed Kaplan-Meier risk by construction, and the other horizons show
whether one proportional update fits them too. The update uses the group's own outcomes,
so it shows what a local update would give, not how the model validates: the ICI after it
is not a measure of external performance.

A group with fewer than ``min_events`` events by a horizon, or followed less than the
horizon, is a row that says "not estimable" and why; centres are named by their label only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS, centre_sort_key
from ..models.six_models import MODELS
from ..preconditions import horizon_reason
from ..results import ShowsItself, new_axes
from ..stats import calibration_in_the_large, calibration_slope, recalibrated_risk
from .calibration import predicted_risk, smoothed_risk

__all__ = ["CENTRE_COLUMNS", "CentreCalibration", "calibration_by_centre"]

#: The columns of :meth:`CentreCalibration.summary` (``calibration_by_centre.csv``).
CENTRE_COLUMNS = ["model", "set", "level", "centre", "horizon", "n", "events_by_horizon", "mean_predicted",
                  "observed_km", "oe", "oe_lower", "oe_upper", "alpha", "alpha_lower", "alpha_upper", "slope",
                  "slope_lower", "slope_upper", "ici", "recalibration_alpha", "recalibration_horizon",
                  "recalibrated_mean_predicted", "ici_recalibrated", "note"]

TEST_SETS = ("internal", "external")


def _ici(t, e, p, h) -> tuple[float, str]:
    """ICI of the smoothed curve (3 knots), or NaN and why not."""
    try:
        return float(smoothed_risk(t, e, p, h).ici), ""
    except ValueError as error:
        return float("nan"), f"smoothed curve not estimable: {error}"


def _groups(outcome: pd.DataFrame, centre: pd.Series, split: str) -> list[tuple[str, str, np.ndarray]]:
    """(level, centre label, mask): the set as a whole, then each of its centres when it has several."""
    in_set = (outcome["split"] == split).to_numpy()
    if not in_set.any():
        return []
    labels = centre.reindex(outcome.index).astype(str).to_numpy()
    names = sorted(set(labels[in_set]), key=centre_sort_key)
    out = [("set", ", ".join(names), in_set)]
    if len(names) > 1:
        out += [("centre", c, in_set & (labels == c)) for c in names]
    return out


def calibration_by_centre(outcome: pd.DataFrame, scores: pd.DataFrame, s0: Mapping[tuple[str, float], float],
                          models: Sequence[str], horizons: Sequence[float], centre: pd.Series,
                          min_events: int = 5, sets: Sequence[str] = TEST_SETS,
                          conf_level: float = 0.95) -> "CentreCalibration":
    """Calibration-in-the-large, slope and ICI per test set and centre, with
    recalibration-in-the-large as a sensitivity analysis.

    Parameters
    ----------
    outcome : DataFrame
        ``split``, ``time`` (months), ``event`` per patient.
    scores : DataFrame
        Each model's centred linear predictor (same index).
    s0 : mapping
        (model, horizon) -> training baseline DFS at score 0.
    models, horizons : sequence
    centre : Series
        Each patient's centre label (index: the patients of ``outcome``; the cohort's
        ``center`` column).
    min_events : int
        Fewest events by the horizon for a group's calibration to be estimated
        (``validation.calibration.min_events``).
    sets : sequence of str
        The sets evaluated (default: the two test sets).
    conf_level : float

    Returns
    -------
    CentreCalibration
        One row per model, group (``level`` ``set`` or ``centre``) and horizon
        (:data:`CENTRE_COLUMNS`).
    """
    rows = []
    for key in models:
        for split in sets:
            for level, label, mask in _groups(outcome, centre, split):
                sel = mask & scores[key].notna().to_numpy()
                t = outcome.loc[sel, "time"].to_numpy(float)
                e = outcome.loc[sel, "event"].to_numpy(int)
                lp = scores.loc[sel, key].to_numpy(float)
                slope = calibration_slope(t, e, lp, conf_level) if t.size else None
                group = []
                for h in horizons:
                    h = float(h)
                    row = {"model": key, "set": split, "level": level, "centre": label, "horizon": h,
                           "n": int(t.size), "events_by_horizon": int(((t <= h) & (e == 1)).sum())}
                    note = horizon_reason(t, e, h, min_events)
                    if note:
                        group.append({**row, "note": note})
                        continue
                    p = predicted_risk(lp, s0[(key, h)])
                    try:
                        citl = calibration_in_the_large(t, e, p, h, conf_level)
                    except ValueError as error:   # follow-up ending before h with the curve above 0
                        group.append({**row, "note": str(error).split(": ", 1)[-1]})
                        continue
                    ici, why = _ici(t, e, p, h)
                    group.append({**row, "mean_predicted": citl.expected, "observed_km": citl.observed,
                                  "oe": citl.oe, "oe_lower": citl.oe_lower, "oe_upper": citl.oe_upper,
                                  "alpha": citl.alpha, "alpha_lower": citl.alpha_lower,
                                  "alpha_upper": citl.alpha_upper, "slope": slope.slope,
                                  "slope_lower": slope.lower, "slope_upper": slope.upper, "ici": ici, "note": why,
                                  "_p": p, "_t": t, "_e": e})
                rows += _recalibrate(group)
    table = pd.DataFrame(rows).reindex(columns=CENTRE_COLUMNS)
    return CentreCalibration(table=table, min_events=int(min_events))


def _recalibrate(group: list[dict]) -> list[dict]:
    """Add the group's recalibration-in-the-large to its rows: one ``alpha`` from the
    longest horizon with an estimate (its update horizon), applied at every horizon."""
    estimated = [r for r in group if "_p" in r and np.isfinite(r.get("alpha", np.nan))]
    if estimated:
        update = max(estimated, key=lambda r: r["horizon"])
        alpha = float(update["alpha"])
        for r in estimated:
            q = recalibrated_risk(r["_p"], alpha)
            ici, _ = _ici(r["_t"], r["_e"], q, r["horizon"])
            r.update(recalibration_alpha=alpha, recalibration_horizon=update["horizon"],
                     recalibrated_mean_predicted=float(q.mean()), ici_recalibrated=ici)
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in group]


@dataclass(frozen=True, repr=False)
class CentreCalibration(ShowsItself):
    """Calibration per test set and centre, and recalibration-in-the-large.

    Attributes
    ----------
    table : DataFrame
        :data:`CENTRE_COLUMNS`: one row per model, group and horizon; ``level`` is
        ``set`` (the test set as a whole; ``centre`` lists its centres) or ``centre``.
    min_events : int
        Fewest events by a horizon for an estimate.
    """

    table: pd.DataFrame
    min_events: int = 5

    def summary(self, model: str | None = None) -> pd.DataFrame:
        """:data:`CENTRE_COLUMNS`, one row per model (or only ``model``'s), group and
        horizon; ``note`` says why a row is not estimable. ``recalibration_*`` and
        ``ici_recalibrated`` are the sensitivity analysis (the group's own outcomes)."""
        t = self.table
        return t.copy() if model is None else t[t["model"] == model].reset_index(drop=True)

    def title(self) -> str:
        t = self.table
        if t.empty:
            return "Calibration per centre: no model or no test set to evaluate"
        n_centres = int((t["level"] == "centre").groupby(t["centre"]).any().sum())
        missing = int(t["oe"].isna().sum())
        return (f"Calibration-in-the-large (O/E) and slope of {t['model'].nunique()} model(s) in "
                f"{t['set'].nunique()} test sets and {n_centres} centres; recalibration-in-the-large as a "
                f"sensitivity analysis; {missing} of {len(t)} not estimable")

    def plot(self, ax=None, model: str | None = None, horizon: float | None = None):
        """O/E with its 95% CI per test set and centre, one model at one horizon, on a
        log axis (a forest plot; ``radsurv.plots.validation.oe_panel``).

        Parameters
        ----------
        ax : Axes, optional
        model : str, optional
            Model key (default: the first model).
        horizon : float, optional
            Months (default: the longest horizon with an estimate).

        Returns
        -------
        Axes
        """
        from ..plots.validation import oe_panel

        t = self.table
        ax = new_axes(ax, (4.6, 3.2))
        if t.empty:
            return oe_panel(ax, t.assign(label=pd.Series(dtype=str)), "O/E not estimable: no model or test set")
        model = model if model is not None else str(t["model"].iloc[0])
        d = t[t["model"] == model]
        if horizon is None:
            ok = d[d["oe"].notna()]
            horizon = float((ok if len(ok) else d)["horizon"].max()) if len(d) else float("nan")
        d = d[d["horizon"] == float(horizon)]
        labels = [f"{SPLIT_LABELS.get(r.set, r.set)} ({'centres' if ', ' in r.centre else 'centre'} {r.centre})"
                  if r.level == "set" else f"Centre {r.centre}" for r in d.itertuples(index=False)]
        return oe_panel(ax, d.assign(label=labels),
                        f"{MODELS.get(model, model)}, {float(horizon) / 12:g} years" if len(d) else
                        f"O/E not estimable: no row of the {MODELS.get(model, model).lower()}")

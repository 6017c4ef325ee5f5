"""Calibration of the models' predicted DFS at fixed horizons, in every set.

A model's predicted risk of recurrence by horizon t is ``1 - S0(t) ** exp(score)``, with
``score`` its centred linear predictor and ``S0`` the training baseline at score 0 (both
written by ``04_models``). For each model, set and horizon:

* **grouped**: patients in equal-size groups of predicted risk, the mean prediction
  against the Kaplan-Meier risk of the group with its 95% CI (``calibration_table``);
* **smoothed**: the Cox model of the outcome on a restricted cubic spline of the
  complementary log-log of the prediction (3 knots) gives every patient an observed
  risk; ICI, E50 and E90 summarise |observed - predicted| (Austin, Harrell & van
  Klaveren 2020; ``smoothed_calibration``);
* **slope**: the coefficient of the linear predictor refitted in the set (1 = ideal;
  below 1 = predictions too extreme).

A horizon beyond a set's follow-up, or with no event by it, is reported as not
estimable with the reason, never silently left out.
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
from ..stats import calibration_slope, calibration_table, smoothed_calibration

__all__ = ["Calibration", "calibration_by_set", "calibration_grid", "predicted_risk", "risk_grid"]


def predicted_risk(score, s0: float) -> np.ndarray:
    """Predicted risk of recurrence by the horizon: ``1 - s0 ** exp(score)``.

    Parameters
    ----------
    score : array-like
        Centred linear predictor.
    s0 : float
        Baseline DFS at the horizon for a score of 0.
    """
    s = np.asarray(score, dtype=float)
    if not 0 < s0 < 1:
        raise ValueError(f"s0: baseline survival must be strictly between 0 and 1, got {s0!r}")
    return 1.0 - np.power(s0, np.exp(s))


def smoothed_risk(time, event, risk, horizon: float):
    """The smoothed calibration of predicted risks by ``horizon`` that every calibration of
    the validation uses: a Cox model on a 3-knot restricted cubic spline of the
    complementary log-log of the prediction (:func:`radsurv.stats.smoothed_calibration`).
    A risk that rounds to 0 or 1 has no complementary log-log, so it is clipped to just
    inside (a move of less than 1e-9).

    Raises
    ------
    ValueError
        Too few distinct predictions for 3 knots, or a separating fit.
    """
    return smoothed_calibration(time, event, np.clip(risk, 1e-9, 1 - 1e-9), horizon, method="rcs", knots=3)


def risk_grid(risk, n: int = 50, trim: float = 0.02) -> np.ndarray:
    """A common grid of predicted risks for calibration curves: ``n`` points between the
    ``trim`` and ``1 - trim`` quantiles of ``risk`` (where the curve has data)."""
    r = np.asarray(risk, dtype=float)
    r = r[np.isfinite(r)]
    lo, hi = np.quantile(r, [trim, 1 - trim])
    lo, hi = max(lo, 1e-6), min(hi, 1 - 1e-6)
    if not hi > lo:
        raise ValueError("risk: no spread of predicted risk to place a calibration grid on")
    return np.linspace(lo, hi, n)


def calibration_grid(time, event, score, s0: Mapping[float, float],
                     grid_points: int) -> tuple[dict[float, np.ndarray], dict[float, np.ndarray]]:
    """The grid of predicted risks on which the final model's calibration curve is
    bootstrap-corrected, and its apparent smoothed curve on the training set there.

    Parameters
    ----------
    time, event : array-like
        Training follow-up (months) and events.
    score : array-like
        The model's centred linear predictor on the training patients (NaN: not scored).
    s0 : mapping
        Horizon (months) -> baseline DFS at a score of 0.
    grid_points : int
        Points of each horizon's grid (:func:`risk_grid`).

    Returns
    -------
    (dict, dict)
        Horizon -> grid of predicted risks, and horizon -> smoothed observed risk on the
        grid (Cox model on a 3-knot restricted cubic spline). A horizon whose predictions
        have no spread or whose curve cannot be fitted is left out of both.
    """
    score = np.asarray(score, dtype=float)
    ok = np.isfinite(score)
    t, e = np.asarray(time, dtype=float)[ok], np.asarray(event, dtype=int)[ok]
    grid, apparent = {}, {}
    for h, base in s0.items():
        risk = predicted_risk(score[ok], base)
        try:
            g = risk_grid(risk, grid_points)
            apparent[h] = smoothed_calibration(t, e, risk, h, knots=3).observed_at(g)
            grid[h] = g
        except ValueError:
            continue
    return grid, apparent


def calibration_by_set(outcome: pd.DataFrame, scores: pd.DataFrame, s0: Mapping[tuple[str, float], float],
                       models: Sequence[str], horizons: Sequence[float], n_groups: int = 4,
                       min_per_group: int = 20, min_events: int = 5) -> "Calibration":
    """Grouped and smoothed calibration of each model in each set at each horizon.

    Parameters
    ----------
    outcome : DataFrame
        ``split``, ``time`` (months), ``event`` per patient.
    scores : DataFrame
        Each model's centred linear predictor (same index as ``outcome``).
    s0 : mapping
        (model, horizon) -> baseline DFS at score 0.
    models, horizons : sequence
    n_groups : int
        Groups of predicted risk (fewer when a set has fewer than ``n_groups *
        min_per_group`` patients; at least 2).
    min_events : int
        Fewest events by the horizon for a calibration to be estimated.

    Returns
    -------
    Calibration
        ``summary()`` (one row per model, set and horizon: n, events by the horizon, mean
        predicted and KM observed risk, ICI, E50, E90, Emax, slope, ``note`` when not
        estimable), ``grouped`` (the grouped tables) and ``curves`` (each patient's
        predicted and smoothed observed risk, for the figures).
    """
    summary, grouped, curves = [], [], []
    for key in models:
        for split in SPLITS:
            sel = (outcome["split"] == split).to_numpy() & scores[key].notna().to_numpy()
            t = outcome.loc[sel, "time"].to_numpy(float)
            e = outcome.loc[sel, "event"].to_numpy(int)
            lp = scores.loc[sel, key].to_numpy(float)
            for h in horizons:
                base = {"model": key, "set": split, "horizon": float(h), "n": int(t.size),
                        "events_by_horizon": int(((t <= h) & (e == 1)).sum())}
                note = horizon_reason(t, e, h, min_events)   # what `radsurv validate` says too
                if note:
                    summary.append({**base, "note": note})
                    continue
                p = predicted_risk(lp, s0[(key, float(h))])
                k = int(max(2, min(n_groups, t.size // min_per_group)))
                tab = calibration_table(t, e, p, h, n_groups=k)
                grouped.append(tab.assign(model=key, set=split, horizon=float(h)))
                row = {**base, "mean_predicted": float(p.mean()),
                       "observed_km": float(1 - _km_at(t, e, h)), "n_groups": k, "note": ""}
                try:
                    sm = smoothed_risk(t, e, p, h)
                    row.update(ici=sm.ici, e50=sm.e50, e90=sm.e90, emax=sm.emax)
                    curves.append(pd.DataFrame({"model": key, "set": split, "horizon": float(h),
                                                "predicted": p, "observed": sm.observed}))
                except ValueError as error:  # too few distinct predictions for 3 knots, a separating fit
                    row["note"] = f"smoothed curve not estimable: {error}"
                row["slope"] = calibration_slope(t, e, lp).slope
                summary.append(row)
    cols = ["model", "set", "horizon", "n", "events_by_horizon", "n_groups", "mean_predicted", "observed_km", "ici",
            "e50", "e90", "emax", "slope", "note"]
    return Calibration(table=pd.DataFrame(summary).reindex(columns=cols),
                       grouped=pd.concat(grouped, ignore_index=True) if grouped else pd.DataFrame(),
                       curves=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())


@dataclass(frozen=True, repr=False)
class Calibration(ShowsItself):
    """Calibration of the models' predicted risk of recurrence, per set and horizon.

    Attributes
    ----------
    table : DataFrame
        One row per model, set and horizon (:meth:`summary`).
    grouped : DataFrame
        Kaplan-Meier observed risk per group of predicted risk (``model, set, horizon``
        and :func:`radsurv.stats.calibration_table`'s columns).
    curves : DataFrame
        ``model, set, horizon, predicted, observed``: each patient's smoothed observed risk.
    """

    table: pd.DataFrame
    grouped: pd.DataFrame
    curves: pd.DataFrame

    def summary(self, model: str | None = None) -> pd.DataFrame:
        """``model, set, horizon, n, events_by_horizon, n_groups, mean_predicted,
        observed_km, ici, e50, e90, emax, slope, note``: one row per model (or only
        ``model``'s), set and horizon; ``note`` says why a row is not estimable."""
        t = self.table
        return t.copy() if model is None else t[t["model"] == model].reset_index(drop=True)


    def title(self) -> str:
        t = self.table
        if t.empty:
            return "Calibration: no model to evaluate"
        missing = int(t["mean_predicted"].isna().sum())
        return (f"Calibration of {t['model'].nunique()} models in {t['set'].nunique()} sets at "
                f"{', '.join(f'{h / 12:g}' for h in t['horizon'].unique())} years (ICI, E50, E90: Austin et al. "
                f"2020); {missing} of {len(t)} not estimable")

    def panel(self, model: str, set: str, horizon: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        """The grouped rows, the smoothed curve and the not-estimable note of one panel."""
        def pick(frame):
            if not len(frame):
                return frame
            return frame[(frame["model"] == model) & (frame["set"] == set) & (frame["horizon"] == float(horizon))]

        row = pick(self.table)
        note = str(row["note"].iloc[0]) if len(row) and isinstance(row["note"].iloc[0], str) else ""
        return pick(self.grouped), pick(self.curves), note or "no data"

    def _default_panel(self, model: str) -> tuple[str, float]:
        t = self.table[(self.table["model"] == model) & self.table["mean_predicted"].notna()]
        if t.empty:
            t = self.table[self.table["model"] == model]
        order = {s: i for i, s in enumerate(SPLITS)}
        r = t.assign(_o=t["set"].map(order)).sort_values(["_o", "horizon"]).iloc[-1]
        return str(r["set"]), float(r["horizon"])

    def plot(self, ax=None, set: str | None = None, horizon: float | None = None, model: str | None = None,
             corrected: pd.DataFrame | None = None):
        """Predicted against observed risk of one model in one set at one horizon: the
        Kaplan-Meier risk of each group of predicted risk (95% CI) and the smoothed curve
        (``radsurv.plots.validation.calibration_panel``, the published figure's panel).

        Parameters
        ----------
        ax : Axes, optional
        set : str, optional
            ``train``, ``internal`` or ``external`` (default: the last estimable set).
        horizon : float, optional
            Months (default: the longest estimable horizon of that set).
        model : str, optional
            Model key (default: the first model).
        corrected : DataFrame, optional
            The bootstrap-corrected curve (``horizon, predicted, corrected``), drawn on
            the training set.

        Returns
        -------
        Axes
        """
        from ..plots.validation import calibration_panel

        if self.table.empty:
            from ..plots.style import message_panel

            return message_panel(new_axes(ax, (4.2, 3.8)), "Calibration not estimable: no model was evaluated")
        model = model if model is not None else str(self.table["model"].iloc[0])
        if not (self.table["model"] == model).any():   # a model 04_models did not fit (no variable selected)
            from ..plots.style import message_panel

            return message_panel(new_axes(ax, (4.2, 3.8)),
                                 f"No calibration of the {MODELS.get(model, model).lower()}: the model was not fitted")
        if set is None or horizon is None:
            d_set, d_h = self._default_panel(model)
            set, horizon = set or d_set, d_h if horizon is None else horizon
        grouped, curve, note = self.panel(model, set, horizon)
        k = None
        if corrected is not None and len(corrected) and set == "train":
            k = corrected[corrected["horizon"] == float(horizon)]
        ax = new_axes(ax, (4.2, 3.8))
        calibration_panel(ax, grouped, curve, k, note,
                          f"{MODELS.get(model, model)}\n{SPLIT_LABELS[set]}, {float(horizon) / 12:g} years")
        if len(grouped):
            ax.legend(loc="upper left", fontsize=7)
        return ax


def _km_at(t: np.ndarray, e: np.ndarray, h: float) -> float:
    from ..stats import kaplan_meier

    return float(kaplan_meier(t, e, [h], extend=True)["survival"].iloc[0])

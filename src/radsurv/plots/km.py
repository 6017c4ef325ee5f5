"""Kaplan-Meier curves with numbers at risk, and landmark survival, from radsurv.stats.

Estimates come from :func:`radsurv.stats.kaplan_meier` (R ``survfit``). The 95%
confidence intervals use the log(-log) transform, R's ``conf.type = "log-log"``
(the "exponential Greenwood" interval, lifelines' default, used by this module
before): the paper's 1/3/5-year DFS and their CIs are unchanged. R leaves the
log(-log) interval undefined (NA) where S = 1 (before the first event) and S = 0;
here it is [1, 1] and [0, 0] there, as lifelines reported it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from ..stats.survival_curves import kaplan_meier
from .style import apply_style, message_figure, message_panel, plt, save_figure

__all__ = ["CONF_TYPE", "default_xticks", "km_figure", "km_panels", "km_plot", "km_table", "n_at_risk"]

CONF_TYPE = "log-log"


def _fill_undefined(surv: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CI limits where the log(-log) interval is undefined: [1, 1] at S = 1, [0, 0] at S = 0."""
    for level in (1.0, 0.0):
        at = surv == level
        lower, upper = np.where(at, level, lower), np.where(at, level, upper)
    return lower, upper


def _curve(time: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """KM step function from time 0 with log-log CI (undefined limits filled)."""
    km = kaplan_meier(time, event, conf_type=CONF_TYPE)
    if km["time"].iloc[0] > 0:
        start = pd.DataFrame({"time": [0.0], "n_risk": [len(time)], "n_event": [0], "n_censor": [0],
                              "survival": [1.0], "lower": [1.0], "upper": [1.0]})
        km = pd.concat([start, km[start.columns]], ignore_index=True)
    lower, upper = _fill_undefined(km["survival"].to_numpy(), km["lower"].to_numpy(), km["upper"].to_numpy())
    return km.assign(lower=lower, upper=upper)


def n_at_risk(time: np.ndarray, times: Sequence[float]) -> np.ndarray:
    """Patients still under follow-up (time >= t) at each t: R's ``summary.survfit`` ``n.risk``."""
    time = np.sort(np.asarray(time, float))
    return time.size - np.searchsorted(time, np.asarray(times, float), side="left")


def km_figure(time: np.ndarray, event: np.ndarray, group: np.ndarray, path: str | Path, *,
              order: Sequence[str], labels: Mapping[str, str], colors: Mapping[str, str],
              xlabel: str = "Months since surgery", ylabel: str = "Disease-free survival",
              xticks: Sequence[float] | None = None, annotation: str | None = None, title: str | None = None) -> Path:
    """Kaplan-Meier curves by group with 95% CI bands and a numbers-at-risk table.

    Step curves from :func:`radsurv.stats.kaplan_meier`, pointwise 95% CI bands
    (log-log, R's ``conf.type = "log-log"``), censoring ticks, and under the axis
    the number of patients at risk (time >= t, as R's ``summary.survfit``) at each
    x tick, one row per group.

    Parameters
    ----------
    time, event, group : array-like
        Follow-up, event indicator (0/1) and group label per patient.
    path : path
        Output PNG.
    order, labels, colors : group keys in plotting order, their printed names, colours.
        Groups without patients are left out.
    xticks : sequence of float, optional
        Also the times of the numbers at risk; default :func:`default_xticks`.
    annotation : str, optional
        Text placed in the upper right (e.g. the log-rank p-value).
    title : str, optional

    Returns
    -------
    Path of the written figure.
    """
    ax = km_plot(time, event, group, order=order, labels=labels, colors=colors, xlabel=xlabel, ylabel=ylabel,
                 xticks=xticks, annotation=annotation, title=title)
    return save_figure(ax.figure, path)


def km_plot(time: np.ndarray, event: np.ndarray, group: np.ndarray, ax=None, *, order: Sequence[str],
            labels: Mapping[str, str], colors: Mapping[str, str], xlabel: str = "Months since surgery",
            ylabel: str = "Disease-free survival", xticks: Sequence[float] | None = None,
            annotation: str | None = None, title: str | None = None):
    """Draw :func:`km_figure`'s figure and return the curves' Axes (nothing is saved).

    With ``ax`` None a new figure in the paper's layout is drawn: the curves over the
    numbers-at-risk table. Given an ``ax``, only the curves are drawn on it (the numbers
    at risk need an Axes of their own). Parameters as for :func:`km_figure`.

    Returns
    -------
    Axes
        The curves' Axes (``ax.figure`` is the whole figure).
    """
    apply_style()
    time, event, group = np.asarray(time, float), np.asarray(event, int), np.asarray(group)
    shown = [g for g in order if (group == g).any()]
    if not shown:
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.3))
        if title:
            ax.set_title(title)
        return message_panel(ax, "No patient to draw: no Kaplan-Meier curve")
    if xticks is None:
        xticks = default_xticks(time)
    xticks = [float(x) for x in xticks]
    if ax is not None:
        _draw_curves(ax, time, event, group, shown, labels, colors, xticks, xlabel, ylabel, annotation, title)
        return ax
    table_height = 0.19 * (len(shown) + 1)
    fig, (ax, risk_ax) = plt.subplots(
        2, 1, figsize=(6.4, 4.3 + table_height), sharex=True,
        gridspec_kw={"height_ratios": [3.6, table_height], "hspace": 0.36},
    )
    _draw_curves(ax, time, event, group, shown, labels, colors, xticks, xlabel, ylabel, annotation, title)
    _risk_table(risk_ax, time, group, shown, labels, colors, xticks)
    return ax


def km_panels(panels: Sequence[Mapping], path: str | Path, *, order: Sequence[str], labels: Mapping[str, str],
              colors: Mapping[str, str], xlabel: str = "Months since surgery",
              ylabel: str = "Disease-free survival", xticks: Sequence[float] | None = None) -> Path:
    """Several Kaplan-Meier panels side by side (e.g. risk groups in each set), each with
    its numbers at risk, drawn as :func:`km_figure` draws one.

    Parameters
    ----------
    panels : sequence of mapping
        Each with ``time``, ``event``, ``group`` and optionally ``title`` and ``annotation``.
    path : path
        Output PNG.
    order, labels, colors, xlabel, ylabel : as for :func:`km_figure`.
    xticks : sequence of float, optional
        Shared by every panel; default from all panels' times.

    Returns
    -------
    Path of the written figure.
    """
    apply_style()
    if not len(panels):
        return message_figure(path, "No Kaplan-Meier panel to draw")
    if xticks is None:
        xticks = default_xticks(np.concatenate([np.asarray(p["time"], float) for p in panels]))
    xticks = [float(x) for x in xticks]
    rows = max(len([g for g in order if (np.asarray(p["group"]) == g).any()]) for p in panels)
    table_height = 0.19 * (rows + 1)
    fig, axes = plt.subplots(2, len(panels), figsize=(4.4 * len(panels), 4.0 + table_height), squeeze=False,
                             sharex="col",
                             gridspec_kw={"height_ratios": [3.4, table_height], "hspace": 0.36, "wspace": 0.35})
    for k, panel in enumerate(panels):
        time, event, group = (np.asarray(panel["time"], float), np.asarray(panel["event"], int),
                              np.asarray(panel["group"]))
        shown = [g for g in order if (group == g).any()]
        _draw_curves(axes[0, k], time, event, group, shown, labels, colors, xticks, xlabel,
                     ylabel if k == 0 else "", panel.get("annotation"), panel.get("title"))
        _risk_table(axes[1, k], time, group, shown, labels, colors, xticks)
    return save_figure(fig, path)


def _draw_curves(ax, time, event, group, shown, labels, colors, xticks, xlabel, ylabel, annotation, title) -> None:
    """Step curves, CI bands, censoring ticks, legend and annotation of one panel."""
    handles, legend = [], []
    for g in shown:
        sel = group == g
        color = colors.get(g)
        km = _curve(time[sel], event[sel])
        x = km["time"].to_numpy()
        ax.fill_between(x, km["lower"], km["upper"], step="post", color=color, alpha=0.2, linewidth=0)
        ax.step(x, km["survival"], where="post", color=color, linewidth=1.4)
        cens = km["n_censor"].to_numpy() > 0
        ax.plot(x[cens], km["survival"].to_numpy()[cens], linestyle="none", marker="|", markersize=3.5,
                markeredgewidth=0.8, color=color)
        handles.append(Line2D([0], [0], color=color, lw=1.4))
        legend.append(f"{labels.get(g, g)} (n={int(sel.sum())}, events={int(event[sel].sum())})")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_xticks(xticks)
    ax.set_xlim(0, max(xticks))
    ax.tick_params(labelbottom=True)
    ax.set_xlabel(xlabel)
    ax.legend(handles, legend, loc="lower left", fontsize=8)
    if annotation:
        ax.text(0.98, 0.98, annotation, transform=ax.transAxes, fontsize=8, va="top", ha="right")
    if title:
        ax.set_title(title)


def _risk_table(ax, time: np.ndarray, group: np.ndarray, shown: Sequence[str], labels: Mapping[str, str],
                colors: Mapping[str, str], xticks: Sequence[float]) -> None:
    """Numbers at risk under the curves: one row per group, one column per x tick.

    Each count is a text artist with ``gid`` ``"at-risk|<group>|<tick>"``.
    """
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_yticks([])
    ax.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title("Number at risk", loc="left", fontsize=8, pad=3)
    label_at = blended_transform_factory(ax.transAxes, ax.transData)
    counts = {g: n_at_risk(time[group == g], xticks) for g in shown}
    # row names end left of the widest count centred on the first tick
    widest = max((len(str(int(c[0]))) for c in counts.values()), default=1)
    for row, g in enumerate(shown):
        ax.annotate(labels.get(g, g), xy=(0, row), xycoords=label_at, xytext=(-(2.6 * widest + 8), 0),
                    textcoords="offset points", ha="right", va="center", fontsize=8, color=colors.get(g))
        for tick, count in zip(xticks, counts[g]):
            ax.text(tick, row, f"{int(count)}", ha="center", va="center", fontsize=8, gid=f"at-risk|{g}|{tick:g}")


def default_xticks(time: np.ndarray, step: float = 12.0, min_share_at_risk: float = 0.05) -> list[float]:
    """Yearly ticks up to the last year at which at least 5% of patients are still at
    risk: the tail beyond it rests on a handful of patients and only misleads."""
    time = np.asarray(time, float)
    end = step
    while np.mean(time >= end + step) >= min_share_at_risk:
        end += step
    return list(np.arange(0.0, end + step / 2, step))


def km_table(time: np.ndarray, event: np.ndarray, group: np.ndarray, times: Sequence[float],
             order: Sequence[str]) -> pd.DataFrame:
    """Kaplan-Meier survival with 95% CI at landmark times per group.

    S(t) at the last observed time <= t (1 before the first; the last value
    beyond the last, R's ``extend = TRUE``) from :func:`radsurv.stats.kaplan_meier`,
    with the log-log interval (R's ``conf.type = "log-log"``, lifelines' default
    and this function's interval before it was moved off lifelines); [1, 1] where
    S = 1 and [0, 0] where S = 0, where R gives NA.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, time, survival, lower, upper``, groups in ``order`` and
        times as given.
    """
    time, event, group = np.asarray(time, float), np.asarray(event, int), np.asarray(group)
    landmarks = list(times)
    sort = np.argsort(np.asarray(landmarks, float), kind="stable")
    back = np.empty_like(sort)
    back[sort] = np.arange(sort.size)
    rows = []
    for g in order:
        sel = group == g
        km = kaplan_meier(time[sel], event[sel], times=np.asarray(landmarks, float)[sort], conf_type=CONF_TYPE)
        surv = km["survival"].to_numpy()
        lower, upper = _fill_undefined(surv, km["lower"].to_numpy(), km["upper"].to_numpy())
        for t, j in zip(landmarks, back):
            rows.append({"group": g, "time": t, "survival": float(surv[j]), "lower": float(lower[j]),
                         "upper": float(upper[j])})
    return pd.DataFrame(rows)

"""Kaplan-Meier curves with numbers at risk."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts
from matplotlib.lines import Line2D

from .style import apply_style, plt, save_figure


def km_figure(time: np.ndarray, event: np.ndarray, group: np.ndarray, path: str | Path, *,
              order: Sequence[str], labels: Mapping[str, str], colors: Mapping[str, str],
              xlabel: str = "Months since surgery", ylabel: str = "Disease-free survival",
              xticks: Sequence[float] | None = None, annotation: str | None = None, title: str | None = None) -> Path:
    """Kaplan-Meier curves by group with 95% CI bands and a numbers-at-risk table.

    Parameters
    ----------
    time, event, group : array-like
        Follow-up, event indicator (0/1) and group label per patient.
    path : path
        Output PNG.
    order, labels, colors : group keys in plotting order, their printed names, colours.
    annotation : str, optional
        Text placed in the lower left (e.g. the log-rank p-value).

    Returns
    -------
    Path of the written figure.
    """
    apply_style()
    time, event, group = np.asarray(time, float), np.asarray(event, int), np.asarray(group)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    fitters, handles, legend = [], [], []
    for g in order:
        sel = group == g
        if not sel.any():
            continue
        # Short label: it is also the row name of the numbers-at-risk table.
        kmf = KaplanMeierFitter(label=labels.get(g, g))
        kmf.fit(time[sel], event[sel])
        kmf.plot_survival_function(ax=ax, ci_show=True, color=colors.get(g), show_censors=True,
                                   censor_styles={"ms": 3, "marker": "|"}, linewidth=1.4)
        fitters.append(kmf)
        handles.append(Line2D([0], [0], color=colors.get(g), lw=1.4))
        legend.append(f"{labels.get(g, g)} (n={int(sel.sum())}, events={int(event[sel].sum())})")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xticks is None:
        xticks = default_xticks(time)
    ax.set_xticks(list(xticks))
    ax.set_xlim(0, max(xticks))
    ax.legend([h for h in handles], legend, loc="lower left", fontsize=8)
    if annotation:
        ax.text(0.98, 0.98, annotation, transform=ax.transAxes, fontsize=8, va="top", ha="right")
    if title:
        ax.set_title(title)
    if fitters:
        add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"], fig=fig)
    fig.tight_layout()
    return save_figure(fig, path)


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
    """Kaplan-Meier survival with 95% CI (log-log, lifelines' default) at landmark times per group."""
    rows = []
    time, event, group = np.asarray(time, float), np.asarray(event, int), np.asarray(group)
    for g in order:
        sel = group == g
        kmf = KaplanMeierFitter().fit(time[sel], event[sel])
        ci = kmf.confidence_interval_survival_function_
        for t in times:
            s = float(kmf.survival_function_at_times(t).iloc[0])
            idx = ci.index[ci.index <= t]
            lo, hi = (ci.loc[idx[-1]].to_numpy() if len(idx) else (1.0, 1.0))
            rows.append({"group": g, "time": t, "survival": s, "lower": float(lo), "upper": float(hi)})
    return pd.DataFrame(rows)

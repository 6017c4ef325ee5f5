"""Figures of the validation: calibration panels, decision curves, the nomogram."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .models import MODEL_COLORS
from .style import apply_style, message_figure, plt, save_figure

__all__ = ["calibration_figure", "decision_figure", "nomogram_figure"]


def calibration_figure(grouped: pd.DataFrame, curves: pd.DataFrame, corrected: pd.DataFrame, model: str,
                       path: str | Path, set_labels: Mapping[str, str], title: str,
                       summary: pd.DataFrame | None = None) -> Path:
    """Predicted against observed risk of recurrence of ``model``: one panel per set (rows)
    and horizon (columns). Kaplan-Meier risk of each group of predicted risk (95% CI), the
    smoothed calibration curve, and on the training set the bootstrap-corrected curve. A
    panel that is not estimable says why (``summary``'s note)."""
    apply_style()
    g = grouped[grouped["model"] == model] if len(grouped) else grouped
    c = curves[curves["model"] == model] if len(curves) else curves
    notes = {}
    if summary is not None and len(summary):
        s_m = summary[summary["model"] == model]
        notes = {(r.set, r.horizon): r.note for r in s_m.itertuples(index=False)
                 if isinstance(r.note, str) and r.note and pd.isna(r.mean_predicted)}
    sets = [s for s in set_labels if (len(g) and (g["set"] == s).any()) or any(k[0] == s for k in notes)]
    horizons = sorted(set(g["horizon"].unique() if len(g) else []) | {k[1] for k in notes})
    if not sets or not horizons:
        return message_figure(path, "calibration not estimable")
    fig, axes = plt.subplots(len(sets), len(horizons), figsize=(3.1 * len(horizons), 2.9 * len(sets)), squeeze=False)
    for i, s in enumerate(sets):
        for j, h in enumerate(horizons):
            ax = axes[i, j]
            ax.set_title(f"{set_labels[s]}, {h / 12:g} years", fontsize=8)
            gg = g[(g["set"] == s) & (g["horizon"] == h)] if len(g) else g
            if not len(gg):
                ax.text(0.5, 0.5, "not estimable:\n" + notes.get((s, h), "no data"), ha="center", va="center",
                        fontsize=7, wrap=True, transform=ax.transAxes)
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            cc = c[(c["set"] == s) & (c["horizon"] == h)].sort_values("predicted") if len(c) else c
            top = max(0.05, float(np.nanmax([gg["observed_upper"].max(), gg["max_predicted"].max(),
                                             cc["observed"].max() if len(cc) else 0]))) * 1.05
            top = min(1.0, top)
            ax.plot([0, top], [0, top], color="#999999", lw=0.8, ls="--", label="Ideal")
            if len(cc):
                ax.plot(cc["predicted"], cc["observed"], color="#0072B2", lw=1.4, label="Smoothed")
            if s == "train" and len(corrected):
                k = corrected[corrected["horizon"] == h]
                ax.plot(k["predicted"], k["corrected"], color="#D55E00", lw=1.2, ls="-.",
                        label="Bootstrap-corrected")
            yerr = np.vstack([gg["observed"] - gg["observed_lower"], gg["observed_upper"] - gg["observed"]])
            ax.errorbar(gg["mean_predicted"], gg["observed"], yerr=np.clip(yerr, 0, None), fmt="o", ms=4,
                        color="#333333", capsize=2, lw=0.8, label="Kaplan-Meier by group")
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
            if i == len(sets) - 1:
                ax.set_xlabel("Predicted risk of recurrence")
            if j == 0:
                ax.set_ylabel("Observed risk")
    handles, labels = [], []
    for ax in axes.flat:
        for hnd, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(hnd)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return save_figure(fig, path)


def decision_figure(curves: pd.DataFrame, models: Sequence[str], path: str | Path, labels: Mapping[str, str],
                    set_labels: Mapping[str, str]) -> Path:
    """Net benefit against threshold probability: one panel per test set (rows) and horizon
    (columns); every model, treat all and treat none."""
    apply_style()
    d = curves[curves["set"] != "train"]
    sets = [s for s in set_labels if s != "train" and (d["set"] == s).any()]
    horizons = sorted(d["horizon"].unique())
    if not sets or not horizons:
        return message_figure(path, "decision curves not estimable")
    fig, axes = plt.subplots(len(sets), len(horizons), figsize=(3.3 * len(horizons), 2.8 * len(sets)), squeeze=False)
    for i, s in enumerate(sets):
        for j, h in enumerate(horizons):
            ax = axes[i, j]
            dd = d[(d["set"] == s) & (d["horizon"] == h)]
            prevalence = dd[(dd["strategy"] == "all") & (dd["threshold"] == dd["threshold"].min())]["net_benefit"]
            ymax = max(0.02, float(prevalence.iloc[0]) if len(prevalence) else 0.1) * 1.15
            for k, key in enumerate(models):
                m = dd[dd["strategy"] == key]
                ax.plot(m["threshold"], m["net_benefit"], color=MODEL_COLORS[k % len(MODEL_COLORS)], lw=1.1,
                        label=labels.get(key, key))
            a = dd[dd["strategy"] == "all"]
            ax.plot(a["threshold"], a["net_benefit"], color="#333333", lw=0.9, ls="--", label="Treat all")
            ax.axhline(0, color="#333333", lw=0.9, ls=":", label="Treat none")
            ax.set_ylim(-0.25 * ymax, ymax)
            ax.set_xlim(dd["threshold"].min(), dd["threshold"].max())
            ax.set_title(f"{set_labels[s]}, {h / 12:g} years", fontsize=8)
            if i == len(sets) - 1:
                ax.set_xlabel("Threshold probability")
            if j == 0:
                ax.set_ylabel("Net benefit")
    handles, labs = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labs, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return save_figure(fig, path)


def nomogram_figure(nom, path: str | Path, title: str) -> Path:
    """The nomogram drawn as rms draws it: a points scale, one axis per predictor (a
    factor's levels on one axis), total points, and DFS axes at the horizons."""
    apply_style()
    axes_names = nom.axis_names
    func = list(dict.fromkeys(nom.function_axes["axis"]))
    total_max = float(np.max(nom.total_points_axis))
    rows = ["Points", *axes_names, "Total points", *func]
    fig, ax = plt.subplots(figsize=(8.0, 0.55 * len(rows) + 0.6))
    scale = 100.0 / max(total_max, nom.maxscale)  # the total-points axis in the points axis's width

    def line(y, xs, ticks, texts, name, x_of=lambda v: v):
        xs = np.asarray([x_of(v) for v in xs], float)
        ax.plot([xs.min(), xs.max()], [y, y], color="#333333", lw=0.9)
        # every value gets a tick; labels closer than their width are thinned
        labelled = _thin(xs, 1.6 + 1.1 * max(len(str(t)) for t in texts))
        for x, t, show in zip(xs, texts, labelled):
            ax.plot([x, x], [y, y + 0.12], color="#333333", lw=0.8)
            if show:
                ax.text(x, y + 0.18, t, ha="center", va="bottom", fontsize=6.5)
        ax.text(-3, y, name, ha="right", va="center", fontsize=7.5)

    y = len(rows)
    pts = np.arange(0, nom.maxscale + 1e-9, 10)
    line(y, pts, pts, [f"{p:g}" for p in pts], "Points")
    for name in axes_names:
        y -= 1
        a = nom.axes[nom.axes["predictor"] == name]
        vals = [f"{v:g}" if isinstance(v, (int, float, np.floating)) else str(v) for v in a["value"]]
        line(y, a["points"].to_numpy(float), None, vals, name)
    y -= 1
    tp = np.asarray(nom.total_points_axis, float)
    line(y, tp, tp, [f"{p:g}" for p in tp], "Total points", x_of=lambda v: v * scale)
    for lab in func:
        y -= 1
        f = nom.function_axes[nom.function_axes["axis"] == lab]
        if f.empty:
            continue
        line(y, f["points"].to_numpy(float), None, [f"{s:g}" for s in f["survival"]], lab,
             x_of=lambda v: v * scale)
    ax.set_xlim(-40, 104)
    ax.set_ylim(y - 0.6, len(rows) + 0.8)
    ax.axis("off")
    ax.set_title(f"Nomogram of the {title.lower()}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _thin(points: np.ndarray, min_gap: float) -> np.ndarray:
    """Which labels to show so that shown labels are at least ``min_gap`` apart, both ends
    always shown (a label too close to the last one gives way to it)."""
    keep = np.zeros(points.size, bool)
    if points.size == 0:
        return keep
    order = np.argsort(points, kind="stable")
    last = -np.inf
    for i in order:
        if points[i] - last >= min_gap:
            keep[i] = True
            last = points[i]
    end = order[-1]
    if not keep[end]:
        for i in order[::-1][1:]:
            if keep[i] and points[end] - points[i] < min_gap:
                keep[i] = False
        keep[end] = True
    if points.size > 1 and not keep[order[0]]:  # pragma: no cover - the first is always kept
        keep[order[0]] = True
    return keep

"""Figures of the validation: calibration panels, decision curves, the nomogram, the optimism.

Each figure is drawn panel by panel with the ``*_panel`` helpers, which the result objects' ``plot``
methods (:mod:`radsurv.validation`) call too: the figure inline in the notebook is the
published one."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .models import MODEL_COLORS
from .style import apply_style, message_figure, message_panel, plt, save_figure

__all__ = ["calibration_figure", "calibration_panel", "decision_figure", "decision_panel", "nomogram_figure",
           "nomogram_panel", "nomogram_size", "oe_panel", "optimism_panel", "resample_panel"]


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
            gg = g[(g["set"] == s) & (g["horizon"] == h)] if len(g) else g
            cc = c[(c["set"] == s) & (c["horizon"] == h)] if len(c) else c
            kk = corrected[corrected["horizon"] == h] if s == "train" and len(corrected) else None
            calibration_panel(axes[i, j], gg, cc, kk, notes.get((s, h), "no data"),
                              f"{set_labels[s]}, {h / 12:g} years", xlabel=i == len(sets) - 1, ylabel=j == 0)
    handles, labels = [], []
    for ax in axes.flat:
        for hnd, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(hnd)
                labels.append(lab)
    if labels:   # none when every panel is not estimable
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return save_figure(fig, path)


def calibration_panel(ax, grouped: pd.DataFrame, curve: pd.DataFrame, corrected: pd.DataFrame | None, note: str,
                      title: str, xlabel: bool = True, ylabel: bool = True):
    """One panel of the calibration figure: one model in one set at one horizon.

    Parameters
    ----------
    ax : Axes
    grouped : DataFrame
        The grouped calibration table of the panel (``mean_predicted, observed,
        observed_lower, observed_upper, max_predicted``); empty: not estimable.
    curve : DataFrame
        ``predicted, observed``: the smoothed observed risk of each patient (may be empty).
    corrected : DataFrame or None
        ``predicted, corrected``: the bootstrap-corrected curve (None: not drawn).
    note : str
        Why the panel is not estimable (shown when ``grouped`` is empty).
    title : str
    xlabel, ylabel : bool
        Whether to label the axes (a grid labels its outer panels only).

    Returns
    -------
    Axes
    """
    ax.set_title(title, fontsize=8)
    if not len(grouped):
        ax.text(0.5, 0.5, "not estimable:\n" + note, ha="center", va="center", fontsize=7, wrap=True,
                transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    cc = curve.sort_values("predicted") if len(curve) else curve
    top = max(0.05, float(np.nanmax([grouped["observed_upper"].max(), grouped["max_predicted"].max(),
                                     cc["observed"].max() if len(cc) else 0]))) * 1.05
    top = min(1.0, top)
    ax.plot([0, top], [0, top], color="#999999", lw=0.8, ls="--", label="Ideal")
    if len(cc):
        ax.plot(cc["predicted"], cc["observed"], color="#0072B2", lw=1.4, label="Smoothed")
    if corrected is not None:
        ax.plot(corrected["predicted"], corrected["corrected"], color="#D55E00", lw=1.2, ls="-.",
                label="Bootstrap-corrected")
    yerr = np.vstack([grouped["observed"] - grouped["observed_lower"], grouped["observed_upper"] - grouped["observed"]])
    ax.errorbar(grouped["mean_predicted"], grouped["observed"], yerr=np.clip(yerr, 0, None), fmt="o", ms=4,
                color="#333333", capsize=2, lw=0.8, label="Kaplan-Meier by group")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    if xlabel:
        ax.set_xlabel("Predicted risk of recurrence")
    if ylabel:
        ax.set_ylabel("Observed risk")
    return ax


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
            decision_panel(axes[i, j], d[(d["set"] == s) & (d["horizon"] == h)], models, labels,
                           f"{set_labels[s]}, {h / 12:g} years", xlabel=i == len(sets) - 1, ylabel=j == 0)
    handles, labs = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labs, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return save_figure(fig, path)


def decision_panel(ax, curves: pd.DataFrame, models: Sequence[str], labels: Mapping[str, str], title: str,
                   xlabel: bool = True, ylabel: bool = True):
    """One panel of the decision figure: net benefit against threshold probability of
    every model, treat all and treat none, in one set at one horizon.

    Parameters
    ----------
    ax : Axes
    curves : DataFrame
        ``strategy, threshold, net_benefit`` of the panel's set and horizon.
    models : sequence of str
        Model keys (their colours follow this order).
    labels : mapping
        Model key -> printed name.
    title : str
    xlabel, ylabel : bool

    Returns
    -------
    Axes
    """
    dd = curves
    if dd.empty or not dd["threshold"].notna().any():
        ax.set_title(title, fontsize=8)
        return message_panel(ax, "No decision curve: no net benefit was estimated in this set at this horizon")
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
    ax.set_title(title, fontsize=8)
    if xlabel:
        ax.set_xlabel("Threshold probability")
    if ylabel:
        ax.set_ylabel("Net benefit")
    return ax


def nomogram_figure(nom, path: str | Path, title: str) -> Path:
    """The nomogram drawn as rms draws it (:func:`nomogram_panel`), saved to ``path``."""
    apply_style()
    fig, ax = plt.subplots(figsize=nomogram_size(nom))
    nomogram_panel(ax, nom, title)
    fig.tight_layout()
    return save_figure(fig, path)


def nomogram_size(nom) -> tuple[float, float]:
    """The nomogram's figure size: 8 inches wide, about half an inch per axis."""
    rows = 1 + len(nom.axis_names) + 1 + len(dict.fromkeys(nom.function_axes["axis"]))
    return (8.0, 0.55 * rows + 0.6)


def nomogram_panel(ax, nom, title: str):
    """Draw the nomogram as rms draws it: a points scale, one axis per predictor (a
    factor's levels on one axis), total points, and DFS axes at the horizons.

    Parameters
    ----------
    ax : Axes
    nom : radsurv.stats.Nomogram
    title : str
        The model's name ("Nomogram of the <title, lower case>").

    Returns
    -------
    Axes
    """
    if not len(nom.total_points_axis) or not len(nom.axis_names):
        ax.set_title(f"Nomogram of the {title.lower()}", fontsize=9)
        return message_panel(ax, "No nomogram: the model has no predictor")
    axes_names = nom.axis_names
    func = list(dict.fromkeys(nom.function_axes["axis"]))
    total_max = float(np.max(nom.total_points_axis))
    rows = ["Points", *axes_names, "Total points", *func]
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
    return ax


def optimism_panel(ax, resamples: pd.DataFrame, models: Sequence[str], labels: Mapping[str, str]):
    """The optimism of each model over the bootstrap resamples: one box per model of the
    apparent C on the resample minus the test C on the training set, its mean marked.

    Parameters
    ----------
    ax : Axes
    resamples : DataFrame
        ``model, apparent_c, test_c`` per developed resample (failed ones left out).
    models : sequence of str
        Model keys, drawn top to bottom.
    labels : mapping
        Model key -> printed name.

    Returns
    -------
    Axes
    """
    shown = [m for m in models if (resamples["model"] == m).any()]
    if not shown:
        ax.set_title("Optimism of the C-index per bootstrap resample", fontsize=9)
        return message_panel(ax, "No resample developed a model: no optimism to show")
    values = [(resamples.loc[resamples["model"] == m, "apparent_c"]
               - resamples.loc[resamples["model"] == m, "test_c"]).to_numpy(float) for m in shown]
    pos = np.arange(len(shown))[::-1]
    if shown:
        ax.boxplot(values, positions=pos, orientation="horizontal", widths=0.55, showfliers=True,
                   medianprops={"color": "#333333"}, flierprops={"markersize": 3})
        for k, (p, v) in enumerate(zip(pos, values)):
            ax.plot(np.mean(v), p, "D", color=MODEL_COLORS[models.index(shown[k]) % len(MODEL_COLORS)], ms=5)
        ax.plot([], [], "D", color="#333333", ms=5, label="Mean: the optimism")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.axvline(0, color="#999999", lw=0.8, ls="--")
    ax.set_yticks(pos, [labels.get(m, m) for m in shown])
    ax.set_xlabel("Apparent C on the resample − test C on the training set")
    ax.set_title("Optimism of the C-index per bootstrap resample", fontsize=9)
    return ax


def resample_panel(ax, rows: pd.DataFrame, labels: Mapping[str, str]):
    """One bootstrap resample: each model's apparent C (on the resample, filled) and test
    C (its model on the original training set, open), joined by a line whose length is
    the resample's optimism.

    Parameters
    ----------
    ax : Axes
    rows : DataFrame
        ``model, apparent_c, test_c`` of the resample's models.
    labels : mapping
        Model key -> printed name.

    Returns
    -------
    Axes
    """
    rows = rows[rows["model"].notna()]
    if rows.empty:
        return message_panel(ax, "No model was developed on this resample")
    pos = np.arange(len(rows))[::-1]
    for p, r in zip(pos, rows.itertuples(index=False)):
        ax.plot([r.test_c, r.apparent_c], [p, p], color="#999999", lw=1.2)
    ax.plot(rows["apparent_c"], pos, "o", color="#0072B2", ms=6, label="Apparent (on the resample)")
    ax.plot(rows["test_c"], pos, "o", mfc="white", color="#D55E00", ms=6, label="Test (on the training set)")
    ax.axvline(0.5, color="#999999", lw=0.8, ls=":")
    ax.set_yticks(pos, [labels.get(m, m) for m in rows["model"]])
    ax.set_xlabel("Harrell's C")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    return ax


def oe_panel(ax, rows: pd.DataFrame, title: str):
    """Calibration-in-the-large per test set and centre, as a forest plot: the O/E ratio
    of observed (Kaplan-Meier) to expected (mean predicted) risk with its 95% CI on a log
    axis, 1 marked (right of 1: the model under-predicts). A row that is not estimable is
    listed with its reason in place of a point.

    Parameters
    ----------
    ax : Axes
    rows : DataFrame
        ``label, oe, oe_lower, oe_upper, note``, drawn top to bottom.
    title : str
        The panel's title; with no row, the message drawn instead.

    Returns
    -------
    Axes
    """
    if rows.empty:
        return message_panel(ax, title)
    pos = np.arange(len(rows))[::-1]
    ok = rows["oe"].notna().to_numpy()
    if ok.any():
        r = rows[ok]
        ax.errorbar(r["oe"], pos[ok], xerr=[r["oe"] - r["oe_lower"], r["oe_upper"] - r["oe"]], fmt="s",
                    color="#0072B2", ecolor="#555555", ms=5, capsize=2, lw=1)
        ax.set_xscale("log")
    else:
        ax.set_xlim(0.5, 2)
        ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda x, _: f"{x:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=6)
    ax.axvline(1.0, color="#999999", lw=0.8, ls="--")
    for p, r in zip(pos[~ok], rows[~ok].itertuples(index=False)):
        ax.text(0.02, p, f"not estimable: {r.note}", transform=ax.get_yaxis_transform(), va="center", fontsize=6.5,
                color="#555555")
    ax.set_yticks(pos, list(rows["label"]))
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("Observed / expected risk of recurrence (log scale)")
    ax.set_title(title, fontsize=9)
    return ax


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

"""Figures of the Cox models: forest plot of hazard ratios, C-index per model and set,
time-dependent ROC curves."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .style import SET_COLORS, apply_style, plt, save_figure

__all__ = ["c_index_figure", "forest_figure", "td_roc_figure"]

#: One colour per model (Okabe-Ito), in the study's order.
MODEL_COLORS = ["#999999", "#56B4E9", "#0072B2", "#E69F00", "#D55E00", "#009E73"]


def forest_figure(hr: pd.DataFrame, path: str | Path, labels: Mapping[str, str]) -> Path:
    """Hazard ratios (95% CI, log scale) of every model's covariates, one block per model.

    Parameters
    ----------
    hr : DataFrame
        ``model``, ``term`` (printed), ``hr``, ``hr_lower``, ``hr_upper``, in display order.
    labels : mapping
        Model key -> printed name.
    """
    apply_style()
    rows = []
    for model, g in hr.groupby("model", sort=False):
        rows.append(("header", labels.get(model, model), None))
        rows += [("term", r.term, r) for r in g.itertuples(index=False)]
    fig, ax = plt.subplots(figsize=(7.4, 0.8 + 0.22 * len(rows)))
    y = np.arange(len(rows))[::-1]
    for yi, (kind, text, r) in zip(y, rows):
        if kind == "header":
            ax.text(0.0, yi, text, transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=8,
                    fontweight="bold")
            continue
        ax.plot([r.hr_lower, r.hr_upper], [yi, yi], color="#333333", lw=1.0)
        ax.plot(r.hr, yi, marker="s", color="#0072B2", ms=4)
        ax.text(0.0, yi, f"{text}   ", transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=7)
        ax.text(1.01, yi, f"{r.hr:.2f} ({r.hr_lower:.2f}-{r.hr_upper:.2f})", transform=ax.get_yaxis_transform(),
                ha="left", va="center", fontsize=7)
    ax.axvline(1.0, color="#999999", lw=0.8, linestyle="--")
    ax.set_xscale("log")
    ax.set_yticks([])
    ax.set_ylim(-0.8, len(rows) - 0.2)
    ax.set_xlabel("Hazard ratio (95% CI), training set")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return save_figure(fig, path)


def c_index_figure(disc: pd.DataFrame, path: str | Path, models: Sequence[str], labels: Mapping[str, str],
                   set_labels: Mapping[str, str], reference: Mapping[str, Mapping[str, float]] | None = None) -> Path:
    """Harrell's C with 95% CI of each model in each set (dots and bars), with optional
    reference marks (e.g. the oracle, the published values) per set.

    Parameters
    ----------
    disc : DataFrame
        ``model``, ``set``, ``estimate``, ``lower``, ``upper`` (Harrell's C rows).
    reference : mapping, optional
        Name -> {set -> C}: drawn as horizontal ticks across the set's group.
    """
    apply_style()
    sets = [s for s in set_labels if (disc["set"] == s).any()]
    fig, ax = plt.subplots(figsize=(7.4, 3.6))
    width = 0.8 / max(len(models), 1)
    for k, m in enumerate(models):
        for j, s in enumerate(sets):
            r = disc[(disc["model"] == m) & (disc["set"] == s)]
            if r.empty:
                continue
            x = j - 0.4 + width * (k + 0.5)
            r = r.iloc[0]
            ax.plot([x, x], [r.lower, r.upper], color=MODEL_COLORS[k % len(MODEL_COLORS)], lw=1.2)
            ax.plot(x, r.estimate, "o", color=MODEL_COLORS[k % len(MODEL_COLORS)], ms=4,
                    label=labels.get(m, m) if j == 0 else None)
    for name, per_set in (reference or {}).items():
        for j, s in enumerate(sets):
            v = per_set.get(s)
            if v is not None and np.isfinite(v):
                ax.hlines(v, j - 0.42, j + 0.42, colors="#333333", linestyles=":" if "ublish" in name else "--",
                          lw=0.9, label=name if j == next(i for i, q in enumerate(sets) if per_set.get(q) is not None)
                          else None)
    ax.axhline(0.5, color="#BBBBBB", lw=0.6)
    ax.set_xticks(range(len(sets)), [set_labels[s] for s in sets])
    ax.set_ylabel("Harrell's C (95% CI)")
    ax.set_ylim(0.3, 1.0)
    ax.legend(fontsize=6.5, ncol=2, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def td_roc_figure(curves: Mapping[tuple[str, float], Mapping[str, pd.DataFrame]], path: str | Path,
                  labels: Mapping[str, str], set_labels: Mapping[str, str], aucs: Mapping | None = None) -> Path:
    """Time-dependent ROC curves: one panel per (set, horizon), one curve per model.

    Parameters
    ----------
    curves : mapping
        (set, horizon in months) -> {model -> DataFrame with ``fpr``, ``tpr``}.
    aucs : mapping, optional
        (set, horizon) -> {model -> AUC}, printed in the legend.
    """
    apply_style()
    keys = list(curves)
    ncols = len({h for _, h in keys})
    nrows = len({s for s, _ in keys})
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 3.0 * nrows), squeeze=False)
    sets = list(dict.fromkeys(s for s, _ in keys))
    horizons = sorted({h for _, h in keys})
    for i, s in enumerate(sets):
        for j, h in enumerate(horizons):
            ax = axes[i, j]
            for k, (m, roc) in enumerate(curves.get((s, h), {}).items()):
                auc = (aucs or {}).get((s, h), {}).get(m)
                ax.plot(roc["fpr"], roc["tpr"], color=MODEL_COLORS[k % len(MODEL_COLORS)], lw=1.0,
                        label=f"{labels.get(m, m)}" + (f" {auc:.2f}" if auc is not None else ""))
            ax.plot([0, 1], [0, 1], color="#BBBBBB", lw=0.6)
            ax.set_title(f"{set_labels.get(s, s)}, {h / 12:g} years", fontsize=8)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            if i == nrows - 1:
                ax.set_xlabel("1 - specificity")
            if j == 0:
                ax.set_ylabel("Sensitivity")
            ax.legend(fontsize=5.5, loc="lower right", frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)

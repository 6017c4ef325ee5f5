"""Figures of the Cox models: forest plot of hazard ratios, C-index per model and set,
time-dependent ROC curves.

Each figure has a drawing helper that draws on one Axes (``draw_forest``,
``draw_c_index``, ``draw_td_roc``): the result objects of :mod:`radsurv.models` call them
in their ``plot(ax=None)``, and the figure functions (``forest_figure``,
``c_index_figure``, ``td_roc_figure``) lay out the paper's figure and call the result's
``plot(ax=...)`` per panel, so the figure inline in the notebook is the published one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .style import apply_style, message_figure, message_panel, plt, save_figure

__all__ = ["c_index_figure", "draw_c_index", "draw_forest", "draw_td_roc", "forest_figure", "forest_size",
           "td_roc_figure"]

#: One colour per model (Okabe-Ito), in the study's order.
MODEL_COLORS = ["#999999", "#56B4E9", "#0072B2", "#E69F00", "#D55E00", "#009E73"]

#: Size of the C-index figure (inches).
C_INDEX_SIZE = (7.4, 3.6)


def _forest_rows(hr: pd.DataFrame, labels: Mapping[str, str]) -> list:
    rows = []
    for model, g in hr.groupby("model", sort=False):
        rows.append(("header", labels.get(model, model), None))
        rows += [("term", r.term, r) for r in g.itertuples(index=False)]
    return rows


def forest_size(hr: pd.DataFrame) -> tuple[float, float]:
    """Size (inches) of the forest plot of ``hr``: one line per covariate and per model."""
    return (7.4, 0.8 + 0.22 * (len(hr) + hr["model"].nunique()))


def draw_forest(ax, hr: pd.DataFrame, labels: Mapping[str, str]):
    """Hazard ratios (95% CI, log scale) of every model's covariates, one block per model.

    Parameters
    ----------
    ax : Axes
    hr : DataFrame
        ``model``, ``term`` (printed), ``hr``, ``hr_lower``, ``hr_upper``, in display order.
    labels : mapping
        Model key -> printed name.

    Returns
    -------
    Axes
    """
    if hr.empty:
        return message_panel(ax, "No hazard ratio to draw: no model has a covariate")
    rows = _forest_rows(hr, labels)
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
    return ax


def forest_figure(result, path: str | Path) -> Path:
    """The forest plot of a result whose ``plot(ax)`` draws it (:class:`radsurv.models.SixModels`),
    sized by its ``hazard_ratios()``."""
    apply_style()
    fig, ax = plt.subplots(figsize=forest_size(result.hazard_ratios()))
    result.plot(ax=ax)
    fig.tight_layout()
    return save_figure(fig, path)


def draw_c_index(ax, disc: pd.DataFrame, models: Sequence[str], labels: Mapping[str, str],
                 set_labels: Mapping[str, str], reference: Mapping[str, Mapping[str, float]] | None = None):
    """Harrell's C with 95% CI of each model in each set (dots and bars), with optional
    reference marks (e.g. the oracle, the published values) per set.

    Parameters
    ----------
    ax : Axes
    disc : DataFrame
        ``model``, ``set``, ``estimate``, ``lower``, ``upper`` (Harrell's C rows).
    models : sequence of str
        The models, in the order of their colours.
    labels, set_labels : mapping
        Printed names of the models and the sets (the sets in display order).
    reference : mapping, optional
        Name -> {set -> C}: drawn as horizontal ticks across the set's group.

    Returns
    -------
    Axes
    """
    sets = [s for s in set_labels if (disc["set"] == s).any()]
    if not sets:
        return message_panel(ax, "No C-index to draw: no model was evaluated in any set")
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
    return ax


def c_index_figure(result, path: str | Path) -> Path:
    """The C-per-model figure of a result whose ``plot(ax)`` draws it
    (:class:`radsurv.models.PublishedComparison`: with the oracle and published marks)."""
    apply_style()
    fig, ax = plt.subplots(figsize=C_INDEX_SIZE)
    result.plot(ax=ax)
    fig.tight_layout()
    return save_figure(fig, path)


def draw_td_roc(ax, curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str], title: str,
                aucs: Mapping[str, float] | None = None, xlabel: bool = True, ylabel: bool = True):
    """One panel of time-dependent ROC curves (one set, one horizon), one curve per model.

    Parameters
    ----------
    ax : Axes
    curves : mapping
        Model -> DataFrame with ``fpr``, ``tpr``.
    labels : mapping
        Model -> printed name.
    title : str
    aucs : mapping, optional
        Model -> AUC, printed in the legend.
    xlabel, ylabel : bool
        Whether to label the axes (the figure labels its bottom row and left column).

    Returns
    -------
    Axes
    """
    if not curves:
        ax.set_title(title, fontsize=8)
        return message_panel(ax, "No ROC curve: no model could be scored here")
    for k, (m, roc) in enumerate(curves.items()):
        auc = (aucs or {}).get(m)
        ax.plot(roc["fpr"], roc["tpr"], color=MODEL_COLORS[k % len(MODEL_COLORS)], lw=1.0,
                label=f"{labels.get(m, m)}" + (f" {auc:.2f}" if auc is not None else ""))
    ax.plot([0, 1], [0, 1], color="#BBBBBB", lw=0.6)
    ax.set_title(title, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    if xlabel:
        ax.set_xlabel("1 - specificity")
    if ylabel:
        ax.set_ylabel("Sensitivity")
    ax.legend(fontsize=5.5, loc="lower right", frameon=False)
    return ax


def td_roc_figure(result, path: str | Path) -> Path:
    """Time-dependent ROC curves: one panel per (set, horizon) of ``result.panels``, each
    drawn by ``result.plot(ax=..., panel=(set, horizon))``
    (:class:`radsurv.models.TdRocCurves`)."""
    apply_style()
    keys = list(result.panels)
    if not keys:
        return message_figure(path, "No ROC curve: no set has cases and controls at a horizon")
    sets = list(dict.fromkeys(s for s, _ in keys))
    horizons = sorted({h for _, h in keys})
    nrows, ncols = len(sets), len(horizons)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 3.0 * nrows), squeeze=False)
    for i, s in enumerate(sets):
        for j, h in enumerate(horizons):
            result.plot(ax=axes[i, j], panel=(s, h), xlabel=i == nrows - 1, ylabel=j == 0)
    fig.tight_layout()
    return save_figure(fig, path)

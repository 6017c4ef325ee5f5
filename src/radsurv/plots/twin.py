"""The digital twin's known truth: true disease-free survival by risk group."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .style import message_panel

__all__ = ["TERTILE_COLORS", "draw_true_survival"]

#: Colours of the tertiles of the true linear predictor (low to high risk).
TERTILE_COLORS = {"low": "#0072B2", "middle": "#E69F00", "high": "#D55E00"}


def draw_true_survival(ax, times: np.ndarray, true: Mapping[str, np.ndarray],
                       observed: Mapping[str, pd.DataFrame] | None = None):
    """True survival curves (solid) and, where given, Kaplan-Meier estimates (steps) by group.

    Parameters
    ----------
    ax : Axes
        Where to draw.
    times : ndarray
        Months of the true curves.
    true : mapping of str to ndarray
        Group -> true ``S(t)`` at ``times`` (groups in drawing order).
    observed : mapping of str to DataFrame, optional
        Group -> :func:`radsurv.stats.kaplan_meier` table (``time``, ``survival``).

    Returns
    -------
    Axes
    """
    if not len(true) or np.size(times) == 0:
        return message_panel(ax, "No true survival to draw: the twin has no patient")
    for group, curve in true.items():
        color = TERTILE_COLORS.get(group)
        ax.plot(times, curve, color=color, lw=1.6, label=f"{group} tertile: true")
        if observed is not None and group in observed:
            km = observed[group]
            x = np.concatenate([[0.0], km["time"].to_numpy(dtype=float)])
            y = np.concatenate([[1.0], km["survival"].to_numpy(dtype=float)])
            ax.step(x, y, where="post", color=color, lw=0.9, ls="--", alpha=0.8,
                    label=f"{group} tertile: observed (KM)")
    ax.set_xlim(0, float(np.max(times)))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Months since surgery")
    ax.set_ylabel("Disease-free survival")
    ax.set_title("Tertiles of the true linear predictor", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    return ax

"""Shared figure style and a deterministic PNG writer."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

# Headless everywhere (pipeline, tests, a cluster) unless a backend was chosen: a Jupyter
# kernel sets MPLBACKEND to its inline backend, so that a result's plot() shows in the
# notebook (PNG bytes written by save_figure are the same: both draw with Agg).
if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["apply_style", "message_figure", "message_panel", "RC", "RISK_COLORS", "save_figure", "SET_COLORS"]

#: Colours of the three sets, used in every figure (colour-blind safe, Okabe-Ito).
SET_COLORS = {"train": "#0072B2", "internal": "#E69F00", "external": "#009E73"}
RISK_COLORS = {"low": "#0072B2", "high": "#D55E00"}

RC = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "svg.hashsalt": "radsurv",
}


def apply_style() -> None:
    plt.rcParams.update(RC)


def save_figure(fig, path: str | Path) -> Path:
    """Save a figure as PNG without timestamps or software versions in the metadata,
    so the same data give the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return path


def message_figure(path: str | Path, message: str) -> Path:
    """A small figure that says why there is nothing to draw (the manuscript's reference
    to the figure still resolves, and the reader sees the reason where the plot would be)."""
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.axis("off")
    return save_figure(fig, path)


def message_panel(ax, message: str):
    """Say on ``ax`` why there is nothing to draw (empty input): a short centred text and
    no ticks, in place of the panel. Returns ``ax``."""
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=8, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax

"""Figures of the sensitivity analyses: the permutation null of the development."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .style import SET_COLORS, apply_style, message_figure, plt, save_figure

__all__ = ["permutation_figure"]


def permutation_figure(null: pd.DataFrame, summary: pd.DataFrame, path: str | Path,
                       set_labels: Mapping[str, str]) -> Path:
    """One panel per test set: the histogram of the test C-indices of the signatures
    developed on permuted training outcomes, the observed signature's C as a line, its
    permutation p, and C = 0.5 (no discrimination) dotted."""
    apply_style()
    sets = [s for s in set_labels if f"c_{s}" in null and np.isfinite(null[f"c_{s}"].to_numpy(dtype=float)).any()]
    if not sets:
        return message_figure(path, "No permutation could be developed")
    fig, axes = plt.subplots(1, len(sets), figsize=(3.4 * len(sets), 2.8), squeeze=False, sharey=True)
    values_all = np.concatenate([null[f"c_{s}"].to_numpy(dtype=float) for s in sets])
    obs_all = summary.set_index("set")["observed_c"].reindex(sets).to_numpy(dtype=float)
    lo = float(np.nanmin(np.r_[values_all, obs_all, 0.5])) - 0.03
    hi = float(np.nanmax(np.r_[values_all, obs_all, 0.5])) + 0.03
    bins = np.linspace(lo, hi, 26)
    for ax, s in zip(axes[0], sets):
        v = null[f"c_{s}"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        row = summary.set_index("set").loc[s]
        ax.hist(v, bins=bins, color=SET_COLORS.get(s, "0.5"), alpha=0.55, edgecolor="white", linewidth=0.4,
                label=f"permuted ({v.size})")
        ax.axvline(0.5, color="0.4", linestyle=":", linewidth=0.9)
        ax.axvline(row["observed_c"], color="black", linewidth=1.4, label="observed")
        p = row["p"]
        p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        ax.set_title(f"{set_labels[s]}: observed C {row['observed_c']:.3f}, {p_text}", fontsize=8)
        ax.set_xlabel("Harrell's C on the test set")
        ax.set_xlim(lo, hi)
    axes[0, 0].set_ylabel("Permutations")
    axes[0, 0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def ring_width_figure(widths: pd.DataFrame, path: str | Path, prespecified_mm: float,
                      set_labels: Mapping[str, str], signature_labels: Mapping[str, str]) -> Path:
    """One panel per test set: each signature's Harrell's C (95% CI) against the
    peri-tumoral ring width, the pre-specified width marked (dashed) and C = 0.5 dotted."""
    apply_style()
    sets = [s for s in set_labels if s in set(widths["set"])]
    if not sets:
        return message_figure(path, "No ring-width result")
    fig, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 2.9), squeeze=False, sharey=True)
    markers = ["o", "s", "^", "D"]
    names = [n for n in signature_labels if n in set(widths["signature"])]
    offsets = np.linspace(-0.15, 0.15, max(len(names), 1))
    for ax, s in zip(axes[0], sets):
        for k, name in enumerate(names):
            d = widths[(widths["signature"] == name) & (widths["set"] == s)].sort_values("width_mm")
            x = d["width_mm"].to_numpy(dtype=float) + offsets[k]
            c = d["c"].to_numpy(dtype=float)
            ax.errorbar(x, c, yerr=[c - d["lower"].to_numpy(dtype=float), d["upper"].to_numpy(dtype=float) - c],
                        marker=markers[k % len(markers)], markersize=3.5, linewidth=1.0, capsize=2,
                        label=signature_labels[name])
        ax.set_xticks(sorted(widths["width_mm"].unique()))
        ax.axvline(prespecified_mm, color="0.3", linestyle="--", linewidth=0.9)
        ax.axhline(0.5, color="0.5", linestyle=":", linewidth=0.8)
        ax.set_title(set_labels[s], fontsize=8)
        ax.set_xlabel("Peri-tumoral ring width (mm)")
    axes[0, 0].set_ylabel("Harrell's C (95% CI)")
    axes[0, 0].legend(fontsize=6.5, frameon=False, loc="lower left")
    fig.tight_layout()
    return save_figure(fig, path)

"""Figures of the sensitivity analyses: the permutation null of the development, the
ring-width sweep, and the panels the other result objects draw.

Each published figure is drawn panel by panel by the result objects' ``plot`` methods
(:mod:`radsurv.sensitivity`), which call the ``*_panel`` helpers below: the figure inline
in the notebook is the published one."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .style import SET_COLORS, apply_style, message_figure, message_panel, plt, save_figure

__all__ = ["centre_effects_panel", "cutpoint_panel", "draw_outcome_draws", "harmonisation_panel", "mask_source_panel",
           "permutation_figure", "permutation_one_panel", "permutation_panel", "ring_width_figure",
           "ring_width_panel"]

_MARKERS = ["o", "s", "^", "D"]


def permutation_panel(ax, values: np.ndarray, observed: float, p: float, bins: np.ndarray, set_label: str,
                      split: str) -> None:
    """The histogram of the permuted developments' test C on one set, the observed C as a
    line, its permutation p in the title, and C = 0.5 (no discrimination) dotted."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        ax.set_title(set_label, fontsize=8)
        message_panel(ax, "No permuted C on this set: no permutation could be developed")
        return
    ax.hist(v, bins=bins, color=SET_COLORS.get(split, "0.5"), alpha=0.55, edgecolor="white", linewidth=0.4,
            label=f"permuted ({v.size})")
    ax.axvline(0.5, color="0.4", linestyle=":", linewidth=0.9)
    ax.axvline(observed, color="black", linewidth=1.4, label="observed")
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    ax.set_title(f"{set_label}: observed C {observed:.3f}, {p_text}", fontsize=8)
    ax.set_xlabel("Harrell's C on the test set")
    ax.set_xlim(bins[0], bins[-1])
    ax.set_ylabel("Permutations")
    ax.legend(fontsize=7, frameon=False, loc="upper left")


def permutation_one_panel(ax, summary: pd.DataFrame, set_labels: Mapping[str, str]) -> None:
    """One permutation: its signature's test C (open circles) against the observed
    signature's (filled), per test set; C = 0.5 dotted."""
    if not np.isfinite(summary[["permuted_c", "observed_c"]].to_numpy(dtype=float)).any():
        message_panel(ax, "No C on a test set: the signature could not be developed")
        return
    y = np.arange(len(summary))
    ax.axvline(0.5, color="0.4", linestyle=":", linewidth=0.9)
    ax.scatter(summary["permuted_c"], y, facecolors="none", edgecolors="0.3", label="permuted outcomes", zorder=3)
    ax.scatter(summary["observed_c"], y, color="black", label="observed", zorder=3)
    ax.set_yticks(y, [set_labels.get(s, s) for s in summary["set"]])
    ax.set_ylim(-0.7, len(summary) - 0.3)
    ax.set_xlabel("Harrell's C on the test set")
    ax.legend(fontsize=7, frameon=False, loc="best")


def permutation_figure(perm, path: str | Path) -> Path:
    """One panel per test set (:meth:`radsurv.sensitivity.PermutationNull.plot`): the
    histogram of the test C-indices of the signatures developed on permuted training
    outcomes, the observed signature's C as a line, its permutation p, and C = 0.5 dotted."""
    apply_style()
    sets = perm.sets()
    if not sets:
        return message_figure(path, "No permutation could be developed")
    fig, axes = plt.subplots(1, len(sets), figsize=(3.4 * len(sets), 2.8), squeeze=False, sharey=True)
    for k, (ax, s) in enumerate(zip(axes[0], sets)):
        perm.plot(ax=ax, set=s)
        if k:
            ax.set_ylabel("")
            ax.get_legend().remove()
    fig.tight_layout()
    return save_figure(fig, path)


def ring_width_panel(ax, widths: pd.DataFrame, split: str, set_label: str, prespecified_mm: float,
                     signature_labels: Mapping[str, str]) -> None:
    """Each signature's Harrell's C (95% CI) on one test set against the peri-tumoral
    ring width, the pre-specified width marked (dashed) and C = 0.5 dotted."""
    if not (widths["set"] == split).any():
        ax.set_title(set_label, fontsize=8)
        message_panel(ax, "No ring-width result on this set")
        return
    names = [n for n in signature_labels if n in set(widths["signature"])]
    offsets = np.linspace(-0.15, 0.15, max(len(names), 1))
    for k, name in enumerate(names):
        d = widths[(widths["signature"] == name) & (widths["set"] == split)].sort_values("width_mm")
        x = d["width_mm"].to_numpy(dtype=float) + offsets[k]
        c = d["c"].to_numpy(dtype=float)
        ax.errorbar(x, c, yerr=[c - d["lower"].to_numpy(dtype=float), d["upper"].to_numpy(dtype=float) - c],
                    marker=_MARKERS[k % len(_MARKERS)], markersize=3.5, linewidth=1.0, capsize=2,
                    label=signature_labels[name])
    ax.set_xticks(sorted(widths["width_mm"].unique()))
    ax.axvline(prespecified_mm, color="0.3", linestyle="--", linewidth=0.9)
    ax.axhline(0.5, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_title(set_label, fontsize=8)
    ax.set_xlabel("Peri-tumoral ring width (mm)")
    ax.set_ylabel("Harrell's C (95% CI)")
    ax.legend(fontsize=6.5, frameon=False, loc="lower left")


def ring_width_figure(sweep, path: str | Path) -> Path:
    """One panel per test set (:meth:`radsurv.sensitivity.RingWidths.plot`): each
    signature's Harrell's C (95% CI) against the peri-tumoral ring width, the
    pre-specified width marked (dashed) and C = 0.5 dotted."""
    apply_style()
    sets = sweep.sets()
    if not sets:
        return message_figure(path, "No ring-width result")
    fig, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 2.9), squeeze=False, sharey=True)
    for k, (ax, s) in enumerate(zip(axes[0], sets)):
        sweep.plot(ax=ax, set=s)
        if k:
            ax.set_ylabel("")
            ax.get_legend().remove()
    fig.tight_layout()
    return save_figure(fig, path)


def mask_source_panel(ax, sources: pd.DataFrame, split: str, set_label: str,
                      source_labels: Mapping[str, str], signature_labels: Mapping[str, str]) -> None:
    """Each signature's Harrell's C (95% CI) on one test set, per mask source (one row per
    signature, one marker per source); C = 0.5 dotted."""
    if not (sources["set"] == split).any():
        ax.set_title(set_label, fontsize=8)
        message_panel(ax, "No mask-source result on this set")
        return
    names = [n for n in signature_labels if n in set(sources["signature"])]
    srcs = list(dict.fromkeys(sources["source"]))
    offsets = np.linspace(-0.2, 0.2, max(len(srcs), 1)) if len(srcs) > 1 else [0.0]
    for k, src in enumerate(srcs):
        d = sources[(sources["source"] == src) & (sources["set"] == split)].set_index("signature").reindex(names)
        y = np.arange(len(names)) + offsets[k]
        c = d["c"].to_numpy(dtype=float)
        ax.errorbar(c, y, xerr=[c - d["lower"].to_numpy(dtype=float), d["upper"].to_numpy(dtype=float) - c],
                    marker=_MARKERS[k % len(_MARKERS)], markersize=3.5, linestyle="none", capsize=2,
                    label=source_labels.get(src, src))
    ax.axvline(0.5, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_yticks(np.arange(len(names)), [signature_labels[n] for n in names], fontsize=7)
    ax.invert_yaxis()
    ax.set_title(set_label, fontsize=8)
    ax.set_xlabel("Harrell's C (95% CI)")
    ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def cutpoint_panel(ax, comparison: pd.DataFrame, set_labels: Mapping[str, str],
                   split_labels: Mapping[str, str]) -> None:
    """The hazard ratio (high against low, 95% CI, log scale) of each split of the
    Rad-score, per set; HR = 1 dotted."""
    if comparison.empty:
        message_panel(ax, "No cut to compare on any set")
        return
    splits = [s for s in split_labels if s in set(comparison["split_by"])]
    sets = [s for s in set_labels if s in set(comparison["set"])]
    offsets = np.linspace(-0.25, 0.25, max(len(splits), 1)) if len(splits) > 1 else [0.0]
    for k, split in enumerate(splits):
        d = comparison[comparison["split_by"] == split].set_index("set").reindex(sets)
        y = np.arange(len(sets)) + offsets[k]
        hr = d["hr"].to_numpy(dtype=float)
        ok = np.isfinite(hr) & (hr > 0)
        ax.errorbar(hr[ok], y[ok], xerr=[hr[ok] - d["hr_lower"].to_numpy(dtype=float)[ok],
                                         d["hr_upper"].to_numpy(dtype=float)[ok] - hr[ok]],
                    marker=_MARKERS[k % len(_MARKERS)], markersize=3.5, linestyle="none", capsize=2,
                    label=split_labels[split])
    ax.axvline(1.0, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(np.arange(len(sets)), [set_labels[s] for s in sets])
    ax.invert_yaxis()
    ax.set_xlabel("Hazard ratio, high vs low risk (95% CI)")
    ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def centre_effects_panel(ax, effects: pd.DataFrame, block_labels: Sequence[str]) -> None:
    """The share of features that differ by centre, per modality and region, as
    extracted and after ComBat (bars)."""
    if effects.empty:
        message_panel(ax, "No feature block to compare across centres")
        return
    y = np.arange(len(effects))
    ax.barh(y - 0.2, effects["pct_differ_before"], height=0.4, color="0.6", label="as extracted")
    ax.barh(y + 0.2, effects["pct_differ_after"], height=0.4, color=SET_COLORS["external"], label="after ComBat")
    ax.set_yticks(y, list(block_labels))
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Features differing by centre (%, BH-adjusted)")
    ax.legend(fontsize=7, frameon=False, loc="lower right")


def harmonisation_panel(ax, discrimination: pd.DataFrame, signature_labels: Mapping[str, str]) -> None:
    """Each signature's external C (95% CI) as extracted (grey) and after ComBat (green);
    C = 0.5 dotted."""
    if discrimination.empty:
        message_panel(ax, "No external C: no signature was scored on the external test set")
        return
    y = np.arange(len(discrimination))
    for k, (suffix, colour, label) in enumerate((("raw", "0.45", "as extracted"),
                                                 ("harmonised", SET_COLORS["external"], "after ComBat"))):
        c = discrimination[f"c_{suffix}"].to_numpy(dtype=float)
        ax.errorbar(c, y + (k - 0.5) * 0.3, xerr=[c - discrimination[f"lower_{suffix}"].to_numpy(dtype=float),
                                                  discrimination[f"upper_{suffix}"].to_numpy(dtype=float) - c],
                    marker="o", markersize=3.5, linestyle="none", capsize=2, color=colour, label=label)
    ax.axvline(0.5, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_yticks(y, [signature_labels.get(n, n) for n in discrimination["signature"]], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("Harrell's C, external test set (95% CI)")
    ax.legend(fontsize=7, frameon=False, loc="best")


def draw_outcome_draws(ax, draws, split: str = "external"):
    """The twin's outcome redraws (:class:`radsurv.sensitivity.outcome_draws.OutcomeDraws`) on
    one test set: per measure (the six models, model 4 being the multi-modal Rad-score, and the oracle) each
    redraw's C as a dot, their mean as a grey bar, and the build's own draw as a black bar
    labelled with its percentile."""
    from ..labels import SPLIT_LABELS
    from ..models.six_models import MODELS

    names = {**MODELS, "oracle": "Oracle (true linear predictor)"}   # model 4 is the Rad-score's C
    keys = [k for k in names if f"{k}_{split}" in draws.draws]
    d = draws.developed
    if d.empty or not keys:
        message_panel(ax, "No outcome draw could be developed")
        return ax
    summary = draws.summary()
    rng = np.random.default_rng(0)   # jitter only: the dots' vertical spread, not data
    for i, key in enumerate(keys):
        values = d[f"{key}_{split}"].to_numpy(float)
        values = values[np.isfinite(values)]
        ax.scatter(values, i + rng.uniform(-0.18, 0.18, values.size), s=9, color=SET_COLORS.get(split, "0.5"),
                   alpha=0.6, linewidths=0)
        row = summary.loc[f"{key}_{split}"]
        if np.isfinite(row["mean"]):
            ax.plot([row["mean"]] * 2, [i - 0.3, i + 0.3], color="0.45", linewidth=1.2)
        if np.isfinite(row["own"]):
            ax.plot([row["own"]] * 2, [i - 0.35, i + 0.35], color="black", linewidth=1.8)
            ax.annotate(f"{row['percentile']:.0f}th", (row["own"], i - 0.3), xytext=(3, 0), textcoords="offset points",
                        fontsize=6, ha="left", va="center")
    ax.set_yticks(range(len(keys)), [names[k] for k in keys], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0.5, color="0.4", linestyle=":", linewidth=0.9)
    ax.set_xlabel(f"Harrell's C, {SPLIT_LABELS.get(split, split).lower()}")
    ax.set_title(f"{len(d)} outcome draws (dots; grey: mean) and this build's (black, its percentile)", fontsize=8)
    return ax


def draw_scanner_agreement(ax, table: pd.DataFrame):
    """The travelling lesions' agreement (:class:`radsurv.sensitivity.scanner_agreement.ScannerAgreement`'s
    table): per modality and region, the share of features with at least a given ICC(A,1),
    between the two scans on one scanner (dashed) and across scanners (solid), with Koo and
    Li's 0.75 and 0.90 marked."""
    from ..labels import MODALITY_LABELS, REGION_LABELS

    if table is None or table.empty:
        message_panel(ax, "No travelling lesions")
        return ax
    colours = {("us", "intra"): "#1b9e77", ("us", "peri"): "#66c2a5", ("mri", "intra"): "#7570b3",
               ("mri", "peri"): "#b3aed8"}
    for (modality, region), group in table.groupby(["modality", "region"], sort=False):
        label = f"{MODALITY_LABELS.get(modality, modality)} {REGION_LABELS.get(region, region).lower()}"
        for column, style, what in (("retest_icc", "--", "same scanner"), ("between_icc", "-", "across scanners")):
            x = np.sort(group[column].dropna().clip(lower=0.0).to_numpy(float))
            if x.size:
                ax.step(np.r_[0.0, x], np.r_[1.0, 1.0 - np.arange(x.size) / x.size], where="post", linestyle=style,
                        color=colours.get((modality, region), "0.4"), linewidth=1.2, label=f"{label}, {what}")
    for threshold in (0.75, 0.90):
        ax.axvline(threshold, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("ICC(A,1) of a feature")
    ax.set_ylabel("Share of features with at least this ICC")
    ax.legend(fontsize=6, frameon=False, loc="best")
    return ax

"""Figures of the radiomics stage: the regions of one image, and the ICC of every feature.

Both are drawn on a given Axes, so that a result object's ``plot(ax)``
(:class:`radsurv.roi.Regions`, :class:`radsurv.features.robustness.Robustness`) and the
published figure are the same drawing.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd

from .style import RC, message_panel, plt

__all__ = ["REGION_COLORS", "draw_icc", "draw_regions", "icc_axes", "icc_figsize"]

#: Colours of the regions in overlays (Okabe-Ito): lesion vermilion, ring sky blue.
REGION_COLORS = {"intra": "#D55E00", "peri": "#56B4E9"}


def icc_figsize(n_groups: int) -> tuple[float, float]:
    """The ICC figure's size in inches for ``n_groups`` (modality, region) groups."""
    return (1.6 + 1.5 * max(int(n_groups), 1), 3.6)


def icc_axes(n_groups: int):
    """A new figure and Axes for the ICC figure, in matplotlib's default look (the
    published figure's, whatever style earlier cells applied), at 150 dpi.

    Parameters
    ----------
    n_groups : int
        Number of (modality, region) groups to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    defaults = {k: matplotlib.rcParamsDefault[k] for k in RC}
    with plt.rc_context(defaults):
        _, ax = plt.subplots(figsize=icc_figsize(n_groups), dpi=150)
    return ax


def draw_icc(ax, icc: pd.DataFrame, threshold: float, title: str | None = None):
    """Distribution of feature ICCs per modality and region (violin and box).

    No patient-level data is drawn, only one ICC per feature.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    icc : DataFrame
        ``modality`` (as printed), ``region`` and ``icc``, one row per feature.
    threshold : float
        Drawn as a dashed line; the share of features at or above it is printed under
        each group.
    title : str, optional
        The Axes' title.

    Returns
    -------
    matplotlib.axes.Axes
        With an empty table, a panel that says so.
    """
    groups = [(key, g["icc"].dropna().to_numpy()) for key, g in icc.groupby(["modality", "region"], sort=True)]
    if not groups:
        if title:
            ax.set_title(title, fontsize=9)
        return message_panel(ax, "No ICC to draw: no feature was compared")
    positions = np.arange(1, len(groups) + 1)
    data = [values if values.size else np.array([np.nan]) for _, values in groups]
    drawable = [i for i, values in enumerate(data) if np.isfinite(values).any()]
    if drawable:
        ax.violinplot([data[i] for i in drawable], positions=positions[drawable], showextrema=False)
        ax.boxplot([data[i] for i in drawable], positions=positions[drawable], widths=0.15,
                   showfliers=False, medianprops={"color": "black"})
    ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label=f"ICC = {threshold:g}")
    labels = []
    for (modality, region), values in groups:
        share = (values >= threshold).mean() if values.size else float("nan")
        labels.append(f"{modality} {region}\n{share:.0%} >= {threshold:g}\n(n={values.size})")
    ax.set_xticks(positions, labels, fontsize=7)
    ax.set_ylabel("ICC per feature")
    ax.set_ylim(min(-0.1, np.nanmin([np.nanmin(v) if np.isfinite(v).any() else 0 for v in data])), 1.02)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def draw_regions(ax, image: np.ndarray, masks: Mapping[str, np.ndarray], spacing: tuple[float, float],
                 margin_mm: float = 10.0, title: str | None = None):
    """One image plane with its regions filled and outlined, cropped around them.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    image : ndarray
        The 2-D plane (rows y, columns x).
    masks : mapping
        Region name (``intra``, ``peri``) -> boolean 2-D array on the plane.
    spacing : (float, float)
        Pixel size (x, y) in mm: the aspect ratio and the crop margin.
    margin_mm : float
        Tissue shown around the regions.
    title : str, optional
        The Axes' title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if np.size(image) == 0:
        if title:
            ax.set_title(title)
        return message_panel(ax, "No image plane to draw")
    union = np.zeros(image.shape, dtype=bool)
    for m in masks.values():
        union |= m
    if union.any():
        ys, xs = np.nonzero(union)
        my, mx = int(round(margin_mm / spacing[1])), int(round(margin_mm / spacing[0]))
        crop = (slice(max(0, ys.min() - my), ys.max() + my + 1), slice(max(0, xs.min() - mx), xs.max() + mx + 1))
    else:
        crop = (slice(None), slice(None))
    plane = image[crop]
    h, w = plane.shape
    extent = (0, w * spacing[0], h * spacing[1], 0)  # mm, so that the aspect is physical
    lo, hi = np.percentile(plane, [1, 99]) if plane.size else (0, 1)
    # antialiased: a 0.1 mm ultrasound image drawn a few hundred pixels wide would alias its speckle
    ax.imshow(plane, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, extent=extent, interpolation="antialiased")
    handles = []
    for name, m in masks.items():
        color = REGION_COLORS.get(name, "#F0E442")
        part = m[crop]
        ax.imshow(np.ma.masked_where(~part, part), cmap=ListedColormap([color]), alpha=0.35, extent=extent,
                  interpolation="nearest", vmin=0, vmax=1)
        if part.any():
            ax.contour(np.linspace(0, w * spacing[0], w, endpoint=False) + spacing[0] / 2,
                       np.linspace(0, h * spacing[1], h, endpoint=False) + spacing[1] / 2,
                       part.astype(float), levels=[0.5], colors=[color], linewidths=0.8)
        handles.append(Patch(facecolor=color, alpha=0.6, label={"intra": "intra-tumoral",
                                                                "peri": "peri-tumoral ring"}.get(name, name)))
    ax.set_xlabel("mm")
    ax.set_ylabel("mm")
    ax.legend(handles=handles, loc="upper right", fontsize=7, frameon=True)
    if title:
        ax.set_title(title)
    return ax

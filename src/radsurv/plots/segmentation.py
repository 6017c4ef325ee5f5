"""Segmentation overlays: image with true, reader, U-Net and baseline contours."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import SimpleITK as sitk
from matplotlib.lines import Line2D

from .style import apply_style, message_panel, plt, save_figure

__all__ = ["CONTOURS", "contour_handles", "overlay_figure", "overlay_grid", "overlay_panel", "step_panel"]

#: Contour styles (colour-blind-safe on grey; truth and reader as in the image figures).
CONTOURS = {
    "true": {"label": "Truth", "color": "#00E676", "linestyle": "solid"},
    "reader": {"label": "Reader", "color": "#FFD600", "linestyle": "dashed"},
    "unet": {"label": "U-Net", "color": "#56B4E9", "linestyle": "solid"},
    "baseline": {"label": "Baseline", "color": "#D55E00", "linestyle": "dotted"},
}


def _image(value: Any) -> sitk.Image | None:
    if value is None or isinstance(value, sitk.Image):
        return value
    if isinstance(value, float) and np.isnan(value):
        return None
    from ..imaging.io import read_image

    return read_image(Path(value))


def _plane(image: sitk.Image, masks: Mapping[str, sitk.Image | None]) -> tuple[np.ndarray, dict, tuple[float, float]]:
    """The 2D plane to draw (the US image; the MRI axial slice with the largest lesion
    area of the first available mask) and the pixel size (x, y) in mm."""
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    marr = {k: (sitk.GetArrayFromImage(m) != 0 if m is not None else None) for k, m in masks.items()}
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
        marr = {k: (v[0] if v is not None else None) for k, v in marr.items()}
    elif arr.ndim == 3:
        ref = next((v for k in ("true", "reader", "unet", "baseline") if (v := marr.get(k)) is not None and v.any()), None)
        z = int(np.argmax(ref.sum(axis=(1, 2)))) if ref is not None else arr.shape[0] // 2
        arr = arr[z]
        marr = {k: (v[z] if v is not None else None) for k, v in marr.items()}
    sx, sy = image.GetSpacing()[:2]
    return arr, marr, (sx, sy)


def _crop(arr: np.ndarray, masks: dict, spacing: tuple[float, float], margin_mm: float):
    """Bounding box of all masks plus ``margin_mm`` on each side (whole image if no mask)."""
    union = np.zeros(arr.shape, dtype=bool)
    for m in masks.values():
        if m is not None:
            union |= m
    if not union.any():
        return (slice(None), slice(None))
    ys, xs = np.nonzero(union)
    my, mx = int(round(margin_mm / spacing[1])), int(round(margin_mm / spacing[0]))
    return (slice(max(0, ys.min() - my), ys.max() + my + 1), slice(max(0, xs.min() - mx), xs.max() + mx + 1))


def overlay_panel(ax, example: Mapping[str, Any], margin_mm: float | None = 12.0, title: str | None = None) -> set[str]:
    """One panel of the overlay figure: the image (the US image; the MRI axial slice with
    the largest lesion area) with the contours of the masks it has, a 10 mm scale bar.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    example : mapping
        ``image`` (SimpleITK image or path) and any of ``true``, ``reader``, ``unet``,
        ``baseline`` (masks or paths, same geometry), plus an optional ``title``.
    margin_mm : float or None
        Tissue shown around the masks, mm (None: the whole image).
    title : str, optional
        The panel's title when ``example`` has none.

    Returns
    -------
    set of str
        The contour kinds drawn (for the legend).
    """
    ax.axis("off")
    image = _image(example.get("image"))
    if image is None:
        ax.set_title(example.get("title") or title or "")
        message_panel(ax, "No image to draw")
        return set()
    masks = {key: _image(example.get(key)) for key in CONTOURS}
    arr, marr, (sx, sy) = _plane(image, masks)
    box = _crop(arr, marr, (sx, sy), margin_mm) if margin_mm is not None else (slice(None), slice(None))
    view = arr[box]
    lo, hi = np.percentile(view, [1, 99])
    h, w = view.shape
    # Physical aspect: extent in mm, so anisotropic pixels are drawn true to size.
    extent = (0, w * sx, h * sy, 0)
    ax.imshow(view, cmap="gray", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
    used = set()
    for key, style in CONTOURS.items():
        m = marr.get(key)
        if m is None or not m[box].any():
            continue
        ys = (np.arange(h) + 0.5) * sy
        xs = (np.arange(w) + 0.5) * sx
        ax.contour(xs, ys, m[box].astype(float), levels=[0.5], colors=style["color"], linewidths=1.1,
                   linestyles=style["linestyle"])
        used.add(key)
    ax.set_title(example.get("title") or title or "")
    # A 10 mm scale bar instead of axes.
    ax.plot([w * sx * 0.05, w * sx * 0.05 + 10], [h * sy * 0.93] * 2, color="white", lw=2)
    return used


def contour_handles(kinds) -> list[Line2D]:
    """Legend entries of the contour kinds ``kinds``, in :data:`CONTOURS`' order."""
    return [Line2D([], [], color=s["color"], linestyle=s["linestyle"], label=s["label"])
            for k, s in CONTOURS.items() if k in kinds]


def overlay_grid(examples: Sequence[Mapping[str, Any] | None], margin_mm: float = 12.0, columns: int | None = None):
    """The overlay figure (see :func:`overlay_figure`), returned instead of written.

    Returns
    -------
    matplotlib.figure.Figure
        Without any example, a small figure that says so.
    """
    apply_style()
    n = len(examples)
    if not any(e is not None for e in examples):
        fig, ax = plt.subplots(figsize=(4, 2))
        message_panel(ax, "No example to draw")
        ax.axis("off")
        return fig
    ncol = columns or min(4, n)
    nrow = int(np.ceil(n / ncol))
    # Two-line titles (a failure's kind under its Dice) need more room above each row.
    title_lines = max(str((e or {}).get("title") or "").count("\n") + 1 for e in examples)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, (2.45 + 0.2 * title_lines) * nrow + 0.4), squeeze=False)
    used = set()
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n or examples[k] is None:  # None: padding, so that each modality keeps its own row
            continue
        used |= overlay_panel(ax, examples[k], margin_mm, title=f"Case {k + 1}")
    handles = contour_handles(used)
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def overlay_figure(
    examples: Sequence[Mapping[str, Any]],
    path: str | Path,
    margin_mm: float = 12.0,
    columns: int | None = None,
) -> Path:
    """Example segmentations: each panel an image with the available contours.

    Parameters
    ----------
    examples
        One mapping per panel: ``image`` (SimpleITK image or path) and any of
        ``true``, ``reader``, ``unet``, ``baseline`` (masks or paths, same geometry),
        plus an optional ``title`` (e.g. "US, external test, Dice 0.86"). Never put
        patient identifiers in titles: panels are numbered "Case k" by default.
        ``None`` leaves a panel empty (to start a new row).
    path
        PNG to write.
    margin_mm
        Tissue shown around the lesion, mm (the panels are cropped to the masks).
    columns
        Panels per row (default: up to 4).

    Returns
    -------
    Path
        The written figure.
    """
    return save_figure(overlay_grid(examples, margin_mm, columns), path)


def step_panel(ax, image, shown, reference=None, frame=None, probability: bool = False, margin_mm: float = 12.0,
               title: str | None = None, reference_kind: str = "true"):
    """One step of a segmentation drawn on its image: a probability map or a mask, with
    the reference's contour.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    image : SimpleITK.Image or path
        The image.
    shown : SimpleITK.Image or path
        What the step made: a probability map (``probability=True``: coloured from 0 to
        1, transparent where it is 0) or a binary mask (filled in the U-Net's colour).
    reference : SimpleITK.Image or path, optional
        The reference mask, drawn as a contour of ``reference_kind``'s style.
    frame : SimpleITK.Image or path, optional
        A mask that, with the reference, chooses the plane (the MRI slice with the
        largest lesion area) and the crop, so that every step of one case is drawn on
        the same view.
    probability : bool
        Whether ``shown`` is a probability map.
    margin_mm : float
        Tissue shown around the reference and ``frame``, mm.
    title : str, optional
    reference_kind : str
        A key of :data:`CONTOURS` (``"true"``, or ``"reader"`` where the reader's mask
        is the reference).

    Returns
    -------
    matplotlib.image.AxesImage or None
        The probability layer (for a colour bar), None for a mask.
    """
    ax.axis("off")
    img = _image(image)
    if img is None:
        if title:
            ax.set_title(title)
        message_panel(ax, "No image to draw")
        return None
    around = {reference_kind: _image(reference), "unet": _image(frame)}
    arr, marr, (sx, sy) = _plane(img, around)
    layer, _, _ = _plane(_image(shown), around)
    box = _crop(arr, marr, (sx, sy), margin_mm)
    view, layer = arr[box], layer[box]
    lo, hi = np.percentile(view, [1, 99])
    h, w = view.shape
    extent = (0, w * sx, h * sy, 0)
    ax.imshow(view, cmap="gray", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
    if probability:
        shown_layer = ax.imshow(layer, cmap="viridis", vmin=0.0, vmax=1.0, alpha=np.clip(layer, 0.0, 1.0) * 0.85,
                                extent=extent, interpolation="nearest")
    else:
        colour = np.array([int(CONTOURS["unet"]["color"][i:i + 2], 16) / 255 for i in (1, 3, 5)] + [0.5])
        ax.imshow(np.where(layer[..., None] != 0, colour, 0.0), extent=extent, interpolation="nearest")
        shown_layer = None
    ref = marr.get(reference_kind)
    if ref is not None and ref[box].any():
        style = CONTOURS[reference_kind]
        ax.contour((np.arange(w) + 0.5) * sx, (np.arange(h) + 0.5) * sy, ref[box].astype(float), levels=[0.5],
                   colors=style["color"], linewidths=1.1, linestyles=style["linestyle"])
    ax.plot([w * sx * 0.05, w * sx * 0.05 + 10], [h * sy * 0.93] * 2, color="white", lw=2)
    if title:
        ax.set_title(title)
    return shown_layer

"""Figures and tables of the images themselves: example cases and per-centre statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import SimpleITK as sitk
from matplotlib.lines import Line2D

from ..imaging.io import read_image
from ..labels import centre_sort_key
from .style import apply_style, message_panel, plt, save_figure

__all__ = ["draw_case", "draw_example_cases", "draw_image_panel", "draw_statistic_bars", "example_cases_figure",
           "image_statistics_table", "MODALITY_NAMES", "noise_sd", "READER_STYLE", "TRUE_STYLE"]

#: Contour styles: ground truth solid green, reader dashed yellow (visible on grey).
TRUE_STYLE = {"colors": "#00E676", "linewidths": 1.0, "linestyles": "solid"}
READER_STYLE = {"colors": "#FFD600", "linewidths": 1.0, "linestyles": "dashed"}
MODALITY_NAMES = {"us": "US", "mri": "DCE-MRI"}


def _as_image(value: Any, root: Path | None) -> sitk.Image | None:
    """A SimpleITK image from an image or a path (relative paths resolved against ``root``)."""
    if value is None or isinstance(value, sitk.Image):
        return value
    if isinstance(value, float) and np.isnan(value):
        return None
    path = Path(value)
    if root is not None and not path.is_absolute():
        path = Path(root) / path
    return read_image(path)


def _display_plane(image: sitk.Image, masks: Sequence[sitk.Image | None]) -> tuple[np.ndarray, list, tuple[float, float]]:
    """The 2D plane to show: the US image itself, or the MRI axial slice at the lesion's centre.

    Parameters
    ----------
    image
        2D image, or 3D volume (axial slices along z).
    masks
        Masks on the same grid (the first one locates the lesion's central slice).

    Returns
    -------
    plane, mask_planes, pixel_size
        2D image array, the masks' 2D arrays (None where absent) and the (row, column)
        pixel size in mm.
    """
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    mask_arrays = [None if m is None else sitk.GetArrayFromImage(m) > 0 for m in masks]
    spacing = image.GetSpacing()
    if array.ndim == 2:
        return array, mask_arrays, (spacing[1], spacing[0])
    if array.shape[0] == 1:
        return array[0], [None if m is None else m[0] for m in mask_arrays], (spacing[1], spacing[0])
    reference = next((m for m in mask_arrays if m is not None and m.any()), None)
    if reference is None:
        k = array.shape[0] // 2
    else:
        slices = np.flatnonzero(reference.any(axis=(1, 2)))
        k = int(round(0.5 * (slices[0] + slices[-1])))
    return array[k], [None if m is None else m[k] for m in mask_arrays], (spacing[1], spacing[0])


def draw_image_panel(ax, image: sitk.Image | None, true_mask, reader_mask, modality: str, title: str) -> None:
    """One image (an MRI volume's axial slice through the lesion's centre) with its true
    and reader contours and a 10 mm scale bar; a grey "no image" panel for None."""
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    if image is None:
        ax.set_facecolor("0.9")
        ax.text(0.5, 0.5, "no image", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return
    plane, (true_plane, reader_plane), (row_mm, col_mm) = _display_plane(image, [true_mask, reader_mask])
    height, width = plane.shape[0] * row_mm, plane.shape[1] * col_mm
    extent = (0.0, width, height, 0.0)
    if modality == "us":
        vmin, vmax = 0.0, 255.0 if plane.max() <= 255 else float(np.percentile(plane, 99.8))
    else:
        vmin, vmax = float(np.percentile(plane, 0.5)), float(np.percentile(plane, 99.7))
    ax.imshow(plane, cmap="gray", vmin=vmin, vmax=vmax, extent=extent, interpolation="bilinear")
    # Contour coordinates: pixel centres in mm.
    x = (np.arange(plane.shape[1]) + 0.5) * col_mm
    y = (np.arange(plane.shape[0]) + 0.5) * row_mm
    for plane_mask, style in ((true_plane, TRUE_STYLE), (reader_plane, READER_STYLE)):
        if plane_mask is not None and plane_mask.any():
            ax.contour(x, y, plane_mask.astype(float), levels=[0.5], **style)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    # 10 mm scale bar, bottom right.
    ax.plot([width - 2 - 10, width - 2], [height - 2, height - 2], color="white", lw=2, solid_capstyle="butt")
    ax.text(width - 7, height - 3, "10 mm", color="white", ha="center", va="bottom", fontsize=6)


def example_cases_figure(
    cases: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    root: str | Path | None = None,
    modalities: Sequence[str] = ("us", "mri"),
) -> Path:
    """Grid of example US and MRI images with true and reader contours.

    One row per centre; per modality one column for the low-risk and one for the
    high-risk example. Panels are titled by centre, risk group and modality only
    (never patient identifiers).

    Parameters
    ----------
    cases
        Mappings with ``center``, ``risk`` (``"low"`` or ``"high"``) and, per
        modality ``m``, ``m_image``, ``m_mask``, ``m_reader_mask``: SimpleITK images or
        paths (missing keys leave the contour or panel out). MRI shows the axial slice
        through the centre of the lesion.
    path
        Output PNG.
    root
        Folder that relative paths are relative to.
    modalities
        Modalities to show, in column order.

    Returns
    -------
    Path
        The written figure.
    """
    return save_figure(draw_example_cases(cases, root=root, modalities=modalities), path)


def draw_example_cases(cases: Sequence[Mapping[str, Any]], *, root: str | Path | None = None,
                       modalities: Sequence[str] = ("us", "mri")):
    """:func:`example_cases_figure`'s figure, drawn and returned (not saved). Parameters as there.

    Returns
    -------
    Figure
    """
    apply_style()
    if not len(cases):
        fig, ax = plt.subplots(figsize=(4, 2))
        message_panel(ax, "No example case to draw")
        ax.axis("off")
        return fig
    root = Path(root) if root is not None else None
    centers = sorted({str(c["center"]) for c in cases}, key=centre_sort_key)
    risks = ("low", "high")
    by_key = {(str(c["center"]), str(c["risk"])): c for c in cases}
    ncols = len(modalities) * len(risks)
    fig, axes = plt.subplots(len(centers), ncols, figsize=(2.3 * ncols, 2.3 * len(centers) + 0.4), squeeze=False)
    for row, center in enumerate(centers):
        for m_index, modality in enumerate(modalities):
            for r_index, risk in enumerate(risks):
                ax = axes[row, m_index * len(risks) + r_index]
                case = by_key.get((center, risk), {})
                image = _as_image(case.get(f"{modality}_image"), root)
                true_mask = _as_image(case.get(f"{modality}_mask"), root)
                reader = _as_image(case.get(f"{modality}_reader_mask"), root)
                title = f"Centre {center} · {risk} risk · {MODALITY_NAMES.get(modality, modality)}"
                draw_image_panel(ax, image, true_mask, reader, modality, title)
    handles = [
        Line2D([], [], color=TRUE_STYLE["colors"], lw=1.2, label="True lesion"),
        Line2D([], [], color=READER_STYLE["colors"], lw=1.2, ls="--", label="Reader"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def draw_case(case: Mapping[str, Any], axes=None, *, root: str | Path | None = None,
              modalities: Sequence[str] = ("us", "mri")):
    """One patient's images side by side, one panel per modality, with the true (and
    reader) contours; titled by centre, risk and modality only (never the patient).

    Parameters
    ----------
    case : mapping
        As one item of :func:`example_cases_figure`'s ``cases``.
    axes : sequence of Axes, optional
        One per modality; None draws a new figure.
    root : path, optional
        Folder that relative paths are relative to.
    modalities : sequence of str
        The panels, in order.

    Returns
    -------
    ndarray of Axes
    """
    apply_style()
    root = Path(root) if root is not None else None
    if axes is None:
        _, axes = plt.subplots(1, len(modalities), figsize=(3.0 * len(modalities), 3.1), squeeze=False)
        axes = axes[0]
    if not case:
        for ax, modality in zip(axes, modalities):
            ax.set_title(MODALITY_NAMES.get(modality, modality), fontsize=8)
            message_panel(ax, "No case to draw")
        return np.asarray(axes)
    for ax, modality in zip(axes, modalities):
        title = f"Centre {case['center']} · {case['risk']} risk · {MODALITY_NAMES.get(modality, modality)}"
        image, true_mask, reader = (_as_image(case.get(f"{modality}{key}"), root)
                                    for key in ("_image", "_mask", "_reader_mask"))
        draw_image_panel(ax, image, true_mask, reader, modality, title)
    return np.asarray(axes)


def draw_statistic_bars(ax, stats: pd.DataFrame, column: str, label: str | None = None):
    """One bar per centre and modality of a column of :func:`image_statistics_table`.

    Parameters
    ----------
    ax : Axes
        Where to draw.
    stats : DataFrame
        :func:`image_statistics_table`'s table.
    column : str
        The statistic.
    label : str, optional
        The y-axis label (default: the column).

    Returns
    -------
    Axes
    """
    if stats.empty:
        return message_panel(ax, "No image statistic to draw: no image was read")
    centers = sorted({str(c) for c in stats["center"]}, key=centre_sort_key)
    modalities = [m for m in ("us", "mri") if (stats["modality"] == m).any()]
    width = 0.8 / max(1, len(modalities))
    colors = {"us": "#56B4E9", "mri": "#CC79A7"}
    for k, modality in enumerate(modalities):
        rows = stats[stats["modality"] == modality].assign(center=lambda d: d["center"].astype(str)).set_index("center")
        values = [float(rows.loc[c, column]) if c in rows.index and column in rows else np.nan for c in centers]
        ax.bar(np.arange(len(centers)) + (k - (len(modalities) - 1) / 2) * width, values, width=width,
               color=colors.get(modality), label=MODALITY_NAMES.get(modality, modality))
    ax.set_xticks(np.arange(len(centers)))
    ax.set_xticklabels([f"Centre {c}" for c in centers])
    ax.set_ylabel(label or column)
    ax.legend(fontsize=8)
    return ax


def noise_sd(array: np.ndarray) -> float:
    """Noise SD by Immerkaer's fast estimator (per 2D plane, averaged over planes).

    Convolves with the difference of two Laplacians, which cancels smooth structure,
    and scales the mean absolute response to a Gaussian SD.

    Parameters
    ----------
    array
        2D image or 3D volume (planes along axis 0).

    Returns
    -------
    float
    """
    from scipy.ndimage import convolve

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    planes = array[None] if array.ndim == 2 else array
    values = []
    for plane in planes.astype(np.float64):
        if min(plane.shape) < 3:
            continue
        response = convolve(plane, kernel)[1:-1, 1:-1]
        values.append(np.sqrt(np.pi / 2.0) * np.abs(response).mean() / 6.0)
    return float(np.mean(values)) if values else float("nan")


def _image_stats(image: sitk.Image, mask: sitk.Image | None) -> dict[str, float]:
    """Geometry, intensity, lesion size and SNR of one image."""
    array = sitk.GetArrayFromImage(image).astype(np.float64)
    spacing = image.GetSpacing()
    size = image.GetSize()
    out: dict[str, float] = {}
    for k, axis in enumerate("xyz"[: image.GetDimension()]):
        out[f"spacing_{axis}_mm"] = float(spacing[k])
        out[f"size_{axis}"] = float(size[k])
    out["intensity_mean"] = float(array.mean())
    out["intensity_sd"] = float(array.std())
    sigma = noise_sd(array)
    if mask is not None:
        lesion = sitk.GetArrayFromImage(mask) > 0
        voxel = float(np.prod(spacing))
        key = "lesion_area_mm2" if image.GetDimension() == 2 else "lesion_volume_mm3"
        out[key] = float(lesion.sum()) * voxel
        out["snr"] = float(array[lesion].mean() / sigma) if lesion.any() and sigma > 0 else float("nan")
    return out


def image_statistics_table(
    manifest_df: pd.DataFrame,
    *,
    root: str | Path | None = None,
    modalities: Sequence[str] = ("us", "mri"),
    max_per_center: int | None = None,
) -> pd.DataFrame:
    """Per-centre image statistics (a table of the paper's imaging methods).

    Parameters
    ----------
    manifest_df
        One row per patient with ``center`` and, per modality ``m``, ``m_image`` and
        optionally ``m_mask`` (paths).
    root
        Folder that relative paths are relative to.
    modalities
        Modalities to summarise.
    max_per_center
        Read at most this many patients per centre (the first ones), to save time.

    Returns
    -------
    DataFrame
        One row per centre and modality: ``center, modality, n``, the median spacing
        and size per axis, the mean of the per-image intensity mean and SD, the
        median lesion area (US, mm²) or volume (MRI, mm³), and the median SNR (mean
        lesion intensity over the Immerkaer noise SD). Intensities are in stored
        units, which differ between centres by design.
    """
    root = Path(root) if root is not None else None
    rows = []
    for center, group in manifest_df.groupby("center", sort=True):
        if max_per_center is not None:
            group = group.head(max_per_center)
        for modality in modalities:
            column = f"{modality}_image"
            if column not in group:
                continue
            stats = []
            for _, patient in group.iterrows():
                image = _as_image(patient.get(column), root)
                if image is None:
                    continue
                mask = _as_image(patient.get(f"{modality}_mask"), root)
                stats.append(_image_stats(image, mask))
            if not stats:
                continue
            frame = pd.DataFrame(stats)
            row: dict[str, Any] = {"center": center, "modality": modality, "n": len(frame)}
            for name in frame.columns:
                if name in ("intensity_mean", "intensity_sd"):
                    row[name] = float(frame[name].mean())
                else:
                    row[name] = float(frame[name].median())
            rows.append(row)
    return pd.DataFrame(rows)

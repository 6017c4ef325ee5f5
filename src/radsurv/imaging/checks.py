"""Checks of image/mask pairs before any work (`docs/design.md`, "The input contract").

Every problem names the patient, the file and what is wrong, with the values, so a
user can fix the manifest without reading code. Nothing here raises on bad data: the
caller decides whether a problem stops the run or excludes the patient.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import SimpleITK as sitk

from .io import ImageReadError, read_image

__all__ = ["check_image_pair", "CODES", "EXTENT_TOLERANCE", "GeometryMismatch", "ImageProblem", "REGION", "RESAMPLED",
           "extent_gap_mm", "lesion_room_mm", "mask_on_image_grid"]

#: Problem codes, in the order they are checked.
CODES = (
    "missing_file",
    "unreadable",
    "dimension",
    "geometry",
    "mask_values",
    "empty_mask",
    "multi_label",
    "ring_room",
)

#: Code of the note (not a problem) for a mask resampled onto its image's grid.
RESAMPLED = "mask_resampled"

#: Code of a lesion that the caller's ``region_check`` turns down (the extraction settings:
#: too few voxels or dimensions). Not a problem of the input: the run leaves the patient out
#: at the extraction, and :mod:`radsurv.preconditions` decides what that does to the run.
REGION = "region"

#: Largest distance between the corners of an image's and a mask's grids, as a share of
#: the finer voxel, for the two to count as the same physical volume: header rounding
#: (float32 NIfTI origins, DICOM positions printed to a few decimals) stays far below
#: it, and nearest-neighbour resampling within it moves no voxel.
EXTENT_TOLERANCE = 0.05

_AXES = "xyz"


class GeometryMismatch(ValueError):
    """An image and its mask that cover different physical volumes (the message has the numbers)."""


@dataclass(frozen=True)
class ImageProblem:
    """One problem with one patient's image or mask.

    Attributes
    ----------
    patient_id
        The patient.
    file
        The file (or folder) concerned, as given.
    code
        One of :data:`CODES`.
    message
        What is wrong, with the values.
    """

    patient_id: str
    file: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"patient {self.patient_id}: {self.file}: {self.message}"


def _load(patient_id: str, path: str | Path | None, what: str, problems: list[ImageProblem]) -> sitk.Image | None:
    """Read an image, recording a missing or unreadable file as a problem."""
    if path is None or (isinstance(path, float) and np.isnan(path)) or str(path).strip() == "":
        problems.append(ImageProblem(str(patient_id), "", "missing_file", f"no {what} file given"))
        return None
    path = Path(path)
    if not path.exists():
        problems.append(ImageProblem(str(patient_id), str(path), "missing_file", f"{what} file does not exist"))
        return None
    try:
        return read_image(path)
    except (ImageReadError, RuntimeError, OSError) as err:
        problems.append(ImageProblem(str(patient_id), str(path), "unreadable", f"{what} cannot be read: {err}"))
        return None


def _dimension_problem(image: sitk.Image, modality: str) -> str | None:
    """Why ``image`` has the wrong dimensionality for ``modality`` (None if fine).

    US must be 2D or a single-slice 3D image; MRI must be 3D with more than one
    slice along every axis.
    """
    size = image.GetSize()
    if modality == "us":
        if image.GetDimension() == 2 or (image.GetDimension() == 3 and min(size) == 1):
            return None
        return f"US image must be 2D (or 3D with a single slice), got size {size}"
    if modality == "mri":
        if image.GetDimension() == 3 and min(size) > 1:
            return None
        return f"MRI image must be a 3D volume, got size {size}"
    raise ValueError(f"modality must be 'us' or 'mri', not {modality!r}")


def _geometry_problems(image: sitk.Image, mask: sitk.Image) -> list[str]:
    """Differences in size, spacing, origin and direction, each with both values."""
    if image.GetDimension() != mask.GetDimension():
        return [f"image is {image.GetDimension()}D but mask is {mask.GetDimension()}D"]
    out = []
    if image.GetSize() != mask.GetSize():
        out.append(f"size differs: image {image.GetSize()} vs mask {mask.GetSize()}")
    spacing_i, spacing_m = np.array(image.GetSpacing()), np.array(mask.GetSpacing())
    if not np.allclose(spacing_i, spacing_m, rtol=1e-4, atol=1e-6):
        out.append(f"spacing differs: image {_fmt(spacing_i)} vs mask {_fmt(spacing_m)} mm")
    origin_i, origin_m = np.array(image.GetOrigin()), np.array(mask.GetOrigin())
    # Origins may differ by rounding in the header; more than 1 % of a voxel is real.
    if np.any(np.abs(origin_i - origin_m) > 0.01 * np.minimum(spacing_i, spacing_m) + 1e-6):
        out.append(f"origin differs: image {_fmt(origin_i)} vs mask {_fmt(origin_m)} mm")
    direction_i, direction_m = np.array(image.GetDirection()), np.array(mask.GetDirection())
    if not np.allclose(direction_i, direction_m, atol=1e-4):
        out.append(f"direction differs: image {_fmt(direction_i)} vs mask {_fmt(direction_m)}")
    return out


def _grid_corners(image: sitk.Image) -> np.ndarray:
    """Physical positions of the 2^d outer corners of an image's voxels (voxel edges, not
    centres), so that grids of different spacing over the same field of view agree."""
    edges = [(-0.5, n - 0.5) for n in image.GetSize()]
    return np.array([image.TransformContinuousIndexToPhysicalPoint(c) for c in itertools.product(*edges)])


def extent_gap_mm(image: sitk.Image, mask: sitk.Image) -> float:
    """How far apart the physical volumes of two grids are, mm.

    The largest distance from a corner of either grid's box to the nearest corner of
    the other's: 0 when the two boxes are the same whatever the voxel order, spacing or
    axis directions (a DICOM series and a NIfTI mask stored with the opposite slice
    order, a mask on a finer grid over the same field of view).
    """
    a, b = _grid_corners(image), _grid_corners(mask)
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


def mask_on_image_grid(image: sitk.Image, mask: sitk.Image) -> tuple[sitk.Image, str | None]:
    """The mask on its image's voxel grid.

    A mask with the image's geometry is returned as it is. A mask stored on another grid
    that covers the same physical volume (within :data:`EXTENT_TOLERANCE` of the finer
    voxel) is resampled onto the image grid by nearest neighbour, as PyRadiomics'
    ``correctMask`` does; any other mask is refused.

    Parameters
    ----------
    image, mask
        The pair, as read.

    Returns
    -------
    (mask, note)
        The mask on the image grid, and what was done (None when nothing was).

    Raises
    ------
    GeometryMismatch
        The two cover different physical volumes; the message gives the differences
        and the distance with its tolerance.
    """
    diffs = _geometry_problems(image, mask)
    if not diffs:
        return mask, None
    if image.GetDimension() != mask.GetDimension():
        raise GeometryMismatch(diffs[0])
    finer = min(min(image.GetSpacing()), min(mask.GetSpacing()))
    tolerance = EXTENT_TOLERANCE * finer
    gap = extent_gap_mm(image, mask)
    if gap > tolerance:
        raise GeometryMismatch(f"{'; '.join(diffs)}; the two cover different physical volumes (their corners lie up "
                               f"to {gap:.4g} mm apart, tolerance {tolerance:.2g} mm)")
    resampled = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())
    return resampled, f"mask resampled onto the image grid (same physical volume, {'; '.join(diffs)})"


def _fmt(values) -> str:
    """Compact tuple of numbers for messages."""
    return "(" + ", ".join(f"{v:.6g}" for v in np.asarray(values, dtype=float)) + ")"


def lesion_room_mm(mask: np.ndarray, spacing_xyz: tuple[float, ...]) -> dict[str, tuple[float, float]]:
    """Tissue available beyond the lesion on each side of each axis, mm.

    Parameters
    ----------
    mask
        Binary lesion array in numpy order (as from ``GetArrayFromImage``).
    spacing_xyz
        Voxel size in SimpleITK (x, y, z) order.

    Returns
    -------
    dict
        Axis name (``x``, ``y``, ``z``) -> (room below, room above) in mm, for every
        axis with more than one voxel: the number of voxels between the lesion and
        the image edge times the spacing.
    """
    out = {}
    ndim = mask.ndim
    for k in range(ndim):
        numpy_axis = ndim - 1 - k  # SimpleITK axis k is numpy axis ndim-1-k
        if mask.shape[numpy_axis] == 1:
            continue
        other = tuple(i for i in range(ndim) if i != numpy_axis)
        hit = np.flatnonzero(mask.any(axis=other))
        low = hit[0] * spacing_xyz[k]
        high = (mask.shape[numpy_axis] - 1 - hit[-1]) * spacing_xyz[k]
        out[_AXES[k]] = (float(low), float(high))
    return out


def check_image_pair(
    patient_id: str,
    image_path: str | Path | None,
    mask_path: str | Path | None,
    modality: str,
    border_margin_mm: float = 10.0,
    label: int | None = None,
    ring_at_border: str = "refuse",
    notes: list[ImageProblem] | None = None,
    region_check: Callable[..., str] | None = None,
    regions: list[ImageProblem] | None = None,
) -> list[ImageProblem]:
    """Check one patient's image and (optional) mask.

    Parameters
    ----------
    patient_id
        Named in every problem.
    image_path
        Image file or DICOM series folder.
    mask_path
        Mask file, or None when the manifest gives no mask (automatic segmentation
        will make one): then only the image is checked.
    modality
        ``"us"`` (2D, or 3D with a single slice) or ``"mri"`` (3D).
    border_margin_mm
        Width of the peri-tumoral ring that must fit between the lesion and the
        image border on every side (in-plane only for US), mm.
    label
        Label value of the lesion in a multi-label mask (None: the mask must hold
        exactly one non-zero value).
    ring_at_border
        ``"refuse"``: a lesion closer than ``border_margin_mm`` to the border is a
        problem; ``"clip"``: it is not (the ring is clipped at the border, and the
        features stage reports the clipped share).
    notes
        When given, a mask stored on another grid over the same physical volume (which
        is resampled onto the image grid, :func:`mask_on_image_grid`, and then checked)
        is recorded here with code :data:`RESAMPLED`; it is not a problem.
    region_check
        Called with the lesion of a usable pair (a uint8 mask, 1 inside, on the image grid)
        and the keyword ``image`` (the pair's image), returns why it cannot be analysed or ""
        (the extraction settings: :func:`radsurv.features.extract.region_problem`); read
        from the mask and image already loaded, so it costs no second read.
    regions
        Receives, with code :data:`REGION`, each lesion ``region_check`` turns down; it is
        not a problem.

    Returns
    -------
    list of ImageProblem
        Empty when the pair is usable.
    """
    pid = str(patient_id)
    problems: list[ImageProblem] = []
    image = _load(pid, image_path, f"{modality.upper()} image", problems)
    if image is not None:
        why = _dimension_problem(image, modality)
        if why:
            problems.append(ImageProblem(pid, str(image_path), "dimension", why))
    if mask_path is None:
        return problems
    mask = _load(pid, mask_path, f"{modality.upper()} mask", problems)
    if mask is None:
        return problems
    if image is not None:
        try:
            mask, note = mask_on_image_grid(image, mask)
        except GeometryMismatch as err:
            problems.append(ImageProblem(pid, str(mask_path), "geometry", f"image and mask {err}"))
        else:
            if note and notes is not None:
                notes.append(ImageProblem(pid, str(mask_path), RESAMPLED, note))

    values = sitk.GetArrayViewFromImage(mask)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values) & (values == np.round(values))):
        problems.append(ImageProblem(pid, str(mask_path), "mask_values", "mask holds non-integer values"))
        return problems
    labels = [int(v) for v in np.unique(values) if v != 0]
    if label is not None:
        if int(label) not in labels:
            found = f"labels present: {labels}" if labels else "the mask is empty"
            problems.append(ImageProblem(pid, str(mask_path), "empty_mask", f"label {label} not in mask ({found})"))
            return problems
        lesion = values == int(label)
    elif not labels:
        problems.append(ImageProblem(pid, str(mask_path), "empty_mask", "mask is empty (no non-zero voxel)"))
        return problems
    elif len(labels) > 1:
        problems.append(
            ImageProblem(pid, str(mask_path), "multi_label", f"mask holds several labels {labels} and no label was chosen")
        )
        return problems
    else:
        lesion = values == labels[0]

    room = lesion_room_mm(lesion, mask.GetSpacing())
    short = [
        f"{axis} {side} {mm:.2f} mm"
        for axis, (low, high) in room.items()
        for side, mm in (("low", low), ("high", high))
        if mm < border_margin_mm - 1e-6
    ]
    if ring_at_border not in ("refuse", "clip"):
        raise ValueError(f"ring_at_border: expected 'refuse' or 'clip', got {ring_at_border!r}")
    if short and ring_at_border != "clip":
        problems.append(
            ImageProblem(
                pid,
                str(mask_path),
                "ring_room",
                f"lesion closer than the {border_margin_mm:g} mm peri-tumoral ring to the image border ({', '.join(short)})",
            )
        )
    if region_check is not None and regions is not None and not problems:
        binary = sitk.GetImageFromArray(lesion.astype(np.uint8))
        binary.CopyInformation(mask)
        why = region_check(binary, image=image)
        if why:
            regions.append(ImageProblem(pid, str(mask_path), REGION, why))
    return problems

"""Post-processing of automatic masks, failure flags and the (never silent) failure policy.

Rules, the same for every segmenter (U-Net and baseline):

* **one lesion per image**: the *largest* connected component is kept. Each study
  image holds one index lesion; the false positives of a segmenter are small specks
  (speckle, enhancing parenchyma), so size is the safer criterion than distance to
  the image centre, which the baseline uses only to *choose its seed*.
  ``keep_one_lesion(..., how="central")`` keeps the component nearest the image
  centre instead, for users whose lesions are centred by protocol.
* **holes filled**: 2D images in 2D; 3D volumes slice by slice (axial slices, numpy
  axis 0) and then in 3D, because a necrotic core that is open through a thin
  neighbouring slice is not a 3D hole but is still lesion.
* **flags**: an empty prediction, or a lesion closer than ``border_margin_mm`` to the image
  border along any axis (room measured in mm per axis as voxels beyond the lesion x
  spacing, the convention of :func:`radsurv.imaging.checks.lesion_room_mm`), because
  the peri-tumoral ring needs that room.
* :func:`resolve_failure` applies the run's policy (fall back to the reader mask, or
  exclude the patient) and returns what it did and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from radsurv.segment._common import ImageLike, as_image, binary_image, mask_array

__all__ = ["check_segmentation", "fill_holes", "keep_one_lesion", "postprocess", "Resolution", "resolve_failure",
           "room_mm", "SegmentationFlag"]

_AXES = ("x", "y", "z")

#: Flag reasons.
OK, EMPTY, BORDER = "ok", "empty", "border"


def keep_one_lesion(mask: ImageLike, how: str = "largest") -> sitk.Image:
    """Keep one connected component of a binary mask.

    Parameters
    ----------
    mask
        Binary mask (any non-zero voxel is lesion), image or path.
    how
        ``"largest"`` (default): the component with most voxels (ties: the first in
        scan order). ``"central"``: the component whose nearest voxel is closest, in mm,
        to the image centre.

    Returns
    -------
    SimpleITK.Image
        uint8 0/1 mask with the input geometry (empty if the input was empty).
    """
    ref = as_image(mask)
    arr = mask_array(ref)
    # Full connectivity (8 in 2D, 26 in 3D): a lesion cut by a one-voxel diagonal gap is
    # still one lesion.
    labels, n = ndimage.label(arr, structure=np.ones((3,) * arr.ndim, dtype=bool))
    if n <= 1:
        return binary_image(arr, ref)
    if how == "largest":
        sizes = np.bincount(labels.ravel())[1:]
        keep = int(np.argmax(sizes)) + 1
    elif how == "central":
        spacing = np.array(list(reversed(ref.GetSpacing())))
        centre = (np.array(arr.shape) - 1) / 2.0
        coords = np.argwhere(arr)
        dist = np.sqrt((((coords - centre) * spacing) ** 2).sum(axis=1))
        best = np.full(n + 1, np.inf)
        np.minimum.at(best, labels[tuple(coords.T)], dist)  # nearest voxel of each component
        keep = int(np.argmin(best))  # ties: the lowest label
    else:
        raise ValueError(f"how must be 'largest' or 'central', got {how!r}")
    return binary_image(labels == keep, ref)


def fill_holes(mask: ImageLike) -> sitk.Image:
    """Fill holes: in 2D for a 2D mask; slice-wise (numpy axis 0) then in 3D for a volume.

    Parameters
    ----------
    mask
        Binary mask, image or path.

    Returns
    -------
    SimpleITK.Image
        uint8 0/1 mask with the input geometry.
    """
    ref = as_image(mask)
    arr = mask_array(ref)
    if arr.ndim == 3:
        arr = np.stack([ndimage.binary_fill_holes(s) for s in arr])
    arr = ndimage.binary_fill_holes(arr)
    return binary_image(arr, ref)


def postprocess(mask: ImageLike, how: str = "largest") -> sitk.Image:
    """One lesion, holes filled: :func:`keep_one_lesion` then :func:`fill_holes`.

    Parameters
    ----------
    mask
        Binary mask, image or path.
    how
        Component rule, see :func:`keep_one_lesion`.

    Returns
    -------
    SimpleITK.Image
    """
    return fill_holes(keep_one_lesion(mask, how=how))


def room_mm(mask: ImageLike) -> dict[str, tuple[float, float]]:
    """Tissue beyond the lesion on each side of each axis, in mm.

    Parameters
    ----------
    mask
        Binary mask, image or path (must not be empty).

    Returns
    -------
    dict
        ``"x"``, ``"y"`` (and ``"z"``) -> (room below, room above): the number of voxels
        between the lesion and the image edge times that axis' spacing. Axes with a
        single voxel are left out.
    """
    ref = as_image(mask)
    arr = mask_array(ref)
    spacing = ref.GetSpacing()
    out = {}
    for k in range(arr.ndim):
        ax = arr.ndim - 1 - k  # SimpleITK axis k is numpy axis ndim-1-k
        if arr.shape[ax] == 1:
            continue
        hit = np.flatnonzero(arr.any(axis=tuple(i for i in range(arr.ndim) if i != ax)))
        out[_AXES[k]] = (float(hit[0] * spacing[k]), float((arr.shape[ax] - 1 - hit[-1]) * spacing[k]))
    return out


@dataclass(frozen=True)
class SegmentationFlag:
    """Quality flag of one automatic mask.

    Attributes
    ----------
    reason
        ``"ok"``, ``"empty"`` (no lesion found) or ``"border"`` (lesion within
        ``border_margin_mm`` of the image border).
    detail
        Human-readable explanation (which axis and side, how many mm).
    room_mm
        Room per axis and side (empty for an empty mask).
    border_margin_mm
        The ring width the check used.
    """

    reason: str
    detail: str = ""
    room_mm: dict = field(default_factory=dict)
    border_margin_mm: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the mask can be used as is."""
        return self.reason == OK


def check_segmentation(mask: ImageLike, border_margin_mm: float = 10.0) -> SegmentationFlag:
    """Flag an empty mask or a lesion too close to the image border.

    Parameters
    ----------
    mask
        Binary mask, image or path.
    border_margin_mm
        Room, in mm, required between the lesion and the border on every side of every
        axis (per-axis physical spacing honoured, so a thick-slice MRI axis counts
        its slices at their true thickness).

    Returns
    -------
    SegmentationFlag
    """
    ref = as_image(mask)
    if not mask_array(ref).any():
        return SegmentationFlag(EMPTY, "no lesion found (empty prediction)", {}, float(border_margin_mm))
    room = room_mm(ref)
    short = [
        f"{axis} {side} {mm:.1f} mm"
        for axis, (lo, hi) in room.items()
        for side, mm in (("low", lo), ("high", hi))
        if mm < border_margin_mm - 1e-6
    ]
    if short:
        return SegmentationFlag(
            BORDER,
            f"lesion within the {border_margin_mm:g} mm peri-tumoral ring of the image border ({', '.join(short)})",
            room,
            float(border_margin_mm),
        )
    return SegmentationFlag(OK, "", room, float(border_margin_mm))


@dataclass(frozen=True)
class Resolution:
    """What was done with one segmentation.

    Attributes
    ----------
    action
        ``"auto"`` (automatic mask kept), ``"reader"`` (fell back to the reader mask)
        or ``"excluded"`` (patient excluded from the radiomics analysis).
    mask
        The mask to use downstream, or ``None`` when excluded.
    reason
        Why (always filled, also for ``"auto"``).
    """

    action: str
    mask: sitk.Image | None
    reason: str


def resolve_failure(
    flag: SegmentationFlag,
    policy: str = "reader",
    reader_mask: ImageLike | None = None,
    auto_mask: ImageLike | None = None,
) -> Resolution:
    """Apply the failure policy to one flagged segmentation, saying what was done and why.

    Parameters
    ----------
    flag
        From :func:`check_segmentation`.
    policy
        ``"reader"``: a failed automatic mask is replaced by the reader's mask (if the
        reader mask is missing, or fails the same check, the patient is excluded);
        ``"exclude"``: the patient is excluded.
    reader_mask
        The reader's delineation (image or path), needed by the ``"reader"`` policy.
    auto_mask
        The automatic mask, returned as is when the flag is ``ok``.

    Returns
    -------
    Resolution
    """
    if policy not in ("reader", "exclude"):
        raise ValueError(f"policy must be 'reader' or 'exclude', got {policy!r}")
    if flag.ok:
        return Resolution("auto", as_image(auto_mask) if auto_mask is not None else None, "automatic mask passed the checks")
    why = f"automatic mask failed: {flag.detail}"
    if policy == "exclude":
        return Resolution("excluded", None, f"{why}; policy 'exclude'")
    if reader_mask is None:
        return Resolution("excluded", None, f"{why}; policy 'reader' but no reader mask available")
    reader = as_image(reader_mask)
    reader_flag = check_segmentation(reader, flag.border_margin_mm)
    if not reader_flag.ok:
        return Resolution("excluded", None, f"{why}; reader mask also failed: {reader_flag.detail}")
    return Resolution("reader", reader, f"{why}; replaced by the reader mask (policy 'reader')")

"""Data preparation for the U-Net: resampling, intensity normalisation, augmentation.

Choices (each stated in the paper's methods through :data:`DEFAULTS`):

* **US, 2D network.** B-mode images are 2D; they are resampled to 0.3 mm pixels
  (from about 0.10-0.15 mm) so that a 128 x 128 patch sees 38 mm of tissue, a
  median (22 mm) lesion with its margin, and the network's receptive field covers
  the speckle-free scale of the lesion boundary. Intensities are 8-bit display
  values: scaled 0-255 -> 0-1 (clipped), which keeps the absolute echogenicity that
  defines a hypoechoic lesion.
* **MRI, 3D network** (not 2.5D): the lesion's 3D shape and enhancement pattern is
  what the segmentation must follow, and after resampling to 1 x 1 x 2 mm the
  volumes are small (about 90 x 90 x 40), so a 3D patch network is affordable.
  The 2 mm slice spacing stays near the native 1.2-2.5 mm slices (no invented
  detail along z) and makes a 48 x 48 x 24 patch physically cubic (48 mm).
  Intensities are arbitrary units that differ by scanner: each volume is scaled by
  its own 1st-99th percentiles to 0-1 (robust to scale, offset and a few hot
  voxels, unlike min-max; unlike a z-score it does not depend on how much fat and
  air is in the field of view).
* **Augmentation** (MONAI dictionary transforms): random crop balanced between
  lesion and background centres, left-right flip (and slice-direction flip for
  MRI; never a depth flip for US, where posterior shadowing has a direction), small
  rotation and scaling, intensity scale and shift.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import SimpleITK as sitk

from radsurv.segment._common import ImageLike, as_image

__all__ = ["default_params", "DEFAULTS", "ndim_of", "normalise", "numpy_order", "prepare", "Prepared", "resample",
           "to_network_dim", "train_transform"]

log = logging.getLogger(__name__)

#: Settings both modalities share (see DEFAULTS).
_SHARED: dict = {
    "channels": (16, 32, 64, 128),
    "strides": (2, 2, 2),
    "num_res_units": 1,
    "percentiles": (1.0, 99.0),
    "rotate_deg": 10.0,
    "scale": 0.1,
    "intensity_scale": 0.1,
    "intensity_shift": 0.1,
    "pos_fraction": 0.5,
    "learning_rate": 0.002,
    "weight_decay": 1e-05,
    "val_fraction": 0.2,
    "val_every": 2,
    "min_val_cases": 3,
    "sw_batch_size": 4,
    "overlap": 0.25,
    "threshold": 0.5,
    "component": "largest",
    "seed": 0,
}
#: Default parameters per modality (spacing and patch in SimpleITK (x, y[, z]) order).
#: The training lengths are the ``paper`` profile's (see the report's budget: about
#: 4 min for US and 3 min for MRI on one CPU thread); ``quick`` shortens them.
DEFAULTS: dict[str, dict] = {
    "us": {
        **_SHARED,
        "spacing_mm": (0.3, 0.3),
        "patch": (128, 128),
        "intensity": "us8bit",
        "flip_axes": ("x",),
        "epochs": 30,
        "iterations_per_epoch": 25,
        "batch_size": 16,
        "max_val_cases": 40,
    },
    "mri": {
        **_SHARED,
        "spacing_mm": (1.0, 1.0, 2.0),
        "patch": (48, 48, 24),
        "intensity": "percentile",
        "flip_axes": ("x", "z"),
        "epochs": 40,
        "iterations_per_epoch": 20,
        "batch_size": 4,
        "max_val_cases": 20,
    },
}

_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}


def default_params(modality: str) -> dict:
    """A copy of the default parameters of ``"us"`` or ``"mri"``."""
    if modality not in DEFAULTS:
        raise ValueError(f"modality must be 'us' or 'mri', got {modality!r}")
    return dict(DEFAULTS[modality])


def ndim_of(modality: str) -> int:
    """Spatial dimensions of the network: 2 for US, 3 for MRI."""
    return 2 if modality == "us" else 3


def resample(image: sitk.Image, spacing_xyz: Sequence[float], interpolator=sitk.sitkLinear, default: float = 0.0) -> sitk.Image:
    """Resample to a new spacing over the same physical extent (origin and direction kept).

    Parameters
    ----------
    image
        Input image.
    spacing_xyz
        Target spacing, SimpleITK (x, y[, z]) order, mm.
    interpolator
        SimpleITK interpolator (linear for images and soft masks).
    default
        Value outside the input.

    Returns
    -------
    SimpleITK.Image
        The image on the new grid: the size is the extent divided by the new spacing,
        rounded up, so nothing of the field of view is lost.
    """
    spacing_xyz = [float(s) for s in spacing_xyz]
    if image.GetDimension() != len(spacing_xyz):
        raise ValueError(f"image is {image.GetDimension()}D but {len(spacing_xyz)} spacings were given")
    size = [max(1, int(np.ceil(n * s / t - 1e-6))) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing_xyz)]
    # Keep the physical centre of the first voxel's corner: origin shifted by half the
    # difference of voxel sizes, so that the resampled grid covers the same extent.
    direction = np.array(image.GetDirection()).reshape(image.GetDimension(), -1)
    shift = direction @ ((np.array(spacing_xyz) - np.array(image.GetSpacing())) / 2.0)
    origin = tuple(float(o) for o in np.array(image.GetOrigin()) + shift)
    return sitk.Resample(image, size, sitk.Transform(), interpolator, origin, spacing_xyz, image.GetDirection(), default, sitk.sitkFloat32)


def normalise(array: np.ndarray, modality: str, params: dict) -> np.ndarray:
    """Intensity normalisation of one image array to about 0-1 (see the module notes).

    Parameters
    ----------
    array
        Image voxels.
    modality
        ``"us"`` or ``"mri"``.
    params
        ``intensity`` (``"us8bit"`` or ``"percentile"``) and ``percentiles``.

    Returns
    -------
    ndarray (float32)
    """
    a = np.asarray(array, dtype=np.float32)
    if params["intensity"] == "us8bit":
        if a.size and (a.max() > 255.0 or a.min() < 0.0):
            # Not 8-bit display values (e.g. a 16-bit export): the absolute scale is
            # unknown, so fall back to percentile scaling and say so.
            log.warning("US image outside 0-255 (range %.4g-%.4g): percentile scaling instead", a.min(), a.max())
            lo, hi = np.percentile(a, params["percentiles"])
            return np.clip((a - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)
        return np.clip(a / 255.0, 0.0, 1.0)
    if params["intensity"] == "percentile":
        lo, hi = np.percentile(a, params["percentiles"])
        return ((a - lo) / max(hi - lo, 1e-6)).astype(np.float32)
    raise ValueError(f"unknown intensity normalisation {params['intensity']!r}")


@dataclass
class Prepared:
    """One image on the network's grid.

    Attributes
    ----------
    image
        Normalised voxels, shape (1, *spatial) in numpy order, float32.
    label
        0/1 mask on the same grid, shape (1, *spatial), float32 (``None`` at inference).
    grid
        The resampled SimpleITK image (its geometry maps the prediction back).
    """

    image: np.ndarray
    label: np.ndarray | None
    grid: sitk.Image


def prepare(image: ImageLike, modality: str, params: dict, mask: ImageLike | None = None) -> Prepared:
    """Resample and normalise an image (and its mask) for the network.

    Parameters
    ----------
    image
        Image or path; a 3D image with one slice is accepted for US and treated as 2D.
    modality, params
        As in :class:`radsurv.segment.unet.UNetSegmenter`.
    mask
        Optional mask, resampled with linear interpolation of the 0/1 mask then
        thresholded at 0.5 (smoother than nearest neighbour at coarser spacing).

    Returns
    -------
    Prepared
    """
    img = to_network_dim(as_image(image), modality)
    grid = resample(sitk.Cast(img, sitk.sitkFloat32), params["spacing_mm"])
    arr = normalise(sitk.GetArrayFromImage(grid), modality, params)[None]
    lab = None
    if mask is not None:
        m = to_network_dim(as_image(mask), modality)
        m = sitk.Cast(sitk.NotEqual(m, 0), sitk.sitkFloat32)
        # Onto the image's resampled grid (physical space), so the pair stays aligned.
        mr = sitk.Resample(m, grid, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        lab = (sitk.GetArrayFromImage(mr) >= 0.5).astype(np.float32)[None]
    return Prepared(arr, lab, grid)


def to_network_dim(image: sitk.Image, modality: str) -> sitk.Image:
    """US images stored as 3D with a single slice become 2D; anything else must match."""
    want = ndim_of(modality)
    if image.GetDimension() == 3 and want == 2 and image.GetSize()[2] == 1:
        return image[:, :, 0]
    if image.GetDimension() != want:
        raise ValueError(f"{modality} images must be {want}D, got a {image.GetDimension()}D image of size {image.GetSize()}")
    return image


def numpy_order(xyz: Sequence) -> tuple:
    """Reverse a SimpleITK-ordered tuple (x, y, z) into numpy order (z, y, x)."""
    return tuple(reversed(tuple(xyz)))


def train_transform(modality: str, params: dict):
    """The MONAI augmentation pipeline for training patches (dictionary keys ``image``, ``label``).

    Parameters
    ----------
    modality
        ``"us"`` or ``"mri"``.
    params
        See :data:`DEFAULTS`.

    Returns
    -------
    monai.transforms.Compose
        Maps a dict of (1, *spatial) arrays to a list with one augmented patch dict.
    """
    from monai.transforms import (
        Compose,
        RandAffined,
        RandCropByPosNegLabeld,
        RandFlipd,
        RandScaleIntensityd,
        RandShiftIntensityd,
        SpatialPadd,
    )

    nd = ndim_of(modality)
    patch = numpy_order(params["patch"])
    keys = ["image", "label"]
    pos = float(params["pos_fraction"])
    rot = np.deg2rad(float(params["rotate_deg"]))
    # Rotation in the image plane only: for 3D, about numpy axis 0 (the slice axis),
    # because the anisotropic slice direction should not be rotated into the plane.
    rotate_range = (rot,) if nd == 2 else (rot, 0.0, 0.0)
    transforms = [
        # Pad small images to the patch size, then crop a patch centred on lesion or
        # background with probability pos_fraction (the lesion is a small part of the
        # image: uniform crops would rarely see it).
        SpatialPadd(keys, spatial_size=patch, mode="constant"),
        RandCropByPosNegLabeld(keys, label_key="label", spatial_size=patch, pos=pos, neg=1.0 - pos, num_samples=1),
    ]
    for axis in params["flip_axes"]:
        transforms.append(RandFlipd(keys, prob=0.5, spatial_axis=nd - 1 - _AXIS_INDEX[axis]))
    transforms += [
        RandAffined(
            keys,
            prob=0.5,
            rotate_range=rotate_range,
            scale_range=(float(params["scale"]),) * nd,
            mode=("bilinear", "nearest"),
            padding_mode="zeros",
        ),
        RandScaleIntensityd("image", factors=float(params["intensity_scale"]), prob=0.5),
        RandShiftIntensityd("image", offsets=float(params["intensity_shift"]), prob=0.5),
    ]
    return Compose(transforms)

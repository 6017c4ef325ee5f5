"""Synthetic images for the segmentation tests: blobs on noise, with known masks."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def make_image(array, spacing, origin=None, direction=None) -> sitk.Image:
    """A SimpleITK image from a numpy array with the given geometry."""
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(tuple(float(s) for s in spacing))
    if origin is not None:
        img.SetOrigin(tuple(float(o) for o in origin))
    if direction is not None:
        img.SetDirection(tuple(float(d) for d in direction))
    return img


def disc_case(seed: int, n: int = 64, spacing: float = 0.2, bright: bool = True, radius_px=(9, 14)):
    """US-like 2D uint8 image: a bright (or dark) disc on noisy background, and its mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    cy, cx = rng.uniform(n * 0.38, n * 0.62, 2)
    r = rng.uniform(*radius_px)
    mask = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2).astype(np.uint8)
    base, delta = (70.0, 110.0) if bright else (150.0, -90.0)
    arr = np.clip(base + delta * mask + rng.normal(0, 22, (n, n)), 0, 255).astype(np.uint8)
    img = make_image(arr, (spacing, spacing), origin=(3.0, -2.0))
    m = make_image(mask, (spacing, spacing), origin=(3.0, -2.0))
    return img, m


def sphere_case(seed: int, shape=(16, 32, 32), spacing=(0.8, 0.8, 2.0), radius_mm=7.0, scale=900.0, offset=200.0):
    """MRI-like 3D int16 volume (numpy shape z, y, x): an enhancing ellipsoid-in-voxels sphere."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[: shape[0], : shape[1], : shape[2]]
    c = np.array(shape) / 2.0 + rng.uniform(-1.5, 1.5, 3)
    d2 = ((xx - c[2]) * spacing[0]) ** 2 + ((yy - c[1]) * spacing[1]) ** 2 + ((zz - c[0]) * spacing[2]) ** 2
    mask = (d2 <= radius_mm**2).astype(np.uint8)
    arr = (offset + scale * (0.3 + 0.7 * mask.astype(float)) + rng.normal(0, 0.12 * scale, shape)).astype(np.int16)
    direction = (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # a non-identity direction (axes swapped)
    img = make_image(arr, spacing, origin=(-20.0, 5.0, 30.0), direction=direction)
    m = make_image(mask, spacing, origin=(-20.0, 5.0, 30.0), direction=direction)
    return img, m

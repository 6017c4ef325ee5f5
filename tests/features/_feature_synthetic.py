"""Small synthetic images with texture and lesion masks for the feature tests."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from radsurv.roi import intratumoral, peritumoral_ring


def textured_case(
    size_xyz: tuple[int, ...],
    spacing_xyz: tuple[float, ...],
    radius_mm: float,
    seed: int = 0,
    dtype=np.int16,
    ring_mm: float = 3.0,
) -> tuple[sitk.Image, dict[tuple[str, str], sitk.Image]]:
    """A textured image with a brighter heterogeneous ball and four masks.

    Parameters
    ----------
    size_xyz, spacing_xyz
        Grid (SimpleITK order).
    radius_mm
        Lesion radius.
    seed
        Random seed.
    dtype
        Pixel type of the image array.
    ring_mm
        Peri-tumoral ring width.

    Returns
    -------
    image, masks
        ``masks`` maps ``(region, mask_source)`` for regions intra/peri and sources
        true/reader (the reader mask is the true one with a shifted, rougher border).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(size_xyz[::-1])
    spacing = np.array(spacing_xyz[::-1])
    texture = ndi.gaussian_filter(rng.normal(0.0, 1.0, shape), 1.2)
    coords = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")
    centre = [(n - 1) * s / 2 + rng.uniform(-1, 1) for n, s in zip(shape, spacing)]
    radius = np.sqrt(sum((c - m) ** 2 for c, m in zip(coords, centre)))
    lesion = radius <= radius_mm
    wobble = ndi.gaussian_filter(rng.normal(0.0, 1.0, shape), 3.0)
    reader = radius <= radius_mm + 0.8 + 6.0 * wobble
    values = 80 + 40 * texture + 70 * lesion + 25 * lesion * ndi.gaussian_filter(rng.normal(size=shape), 0.8)
    image = sitk.GetImageFromArray(np.clip(values, 0, 255).astype(dtype))
    image.SetSpacing(spacing_xyz)
    image.SetOrigin(tuple(-10.0 + 3.3 * i for i in range(len(size_xyz))))
    masks = {}
    for source, array in (("true", lesion), ("reader", reader)):
        mask = sitk.GetImageFromArray(array.astype(np.uint8))
        mask.CopyInformation(image)
        masks[("intra", source)] = intratumoral(mask)
        masks[("peri", source)] = peritumoral_ring(mask, ring_mm)
    return image, masks

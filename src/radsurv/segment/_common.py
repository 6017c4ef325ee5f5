"""Small shared helpers: accepting paths or SimpleITK images, binary arrays, spacing order."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import SimpleITK as sitk

from ..imaging.io import as_image, image_digest  # noqa: F401 - re-exported for the segment modules

#: What every public function accepts where an image or mask is expected.
ImageLike = Union[str, Path, sitk.Image]


def mask_array(mask: ImageLike) -> np.ndarray:
    """Binary numpy array (numpy axis order: z, y, x) of a mask: every non-zero voxel is lesion."""
    return sitk.GetArrayFromImage(as_image(mask)) != 0


def spacing_numpy(image: sitk.Image) -> tuple[float, ...]:
    """Voxel spacing in numpy axis order (SimpleITK's (x, y, z) reversed)."""
    return tuple(float(s) for s in reversed(image.GetSpacing()))


def binary_image(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """A uint8 0/1 SimpleITK image from a numpy array, with ``reference``'s geometry."""
    out = sitk.GetImageFromArray(np.asarray(array, dtype=np.uint8))
    out.CopyInformation(reference)
    return out


def same_geometry(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> bool:
    """True when two images share size, spacing, origin and direction (within ``tol``)."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tol)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol * 10)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol)
    )



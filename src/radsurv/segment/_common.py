"""Small shared helpers: accepting paths or SimpleITK images, binary arrays, spacing order."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Union

import numpy as np
import SimpleITK as sitk

#: What every public function accepts where an image or mask is expected.
ImageLike = Union[str, Path, sitk.Image]


def as_image(x: ImageLike) -> sitk.Image:
    """A SimpleITK image from an image or a path (read with :func:`radsurv.imaging.io.read_image`).

    Parameters
    ----------
    x
        A ``SimpleITK.Image`` (returned as is) or a path to an image file / DICOM folder.

    Returns
    -------
    SimpleITK.Image
    """
    if isinstance(x, sitk.Image):
        return x
    from radsurv.imaging.io import read_image  # imported late: that package is optional here

    return read_image(x)


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


def image_digest(x: ImageLike) -> str:
    """SHA-256 of an image: the file bytes for a path, the voxels plus geometry for an image.

    Used in cache keys, so that a changed training image (or a changed header) retrains.
    """
    h = hashlib.sha256()
    if isinstance(x, sitk.Image):
        h.update(sitk.GetArrayViewFromImage(x).tobytes())
        h.update(repr((x.GetSize(), x.GetSpacing(), x.GetOrigin(), x.GetDirection(), x.GetPixelIDTypeAsString())).encode())
        return h.hexdigest()
    path = Path(x)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()

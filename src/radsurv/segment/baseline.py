"""Classical SimpleITK baseline segmenter (no learning), to show what the U-Net buys.

Pipeline, for both modalities, with every length in mm (so it behaves the same on
0.1 mm and 0.15 mm US pixels, or on 1.2 mm and 2.5 mm MRI slices):

0. (US) resampling to a 0.25 mm working grid, the speckle scale, for speed,
1. intensity normalisation (US: 0-255 -> 0-1; MRI: per-volume 1st-99th percentile),
2. edge-preserving-ish smoothing: a median filter (US: removes speckle) then a
   Gaussian of ``sigma_mm``,
3. seed from the image, never from a mask: the darkest (US: lesions are
   hypoechoic) or brightest (MRI: lesions enhance) point of a strongly smoothed
   copy (``seed_sigma_mm``, about a small lesion's radius), searched in the central
   ``central_fraction`` of the field of view (lesions are imaged near the centre;
   the edges hold skin, chest wall and shadow),
4. Otsu threshold of the smoothed image inside a box around the seed
   (``roi_mm``), lesion side = below (US) or above (MRI) the threshold,
5. morphological opening (``open_mm``) to cut thin bridges to neighbouring tissue,
   the connected component containing (or nearest to) the seed, closing and hole
   filling.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from radsurv.segment._common import ImageLike, as_image, binary_image
from radsurv.segment.data import resample, to_network_dim
from radsurv.segment.postprocess import fill_holes

__all__ = ["BaselineSegmenter", "DEFAULTS", "otsu_threshold"]

#: The segmenter's settings per modality: what ``segmentation.<modality>.baseline`` in a
#: profile overrides, key by key (the schema checks the keys against these).
DEFAULTS = {
    "us": {"polarity": "dark", "sigma_mm": 0.5, "median_mm": 0.4, "seed_sigma_mm": 3.0, "central_fraction": 0.6,
           "roi_mm": 60.0, "open_mm": 0.8, "close_mm": 1.0, "percentiles": None, "work_spacing_mm": 0.25},
    "mri": {"polarity": "bright", "sigma_mm": 1.0, "median_mm": 0.0, "seed_sigma_mm": 3.0, "central_fraction": 0.6,
            "roi_mm": 60.0, "open_mm": 1.5, "close_mm": 2.0, "percentiles": (1.0, 99.0), "work_spacing_mm": None},
}


def _ball(radius_np) -> np.ndarray:
    """Ellipsoidal structuring element with the given per-axis radius (numpy order)."""
    r = [max(int(round(float(v))), 0) for v in radius_np]
    grids = np.ogrid[tuple(slice(-v, v + 1) for v in r)]
    return sum((g / max(v, 1)) ** 2 for g, v in zip(grids, r)) <= 1.0


class BaselineSegmenter:
    """Classical lesion segmenter: smoothing, seeded Otsu threshold, morphology.

    Parameters
    ----------
    modality
        ``"us"`` (lesion darker than its surroundings) or ``"mri"`` (lesion brighter).
    **params
        Overrides of the modality defaults: ``polarity`` (``"dark"``/``"bright"``),
        ``sigma_mm``, ``median_mm``, ``seed_sigma_mm``, ``central_fraction``,
        ``roi_mm``, ``open_mm``, ``close_mm``, ``percentiles``, ``work_spacing_mm``
        (process on a grid this coarse when the image is finer; ``None``: native grid).

    Notes
    -----
    No training: ``fit`` exists only so it can stand where a U-Net does.
    """

    def __init__(self, modality: str = "us", **params):
        if modality not in DEFAULTS:
            raise ValueError(f"modality must be 'us' or 'mri', got {modality!r}")
        unknown = set(params) - set(DEFAULTS[modality])
        if unknown:
            raise TypeError(f"unknown BaselineSegmenter parameters: {sorted(unknown)}")
        self.modality = modality
        self.params = {**DEFAULTS[modality], **params}

    def get_params(self) -> dict:
        """Modality and parameters."""
        return {"modality": self.modality, **self.params}

    def fit(self, images=None, masks=None, **_ignored) -> "BaselineSegmenter":
        """No-op (nothing to learn); returns ``self``."""
        return self

    def _normalised(self, img: sitk.Image) -> np.ndarray:
        a = sitk.GetArrayFromImage(img).astype(np.float32)
        if self.params["percentiles"] is None:
            return np.clip(a / 255.0, 0.0, 1.0)
        lo, hi = np.percentile(a, self.params["percentiles"])
        return (a - lo) / max(hi - lo, 1e-6)

    def seed(self, image: ImageLike) -> tuple[int, ...]:
        """The seed voxel (numpy index) found from the image alone.

        Parameters
        ----------
        image
            Image or path.

        Returns
        -------
        tuple of int
            numpy-order index of the darkest (US) / brightest (MRI) point of the
            strongly smoothed image within the central part of the field of view.
        """
        img = to_network_dim(as_image(image), self.modality)
        return self._seed(self._normalised(img), img.GetSpacing())

    def _seed(self, arr: np.ndarray, spacing_xyz) -> tuple[int, ...]:
        p = self.params
        sigma_np = [p["seed_sigma_mm"] / s for s in reversed(spacing_xyz)]
        heavy = ndimage.gaussian_filter(arr, sigma_np, mode="nearest")
        if p["polarity"] == "dark":
            heavy = -heavy
        keep = np.zeros(arr.shape, dtype=bool)
        frac = float(p["central_fraction"])
        sl = []
        for n in arr.shape:
            # Along a thin axis (few slices) search all of it.
            lo = int(np.floor(n * (1 - frac) / 2)) if n > 8 else 0
            sl.append(slice(lo, n - lo))
        keep[tuple(sl)] = True
        heavy = np.where(keep, heavy, -np.inf)
        return tuple(int(i) for i in np.unravel_index(int(np.argmax(heavy)), arr.shape))

    def predict(self, image: ImageLike) -> sitk.Image:
        """Binary lesion mask with the input's geometry.

        Parameters
        ----------
        image
            US (2D, or 3D with one slice) or MRI (3D) image, or its path.

        Returns
        -------
        SimpleITK.Image
            uint8 0/1 mask, one connected lesion with holes filled (empty if the
            threshold leaves nothing near the seed).
        """
        original = as_image(image)
        native = to_network_dim(original, self.modality)
        p = self.params
        img = native
        work = p["work_spacing_mm"]
        if work is not None and min(native.GetSpacing()) < work:
            # Work on a coarser in-plane grid (US: 0.25 mm, about the speckle size):
            # several times faster, and nothing finer survives the smoothing anyway.
            target = [max(float(work), s) for s in native.GetSpacing()]
            img = resample(sitk.Cast(native, sitk.sitkFloat32), target)
        spacing = img.GetSpacing()
        spacing_np = np.array(list(reversed(spacing)))
        arr = self._normalised(img)
        seed = self._seed(arr, spacing)
        if p["median_mm"] > 0:
            size = [2 * r + 1 for r in (int(round(p["median_mm"] / s)) for s in spacing_np)]
            arr = ndimage.median_filter(arr, size=size, mode="nearest")
        smooth = ndimage.gaussian_filter(arr, [p["sigma_mm"] / s for s in spacing_np], mode="nearest")
        # Otsu inside a box around the seed: the whole image mixes too many tissues.
        half = [max(1, int(round(p["roi_mm"] / 2 / s))) for s in spacing_np]
        box = tuple(slice(max(0, c - h), min(n, c + h + 1)) for c, h, n in zip(seed, half, arr.shape))
        thr = otsu_threshold(smooth[box])
        cand = smooth < thr if p["polarity"] == "dark" else smooth > thr
        if p["open_mm"] > 0:
            cand = ndimage.binary_opening(cand, structure=_ball(p["open_mm"] / spacing_np))
        labels, n = ndimage.label(cand, structure=np.ones((3,) * cand.ndim, dtype=bool))
        if n == 0:
            out = np.zeros(arr.shape, dtype=bool)
        else:
            lab = labels[seed]
            if lab == 0:  # the seed fell just outside: take the component nearest to it (mm)
                coords = np.argwhere(labels > 0)
                d = ((((coords - np.array(seed)) * spacing_np) ** 2).sum(axis=1))
                lab = labels[tuple(coords[int(np.argmin(d))])]
            out = labels == lab
            if p["close_mm"] > 0:
                r = [max(int(round(v)), 0) for v in p["close_mm"] / spacing_np]
                # Pad before closing so a lesion near the edge is not eroded by the border.
                pad = [(int(v), int(v)) for v in r]
                out = ndimage.binary_closing(np.pad(out, pad), structure=_ball(r))
                out = out[tuple(slice(a, a + n) for (a, _), n in zip(pad, arr.shape))]
        mask = binary_image(out, img)
        if img is not native:
            back = sitk.Resample(sitk.Cast(mask, sitk.sitkFloat32), native, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
            mask = binary_image(sitk.GetArrayFromImage(back) >= 0.5, native)
        mask = fill_holes(mask)
        if original.GetDimension() != mask.GetDimension():  # US stored as a one-slice volume
            mask = sitk.JoinSeries(mask)
            mask.CopyInformation(original)
        return mask


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximum between-class variance) of a set of values.

    Parameters
    ----------
    values
        Any array; NaNs ignored.
    bins
        Histogram bins.

    Returns
    -------
    float
        The threshold (the value between the two classes).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0 or v.min() == v.max():
        return float(v.min()) if v.size else 0.0
    hist, edges = np.histogram(v, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = ((hist * centres).sum() - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[int(np.argmax(between[:-1])) + 1])

"""PyRadiomics feature extraction that filters each image once, cached and checked.

Why not call ``RadiomicsFeatureExtractor.execute`` per (image, mask)?
    The PyRadiomics CLI treats every (image, mask) row independently: it re-reads
    the image, re-normalises it and re-applies every filter (LoG sigmas, wavelet
    sub-bands) for each of an image's masks (here: intra/peri x auto/reader/true).
    :class:`SharedFilterExtractor` reproduces ``execute`` step by step with
    PyRadiomics' own building blocks (``imageoperations.getMask``,
    ``normalizeImage``, ``resampleImage``, ``checkMask``, ``cropToTumorMask``, the
    ``get<Type>Image`` generators and the feature classes) but does the per-image work
    once:

    * the image is read, cast and normalised once;
    * masks are grouped by the grid PyRadiomics filters on (the "processing grid");
      each filter is computed once per grid and reused by every mask on it.

Where cropping changes results (and why we do not filter a union crop)
    The processing grid is exactly PyRadiomics' own: without resampling (and
    without ``preCrop``) it is the whole image, shared by all masks of that image.
    With ``resampledPixelSpacing``, PyRadiomics resamples onto a grid built from each
    mask's bounding box plus ``padDistance`` (``imageoperations.resampleImage``), so
    intra and peri masks get different grids. The LoG filter is SimpleITK's
    *recursive* (IIR) Gaussian whose boundary condition extends the edge value, so
    LoG values depend on where the grid ends (an influence that decays with distance
    but never vanishes, and any change can move a voxel across a bin edge); the
    wavelet wraps periodically at the grid edge and pads odd sizes. Filtering a padded union crop
    therefore does *not* reproduce PyRadiomics; we filter exactly the grid PyRadiomics
    filters, once per distinct grid, and the tests check equality with ``execute``.
    The original image is different: PyRadiomics' resampling grids are crops of one
    lattice anchored at the image's origin, so when the original image is the only
    image type, one resampling onto the crop around all of an image's masks serves
    every mask with its own values (``SharedFilterExtractor._union_grid``; the many
    regions of the sensitivity analyses).

The one deviation from PyRadiomics' code: MCC
    GLCM's Maximal Correlation Coefficient takes the general (non-symmetric)
    eigenvalues of Q per direction; it is about a third of the total extraction time.
    For a symmetric GLCM, Q = D^-1 P D^-1 P with D = diag(p_x) equals
    D^-1/2 (A A^T) D^1/2 with A = D^-1/2 P D^-1/2, i.e. it is similar to the symmetric
    matrix A A^T, so the symmetric eigen-solver gives the same eigenvalues about 10x
    faster (agreement ~1e-8 relative, checked in the tests against ``execute``). We fall back to
    PyRadiomics' own computation when the GLCM is not symmetric or the second
    eigenvalue is close to 0 (where the square root amplifies round-off).
    ``fast_mcc=False`` turns this off.

Small integer images
    With numpy 2, PyRadiomics' fixed-bin-width edges overflow for ``uint8`` images
    (``max + 2 * binWidth`` wraps around) and the GLCM C code then fails; the CLI
    cannot process 8-bit ultrasound. Such images are cast losslessly (uint8/int8 ->
    int16, uint16 -> int32) before anything else; values equal PyRadiomics' for the
    cast image.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
import yaml

import radiomics
from radiomics import featureextractor, getFeatureClasses, imageoperations
from radiomics.glcm import RadiomicsGLCM

import radsurv
from radsurv.exceptions import StageError
from radsurv.imaging.io import as_image, image_digest

__all__ = ["cache_key", "Case", "content_hash", "extract_case", "extract_features", "extract_patients", "ExtractionError",
           "ExtractionResult", "extraction_params", "FAILURE_COLUMNS", "GLCMFastMCC", "make_extractor", "params_hash",
           "pyradiomics_safe", "read_params", "region_problem", "SharedFilterExtractor", "TIDY_COLUMNS", "wide_matrix"]

TIDY_COLUMNS = ["patient", "modality", "region", "mask_source", "feature", "value"]
FAILURE_COLUMNS = ["patient", "modality", "region", "mask_source", "reason"]
MaskKey = tuple[str, str]  # (region, mask_source)
PathOrImage = str | os.PathLike | sitk.Image

_LOSSLESS_CAST = {
    sitk.sitkUInt8: sitk.sitkInt16,
    sitk.sitkInt8: sitk.sitkInt16,
    sitk.sitkUInt16: sitk.sitkInt32,
}


# --------------------------------------------------------------------------- inputs


@dataclass
class Case:
    """One patient's image of one modality with its masks.

    Attributes
    ----------
    patient
        Patient identifier.
    modality
        ``"US"`` or ``"MRI"`` (any string; selects the parameter file).
    image
        Image path (anything :func:`radsurv.imaging.io.read_image` reads) or image.
    masks
        ``(region, mask_source) -> mask`` (path or image), e.g.
        ``("intra", "auto")``, ``("peri", "reader")``.
    """

    patient: str
    modality: str
    image: PathOrImage
    masks: Mapping[MaskKey, PathOrImage] = field(default_factory=dict)


@dataclass
class ExtractionResult:
    """What :func:`extract_patients` returns (unpacks as ``features, failures``).

    Attributes
    ----------
    features
        Tidy table with columns :data:`TIDY_COLUMNS`.
    failures
        One row per failed (patient, region, mask_source) with its reason.
    n_extracted
        Number of (image, mask) pairs computed in this call.
    n_cached
        Number of (image, mask) pairs read from the cache.
    timings
        Seconds summed over cases: ``load``, ``filters``, ``features``.
    """

    features: pd.DataFrame
    failures: pd.DataFrame
    n_extracted: int = 0
    n_cached: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter((self.features, self.failures))


class ExtractionError(StageError):
    """Raised by ``on_error="raise"``; ``failures`` holds the table."""

    def __init__(self, failures: pd.DataFrame):
        self.failures = failures
        lines = [
            f"{r.patient}/{r.modality}/{r.region}/{r.mask_source}: {r.reason}"
            for r in failures.itertuples()
        ]
        super().__init__("feature extraction failed for:\n  " + "\n  ".join(lines))


def pyradiomics_safe(image: sitk.Image) -> sitk.Image:
    """Cast 8-bit / uint16 images losslessly to a type PyRadiomics bins safely.

    Parameters
    ----------
    image
        Input image.

    Returns
    -------
    SimpleITK.Image
        The same image, cast to int16/int32 where needed (see module docstring).
    """
    target = _LOSSLESS_CAST.get(image.GetPixelID())
    return sitk.Cast(image, target) if target is not None else image


# --------------------------------------------------------------------------- params


def read_params(params: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """Load a PyRadiomics parameter file (YAML/JSON) or copy a parameter dict.

    Parameters
    ----------
    params
        Path to the file, or the already-parsed dict.

    Returns
    -------
    dict
        The parameter dict (``imageType``, ``featureClass``, ``setting``).
    """
    if isinstance(params, Mapping):
        return json.loads(json.dumps(params))
    with open(params, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def extraction_params(params: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """The PyRadiomics parameters per modality: the profile's parameter files, with the
    profile's ``image_types`` (if any) in place of their ``imageType`` section.

    Parameters
    ----------
    params : mapping
        The profile's ``features`` section (``params``, ``image_types``).
    root : Path
        The folder the parameter files' paths start from (the project's root).

    Returns
    -------
    dict
        Modality -> the parameter file's path (as text), or the parameter dict when the
        profile replaces its image types.
    """
    out: dict[str, Any] = {}
    for modality, file in params["params"].items():
        path = Path(root) / file
        if not path.is_file():
            raise FileNotFoundError(f"features.params.{modality}: PyRadiomics parameter file {path} does not exist")
        image_types = params["image_types"][modality]
        if image_types is None:
            out[modality] = str(path)
        else:
            settings = read_params(path)
            settings["imageType"] = {k: (v or {}) for k, v in image_types.items()}
            out[modality] = settings
    return out


def params_hash(params: str | os.PathLike | Mapping[str, Any]) -> str:
    """Content hash of a parameter file (its bytes) or dict (canonical JSON).

    Parameters
    ----------
    params
        Path or dict.

    Returns
    -------
    str
        sha256 hex digest.
    """
    if isinstance(params, Mapping):
        payload = json.dumps(params, sort_keys=True).encode()
    else:
        payload = Path(params).read_bytes()
    return hashlib.sha256(payload).hexdigest()


@functools.lru_cache(maxsize=16)
def _extractor_for(params_json: str) -> featureextractor.RadiomicsFeatureExtractor:
    """A validated PyRadiomics extractor per parameter set (cached per process).

    Parameters
    ----------
    params_json
        Canonical JSON of the parameter dict.

    Returns
    -------
    RadiomicsFeatureExtractor
    """
    return featureextractor.RadiomicsFeatureExtractor(json.loads(params_json))


def make_extractor(params: str | os.PathLike | Mapping[str, Any]) -> featureextractor.RadiomicsFeatureExtractor:
    """PyRadiomics' extractor for a parameter file or dict (validated by its schema).

    Parameters
    ----------
    params
        Path or dict.

    Returns
    -------
    RadiomicsFeatureExtractor
    """
    return _extractor_for(json.dumps(read_params(params), sort_keys=True))


# --------------------------------------------------------------------------- fast MCC


def _symmetric_mcc(p_glcm: np.ndarray, px: np.ndarray) -> np.ndarray | None:
    """MCC from the symmetric eigen-problem, or None when it should not be used.

    Parameters
    ----------
    p_glcm
        Normalised GLCM, shape (1, Ng, Ng, n_angles), symmetric in (i, j).
    px
        Marginal ``p_x``, shape (1, Ng, 1, n_angles).

    Returns
    -------
    numpy.ndarray or None
        Shape (1,) MCC averaged over angles (as PyRadiomics), or None to fall back.
    """
    per_angle = np.moveaxis(p_glcm[0], 2, 0)  # (angle, i, k)
    marginal = np.moveaxis(px[0, :, 0, :], 1, 0)  # (angle, i)
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(marginal > 0, 1.0 / np.sqrt(marginal), 0.0)
    # A = D^-1/2 P D^-1/2;  Q = D^-1 P D^-1 P^T is similar to A A^T (symmetric PSD).
    a_matrix = per_angle * inv_sqrt[:, :, None] * inv_sqrt[:, None, :]
    eigenvalues = np.linalg.eigvalsh(a_matrix @ np.swapaxes(a_matrix, 1, 2))
    second = eigenvalues[:, -2]
    # sqrt amplifies round-off near 0: there, defer to PyRadiomics' own computation.
    if np.any(second < 1e-6 * np.maximum(eigenvalues[:, -1], 1e-300)):
        return None
    return np.array([np.nanmean(np.sqrt(second))])


def _diagonal_sums(p_glcm: np.ndarray, index: np.ndarray, n_bins: int) -> np.ndarray:
    """Sums of the GLCM over the cells sharing ``index`` (i + j - 2 or |i - j|).

    Parameters
    ----------
    p_glcm
        GLCM, shape (Nv, Ng, Ng, n_angles).
    index
        Bin of each (i, j) cell, shape (Ng, Ng), in ``[0, n_bins)``.
    n_bins
        Number of bins (2 Ng - 1 for i + j, Ng for |i - j|).

    Returns
    -------
    numpy.ndarray
        Shape (Nv, n_bins, n_angles): PyRadiomics' ``pxAddy`` / ``pxSuby``.
    """
    n_v, n_g, _, n_a = p_glcm.shape
    flat = p_glcm.reshape(n_v, n_g * n_g, n_a)
    # one bincount over (volume, angle, bin): bin + n_bins * (angle + n_a * volume)
    offsets = n_bins * (np.arange(n_a)[None, None, :] + n_a * np.arange(n_v)[:, None, None])
    keys = index.reshape(1, -1, 1) + offsets
    sums = np.bincount(keys.ravel(), weights=flat.ravel(), minlength=n_v * n_a * n_bins)
    return sums.reshape(n_v, n_a, n_bins).transpose(0, 2, 1)


class GLCMFastMCC(RadiomicsGLCM):
    """PyRadiomics' GLCM class with the symmetric-eigenvalue MCC (see module doc) and
    its diagonal sums computed in one pass.

    PyRadiomics builds ``pxAddy`` and ``pxSuby`` (the GLCM summed along its
    anti-diagonals i + j = k and diagonals |i - j| = k) with one boolean mask of the
    whole matrix per k, O(Ng^3), and the cluster features raise an (Ng, Ng, angles)
    array to a power: together most of the class's time for the 50-120 grey levels of
    a normalised MRI region. Here the sums take one ``bincount`` and the cluster
    features use the identity sum_ij (i + j - mu_x - mu_y)^n p(i, j) =
    sum_k (k - mu_x - mu_y)^n p_{x+y}(k). The same values, summed in another order
    (agreement to round-off, checked against PyRadiomics in the tests).
    """

    def __init__(self, inputImage, inputMask, **kwargs):  # noqa: N803 - PyRadiomics naming
        super().__init__(inputImage, inputMask, **kwargs)
        # log as PyRadiomics' GLCM does (its logger is named after the module), so
        # that PyRadiomics' verbosity settings apply to this subclass too
        self.logger = logging.getLogger(RadiomicsGLCM.__module__)

    def getMCCFeatureValue(self):  # noqa: N802 - PyRadiomics naming
        """Maximal Correlation Coefficient, fast path for symmetric GLCMs.

        Returns
        -------
        numpy.ndarray or int
            As :meth:`RadiomicsGLCM.getMCCFeatureValue`.
        """
        if self.symmetricalGLCM and self.P_glcm.shape[1] >= 2:
            value = _symmetric_mcc(self.P_glcm, self.coefficients["px"])
            if value is not None:
                return value
        return super().getMCCFeatureValue()

    def _calculateCoefficients(self):  # noqa: N802 - PyRadiomics naming
        """PyRadiomics' coefficients, with ``pxAddy``/``pxSuby`` from :func:`_diagonal_sums`."""
        n_g = self.coefficients["Ng"]
        grey = self.coefficients["grayLevels"].astype("float")
        i, j = np.meshgrid(grey, grey, indexing="ij", sparse=True)
        p = self.P_glcm
        eps = np.spacing(1)
        self.coefficients["eps"] = eps
        self.coefficients["i"] = i
        self.coefficients["j"] = j
        self.coefficients["kValuesSum"] = np.arange(2, (n_g * 2) + 1, dtype="float")
        self.coefficients["kValuesDiff"] = np.arange(0, n_g, dtype="float")
        self.coefficients["px"] = p.sum(2, keepdims=True)
        self.coefficients["py"] = p.sum(1, keepdims=True)
        self.coefficients["ux"] = np.sum(i[None, :, :, None] * p, (1, 2), keepdims=True)
        self.coefficients["uy"] = np.sum(j[None, :, :, None] * p, (1, 2), keepdims=True)
        self.coefficients["pxAddy"] = _diagonal_sums(p, (i + j).astype(np.intp) - 2, 2 * n_g - 1)
        self.coefficients["pxSuby"] = _diagonal_sums(p, np.abs(i - j).astype(np.intp), n_g)
        self.coefficients["HXY"] = (-1) * np.sum((p * np.log2(p + eps)), (1, 2))

    def _cluster(self, power: int) -> np.ndarray:
        """sum_k (k - mu_x - mu_y)^power p_{x+y}(k), averaged over angles."""
        c = self.coefficients
        centred = c["kValuesSum"][None, :, None] - c["ux"][:, 0] - c["uy"][:, 0]   # (Nv, 2Ng-1, angles)
        return np.nanmean(np.sum(c["pxAddy"] * centred ** power, 1), 1)

    def getClusterProminenceFeatureValue(self):  # noqa: N802 - PyRadiomics naming
        """Cluster Prominence (PyRadiomics' definition, from ``pxAddy``)."""
        return self._cluster(4)

    def getClusterShadeFeatureValue(self):  # noqa: N802 - PyRadiomics naming
        """Cluster Shade (PyRadiomics' definition, from ``pxAddy``)."""
        return self._cluster(3)

    def getClusterTendencyFeatureValue(self):  # noqa: N802 - PyRadiomics naming
        """Cluster Tendency (PyRadiomics' definition, from ``pxAddy``)."""
        return self._cluster(2)


# --------------------------------------------------------------------------- extractor


@dataclass
class _Prepared:
    """One mask after PyRadiomics' loading steps, on its processing grid."""

    image: sitk.Image
    mask: sitk.Image  # for texture (resegmented if resegmentRange is set)
    shape_mask: sitk.Image  # for shape (the un-resegmented mask unless resegmentShape)
    bounding_box: np.ndarray


def _grid_signature(image: sitk.Image) -> tuple:
    """Hashable description of an image grid (size, origin, spacing, direction).

    Parameters
    ----------
    image
        Image on the grid.

    Returns
    -------
    tuple
    """
    return (image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection())


class SharedFilterExtractor:
    """Extract PyRadiomics features for all masks of one image, filtering once per grid.

    Parameters
    ----------
    params
        PyRadiomics parameter file or dict (same as for the CLI).
    fast_mcc
        Use the symmetric-eigenvalue MCC (see module docstring).
    union_grid
        Map every mask of an image onto one crop of PyRadiomics' lattice when that
        gives each mask's own values (:meth:`_union_grid`); False: each mask on its own.

    Attributes
    ----------
    timings
        Seconds spent in ``load`` (cast/normalise/resample/checks), ``filters`` and
        ``features``, accumulated over calls.
    """

    def __init__(self, params: str | os.PathLike | Mapping[str, Any], fast_mcc: bool = True,
                 union_grid: bool = True):
        self.params = read_params(params)
        self.union_grid = union_grid
        self.extractor = make_extractor(self.params)
        self.extractor._setTolerance()  # geometryTolerance is a global SimpleITK setting
        self.settings = dict(self.extractor.settings)
        self.fast_mcc = fast_mcc
        self.timings = {"load": 0.0, "filters": 0.0, "features": 0.0}

    # ---- steps of RadiomicsFeatureExtractor.execute, in its order ----

    def _normalised(self, image: sitk.Image) -> sitk.Image:
        """``loadImage``'s normalisation (before resampling), done once per image."""
        if self.settings.get("normalize", False):
            return imageoperations.normalizeImage(image, **self.settings)
        return image

    def _prepare(self, normalised: sitk.Image, mask: sitk.Image, grid: sitk.Image | None = None) -> _Prepared:
        """``loadImage`` (resample or pre-crop) then ``checkMask`` for one mask.

        Parameters
        ----------
        normalised
            The (normalised) image.
        mask
            The raw mask.
        grid
            The image already on a crop of the mask's processing lattice (see
            :meth:`_union_grid`): the mask is only mapped onto it (nearest neighbour,
            as ``resampleImage`` maps masks) and the image is not resampled again.

        Returns
        -------
        _Prepared
            Image and mask on PyRadiomics' processing grid, with the bounding box.
        """
        settings = self.settings
        mask = imageoperations.getMask(mask, **settings)
        image = normalised
        if grid is not None:
            image = grid
            mask = sitk.Resample(mask, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())
        elif settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None:
            image, mask = imageoperations.resampleImage(image, mask, **settings)
        elif settings.get("preCrop", False):
            box, corrected = imageoperations.checkMask(image, mask, **settings)
            if corrected is not None:
                mask = corrected
            if box is None:
                raise ValueError("Mask checks failed during pre-crop")
            image, mask = imageoperations.cropToTumorMask(image, mask, box, **settings)
        box, corrected = imageoperations.checkMask(image, mask, **settings)
        if corrected is not None:
            mask = corrected
        if settings.get("resegmentRange") is not None:
            # As execute(): the bounding box becomes the resegmented one; texture uses the
            # resegmented mask, shape only if resegmentShape is set.
            resegmented = imageoperations.resegmentMask(image, mask, **settings)
            box, _ = imageoperations.checkMask(image, resegmented, **settings)
            shape_mask = resegmented if settings.get("resegmentShape", False) else mask
            return _Prepared(image, resegmented, shape_mask, box)
        return _Prepared(image, mask, mask, box)

    def _union_grid(self, normalised: sitk.Image, masks: Mapping[MaskKey, sitk.Image]) -> sitk.Image | None:
        """The image on one grid that every mask's processing grid is a crop of, or None.

        PyRadiomics' resampling grid is a crop of a lattice anchored at the image's
        origin (``resampleImage``: the new bounds are whole multiples of the new spacing
        from the first voxel), the mask's bounding box plus ``padDistance``; without
        resampling the grid is the image itself. So the crop of the same lattice around
        the union of an image's masks holds, voxel for voxel, the values each mask's own
        grid would hold (the same interpolation at the same points of the same image),
        and one resampling serves all the masks: for the many regions of one image in
        the sensitivity analyses this replaces one B-spline resampling per region.
        Filters are another matter (module docstring: they depend on where the grid
        ends), so this is used only when the original image is the only image type,
        and only where the lattices provably agree: every mask on the image's own grid
        and spanning more than one voxel along the same axes as the union (PyRadiomics
        does not resample along an axis a mask spans with one voxel).
        """
        settings = self.settings
        if len(masks) < 2 or list(self.extractor.enabledImagetypes) != ["Original"]:
            return None
        label = int(settings.get("label", 1))
        geometry = (normalised.GetSize(), normalised.GetSpacing())
        union = None
        flat_axes = None
        shape = sitk.LabelShapeStatisticsImageFilter()
        for mask in masks.values():
            if (mask.GetSize(), mask.GetSpacing()) != geometry or not (
                    np.allclose(mask.GetOrigin(), normalised.GetOrigin(), atol=1e-6)
                    and np.allclose(mask.GetDirection(), normalised.GetDirection(), atol=1e-9)):
                return None
            binary = sitk.Cast(sitk.Equal(sitk.Cast(mask, sitk.sitkUInt32), label), sitk.sitkUInt32)
            shape.Execute(binary)
            if not shape.HasLabel(1):
                return None                     # the per-mask path reports it
            size = np.array(shape.GetBoundingBox(1))[normalised.GetDimension():]
            flat = tuple(size == 1)
            if flat_axes is None:
                flat_axes = flat
            elif flat != flat_axes:
                return None
            union = binary if union is None else sitk.Or(union, binary)
        union = sitk.Cast(union * label, sitk.sitkUInt32)
        union.CopyInformation(normalised)
        if settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None:
            image, _ = imageoperations.resampleImage(normalised, union, **settings)
            return image
        box, _ = imageoperations.checkMask(normalised, union, **settings)
        if box is None:
            return None
        pad = settings.get("padDistance", 0) if settings.get("preCrop", False) else 0
        image, _ = imageoperations.cropToTumorMask(normalised, union, box, padDistance=pad)
        return image

    def _filtered_images(self, image: sitk.Image, mask: sitk.Image) -> list[tuple[sitk.Image, str, dict]]:
        """All enabled image types of ``image`` (PyRadiomics' generators, same order).

        Parameters
        ----------
        image
            Image on the processing grid.
        mask
            A mask on that grid (PyRadiomics' built-in filters do not read it).

        Returns
        -------
        list of (image, image type name, kwargs)
        """
        generators: Iterable = []
        for image_type, custom_kwargs in self.extractor.enabledImagetypes.items():
            kwargs = dict(self.settings)
            kwargs.update(custom_kwargs or {})
            generator = getattr(imageoperations, f"get{image_type}Image")(image, mask, **kwargs)
            generators = chain(generators, generator)
        return list(generators)

    def _feature_classes(self) -> dict[str, type]:
        """PyRadiomics' feature classes, with GLCM swapped for the fast-MCC subclass."""
        classes = dict(getFeatureClasses())
        if self.fast_mcc:
            classes["glcm"] = GLCMFastMCC
        return classes

    def _texture_features(self, image: sitk.Image, mask: sitk.Image, image_type: str, kwargs: dict) -> dict:
        """``computeFeatures`` for one (cropped) image type, with our class map.

        Parameters
        ----------
        image, mask
            Image type and mask cropped to the mask's bounding box.
        image_type
            Image type name (``original``, ``log-sigma-1-0-mm-3D``, ...).
        kwargs
            Settings for this image type.

        Returns
        -------
        dict
            ``"<imageType>_<class>_<feature>" -> value``.
        """
        classes = self._feature_classes()
        values: dict[str, Any] = collections.OrderedDict()
        for class_name, feature_names in self.extractor.enabledFeatures.items():
            if class_name.startswith("shape") or class_name not in classes:
                continue
            feature_class = classes[class_name](image, mask, **kwargs)
            for feature in feature_names or []:
                feature_class.enableFeatureByName(feature)
            for name, value in feature_class.execute().items():
                values[f"{image_type}_{class_name}_{name}"] = value
        return values

    def extract(
        self, image: sitk.Image, masks: Mapping[MaskKey, sitk.Image]
    ) -> tuple[dict[MaskKey, dict[str, float]], dict[MaskKey, str]]:
        """Features for every mask of one image.

        Parameters
        ----------
        image
            The image.
        masks
            ``(region, mask_source) -> mask`` on the image's grid (or within
            ``geometryTolerance`` / correctable with ``correctMask``).

        Returns
        -------
        results
            ``key -> {feature name: float value}`` for masks that succeeded.
        errors
            ``key -> reason`` for masks that raised (values that PyRadiomics returned
            as NaN are kept in ``results``; :func:`extract_case` reports them).
        """
        label = self.settings.get("label", 1)
        self.settings["label"] = label
        start = time.perf_counter()
        normalised = self._normalised(pyradiomics_safe(image))
        prepared: dict[MaskKey, _Prepared] = {}
        errors: dict[MaskKey, str] = {}
        try:
            grid = self._union_grid(normalised, masks) if self.union_grid else None
        except Exception:  # noqa: BLE001 - any doubt: each mask on its own grid, as PyRadiomics
            grid = None
        for key, mask in masks.items():
            try:
                prepared[key] = self._prepare(normalised, mask, grid)
            except Exception as error:  # noqa: BLE001 - reported per mask, never silent
                errors[key] = f"{type(error).__name__}: {error}"
        self.timings["load"] += time.perf_counter() - start

        groups: dict[tuple, list[MaskKey]] = collections.defaultdict(list)
        for key, item in prepared.items():
            groups[_grid_signature(item.image)].append(key)

        results: dict[MaskKey, dict[str, float]] = {}
        for keys in groups.values():
            first = prepared[keys[0]]
            start = time.perf_counter()
            try:
                filtered = self._filtered_images(first.image, first.mask)
            except Exception as error:  # noqa: BLE001
                for key in keys:
                    errors[key] = f"filter failed: {type(error).__name__}: {error}"
                continue
            self.timings["filters"] += time.perf_counter() - start
            for key in keys:
                start = time.perf_counter()
                try:
                    results[key] = self._features_for_mask(prepared[key], filtered)
                except Exception as error:  # noqa: BLE001
                    errors[key] = f"{type(error).__name__}: {error}"
                self.timings["features"] += time.perf_counter() - start
        return results, errors

    def _features_for_mask(self, item: _Prepared, filtered: list[tuple[sitk.Image, str, dict]]) -> dict[str, float]:
        """Shape + texture features of one mask from the shared filtered images.

        Parameters
        ----------
        item
            The mask on its processing grid.
        filtered
            Filtered images of that grid.

        Returns
        -------
        dict
            Feature name -> float.
        """
        values: dict[str, Any] = collections.OrderedDict()
        values.update(self.extractor.computeShape(item.image, item.shape_mask, item.bounding_box, **self.settings))
        for filtered_image, image_type, kwargs in filtered:
            cropped_image, cropped_mask = imageoperations.cropToTumorMask(
                filtered_image, item.mask, item.bounding_box, padDistance=0
            )
            values.update(self._texture_features(cropped_image, cropped_mask, image_type, kwargs))
        return {name: float(value) for name, value in values.items()}


_CHECKERS: dict[str, SharedFilterExtractor] = {}
_CHECKERS_LOCK = threading.Lock()


def _region_checker(params_json: str) -> SharedFilterExtractor:
    """One :class:`SharedFilterExtractor` per parameter set for :func:`region_problem` (per
    process), made under a lock: the image checks call it from threads, and PyRadiomics'
    schema validation is not thread-safe."""
    with _CHECKERS_LOCK:
        if params_json not in _CHECKERS:
            _CHECKERS[params_json] = SharedFilterExtractor(json.loads(params_json))
        return _CHECKERS[params_json]


def region_problem(region: sitk.Image, params: str | os.PathLike | Mapping[str, Any],
                   image: sitk.Image | None = None) -> str:
    """Why the extraction would fail on ``region`` with ``params``, or "" when it would not.

    The mask half of :meth:`SharedFilterExtractor._prepare`, the steps every region goes
    through before its features: PyRadiomics' resampling (the mask by nearest neighbour
    onto the crop of the resampling lattice around it) or pre-crop, then ``checkMask``
    with ``minimumROIDimensions`` and ``minimumROISize``. Only the mask and its grid decide
    these, so the mask itself stands in for the image: a region that fails here fails in
    the extraction with the same reason, and one that passes here passes those steps. A
    lesion of a few voxels is the usual failure (``radsurv.preconditions.extractable_regions``
    decides what that does to the run). Cheap: the resampling covers the lesion's bounding
    box and ``padDistance`` only.

    Parameters
    ----------
    region : SimpleITK.Image
        The region, non-zero inside (any label), on its image's grid.
    params : path or mapping
        The PyRadiomics parameters (:func:`extraction_params`' value for the modality).
    image : SimpleITK.Image, optional
        The region's image: with ``setting.normalize``, PyRadiomics divides the whole image
        by its standard deviation first, so a constant image (SD 0) fails whatever its
        mask; the only check that reads the image.

    Returns
    -------
    str
        PyRadiomics' reason, with the settings it was checked against; "" when the region
        passes (or when ``resegmentRange`` is set: that check reads the image's intensities,
        so it is left to the extraction).
    """
    checker = _region_checker(json.dumps(read_params(params), sort_keys=True))
    settings = checker.settings
    if settings.get("resegmentRange") is not None:
        return ""
    if image is not None and settings.get("normalize", False):
        values = sitk.GetArrayViewFromImage(image)
        if values.size and (not np.isfinite(values).all() or float(np.ptp(values)) == 0):
            what = (f"{float(values.flat[0]):g} in every voxel" if np.isfinite(values).all() else
                    "it holds non-finite values")
            return (f"the image is constant ({what}): PyRadiomics' normalisation (setting.normalize) divides it by "
                    "its standard deviation, 0, so no feature can be computed")
    label = int(settings.get("label", 1))
    mask = sitk.Cast(sitk.NotEqual(region, 0), sitk.sitkUInt8) * label
    mask.CopyInformation(region)
    try:
        checker._prepare(sitk.Cast(mask, sitk.sitkFloat32), mask)
    except Exception as error:  # noqa: BLE001 - every reason the extraction would give
        size = int(sitk.GetArrayViewFromImage(mask).astype(bool).sum())
        spacing = settings.get("resampledPixelSpacing")
        where = (f" after resampling to {' x '.join(f'{float(s):g}' for s in spacing)} mm"
                 if settings.get("interpolator") is not None and spacing is not None else "")
        said = str(error).strip()
        said += ")" * (said.count("(") - said.count(")"))   # PyRadiomics' size message leaves one open
        return (f"{size} voxel{'s' if size != 1 else ''} in the lesion; PyRadiomics refuses it{where}: "
                f"{said} (setting.minimumROISize {settings.get('minimumROISize')}, "
                f"setting.minimumROIDimensions {settings.get('minimumROIDimensions', 2)})")
    return ""


# --------------------------------------------------------------------------- cache


def content_hash(path_or_image: PathOrImage) -> str:
    """Content hash of an image file (its bytes) or image (voxels + geometry): the
    cache key part of :func:`radsurv.imaging.io.image_digest`."""
    return image_digest(path_or_image)


#: Raised whenever radsurv's own feature code changes a value, even by round-off (2: the
#: GLCM's diagonal sums and cluster features from one bincount), so that a cache never
#: mixes values of two versions.
FEATURE_CODE_VERSION = 2


def _versions_tag(fast_mcc: bool) -> str:
    """Code versions that can change feature values."""
    return (f"radsurv={radsurv.__version__};pyradiomics={radiomics.__version__};fast_mcc={fast_mcc};"
            f"features={FEATURE_CODE_VERSION}")


def cache_key(image_hash: str, mask_hash: str, params_digest: str, fast_mcc: bool) -> str:
    """Cache file stem for one (image, mask, parameters, code version).

    Parameters
    ----------
    image_hash, mask_hash, params_digest
        Content hashes.
    fast_mcc
        Whether the fast MCC path is on (part of the code version).

    Returns
    -------
    str
        sha256 hex digest.
    """
    payload = "|".join([image_hash, mask_hash, params_digest, _versions_tag(fast_mcc)])
    return hashlib.sha256(payload.encode()).hexdigest()


def _cache_read(cache_dir: Path, key: str) -> dict[str, float] | None:
    """Features stored for ``key``, or None."""
    path = cache_dir / key[:2] / f"{key}.json"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["features"]


def _cache_write(cache_dir: Path, key: str, features: dict[str, float], meta: dict) -> None:
    """Store features for ``key`` atomically (JSON floats round-trip exactly)."""
    folder = cache_dir / key[:2]
    folder.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump({"meta": meta, "features": features}, out)
    os.replace(tmp, folder / f"{key}.json")


# --------------------------------------------------------------------------- per case


def _quiet_pyradiomics() -> None:
    """PyRadiomics logs a warning per GLCM; keep worker output readable."""
    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)


def extract_case(
    case: Case,
    params: Mapping[str, Any],
    params_digest: str,
    cache_dir: str | os.PathLike | None = None,
    fast_mcc: bool = True,
) -> dict[str, Any]:
    """Extract (or read from cache) every mask of one case.

    Parameters
    ----------
    case
        The case.
    params
        PyRadiomics parameter dict for the case's modality.
    params_digest
        Content hash of the parameter file (cache key part).
    cache_dir
        Cache folder, or None for no cache.
    fast_mcc
        See :class:`SharedFilterExtractor`.

    Returns
    -------
    dict
        ``rows`` (tidy records), ``failures`` (records), ``n_extracted``,
        ``n_cached``, ``timings``.
    """
    from threadpoolctl import threadpool_limits

    _quiet_pyradiomics()
    rows: list[tuple] = []
    failures: list[dict] = []
    timings = {"load": 0.0, "filters": 0.0, "features": 0.0}
    cache = Path(cache_dir) if cache_dir is not None else None
    todo: dict[MaskKey, str | None] = {}
    n_cached = 0
    try:
        image_hash = content_hash(case.image) if cache else ""
        for key, mask in case.masks.items():
            cache_name = cache_key(image_hash, content_hash(mask), params_digest, fast_mcc) if cache else None
            cached = _cache_read(cache, cache_name) if cache else None
            if cached is not None:
                rows.extend(_tidy_rows(case, key, cached))
                n_cached += 1
            else:
                todo[key] = cache_name
        if todo:
            image = as_image(case.image)
            masks = {key: as_image(case.masks[key]) for key in todo}
            extractor = SharedFilterExtractor(params, fast_mcc=fast_mcc)
            # Parallelism is over patients; BLAS threads inside a worker would only
            # oversubscribe the cores (eigen-solvers in GLCM).
            with threadpool_limits(limits=1):
                results, errors = extractor.extract(image, masks)
            timings = dict(extractor.timings)
            for key, reason in _non_finite(results).items():
                errors[key] = reason
                del results[key]
            for key, values in results.items():
                rows.extend(_tidy_rows(case, key, values))
                if cache is not None:
                    meta = {"patient": case.patient, "modality": case.modality,
                            "region": key[0], "mask_source": key[1], "versions": _versions_tag(fast_mcc)}
                    _cache_write(cache, todo[key], values, meta)
            for key, reason in errors.items():
                failures.append(_failure(case, key, reason))
    except Exception as error:  # noqa: BLE001 - e.g. unreadable image: every pending mask fails
        for key in todo or case.masks:
            failures.append(_failure(case, key, f"{type(error).__name__}: {error}"))
    return {"rows": rows, "failures": failures, "n_extracted": len(todo),
            "n_cached": n_cached, "timings": timings}


def _non_finite(results: Mapping[MaskKey, Mapping[str, float]]) -> dict[MaskKey, str]:
    """Reasons for masks with NaN/inf features (PyRadiomics turns errors into NaN).

    Parameters
    ----------
    results
        ``key -> {feature: value}``.

    Returns
    -------
    dict
        ``key -> reason`` for masks with at least one non-finite value.
    """
    reasons = {}
    for key, values in results.items():
        bad = sorted(name for name, value in values.items() if not math.isfinite(value))
        if bad:
            shown = ", ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else "")
            reasons[key] = f"non-finite feature values: {shown}"
    return reasons


def _tidy_rows(case: Case, key: MaskKey, values: Mapping[str, float]) -> list[tuple]:
    """Tidy records for one (case, mask)."""
    region, mask_source = key
    return [(case.patient, case.modality, region, mask_source, name, float(value))
            for name, value in values.items()]


def _failure(case: Case, key: MaskKey, reason: str) -> dict[str, str]:
    """A failure record."""
    return {"patient": case.patient, "modality": case.modality, "region": key[0],
            "mask_source": key[1], "reason": reason}


# --------------------------------------------------------------------------- many cases


def _params_for(params_file: str | os.PathLike | Mapping, modality: str):
    """The parameter file for a modality (a single file, or a modality -> file map)."""
    if isinstance(params_file, Mapping) and not {"setting", "imageType", "featureClass"} & set(params_file):
        if modality not in params_file:
            raise ValueError(f"no parameter file for modality {modality!r}; have {sorted(params_file)}")
        return params_file[modality]
    return params_file


def extract_patients(
    cases: list[Case],
    params_file: str | os.PathLike | Mapping[str, Any],
    n_jobs: int = 1,
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
    scheduler: Any = None,
    on_error: str = "skip",
    fast_mcc: bool = True,
) -> ExtractionResult:
    """Extract features for many cases in parallel over patients.

    Parameters
    ----------
    cases
        Cases (one image and its masks each).
    params_file
        PyRadiomics parameter file/dict, or ``{modality: file}``.
    n_jobs
        joblib workers (loky processes); ignored with a Dask scheduler.
    progress
        Show a tqdm progress bar.
    cache_dir
        Content-addressed cache folder (None: no cache).
    scheduler
        None (local joblib), a Dask scheduler address ``"tcp://..."`` or a
        ``distributed.Client`` (connected by :func:`radsurv.compute.dask_client`, as every
        loop of the run): the same joblib calls then run on the cluster.
    on_error
        ``"skip"``: failed (patient, region, mask_source) are left out and listed in
        ``failures``; ``"raise"``: raise :class:`ExtractionError` naming them.
    fast_mcc
        See :class:`SharedFilterExtractor`.

    Returns
    -------
    ExtractionResult
        ``features`` (tidy), ``failures``, counts and timings.
    """
    import joblib
    from radsurv.progress import tqdm

    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    prepared_params: dict[str, tuple[dict, str]] = {}
    for modality in sorted({case.modality for case in cases}):
        source = _params_for(params_file, modality)
        prepared_params[modality] = (read_params(source), params_hash(source))

    # Largest work first (3-D before 2-D, more masks first) so that a long MRI case
    # does not start last and leave the other workers idle; results are put back in
    # the input order afterwards.
    order = sorted(range(len(cases)), key=lambda i: (-_expected_cost(cases[i]), i))
    calls = (
        joblib.delayed(extract_case)(cases[i], *prepared_params[cases[i].modality], cache_dir, fast_mcc)
        for i in order
    )
    outputs: list[dict] = []

    def _run(parallel: joblib.Parallel) -> None:
        for output in tqdm(parallel(calls), total=len(cases), disable=not progress,
                           desc="radiomics", unit="image"):
            outputs.append(output)

    if scheduler is None:
        # batch_size=1: cases take seconds each and differ widely in cost
        _run(joblib.Parallel(n_jobs=n_jobs, backend="loky", return_as="generator", batch_size=1))
    else:
        from radsurv.compute import dask_client

        with dask_client(scheduler) as client, joblib.parallel_config(backend="dask", client=client):
            _run(joblib.Parallel(return_as="generator", batch_size=1))
    in_input_order = [output for _, output in sorted(zip(order, outputs), key=lambda pair: pair[0])]
    return _collect(in_input_order, on_error)


def extract_features(cases: list[Case], params: Mapping[str, Any], root: Path, cache_dir: str | os.PathLike | None,
                     n_jobs: int = 1, progress: bool = True, scheduler: Any = None) -> ExtractionResult:
    """Every case's features with the profile's parameter files (the stage's extraction).

    Parameters
    ----------
    cases : list of Case
        The regions of every patient (:func:`radsurv.features.regions.build_cases`).
    params : mapping
        The profile's ``features`` section (``params``, ``image_types``).
    root : Path
        The project's root (the parameter files' paths start there).
    cache_dir : path or None
        The feature cache (``build/<profile>/cache/features/``).
    n_jobs : int
        Processes over patients (ignored with a scheduler).
    progress : bool
        Show a progress bar.
    scheduler : str, distributed.Client or None
        A Dask scheduler address or client (the profile's ``compute.scheduler``,
        ``ctx.scheduler``): the patients are extracted on its workers.

    Returns
    -------
    ExtractionResult
        Failed regions are listed in ``failures``, never raised.
    """
    return extract_patients(cases, extraction_params(params, root), n_jobs=n_jobs, progress=progress,
                            cache_dir=cache_dir, scheduler=scheduler, on_error="skip")


def _expected_cost(case: Case) -> float:
    """Rough relative cost of a case for scheduling: masks x (3-D weighs more)."""
    image = case.image
    if isinstance(image, sitk.Image):
        three_d = image.GetDimension() == 3
    else:
        three_d = case.modality.upper() in ("MRI", "CT", "PET")
    return len(case.masks) * (5.0 if three_d else 1.0)


def _collect(outputs: list[dict], on_error: str) -> ExtractionResult:
    """Merge per-case outputs into an :class:`ExtractionResult`."""
    rows = [row for output in outputs for row in output["rows"]]
    features = pd.DataFrame.from_records(rows, columns=TIDY_COLUMNS)
    failures = pd.DataFrame.from_records(
        [f for output in outputs for f in output["failures"]], columns=FAILURE_COLUMNS
    )
    timings = {"load": 0.0, "filters": 0.0, "features": 0.0}
    for output in outputs:
        for name, seconds in output["timings"].items():
            timings[name] += seconds
    if on_error == "raise" and len(failures):
        raise ExtractionError(failures)
    return ExtractionResult(
        features=features,
        failures=failures,
        n_extracted=sum(o["n_extracted"] for o in outputs),
        n_cached=sum(o["n_cached"] for o in outputs),
        timings=timings,
    )


def wide_matrix(tidy: pd.DataFrame, modality: str, region: str, mask_source: str) -> pd.DataFrame:
    """Patients x features matrix for one modality, region and mask source.

    Parameters
    ----------
    tidy
        Tidy table from :func:`extract_patients`.
    modality, region, mask_source
        Selection.

    Returns
    -------
    pandas.DataFrame
        Index ``patient``, one column per feature (PyRadiomics names, in first-seen
        order).

    Raises
    ------
    ValueError
        If nothing matches the selection.
    """
    selected = tidy[(tidy["modality"] == modality) & (tidy["region"] == region)
                    & (tidy["mask_source"] == mask_source)]
    if selected.empty:
        raise ValueError(f"no features for modality={modality!r}, region={region!r}, "
                         f"mask_source={mask_source!r}")
    order = list(dict.fromkeys(selected["feature"]))
    wide = selected.pivot(index="patient", columns="feature", values="value")
    wide = wide[order]
    wide.columns.name = None
    return wide

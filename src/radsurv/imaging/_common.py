"""Building blocks shared by the ultrasound and MRI simulators.

Arrays are numpy arrays in numpy axis order (``(rows, cols)`` in 2D, ``(z, y, x)``
in 3D); spacings passed here follow the same order. SimpleITK images are made only
at the very end, by :func:`to_sitk`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi
from scipy.special import ndtri


@dataclass
class SimulatedCase:
    """One simulated image with its masks.

    Attributes
    ----------
    image
        The image (US: 2D uint8; MRI: 3D int16 or float32), physical spacing set.
    true_mask
        Ground-truth lesion mask (uint8, 0/1), same geometry as ``image``.
    reader_mask
        A human reader's delineation of the same lesion (uint8, 0/1).
    info
        What the simulator drew (lesion centre, phenotype amplitudes, ...); handy
        for figures and tests, never needed by the analysis.
    """

    image: sitk.Image
    true_mask: sitk.Image
    reader_mask: sitk.Image
    info: dict[str, Any] = field(default_factory=dict)


def sigmoid(x: float | np.ndarray) -> float | np.ndarray:
    """Logistic function, used to turn an SD-unit latent into a bounded 0-1 strength."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def affine(spec: list[float] | tuple[float, float], strength: float) -> float:
    """``base + slope * strength`` for a ``[base, slope]`` parameter pair."""
    return float(spec[0]) + float(spec[1]) * float(strength)


def smooth_field(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    sigma_px: float | tuple[float, ...],
    dtype=np.float32,
) -> np.ndarray:
    """Spatially correlated Gaussian noise with zero mean and unit SD.

    Parameters
    ----------
    rng
        Random generator.
    shape
        Array shape.
    sigma_px
        Correlation length (Gaussian kernel SD) in pixels, scalar or per axis.
    dtype
        Output dtype (float32 keeps the filters fast).

    Returns
    -------
    ndarray
        The field, standardised empirically so its SD is exactly 1.
    """
    white = rng.standard_normal(shape, dtype=np.float32)
    out = ndi.gaussian_filter(white, sigma_px, mode="wrap", truncate=3.0)
    out -= out.mean()
    sd = float(out.std())
    return (out / (sd if sd > 0 else 1.0)).astype(dtype, copy=False)


def coarse_field(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    spacing_mm: tuple[float, ...],
    corr_mm: float,
) -> np.ndarray:
    """Smooth unit-SD noise with a long correlation length, made cheaply.

    Filtering a fine grid with a wide kernel is slow; the field is drawn on a grid
    of about ``corr_mm / 2.5`` and linearly interpolated up, which changes nothing
    visible for a field that smooth.

    Parameters
    ----------
    rng
        Random generator.
    shape
        Output shape (numpy order).
    spacing_mm
        Pixel size per numpy axis, mm.
    corr_mm
        Correlation length (Gaussian kernel SD), mm.

    Returns
    -------
    ndarray (float32)
    """
    coarse_mm = corr_mm / 2.5
    small = tuple(max(int(np.ceil(n * s / coarse_mm)) + 1, 2) for n, s in zip(shape, spacing_mm))
    return upsample_linear(smooth_field(rng, small, 2.5), shape)


def upsample_linear(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Separable linear interpolation of a coarse grid onto a finer one (same extent).

    Faster than ``scipy.ndimage.zoom`` for this one job because each axis is one
    gather and one blend.

    Parameters
    ----------
    small
        Coarse array.
    shape
        Target shape (same number of dimensions).

    Returns
    -------
    ndarray (float32)
    """
    out = small.astype(np.float32, copy=False)
    for axis, (n, m) in enumerate(zip(shape, small.shape)):
        # Pixel centres of the fine grid in coarse-index units.
        pos = np.clip((np.arange(n, dtype=np.float32) + 0.5) * (m / n) - 0.5, 0, m - 1)
        lo = np.minimum(pos.astype(np.int64), m - 2) if m > 1 else np.zeros(n, np.int64)
        hi = np.minimum(lo + 1, m - 1)
        w = (pos - lo).astype(np.float32)
        view = [1] * out.ndim
        view[axis] = n
        w = w.reshape(view)
        out = np.take(out, lo, axis=axis) * (1 - w) + np.take(out, hi, axis=axis) * w
    return out.astype(np.float32, copy=False)


def bounding_box(mask: np.ndarray, pad: tuple[int, ...] | int = 0) -> tuple[slice, ...]:
    """Slices of the smallest box holding every non-zero voxel, grown by ``pad``.

    Parameters
    ----------
    mask
        Binary array (must contain at least one voxel).
    pad
        Voxels added on each side, scalar or per axis; clipped to the array.

    Returns
    -------
    tuple of slice
    """
    pads = (pad,) * mask.ndim if np.isscalar(pad) else tuple(pad)
    slices = []
    for axis in range(mask.ndim):
        other = tuple(i for i in range(mask.ndim) if i != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        lo = max(int(hit[0]) - int(pads[axis]), 0)
        hi = min(int(hit[-1]) + int(pads[axis]) + 1, mask.shape[axis])
        slices.append(slice(lo, hi))
    return tuple(slices)


def signed_distance(mask: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Signed Euclidean distance to the mask boundary in mm (negative inside).

    Parameters
    ----------
    mask
        Binary array.
    spacing
        Voxel size per numpy axis, mm.

    Returns
    -------
    ndarray (float32)
    """
    mask = mask.astype(bool)
    outside = ndi.distance_transform_edt(~mask, sampling=spacing)
    inside = ndi.distance_transform_edt(mask, sampling=spacing)
    return (outside - inside).astype(np.float32)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest connected component of a binary mask and fill its holes."""
    labels, n = ndi.label(mask)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(np.argmax(sizes))
    return ndi.binary_fill_holes(mask)


def radial_profile_2d(
    rng: np.random.Generator,
    n_angles: int,
    lobulation: float,
    spicule_rate: float,
    spicule_length: float,
) -> np.ndarray:
    """Relative lesion radius ``g(theta)`` on a regular grid of angles.

    A lesion's margin is ``r(theta) = R * g(theta)``: low-order harmonics make it
    lobulated, a few high-order ones micro-lobulated, and narrow triangular spikes
    make it spiculated. Both amplitudes are set by the caller from aggressiveness.

    Parameters
    ----------
    rng
        Random generator.
    n_angles
        Number of angles in ``[0, 2*pi)``.
    lobulation
        SD of the relative harmonic amplitudes.
    spicule_rate
        Poisson mean of the number of spicules.
    spicule_length
        Mean spicule length as a fraction of the radius.

    Returns
    -------
    ndarray
        ``g`` at each angle (>= 0.5).
    """
    theta = np.linspace(0.0, 2.0 * np.pi, n_angles, endpoint=False)
    g = np.ones(n_angles)
    # Harmonic k=1 only shifts the centre, so start at 2; amplitudes fall with k.
    for k in range(2, 8):
        g += lobulation * rng.standard_normal() / k**0.7 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    for k in rng.integers(10, 24, size=3):
        g += 0.25 * lobulation * rng.standard_normal() * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    for _ in range(int(rng.poisson(spicule_rate))):
        center = rng.uniform(0, 2 * np.pi)
        width = rng.uniform(0.05, 0.12)
        length = spicule_length * rng.uniform(0.5, 1.3)
        dist = np.abs(np.angle(np.exp(1j * (theta - center))))
        g += length * np.clip(1.0 - dist / width, 0.0, None) ** 2
    return np.clip(g, 0.5, None)


def random_rotation_3d(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3x3 rotation matrix (QR of a Gaussian matrix)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def radial_function_3d(
    rng: np.random.Generator,
    lobulation: float,
    spicule_rate: float,
    spicule_length: float,
) -> Callable[[np.ndarray], np.ndarray]:
    """Draw a random relative lesion radius ``g(u)`` over unit directions ``u``.

    Lobulation is a sum of random plane waves on the unit sphere (a cheap stand-in
    for low-order spherical harmonics); spicules are narrow cones around random
    directions. The random draws happen here, once, so the returned function can be
    evaluated on any set of directions (boundary samples, then voxels) consistently.

    Parameters
    ----------
    rng
        Random generator.
    lobulation
        SD of the relative wave amplitudes.
    spicule_rate
        Poisson mean of the number of spicules.
    spicule_length
        Mean spicule length as a fraction of the radius.

    Returns
    -------
    callable
        ``g(directions)`` for an array ``(..., 3)`` of unit vectors, returning an
        array of shape ``directions.shape[:-1]`` (values >= 0.5).
    """
    waves = []
    for _ in range(7):
        freq = rng.standard_normal(3)
        freq *= rng.uniform(1.5, 4.0) / np.linalg.norm(freq)
        waves.append((freq.astype(np.float32), lobulation * rng.standard_normal(), rng.uniform(0, 2 * np.pi)))
    spikes = []
    for _ in range(int(rng.poisson(spicule_rate))):
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        # Angular half-width (rad) and length relative to the radius.
        spikes.append((axis.astype(np.float32), rng.uniform(0.08, 0.18), spicule_length * rng.uniform(0.5, 1.3)))

    def g(directions: np.ndarray) -> np.ndarray:
        out = np.ones(directions.shape[:-1], dtype=np.float32)
        for freq, amp, phase in waves:
            out += (amp * np.cos(directions @ freq + phase)).astype(np.float32)
        for axis, width, length in spikes:
            cosang = directions @ axis
            ang = np.sqrt(np.clip(2.0 * (1.0 - cosang), 0.0, None))  # chord ~ angle near the axis
            out += (length * np.clip(1.0 - ang / width, 0.0, None) ** 2).astype(np.float32)
        return np.clip(out, 0.5, None)

    return g


def reader_mask(
    true_mask: np.ndarray,
    spacing: tuple[float, ...],
    radius_mm: float,
    reader: dict[str, Any],
    displacement_frac: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A human reader's delineation: smoothed truth with a smooth boundary displacement.

    The boundary moves along its normal by a spatially correlated random amount
    (a few pixels), plus a per-case systematic bias; readers round off fine spicules
    and sometimes take in part of the echogenic halo / enhancing rim.

    Parameters
    ----------
    true_mask
        Binary ground truth (numpy order).
    spacing
        Voxel size per numpy axis, mm.
    radius_mm
        Nominal lesion radius (sets the displacement scale: larger lesions are
        delineated with larger absolute but similar relative error).
    reader
        Reader parameters (see ``DEFAULT_PHENOTYPE["reader"]``).
    displacement_frac
        Boundary displacement SD as a fraction of ``radius_mm``.
    rng
        Random generator.

    Returns
    -------
    ndarray (uint8)
        The reader's mask, same shape as ``true_mask``.
    """
    spacing = tuple(float(s) for s in spacing)
    amp = max(float(reader["displacement_min_mm"]), displacement_frac * radius_mm)
    bias = float(reader["bias_sd_frac"]) * radius_mm * rng.standard_normal()
    pad_mm = 4.0 * amp + abs(bias) + float(reader["halo_mm"]) + 1.0
    box = bounding_box(true_mask, tuple(int(np.ceil(pad_mm / s)) + 1 for s in spacing))
    crop = true_mask[box].astype(bool)

    sd = signed_distance(crop, spacing)
    smooth_px = tuple(float(reader["smoothing_mm"]) / s for s in spacing)
    sd = ndi.gaussian_filter(sd, smooth_px, truncate=2.5)

    corr_mm = float(reader["correlation_mm"])
    displacement = bias + amp * coarse_field(rng, crop.shape, spacing, corr_mm)
    if rng.random() < float(reader["halo_prob"]):
        # Part of the margin (one smooth sector) drawn through the halo.
        sector = sigmoid(3.0 * coarse_field(rng, crop.shape, spacing, corr_mm) - 1.5)
        displacement = displacement + float(reader["halo_mm"]) * sector
    drawn = largest_component(sd < displacement)
    if not drawn.any():
        drawn = crop
    out = np.zeros_like(true_mask, dtype=np.uint8)
    out[box] = drawn
    return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two binary arrays (1.0 when both are empty)."""
    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    denom = a.sum() + b.sum()
    return 1.0 if denom == 0 else float(2.0 * np.logical_and(a, b).sum() / denom)


def to_sitk(array: np.ndarray, spacing_xyz: tuple[float, ...], origin_xyz: tuple[float, ...]) -> sitk.Image:
    """Wrap a numpy array as a SimpleITK image with physical geometry.

    Parameters
    ----------
    array
        Array in numpy order (``(rows, cols)`` or ``(z, y, x)``).
    spacing_xyz, origin_xyz
        Spacing and origin in SimpleITK (x, y[, z]) order, mm.

    Returns
    -------
    SimpleITK.Image
    """
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in spacing_xyz))
    image.SetOrigin(tuple(float(o) for o in origin_xyz))
    return image


def hide_margin(interior: np.ndarray, surroundings: np.ndarray, mask: np.ndarray, spacing: tuple[float, ...],
                 spec: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Blend patches of the lesion's margin into the tissue around it.

    Where a real lesion's edge has the echo (or enhancement) of the tissue beside it,
    no image shows where it ends, and every reader or network guesses. Patches of the
    margin (a smooth random field over ``corr_mm``, thresholded so that a share drawn
    uniformly on ``[0, max_fraction]`` of the lesion is affected) take the surrounding
    tissue's signal, fully at the margin and fading inwards over ``depth_mm``. Nuisance:
    independent of the latents.

    Returns
    -------
    interior, fraction
        The blended interior and the share drawn.
    """
    fraction = float(rng.uniform(0.0, float(spec["max_fraction"])))
    field = coarse_field(rng, mask.shape, spacing, float(spec["corr_mm"]))
    if fraction <= 0.0:
        return interior, 0.0
    patches = sigmoid(np.clip((field - ndtri(1.0 - fraction)) / 0.25, -50.0, 50.0))
    depth = ndi.distance_transform_edt(mask, sampling=spacing)
    weight = (patches * np.exp(-depth / float(spec["depth_mm"]))).astype(np.float32)
    return interior * (1.0 - weight) + surroundings * weight, fraction


def trait_modifiers(
    h: float,
    mask: np.ndarray,
    spacing: tuple[float, ...],
    spec: dict[str, Any],
    rng: np.random.Generator,
    field: Callable[..., np.ndarray],
    outside: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """How the image-only trait ``h`` shows: mean-one multiplicative textures inside the
    lesion and in the tissue of its ring.

    Intra-tumoral heterogeneity at the scale of tumour sub-regions (habitats of viable
    tumour, fibrosis and necrosis; ``trait_intra_corr_mm``) and the peri-tumoral stromal
    reaction, a heterogeneous tissue pattern that fades over ``trait_ring_mm`` outside
    the margin and ends 5 mm out (the analysis ring's widest width), both log-normal
    with a log SD of ``base + slope * s(h)``, ``s`` the logistic of ``1.2 h`` as for the
    other latents. A texture of mean one leaves the mean intensity and the lesion's
    contrast alone: what changes is what first-order spread and texture features
    (GLCM, GLSZM, GLRLM) measure.

    Parameters
    ----------
    h
        The trait (SD units).
    mask
        The lesion (bool), on the array the modifiers multiply.
    spacing
        Pixel or voxel size per numpy axis, mm.
    spec
        The modality's phenotype (``trait_intra``, ``trait_intra_corr_mm``,
        ``trait_ring``, ``trait_ring_corr_mm``, ``trait_ring_mm``).
    rng
        The trait's own generator (so that the rest of the image is drawn as without it).
    field
        ``field(rng, shape, spacing, corr_mm)``: unit-SD correlated noise.
    outside : ndarray, optional
        The distance (mm) of every pixel outside the lesion to it, when the caller has it
        (computed here otherwise).

    Returns
    -------
    intra, ring, info
        The multiplier of the lesion's signal (the whole array; only the lesion uses
        it), the multiplier of the tissue outside (1 inside the lesion and beyond
        5 mm), and the log SDs drawn.
    """
    s_h = float(sigmoid(1.2 * h))
    intra_sd = affine(spec["trait_intra"], s_h)
    ring_sd = affine(spec["trait_ring"], s_h)
    z_intra = field(rng, mask.shape, spacing, float(spec["trait_intra_corr_mm"]))
    z_ring = field(rng, mask.shape, spacing, float(spec["trait_ring_corr_mm"]))
    intra = np.exp(intra_sd * z_intra - 0.5 * intra_sd**2).astype(np.float32)
    if outside is None:
        outside = ndi.distance_transform_edt(~mask, sampling=spacing).astype(np.float32)
    weight = np.where(mask, 0.0, np.exp(-outside / float(spec["trait_ring_mm"])) * np.clip(5.0 - outside, 0.0, 1.0))
    sd = ring_sd * weight
    ring = np.exp(sd * z_ring - 0.5 * sd**2).astype(np.float32)
    return intra, ring, {"trait_intra_sd": intra_sd, "trait_ring_sd": ring_sd}

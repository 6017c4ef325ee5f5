"""2D breast B-mode ultrasound of one lesion, with known truth.

The simulator builds a map of tissue backscatter (echogenicity), attenuates it behind
the lesion, turns it into speckle by convolving complex scatterers with the probe's
point-spread function, applies the machine's depth gain and log-compresses the
envelope to 8 bits, as a scanner does.

How the latents act (all effects are monotone in them; ``s(x) = sigmoid(1.2 x)``):

- ``a`` (aggressiveness): lobulation and spicules of the margin, taller-than-wide
  shape, interior heterogeneity and micro-calcifications, posterior acoustic
  shadowing (low ``a`` gives mild posterior enhancement instead).
- ``b`` (invasive front): echogenic halo and radial architectural distortion, both
  strictly outside the true mask, within 5 mm of its boundary.

Nuisance (unrelated to outcome): lesion depth and lateral position, orientation,
layer thicknesses, background texture, Cooper's ligaments, focus and gain drift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ._common import (
    SimulatedCase,
    affine,
    coarse_field,
    hide_margin,
    radial_profile_2d,
    reader_mask,
    sigmoid,
    to_sitk,
    trait_modifiers,
)
from .scanners import resolve_phenotype

__all__ = ["FLOOR_DB", "simulate_us", "TISSUE_ECHO"]

#: Backscatter amplitudes of the background tissues (fat is the reference tissue).
TISSUE_ECHO = {
    "entry": 2.0,       # skin entry echo
    "dermis": 1.0,
    "fat": 0.17,
    "ligament": 0.65,   # Cooper's ligaments
    "gland": 0.80,
    "fascia": 1.1,
    "muscle": 0.34,
}

#: dB level mapped to grey 0 (before the scanner's gain); the brightest grey is this
#: plus the dynamic range.
FLOOR_DB = -34.0

_N_ANGLES = 2048


def _lesion_shape(a: float, radius_mm: float, spec: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Draw the lesion margin.

    Parameters
    ----------
    a
        Aggressiveness latent.
    radius_mm
        Half the lesion diameter.
    spec
        US phenotype parameters.
    rng
        Random generator.

    Returns
    -------
    dict
        ``g`` (relative radius per angle), ``aspect`` (height/width), ``angle``
        (rad), and the boundary's extent relative to the centre (``x_lo``, ``x_hi``,
        ``z_lo``, ``z_hi``, mm).
    """
    strength = float(sigmoid(1.2 * a))
    g = radial_profile_2d(
        rng,
        _N_ANGLES,
        lobulation=affine(spec["lobulation"], strength),
        spicule_rate=affine(spec["spicule_rate"], strength**2),
        spicule_length=affine(spec["spicule_length"], strength),
    )
    # Benign-looking masses are wider than tall (parallel to the skin); aggressive
    # ones less so. Orientation is nuisance.
    aspect = float(np.clip(rng.uniform(0.6, 0.85) * np.exp(0.12 * a), 0.5, 1.1))
    angle = float(np.deg2rad(rng.normal(0.0, 12.0)))
    theta = np.linspace(0.0, 2.0 * np.pi, _N_ANGLES, endpoint=False)
    xr = radius_mm * g * np.cos(theta)
    zr = radius_mm * g * aspect * np.sin(theta)
    x = np.cos(angle) * xr - np.sin(angle) * zr
    z = np.sin(angle) * xr + np.cos(angle) * zr
    return {
        "g": g,
        "aspect": aspect,
        "angle": angle,
        "x_lo": float(x.min()),
        "x_hi": float(x.max()),
        "z_lo": float(z.min()),
        "z_hi": float(z.max()),
    }


def _layout(shape: dict[str, Any], scanner: dict[str, Any], border_margin_mm: float, margin_mm, rng) -> dict[str, Any]:
    """Place the lesion and the tissue layers in a field of view with room for the ring.

    Parameters
    ----------
    shape
        Output of :func:`_lesion_shape`.
    scanner
        US scanner settings.
    border_margin_mm
        Peri-tumoral ring that must fit inside the image and below the skin.
    margin_mm
        ``[low, high]`` extra margin beyond the ring, mm.
    rng
        Random generator.

    Returns
    -------
    dict
        Image size in pixels (``width_px``, ``depth_px``), lesion centre (``x0``,
        ``z0``, mm) and layer depths (mm).
    """
    dx = float(scanner["spacing_mm"])
    lo, hi = float(margin_mm[0]), float(margin_mm[1])
    lesion_w = shape["x_hi"] - shape["x_lo"]
    width = max(float(scanner["min_width_mm"]), lesion_w + 2.0 * (border_margin_mm + hi))
    left = rng.uniform(border_margin_mm + lo, width - border_margin_mm - lo - lesion_w)
    x0 = left - shape["x_lo"]

    skin = rng.uniform(1.6, 2.4)
    gland_top = skin + rng.uniform(3.0, 9.0)
    # The ring above the lesion must lie below the skin line.
    top = max(skin + border_margin_mm + rng.uniform(lo, 0.5 * (lo + hi)), gland_top + rng.uniform(-3.0, 4.0))
    z0 = top - shape["z_lo"]
    bottom = z0 + shape["z_hi"]
    pectoralis = bottom + rng.uniform(2.0, 12.0)
    depth = max(float(scanner["min_depth_mm"]), bottom + border_margin_mm + rng.uniform(lo, hi), pectoralis + rng.uniform(4.0, 8.0))
    return {
        "width_px": int(np.ceil(width / dx)),
        "depth_px": int(np.ceil(depth / dx)),
        "x0": float(x0),
        "z0": float(z0),
        "skin": float(skin),
        "gland_top": float(gland_top),
        "pectoralis": float(pectoralis),
    }


def _soft_step(distance_mm: np.ndarray, width_mm: float = 0.4) -> np.ndarray:
    """0 -> 1 transition across a boundary (positive distance = beyond it)."""
    return sigmoid(distance_mm / width_mm).astype(np.float32)


def _background(layout: dict[str, Any], dx: float, rng: np.random.Generator) -> np.ndarray:
    """Echogenicity of the breast without the lesion: skin, fat, gland, muscle.

    Parameters
    ----------
    layout
        Output of :func:`_layout`.
    dx
        Pixel spacing, mm.
    rng
        Random generator.

    Returns
    -------
    ndarray (float32, depth x width)
    """
    h, w = layout["depth_px"], layout["width_px"]
    z = ((np.arange(h, dtype=np.float32) + 0.5) * dx)[:, None]
    x = ((np.arange(w, dtype=np.float32) + 0.5) * dx)[None, :]
    spacing = (dx, dx)

    def wavy(depth: float, amp_mm: float, corr_mm: float) -> np.ndarray:
        # A layer boundary that undulates smoothly across the image.
        n = max(int(w * dx / (corr_mm / 2.5)) + 2, 4)
        coarse = ndi.gaussian_filter1d(rng.standard_normal(n), 2.5, mode="nearest")
        coarse /= coarse.std() + 1e-9
        return (depth + amp_mm * np.interp(x[0] / (w * dx) * (n - 1), np.arange(n), coarse))[None, :].astype(np.float32)

    skin = wavy(layout["skin"], 0.15, 10.0)
    gland_top = wavy(layout["gland_top"], 1.5, 6.0)
    pect = wavy(layout["pectoralis"], 1.0, 12.0)

    # Subcutaneous fat: lobules with thin echogenic Cooper's ligaments, drawn as the
    # zero crossings of a smooth field.
    lobules = coarse_field(rng, (h, w), spacing, 1.8)
    ligaments = np.exp(-((lobules / 0.09) ** 2))
    fat = TISSUE_ECHO["fat"] * np.exp(0.25 * coarse_field(rng, (h, w), spacing, 0.8)) + TISSUE_ECHO["ligament"] * ligaments

    # Fibroglandular tissue: bright, heterogeneous, with islands of fat.
    gland_texture = np.exp(0.35 * coarse_field(rng, (h, w), spacing, 0.6))
    fat_islands = _soft_step((coarse_field(rng, (h, w), spacing, 2.5) - rng.uniform(0.6, 1.3)) * 1.0, 0.15)
    gland = TISSUE_ECHO["gland"] * gland_texture * (1 - fat_islands) + fat * fat_islands

    # Pectoralis: mid-grey with oblique fibre striations.
    slope = rng.uniform(-0.15, 0.15)
    phase = 1.5 * coarse_field(rng, (h, w), spacing, 3.0)
    striation = np.sin(2 * np.pi * (z + slope * x) / rng.uniform(1.0, 1.6) + phase)
    muscle = TISSUE_ECHO["muscle"] * (1.0 + 0.45 * striation)

    in_gland = _soft_step(z - gland_top)
    below_pect = _soft_step(z - pect)
    retro_fat = _soft_step(z - (pect - rng.uniform(0.8, 2.0)))
    echo = fat * (1 - in_gland) + gland * in_gland
    echo = echo * (1 - retro_fat) + TISSUE_ECHO["fat"] * retro_fat
    echo = echo * (1 - below_pect) + muscle * below_pect + TISSUE_ECHO["fascia"] * np.exp(-0.5 * ((z - pect) / 0.25) ** 2)

    # Skin: entry echo, dermis, then the dermis-fat interface.
    dermis = 1.0 - _soft_step(z - skin, 0.15)
    echo = echo * (1 - dermis) + TISSUE_ECHO["dermis"] * dermis
    echo = echo + TISSUE_ECHO["entry"] * np.exp(-0.5 * ((z - 0.35) / 0.12) ** 2)
    return echo.astype(np.float32)


def _draw_echo_ratio(spec: dict[str, Any], rng: np.random.Generator) -> float:
    """Interior-to-surroundings backscatter ratio: markedly hypoechoic (log-normal
    around ``echo_ratio.median``) or, with probability ``echo_ratio.iso_fraction``,
    mildly hypo- to isoechoic (uniform on ``echo_ratio.iso_range``)."""
    ratio = spec["echo_ratio"]
    if rng.random() < float(ratio["iso_fraction"]):
        return float(rng.uniform(*ratio["iso_range"]))
    return float(np.exp(rng.normal(np.log(float(ratio["median"])), float(ratio["log_sd"]))))


def _lesion_fields(
    a: float,
    b: float,
    radius_mm: float,
    shape: dict[str, Any],
    layout: dict[str, Any],
    dx: float,
    spec: dict[str, Any],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Mask and echo modifiers of the lesion and its invasive front, on a crop.

    Parameters
    ----------
    a, b
        Latents.
    radius_mm
        Half the diameter.
    shape, layout
        Outputs of :func:`_lesion_shape` and :func:`_layout`.
    dx
        Pixel spacing, mm.
    spec
        US phenotype parameters.
    rng
        Random generator.

    Returns
    -------
    dict
        ``box`` (crop slices), ``mask`` (bool crop), ``interior`` (lesion echo on
        the crop), ``front`` (multiplicative echo modifier outside the lesion), and
        the drawn amplitudes.
    """
    h, w = layout["depth_px"], layout["width_px"]
    reach = 6.0  # mm beyond the margin: the halo and distortion live within 5 mm
    r0 = max(int((layout["z0"] + shape["z_lo"] - reach) / dx), 0)
    r1 = min(int(np.ceil((layout["z0"] + shape["z_hi"] + reach) / dx)) + 1, h)
    c0 = max(int((layout["x0"] + shape["x_lo"] - reach) / dx), 0)
    c1 = min(int(np.ceil((layout["x0"] + shape["x_hi"] + reach) / dx)) + 1, w)
    box = (slice(r0, r1), slice(c0, c1))
    zc = ((np.arange(r0, r1, dtype=np.float32) + 0.5) * dx - layout["z0"])[:, None]
    xc = ((np.arange(c0, c1, dtype=np.float32) + 0.5) * dx - layout["x0"])[None, :]

    # Lesion-frame coordinates: rotate, then undo the aspect ratio.
    ca, sa = np.cos(shape["angle"]), np.sin(shape["angle"])
    xr = ca * xc + sa * zc
    zr = (-sa * xc + ca * zc) / shape["aspect"]
    rho = np.hypot(xr, zr)
    theta = np.mod(np.arctan2(zr, xr), 2 * np.pi)
    g = shape["g"][(theta / (2 * np.pi) * _N_ANGLES).astype(np.int64) % _N_ANGLES]
    mask = rho <= radius_mm * g
    crop_shape = mask.shape

    s_a = float(sigmoid(1.2 * a))
    s_b = float(sigmoid(1.2 * b))

    # Interior: hypoechoic, log-normal heterogeneity growing with a, plus
    # micro-calcifications (bright foci) in aggressive tumours.
    heterogeneity = affine(spec["heterogeneity"], s_a)
    texture = coarse_field(rng, crop_shape, (dx, dx), rng.uniform(0.5, 0.9))
    # (with ``echo_ratio`` the level is set in simulate_us, relative to the tissue around)
    level = float(spec["lesion_echo"]) if spec.get("echo_ratio") is None else 1.0
    interior = level * np.exp(heterogeneity * texture - 0.5 * heterogeneity**2)
    area_mm2 = float(mask.sum()) * dx * dx
    n_calc = int(rng.poisson(area_mm2 / 100.0 * 3.0 * s_a**2))
    if n_calc:
        rows, cols = np.nonzero(mask)
        pick = rng.integers(0, rows.size, size=n_calc)
        foci = np.zeros(crop_shape, np.float32)
        foci[rows[pick], cols[pick]] = 1.0
        foci = ndi.gaussian_filter(foci, 0.12 / dx) * (2 * np.pi * (0.12 / dx) ** 2)
        interior = interior + 1.5 * foci

    # Invasive front, outside the true mask only.
    outside = ndi.distance_transform_edt(~mask, sampling=(dx, dx)).astype(np.float32)
    taper = np.clip(5.0 - outside, 0.0, 1.0)  # nothing beyond 5 mm
    halo_gain = affine(spec["halo"], s_b)
    halo_width = affine(spec["halo_width_mm"], s_b)
    halo_texture = 1.0 + 0.35 * coarse_field(rng, crop_shape, (dx, dx), 1.0)
    halo = halo_gain * (1.0 - np.exp(-outside / 0.25)) * np.exp(-((outside / halo_width) ** 2)) * halo_texture

    # Architectural distortion: thin straight lines radiating from the margin.
    polar = np.arctan2(zc, xc).astype(np.float32)
    radius_px = np.hypot(xc, zc).astype(np.float32)
    n_lines = int(rng.poisson(3.0 + 10.0 * s_b))
    streaks = np.zeros(crop_shape, np.float32)
    for _ in range(n_lines):
        direction = rng.uniform(-np.pi, np.pi)
        wrapped = np.abs(np.mod(polar - direction + np.pi, 2 * np.pi) - np.pi)
        offset = wrapped * radius_px  # mm off the line (small-angle arc length)
        sign = 1.0 if rng.random() < 0.6 else -0.7
        streaks += sign * np.exp(-0.5 * (offset / rng.uniform(0.15, 0.3)) ** 2)
    distortion = affine(spec["distortion"], s_b) * streaks * np.exp(-outside / 3.0)
    front = np.where(mask, 1.0, np.clip(1.0 + (halo + distortion) * taper, 0.2, None)).astype(np.float32)
    return {
        "box": box,
        "mask": mask,
        "interior": interior.astype(np.float32),
        "front": front,
        "heterogeneity": heterogeneity,
        "halo_gain": halo_gain,
        "n_calcifications": n_calc,
        "n_distortion_lines": n_lines,
    }


def _lookalikes(echo: np.ndarray, box, mask: np.ndarray, layout: dict[str, Any], dx: float,
                spec: dict[str, Any] | None, rng: np.random.Generator) -> dict[str, int]:
    """Benign structures that look like the lesion, drawn into ``echo`` in place.

    Simple cysts (anechoic, circumscribed, with posterior enhancement) and fat lobules
    (oval, as dark as subcutaneous fat) anywhere in the breast below the skin, never
    overlapping the lesion (at least ``gap_mm`` from its margin); they are what
    automatic segmenters mistake for lesions on breast US. Counts are Poisson.

    Returns
    -------
    dict
        ``cysts`` and ``fat_lobules`` drawn.
    """
    counts = {"cysts": 0, "fat_lobules": 0}
    if not spec:
        return counts
    h, w = echo.shape
    full = np.zeros((h, w), bool)
    full[box] = mask
    distance = ndi.distance_transform_edt(~full, sampling=(dx, dx))
    z = ((np.arange(h) + 0.5) * dx)[:, None]
    x = ((np.arange(w) + 0.5) * dx)[None, :]
    for kind, mean in (("cysts", spec["cysts"]), ("fat_lobules", spec["fat_lobules"])):
        for _ in range(int(rng.poisson(float(mean)))):
            radius = 0.5 * float(rng.uniform(*spec["size_mm"]))
            aspect = float(rng.uniform(0.5, 0.9))        # wider than tall, parallel to the skin
            for _attempt in range(20):
                # in the breast: below the skin, above the pectoralis
                zc = rng.uniform(layout["skin"] + 1.0 + radius, max(layout["pectoralis"] - radius, layout["skin"] + 1.5 + radius))
                xc = rng.uniform(radius, w * dx - radius)
                if distance[min(int(zc / dx), h - 1), min(int(xc / dx), w - 1)] > radius + float(spec["gap_mm"]):
                    break
            else:
                continue
            rho = np.sqrt(((x - xc) / radius) ** 2 + ((z - zc) / (radius * aspect)) ** 2)
            inside = rho <= 1.0
            if (inside & (distance <= float(spec["gap_mm"]))).any():
                continue
            counts[kind] += 1
            if kind == "cysts":
                soft = sigmoid(np.clip((1.0 - rho) * radius / 0.1, -50.0, 50.0)).astype(np.float32)
                echo *= 1.0 - 0.97 * soft
                # posterior acoustic enhancement below the cyst, fading with depth
                column = np.clip(np.sum(inside, axis=0) * dx, 0.0, None)[None, :]
                below = (z > zc) & (column > 0)
                gain_db = float(spec["cyst_enhancement_db_per_mm"]) * column * np.exp(-(z - zc) / 15.0)
                echo[below] *= (10 ** (np.broadcast_to(gain_db, echo.shape)[below] / 20.0)).astype(np.float32)
            else:
                soft = sigmoid(np.clip((1.0 - rho) * radius / 0.4, -50.0, 50.0)).astype(np.float32)
                texture = np.exp(0.25 * coarse_field(rng, echo.shape, (dx, dx), 0.8))
                echo[:] = echo * (1 - soft) + TISSUE_ECHO["fat"] * texture * soft
    return counts


def _partial_shadow(echo: np.ndarray, box, mask: np.ndarray, dx: float, spec: dict[str, Any] | None,
                    rng: np.random.Generator) -> bool:
    """A shadow that hides part of the margin, in place, with probability ``prob``.

    Refraction at a curved margin (an edge shadow) or a Cooper's ligament above the
    lesion casts a narrow acoustic shadow down through one side of it: a vertical band
    of ``width_mm``, ``loss_db`` darker, from above the lesion (ligament) or from its
    widest point (edge) to the bottom of the image.
    """
    if not spec or rng.random() >= float(spec["prob"]):
        return False
    rows, cols = np.nonzero(mask)
    side = cols.min() if rng.random() < 0.5 else cols.max()
    centre_px = box[1].start + side + rng.normal(0.0, 1.0 / dx)
    width_px = float(rng.uniform(*spec["width_mm"])) / dx
    loss_db = float(rng.uniform(*spec["loss_db"]))
    top_px = box[0].start + (rows.min() - int(3.0 / dx) if rng.random() < 0.5 else int(np.median(rows)))
    h, w = echo.shape
    x = np.arange(w)[None, :]
    z = np.arange(h)[:, None]
    band = np.exp(-0.5 * ((x - centre_px) / (0.5 * width_px)) ** 2) * sigmoid(np.clip((z - max(top_px, 0)) / (0.5 / dx), -50.0, 50.0))
    echo *= (10 ** (-loss_db * band / 20.0)).astype(np.float32)
    return True


def _speckle(echo: np.ndarray, scanner: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Envelope of complex scatterers weighted by ``echo`` and blurred by the PSF.

    The envelope is Rayleigh-distributed in homogeneous tissue, with a grain size set
    by the point-spread function (finer axially than laterally).

    Parameters
    ----------
    echo
        Backscatter amplitude map.
    scanner
        US scanner settings.
    rng
        Random generator.

    Returns
    -------
    ndarray (float32), mean approximately ``0.886 * echo``.
    """
    dx = float(scanner["spacing_mm"])
    sigma = (float(scanner["psf_axial_mm"]) / dx, float(scanner["psf_lateral_mm"]) / dx)
    real = ndi.gaussian_filter(rng.standard_normal(echo.shape, dtype=np.float32) * echo, sigma, truncate=3.0)
    imag = ndi.gaussian_filter(rng.standard_normal(echo.shape, dtype=np.float32) * echo, sigma, truncate=3.0)
    # Unit-variance white noise through a normalised Gaussian kernel keeps sum(k^2).
    kernel_energy = 1.0 / (4.0 * np.pi * sigma[0] * sigma[1])
    return (np.hypot(real, imag) / np.sqrt(2.0 * kernel_energy)).astype(np.float32)


def _display(envelope: np.ndarray, layout: dict[str, Any], scanner: dict[str, Any], rng,
             operator_gain_sd_db: float = 1.0) -> np.ndarray:
    """Depth gain, log compression to the dynamic range, 8-bit quantisation.

    Parameters
    ----------
    envelope
        Speckle envelope.
    layout
        Output of :func:`_layout` (for the focus depth).
    scanner
        US scanner settings.
    rng
        Random generator.
    operator_gain_sd_db
        SD of the overall gain the sonographer sets, around the scanner's default.

    Returns
    -------
    ndarray (uint8)
    """
    dx = float(scanner["spacing_mm"])
    z = (np.arange(envelope.shape[0], dtype=np.float32) + 0.5) * dx
    # Imperfect time-gain compensation (random sign: sonographers over- and
    # under-compensate) and a brighter band at the focal zone, set near the lesion.
    slope = float(scanner["tgc_residual_db_per_cm"]) * rng.uniform(-1.0, 1.0)
    focus = layout["z0"] + rng.normal(0.0, 3.0)
    gain_db = (
        float(scanner["gain_db"])
        + rng.normal(0.0, operator_gain_sd_db)
        + slope * z / 10.0
        + float(scanner["focus_gain_db"]) * np.exp(-0.5 * ((z - focus) / 6.0) ** 2)
    )
    noise_floor = 10 ** ((FLOOR_DB - 6.0) / 20.0)
    decibels = 20.0 * np.log10(envelope + noise_floor) + gain_db[:, None]
    grey = (decibels - FLOOR_DB) * (255.0 / float(scanner["dynamic_range_db"]))
    if float(scanner.get("postfilter_sigma_px", 0.0)) > 0:
        grey = ndi.gaussian_filter(grey, float(scanner["postfilter_sigma_px"]))
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def simulate_us(
    a: float,
    b: float,
    size_mm: float,
    scanner: dict[str, Any],
    rng: np.random.Generator,
    *,
    phenotype: dict | None = None,
    h: float | None = None,
    scan_rng: np.random.Generator | None = None,
) -> SimulatedCase:
    """Simulate one 2D B-mode breast ultrasound image of a lesion.

    Parameters
    ----------
    a
        Tumour aggressiveness latent (SD units): margin irregularity, interior
        heterogeneity, posterior shadowing.
    b
        Invasive-front latent (SD units): echogenic halo and architectural distortion
        outside the lesion, within 5 mm of its margin.
    size_mm
        Lesion diameter, mm (the unperturbed major axis).
    scanner
        US scanner settings (see :data:`radsurv.imaging.scanners.DEFAULT_SCANNERS`).
    rng
        Random generator (the only source of randomness).
    phenotype
        Optional overrides of :data:`radsurv.imaging.scanners.DEFAULT_PHENOTYPE`.
    h
        The image-only trait (SD units; ``cohort.twin.latent.h``): sub-region texture
        inside the lesion and stromal texture in its ring
        (:func:`radsurv.imaging._common.trait_modifiers`), drawn from a generator spawned
        from ``rng`` so that everything else is drawn as without it. None: no trait
        (the image is the one simulated without the parameter).
    scan_rng
        Random generator of the scan (:mod:`radsurv.imaging.rescan`): the lesion's shape
        and its trait's texture are drawn from ``rng`` and everything after them (the
        breast around it, the probe's placement, speckle, gain) from ``scan_rng``, so
        that two scans of one lesion share the tumour and nothing else. None: all from
        ``rng`` (the image is the one simulated without the parameter).

    Returns
    -------
    SimulatedCase
        ``image`` (uint8, depth along y, spacing in mm), ``true_mask`` and
        ``reader_mask`` (uint8 0/1), and ``info``.
    """
    ph = resolve_phenotype(phenotype)
    spec = ph["us"]
    dx = float(scanner["spacing_mm"])
    radius = 0.5 * float(size_mm)

    shape = _lesion_shape(a, radius, spec, rng)
    tumour_rng = rng
    if scan_rng is not None:
        rng = scan_rng
    # Room for the ring around the widest plausible reader delineation too.
    room = float(ph["border_margin_mm"]) + 3.0 * float(ph["reader"]["displacement_frac_us"]) * radius
    layout = _layout(shape, scanner, room, ph["margin_mm"], rng)
    echo = _background(layout, dx, rng)
    trait_rng = tumour_rng.spawn(1)[0] if h is not None else None  # spawning draws nothing from rng
    lesion = _lesion_fields(a, b, radius, shape, layout, dx, spec, rng)
    box, mask = lesion["box"], lesion["mask"]
    trait_info: dict[str, float] = {}
    if h is not None:
        intra, ring, trait_info = trait_modifiers(h, mask, (dx, dx), spec, trait_rng, coarse_field)
        lesion["interior"] = lesion["interior"] * intra
        lesion["front"] = lesion["front"] * ring

    # Lesion echo replaces the tissue inside a soft margin (ill-defined, "indistinct"
    # margins, more often in aggressive tumours, blur it over up to a millimetre or
    # two), then the invasive front modulates the tissue around it.
    crop = echo[box]
    interior = lesion["interior"]
    echo_ratio = None
    if spec.get("echo_ratio") is not None:
        # relative to the tissue the lesion sits in (fat or gland): the median echo of
        # a 1-3 mm shell around it
        outside = ndi.distance_transform_edt(~mask, sampling=(dx, dx))
        shell = (outside > 1.0) & (outside <= 3.0)
        if not shell.any():
            shell = ~mask
        echo_ratio = _draw_echo_ratio(spec, rng)
        interior = interior * echo_ratio * float(np.median(crop[shell]))
    hidden = 0.0
    if spec.get("hidden_margin") is not None:
        interior, hidden = hide_margin(interior, crop, mask, (dx, dx), spec["hidden_margin"], rng)
    blur_mm = 0.12
    if spec.get("margin_blur_mm") is not None:
        blur_mm = affine(spec["margin_blur_mm"], float(sigmoid(1.2 * a))) * float(rng.uniform(0.5, 1.5))
    soft = ndi.gaussian_filter(mask.astype(np.float32), max(blur_mm, 0.12) / dx)
    echo[box] = (crop * (1 - soft) + interior * soft) * lesion["front"]
    lookalikes = _lookalikes(echo, box, mask, layout, dx, spec.get("lookalikes"), rng)

    # Posterior features: attenuation along each scan line through the lesion.
    shadow_db_per_mm = affine(spec["shadow_db_per_mm"], a)
    path_mm = np.cumsum(mask, axis=0, dtype=np.float32) * dx
    path_mm = ndi.gaussian_filter1d(path_mm, 0.5 / dx, axis=1)
    rows, cols = box
    echo[rows, cols] *= 10 ** (-shadow_db_per_mm * path_mm / 20.0)
    echo[rows.stop :, cols] *= 10 ** (-shadow_db_per_mm * path_mm[-1:, :] / 20.0)

    shadowed = _partial_shadow(echo, box, mask, dx, spec.get("partial_shadow"), rng)
    envelope = _speckle(echo, scanner, rng)
    image = _display(envelope, layout, scanner, rng, float(spec.get("operator_gain_sd_db", 1.0)))

    true_mask = np.zeros(image.shape, np.uint8)
    true_mask[box] = mask
    reader = reader_mask(
        true_mask,
        (dx, dx),
        radius,
        ph["reader"],
        float(ph["reader"]["displacement_frac_us"]),
        rng,
    )
    spacing = (dx, dx)
    origin = (0.0, 0.0)
    info = {
        "modality": "us",
        "center": scanner.get("center"),
        "lesion_center_mm": (layout["x0"], layout["z0"]),
        "shadow_db_per_mm": shadow_db_per_mm,
        **{k: lesion[k] for k in ("heterogeneity", "halo_gain", "n_calcifications", "n_distortion_lines")},
        "echo_ratio": echo_ratio,
        "margin_blur_mm": blur_mm,
        "n_cysts": lookalikes["cysts"],
        "n_fat_lobules": lookalikes["fat_lobules"],
        "partial_shadow": shadowed,
        "hidden_margin": hidden,
        **trait_info,
    }
    return SimulatedCase(
        image=to_sitk(image, spacing, origin),
        true_mask=to_sitk(true_mask, spacing, origin),
        reader_mask=to_sitk(reader, spacing, origin),
        info=info,
    )

"""3D breast DCE-MRI (early post-contrast subtraction) of one lesion, with known truth.

The volume is a crop of the breast around the lesion, large enough for the
peri-tumoral ring on every side. Intensities are in units of "relative enhancement"
until the very end, where the centre's arbitrary scale and offset are applied and the
values are stored as int16, as in DICOM subtraction series.

How the latents act (``s(x) = sigmoid(1.2 x)``):

- ``a`` (aggressiveness): irregular / spiculated surface, enhancement level,
  internal heterogeneity, rim enhancement and a central non-enhancing (necrotic)
  core at high ``a``.
- ``b`` (invasive front): peri-tumoral enhancement / oedema, strictly outside the true
  mask and within 5 mm of its surface.

Nuisance: fibroglandular amount and background parenchymal enhancement (BPE),
vessels, bias field, Rician noise, orientation and position of the lesion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.special import ndtri

from ._common import (
    SimulatedCase,
    affine,
    coarse_field,
    hide_margin,
    radial_function_3d,
    random_rotation_3d,
    reader_mask,
    sigmoid,
    smooth_field,
    to_sitk,
    trait_modifiers,
)
from .scanners import resolve_phenotype

__all__ = ["FAT_SIGNAL", "random_field", "simulate_mri"]

#: Signal of fat on the subtraction image (almost none: fat does not enhance).
FAT_SIGNAL = 0.02


def _fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (to find the extent of a lesion surface)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    azimuth = np.pi * (1.0 + 5**0.5) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=1).astype(
        np.float32
    )


def random_field(rng: np.random.Generator, shape: tuple[int, ...], spacing: tuple[float, ...], corr_mm: float) -> np.ndarray:
    """Unit-SD correlated noise: direct filtering for short, coarse grid for long correlation.

    Parameters
    ----------
    rng
        Random generator.
    shape
        Array shape (numpy order).
    spacing
        Voxel size per axis, mm.
    corr_mm
        Correlation length, mm.

    Returns
    -------
    ndarray (float32)
    """
    if corr_mm / min(spacing) <= 3.0:
        return smooth_field(rng, shape, tuple(max(corr_mm / s, 0.3) for s in spacing))
    return coarse_field(rng, shape, spacing, corr_mm)


def _lesion_geometry(a: float, radius_mm: float, spec: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Draw the lesion surface: an irregular ellipsoid in a random orientation.

    Parameters
    ----------
    a
        Aggressiveness latent.
    radius_mm
        Half the diameter (longest semi-axis before perturbation).
    spec
        MRI phenotype parameters.
    rng
        Random generator.

    Returns
    -------
    dict
        ``g`` (relative radius function), ``rotation`` (3x3, lesion frame -> x, y, z),
        ``semi_axes`` (mm), ``lo`` and ``hi`` (extent in x, y, z, mm).
    """
    strength = float(sigmoid(1.2 * a))
    g = radial_function_3d(
        rng,
        lobulation=affine(spec["lobulation"], strength),
        spicule_rate=affine(spec["spicule_rate"], strength**2),
        spicule_length=affine(spec["spicule_length"], strength),
    )
    rotation = random_rotation_3d(rng).astype(np.float32)
    semi_axes = (radius_mm * np.array([1.0, rng.uniform(0.75, 1.0), rng.uniform(0.6, 0.9)])).astype(np.float32)
    directions = _fibonacci_sphere(4000)
    surface = (directions * semi_axes * g(directions)[:, None]) @ rotation.T
    return {
        "g": g,
        "rotation": rotation,
        "semi_axes": semi_axes,
        "lo": surface.min(axis=0),
        "hi": surface.max(axis=0),
    }


def _grid(geometry: dict[str, Any], scanner: dict[str, Any], border_margin_mm: float, margin_mm, rng) -> dict[str, Any]:
    """Voxel grid of the crop: the lesion plus ring and margin on every side.

    Parameters
    ----------
    geometry
        Output of :func:`_lesion_geometry`.
    scanner
        MRI scanner settings.
    border_margin_mm
        Peri-tumoral ring width that must fit on every side.
    margin_mm
        ``[low, high]`` extra margin beyond the ring (drawn per side).
    rng
        Random generator.

    Returns
    -------
    dict
        ``spacing_zyx``, ``shape_zyx`` and ``start_xyz`` (physical position of the
        first voxel centre relative to the lesion centre, mm).
    """
    spacing_xyz = np.array([scanner["inplane_mm"], scanner["inplane_mm"], scanner["slice_mm"]], dtype=float)
    lo = geometry["lo"] - border_margin_mm - rng.uniform(margin_mm[0], margin_mm[1], size=3)
    hi = geometry["hi"] + border_margin_mm + rng.uniform(margin_mm[0], margin_mm[1], size=3)
    n_xyz = np.ceil((hi - lo) / spacing_xyz).astype(int) + 1
    return {
        "spacing_zyx": tuple(float(s) for s in spacing_xyz[::-1]),
        "spacing_xyz": tuple(float(s) for s in spacing_xyz),
        "shape_zyx": tuple(int(n) for n in n_xyz[::-1]),
        "start_xyz": lo,
    }


def _lesion_coordinates(geometry: dict[str, Any], grid: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised radius and direction of every voxel in the lesion frame.

    Returns
    -------
    rho, directions
        ``rho`` (z, y, x): radius in units of the ellipsoid's semi-axes; ``directions``
        (z, y, x, 3): unit vectors in that normalised frame.
    """
    nz, ny, nx = grid["shape_zyx"]
    sx, sy, sz = grid["spacing_xyz"]
    x0, y0, z0 = grid["start_xyz"]
    x = (x0 + sx * np.arange(nx, dtype=np.float32))[None, None, :, None]
    y = (y0 + sy * np.arange(ny, dtype=np.float32))[None, :, None, None]
    z = (z0 + sz * np.arange(nz, dtype=np.float32))[:, None, None, None]
    rot = geometry["rotation"]
    # Lesion-frame coordinates q = R^T p, computed column by column to stay broadcast.
    q = x * rot[0] + y * rot[1] + z * rot[2]
    q = q / geometry["semi_axes"]
    rho = np.sqrt(np.sum(q * q, axis=-1))
    directions = q / np.maximum(rho, 1e-6)[..., None]
    return rho.astype(np.float32), directions.astype(np.float32)


#: BI-RADS background parenchymal enhancement categories, in order.
BPE_CATEGORIES = ("minimal", "mild", "moderate", "marked")


def _bpe_level(spec: dict[str, Any], category: str | None, rng: np.random.Generator) -> tuple[float, str | None]:
    """Relative enhancement of the gland: from the BI-RADS category (given, as read in
    the cohort, or drawn with ``bpe.probs``) when the phenotype has ``bpe``; else the
    former uniform draw."""
    bpe = spec.get("bpe")
    if bpe is None:
        return float(rng.uniform(0.04, 0.3)), None
    if category is None or category not in bpe["levels"]:
        category = str(rng.choice(BPE_CATEGORIES, p=np.asarray(bpe["probs"], float) / np.sum(bpe["probs"])))
    low, high = bpe["levels"][category]
    return float(rng.uniform(low, high)), category


def _background(grid: dict[str, Any], rng: np.random.Generator, bpe: float,
                vessels_near_lesion: float = 0.0) -> tuple[np.ndarray, dict[str, float]]:
    """Subtraction signal of the breast without the lesion: fat, gland with BPE, vessels.

    Parameters
    ----------
    grid
        Output of :func:`_grid`.
    rng
        Random generator.
    bpe
        Gland enhancement (:func:`_bpe_level`).
    vessels_near_lesion
        Probability that each vessel passes close to the lesion (a distractor that
        touches it) instead of being kept off the centre.

    Returns
    -------
    signal, info
        The signal (float32, z, y, x) and the drawn nuisance values.
    """
    shape, spacing = grid["shape_zyx"], grid["spacing_zyx"]
    gland_fraction = rng.uniform(0.2, 0.65)
    density = coarse_field(rng, shape, spacing, 4.0)
    gland = sigmoid((density - ndtri(1.0 - gland_fraction)) / 0.15)
    texture = np.exp(0.35 * random_field(rng, shape, spacing, 1.5))
    signal = FAT_SIGNAL + (bpe * texture - FAT_SIGNAL) * gland

    # A few enhancing vessels crossing the crop (straight tubes; they are nuisance).
    nz, ny, nx = shape
    sz, sy, sx = spacing
    z = (np.arange(nz, dtype=np.float32) * sz)[:, None, None]
    y = (np.arange(ny, dtype=np.float32) * sy)[None, :, None]
    x = (np.arange(nx, dtype=np.float32) * sx)[None, None, :]
    extent = np.array([nz * sz, ny * sy, nx * sx])
    n_vessels = int(rng.integers(0, 3))
    for _ in range(n_vessels):
        point = rng.uniform(0.0, 1.0, 3) * extent
        if vessels_near_lesion and rng.random() < vessels_near_lesion:
            # through the lesion's neighbourhood: it touches or crosses the margin
            point = extent / 2 + rng.uniform(-0.12, 0.12, 3) * extent
        elif np.all(np.abs(point - extent / 2) < extent / 4):
            # keep vessels off the centre where the lesion is
            point[0] = rng.choice([0.1, 0.9]) * extent[0]
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        dz, dy, dx_ = z - point[0], y - point[1], x - point[2]
        along = dz * direction[0] + dy * direction[1] + dx_ * direction[2]
        dist2 = dz * dz + dy * dy + dx_ * dx_ - along * along
        radius = rng.uniform(0.6, 1.4)
        signal = signal + rng.uniform(0.6, 1.0) * np.exp(-dist2 / (2 * radius**2))
    return signal.astype(np.float32), {"gland_fraction": gland_fraction, "bpe": bpe, "n_vessels": n_vessels}


def _distractors(signal: np.ndarray, mask: np.ndarray, grid: dict[str, Any], enhancement: float,
                 spec: dict[str, Any], rng: np.random.Generator) -> dict[str, int]:
    """What automatic segmenters confuse with the lesion on DCE-MRI, drawn into
    ``signal`` in place, outside the true mask.

    - Non-mass enhancement spurs (``nme``): thin enhancing tubes leaving the lesion's
      surface (ductal extension), ``length_mm`` long, enhancing at ``level`` x the
      lesion's enhancement;
    - intramammary lymph nodes (``lymph_nodes``, Poisson mean): enhancing ovals with a
      fatty hilum, at least ``gap_mm`` from the lesion.

    Returns
    -------
    dict
        ``n_nme`` and ``n_lymph_nodes`` drawn.
    """
    out = {"n_nme": 0, "n_lymph_nodes": 0}
    shape, spacing = grid["shape_zyx"], grid["spacing_zyx"]
    axes = [np.arange(n, dtype=np.float32) * d for n, d in zip(shape, spacing)]
    z, y, x = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    nme = spec.get("nme")
    if nme and rng.random() < float(nme["prob"]):
        surface = np.argwhere(mask & ~ndi.binary_erosion(mask))
        centre = np.argwhere(mask).mean(axis=0)
        for _ in range(int(rng.integers(int(nme["n"][0]), int(nme["n"][1]) + 1))):
            start = surface[rng.integers(len(surface))]
            direction = (start - centre) * np.asarray(spacing)
            direction = direction / (np.linalg.norm(direction) + 1e-9) + rng.normal(0.0, 0.3, 3)
            direction /= np.linalg.norm(direction)
            p0 = start * np.asarray(spacing, dtype=np.float32)
            length = float(rng.uniform(*nme["length_mm"]))
            width = float(rng.uniform(*nme["width_mm"]))
            dz, dy, dx_ = z - p0[0], y - p0[1], x - p0[2]
            along = dz * direction[0] + dy * direction[1] + dx_ * direction[2]
            dist2 = dz * dz + dy * dy + dx_ * dx_ - along * along
            tube = np.exp(-dist2 / (2 * (0.5 * width) ** 2)) * sigmoid(np.clip(along / 0.5, -50, 50)) \
                * sigmoid(np.clip((length - along) / 1.0, -50, 50))
            level = float(rng.uniform(*nme["level"])) * enhancement
            signal += np.where(mask, 0.0, level * tube).astype(np.float32)
            out["n_nme"] += 1
    nodes = spec.get("lymph_nodes")
    if nodes:
        distance = ndi.distance_transform_edt(~mask, sampling=spacing)
        extent = np.array([n * d for n, d in zip(shape, spacing)])
        for _ in range(int(rng.poisson(float(nodes["mean"])))):
            radius = 0.5 * float(rng.uniform(*nodes["size_mm"]))
            for _attempt in range(20):
                c = rng.uniform(radius, np.maximum(extent - radius, radius + 1e-3))
                index = tuple(np.minimum((c / np.asarray(spacing)).astype(int), np.array(shape) - 1))
                if distance[index] > radius + float(nodes["gap_mm"]):
                    break
            else:
                continue
            rho = np.sqrt(((z - c[0]) / (0.6 * radius)) ** 2 + ((y - c[1]) / radius) ** 2 + ((x - c[2]) / radius) ** 2)
            shell = sigmoid(np.clip((1.0 - rho) / 0.08, -50, 50)) * (1.0 - sigmoid(np.clip((0.45 - rho) / 0.08, -50, 50)))
            if (shell > 0.5)[mask].any():
                continue
            signal += (float(rng.uniform(*nodes["level"])) * enhancement * shell).astype(np.float32)
            out["n_lymph_nodes"] += 1
    return out


def _motion_ghost(signal: np.ndarray, spec: dict[str, Any] | None, rng: np.random.Generator) -> float:
    """Respiratory or cardiac motion: a faint copy of the volume shifted along the
    phase-encoding direction (in-plane y), added in place with probability ``prob``.
    The lesion's ghost is a lesion-like blob elsewhere in the crop. Returns its gain."""
    if not spec or rng.random() >= float(spec["prob"]):
        return 0.0
    gain = float(rng.uniform(*spec["ghost"]))
    shift = int(round(signal.shape[1] * rng.uniform(0.25, 0.45))) * (1 if rng.random() < 0.5 else -1)
    signal += gain * np.roll(signal, shift, axis=1)
    return gain


def _bias_field(grid: dict[str, Any], strength: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative coil-sensitivity field (linear + quadratic terms).

    Parameters
    ----------
    grid
        Output of :func:`_grid`.
    strength
        Typical relative amplitude over the crop.
    rng
        Random generator.

    Returns
    -------
    ndarray (float32), broadcastable to the volume.
    """
    nz, ny, nx = grid["shape_zyx"]
    coords = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in (nz, ny, nx)]
    z, y, x = coords[0][:, None, None], coords[1][None, :, None], coords[2][None, None, :]
    c = rng.normal(0.0, 1.0, 6) * strength / 2.0
    log_field = c[0] * x + c[1] * y + c[2] * z + c[3] * x * x + c[4] * y * y + c[5] * x * y
    return np.exp(log_field).astype(np.float32)


def simulate_mri(
    a: float,
    b: float,
    size_mm: float,
    scanner: dict[str, Any],
    rng: np.random.Generator,
    *,
    phenotype: dict | None = None,
    bpe_category: str | None = None,
    h: float | None = None,
    scan_rng: np.random.Generator | None = None,
) -> SimulatedCase:
    """Simulate one 3D DCE-MRI subtraction volume of a breast lesion.

    Parameters
    ----------
    a
        Tumour aggressiveness latent (SD units): surface irregularity, enhancement,
        heterogeneity, rim enhancement and central necrosis.
    b
        Invasive-front latent (SD units): peri-tumoral enhancement / oedema within
        5 mm outside the lesion.
    size_mm
        Lesion diameter, mm (longest unperturbed axis).
    scanner
        MRI scanner settings (see :data:`radsurv.imaging.scanners.DEFAULT_SCANNERS`).
    rng
        Random generator (the only source of randomness).
    phenotype
        Optional overrides of :data:`radsurv.imaging.scanners.DEFAULT_PHENOTYPE`.
    bpe_category
        The BI-RADS background parenchymal enhancement the radiologist reads for this
        patient (:data:`BPE_CATEGORIES`; None: drawn), so that image and record agree.
    h
        The image-only trait (SD units; ``cohort.twin.latent.h``): sub-region texture
        inside the lesion and stromal texture in its ring
        (:func:`radsurv.imaging._common.trait_modifiers`), drawn from a generator spawned
        from ``rng``. None: no trait (the volume simulated without the parameter).
    scan_rng
        Random generator of the scan (:mod:`radsurv.imaging.rescan`): the lesion's
        geometry and its trait's texture are drawn from ``rng`` and everything after them
        (the breast, the background enhancement, noise, bias field, motion) from
        ``scan_rng``, so that two scans of one lesion share the tumour and nothing else.
        None: all from ``rng`` (the volume simulated without the parameter).

    Returns
    -------
    SimulatedCase
        ``image`` (int16 or float32 per ``scanner["dtype"]``; axial slices along z,
        slice thickness larger than the in-plane spacing), ``true_mask``,
        ``reader_mask`` (uint8) and ``info``.
    """
    ph = resolve_phenotype(phenotype)
    spec = ph["mri"]
    radius = 0.5 * float(size_mm)
    s_a = float(sigmoid(1.2 * a))
    s_b = float(sigmoid(1.2 * b))

    trait_rng = rng.spawn(1)[0] if h is not None else None  # spawning draws nothing from rng
    geometry = _lesion_geometry(a, radius, spec, rng)
    if scan_rng is not None:
        rng = scan_rng
    # Room for the ring around the widest plausible reader delineation too (readers
    # displace the boundary by up to ~3 SD of their displacement), not only the truth.
    room = float(ph["border_margin_mm"]) + 3.0 * float(ph["reader"]["displacement_frac_mri"]) * radius
    grid = _grid(geometry, scanner, room, ph["margin_mm"], rng)
    shape, spacing = grid["shape_zyx"], grid["spacing_zyx"]
    rho, directions = _lesion_coordinates(geometry, grid)
    depth = rho / geometry["g"](directions)  # 0 at the centre, 1 on the surface
    del directions
    mask = depth <= 1.0

    bpe, category = _bpe_level(spec, bpe_category, rng)
    signal, nuisance = _background(grid, rng, bpe, float(spec.get("vessels_near_lesion", 0.0)))
    nuisance["bpe_category"] = category

    # Lesion: enhancement level and heterogeneity grow with a; aggressive lesions
    # enhance at the rim more than in the core, and the core may be necrotic.
    enhancement = float(spec["enhancement"][0]) * float(np.exp(float(spec["enhancement"][1]) * a))
    heterogeneity = affine(spec["heterogeneity"], s_a)
    rim_contrast = affine(spec["rim"], s_a)
    necrosis_radius = float(spec["necrosis"][1]) * float(sigmoid(2.5 * (a - 0.8))) + float(spec["necrosis"][0])
    texture = random_field(rng, shape, spacing, rng.uniform(1.0, 1.8))
    lesion = enhancement * np.exp(heterogeneity * texture - 0.5 * heterogeneity**2)
    rim = sigmoid((depth - 0.72) / 0.06)
    lesion = lesion * (1.0 - rim_contrast + 1.3 * rim_contrast * rim)
    necrotic = sigmoid((necrosis_radius * (1.0 + 0.2 * texture) - depth) / 0.05)
    lesion = lesion * (1.0 - 0.9 * necrotic)
    # the distance to the lesion: the trait's ring and the peri-tumoral zone
    outside = ndi.distance_transform_edt(~mask, sampling=spacing).astype(np.float32)
    trait_info: dict[str, float] = {}
    ring_modifier = None
    if h is not None:
        intra, ring_modifier, trait_info = trait_modifiers(h, mask, spacing, spec, trait_rng, random_field,
                                                           outside=outside)
        lesion = lesion * intra
    hidden = 0.0
    if spec.get("hidden_margin") is not None:
        lesion, hidden = hide_margin(lesion, signal, mask, spacing, spec["hidden_margin"], rng)
    blur_mm = None
    if spec.get("margin_blur_mm") is not None:
        # indistinct margins (more often in aggressive tumours): the enhancement fades
        # over a millimetre or two instead of stopping at the surface
        blur_mm = affine(spec["margin_blur_mm"], s_a) * float(rng.uniform(0.5, 1.5))
        soft = ndi.gaussian_filter(mask.astype(np.float32), [blur_mm / d for d in spacing], truncate=3.0)
        signal = (signal * (1.0 - soft) + lesion * soft).astype(np.float32)
    else:
        signal = np.where(mask, lesion, signal)

    # Peri-tumoral enhancement / oedema: outside the mask only, fading within 5 mm.
    peri_gain = affine(spec["peritumoral"], s_b)
    peri_width = affine(spec["peritumoral_width_mm"], s_b)
    peri_texture = 1.0 + 0.4 * random_field(rng, shape, spacing, 1.5)
    taper = np.clip(5.0 - outside, 0.0, 1.0)
    # Scaled to the typical (not this lesion's) enhancement so it depends on b alone.
    peri = peri_gain * float(spec["enhancement"][0]) * np.exp(-outside / peri_width) * np.clip(peri_texture, 0.0, None) * taper
    signal = np.where(mask, signal, signal + peri).astype(np.float32)
    if ring_modifier is not None:
        signal = signal * ring_modifier  # 1 inside the lesion and beyond 5 mm
    nuisance.update(_distractors(signal, mask, grid, enhancement, spec, rng))

    # Acquisition: motion ghosting, slight blur (point-spread, partial volume), bias
    # field, Rician noise.
    nuisance["motion_ghost"] = _motion_ghost(signal, spec.get("motion"), rng)
    signal = ndi.gaussian_filter(signal, (0.35, 0.45, 0.45), truncate=2.5)
    signal = signal * _bias_field(grid, float(scanner["bias_strength"]), rng)
    noise_sd = float(spec["enhancement"][0]) / float(scanner["snr"])
    real = signal + noise_sd * rng.standard_normal(shape, dtype=np.float32)
    imag = noise_sd * rng.standard_normal(shape, dtype=np.float32)
    magnitude = np.hypot(real, imag)

    stored = magnitude * float(scanner["intensity_scale"]) + float(scanner["intensity_offset"])
    if str(scanner.get("dtype", "int16")) == "int16":
        image = np.clip(np.rint(stored), -32768, 32767).astype(np.int16)
    else:
        image = stored.astype(np.float32)

    true_mask = mask.astype(np.uint8)
    reader = reader_mask(
        true_mask, spacing, radius, ph["reader"], float(ph["reader"]["displacement_frac_mri"]), rng
    )
    # Physical origin: the crop's first voxel; the lesion sits somewhere in a breast.
    lesion_position = rng.uniform([-60.0, -40.0, -40.0], [60.0, 40.0, 40.0])
    origin = tuple(float(v) for v in lesion_position + grid["start_xyz"])
    info = {
        "modality": "mri",
        "center": scanner.get("center"),
        "enhancement": enhancement,
        "heterogeneity": heterogeneity,
        "rim_contrast": rim_contrast,
        "necrosis_radius": necrosis_radius,
        "peritumoral_gain": peri_gain,
        "margin_blur_mm": blur_mm,
        "hidden_margin": hidden,
        **trait_info,
        **nuisance,
    }
    return SimulatedCase(
        image=to_sitk(image, grid["spacing_xyz"], origin),
        true_mask=to_sitk(true_mask, grid["spacing_xyz"], origin),
        reader_mask=to_sitk(reader, grid["spacing_xyz"], origin),
        info=info,
    )

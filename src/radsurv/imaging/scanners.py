"""Per-centre scanner settings and the default phenotype parameters of the imaging twin.

Everything here is plain ``dict``/``float`` data so that it can be overridden from the
params YAML (``cohort.twin.imaging``) and hashed by the pipeline.

Centre effects mimic what differs between real sites: centre 1 (the internal centre)
runs an older-generation ultrasound platform with a lower-frequency linear probe
(coarser pixels and speckle, wider dynamic range, brighter default gain) and a 1.5 T
MRI with thick slices and lower SNR; centres 2 and 3 run newer platforms (finer
pixels and speckle, 3 T MRI with thin slices) that resemble each other but are not
identical. The MRI intensity scale is arbitrary per centre, as in DICOM data where
the stored values of a subtraction series depend on vendor and protocol.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DEFAULT_PHENOTYPE", "DEFAULT_SCANNERS", "resolve_phenotype", "resolve_scanners", "scanner_for"]

#: Per-centre scanner settings. ``us``: pixel spacing, point-spread function (the
#: speckle size, axial and lateral, as Gaussian SDs in mm), overall gain and
#: log-compression dynamic range in dB, residual time-gain-compensation slope and the
#: minimum field of view. ``mri``: in-plane spacing, slice thickness, SNR (lesion
#: enhancement over noise SD), intensity scale and offset of the stored values, bias
#: field strength and the stored data type.
DEFAULT_SCANNERS: dict[int, dict[str, dict[str, Any]]] = {
    1: {
        "us": {
            "spacing_mm": 0.14,
            "psf_axial_mm": 0.12,
            "psf_lateral_mm": 0.28,
            "gain_db": 3.0,
            "dynamic_range_db": 62.0,
            "tgc_residual_db_per_cm": 1.2,
            "focus_gain_db": 2.5,
            "min_width_mm": 42.0,
            "min_depth_mm": 34.0,
            "postfilter_sigma_px": 0.0,
        },
        "mri": {
            "inplane_mm": 0.86,
            "slice_mm": 2.5,
            "snr": 18.0,
            "intensity_scale": 1200.0,
            "intensity_offset": 0.0,
            "bias_strength": 0.25,
            "dtype": "int16",
        },
    },
    2: {
        "us": {
            "spacing_mm": 0.10,
            "psf_axial_mm": 0.08,
            "psf_lateral_mm": 0.18,
            "gain_db": 0.0,
            "dynamic_range_db": 54.0,
            "tgc_residual_db_per_cm": 0.6,
            "focus_gain_db": 1.5,
            "min_width_mm": 38.0,
            "min_depth_mm": 32.0,
            # Newer platforms apply a mild speckle-reduction filter by default.
            "postfilter_sigma_px": 0.7,
        },
        "mri": {
            "inplane_mm": 0.66,
            "slice_mm": 1.2,
            "snr": 30.0,
            "intensity_scale": 420.0,
            "intensity_offset": 0.0,
            "bias_strength": 0.15,
            "dtype": "int16",
        },
    },
    3: {
        "us": {
            "spacing_mm": 0.11,
            "psf_axial_mm": 0.09,
            "psf_lateral_mm": 0.20,
            "gain_db": -1.0,
            "dynamic_range_db": 56.0,
            "tgc_residual_db_per_cm": 0.8,
            "focus_gain_db": 2.0,
            "min_width_mm": 40.0,
            "min_depth_mm": 32.0,
            "postfilter_sigma_px": 0.5,
        },
        "mri": {
            "inplane_mm": 0.74,
            "slice_mm": 1.5,
            "snr": 26.0,
            "intensity_scale": 2600.0,
            "intensity_offset": 100.0,
            "bias_strength": 0.2,
            "dtype": "int16",
        },
    },
}

#: How the latents drive the phenotype (all in the latents' SD units) and the reader.
#: ``border_margin_mm`` is the room the peri-tumoral ring of the analysis needs; every simulated image
#: leaves at least this much tissue (plus ``margin_mm``) around the lesion.
DEFAULT_PHENOTYPE: dict[str, Any] = {
    "border_margin_mm": 10.0,
    "margin_mm": [2.0, 6.0],
    "us": {
        "lobulation": [0.03, 0.10],        # harmonic amplitude: base + slope * s(a)
        "spicule_rate": [0.5, 10.0],       # Poisson mean: base + slope * s(a)^2
        "spicule_length": [0.12, 0.45],    # fraction of the radius
        "lesion_echo": 0.055,              # interior backscatter (fat = 0.17)
        "heterogeneity": [0.15, 0.70],     # log-echo SD: base + slope * s(a)
        "shadow_db_per_mm": [0.15, 0.45],  # base + slope * a (negative: enhancement)
        "halo": [0.15, 2.0],               # halo gain: base + slope * s(b)
        "halo_width_mm": [1.0, 2.0],       # base + slope * s(b); halo stays within 5 mm
        "distortion": [0.2, 1.2],          # radial streak contrast: base + slope * s(b)
        # The image-only trait h (cohort.twin.latent.h; imaging._common.trait_modifiers):
        # log SD of a mean-one texture of sub-regions inside the lesion and of the stroma
        # in the ring, base + slope * s(h). Used only when the twin draws h. Sized so that
        # PyRadiomics sees h about as well as a on the paper's images (24 lesions: best
        # rank correlation 0.49 for h, 0.45 for a); a 2 mm texture of slope 0.6 left it at
        # 0.35, and on the quick twin the signature then learned nothing of h.
        "trait_intra": [0.05, 0.90],
        "trait_intra_corr_mm": 1.0,
        "trait_ring": [0.05, 0.60],
        "trait_ring_corr_mm": 1.0,
        "trait_ring_mm": 2.5,
        # What makes breast US hard to segment (nuisance: independent of the latents
        # except the margin blur, which grows with a as indistinct margins do).
        # Interior echo relative to the tissue around the lesion: markedly hypoechoic
        # (log-normal around -11 dB), or, for half, mildly hypo- to isoechoic.
        "echo_ratio": {"median": 0.28, "log_sd": 0.5, "iso_fraction": 0.5, "iso_range": [0.4, 0.9]},
        "margin_blur_mm": [0.1, 0.8],      # Gaussian SD of the margin: (base + slope * s(a)) x U(0.5, 1.5)
        # Look-alikes: Poisson counts per image of simple cysts and fat lobules.
        "lookalikes": {"cysts": 0.6, "fat_lobules": 1.2, "size_mm": [3.0, 10.0], "gap_mm": 1.0,
                       "cyst_enhancement_db_per_mm": 0.6},
        # An edge or ligament shadow through one side of the lesion.
        "partial_shadow": {"prob": 0.35, "width_mm": [1.0, 3.0], "loss_db": [6.0, 15.0]},
        "operator_gain_sd_db": 3.0,        # overall gain set by the sonographer
        # Patches of the margin with the surrounding tissue's echo (share of the lesion
        # uniform on [0, max_fraction]; fading inwards over depth_mm): where no image
        # shows the edge.
        "hidden_margin": {"max_fraction": 1.0, "corr_mm": 4.0, "depth_mm": 5.0},
    },
    "mri": {
        "lobulation": [0.03, 0.10],
        "spicule_rate": [0.5, 8.0],
        "spicule_length": [0.12, 0.40],
        "enhancement": [0.8, 0.25],        # lesion enhancement: base * exp(slope * a)
        "heterogeneity": [0.08, 0.40],
        "rim": [0.0, 0.6],                 # rim-over-core contrast: base + slope * s(a)
        "necrosis": [0.0, 0.55],           # necrotic core radius fraction at high a
        "peritumoral": [0.04, 0.75],       # oedema/enhancement: base + slope * s(b)
        "peritumoral_width_mm": [1.0, 1.5],
        # The image-only trait h, as for US: a 1.5 mm texture is what GLCM and GLSZM
        # features of these volumes follow best (3 mm sub-regions mostly raise the
        # variance); slope 0.8 gives h a best rank correlation of 0.69 against a's 0.62
        # (16 lesions; 0.46 with slope 0.45).
        "trait_intra": [0.05, 0.80],
        "trait_intra_corr_mm": 1.5,
        "trait_ring": [0.05, 0.60],
        "trait_ring_corr_mm": 1.5,
        "trait_ring_mm": 2.5,
        # What makes breast DCE-MRI hard to segment (nuisance, independent of the latents).
        # Background parenchymal enhancement by BI-RADS category (relative enhancement
        # ranges; the lesion enhances about 0.8), the category as the radiologist reads it
        # in the cohort (probabilities for patients without a record).
        "bpe": {"levels": {"minimal": [0.03, 0.08], "mild": [0.08, 0.18], "moderate": [0.18, 0.35],
                           "marked": [0.35, 0.60]},
                "probs": [0.21, 0.41, 0.27, 0.11]},
        "margin_blur_mm": [0.3, 0.9],      # Gaussian SD of the margin: (base + slope * s(a)) x U(0.5, 1.5)
        # Non-mass enhancement spurs leaving the lesion (ductal extension).
        "nme": {"prob": 0.3, "n": [1, 3], "length_mm": [4.0, 12.0], "width_mm": [1.0, 2.5], "level": [0.4, 0.9]},
        # Intramammary lymph nodes (Poisson mean per crop): enhancing ovals, fatty hilum.
        "lymph_nodes": {"mean": 0.5, "size_mm": [4.0, 9.0], "gap_mm": 2.0, "level": [0.5, 0.9]},
        "vessels_near_lesion": 0.35,       # chance a vessel runs past the lesion's margin
        "motion": {"prob": 0.25, "ghost": [0.05, 0.20]},   # phase-encode ghosting
        # Patches of the margin enhancing like the tissue around it (as for US).
        "hidden_margin": {"max_fraction": 1.0, "corr_mm": 4.0, "depth_mm": 3.0},
    },
    "reader": {
        # Boundary SD as a fraction of the radius; 2D outlines need a larger relative
        # error than 3D surfaces for the same Dice (both aim at Dice ~0.80-0.92).
        "displacement_frac_us": 0.13,
        "displacement_frac_mri": 0.12,
        "displacement_min_mm": 0.25,
        "correlation_mm": 4.0,             # smoothness of the boundary displacement
        "bias_sd_frac": 0.03,              # systematic over/under-segmentation
        "halo_prob": 0.15,                 # chance the reader includes part of the halo
        "halo_mm": 1.0,
        "smoothing_mm": 0.6,               # readers do not trace fine spicules
    },
}


def resolve_scanners(scanners: dict | None = None) -> dict[int, dict[str, dict[str, Any]]]:
    """Merge user scanner settings over the defaults.

    Parameters
    ----------
    scanners
        Mapping centre -> {"us": {...}, "mri": {...}}; keys may be ints or strings
        (YAML). Missing centres or settings fall back to the defaults; an unknown
        centre copies centre 2's settings.

    Returns
    -------
    dict
        A new mapping with int keys and complete settings.
    """
    out = copy.deepcopy(DEFAULT_SCANNERS)
    for key, spec in (scanners or {}).items():
        center = int(key)
        base = copy.deepcopy(out.get(center, DEFAULT_SCANNERS[2]))
        for modality, values in (spec or {}).items():
            base.setdefault(modality, {}).update(values or {})
        out[center] = base
    return out


def scanner_for(center: int, modality: str, scanners: dict | None = None) -> dict[str, Any]:
    """Settings of one centre's scanner for one modality.

    Parameters
    ----------
    center
        Centre number.
    modality
        ``"us"`` or ``"mri"``.
    scanners
        Optional overrides (see :func:`resolve_scanners`).

    Returns
    -------
    dict
        The scanner settings (a copy), with ``center`` added.
    """
    table = resolve_scanners(scanners)
    spec = table.get(int(center), table[2])
    settings = dict(spec[modality])
    settings["center"] = int(center)
    return settings


def resolve_phenotype(phenotype: dict | None = None) -> dict[str, Any]:
    """Merge user phenotype parameters over :data:`DEFAULT_PHENOTYPE` (two levels).

    Parameters
    ----------
    phenotype
        Partial overrides, e.g. ``{"us": {"halo": [0.1, 1.5]}}``.

    Returns
    -------
    dict
        Complete phenotype parameters (a new dict).
    """
    out = copy.deepcopy(DEFAULT_PHENOTYPE)
    for key, value in (phenotype or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out

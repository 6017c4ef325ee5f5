"""The paper's paragraphs on the data and the images (stage ``00_cohort``), written
from the stage's variables and the profile when the paper is published.

:func:`data` (``text-data.md``): the cohort, as a user's manifest (without any
simulation language) or as the digital twin with its generative parameters.
:func:`imaging` (``text-imaging.md``): the twin's image simulator, or a user's images,
their checks, masks and development set.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..cohort.manifest import ManifestSpec
from ..labels import MODALITY_NAMES

__all__ = ["data", "describe_data", "describe_imaging", "describe_user_imaging", "imaging"]


def _modalities(variables: Mapping[str, Any]) -> tuple[str, ...]:
    """The modalities the cohort's manifest has images of (``imaging.n_<modality>``)."""
    v = variables.get("imaging") or {}
    return tuple(m for m in ("us", "mri") if v.get(f"n_{m}", 0) > 0)


def data(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-data.md`` from the ``cohort`` (and ``imaging``) variables and the profile."""
    cohort = variables["cohort"]
    return describe_data(profile, cohort["simulated"], cohort, _modalities(variables))


def imaging(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-imaging.md`` from the ``imaging`` variables and the profile (for the
    twin, its scanners); a cohort without images says so."""
    v = variables.get("imaging")
    if not v:
        return "The cohort has no images.\n"
    return describe_imaging(profile, variables["cohort"]["simulated"], v)


def describe_data(profile: Mapping[str, Any], simulated: bool, summary: Mapping[str, Any],
                  modalities: tuple[str, ...] = ("us", "mri")) -> str:
    """The Methods paragraph on the data, written from the profile (so a user's cohort
    is described without any simulation language, and the twin with its parameters).
    ``modalities``: those the cohort's manifest has images of."""
    cohort = profile["cohort"]
    spec = ManifestSpec.from_profile(profile)
    ext = ", ".join(spec.external_centers)
    if not simulated:
        def centres(names: tuple[str, ...]) -> str:
            return ("centre " if len(names) == 1 else "centres ") + ", ".join(names)

        images = " and ".join(MODALITY_NAMES[m] for m in modalities)
        return (
            f"The cohort comprises {summary['n_total']} patients from {summary['n_centres']} centres, read from a "
            "manifest that lists each patient's centre, follow-up and clinical variables"
            + (f" and the paths of the {images} images" if modalities else "") + ". "
            f"Patients of {centres(spec.internal_centers)} form the development cohort, split into a training set "
            f"and an internal test set; those of {centres(spec.external_centers)} form the external test set. "
            "Every row was checked against the input contract before any analysis; "
            f"{summary.get('n_excluded', 0)} patients were excluded by a check (@fig-flow).\n"
        )
    twin = cohort["twin"]
    hz = twin["hazard"]
    beta = hz["log_hr"]
    sig = twin["imaging_signal"]
    return (
        "The cohort is a **simulated digital twin** of the study design, not patient data. Each simulated "
        "patient has two latent traits: tumour aggressiveness $a$ and invasive-front (peri-tumoral) activity "
        f"$b$, standard normal with correlation {twin['latent']['rho_ab']}. They drive the clinical variables "
        "(histological grade, Ki-67, receptor status and molecular subtype, nodal stage, lymphovascular "
        "invasion), the tumour size (log-normal, median "
        f"{twin['size']['median_mm']:.0f} mm), guideline-shaped adjuvant treatment, and the imaging phenotype. "
        "Disease-free survival follows a Weibull proportional-hazards model [@bender2005] with shape "
        f"{hz['weibull_shape']} and log hazard ratios {beta['a']} per SD of $a$, {beta['b']} per SD of $b$, "
        f"{beta['n_stage']['N1']}/{beta['n_stage']['N2']}/{beta['n_stage']['N3']} for N1/N2/N3, "
        f"{beta['log_size']} per log size, {beta['triple_negative']} for triple-negative disease and "
        f"{beta['endocrine_therapy']} and {beta['anti_her2_therapy']} for endocrine and anti-HER2 therapy, "
        "with a centre-specific baseline hazard; the Weibull scale is solved so that the mean 5-year DFS is "
        f"{100 * hz['target_dfs_at_60_months']:.0f}%. Patients are accrued uniformly over centre-specific "
        f"windows and followed to a common cut-off ({twin['accrual']['cutoff']}), with "
        f"{100 * twin['accrual']['loss_to_follow_up_per_year']:.0f}% per year lost to follow-up. "
        "Radiologist-read MRI descriptors (shape, margin, internal enhancement, time-intensity curve, "
        "peritumoral oedema) are thresholds of the imaging latents plus reader noise. "
        + _traits(twin)
        + ("" if sig else "In this `null` profile the images, and the descriptors read from them, are driven by "
           "latent traits and a tumour size drawn independently of the hazard (from the same distributions as the "
           "signal twin's), so any apparent imaging signal is an artefact; the pathological T stage and the hazard "
           "use the true size. ")
        + "The simulator writes the same manifest a user would supply, and the analysis reads it through the same "
        f"code; the true linear predictor is stored apart and read only for the oracle C-index. Centre "
        f"{', '.join(spec.internal_centers)} ({summary['train']['n'] + summary['internal']['n']} patients) was split "
        f"at random into a training set ({summary['train']['n']}) and an internal test set "
        f"({summary['internal']['n']}), stratified by the DFS event; centres {ext} ({summary['external']['n']}) "
        "form the external test set. All parameters and the reasons for their values are in `params/"
        f"{profile['profile']}.yml`.\n"
    )


def _traits(twin: Mapping[str, Any]) -> str:
    """The twin's optional traits (``latent.h``, ``latent.v``) in the Methods: what each
    is, its log hazard ratio, and what shows it; empty when neither is drawn."""
    lat, beta = twin["latent"], twin["hazard"]["log_hr"]
    text = ""
    if lat.get("h"):
        text += ("A third trait $h$, intra-tumoral heterogeneity with its peri-tumoral stromal reaction, is standard "
                 f"normal and independent of $a$ and $b$, with log hazard ratio {beta['h']} per SD; only the images "
                 "show it, as texture inside the lesion and in the tissue of the ring around it, and no clinical "
                 "variable or MRI descriptor reads it. ")
    if lat.get("v"):
        text += (f"{'A fourth' if lat.get('h') else 'A third'} trait $v$, tumour angiogenesis as the contrast "
                 "kinetics show it, is standard normal and independent of the others, with log hazard ratio "
                 f"{beta['v']} per SD; only the radiologist's time-intensity curve reads it (weight "
                 f"{twin['mri_reading']['tic_v']}), since the reader draws the curve from the whole dynamic series "
                 "while radiomics reads a single post-contrast phase. ")
    return text


def _patients(n: int) -> str:
    return f"{n} patient" + ("" if n == 1 else "s")


def describe_user_imaging(v: Mapping[str, Any]) -> str:
    """Methods paragraph on a user's images: which modalities the cohort has (and what
    the design does without the other), the checks, the masks resampled onto their
    image grid, the lesion label, and a supplied development set."""
    names = {"us": "breast ultrasound images", "mri": "DCE-MRI volumes"}
    have = [m for m in ("us", "mri") if v[f"n_{m}"] > 0]
    parts = [f"{names[m]} of {_patients(v[f'n_{m}'])} ({v[f'n_mask_{m}']} with a lesion mask)" for m in have]
    text = "The cohort has " + " and ".join(parts) + ", read with SimpleITK. "
    if len(have) == 1:
        own = MODALITY_NAMES[have[0]]
        other = MODALITY_NAMES["mri" if have[0] == "us" else "us"]
        text += (f"The cohort has no {other}: the {other} signatures were not built, and the {own} signature "
                 "(intra- and peri-tumoral features together) took the place of the multi-modal one in the models. ")
    text += ("Every image and mask was checked before any analysis (readable files, the modality's "
             "dimensionality, the mask on the image's physical volume, a non-empty lesion, room for the "
             "peri-tumoral ring). ")
    if v.get("n_masks_resampled"):
        text += (f"The masks of {_patients(v['n_masks_resampled'])} were stored on a voxel grid other than their "
                 "image's (another slice order, spacing or axis order) over the same physical volume; they were "
                 "resampled onto the image grid by nearest neighbour, as PyRadiomics' correctMask does, and masks "
                 "over any other volume were refused. ")
    if v.get("mask_label") is not None:
        text += f"The lesion is label {v['mask_label']} of the supplied masks; other labels were ignored. "
    for m in have:
        if v.get(f"n_dev_{m}"):
            dropped = v.get(f"n_dev_excluded_{m}", 0)
            text += (f"A segmentation-development set of {v[f'n_dev_{m}']} {MODALITY_NAMES[m]} "
                     "images with masks and no outcome was supplied and checked in the same way"
                     + (f" ({dropped} left out by a check)" if dropped else "")
                     + "; none of its images belongs to a test-set patient. ")
    return text + ("Example images are shown in @fig-imaging-examples and per-centre image statistics in "
                   "@tbl-imaging-stats.\n")


def describe_imaging(profile: Mapping[str, Any], simulated: bool, v: Mapping[str, Any]) -> str:
    """Methods paragraph on the images (the twin's simulator, or the user's files)."""
    if not simulated:
        return describe_user_imaging(v)
    from ..imaging.scanners import resolve_scanners

    sc = resolve_scanners(profile["imaging"]["scanners"])
    centres = sorted(sc)
    us_sp = ", ".join(f"{sc[c]['us']['spacing_mm']}" for c in centres)
    mri_sl = ", ".join(f"{sc[c]['mri']['slice_mm']}" for c in centres)
    return (
        "Every simulated patient has one 2D B-mode ultrasound image and one 3D DCE-MRI subtraction volume, "
        "written as NIfTI files that the analysis reads exactly as it would read a user's. The images follow "
        "the patient's imaging latents: aggressiveness $a$ sets margin irregularity and spiculation, internal "
        "heterogeneity and posterior shadowing in US, and enhancement heterogeneity, rim enhancement and "
        "necrosis in MRI; invasive-front activity $b$ sets an echogenic halo and architectural distortion in "
        "US and a peri-tumoral enhancement/oedema zone in MRI, both outside the true lesion boundary. Tissue "
        "layers (skin, subcutaneous fat, fibroglandular tissue, pectoralis), speckle, depth-dependent gain, "
        "fibroglandular background, bias field and Rician noise are nuisance variation unrelated to outcome. "
        f"Scanners differ by centre (US pixel spacing {us_sp} mm and MRI slice thickness {mri_sl} mm for "
        f"centres {', '.join(str(c) for c in centres)}, with centre-specific speckle, noise, gain and arbitrary "
        "MRI intensity scale). "
        "Besides the true lesion mask, each image has a reader's delineation with realistic, spatially "
        f"correlated boundary variability (median Dice against truth {v['reader_dice_us']} for US, IQR "
        f"{v['reader_dice_us_iqr']}, and {v['reader_dice_mri']} for MRI, IQR {v['reader_dice_mri_iqr']}); the "
        "manifest lists the reader's mask, as a user's manifest would. Separate segmentation-development sets "
        f"of {v['n_dev_us']} US and {v['n_dev_mri']} MRI patients without outcome were simulated for training "
        "the segmenters. Example images are shown in @fig-imaging-examples and per-centre image statistics in "
        "@tbl-imaging-stats.\n"
    )

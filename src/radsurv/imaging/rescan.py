"""Travelling lesions: the same tumours scanned twice on every centre's scanner.

Multi-scanner reproducibility studies of radiomic features image the same objects on
several scanners (a phantom on 17 CT scanners, Mackin et al. 2015; lesions imaged at
1.5 T and 3 T, Whitney et al. 2021) or the same subjects twice on one scanner
(test-retest, Granzier et al. 2022). The twin can run both designs exactly: a lesion's
shape, size, latents and image-only trait are drawn once, and each scan of it draws the
rest (the breast around it, the probe's placement or the slice positions, background
enhancement, speckle or noise, gain) from a stream of its own
(``simulate_us(..., scan_rng=...)``). Two scans on one scanner then measure
repeatability; one scan on each scanner measures reproducibility across scanners, with
the repeatability as its ceiling (:mod:`radsurv.sensitivity.scanner_agreement`).

The lesions are not the cohort's patients and carry no outcome; their latents follow the
segmentation-development sets' distributions (:func:`radsurv.imaging.twin.devset_latents`),
from a stream of their own.

References
----------
Mackin DS, et al. Measuring computed tomography scanner variability of radiomics
features. Invest Radiol. 2015;50(11):757-765.

Whitney HM, et al. Robustness of radiomic features of benign breast lesions and hormone
receptor positive/HER2-negative cancers across DCE-MR magnet strengths. Magn Reson
Imaging. 2021;82:111-121.

Granzier RWY, et al. Test-retest data for the assessment of breast MRI radiomic feature
repeatability. J Magn Reson Imaging. 2022;56(2):592-604.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from joblib import delayed

from .scanners import resolve_phenotype, resolve_scanners
from .twin import DEFAULT_DEVELOPMENT_LATENTS, MODALITIES, _SIMULATORS, _run_parallel, patient_rng, write_case

__all__ = ["SCAN_COLUMNS", "travelling_latents", "write_travelling_scans"]

#: The columns of :func:`write_travelling_scans`' table (paths relative to ``out_dir``).
SCAN_COLUMNS = ["lesion", "center", "scan", "image", "mask"]

_BPE_ORDER = ("minimal", "mild", "moderate", "marked")


def travelling_latents(n: int, seed: int, modality: str, latents: dict | None = None,
                       phenotype: dict | None = None) -> pd.DataFrame:
    """The travelling lesions' latents: one row per lesion.

    Parameters
    ----------
    n
        Number of lesions.
    seed
        Run seed (the lesions' stream is their own: no cohort or development patient
        shares it).
    modality
        ``"us"`` or ``"mri"``.
    latents
        Overrides of :data:`radsurv.imaging.twin.DEFAULT_DEVELOPMENT_LATENTS`; ``{"h": True}``
        draws the image-only trait, as the cohort's twin does with ``cohort.twin.latent.h``.
    phenotype
        Overrides of the phenotype parameters (the MRI background enhancement's
        probabilities).

    Returns
    -------
    DataFrame
        ``lesion, a_img, b_img, size_mm`` (``h_img`` with the trait; ``mri_bpe`` for MRI
        when the phenotype has background enhancement: it is the breast's, the same in
        every scan).
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, not {modality!r}")
    if int(n) < 3:
        raise ValueError(f"n: at least 3 travelling lesions are needed for an ICC, got {n!r}")
    spec = {**DEFAULT_DEVELOPMENT_LATENTS, **(latents or {})}
    rng = patient_rng(seed, "travelling-latents", modality)
    rho = float(spec["rho_ab"])
    a, b = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=int(n)).T
    size = np.exp(np.log(spec["median_mm"]) + spec["a_effect"] * a + spec["log_sd"] * rng.standard_normal(int(n)))
    frame = pd.DataFrame({
        "lesion": [f"TRV{modality.upper()}{i + 1:03d}" for i in range(int(n))],
        "a_img": a,
        "b_img": b,
        "size_mm": np.clip(size, spec["min_mm"], spec["max_mm"]),
    })
    if spec.get("h"):
        frame["h_img"] = patient_rng(seed, "travelling-trait", modality).standard_normal(int(n))
    bpe = resolve_phenotype(phenotype)["mri"].get("bpe") if modality == "mri" else None
    if bpe:   # a twin without background enhancement (bpe: null) has no category to keep
        probs = np.asarray(bpe["probs"], dtype=float)
        frame["mri_bpe"] = rng.choice(np.array(_BPE_ORDER, dtype=object), size=int(n), p=probs / probs.sum())
    return frame


def _scan_one(lesion: dict, modality: str, center: int, scan: int, scanners: dict, phenotype: dict, seed: int,
              folder: Path) -> dict:
    """Simulate and write one scan of one lesion; its image and true-mask paths."""
    import SimpleITK as sitk

    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        name = str(lesion["lesion"])
        tumour = patient_rng(seed, name, f"travelling-{modality}")
        scan_rng = patient_rng(seed, name, f"travelling-{modality}-c{center}-s{scan}")
        extra = {"h": float(lesion["h_img"])} if "h_img" in lesion else {}
        if "mri_bpe" in lesion:
            extra["bpe_category"] = str(lesion["mri_bpe"])
        scanner = dict(scanners[int(center)][modality], center=int(center))
        case = _SIMULATORS[modality](float(lesion["a_img"]), float(lesion["b_img"]), float(lesion["size_mm"]),
                                     scanner, tumour, phenotype=phenotype, scan_rng=scan_rng, **extra)
        paths = write_case(case, folder, f"{name}_c{center}_s{scan}")
        return {"image": paths["image"], "mask": paths["mask"]}
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def write_travelling_scans(
    modality: str,
    n: int,
    out_dir: str | Path,
    seed: int,
    scanners: dict | None = None,
    centers: Iterable[int] = (1, 2, 3),
    scans: int = 2,
    n_jobs: int = 1,
    progress: bool = True,
    *,
    latents: dict | None = None,
    phenotype: dict | None = None,
) -> pd.DataFrame:
    """Scan ``n`` lesions ``scans`` times on each centre's scanner and write the files.

    Parameters
    ----------
    modality
        ``"us"`` or ``"mri"``.
    n
        Number of lesions.
    out_dir
        Folder of the files (``<lesion>_c<centre>_s<scan>_image.nii.gz``, ``_mask``,
        ``_reader``).
    seed
        Run seed.
    scanners
        Per-centre scanner overrides (the profile's ``cohort.twin.imaging.scanners``).
    centers
        The scanners to scan on, by centre.
    scans
        Scans per lesion and scanner (2: a test-retest pair on each).
    n_jobs
        joblib processes.
    progress
        Show a tqdm progress bar.
    latents, phenotype
        As in :func:`travelling_latents` and the twin's phenotype overrides.

    Returns
    -------
    DataFrame
        :data:`SCAN_COLUMNS`: one row per scan; ``mask`` is the true lesion mask (the
        agreement then measures the scanner, not the segmentation).
    """
    if int(scans) < 1:
        raise ValueError(f"scans: at least 1 scan per lesion and scanner, got {scans!r}")
    table = resolve_scanners(scanners)
    centers = [int(c) for c in centers]
    unknown = [c for c in centers if c not in table]
    if unknown:
        raise ValueError(f"centers: no scanner settings for centre(s) {unknown} (cohort.twin.imaging.scanners has "
                         f"{sorted(table)})")
    pheno = resolve_phenotype(phenotype)
    frame = travelling_latents(n, seed, modality, latents, phenotype)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [(r, c, s) for r in frame.to_dict("records") for c in centers for s in range(1, int(scans) + 1)]
    tasks = [delayed(_scan_one)(r, modality, c, s, table, pheno, int(seed), out_dir) for r, c, s in keys]
    results = _run_parallel(tasks, n_jobs, progress, f"{modality} travelling lesions")
    return pd.DataFrame({
        "lesion": [r["lesion"] for r, _, _ in keys],
        "center": [c for _, c, _ in keys],
        "scan": [s for _, _, s in keys],
        "image": [str(Path(p["image"]).relative_to(out_dir)) for p in results],
        "mask": [str(Path(p["mask"]).relative_to(out_dir)) for p in results],
    }, columns=SCAN_COLUMNS)

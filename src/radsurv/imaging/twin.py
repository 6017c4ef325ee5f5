"""The imaging half of the digital-twin cohort: write every patient's US and MRI files.

Layout written under ``out_dir``::

    out_dir/us/<patient_id>_image.nii.gz     2D B-mode, uint8
    out_dir/us/<patient_id>_mask.nii.gz      true lesion mask, uint8 0/1
    out_dir/us/<patient_id>_reader.nii.gz    a reader's mask, uint8 0/1
    out_dir/mri/<patient_id>_image.nii.gz    3D DCE subtraction, int16
    out_dir/mri/<patient_id>_mask.nii.gz
    out_dir/mri/<patient_id>_reader.nii.gz

Development (segmentation-training) sets are written flat into their own folder
(``<out_dir>/<id>_image.nii.gz`` ...).

Paths in the returned tables are POSIX strings relative to ``root`` (default: the
parent of ``out_dir``, where the manifest is expected to live; the input contract says
manifest paths are relative to the manifest).

Reproducibility: each patient's random stream is derived from ``(seed, patient_id,
modality)`` alone, so results do not depend on ``n_jobs``, on the order of the rows or
on which other patients are simulated; NIfTI files are written with gzip headers that
carry no timestamp (checked by the tests), so the same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import SimpleITK as sitk
from joblib import Parallel, delayed
from ..progress import tqdm

from .scanners import resolve_phenotype, resolve_scanners
from .simulate_mri import simulate_mri
from .simulate_us import simulate_us

__all__ = ["DEFAULT_DEVELOPMENT_LATENTS", "DEFAULT_DEVELOPMENT_SIZES", "devset_latents", "MODALITIES",
           "patient_rng", "write_case", "write_cohort_images", "write_devset"]

MODALITIES = ("us", "mri")
_SIMULATORS = {"us": simulate_us, "mri": simulate_mri}
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")

#: Development-set sizes of the study (segmentation training, no outcome).
DEFAULT_DEVELOPMENT_SIZES: dict[str, int] = {"us": 620, "mri": 249}

#: Latent distribution of development-set patients (mirrors the cohort twin's
#: defaults in params: a, b standard normal with correlation 0.3; log-normal size).
#: ``{"h": True}`` among the overrides also draws the image-only trait (``h_img``,
#: standard normal, from a stream of its own), as the cohort's twin does with
#: ``cohort.twin.latent.h``.
DEFAULT_DEVELOPMENT_LATENTS: dict[str, float] = {
    "rho_ab": 0.3,
    "median_mm": 22.0,
    "log_sd": 0.38,
    "a_effect": 0.15,
    "min_mm": 6.0,
    "max_mm": 75.0,
}


def patient_rng(seed: int, patient_id: str, modality: str) -> np.random.Generator:
    """The random generator of one patient's image of one modality.

    Parameters
    ----------
    seed
        Run seed.
    patient_id
        Patient identifier (any string).
    modality
        ``"us"`` or ``"mri"`` (or any tag: development sets use their own).

    Returns
    -------
    numpy.random.Generator
        Seeded from a SHA-256 digest of the three, so it does not depend on Python's
        salted ``hash`` or on the patient's position in the table.
    """
    digest = hashlib.sha256(f"{int(seed)}|{patient_id}|{modality}".encode()).digest()
    words = np.frombuffer(digest, dtype="<u4")
    return np.random.default_rng(np.random.SeedSequence(words.tolist()))


def _file_stem(patient_id: str) -> str:
    """A file-name-safe version of a patient id (other characters become ``_``)."""
    return _SAFE_ID.sub("_", str(patient_id))


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string (``..`` allowed)."""
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def write_case(case, folder: Path, stem: str) -> dict[str, Path]:
    """Write a :class:`SimulatedCase` as three compressed NIfTI files.

    Parameters
    ----------
    case
        The simulated case.
    folder
        Destination folder (created if needed).
    stem
        File name stem (``<stem>_image.nii.gz``, ``_mask``, ``_reader``).

    Returns
    -------
    dict
        ``image``, ``mask``, ``reader_mask`` -> absolute paths.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "image": folder / f"{stem}_image.nii.gz",
        "mask": folder / f"{stem}_mask.nii.gz",
        "reader_mask": folder / f"{stem}_reader.nii.gz",
    }
    for key, image in (("image", case.image), ("mask", case.true_mask), ("reader_mask", case.reader_mask)):
        # replace, never write through: a file already there may be a hard link into
        # the image cache (radsurv.imaging.cache), which must not change
        paths[key].unlink(missing_ok=True)
        sitk.WriteImage(image, str(paths[key]), True)
    return paths


def _simulate_and_write(
    patient: dict[str, Any],
    modalities: Iterable[str],
    folders: dict[str, Path],
    flat: bool,
    scanners: dict,
    phenotype: dict,
    seed: int,
    stream: str,
) -> dict[str, Path]:
    """Worker: simulate one patient's images and write them (runs in a joblib process).

    Parameters
    ----------
    patient
        ``patient_id``, ``center``, ``a_img``, ``b_img``, ``size_mm``, and ``h_img``
        when the twin draws the image-only trait.
    modalities
        Which modalities to make.
    folders
        Output folder per modality.
    flat
        Column names without the modality prefix (development sets).
    scanners, phenotype
        Resolved settings.
    seed
        Run seed.
    stream
        Tag mixed into the patient's seed (the modality, or a development-set tag).

    Returns
    -------
    dict
        Column -> absolute path.
    """
    # One process per core already: stop ITK from spawning threads of its own while
    # writing (restored afterwards, since with n_jobs=1 this runs in the caller).
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        return _simulate_patient(patient, modalities, folders, flat, scanners, phenotype, seed, stream)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def _simulate_patient(patient, modalities, folders, flat, scanners, phenotype, seed, stream) -> dict[str, Path]:
    """Body of :func:`_simulate_and_write` (same parameters and result)."""
    pid = str(patient["patient_id"])
    center = int(patient["center"])
    out: dict[str, Path] = {}
    for modality in modalities:
        rng = patient_rng(seed, pid, f"{stream}{modality}")
        scanner = dict(scanners.get(center, scanners[2])[modality], center=center)
        extra = {"bpe_category": patient["mri_bpe"]} if modality == "mri" and isinstance(
            patient.get("mri_bpe"), str) else {}
        if "h_img" in patient:  # the image-only trait, when the twin draws it
            extra["h"] = float(patient["h_img"])
        case = _SIMULATORS[modality](
            float(patient["a_img"]), float(patient["b_img"]), float(patient["size_mm"]), scanner, rng,
            phenotype=phenotype, **extra
        )
        paths = write_case(case, folders[modality], _file_stem(pid))
        prefix = "" if flat else f"{modality}_"
        for key, path in paths.items():
            out[f"{prefix}{key}"] = path
    return out


def _run_parallel(tasks: list, n_jobs: int, progress: bool, description: str) -> list:
    """Run delayed tasks with joblib, in order, with a tqdm bar."""
    results = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)(tasks)
    return list(tqdm(results, total=len(tasks), desc=description, disable=not progress, leave=False))


def write_cohort_images(
    latents: pd.DataFrame,
    out_dir: str | Path,
    scanners: dict | None = None,
    seed: int | None = None,
    n_jobs: int = -1,
    progress: bool = True,
    *,
    root: str | Path | None = None,
    phenotype: dict | None = None,
    modalities: Iterable[str] = MODALITIES,
) -> pd.DataFrame:
    """Simulate and write one US and one MRI study per patient.

    Parameters
    ----------
    latents
        One row per patient: ``patient_id``, ``center``, ``a_img``, ``b_img``,
        ``size_mm`` (what the images see; in the null profile these are independent
        of the hazard, which this function neither knows nor needs), and optionally
        ``h_img``, the image-only trait, and ``mri_bpe``, the BI-RADS background
        enhancement the MRI shows.
    out_dir
        Folder to write into (``us/`` and ``mri/`` are created inside).
    scanners
        Per-centre scanner overrides (see :func:`radsurv.imaging.scanners.resolve_scanners`).
    seed
        Run seed (required).
    n_jobs
        joblib workers (-1: all cores). Results do not depend on it.
    progress
        Show a tqdm progress bar.
    root
        Paths are written relative to this folder (default: ``out_dir``'s parent).
    phenotype
        Overrides of :data:`radsurv.imaging.scanners.DEFAULT_PHENOTYPE`.
    modalities
        Subset of ``("us", "mri")`` to write.

    Returns
    -------
    DataFrame
        ``patient_id, us_image, us_mask, us_reader_mask, mri_image, mri_mask,
        mri_reader_mask`` in the order of ``latents`` (paths relative to ``root``).
    """
    if seed is None:
        raise TypeError("write_cohort_images needs a seed")
    required = {"patient_id", "center", "a_img", "b_img", "size_mm"}
    missing = required - set(latents.columns)
    if missing:
        raise ValueError(f"latents lack column(s): {sorted(missing)}")
    if latents["patient_id"].duplicated().any():
        raise ValueError("latents have duplicate patient_id values")
    stems = latents["patient_id"].astype(str).map(_file_stem)
    if stems.duplicated().any():
        raise ValueError("patient ids collide once made file-name safe")
    modalities = tuple(modalities)
    out_dir = Path(out_dir)
    root = Path(root) if root is not None else out_dir.parent
    folders = {m: out_dir / m for m in modalities}
    table = resolve_scanners(scanners)
    pheno = resolve_phenotype(phenotype)
    records = latents[["patient_id", "center", "a_img", "b_img", "size_mm",
                       *(["h_img"] if "h_img" in latents else []),
                       *(["mri_bpe"] if "mri_bpe" in latents else [])]].to_dict("records")
    tasks = [
        delayed(_simulate_and_write)(r, modalities, folders, False, table, pheno, int(seed), "") for r in records
    ]
    results = _run_parallel(tasks, n_jobs, progress, "twin images")
    columns = [f"{m}_{k}" for m in modalities for k in ("image", "mask", "reader_mask")]
    frame = pd.DataFrame({"patient_id": latents["patient_id"].to_numpy()})
    for column in columns:
        frame[column] = [_relative(r[column], root) for r in results]
    return frame


def devset_latents(
    n: int,
    seed: int,
    modality: str,
    centers: dict[int, float] | Iterable[int] = (1,),
    latents: dict | None = None,
) -> pd.DataFrame:
    """Latents of segmentation-development patients (no outcome).

    Drawn from the same distributions as the cohort (``a``, ``b`` standard normal
    with correlation ``rho_ab``; size log-normal, larger when aggressive).

    Parameters
    ----------
    n
        Number of patients.
    seed
        Run seed.
    modality
        ``"us"`` or ``"mri"`` (each set has its own patients and stream).
    centers
        Centres to draw from: a list (equal weights) or ``{centre: weight}``. The
        default is centre 1 only: the segmenters are developed at the internal
        centre, so the external centres also test them under scanner shift.
    latents
        Overrides of :data:`DEFAULT_DEVELOPMENT_LATENTS`.

    Returns
    -------
    DataFrame
        ``patient_id, center, a_img, b_img, size_mm`` (and ``h_img`` with the trait).
    """
    spec = {**DEFAULT_DEVELOPMENT_LATENTS, **(latents or {})}
    weights = dict(centers) if isinstance(centers, dict) else {int(c): 1.0 for c in centers}
    codes = np.array(sorted(int(c) for c in weights))
    probs = np.array([float(weights[c]) for c in codes])
    rng = patient_rng(seed, "development-latents", modality)
    rho = float(spec["rho_ab"])
    a, b = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n).T
    size = np.exp(np.log(spec["median_mm"]) + spec["a_effect"] * a + spec["log_sd"] * rng.standard_normal(n))
    frame = pd.DataFrame(
        {
            "patient_id": [f"DEV{modality.upper()}{i + 1:04d}" for i in range(n)],
            "center": rng.choice(codes, size=n, p=probs / probs.sum()),
            "a_img": a,
            "b_img": b,
            "size_mm": np.clip(size, spec["min_mm"], spec["max_mm"]),
        }
    )
    if spec.get("h"):
        frame["h_img"] = patient_rng(seed, "development-trait", modality).standard_normal(n)
    return frame


def write_devset(
    modality: str,
    n: int,
    out_dir: str | Path,
    scanners: dict | None = None,
    seed: int | None = None,
    n_jobs: int = -1,
    progress: bool = True,
    *,
    root: str | Path | None = None,
    centers: dict[int, float] | Iterable[int] = (1,),
    latents: dict | None = None,
    phenotype: dict | None = None,
) -> pd.DataFrame:
    """Write a segmentation-development set of one modality (patients without outcome).

    Parameters
    ----------
    modality
        ``"us"`` or ``"mri"``.
    n
        Number of patients (the study: 620 US, 249 MRI).
    out_dir
        Folder to write into (files ``<id>_image.nii.gz``, ``_mask``, ``_reader``).
    scanners
        Per-centre scanner overrides.
    seed
        Run seed (required); the development streams never overlap the cohort's.
    n_jobs
        joblib workers (-1: all cores).
    progress
        Show a tqdm progress bar.
    root
        Paths are written relative to this folder (default: ``out_dir``'s parent).
    centers
        Centres of the development patients (default: centre 1 only; see
        :func:`devset_latents`).
    latents
        Overrides of :data:`DEFAULT_DEVELOPMENT_LATENTS`.
    phenotype
        Overrides of the phenotype parameters.

    Returns
    -------
    DataFrame
        ``patient_id, center, size_mm, image, mask, reader_mask`` (paths relative to
        ``root``).
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, not {modality!r}")
    if seed is None:
        raise TypeError("write_devset needs a seed")
    out_dir = Path(out_dir)
    root = Path(root) if root is not None else out_dir.parent
    frame = devset_latents(n, int(seed), modality, centers, latents)
    table = resolve_scanners(scanners)
    pheno = resolve_phenotype(phenotype)
    tasks = [
        delayed(_simulate_and_write)(r, (modality,), {modality: out_dir}, True, table, pheno, int(seed), "development-")
        for r in frame.to_dict("records")
    ]
    results = _run_parallel(tasks, n_jobs, progress, f"{modality} development set")
    out = frame[["patient_id", "center", "size_mm"]].copy()
    for column in ("image", "mask", "reader_mask"):
        out[column] = [_relative(r[column], root) for r in results]
    return out

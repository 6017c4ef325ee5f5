"""The regions of every patient: the analysis mask's lesion and peri-tumoral ring, and for
the reproducibility subset the same regions from other masks.

* :func:`example_patient` and :func:`example_regions`: one patient's regions, built in
  memory as the pipeline builds them (:class:`radsurv.roi.Regions`), to look at.
* :func:`reproducibility_subset`: the seeded training patients whose regions are also
  built from the reader's mask, the true mask (digital twin) and perturbed masks.
* :func:`build_cases`: every region of every patient, written to ``rois/`` (the
  extraction's cache is keyed by the files' content), with the share of each analysis
  ring cut off at the image border (:class:`CohortRegions`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import numpy as np
import pandas as pd
import SimpleITK as sitk

from ..labels import ANALYSIS_MASK, MODALITIES
from ..seeds import STREAM_REPRODUCIBILITY
from .extract import Case

__all__ = ["CohortRegions", "build_cases", "example_patient", "example_regions", "region_files", "reproducibility_subset"]

#: Columns of :attr:`CohortRegions.clipping`.
CLIPPING_COLUMNS = ["patient", "modality", "ring_clipped_fraction"]


class CohortRegions(NamedTuple):
    """What :func:`build_cases` built: unpack it as ``cases, failures, subset, clipping``."""

    cases: list[Case]  # one extraction case per patient and modality
    failures: pd.DataFrame  # patient, modality, region, mask_source, reason
    subset: list[str]  # the reproducibility subset's patient ids, sorted
    clipping: pd.DataFrame  # patient, modality, ring_clipped_fraction: the analysis ring's share cut off at the border


def example_patient(cohort: pd.DataFrame, masks: pd.DataFrame) -> str:
    """The patient the walkthrough shows: the first training patient, by position in the
    cohort, with an analysis mask in every modality that any patient has one in (else
    the first training patient with any analysis mask).

    Parameters
    ----------
    cohort : DataFrame
        ``patient_id``, ``split``.
    masks : DataFrame
        The analysis masks (``patient_id``, ``modality``).

    Returns
    -------
    str
        The patient's identifier (for the code only: never print it).

    Raises
    ------
    ValueError
        If no training patient has an analysis mask.
    """
    modalities = set(masks["modality"])
    have = masks.groupby("patient_id")["modality"].agg(set)
    train = [p for p in cohort.loc[cohort["split"] == "train", "patient_id"] if p in have.index]
    if not train:
        raise ValueError("no training patient has an analysis mask")
    return next((p for p in train if have[p] >= modalities), train[0])


def example_regions(cohort: pd.DataFrame, masks: pd.DataFrame, patient: str,
                    params: Mapping[str, Any]) -> dict[str, Any]:
    """One patient's regions per modality, built in memory as :func:`build_cases` builds
    the analysis regions (same functions, same width and air threshold).

    Parameters
    ----------
    cohort : DataFrame
        ``patient_id`` and ``<modality>_image``.
    masks : DataFrame
        The analysis masks (``patient_id``, ``modality``, ``mask``).
    patient : str
        The patient.
    params : mapping
        The ``features`` section (``ring_width_mm``, ``air_threshold``).

    Returns
    -------
    dict
        Modality -> :class:`radsurv.roi.Regions`, in the order of ``MODALITIES``.
    """
    from ..imaging.io import read_image
    from ..roi import Regions

    row = cohort.set_index("patient_id").loc[patient]
    mine = masks[masks["patient_id"] == patient].set_index("modality")
    out = {}
    for m in MODALITIES:
        if m in mine.index:
            image = read_image(Path(row[f"{m}_image"]))
            mask = sitk.ReadImage(str(mine.loc[m, "mask"]))
            out[m] = Regions.build(image, mask, float(params["ring_width_mm"]), params["air_threshold"][m])
    return out


def reproducibility_subset(cohort: pd.DataFrame, masks: pd.DataFrame, n: int, seed: int) -> list[str]:
    """Seeded random training patients whose analysis masks are the U-Net's in every
    modality (so that auto-vs-reader agreement measures the U-Net, not a fallback), or,
    when the profile keeps the cohort's own masks, the user's in every modality (then
    only the perturbation ICC is measured: the reader's mask is the analysis mask).

    Parameters
    ----------
    cohort : DataFrame
        ``patient_id``, ``split``.
    masks : DataFrame
        The analysis masks (:meth:`~radsurv.stages.readers.SegmentationOutputs.analysis_masks`):
        ``patient_id``, ``source``.
    n : int
        Patients wanted (fewer when fewer are eligible).
    seed : int
        The run's seed (the subset's stream is ``[seed, STREAM_REPRODUCIBILITY]``).
    """
    train = set(cohort.loc[cohort["split"] == "train", "patient_id"])
    one_kind = masks.groupby("patient_id")["source"].agg(
        lambda s: bool((s == "auto").all() or (s == "user").all()))
    eligible = sorted(p for p in train if one_kind.get(p, False))
    if n <= 0 or not eligible:
        return []
    rng = np.random.default_rng([int(seed), STREAM_REPRODUCIBILITY])
    chosen = rng.choice(len(eligible), size=min(n, len(eligible)), replace=False)
    return sorted(eligible[i] for i in chosen)


def region_files(patient: str, modality: str, source: str, mask_path: str, out_dir: Path, ring_width_mm: float,
                 perturb: dict | None = None, image_path: str | None = None,
                 air_threshold: float | None = None) -> tuple[dict[tuple[str, str], str], float | None]:
    """Write the intra-tumoral mask and its ring for one (patient, modality, source).
    Returns their paths and, for the analysis mask, the share of the ring cut off at the
    image border (imaging.ring_at_border: clip)."""
    from ..roi import intratumoral, peritumoral_ring, ring_clipped_fraction
    from .robustness import perturb_mask

    folder = out_dir / "rois" / modality
    intra_path = folder / f"{patient}_{source}_intra.nii.gz"
    peri_path = folder / f"{patient}_{source}_peri.nii.gz"
    # Always rebuilt (a few ms each): a region left by an interrupted run with other
    # settings must never be reused. Features are what is cached, by content.
    mask = sitk.ReadImage(str(mask_path))
    intra = intratumoral(mask)
    if perturb is not None:
        # A smooth in-and-out jitter of the contour, sized in mm so that ultrasound
        # (0.1-0.2 mm pixels) and MRI (1-3 mm voxels) are perturbed alike; a one-voxel
        # erosion would be negligible in one and coarse in the other.
        finest = min(intra.GetSpacing())
        intra = perturb_mask(intra, np.random.default_rng(list(perturb["seed"])), kind="jitter",
                             jitter_voxels=perturb["jitter_mm"] / finest,
                             smoothness_voxels=perturb["smoothness_mm"] / finest)
    image = sitk.ReadImage(str(image_path)) if air_threshold is not None else None
    peri = peritumoral_ring(intra, ring_width_mm, image=image, air_threshold=air_threshold)
    folder.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name first: an interrupted run never leaves half a file.
    for image, path in ((intra, intra_path), (peri, peri_path)):
        tmp = path.with_name(path.name.replace(".nii.gz", ".tmp.nii.gz"))
        sitk.WriteImage(image, str(tmp), True)
        os.replace(tmp, path)
    clipped = ring_clipped_fraction(intra, ring_width_mm) if source == ANALYSIS_MASK else None
    return {("intra", source): str(intra_path), ("peri", source): str(peri_path)}, clipped


def _regions_for(job: dict, out_dir: Path, ring_width_mm: float, air_threshold: Mapping[str, Any]) -> dict:
    """Regions of one (patient, modality) for every mask source; errors are returned."""
    masks: dict[tuple[str, str], str] = {}
    failures = []
    clipped = None
    for source, path, perturb in job["sources"]:
        try:
            paths, cut = region_files(job["patient"], job["modality"], source, path, out_dir, ring_width_mm,
                                      perturb, job["image"], air_threshold[job["modality"]])
            masks.update(paths)
            if cut is not None:
                clipped = cut
        except Exception as error:  # noqa: BLE001 - reported per patient, region and source
            for region in ("intra", "peri"):
                failures.append({"patient": job["patient"], "modality": job["modality"], "region": region,
                                 "mask_source": source, "reason": f"region: {type(error).__name__}: {error}"})
    return {"masks": masks, "failures": failures, "ring_clipped": clipped}


def build_cases(cohort: Any, seg: Any, truth: pd.DataFrame | None,
                params: Mapping[str, Any], seed: int, out_dir: Path, n_jobs: int = 1,
                progress: bool = True) -> CohortRegions:
    """Region masks of every patient (and the reproducibility subset's other sources).

    Parameters
    ----------
    cohort, seg : CohortOutputs, SegmentationOutputs
        The outputs of the cohort and segmentation stages (``radsurv.stages.readers``).
    truth : DataFrame or None
        The twin's true masks (``read_truth``): the subset's regions from the truth.
    params : mapping
        The ``features`` section.

    Returns
    -------
    CohortRegions
        The extraction cases (one per patient and modality), the failures of region
        building, the subset's patient ids and the share of each analysis ring cut off at
        the image border (0: it fits).
    """
    import joblib
    from ..progress import tqdm

    rep = params["reproducibility"]
    masks = seg.analysis_masks()
    subset = set(reproducibility_subset(cohort.data, masks, int(rep["n"]), seed))
    true = truth.set_index("patient_id") if truth is not None else None
    c = cohort.data.set_index("patient_id")
    place = {pid: k for k, pid in enumerate(sorted(subset))}
    jobs = []
    for row in masks.itertuples(index=False):
        m = row.modality
        sources = [(ANALYSIS_MASK, row.mask, None)]
        if row.patient_id in subset:
            if row.source == "auto":  # a user's mask is the reader's: nothing to compare
                sources.append(("reader", c.loc[row.patient_id, f"{m}_mask"], None))
            if true is not None:
                sources.append(("true", true.loc[row.patient_id, f"{m}_true_mask"], None))
            k = place[row.patient_id]
            for j in range(int(rep["perturbations"])):
                # Seeded by (run seed, patient's place in the subset, modality, draw).
                sources.append((f"perturbed{j + 1}", row.mask, {
                    "seed": (int(seed), k, int(m == "mri"), j),
                    "jitter_mm": float(rep["jitter_mm"]),
                    "smoothness_mm": float(rep["smoothness_mm"])}))
        jobs.append({"patient": row.patient_id, "modality": m, "image": c.loc[row.patient_id, f"{m}_image"],
                     "sources": sources})
    outputs = joblib.Parallel(n_jobs=n_jobs, backend="loky", return_as="generator", batch_size=4)(
        joblib.delayed(_regions_for)(job, out_dir, float(params["ring_width_mm"]), params["air_threshold"])
        for job in jobs)
    outputs = list(tqdm(outputs, total=len(jobs), disable=not progress, desc="regions", unit="image"))
    cases, failures, clipping = [], [], []
    for job, out in zip(jobs, outputs):
        failures.extend(out["failures"])
        if out["masks"]:
            cases.append(Case(job["patient"], job["modality"], job["image"], out["masks"]))
        if out["ring_clipped"] is not None:
            clipping.append({"patient": job["patient"], "modality": job["modality"],
                             "ring_clipped_fraction": out["ring_clipped"]})
    return CohortRegions(cases, pd.DataFrame(failures, columns=["patient", "modality", "region", "mask_source", "reason"]),
                         sorted(subset), pd.DataFrame(clipping, columns=CLIPPING_COLUMNS))

"""The signatures developed again on other regions: the mask they come from (the
analysis masks, the reader's, the simulation's truth) and the width of the peri-tumoral
ring.

The study's central claim is that automatic segmentation serves as well as a reader's.
Here it becomes a test: the same patients, sets, selection and seed, only the masks
differ, and the signatures' test-set C and the features they select are compared. The
ring-width sweep asks how much the peri-tumoral signatures depend on the pre-specified
width (choosing the best width on test data would be leakage; the paper keeps its
width and reports the sweep).

What makes this affordable on two cores: every variant of one image is built and
extracted in one worker, so the image is read and filtered once (PyRadiomics' filters
through :class:`radsurv.features.extract.SharedFilterExtractor`); the regions exist only
in memory; features go to 02's content-addressed cache, so a second run extracts
nothing; and the variants are extracted with a declared reduced set of image types (by
default the original image only), applied to the analysis masks too so that every
comparison is like for like.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from ..features.extract import Case, _collect, extract_case, params_hash, read_params, wide_matrix
from ..labels import ANALYSIS_MASK, region_prefix

__all__ = ["SOURCE_LABELS", "common_patients", "extract_variants", "jaccard", "ring_source", "selected_features",
           "variant_jobs", "variant_matrix"]

#: The mask sources compared, as the paper names them.
SOURCE_LABELS: dict[str, str] = {ANALYSIS_MASK: "Automatic (the analysis masks)", "reader": "Reader",
                                 "true": "True lesion (simulation)"}


def ring_source(width_mm: float) -> str:
    """The mask-source name of the analysis mask's ring at ``width_mm`` (``ring3mm``)."""
    return f"ring{float(width_mm):g}mm"


def variant_jobs(analysis: pd.DataFrame, images: Mapping[tuple[str, str], str],
                 other_masks: Mapping[str, Mapping[tuple[str, str], str]], widths_mm: Sequence[float]
                 ) -> list[dict[str, Any]]:
    """One job per (patient, modality): the image and the masks to build regions from.

    Parameters
    ----------
    analysis : DataFrame
        The analysis masks: ``patient_id``, ``modality``, ``mask``.
    images : mapping
        ``(patient, modality) -> image path``.
    other_masks : mapping
        Source name (``reader``, ``true``) -> ``(patient, modality) -> mask path``; a
        patient without one is left out of that source.
    widths_mm : sequence of float
        Ring widths of the sweep (built around the analysis mask).
    """
    jobs = []
    for row in analysis.itertuples(index=False):
        key = (row.patient_id, row.modality)
        sources = {ANALYSIS_MASK: row.mask}
        for name, masks in other_masks.items():
            if masks.get(key):
                sources[name] = masks[key]
        jobs.append({"patient": row.patient_id, "modality": row.modality, "image": images[key],
                     "sources": sources, "widths": [float(w) for w in widths_mm]})
    return jobs


def _build_and_extract(job: Mapping[str, Any], ring_width_mm: float, air_threshold: float | None,
                       params: Mapping[str, Any], digest: str, cache_dir: str | None) -> dict[str, Any]:
    """Regions of every source (intra + ring at the analysis width) and the sweep's rings
    of the analysis mask, in memory; then their features (cache first)."""
    import SimpleITK as sitk

    from ..roi import intratumoral, peritumoral_ring, peritumoral_rings

    image = sitk.ReadImage(str(job["image"])) if air_threshold is not None else None
    masks: dict[tuple[str, str], Any] = {}
    failures = []
    for source, path in job["sources"].items():
        try:
            intra = intratumoral(sitk.ReadImage(str(path)))
            masks[("intra", source)] = intra
            masks[("peri", source)] = peritumoral_ring(intra, ring_width_mm, image=image,
                                                        air_threshold=air_threshold)
            if source == ANALYSIS_MASK and job["widths"]:
                extra = [w for w in job["widths"] if w != float(ring_width_mm)]
                if extra:
                    rings = peritumoral_rings(intra, extra, image=image, air_threshold=air_threshold)
                    for w, ring in rings.items():
                        masks[("peri", ring_source(w))] = ring
        except Exception as error:  # noqa: BLE001 - reported per patient, modality and source
            failures.append({"patient": job["patient"], "modality": job["modality"], "region": "intra+peri",
                             "mask_source": source, "reason": f"region: {type(error).__name__}: {error}"})
    case = Case(job["patient"], job["modality"], str(job["image"]), masks)
    out = extract_case(case, params, digest, cache_dir) if masks else {
        "rows": [], "failures": [], "n_extracted": 0, "n_cached": 0, "timings": {}}
    out["failures"] = failures + out["failures"]
    return out


def extract_variants(jobs: Sequence[Mapping[str, Any]], params: Mapping[str, Mapping[str, Any]],
                     ring_width_mm: float, air_threshold: Mapping[str, float | None], cache_dir=None,
                     n_jobs: int = 1, progress: bool = True):
    """Features of every variant region, one worker per (patient, modality).

    Parameters
    ----------
    jobs : sequence of dict
        From :func:`variant_jobs`.
    params : mapping
        Modality -> PyRadiomics parameters (the reduced set).
    ring_width_mm : float
        The analysis's ring width (every source's ring).
    air_threshold : mapping
        Modality -> the profile's air threshold of the ring (or None).
    cache_dir : path, optional
        The features cache (``build/<profile>/cache/features``).

    Returns
    -------
    ExtractionResult
        Tidy features (``mask_source``: ``auto``, ``reader``, ``true``, ``ring<w>mm``) and failures.
    """
    import joblib

    from ..progress import tqdm

    prepared = {m: (read_params(p), params_hash(p)) for m, p in params.items()}
    calls = (joblib.delayed(_build_and_extract)(job, float(ring_width_mm), air_threshold.get(job["modality"]),
                                                *prepared[job["modality"]],
                                                None if cache_dir is None else str(cache_dir))
             for job in jobs)
    outputs = list(tqdm(joblib.Parallel(n_jobs=n_jobs, backend="loky", return_as="generator", batch_size=1)(calls),
                        total=len(jobs), disable=not progress, desc="variant regions", unit="image"))
    return _collect(outputs, "skip")


def variant_matrix(tidy: pd.DataFrame, sources: Mapping[tuple[str, str], str],
                   patients: Sequence[str] | None = None) -> pd.DataFrame:
    """Patients x features with 03's column names (``<modality>_<region>__<feature>``),
    each (modality, region) block taken from the mask source ``sources`` names.

    Parameters
    ----------
    tidy : DataFrame
        Tidy features (``patient, modality, region, mask_source, feature, value``).
    sources : mapping
        ``(modality, region) -> mask_source``.
    patients : sequence of str, optional
        Keep these patients (default: those with every block).
    """
    frames = [wide_matrix(tidy, modality, region, source).add_prefix(region_prefix(modality, region))
              for (modality, region), source in sources.items()]
    X = pd.concat(frames, axis=1, join="inner")
    X.index = X.index.astype(str)
    X.index.name = "patient_id"
    if patients is not None:
        X = X.loc[[p for p in patients if p in X.index]]
    return X.sort_index()


def selected_features(predictor: Any) -> set[str]:
    """The features a developed signature uses (a stacked signature: its components')."""
    if hasattr(predictor, "coef_"):
        return set(predictor.coef_.index)
    if hasattr(predictor, "components"):
        used = getattr(predictor, "used_", list(predictor.components))
        return set().union(*(set(predictor.components[c].coef_.index) for c in used)) if used else set()
    raise TypeError(f"not a signature: {type(predictor).__name__}")


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b| (1 when both are empty)."""
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def common_patients(tidy: pd.DataFrame, blocks: Sequence[tuple[str, str]], sources: Sequence[str]) -> list[str]:
    """Patients with features for every block from every source (the same patients for
    every comparison)."""
    keep: set[str] | None = None
    for modality, region in blocks:
        for source in sources:
            have = set(tidy.loc[(tidy["modality"] == modality) & (tidy["region"] == region)
                                & (tidy["mask_source"] == source), "patient"].astype(str))
            keep = have if keep is None else keep & have
    return sorted(keep or [])

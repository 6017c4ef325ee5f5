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

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from ..features.extract import Case, _collect, extract_case, params_hash, read_params, wide_matrix
from ..labels import ANALYSIS_MASK, SPLIT_LABELS, region_prefix
from ..results import ShowsItself, new_axes
from .permutation import TEST_SETS
from .reported import REPORTED_SIGNATURES, reported_label, reported_scores

__all__ = ["RING_WIDTH_SIGNATURES", "SOURCE_LABELS", "MaskSources", "RingWidths", "VariantExtraction",
           "common_patients", "develop_variant", "extract_region_variants", "extract_variants", "jaccard",
           "ring_source", "selected_features", "variant_jobs", "variant_masks", "variant_matrix",
           "variant_settings"]

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
                     n_jobs: int = 1, progress: bool = True, scheduler=None):
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
        The features cache (``build/<profile>/cache/features``; on a cluster, a folder
        every worker reaches, or None).
    n_jobs : int
        Local processes (ignored with a scheduler).
    progress : bool
        A progress bar.
    scheduler : str, distributed.Client or None
        A Dask scheduler address or client: the images run on its workers
        (:mod:`radsurv.compute`); None: locally.

    Returns
    -------
    ExtractionResult
        Tidy features (``mask_source``: ``auto``, ``reader``, ``true``, ``ring<w>mm``) and failures.
    """
    from ..compute import run_tasks

    prepared = {m: (read_params(p), params_hash(p)) for m, p in params.items()}
    tasks = [{"job": job, "air_threshold": air_threshold.get(job["modality"]),
              "params": prepared[job["modality"]][0], "digest": prepared[job["modality"]][1]} for job in jobs]
    shared = {"ring_width_mm": float(ring_width_mm), "cache_dir": None if cache_dir is None else str(cache_dir)}
    outputs = run_tasks(_build_and_extract, tasks, shared, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
                        desc="variant regions", unit="image")
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


#: The signatures the ring-width figure shows (the peri-tumoral ones and the multi-modal one).
RING_WIDTH_SIGNATURES = ("us_peri", "mri_peri", "multimodal")


def variant_settings(features_profile: Mapping[str, Any], params: Mapping[str, Any], root) -> dict[str, dict]:
    """Each modality's PyRadiomics settings with the declared reduced set of image types
    and feature classes (``sensitivity.variants.image_types`` and ``feature_classes``).

    Parameters
    ----------
    features_profile : mapping
        The profile's ``features`` section (its parameter files).
    params : mapping
        The ``sensitivity.variants`` section.
    root : path
        The project root (the profile's relative paths).
    """
    from ..features.extract import extraction_params

    settings = {}
    for m, file in extraction_params(features_profile, root).items():
        s = read_params(file)
        if params["image_types"][m] is not None:
            s["imageType"] = {k: (v or {}) for k, v in params["image_types"][m].items()}
        classes = params["feature_classes"][m]
        if classes is not None:
            s["featureClass"] = {c: None for c in classes}
        settings[m] = s
    return settings


def variant_masks(data: pd.DataFrame, images: Mapping[tuple[str, str], str], truth: pd.DataFrame | None,
                  sources: Sequence[str], user_masks: bool) -> dict[str, dict]:
    """The other masks of each (patient, modality): the reader's (the manifest's masks,
    unless they are the analysis masks themselves) and the true masks (the twin's truth).

    Parameters
    ----------
    data : DataFrame
        The cohort, indexed by patient (``<modality>_mask`` columns).
    images : mapping
        ``(patient, modality) -> image path`` of the analysis masks' images.
    truth : DataFrame or None
        The twin's truth (``<modality>_true_mask``); None for a real cohort.
    sources : sequence of str
        The sources asked for (``reader``, ``true``).
    user_masks : bool
        Whether the analysis masks are the manifest's (then there is no other reader).
    """
    others: dict[str, dict] = {}
    if "reader" in sources and not user_masks:
        others["reader"] = {(p, m): data.loc[p, f"{m}_mask"] for p, m in images
                            if f"{m}_mask" in data and isinstance(data.loc[p, f"{m}_mask"], str)}
    if "true" in sources and truth is not None:
        t = truth.set_index("patient_id")
        others["true"] = {(p, m): t.loc[p, f"{m}_true_mask"] for p, m in images
                          if p in t.index and f"{m}_true_mask" in t}
    return others


@dataclass(frozen=True, repr=False)
class VariantExtraction(ShowsItself):
    """The features of every variant region (:func:`extract_region_variants`).

    Attributes
    ----------
    features : DataFrame
        Tidy features (``patient, modality, region, mask_source, feature, value``).
    failures : DataFrame
        The regions that could not be built or extracted, with why.
    sources : tuple of str
        The mask sources compared (the analysis masks first).
    widths : tuple of float
        The ring widths of the sweep.
    ring_mm : float
        The pre-specified ring width (the analysis's).
    modalities : tuple of str
    patients : tuple of str
        The patients every source and every ring has (every comparison is on them).
    image_types, feature_classes : dict
        Per modality, the reduced set extracted.
    n_extracted, n_cached : int
        Regions extracted now and read from 02's feature cache.
    """

    features: pd.DataFrame
    failures: pd.DataFrame
    sources: tuple
    widths: tuple
    ring_mm: float
    modalities: tuple
    patients: tuple
    image_types: dict
    feature_classes: dict
    n_extracted: int
    n_cached: int

    @property
    def blocks(self) -> list[tuple[str, str]]:
        """The (modality, region) blocks of the feature matrix."""
        return [(m, r) for m in self.modalities for r in ("intra", "peri")]

    @property
    def sweep(self) -> list[str]:
        """The mask source of each width of the sweep (the analysis ring at its own width)."""
        return [ring_source(w) if w != self.ring_mm else ANALYSIS_MASK for w in self.widths]

    def matrix(self, source: str, peri_only: bool = False) -> pd.DataFrame:
        """Patients x features (03's column names) of :attr:`patients`, every block from
        ``source`` (``peri_only``: only the peri-tumoral blocks; the intra-tumoral ones from
        the analysis masks, as the ring-width sweep has it)."""
        return variant_matrix(self.features, {(m, r): (source if (r == "peri" or not peri_only) else ANALYSIS_MASK)
                                              for m, r in self.blocks}, list(self.patients))

    def summary(self) -> pd.DataFrame:
        """Per mask source, modality and region: patients and features extracted."""
        f = self.features
        out = (f.groupby(["mask_source", "modality", "region"], sort=False)
               .agg(patients=("patient", "nunique"), features=("feature", "nunique")).reset_index())
        return out


    def title(self) -> str:
        return (f"Variant regions: {len(self.sources)} mask sources and rings of {', '.join(f'{w:g}' for w in self.widths)}"
                f" mm; {len(self.patients)} patients with every variant; {self.n_extracted} regions extracted, "
                f"{self.n_cached} from the cache, {len(self.failures)} failed")


def extract_region_variants(data: pd.DataFrame, analysis: pd.DataFrame, truth: pd.DataFrame | None,
                            features_profile: Mapping[str, Any], params: Mapping[str, Any], root, cache_dir=None,
                            n_jobs: int = 1, scheduler=None) -> VariantExtraction:
    """Build and extract every variant region: the analysis masks, the reader's and the
    true masks (intra-tumoral region and ring at the analysis width), and the analysis
    masks' rings of the sweep's other widths, with the reduced settings of
    :func:`variant_settings`.

    Parameters
    ----------
    data : DataFrame
        The cohort (``patient_id``, ``<modality>_image``, ``<modality>_mask``).
    analysis : DataFrame
        The analysis masks (:meth:`radsurv.stages.SegmentationOutputs.analysis_masks`).
    truth : DataFrame or None
        The twin's truth (the true masks); None for a real cohort.
    features_profile : mapping
        The profile's ``features`` section (ring width, air threshold, parameter files).
    params : mapping
        The ``sensitivity.variants`` section.
    root : path
        The project root.
    cache_dir : path, optional
        02's feature cache.
    n_jobs : int
        Local workers (one task per patient and modality).
    scheduler : str, distributed.Client or None
        A Dask scheduler address or client (:func:`extract_variants`).

    Returns
    -------
    VariantExtraction
    """
    fp = features_profile
    data = data.set_index("patient_id")
    images = {(p, m): data.loc[p, f"{m}_image"] for p, m in zip(analysis["patient_id"], analysis["modality"])}
    others = variant_masks(data, images, truth, params["sources"], bool((analysis["source"] == "user").all()))
    widths = sorted(float(w) for w in params["widths_mm"])
    settings = variant_settings(fp, params, root)
    jobs = variant_jobs(analysis, images, others, widths)
    result = extract_variants(jobs, {m: settings[m] for m in analysis["modality"].unique()},
                              float(fp["ring_width_mm"]), dict(fp["air_threshold"]), cache_dir=cache_dir,
                              n_jobs=n_jobs, scheduler=scheduler)
    tidy = result.features
    modalities = [m for m in ("us", "mri") if m in set(analysis["modality"])]
    blocks = [(m, r) for m in modalities for r in ("intra", "peri")]
    ring = float(fp["ring_width_mm"])
    sources = [ANALYSIS_MASK, *others]
    sweep = [ring_source(w) if w != ring else ANALYSIS_MASK for w in widths]
    patients = common_patients(tidy, blocks, sources)
    patients = sorted(set(patients) & set(common_patients(tidy, [(m, "peri") for m in modalities], sweep)))
    return VariantExtraction(features=tidy, failures=result.failures, sources=tuple(sources), widths=tuple(widths),
                             ring_mm=ring, modalities=tuple(modalities), patients=tuple(patients),
                             image_types={m: list(settings[m]["imageType"]) for m in modalities},
                             feature_classes={m: list(settings[m].get("featureClass") or {}) for m in modalities},
                             n_extracted=int(result.n_extracted), n_cached=int(result.n_cached))


def develop_variant(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any],
                    seed: int, n_jobs: int = 1) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """``03_signatures``' development on one variant's features, scored on the test sets.

    Parameters
    ----------
    X : DataFrame
        Patients x features (:meth:`VariantExtraction.matrix`).
    outcome : DataFrame
        ``split``, ``time``, ``event`` (same index).
    flagged : set of str
        Features flagged by the ICC step.
    params : mapping
        The ``signatures`` section.
    seed : int
        The run's seed (as 03's).
    n_jobs : int

    Returns
    -------
    (DataFrame, dict)
        Each reported signature's C (95% CI) per test set
        (:func:`radsurv.signatures.evaluation.discrimination` rows), and its selected features.
    """
    from ..signatures.development import develop_signatures
    from ..signatures.evaluation import discrimination

    predictors = develop_signatures(X, outcome, flagged, params, seed, n_jobs=n_jobs).predictors()
    scores = reported_scores(predictors, X)
    names = list(scores.columns)
    disc = discrimination(scores, outcome, names)
    return disc[disc["set"].isin(TEST_SETS)], {n: selected_features(predictors[n]) for n in names}


def _develop_variants(matrices: Mapping[str, pd.DataFrame], data: pd.DataFrame, flagged: set[str],
                      params: Mapping[str, Any], seed: int, time_unit: str, n_jobs: int = 1,
                      scheduler=None) -> dict[str, tuple[pd.DataFrame, dict[str, set[str]]]]:
    """:func:`develop_variant` of each matrix, one development per task on ``n_jobs`` local
    processes or the Dask ``scheduler`` (:mod:`radsurv.compute`). A development in a task
    fits its signatures one after the other; a lone local development fits them on the
    ``n_jobs`` processes instead (the same results: every step is seeded by ``seed``)."""
    from ..compute import run_tasks

    names = list(matrices)
    tasks = [{"X": matrices[n], "outcome": _outcome(data, matrices[n], time_unit)} for n in names]
    inner = n_jobs if scheduler is None and len(tasks) == 1 else 1
    results = run_tasks(develop_variant, tasks, {"flagged": flagged, "params": params, "seed": seed, "n_jobs": inner},
                        n_jobs=n_jobs, scheduler=scheduler, desc="variant developments", unit="development")
    return dict(zip(names, results))


def _outcome(data: pd.DataFrame, X: pd.DataFrame, time_unit: str) -> pd.DataFrame:
    from ..cohort.manifest import cohort_outcomes

    return cohort_outcomes(data, X.index, time_unit)


@dataclass(frozen=True, repr=False)
class MaskSources(ShowsItself):
    """The signatures developed again from each mask source (:meth:`run`).

    Attributes
    ----------
    sources : DataFrame
        Per mask source, signature and test set: ``signature, set, n, events, c, lower,
        upper`` (and the other columns of ``discrimination``), ``source``, ``n_selected``
        and ``jaccard_vs_auto`` (the overlap of the selected features with the analysis
        masks' signature).
    selected : dict
        Source -> signature -> its selected features.
    n_patients : int
        The patients every comparison is on.
    """

    sources: pd.DataFrame
    selected: dict
    n_patients: int

    @classmethod
    def run(cls, extraction: VariantExtraction, data: pd.DataFrame, flagged: set[str], params: Mapping[str, Any],
            seed: int, time_unit: str, n_jobs: int = 1, scheduler=None) -> "MaskSources":
        """:func:`develop_variant` on every source's matrix (every block from that source),
        one development per task (:func:`_develop_variants`).

        Parameters
        ----------
        extraction : VariantExtraction
        data : DataFrame
            The cohort table (outcomes).
        flagged, params, seed
            As :func:`develop_variant` (``params``: the ``signatures`` section).
        time_unit : str
            The profile's time unit.
        n_jobs, scheduler
            Local processes over the sources, or a Dask scheduler (:mod:`radsurv.compute`).
        """
        rows, feats = [], {}
        matrices = {src: extraction.matrix(src) for src in extraction.sources}
        developed = _develop_variants(matrices, data, flagged, params, seed, time_unit, n_jobs, scheduler)
        for src in extraction.sources:
            disc, sel = developed[src]
            feats[src] = sel
            rows.append(disc.assign(source=src, n_selected=disc["signature"].map(lambda n: len(sel[n]))))
        by_source = pd.concat(rows, ignore_index=True)
        by_source["jaccard_vs_auto"] = [jaccard(feats[s][n], feats[ANALYSIS_MASK][n]) if n in feats[ANALYSIS_MASK]
                                        else float("nan") for s, n in zip(by_source["source"],
                                                                          by_source["signature"])]
        return cls(sources=by_source, selected=feats, n_patients=len(extraction.patients))

    def analysis(self) -> pd.DataFrame:
        """The analysis masks' rows (``signature, set`` and the C columns), as the sweep uses them."""
        d = self.sources
        return d[d["source"] == ANALYSIS_MASK].drop(columns=["source", "n_selected", "jaccard_vs_auto"])

    def summary(self) -> pd.DataFrame:
        """Per signature and source: the C on each test set, the features selected and
        their overlap (Jaccard) with the analysis masks' signature."""
        d = self.sources
        wide = d.pivot_table(index=["signature", "source"], columns="set", values="c", sort=False)
        wide.columns = [f"c_{s}" for s in wide.columns]
        first = d.groupby(["signature", "source"], sort=False)[["n_selected", "jaccard_vs_auto"]].first()
        return wide.join(first).reset_index()


    def title(self) -> str:
        srcs = list(dict.fromkeys(self.sources["source"]))
        return (f"Mask source: the development repeated on the masks of {len(srcs)} sources "
                f"({', '.join(SOURCE_LABELS.get(s, s) for s in srcs)}), {self.n_patients} patients")

    def sets(self) -> list[str]:
        """The test sets with a result."""
        return [s for s in TEST_SETS if s in set(self.sources["set"])]

    def plot(self, ax=None, set: str | None = None):
        """Each signature's C (95% CI) on one test set (default: the last one with a
        result), one marker per mask source (``radsurv.plots.sensitivity.mask_source_panel``)."""
        from ..plots.sensitivity import mask_source_panel

        sets = self.sets()
        ax = new_axes(ax, (5.0, 3.4))
        if not sets:
            from ..plots.style import message_panel

            return message_panel(ax, "No mask-source result to draw")
        s = sets[-1] if set is None else set
        mask_source_panel(ax, self.sources, s, SPLIT_LABELS[s], SOURCE_LABELS,
                          {n: reported_label(n) for n in REPORTED_SIGNATURES})
        return ax


@dataclass(frozen=True, repr=False)
class RingWidths(ShowsItself):
    """The signatures developed again with peri-tumoral rings of other widths (:meth:`run`).

    Reported, never used to choose the width: choosing by test C would be leakage.

    Attributes
    ----------
    widths : DataFrame
        Per width, signature and test set: the ``discrimination`` columns and ``width_mm``.
    ring_mm : float
        The pre-specified width.
    """

    widths: pd.DataFrame
    ring_mm: float

    @classmethod
    def run(cls, extraction: VariantExtraction, mask_sources: MaskSources, data: pd.DataFrame,
            flagged: set[str], params: Mapping[str, Any], seed: int, time_unit: str,
            n_jobs: int = 1, scheduler=None) -> "RingWidths":
        """:func:`develop_variant` at every width of the sweep (the rings from that width,
        the intra-tumoral regions from the analysis masks); the pre-specified width is the
        analysis masks' development of ``mask_sources``, on the same matrix. The widths are
        developed one per task (``n_jobs`` local processes or the Dask ``scheduler``)."""
        matrices = {src: extraction.matrix(src, peri_only=True) for src in extraction.sweep if src != ANALYSIS_MASK}
        developed = _develop_variants(matrices, data, flagged, params, seed, time_unit, n_jobs, scheduler)
        rows = []
        for w, src in zip(extraction.widths, extraction.sweep):
            disc = mask_sources.analysis() if src == ANALYSIS_MASK else developed[src][0]
            rows.append(disc.assign(width_mm=w))
        return cls(widths=pd.concat(rows, ignore_index=True), ring_mm=float(extraction.ring_mm))

    def sets(self) -> list[str]:
        """The test sets with a result (the figure's panels)."""
        return [s for s in TEST_SETS if s in set(self.widths["set"])]

    def summary(self) -> pd.DataFrame:
        """Per signature and width: the C on each test set."""
        wide = self.widths.pivot_table(index=["signature", "width_mm"], columns="set", values="c", sort=False)
        wide.columns = [f"c_{s}" for s in wide.columns]
        return wide.reset_index()


    def title(self) -> str:
        ws = sorted(self.widths["width_mm"].unique())
        return (f"Ring width: the development repeated with rings of {', '.join(f'{w:g}' for w in ws)} mm "
                f"(pre-specified {self.ring_mm:g} mm; reported, not chosen)")

    def plot(self, ax=None, set: str | None = None):
        """One panel of the published ring-width figure: each signature's C (95% CI) on
        ``set`` (default: the last test set) against the ring width, the pre-specified
        width dashed (``radsurv.plots.sensitivity.ring_width_panel``)."""
        from ..plots.sensitivity import ring_width_panel

        sets = self.sets()
        ax = new_axes(ax, (3.6, 2.9))
        if not sets:
            from ..plots.style import message_panel

            return message_panel(ax, "No ring-width result to draw")
        s = sets[-1] if set is None else set
        ring_width_panel(ax, self.widths, s, SPLIT_LABELS[s], self.ring_mm,
                         {n: reported_label(n) for n in RING_WIDTH_SIGNATURES})
        return ax

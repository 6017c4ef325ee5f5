"""The profile schema: every section a stage reads, typed, with its defaults and meaning.

A profile (``params/<name>.yml``, or a user's file) is validated against these models
before any work. An unknown or misspelt key fails with the file, the key's path and the
nearest valid key (``features.ring_with_mm: unknown key; did you mean
'features.ring_width_mm'?``); a wrong type or value names the key and what was
expected. Defaults live here and nowhere else: the stages read the validated profile
(``radsurv.config.load_profile``), in which every field is present.

Three parts of a profile are not typed field by field, because the library that uses
them owns their defaults; their keys are still checked against those defaults:

* ``imaging.scanners`` and ``imaging.phenotype`` (:mod:`radsurv.imaging.scanners`);
* ``segmentation.<modality>.unet`` (:data:`radsurv.segment.data.DEFAULTS`) and
  ``segmentation.<modality>.baseline`` (:data:`radsurv.segment.baseline.DEFAULTS`).

These are public constants of their modules, read here only to check a profile's keys.

The digital twin's generative model (``cohort.twin``) has no defaults: its values and
the reasons for them are stated in ``params/paper.yml``, which the other profiles
extend.
"""

from __future__ import annotations

import typing

import datetime as _dt
import difflib
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

__all__ = ["GLOBAL_SECTIONS", "ComputeSection", "Profile", "ProfileSchemaError", "field_paths", "nearest_key",
           "sections", "validate_profile"]

Centre = Union[int, str]
Modality = Literal["us", "mri"]


class _Section(BaseModel):
    """A profile section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# --------------------------------------------------------------------------- helpers


def _check_keys(value: Any, template: Mapping[str, Any], where: str, depth: int) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
    for key, item in value.items():
        if key not in template:
            hint = nearest_key(str(key), [str(k) for k in template])
            raise ValueError(f"{where}.{key}: unknown key" + (f"; did you mean '{where}.{hint}'?" if hint else
                                                              f" (valid keys: {', '.join(map(str, template))})"))
        if depth > 1 and isinstance(template[key], Mapping) and item is not None:
            _check_keys(item, template[key], f"{where}.{key}", depth - 1)


def nearest_key(key: str, candidates: list[str]) -> str | None:
    """The candidate closest to a misspelt ``key`` (difflib ratio >= 0.6), or None."""
    match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return match[0] if match else None


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
Pair = tuple[float, float]


# --------------------------------------------------------------------------- cohort


class CentresSection(_Section):
    internal: list[Centre] = Field(min_length=1, description="centres split into training and internal test")
    external: list[Centre] = Field(default_factory=list, description="centres that form the external test set")

    @model_validator(mode="after")
    def _disjoint(self) -> "CentresSection":
        both = {str(c) for c in self.internal} & {str(c) for c in self.external}
        if both:
            raise ValueError(f"centre(s) {sorted(both)} are declared both internal and external")
        return self


class SplitSection(_Section):
    n_train: Union[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        311, description="training patients: a count (>= 1) or a fraction (< 1) of the internal centres' patients")
    stratify: str | None = Field("dfs_event", description="column the random split is stratified by (null: none)")


class ExpectedSection(_Section):
    """Plausibility ranges: a twin outside them fails its stage; a real cohort is only reported."""

    event_rate: Pair = (0.0, 1.0)
    dfs_at_60_months: Pair = (0.0, 1.0)
    mean_age: Pair = (0.0, 150.0)


ColumnType = Union[Literal["numeric"], list[str]]


class ColumnsSection(_Section):
    clinical: dict[str, ColumnType] = Field(default_factory=dict)
    mri: dict[str, ColumnType] = Field(default_factory=dict)

    @field_validator("clinical", "mri", mode="before")
    @classmethod
    def _categories_are_text(cls, value: Any, info) -> Any:
        for name, kind in (value or {}).items():
            if isinstance(kind, list) and any(isinstance(x, bool) for x in kind):
                raise ValueError(f"{info.field_name}.{name}: YAML reads unquoted yes/no/true/false as booleans; "
                                 f"quote the categories, e.g. [\"no\", \"yes\"]")
            if kind != "numeric" and not isinstance(kind, list):
                raise ValueError(f"{info.field_name}.{name}: expected 'numeric' or a list of categories, got {kind!r}")
        return value


# The twin's generative model: every value is stated (with its reason) in params/paper.yml.


class TwinLatent(_Section):
    rho_ab: float = Field(ge=-1.0, le=1.0)
    h: bool = Field(False, description="draw the image-only trait h (intra-tumoral heterogeneity and peri-tumoral "
                                       "stromal reaction): it drives the hazard (hazard.log_hr.h) and the images' "
                                       "texture (imaging.phenotype.<modality>.trait_*), no clinical variable and no "
                                       "MRI-reading item")
    v: bool = Field(False, description="draw the kinetic trait v (tumour angiogenesis): it drives the hazard "
                                       "(hazard.log_hr.v) and the radiologist's time-intensity curve on the dynamic "
                                       "series (mri_reading.tic_v), not the single phase the images hold, so no "
                                       "radiomic feature and no clinical variable reads it")


class TwinSize(_Section):
    median_mm: PositiveFloat
    log_sd: NonNegativeFloat
    a_effect: float
    min_mm: PositiveFloat
    max_mm: PositiveFloat


class TwinAge(_Section):
    mean: float
    sd: NonNegativeFloat
    min: int
    max: int
    menopause_age: float


class TwinClinical(_Section):
    grade_noise_sd: NonNegativeFloat
    grade_cuts: Pair
    ki67_intercept: float
    ki67_a: float
    ki67_noise_sd: NonNegativeFloat
    ki67_cut: float
    er_intercept: float
    er_a: float
    pr_given_er: Probability
    pr_given_er_neg: Probability
    her2_intercept: float
    her2_a: float
    n_intercept: float
    n_a: float
    n_b: float
    n_log_size: float
    n_cuts: tuple[float, float, float]
    lvi_intercept: float
    lvi_a: float
    lvi_b: float


class TwinTreatment(_Section):
    chemo_intercept: float
    chemo_node: float
    chemo_g3: float
    chemo_hr_neg: float
    endocrine_if_hr: Probability
    anti_her2_if_her2: Probability
    mastectomy_intercept: float
    mastectomy_size: float
    rt_after_bcs: Probability
    rt_after_mastectomy: Probability
    rt_after_mastectomy_n2: Probability


class TwinMriReading(_Section):
    reader_noise_sd: NonNegativeFloat
    size_log_sd: NonNegativeFloat
    shape_a: float
    shape_cut: float
    margin_a: float
    margin_cuts: Pair
    enhancement_a: float
    enhancement_cuts: Pair
    tic_a: float
    tic_v: float = Field(0.0, description="weight of the kinetic trait v in the time-intensity curve (latent.v: true)")
    tic_cuts: Pair
    edema_b: float
    edema_cut: float


class TwinLogHR(_Section):
    a: float
    b: float
    log_size: float
    age_per_10y: float
    triple_negative: float
    endocrine_therapy: float
    anti_her2_therapy: float
    n_stage: dict[Literal["N0", "N1", "N2", "N3"], float]
    h: float | None = Field(None, description="log hazard ratio per SD of the image-only trait h (latent.h: true)")
    v: float | None = Field(None, description="log hazard ratio per SD of the kinetic trait v (latent.v: true)")


class TwinHazard(_Section):
    log_hr: TwinLogHR
    size_reference_mm: PositiveFloat
    age_reference: float
    center_log_hr: dict[int, float]
    weibull_shape: PositiveFloat
    target_dfs_at_60_months: float = Field(gt=0.0, lt=1.0)


class TwinAccrual(_Section):
    window: dict[int, tuple[_dt.date, _dt.date]]
    cutoff: _dt.date
    loss_to_follow_up_per_year: float = Field(ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _windows_before_cutoff(self) -> "TwinAccrual":
        for centre, (start, end) in self.window.items():
            if not start <= end < self.cutoff:
                raise ValueError(f"window.{centre}: accrual must start before it ends and end before the cutoff")
        return self


class TwinMissingColumn(_Section):
    """Missing at random given observed variables: ``logit P(missing) = c + effects``, with c
    solved so that the cohort's share missing is ``rate``."""

    rate: float = Field(ge=0.0, lt=1.0, description="share of patients missing the value")
    external_centre: float = Field(0.0, description="log odds of missing in an external centre (2, 3) vs centre 1")
    age_per_10y: float = Field(0.0, description="log odds of missing per 10 years of age above the mean")


class TwinSection(_Section):
    """The digital twin's generative model (``radsurv.cohort.twin``; values in ``params/paper.yml``)."""

    n_per_center: dict[int, int] = Field(description="patients simulated per centre")
    imaging_signal: bool = Field(True, description="false: images follow latents independent of the hazard (null)")
    latent: TwinLatent
    size: TwinSize
    age: TwinAge
    clinical: TwinClinical
    treatment: TwinTreatment
    mri_reading: TwinMriReading
    hazard: TwinHazard
    accrual: TwinAccrual
    missing: dict[str, TwinMissingColumn] = Field(
        default_factory=dict, description="clinical or MRI columns the manifest leaves missing, and how")

    @model_validator(mode="after")
    def _trait_needs_effect(self) -> "TwinSection":
        if self.latent.h and self.hazard.log_hr.h is None:
            raise ValueError("latent.h is true but hazard.log_hr.h (the trait's log hazard ratio per SD) is not set")
        if not self.latent.h and self.hazard.log_hr.h is not None:
            raise ValueError("hazard.log_hr.h is set but latent.h is false: the trait is not drawn (set latent.h: true)")
        if self.latent.v and self.hazard.log_hr.v is None:
            raise ValueError("latent.v is true but hazard.log_hr.v (the kinetic trait's log hazard ratio per SD) is "
                             "not set")
        if not self.latent.v and self.hazard.log_hr.v is not None:
            raise ValueError("hazard.log_hr.v is set but latent.v is false: the kinetic trait is not drawn "
                             "(set latent.v: true)")
        if not self.latent.v and self.mri_reading.tic_v != 0.0:
            raise ValueError(f"mri_reading.tic_v is {self.mri_reading.tic_v:g} but latent.v is false: the kinetic "
                             f"trait is not drawn (set latent.v: true, or tic_v: 0)")
        return self


class CohortSection(_Section):
    """Stage ``00_cohort``: where the patients come from, the contract they must meet, the split."""

    source: Literal["twin", "manifest"] = Field("twin", description="twin: simulate; manifest: read cohort.manifest")
    manifest: str | None = Field(None, description="the manifest CSV (relative to the profile file)")
    on_invalid: Literal["fail", "exclude"] = Field("fail", description="a row that fails the input checks: stop, or "
                                                                        "drop it and list it in the patient flow")
    centers: CentresSection
    split: SplitSection = Field(default_factory=SplitSection)
    min_train_events: int = Field(0, ge=0, description="fewer training events stop the run before any fit")
    expected: ExpectedSection = Field(default_factory=ExpectedSection)
    landmarks_months: list[PositiveFloat] = Field(default_factory=lambda: [12.0, 36.0, 60.0],
                                                  description="DFS reported at these times")
    columns: ColumnsSection = Field(default_factory=ColumnsSection)
    image_columns: list[Literal["us_image", "us_mask", "mri_image", "mri_mask"]] = Field(
        default_factory=list, description="image columns every row must fill")
    labels: dict[str, str] = Field(default_factory=dict, description="printed names of variables")
    twin: TwinSection | None = None

    @model_validator(mode="after")
    def _source_needs(self) -> "CohortSection":
        if self.source == "twin" and self.twin is None:
            raise ValueError("source is 'twin' but the profile has no 'twin' section (extend params/paper.yml)")
        if self.source == "manifest" and not self.manifest:
            raise ValueError("source is 'manifest' but 'manifest' (the path of the manifest CSV) is not set")
        return self


# --------------------------------------------------------------------------- imaging


def _imaging_templates() -> tuple[dict, dict]:
    from .imaging.scanners import DEFAULT_PHENOTYPE, DEFAULT_SCANNERS

    return next(iter(DEFAULT_SCANNERS.values())), DEFAULT_PHENOTYPE


def _check_scanners(value: Any) -> Any:
    if value is None:
        return value
    template, _ = _imaging_templates()
    if not isinstance(value, Mapping):
        raise ValueError("expected a mapping centre -> {us: {...}, mri: {...}}")
    for centre, spec in value.items():
        _check_keys(spec, template, f"scanners.{centre}", 2)
    return value


def _check_phenotype(value: Any) -> Any:
    if value is None:
        return value
    _, template = _imaging_templates()
    _check_keys(value, template, "phenotype", 2)
    return value


class DevsetSpec(_Section):
    n: int = Field(0, ge=0, description="patients without outcome simulated for training the segmenter")
    manifest: str | None = Field(None, description="a user's segmentation-development set: a CSV with columns "
                                                   "image and mask (and optionally patient_id), paths relative to "
                                                   "the CSV (the CSV relative to the profile file)")


class DevsetSection(_Section):
    us: DevsetSpec = Field(default_factory=DevsetSpec)
    mri: DevsetSpec = Field(default_factory=DevsetSpec)
    centers: list[int] = Field(default_factory=lambda: [1], description="centres the development images come from")


class ImagingSection(_Section):
    """Stage ``00_cohort``: the twin's images and the image checks of the input contract."""

    enabled: bool = Field(True, description="the twin writes one US and one MRI study per patient")
    border_margin_mm: PositiveFloat = Field(10.0, description="a supplied mask's lesion must lie this far from the "
                                                              "image border: room for the widest peri-tumoral ring")
    ring_at_border: Literal["refuse", "clip"] = Field(
        "refuse", description="a supplied mask's lesion closer than border_margin_mm to the image border (a tight "
                              "ROI crop): refuse the image, or clip the peri-tumoral ring at the border and report "
                              "the clipped share of the ring")
    mask_label: int | None = Field(None, description="lesion label in multi-label masks (null: binary masks)")
    scanners: Annotated[dict[Centre, Any] | None, AfterValidator(_check_scanners)] = None
    phenotype: Annotated[dict[str, Any] | None, AfterValidator(_check_phenotype)] = None
    development: DevsetSection = Field(default_factory=DevsetSection)


# --------------------------------------------------------------------------- segmentation


def _check_unet(modality: str):
    def check(value: Any) -> Any:
        from .segment.data import default_params

        _check_keys(value or {}, default_params(modality), f"segmentation.{modality}.unet", 1)
        return value

    return check


def _check_baseline(modality: str):
    def check(value: Any) -> Any:
        from .segment.baseline import DEFAULTS

        _check_keys(value or {}, DEFAULTS[modality], f"segmentation.{modality}.baseline", 1)
        return value

    return check


_WEIGHTS = ("trained U-Net weights to use instead of training one (a file written by radsurv: "
            "UNetSegmenter.save, or a run's build/<profile>/cache/segment/unet_<modality>_*.pt), relative to the "
            "profile file; read locally, nothing is downloaded")


class UsSegmenters(_Section):
    unet: Annotated[dict[str, Any], AfterValidator(_check_unet("us"))] = Field(default_factory=dict)
    baseline: Annotated[dict[str, Any], AfterValidator(_check_baseline("us"))] = Field(default_factory=dict)
    weights: str | None = Field(None, description=_WEIGHTS)


class MriSegmenters(_Section):
    unet: Annotated[dict[str, Any], AfterValidator(_check_unet("mri"))] = Field(default_factory=dict)
    baseline: Annotated[dict[str, Any], AfterValidator(_check_baseline("mri"))] = Field(default_factory=dict)
    weights: str | None = Field(None, description=_WEIGHTS)


class DiceBenchmark(_Section):
    """A published range of automatic segmentation's agreement with experts."""

    unet_dice: tuple[float, float] = Field(..., description="median Dice range of the best published networks")
    reference: str = Field(..., description="bib key of the benchmark (references.bib)")


class SegmentationBenchmarks(_Section):
    """What the twin's segmentation difficulty is calibrated to (tests/calibration)."""

    us: DiceBenchmark = Field(default_factory=lambda: DiceBenchmark(unet_dice=(0.78, 0.88), reference="thomas2023"))
    mri: DiceBenchmark = Field(default_factory=lambda: DiceBenchmark(unet_dice=(0.72, 0.86), reference="hirsch2022"))
    reader_dice: tuple[float, float] = Field((0.80, 0.90), description="Dice range between radiologists")


class SegmentationSection(_Section):
    """Stage ``01_segmentation``: U-Nets, the classical baseline and what a failed mask does."""

    use_supplied_masks: bool = Field(False, description="keep the manifest's masks as the analysis masks")
    policy: Literal["reader", "exclude"] = Field("reader", description="a failed automatic mask falls back to the "
                                                                       "reader's mask, or excludes the patient")
    border_margin_mm: PositiveFloat = Field(10.0, description="an automatic mask's lesion must lie this far from the "
                                                              "image border (room for the peri-tumoral ring)")
    dev_test_fraction: float = Field(0.2, gt=0.0, lt=1.0,
                                     description="development patients held out to evaluate the segmenters")
    development_labels: Literal["reader", "true"] = Field(
        "reader", description="what the U-Nets learn from: the development set's expert delineations (as in any "
                              "real study) or, for the twin only, its true masks")
    failure_dice: Probability = Field(
        0.7, description="Dice below which an automatic mask counts as failed in the failure analysis (by kind: "
                         "none found, on another structure, part of the lesion missed, leaked beyond it)")
    n_jobs: int | None = Field(None, description="local processes for the masks' inference (-1: every core; null: "
                                                 "compute.n_jobs); on a cluster compute.scheduler decides")
    us: UsSegmenters = Field(default_factory=UsSegmenters)
    mri: MriSegmenters = Field(default_factory=MriSegmenters)
    benchmarks: SegmentationBenchmarks = Field(default_factory=SegmentationBenchmarks)


# --------------------------------------------------------------------------- features


class ReproducibilitySection(_Section):
    n: int = Field(60, ge=0, description="training patients whose regions are also built from other masks")
    perturbations: int = Field(2, ge=0, description="random perturbations of the automatic mask per patient")
    jitter_mm: NonNegativeFloat = Field(0.5, description="SD of the contour displacement")
    smoothness_mm: PositiveFloat = Field(2.0, description="correlation length of the displacement field")


class IccSection(_Section):
    form: Literal["ICC(2,1)", "ICC(3,1)", "ICC(1,1)"] = Field("ICC(2,1)")
    threshold: Probability = Field(0.75, description="features below it in either comparison are flagged")


class AirThreshold(_Section):
    us: float | None = None
    mri: float | None = None


class ImageTypes(_Section):
    us: dict[str, dict[str, Any] | None] | None = None
    mri: dict[str, dict[str, Any] | None] | None = None


class ExtractionParams(_Section):
    us: str = "params/radiomics_us.yaml"
    mri: str = "params/radiomics_mri.yaml"


class FeaturesSection(_Section):
    """Stage ``02_features``: regions, PyRadiomics extraction, robustness."""

    params: ExtractionParams = Field(default_factory=ExtractionParams,
                                     description="PyRadiomics parameter file per modality (from the project root)")
    image_types: ImageTypes = Field(default_factory=ImageTypes,
                                    description="replaces a parameter file's imageType section (null: the file's)")
    ring_width_mm: PositiveFloat = Field(5.0, description="peri-tumoral ring width, grown outward in mm")
    air_threshold: AirThreshold = Field(default_factory=AirThreshold,
                                        description="ring voxels at or below this intensity are dropped (null: none)")
    reproducibility: ReproducibilitySection = Field(default_factory=ReproducibilitySection)
    icc: IccSection = Field(default_factory=IccSection)
    on_error: Literal["exclude", "fail"] = Field("exclude", description="a failed region or non-finite feature "
                                                                         "excludes the patient, or stops the stage")
    n_jobs: int | None = Field(None, description="local processes over patients (-1: every core; null: "
                                                 "compute.n_jobs); on a cluster compute.scheduler decides")


# --------------------------------------------------------------------------- signatures


class NearZeroVariance(_Section):
    """caret's ``nearZeroVar`` rule (Kuhn 2008)."""

    freq_ratio: PositiveFloat = Field(95 / 5, description="most common value's count over the second's")
    unique_pct: float = Field(10.0, gt=0, le=100, description="distinct values as a percentage of the patients")


class SignatureFilters(_Section):
    """Feature filters before LASSO, fitted on the training set, in this order."""

    drop_icc_flagged: bool = Field(True, description="drop the features the segmentation-robustness step flagged")
    near_zero_variance: NearZeroVariance = Field(default_factory=NearZeroVariance)
    correlation_threshold: float | None = Field(0.9, gt=0, le=1, description="of two features with |r| above it, "
                                                "the weaker univariable association goes (null: no filter)")
    univariable_p: float | None = Field(None, gt=0, le=1, description="keep features whose univariable Cox score "
                                        "test has p below it (null: no screen)")


class CutpointSection(_Section):
    """X-tile risk groups: the cut of each Rad-score chosen on the training set."""

    min_prop: float = Field(0.1, gt=0, lt=0.5, description="smallest share of training patients in a group")
    n_permutations: int = Field(1000, ge=0, description="permutations of the training outcomes for the corrected p")
    n_bootstrap: int = Field(200, ge=0, description="bootstrap resamples of the training set for the cut's stability")


class MultimodalSection(_Section):
    """The multi-modal signature, built two ways; which one feeds the models."""

    feeds_models: Literal["auto", "union", "stacked"] = Field(
        "auto", description="union: LASSO on the four regions' features together; stacked: a Cox model on the four "
                            "regional Rad-scores; auto: the one with the higher pre-validated C on training")


class PublishedC(_Section):
    """The study's reported C-indices, quoted beside the twin's (labelled as the study's)."""

    internal: float | None = Field(0.734, ge=0, le=1)
    external: float | None = Field(0.708, ge=0, le=1)


class SignaturesSection(_Section):
    """Stage ``03_signatures``: seven LASSO-Cox signatures, Rad-scores, risk groups."""

    lambda_rule: Literal["lambda_min", "lambda_1se"] = Field("lambda_min", description="the cross-validated lambda")
    n_folds: int = Field(10, ge=3, description="cross-validation folds (stratified by event, seeded)")
    nlambda: int = Field(100, ge=2, description="length of glmnet's default lambda path")
    ties: Literal["efron", "breslow"] = Field("efron", description="ties of the univariable score tests")
    filters: SignatureFilters = Field(default_factory=SignatureFilters)
    cutpoint: CutpointSection = Field(default_factory=CutpointSection)
    multimodal: MultimodalSection = Field(default_factory=MultimodalSection)
    published_c: PublishedC = Field(default_factory=PublishedC,
                                    description="the study's multi-modal signature C (quoted, not computed)")
    n_jobs: int | None = Field(None, description="processes over the signatures (-1: every core; null: "
                                                 "compute.n_jobs)")


# --------------------------------------------------------------------------- models


class SetValues(_Section):
    internal: float | None = Field(None, ge=0, le=1)
    external: float | None = Field(None, ge=0, le=1)


class PublishedModels(_Section):
    """The study's reported C-indices per model and test set (quoted, not computed)."""

    clinical: SetValues = Field(default_factory=SetValues)
    mri: SetValues = Field(default_factory=SetValues)
    clinical_mri: SetValues = Field(default_factory=SetValues)
    signature: SetValues = Field(default_factory=lambda: SetValues(internal=0.734, external=0.708))
    radiomics: SetValues = Field(default_factory=SetValues)
    imaging: SetValues = Field(default_factory=lambda: SetValues(external=0.795))


class ImputationSection(_Section):
    """Multiple imputation by chained equations with predictive mean matching
    (:class:`radsurv.models.ChainedImputer`), when ``models.missing`` asks for it."""

    m: int = Field(10, ge=2, description="imputations (White, Royston & Wood 2011: at least the percentage of "
                   "incomplete cases)")
    max_iter: int = Field(10, ge=1, description="iterations of the chained equations")
    donors: int = Field(5, ge=1, description="candidate donors of predictive mean matching (mice's default)")


class ModelsSection(_Section):
    """Stage ``04_models``: the six Cox models, their discrimination and comparisons."""

    screen_p: float | None = Field(0.05, gt=0, le=1, description="univariable Cox screen: keep variables with "
                                   "likelihood-ratio p below it, before backward AIC (null: no screen)")
    ties: Literal["efron", "breslow"] = Field("efron", description="tie handling of the Cox models (R's default)")
    horizons_months: list[PositiveFloat] = Field(default_factory=lambda: [12.0, 36.0, 60.0],
                                                 description="horizons of the time-dependent AUCs")
    uno_tau_months: PositiveFloat = Field(60.0, description="truncation time of Uno's C")
    reference: Literal["clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"] = Field(
        "imaging", description="the model the others are compared with")
    n_bootstrap: int = Field(1000, ge=0, description="paired bootstrap resamples of the difference in C")
    published_c: PublishedModels = Field(default_factory=PublishedModels)
    missing: Literal["auto", "complete_case", "multiple_imputation"] = Field(
        "auto", description="missing clinical or MRI values: `multiple_imputation` (chained equations fitted on "
        "training, Rubin's rules), `complete_case` (each model on the patients with all its variables), or `auto` "
        "(multiple imputation when a candidate variable misses a value in any set)")
    imputation: ImputationSection = Field(default_factory=lambda: ImputationSection())


# --------------------------------------------------------------------------- validation


class CalibrationSection(_Section):
    """Grouped and smoothed calibration at the horizons."""

    n_groups: int = Field(4, ge=2, description="groups of predicted risk for the Kaplan-Meier points")
    min_per_group: int = Field(20, ge=5, description="fewest patients per group (fewer groups in a small set)")
    min_events: int = Field(5, ge=1, description="fewest events by the horizon for a calibration to be estimated")
    grid_points: int = Field(50, ge=5, description="points of the bootstrap-corrected calibration curve")


class DecisionSection(_Section):
    """Decision curves: the grid of threshold probabilities."""

    threshold_min: float = Field(0.0, ge=0, lt=1)
    threshold_max: float = Field(0.6, gt=0, lt=1)
    threshold_step: float = Field(0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self):
        if self.threshold_max <= self.threshold_min:
            raise ValueError("threshold_max must be above threshold_min")
        return self


class ValidationSection(_Section):
    """Stage ``05_validation``: optimism bootstrap, calibration, decision curves, nomogram."""

    n_resamples: int = Field(200, ge=2, description="bootstrap resamples, each repeating the whole development")
    horizons_months: list[PositiveFloat] = Field(default_factory=lambda: [36.0, 60.0],
                                                 description="horizons of calibration, decision curves and nomogram")
    final_model: Literal["clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"] = Field(
        "imaging", description="the model drawn as a nomogram and whose calibration curve is bootstrap-corrected")
    calibration: CalibrationSection = Field(default_factory=CalibrationSection)
    decision: DecisionSection = Field(default_factory=DecisionSection)
    n_jobs: int | None = Field(None, description="local processes over the bootstrap resamples (-1: every core; "
                                                 "null: compute.n_jobs)")


# --------------------------------------------------------------------------- sensitivity


class PermutationNullSection(_Section):
    n: int = Field(100, ge=0, description="permutations of the training outcomes, each repeating the whole "
                                          "development of the multi-modal signature (0: none)")


class CutpointCheckSection(_Section):
    n_folds: int = Field(10, ge=3, description="folds of the cross-validated X-tile split of the training set")


class HarmonisationSection(_Section):
    run: bool = Field(True, description="ComBat harmonisation of the features across centres (reference: training)")
    parametric: bool = Field(True, description="ComBat's parametric empirical-Bayes priors (false: non-parametric)")
    alpha: float = Field(0.05, gt=0, lt=1, description="Benjamini-Hochberg level at which a feature's distribution "
                                                          "differs between centres (Kruskal-Wallis)")


class FeatureClasses(_Section):
    us: list[str] | None = None
    mri: list[str] | None = None


class RegionVariantsSection(_Section):
    run: bool = Field(True, description="signatures developed again from other masks and ring widths")
    sources: list[Literal["reader", "true"]] = Field(
        default_factory=lambda: ["reader", "true"],
        description="mask sources compared with the analysis masks (true: the digital twin only)")
    @field_validator("sources", mode="before")
    @classmethod
    def _yaml_true(cls, value: Any) -> Any:
        # YAML reads a bare `true` as the boolean: [reader, true] means the true masks
        return ["true" if v is True else v for v in value] if isinstance(value, list) else value

    widths_mm: list[PositiveFloat] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0, 5.0, 7.0, 10.0],
        description="peri-tumoral ring widths of the sweep, in mm (grown around the analysis masks)")
    image_types: ImageTypes = Field(
        default_factory=lambda: ImageTypes(us={"Original": {}}, mri={"Original": {}}),
        description="the reduced image types every variant (and the analysis masks' reference) is extracted "
                    "with (null: the parameter file's own)")
    feature_classes: FeatureClasses = Field(
        default_factory=lambda: FeatureClasses(),
        description="the feature classes every variant is extracted with (null: the parameter file's own)")


class OutcomeDrawsSection(_Section):
    n: int = Field(24, ge=0, description="redraws of a simulated cohort's outcomes (same patients, images and "
                                         "features), each developed as 03 and 04 develop the build's, to place the "
                                         "build's own C-indices in their distribution (0: none; the twin only)")


class ScannerAgreementSection(_Section):
    n: int = Field(24, ge=0, description="travelling lesions per modality, each scanned twice on every centre's "
                                         "scanner of the simulated cohort, whose features' repeatability and agreement "
                                         "across scanners are measured (0: none; at least 3 for an ICC; the twin only)")

    @field_validator("n")
    @classmethod
    def _enough(cls, value: int) -> int:
        if 0 < value < 3:
            raise ValueError(f"{value} travelling lesions cannot give an ICC: use at least 3, or 0 to skip")
        return value


class SensitivitySection(_Section):
    """Stage ``06_sensitivity``: the permutation null of the development, the cut-point
    check and ComBat harmonisation."""

    permutation: PermutationNullSection = Field(default_factory=PermutationNullSection)
    cutpoint: CutpointCheckSection = Field(default_factory=CutpointCheckSection)
    harmonisation: HarmonisationSection = Field(default_factory=HarmonisationSection)
    variants: RegionVariantsSection = Field(default_factory=RegionVariantsSection)
    outcome_draws: OutcomeDrawsSection = Field(default_factory=OutcomeDrawsSection)
    scanner_agreement: ScannerAgreementSection = Field(default_factory=ScannerAgreementSection)
    n_jobs: int | None = Field(None, description="local processes over the permutations, variant regions and "
                                                 "developments (-1: every core; null: compute.n_jobs)")


# --------------------------------------------------------------------------- compute


class ComputeSection(_Section):
    """Where every heavy loop of the run goes (:mod:`radsurv.compute`): local worker
    processes, or the workers of a Dask cluster. The results do not depend on it (each
    task draws from its own random stream), so a run on a cluster gives the local run's
    tables."""

    n_jobs: int = Field(-1, description="local worker processes or threads of every stage (-1: every core); a "
                                        "section's own n_jobs, where set, overrides it for that stage")
    scheduler: str | None = Field(None, description="a Dask scheduler address (tcp://host:8786): 01's inference, "
                                                    "02's extraction and the loops of 05_validation and "
                                                    "06_sensitivity run on its workers (null: locally)")

    @field_validator("scheduler")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c.isspace() for c in value.strip())):
            raise ValueError(f"expected a Dask scheduler address such as tcp://host:8786 (or null), got {value!r}")
        return None if value is None else value.strip()


#: Profile sections every stage sees (with the scalar global keys), not declared by a stage.
GLOBAL_SECTIONS = ("compute",)


# --------------------------------------------------------------------------- profile


class Profile(_Section):
    """A whole profile. ``profile`` defaults to the file's name (set by the loader)."""

    profile: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="name of the build folder build/<profile>")
    seed: int = Field(description="one seed for the whole run; stages derive their own streams from it")
    time_unit: Literal["months", "days"] = Field("months", description="unit of dfs_time in the manifest")
    compute: ComputeSection = Field(default_factory=ComputeSection)
    cohort: CohortSection
    imaging: ImagingSection = Field(default_factory=ImagingSection)
    segmentation: SegmentationSection = Field(default_factory=SegmentationSection)
    features: FeaturesSection = Field(default_factory=FeaturesSection)
    signatures: SignaturesSection = Field(default_factory=SignaturesSection)
    models: ModelsSection = Field(default_factory=ModelsSection)
    validation: ValidationSection = Field(default_factory=ValidationSection)
    sensitivity: SensitivitySection = Field(default_factory=SensitivitySection)


def sections() -> tuple[str, ...]:
    """The sections a stage can declare it reads (the rest of the profile is global keys and
    the global sections, :data:`GLOBAL_SECTIONS`, that every stage sees)."""
    return tuple(name for name, f in Profile.model_fields.items()
                 if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
                 and name not in GLOBAL_SECTIONS)


class ProfileSchemaError(ValueError):
    """Validation errors as (key path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {m}" for k, m in errors))


def field_paths(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """Every key path the schema defines (``features.icc.threshold``...)."""
    model = Profile if model is None else model
    out = []
    for name, f in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        ann = f.annotation
        if typing.get_origin(ann) is dict:   # keys are data (a column name), not fixed keys
            continue
        for candidate in (ann, *getattr(ann, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                out.extend(field_paths(candidate, path + "."))
    return out


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and p.startswith(("function-", "union["))))


def validate_profile(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a merged profile; return it with every default filled in.

    Parameters
    ----------
    data : mapping
        The profile after ``extends`` was resolved.

    Returns
    -------
    dict
        Plain Python data (dates as ISO strings, tuples as lists), every field present.

    Raises
    ------
    ProfileSchemaError
        Listing every problem as (key path, message); an unknown key comes with the
        nearest valid key.
    """
    try:
        model = Profile.model_validate(dict(data))
    except ValidationError as exc:
        raise ProfileSchemaError([_describe(err, data) for err in exc.errors()]) from None
    return model.model_dump(mode="json")


def _describe(err: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, str]:
    path = _loc(err["loc"])
    if err["type"] == "extra_forbidden":
        parent, _, key = path.rpartition(".")
        siblings = _siblings(parent)
        hint = nearest_key(key, siblings)
        msg = "unknown key" + (f"; did you mean '{(parent + '.') if parent else ''}{hint}'?" if hint else
                               (f" (valid keys here: {', '.join(siblings)})" if siblings else ""))
        return path, msg
    if err["type"] == "missing":
        return path, "required key is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return path, msg


def _siblings(parent: str) -> list[str]:
    model: Any = Profile
    for part in [p for p in parent.split(".") if p]:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        ann = field.annotation
        nxt = next((c for c in (ann, *getattr(ann, "__args__", ()))
                    if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return []
        model = nxt
    return list(model.model_fields)

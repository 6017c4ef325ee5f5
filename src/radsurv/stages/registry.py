"""The stages of the study, in order, and what each one declares it writes.

A stage is one notebook (``notebooks/<name>.ipynb``) plus the library code it calls.
It reads the profile sections it names, the outputs of its upstream stages (through
:mod:`radsurv.stages.readers`), and writes into ``build/<profile>/<name>/``:

* the artefacts it declares here: ``data`` files that later stages read, and the
  ``figure``, ``table`` and ``text`` files the manuscript includes. The runner refuses
  a finished stage that lacks a required artefact or wrote a publishable file
  (``fig-*.png``, ``*.md``) it did not declare; publishing copies each declared
  figure, table and text to ``figures/<stage>/``, ``tables/<stage>/`` and
  ``texts/<stage>/``, so two stages can never overwrite each other's artefacts;
* ``variables.yml``, whose top-level keys are the ones it declares in ``variables``
  (plus ``provenance``), so two stages can never set the same manuscript variable;
* ``flow.json`` when it changes the patient flow (:mod:`radsurv.stages.flow`).

To add a stage, see ``docs/adding-a-stage.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Artefact", "KINDS", "PUBLISHED_KINDS", "STAGES", "STAGE_BY_NAME", "Stage", "check_registry",
           "downstream_of", "provenance", "stage_by_name"]

Kind = Literal["data", "figure", "table", "text"]
KINDS: tuple[str, ...] = ("data", "figure", "table", "text")
#: Kinds the manuscript includes, and the folder (at the project root) each is published to.
PUBLISHED_KINDS: dict[str, str] = {"figure": "figures", "table": "tables", "text": "texts"}


@dataclass(frozen=True)
class Artefact:
    """One file (or folder) a stage writes into its output folder.

    Attributes
    ----------
    name : str
        Path relative to the stage's folder (``table1.md``, ``masks/``).
    kind : {"data", "figure", "table", "text"}
        ``data`` is read by later stages; the others are published for the manuscript.
    description : str
        What it holds (shown in the README's table of outputs).
    optional : bool
        Written only in some runs (e.g. the twin's truth, or images when the cohort has them).
    rendered : bool
        A text written when the paper is published, from the stage's variables, by
        :mod:`radsurv.manuscript` (not by the stage): a wording edit re-runs no stage.
    """

    name: str
    kind: Kind
    description: str
    optional: bool = False
    rendered: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"artefact {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind != "data" and "/" in self.name:
            raise ValueError(f"{self.kind} {self.name!r}: published artefacts lie at the top of the stage folder")
        if self.kind == "figure" and not (self.name.startswith("fig-") and self.name.endswith(".png")):
            raise ValueError(f"figure {self.name!r}: figures are named fig-<label>.png")
        if self.kind in ("table", "text") and not self.name.endswith(".md"):
            raise ValueError(f"{self.kind} {self.name!r}: tables and texts are markdown files (.md)")
        if self.rendered and self.kind != "text":
            raise ValueError(f"{self.kind} {self.name!r}: only texts are rendered when the paper is published")


@dataclass(frozen=True)
class Stage:
    """One pipeline stage.

    Attributes
    ----------
    name : str
        ``NN_word``: the notebook's name and the output folder under ``build/<profile>/``.
    title : str
        One line: what the stage does (the manuscript's notebook list shows it).
    sections : tuple of str
        Profile sections the stage reads (a change in any of them re-runs it).
    upstream : tuple of str
        Stages whose outputs it reads.
    outputs : tuple of Artefact
        What it writes.
    variables : tuple of str
        Top-level keys of the manuscript variables it sets.
    """

    name: str
    title: str
    sections: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    outputs: tuple[Artefact, ...] = ()
    variables: tuple[str, ...] = ()

    @property
    def notebook(self) -> str:
        """The notebook, relative to the project root."""
        return f"notebooks/{self.name}.ipynb"

    def artefacts(self, kind: str | None = None) -> tuple[Artefact, ...]:
        """The declared artefacts, all or of one kind."""
        return tuple(a for a in self.outputs if kind is None or a.kind == kind)

    def published(self) -> tuple[Artefact, ...]:
        """The artefacts the manuscript can include (figures, tables, texts)."""
        return tuple(a for a in self.outputs if a.kind in PUBLISHED_KINDS)

    def written(self) -> tuple[Artefact, ...]:
        """The artefacts the stage itself writes (all but the texts rendered at publishing)."""
        return tuple(a for a in self.outputs if not a.rendered)


def provenance(stage: Stage | str, profile: str) -> str:
    """The "Source: ..." line of a figure or table: the notebook that made it (linked to its
    executed copy in the rendered paper) and the profile it ran with.

    Parameters
    ----------
    stage : Stage or str
        The stage (or its name).
    profile : str
        The profile's name.

    Returns
    -------
    str
        Markdown, e.g. ``[`notebooks/00_cohort.ipynb`](executed/00_cohort-preview.html), profile `quick```.
    """
    name = stage.name if isinstance(stage, Stage) else str(stage)
    return f"[`notebooks/{name}.ipynb`](executed/{name}-preview.html), profile `{profile}`"


_FLOW = Artefact("flow.json", "data", "the patient flow up to this stage: exclusions and fallbacks with their reasons")
_FLOW_FIG = Artefact("fig-flow.png", "figure", "the patient flow up to this stage")

STAGES: tuple[Stage, ...] = (
    Stage(
        "00_cohort",
        title="Cohort: digital twin, input checks, Table 1, patient flow, Kaplan-Meier curves",
        sections=("cohort", "imaging"),
        outputs=(
            Artefact("manifest.csv", "data", "the twin's manifest (exactly what a user would supply)", optional=True),
            Artefact("truth.parquet", "data", "the twin's hidden truth (latent traits, true linear predictor); "
                                              "read only through radsurv.stages.readers.read_truth", optional=True),
            Artefact("images/", "data", "the twin's images and masks (NIfTI)", optional=True),
            Artefact("devsets/", "data", "the twin's segmentation-development images", optional=True),
            Artefact("devset_us.csv", "data", "US development set: images, true (or a user's) and reader masks",
                     optional=True),
            Artefact("devset_mri.csv", "data", "MRI development set: images, true (or a user's) and reader masks",
                     optional=True),
            Artefact("devset_us_excluded.csv", "data", "rows of a user's US development set left out by a check",
                     optional=True),
            Artefact("devset_mri_excluded.csv", "data", "rows of a user's MRI development set left out by a check",
                     optional=True),
            Artefact("masks/", "data", "a user's masks put on their image grid or reduced to the lesion's label "
                                       "(NIfTI)", optional=True),
            Artefact("prepared_masks.csv", "data", "the masks later stages read in place of the supplied ones, "
                                                   "with what was done (resampled onto the image grid, label kept)"),
            Artefact("cohort.csv", "data", "the validated cohort with its split: what later stages read"),
            Artefact("source.json", "data", "where the manifest lies and whether it is simulated"),
            Artefact("excluded.csv", "data", "rows removed by a check, with the reason"),
            Artefact("table1.csv", "data", "Table 1 as data"),
            Artefact("imaging_stats.csv", "data", "image statistics per centre and modality", optional=True),
            _FLOW,
            Artefact("table1.md", "table", "Table 1: baseline characteristics by set, with p-values"),
            Artefact("imaging_stats.md", "table", "image statistics per centre and modality", optional=True),
            Artefact("text-data.md", "text", "the Methods paragraph on the data", rendered=True),
            Artefact("text-imaging.md", "text", "the Methods paragraph on the images", optional=True,
                     rendered=True),
            _FLOW_FIG,
            Artefact("fig-km-sets.png", "figure", "Kaplan-Meier DFS by set with numbers at risk"),
            Artefact("fig-imaging-examples.png", "figure", "example images with contours per centre", optional=True),
        ),
        variables=("run", "cohort", "twin", "imaging"),
    ),
    Stage(
        "01_segmentation",
        title="Segmentation: U-Net and classical segmenters, agreement, failures",
        sections=("segmentation",),
        upstream=("00_cohort",),
        outputs=(
            Artefact("segmentation.csv", "data", "per patient and modality: the analysis mask, its source "
                                                 "(auto, reader fallback, user, excluded) and the reason"),
            Artefact("masks/", "data", "U-Net masks (NIfTI)", optional=True),
            Artefact("baseline/", "data", "classical (SimpleITK) masks (NIfTI)", optional=True),
            Artefact("metrics.csv", "data", "Dice, HD95 and volume difference per case"),
            Artefact("seg_table.csv", "data", "the segmentation table as data"),
            Artefact("excluded.csv", "data", "patients without a usable mask, with the reason"),
            _FLOW,
            Artefact("seg_table.md", "table", "agreement of U-Net, baseline and reader with the reference"),
            Artefact("text-segmentation.md", "text", "the Methods paragraph on segmentation: what each network learned "
                                                     "from (development set, training masks or supplied weights)",
                     rendered=True),
            Artefact("text-seg-results.md", "text", "the Results paragraph on segmentation", rendered=True),
            _FLOW_FIG,
            Artefact("fig-segmentation.png", "figure", "external-set cases at the 10th, 50th and 90th percentile "
                                                       "of Dice", optional=True),
        ),
        variables=("segmentation",),
    ),
    Stage(
        "02_features",
        title="Radiomic features: regions, PyRadiomics extraction, robustness, IBSI check",
        sections=("features",),
        upstream=("00_cohort", "01_segmentation"),
        outputs=(
            Artefact("rois/", "data", "intra- and peri-tumoral region masks of every patient and mask source"),
            Artefact("features.parquet", "data", "tidy features: patient, modality, region, mask_source, feature, "
                                                 "value"),
            Artefact("matrix_us_intra.parquet", "data", "patients x features, US intra-tumoral", optional=True),
            Artefact("matrix_us_peri.parquet", "data", "patients x features, US peri-tumoral", optional=True),
            Artefact("matrix_mri_intra.parquet", "data", "patients x features, MRI intra-tumoral", optional=True),
            Artefact("matrix_mri_peri.parquet", "data", "patients x features, MRI peri-tumoral", optional=True),
            Artefact("icc.csv", "data", "ICC per feature (U-Net vs reader, perturbations) and the selection flag"),
            Artefact("ibsi_table.csv", "data", "IBSI 1 phantom compliance"),
            Artefact("failures.csv", "data", "failed regions or non-finite features, with patient, region, reason"),
            Artefact("ring_clipping.csv", "data", "share of each analysis ring cut off at the image border"),
            Artefact("excluded.csv", "data", "patients excluded for a failed analysis region"),
            _FLOW,
            Artefact("features_table.md", "table", "features per modality and region and their robustness"),
            Artefact("ibsi_table.md", "table", "IBSI 1 compliance of the extraction (supplement)"),
            _FLOW_FIG,
            Artefact("fig-icc.png", "figure", "distribution of feature ICCs per modality and region"),
        ),
        variables=("features",),
    ),
    Stage(
        "03_signatures",
        title="Signatures: LASSO-Cox Rad-scores, discrimination, X-tile risk groups",
        sections=("signatures",),
        upstream=("00_cohort", "02_features"),
        outputs=(
            Artefact("radscores.csv", "data", "Rad-score per patient and signature, with the patient's set"),
            Artefact("radscores_prevalidated.csv", "data",
                     "pre-validated (out-of-fold) Rad-score of each training patient, per signature"),
            Artefact("coefficients.csv", "data", "selected features and coefficients (per SD and per unit) of each "
                                                 "signature"),
            Artefact("stacked_cox.csv", "data", "the Cox model on the four regional Rad-scores", optional=True),
            Artefact("multimodal_comparison.csv", "data", "pre-validated C of the two multi-modal signatures "
                                                          "on training", optional=True),
            Artefact("discrimination.csv", "data", "Harrell and Uno C of every signature in every set"),
            Artefact("risk_groups.csv", "data", "X-tile and median risk groups and HR per SD, per signature and set"),
            Artefact("signature_flow.csv", "data", "features left after each filter, per signature"),
            Artefact("signature_flow.md", "table", "the feature-count flow of each signature"),
            Artefact("discrimination_table.md", "table", "C of every signature per set, the oracle, the published "
                                                         "values"),
            Artefact("risk_groups_table.md", "table", "the multi-modal Rad-score's risk groups per set (or why none)"),
            Artefact("text-signatures.md", "text", "the Results paragraph on the signatures", rendered=True),
            Artefact("text-signature-methods.md", "text", "the Methods paragraph on which signatures were built "
                                                          "and which fed the models", rendered=True),
            Artefact("fig-lasso.png", "figure", "LASSO CV curves with both lambdas and coefficient paths"),
            Artefact("fig-coefficients.png", "figure", "coefficients of each signature"),
            Artefact("fig-xtile.png", "figure", "standardised log-rank statistic against the cut, and the bootstrap "
                                                "cuts"),
            Artefact("fig-km-risk.png", "figure", "Kaplan-Meier DFS of the risk groups in each set"),
        ),
        variables=("signatures",),
    ),
    Stage(
        "04_models",
        title="Models: the six Cox models, hazard ratios, discrimination, comparisons",
        sections=("models", "cohort"),
        upstream=("00_cohort", "03_signatures"),
        outputs=(
            Artefact("model_scores.csv", "data", "each model's centred linear predictor per patient, with the set"),
            Artefact("selection.csv", "data", "univariable screen of every candidate variable and what was kept"),
            Artefact("hazard_ratios.csv", "data", "coefficients, HRs with 95% CI and p of every model"),
            Artefact("baseline_survival.csv", "data", "each model's baseline DFS at its centred score, per horizon"),
            Artefact("ph_tests.csv", "data", "proportional-hazards tests per covariate and global", optional=True),
            Artefact("fit_statistics.csv", "data", "events per parameter, log-likelihood, AIC, BIC per model"),
            Artefact("collinearity.csv", "data", "VIFs and the Rad-score's correlation with the clinical scores"),
            Artefact("discrimination.csv", "data", "Harrell and Uno C and td-AUCs per model and set"),
            Artefact("comparisons.csv", "data", "IPCW, DeLong and bootstrap comparisons with the reference model"),
            Artefact("published_comparison.csv", "data", "C per model beside the study's and the oracle"),
            Artefact("hazard_ratios.md", "table", "hazard ratios of the six models"),
            Artefact("fit_table.md", "table", "fit statistics of the six models"),
            Artefact("discrimination_table.md", "table", "C and td-AUC of every model in every set"),
            Artefact("comparisons_table.md", "table", "comparisons with the reference model"),
            Artefact("published_table.md", "table", "the twin's C beside the study's and the oracle"),
            Artefact("missing_values.csv", "data", "missing values per candidate variable and set, and how handled"),
            Artefact("radscore_training_scores.csv", "data", "models 5 and 6 on pre-validated training Rad-scores "
                     "(primary) and on resubstitution ones (the study's way): Rad-score HR and C per set"),
            Artefact("radscore_training_scores.md", "table", "the Rad-score models by training Rad-score "
                                                             "(pre-validated against resubstitution)"),
            Artefact("text-models.md", "text", "the Results paragraph on the models", rendered=True),
            Artefact("text-missing.md", "text", "the Methods paragraph on missing values", rendered=True),
            Artefact("fig-forest.png", "figure", "forest plot of the hazard ratios"),
            Artefact("fig-c-models.png", "figure", "C with 95% CI per model and set"),
            Artefact("fig-td-roc.png", "figure", "time-dependent ROC curves of the models"),
        ),
        variables=("models",),
    ),
    Stage(
        "05_validation",
        title="Validation: optimism bootstrap, calibration, decision curves, nomogram",
        sections=("validation", "models", "signatures", "cohort"),
        upstream=("00_cohort", "02_features", "03_signatures", "04_models"),
        outputs=(
            Artefact("optimism_resamples.csv", "data", "apparent and test C and slope of every model per resample"),
            Artefact("optimism.csv", "data", "apparent, optimism and corrected C and calibration slope per model"),
            Artefact("selection_frequency.csv", "data", "how often each variable was selected across resamples"),
            Artefact("calibration_summary.csv", "data", "ICI, E50, E90, slope per model, set and horizon"),
            Artefact("calibration_groups.csv", "data", "Kaplan-Meier observed risk per group of predicted risk"),
            Artefact("corrected_calibration.csv", "data", "the final model's bootstrap-corrected calibration curve"),
            Artefact("calibration_by_centre.csv", "data", "O/E with 95% CI, calibration slope and ICI per model, "
                                                          "test set, centre and horizon, and the recalibration-in-"
                                                          "the-large sensitivity analysis"),
            Artefact("decision_curves.csv", "data", "net benefit per model, set, horizon and threshold"),
            Artefact("nomogram.json", "data", "the final model's nomogram and coding: "
                                              "radsurv.validation.PointsCalculator.from_json reads it"),
            Artefact("optimism_table.md", "table", "optimism-corrected C and calibration slope"),
            Artefact("calibration_table.md", "table", "calibration in the test sets"),
            Artefact("calibration_by_centre.md", "table", "the final model's calibration per test set and "
                                                          "centre, and after recalibration-in-the-large"),
            Artefact("decision_table.md", "table", "net benefit at chosen thresholds"),
            Artefact("nomogram_table.md", "table", "the nomogram's points in numbers"),
            Artefact("text-validation.md", "text", "the Results paragraph on validation", rendered=True),
            Artefact("text-discussion.md", "text", "the Discussion's paragraphs on what this run found", rendered=True),
            Artefact("fig-calibration.png", "figure", "calibration of the final model per set and horizon"),
            Artefact("fig-decision.png", "figure", "decision curves per test set and horizon"),
            Artefact("fig-nomogram.png", "figure", "the final model's nomogram"),
        ),
        variables=("validation",),
    ),
    Stage(
        "06_sensitivity",
        title="Sensitivity: permutation null, cut-points, ComBat, mask source and ring width, outcome draws, scanner agreement",
        sections=("sensitivity", "signatures", "features", "models", "cohort", "imaging"),
        upstream=("00_cohort", "01_segmentation", "02_features", "03_signatures"),
        outputs=(
            Artefact("permutation_null.csv", "data", "test-set C of the multi-modal signature developed on each "
                                                     "permutation of the training outcomes, and the X-tile statistic "
                                                     "of its training Rad-score (xtile_train)"),
            Artefact("permutation_summary.csv", "data", "observed test C, null mean, SD, 95th percentile and "
                                                        "permutation p per test set"),
            Artefact("cutpoints.csv", "data", "X-tile, cross-validated X-tile, median and tertile splits per set"),
            Artefact("permutation_table.md", "table", "the observed test C against the permutation null"),
            Artefact("cutpoints_table.md", "table", "the X-tile cut against cuts without a search"),
            Artefact("text-sensitivity-methods.md", "text", "the Methods paragraph on the sensitivity analyses",
                     rendered=True),
            Artefact("text-sensitivity.md", "text", "the Results paragraph on the sensitivity analyses", rendered=True),
            Artefact("fig-permutation.png", "figure", "the permutation null of the test C, per test set"),
            Artefact("combat_centre_effects.csv", "data", "features differing by centre before and after ComBat, "
                                                          "per modality and region"),
            Artefact("combat_discrimination.csv", "data", "each signature's external C as extracted and after "
                                                          "ComBat"),
            Artefact("centre_effects_table.md", "table", "centre effects before and after ComBat"),
            Artefact("harmonisation_table.md", "table", "the signatures' external C with and without ComBat"),
            Artefact("mask_source.csv", "data", "test-set C and selected features of the signatures developed from "
                                                "the analysis, reader's and true masks (reduced image types)"),
            Artefact("ring_width.csv", "data", "test-set C of the signatures developed with each peri-tumoral ring "
                                               "width (reduced image types)"),
            Artefact("mask_source_table.md", "table", "the signatures from each mask source"),
            Artefact("fig-ring-width.png", "figure", "test-set C against the peri-tumoral ring width"),
            Artefact("outcome_draws.csv", "data", "simulated cohort only: test-set C of the multi-modal Rad-score, "
                                                  "the six models and the oracle on each redraw of the outcomes"),
            Artefact("outcome_draws_table.md", "table", "this build's C among the outcome redraws, with its "
                                                        "percentile"),
            Artefact("fig-outcome-draws.png", "figure", "the outcome redraws' external C and this build's"),
            Artefact("scanner_agreement.csv", "data", "simulated cohort only: each feature's test-retest ICC on one "
                                                      "scanner and its ICC across the centres' scanners, on travelling "
                                                      "lesions"),
            Artefact("scanner_agreement_table.md", "table", "how much the simulated scanners move the features, "
                                                            "beside published repeatability"),
            Artefact("fig-scanner-agreement.png", "figure", "share of features by ICC, on one scanner and across "
                                                            "scanners"),
        ),
        variables=("sensitivity",),
    ),
)

STAGE_BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}


def stage_by_name(name: str, stages: tuple[Stage, ...] | None = None) -> Stage:
    """The registered stage called ``name``; a ``KeyError`` names the known stages."""
    table = {s.name: s for s in stages} if stages is not None else STAGE_BY_NAME
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(table)}") from None


def downstream_of(name: str, stages: tuple[Stage, ...] | None = None) -> list[str]:
    """Stages that depend, directly or not, on ``name`` (in pipeline order)."""
    out: list[str] = []
    for s in stages if stages is not None else STAGES:
        if name in s.upstream or any(u in out for u in s.upstream):
            out.append(s.name)
    return out


def check_registry(stages: tuple[Stage, ...] = STAGES) -> list[str]:
    """Consistency of a registry: unique names, upstream before downstream, known
    sections, no two stages setting the same variable, artefact names unique per stage.

    Returns
    -------
    list of str
        The problems (empty when consistent).
    """
    from .. import schema

    known_sections = schema.sections()
    problems: list[str] = []
    seen: set[str] = set()
    owner: dict[str, str] = {}
    for s in stages:
        if s.name in seen:
            problems.append(f"stage {s.name!r} is registered twice")
        for up in s.upstream:
            if up not in seen:
                problems.append(f"stage {s.name!r}: upstream {up!r} is not registered before it")
        for sec in s.sections:
            if sec not in known_sections:
                problems.append(f"stage {s.name!r}: unknown profile section {sec!r} "
                                f"(known: {', '.join(known_sections)})")
        names = [a.name for a in s.outputs]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"stage {s.name!r}: artefact {dup!r} is declared twice")
        for key in s.variables:
            if key == "provenance":
                problems.append(f"stage {s.name!r}: 'provenance' variables are written by the stage kit")
            elif key in owner:
                problems.append(f"stages {owner[key]!r} and {s.name!r} both declare the variables '{key}'")
            owner.setdefault(key, s.name)
        seen.add(s.name)
    return problems

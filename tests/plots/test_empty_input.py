"""Degrade, never crash (issue 28, item 2): every public drawing function of
``radsurv.plots`` and every result object's ``plot()`` accepts empty input (an empty frame
with the expected columns, an empty mapping or list, a result built from empty tables).

It then draws an empty panel that says what is missing, and returns what it returns
normally: the Axes, the Figure, the written PNG. Each case below is built by hand; the
completeness checks compare the table's names with the functions and classes found by
introspection, so a new drawing function or ``plot`` method without an entry fails here.
Empty inputs hold no patient, so no identifier can reach a figure from them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

import radsurv
import radsurv.plots
from radsurv.plots import features, flow, imaging, km, models, segmentation, sensitivity, signatures, style, twin
from radsurv.plots import validation as vplots
from radsurv.results import ShowsItself

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SET_LABELS = {"train": "Training", "internal": "Internal test", "external": "External test"}
ORDER = ["train", "internal", "external"]

# ------------------------------------------------------------------ empty inputs


def _frame(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


def _empty_cv():
    from radsurv.stats.lasso_cox import LassoCoxCV, LassoCoxPath

    nothing = np.array([], dtype=float)
    fields = {f.name for f in LassoCoxPath.__dataclass_fields__.values()}
    path = LassoCoxPath(**{name: (np.zeros((0, 0)) if name == "coef_path" else nothing) for name in fields})
    return LassoCoxCV(lambdas=nothing, cvm=nothing, cvsd=nothing, cvup=nothing, cvlo=nothing, nzero=nothing,
                      lambda_min=float("nan"), lambda_1se=float("nan"), index_min=0, index_1se=0, path=path,
                      cvraw=np.zeros((0, 0)))


def _empty_nomogram():
    from radsurv.stats.nomogram_cox import Nomogram

    return Nomogram(coef=pd.Series(dtype=float), center=0.0, points_per_unit_lp=float("nan"), lp_at_zero=0.0,
                    maxscale=100.0, limits=_frame("predictor"), axes=_frame("predictor", "value", "points"),
                    total_points_axis=np.array([], dtype=float), lp_axis=_frame("lp", "points"),
                    function_axes=_frame("axis", "time", "survival", "points"),
                    baseline_survival=pd.Series(dtype=float))


def _six_models():
    from radsurv.models.six_models import SixModels

    return SixModels(models={})


def _discrimination():
    from radsurv.models.evaluation import Discrimination

    return Discrimination(table=_frame("model", "set", "measure", "horizon", "n", "events", "estimate", "lower",
                                       "upper"), models=[], horizons=[])


def _published():
    from radsurv.models.evaluation import PublishedComparison

    return PublishedComparison(table=_frame("model", "set", "c"), oracle=None, discrimination=_discrimination())


def _td_roc():
    from radsurv.models.evaluation import TdRocCurves

    return TdRocCurves(curves={}, aucs={})


def _permutation_null():
    from radsurv.sensitivity.permutation import PermutationNull

    return PermutationNull(null=_frame("permutation", "c_internal", "c_external", "n_selected", "failed"),
                           observed={}, n_permutations=0)


def _ring_widths():
    from radsurv.sensitivity.variants import RingWidths

    return RingWidths(widths=_frame("signature", "set", "n", "events", "c", "lower", "upper", "width_mm"),
                      ring_mm=5.0)


def _mask_sources():
    from radsurv.sensitivity.variants import MaskSources

    return MaskSources(sources=_frame("signature", "set", "n", "events", "c", "lower", "upper", "source",
                                      "n_selected", "jaccard_vs_auto"), selected={}, n_patients=0)


def _outcome_draws():
    from radsurv.sensitivity.outcome_draws import DRAW_MEASURES, OutcomeDraws

    return OutcomeDraws(draws=_frame("outcome_seed", "train_events", *DRAW_MEASURES, "failed"), own={})


def _image(size=(8, 8), spacing=(1.0, 1.0)):
    image = sitk.Image(list(size), sitk.sitkFloat32)
    image.SetSpacing(spacing)
    return image


def _mask(size=(8, 8)):
    return sitk.Image(list(size), sitk.sitkUInt8)


# ------------------------------------------------------------------ the table
# name -> (call, words of the message). ``call(ax, tmp)`` draws on ``ax`` (a fresh Axes)
# or on its own figure, writing under ``tmp``; the message must appear where the result is.

FUNCTIONS = {
    # flow
    "radsurv.plots.flow.flow_figure": (
        lambda ax, tmp: flow.flow_figure(tmp / "flow.png", n_internal_centres=0, n_external_centres=0,
                                         internal_label="Centres A-B", external_label="Centre C", n_train=0,
                                         n_internal=0, n_external=0),
        "No patient"),
    # twin
    "radsurv.plots.twin.draw_true_survival": (
        lambda ax, tmp: twin.draw_true_survival(ax, np.array([]), {}, {}), "No true survival"),
    # km
    "radsurv.plots.km.km_figure": (
        lambda ax, tmp: km.km_figure([], [], [], tmp / "km.png", order=ORDER, labels=SET_LABELS, colors={}),
        "No patient"),
    "radsurv.plots.km.km_plot": (
        lambda ax, tmp: km.km_plot([], [], [], None, order=ORDER, labels=SET_LABELS, colors={}), "No patient"),
    "radsurv.plots.km.km_panels": (
        lambda ax, tmp: km.km_panels([], tmp / "km-panels.png", order=ORDER, labels=SET_LABELS, colors={}),
        "No Kaplan-Meier panel"),
    # features
    "radsurv.plots.features.draw_icc": (
        lambda ax, tmp: features.draw_icc(ax, _frame("modality", "region", "icc"), 0.75), "No ICC"),
    "radsurv.plots.features.draw_regions": (
        lambda ax, tmp: features.draw_regions(ax, np.zeros((0, 0)), {}, (1.0, 1.0)), "No image"),
    # models
    "radsurv.plots.models.draw_forest": (
        lambda ax, tmp: models.draw_forest(ax, _frame("model", "term", "hr", "hr_lower", "hr_upper"), {}),
        "No hazard ratio"),
    "radsurv.plots.models.forest_figure": (
        lambda ax, tmp: models.forest_figure(_six_models(), tmp / "forest.png"), "No hazard ratio"),
    "radsurv.plots.models.draw_c_index": (
        lambda ax, tmp: models.draw_c_index(ax, _frame("model", "set", "estimate", "lower", "upper"), [], {},
                                            SET_LABELS), "No C-index"),
    "radsurv.plots.models.c_index_figure": (
        lambda ax, tmp: models.c_index_figure(_published(), tmp / "c.png"), "No C-index"),
    "radsurv.plots.models.draw_td_roc": (
        lambda ax, tmp: models.draw_td_roc(ax, {}, {}, "External test, 3 years"), "No ROC curve"),
    "radsurv.plots.models.td_roc_figure": (
        lambda ax, tmp: models.td_roc_figure(_td_roc(), tmp / "roc.png"), "No ROC curve"),
    # signatures
    "radsurv.plots.signatures.lasso_figure": (
        lambda ax, tmp: signatures.lasso_figure({}, tmp / "lasso.png"), "No signature"),
    "radsurv.plots.signatures.draw_cv_curve": (
        lambda ax, tmp: signatures.draw_cv_curve(ax, _empty_cv()), "No cross-validation"),
    "radsurv.plots.signatures.draw_coefficient_path": (
        lambda ax, tmp: signatures.draw_coefficient_path(ax, _empty_cv()), "No coefficient path"),
    "radsurv.plots.signatures.coefficients_figure": (
        lambda ax, tmp: signatures.coefficients_figure({}, tmp / "coefs.png"), "No signature"),
    "radsurv.plots.signatures.draw_coefficients": (
        lambda ax, tmp: signatures.draw_coefficients(ax, _frame("feature", "coef_per_sd"), "Multi-modal"),
        "no feature selected"),
    "radsurv.plots.signatures.xtile_figure": (
        lambda ax, tmp: signatures.xtile_figure(_frame("cut", "n_low", "statistic"), float("nan"), [],
                                                tmp / "xtile.png"), "No admissible cut"),
    "radsurv.plots.signatures.draw_xtile": (
        lambda ax, tmp: signatures.draw_xtile(ax, _frame("cut", "n_low", "statistic"), float("nan")),
        "No admissible cut"),
    "radsurv.plots.signatures.draw_bootstrap_cuts": (
        lambda ax, tmp: signatures.draw_bootstrap_cuts(ax, [], float("nan")), "No bootstrap cut"),
    # sensitivity
    "radsurv.plots.sensitivity.permutation_panel": (
        lambda ax, tmp: sensitivity.permutation_panel(ax, np.array([]), float("nan"), float("nan"), np.array([]),
                                                      "External test", "external"), "No permuted C"),
    "radsurv.plots.sensitivity.draw_scanner_agreement": (
        lambda ax, tmp: sensitivity.draw_scanner_agreement(ax, pd.DataFrame()), "No travelling lesions"),
    "radsurv.plots.sensitivity.draw_outcome_draws": (
        lambda ax, tmp: sensitivity.draw_outcome_draws(ax, _outcome_draws()), "No outcome draw"),
    "radsurv.plots.sensitivity.permutation_one_panel": (
        lambda ax, tmp: sensitivity.permutation_one_panel(ax, _frame("set", "permuted_c", "observed_c"),
                                                          SET_LABELS), "No C"),
    "radsurv.plots.sensitivity.permutation_figure": (
        lambda ax, tmp: sensitivity.permutation_figure(_permutation_null(), tmp / "perm.png"), "No permutation"),
    "radsurv.plots.sensitivity.ring_width_panel": (
        lambda ax, tmp: sensitivity.ring_width_panel(ax, _ring_widths().widths, "external", "External test", 5.0,
                                                     {"multi": "Multi-modal"}), "No ring-width result"),
    "radsurv.plots.sensitivity.ring_width_figure": (
        lambda ax, tmp: sensitivity.ring_width_figure(_ring_widths(), tmp / "rings.png"), "No ring-width result"),
    "radsurv.plots.sensitivity.mask_source_panel": (
        lambda ax, tmp: sensitivity.mask_source_panel(ax, _mask_sources().sources, "external", "External test", {},
                                                      {"multi": "Multi-modal"}), "No mask-source result"),
    "radsurv.plots.sensitivity.cutpoint_panel": (
        lambda ax, tmp: sensitivity.cutpoint_panel(ax, _frame("set", "split_by", "hr", "hr_lower", "hr_upper"),
                                                   SET_LABELS, {"xtile": "X-tile"}), "No cut"),
    "radsurv.plots.sensitivity.centre_effects_panel": (
        lambda ax, tmp: sensitivity.centre_effects_panel(ax, _frame("block", "pct_differ_before",
                                                                    "pct_differ_after"), []), "No feature block"),
    "radsurv.plots.sensitivity.harmonisation_panel": (
        lambda ax, tmp: sensitivity.harmonisation_panel(
            ax, _frame("signature", "c_raw", "lower_raw", "upper_raw", "c_harmonised", "lower_harmonised",
                       "upper_harmonised"), {}), "No external C"),
    # segmentation
    "radsurv.plots.segmentation.overlay_panel": (
        lambda ax, tmp: segmentation.overlay_panel(ax, {}), "No image"),
    "radsurv.plots.segmentation.overlay_grid": (
        lambda ax, tmp: segmentation.overlay_grid([]), "No example"),
    "radsurv.plots.segmentation.overlay_figure": (
        lambda ax, tmp: segmentation.overlay_figure([], tmp / "overlay.png"), "No example"),
    "radsurv.plots.segmentation.step_panel": (
        lambda ax, tmp: segmentation.step_panel(ax, None, None), "No image"),
    # imaging
    "radsurv.plots.imaging.draw_image_panel": (
        lambda ax, tmp: imaging.draw_image_panel(ax, None, None, None, "us", "Centre A · low risk · US"),
        "no image"),
    "radsurv.plots.imaging.draw_case": (lambda ax, tmp: imaging.draw_case({}), "No case"),
    "radsurv.plots.imaging.draw_example_cases": (lambda ax, tmp: imaging.draw_example_cases([]), "No example case"),
    "radsurv.plots.imaging.example_cases_figure": (
        lambda ax, tmp: imaging.example_cases_figure([], tmp / "cases.png"), "No example case"),
    "radsurv.plots.imaging.draw_statistic_bars": (
        lambda ax, tmp: imaging.draw_statistic_bars(ax, _frame("center", "modality", "n", "intensity_mean"),
                                                    "intensity_mean"), "No image statistic"),
    # validation
    "radsurv.plots.validation.calibration_figure": (
        lambda ax, tmp: vplots.calibration_figure(
            _frame("model", "set", "horizon", "mean_predicted", "observed", "observed_lower", "observed_upper",
                   "max_predicted"), _frame("model", "set", "horizon", "predicted", "observed"),
            _frame("horizon", "predicted", "corrected"), "clinical", tmp / "cal.png", SET_LABELS, "Clinical model"),
        "calibration not estimable"),
    "radsurv.plots.validation.calibration_panel": (
        lambda ax, tmp: vplots.calibration_panel(
            ax, _frame("mean_predicted", "observed", "observed_lower", "observed_upper", "max_predicted"),
            _frame("predicted", "observed"), None, "no patient reached the horizon", "External test, 3 years"),
        "not estimable"),
    "radsurv.plots.validation.decision_figure": (
        lambda ax, tmp: vplots.decision_figure(_frame("set", "horizon", "strategy", "threshold", "net_benefit"),
                                               [], tmp / "dca.png", {}, SET_LABELS),
        "decision curves not estimable"),
    "radsurv.plots.validation.decision_panel": (
        lambda ax, tmp: vplots.decision_panel(ax, _frame("strategy", "threshold", "net_benefit"), [], {},
                                              "External test, 3 years"), "No decision curve"),
    "radsurv.plots.validation.nomogram_figure": (
        lambda ax, tmp: vplots.nomogram_figure(_empty_nomogram(), tmp / "nomogram.png", "Final model"),
        "No nomogram"),
    "radsurv.plots.validation.nomogram_panel": (
        lambda ax, tmp: vplots.nomogram_panel(ax, _empty_nomogram(), "Final model"), "No nomogram"),
    "radsurv.plots.validation.oe_panel": (
        lambda ax, tmp: vplots.oe_panel(ax, _frame("label", "oe", "oe_lower", "oe_upper", "note"),
                                        "O/E not estimable: no test set"), "O/E not estimable"),
    "radsurv.plots.validation.optimism_panel": (
        lambda ax, tmp: vplots.optimism_panel(ax, _frame("model", "apparent_c", "test_c"), [], {}), "No resample"),
    "radsurv.plots.validation.resample_panel": (
        lambda ax, tmp: vplots.resample_panel(ax, _frame("model", "apparent_c", "test_c"), {}), "No model"),
}

#: Public functions of radsurv.plots that draw nothing themselves (sizes, tables, styles).
NOT_DRAWING = {
    "radsurv.plots.style.apply_style": "sets matplotlib's rc parameters",
    "radsurv.plots.style.save_figure": "writes a given figure",
    "radsurv.plots.style.message_figure": "is the empty-input figure itself",
    "radsurv.plots.style.message_panel": "is the empty-input panel itself",
    "radsurv.plots.km.default_xticks": "a list of ticks",
    "radsurv.plots.km.km_table": "a table",
    "radsurv.plots.km.n_at_risk": "an array of counts",
    "radsurv.plots.features.icc_axes": "a new blank Axes",
    "radsurv.plots.features.icc_figsize": "a size",
    "radsurv.plots.models.forest_size": "a size",
    "radsurv.plots.validation.nomogram_size": "a size",
    "radsurv.plots.segmentation.contour_handles": "legend handles",
    "radsurv.plots.imaging.noise_sd": "a number",
    "radsurv.plots.imaging.image_statistics_table": "a table",
}


def _result(cls_path: str, **fields):
    module, name = cls_path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**fields)


def _robustness():
    return _result("radsurv.features.robustness.Robustness",
                   table=_frame("modality", "region", "feature", "icc_reader", "icc_reader_lower",
                                "icc_reader_upper", "flag_reader", "flag"),
                   n_subset=0, form="ICC(2,1)", threshold=0.75, n_perturbations=0)


def _permutation():
    return _result("radsurv.sensitivity.permutation.Permutation", b=1, n_train=0, n_moved=0,
                   row={"c_internal": np.nan, "c_external": np.nan, "n_selected": 0,
                        "failed": "ValueError: no event in the training set"}, features=(), observed={})


def _centre_effects():
    return _result("radsurv.sensitivity.harmonisation.CentreEffects",
                   table=_frame("block", "n_features", "n_differ_before", "pct_differ_before", "median_h_before",
                                "n_differ_after", "pct_differ_after", "median_h_after"),
                   blocks=_frame("block", "n_features", "n_harmonised", "n_constant"), alpha=0.05)


def _harmonisation():
    combat = _result("radsurv.sensitivity.harmonisation.ComBatResult", features=pd.DataFrame(),
                     blocks=_frame("block", "n_features", "n_harmonised", "n_constant"), batch=pd.Series(dtype=object))
    return _result("radsurv.sensitivity.harmonisation.Harmonisation", combat=combat, effects=_centre_effects(),
                   discrimination=_frame("signature", "n", "events", "c_raw", "lower_raw", "upper_raw",
                                         "c_harmonised", "lower_harmonised", "upper_harmonised"))


def _cohort_sets():
    empty = {"n": 0, "events": 0, "event_rate_pct": "NA", "median_followup_months": "NA"}
    numbers = {"n_total": 0, "n_events": 0, "median_followup_months": "NA", "logrank_sets_chisq": "NA",
               "logrank_sets_p": "NA", **{s: dict(empty) for s in ORDER}}
    return _result("radsurv.cohort.sets.CohortSets", time=np.array([]), event=np.array([], dtype=int),
                   split=np.array([], dtype=object), landmarks=[12.0, 36.0, 60.0], numbers=numbers)


def _twin():
    return _result("radsurv.cohort.twin.TwinCohort", manifest=_frame("patient_id", "dfs_time", "dfs_event"),
                   truth=_frame("patient_id", "eta", "weibull_scale"),
                   params={"hazard": {"weibull_shape": 1.2}})


def _pooled():
    return _result("radsurv.models.imputation.PooledCox",
                   pooled=_frame("qbar", "ubar", "b", "t", "riv", "lambda", "fmi", "df", "std_error", "statistic",
                                 "p_value", "conf_low", "conf_high"))


def _resample():
    return _result("radsurv.validation.optimism.Resample", b=1, n=0, n_distinct=0, events=0,
                   rows=_frame("model", "apparent_c", "test_c", "test_slope", "variables"),
                   calibration=_frame("model", "horizon", "predicted", "observed"))


def _optimism():
    return _result("radsurv.validation.optimism.OptimismBootstrap",
                   resamples=_frame("b", "model", "apparent_c", "test_c", "test_slope", "failed"),
                   calibration=_frame("model", "horizon", "predicted", "corrected"), apparent={}, models=(),
                   n_resamples=0)


def _calibration():
    return _result("radsurv.validation.calibration.Calibration",
                   table=_frame("model", "set", "horizon", "n", "events_by_horizon", "n_groups", "mean_predicted",
                                "observed_km", "ici", "e50", "e90", "emax", "slope", "note"),
                   grouped=_frame("model", "set", "horizon", "mean_predicted", "observed", "observed_lower",
                                  "observed_upper", "max_predicted"),
                   curves=_frame("model", "set", "horizon", "predicted", "observed"))


def _centres():
    from radsurv.validation.centres import CENTRE_COLUMNS

    return _result("radsurv.validation.centres.CentreCalibration", table=_frame(*CENTRE_COLUMNS))


def _decision():
    return _result("radsurv.validation.decision.DecisionCurves",
                   curves=_frame("set", "horizon", "strategy", "threshold", "net_benefit"), models=())


def _points():
    return _result("radsurv.validation.nomogram.PointsCalculator", nomogram=_empty_nomogram(), coding={},
                   labels={})


def _no_nomogram():
    # the final model was not fitted: the place of the nomogram says so
    return _result("radsurv.validation.nomogram.NoNomogram", reason="the final model was not fitted",
                   horizons=(36.0, 60.0))


def _regions():
    # a lesion mask with no voxel: no region to draw (the 3-D image has no central slice)
    return _result("radsurv.roi.Regions", image=_image((8, 8, 4), (1.0, 1.0, 1.0)), intra=_mask((8, 8, 4)),
                   peri=_mask((8, 8, 4)), width_mm=5.0, air_threshold=None, clipped_fraction=0.0,
                   air_fraction=0.0)


def _signature():
    from radsurv.signatures.signature import LassoCoxSignature

    sig = LassoCoxSignature()
    sig.cv_, sig.coef_ = _empty_cv(), pd.Series(dtype=float)  # fitted on nothing: no lambda, no coefficient
    return sig


def _risk_groups():
    from radsurv.signatures.risk_groups import RiskGroups

    groups = RiskGroups()
    groups.grid_, groups.cutpoint_ = _frame("cut", "n_low", "statistic"), float("nan")
    return groups


def _agreement():
    return _result("radsurv.segment.agreement.SegmentationAgreement",
                   metrics=_frame("modality", "set", "method", "case_id", "dice", "hd95_mm", "rel_volume_diff",
                                  "failure"))


def _failures():
    return _result("radsurv.segment.agreement.SegmentationFailures",
                   metrics=_frame("modality", "set", "method", "case_id", "dice", "failure"), tables={},
                   failure_dice=0.5)


def _steps():
    from radsurv.segment.steps import SegmentationSteps

    fields = {name: None for name in SegmentationSteps.__dataclass_fields__}
    return SegmentationSteps(**{**fields, "modality": "us", "image": _image(), "probability": _image(),
                                "masks": {}, "reference": None, "reference_kind": "true", "threshold": 0.5,
                                "component": "largest"})


PLOTS = {
    "radsurv.cohort.images.CohortImaging": (
        lambda: _result("radsurv.cohort.images.CohortImaging",
                        statistics=_frame("center", "modality", "n", "intensity_mean")), "No image statistic"),
    "radsurv.cohort.sets.CohortSets": (_cohort_sets, "No patient"),
    "radsurv.cohort.twin.TwinCohort": (_twin, "No true survival"),
    "radsurv.features.robustness.Robustness": (_robustness, "No ICC"),
    "radsurv.models.evaluation.Discrimination": (_discrimination, "No C-index"),
    "radsurv.models.evaluation.PublishedComparison": (_published, "No C-index"),
    "radsurv.models.evaluation.TdRocCurves": (_td_roc, "No ROC curve"),
    "radsurv.models.imputation.PooledCox": (_pooled, "No pooled coefficient"),
    "radsurv.models.selection.Screen": (
        lambda: _result("radsurv.models.selection.Screen", table=_frame("variable", "df", "n", "chisq", "p", "note"),
                        screen_p=0.05), "No candidate"),
    "radsurv.models.selection.SelectionResult": (
        lambda: _result("radsurv.models.selection.SelectionResult", selected=[]), "No candidate"),
    "radsurv.models.six_models.SixModels": (_six_models, "No hazard ratio"),
    "radsurv.roi.Regions": (_regions, "No region"),
    "radsurv.segment.agreement.Overlays": (
        lambda: _result("radsurv.segment.agreement.Overlays", examples=[]), "No example"),
    "radsurv.segment.agreement.SegmentationAgreement": (_agreement, "No segmentation"),
    "radsurv.segment.agreement.SegmentationFailures": (_failures, "No automatic mask"),
    "radsurv.segment.devsets.Devsets": (
        lambda: _result("radsurv.segment.devsets.Devsets", splits={}, test_fraction=0.2), "No development image"),
    "radsurv.segment.devsets.UNetTraining": (
        lambda: _result("radsurv.segment.devsets.UNetTraining"), "history not recorded"),
    "radsurv.segment.steps.SegmentationSteps": (_steps, "No segmentation step"),
    "radsurv.sensitivity.cutpoints.CutpointCheck": (
        lambda: _result("radsurv.sensitivity.cutpoints.CutpointCheck", groups=None, comparison=None,
                        shrinkage=float("nan"), n_folds=5), "No cut"),
    "radsurv.sensitivity.harmonisation.CentreEffects": (_centre_effects, "No feature block"),
    "radsurv.sensitivity.harmonisation.Harmonisation": (_harmonisation, "No external C"),
    "radsurv.sensitivity.outcome_draws.OutcomeDraws": (_outcome_draws, "No outcome draw"),
    "radsurv.sensitivity.scanner_agreement.ScannerAgreement": (
        lambda: _result("radsurv.sensitivity.scanner_agreement.ScannerAgreement", table=pd.DataFrame(),
                        retest_by_center=pd.DataFrame(), n_lesions={}, centers=[], retest_center=1),
        "No travelling lesions"),
    "radsurv.sensitivity.permutation.Permutation": (_permutation, "No C"),
    "radsurv.sensitivity.permutation.PermutationNull": (_permutation_null, "No permutation"),
    "radsurv.sensitivity.variants.MaskSources": (_mask_sources, "No mask-source result"),
    "radsurv.sensitivity.variants.RingWidths": (_ring_widths, "No ring-width result"),
    "radsurv.signatures.risk_groups.RiskGroups": (_risk_groups, "No admissible cut"),
    "radsurv.signatures.signature.LassoCoxSignature": (_signature, "No cross-validation"),
    "radsurv.validation.calibration.Calibration": (_calibration, "not estimable"),
    "radsurv.validation.centres.CentreCalibration": (_centres, "O/E not estimable"),
    "radsurv.validation.decision.DecisionCurves": (_decision, "decision curves not estimable"),
    "radsurv.validation.nomogram.PointsCalculator": (_points, "No nomogram"),
    "radsurv.validation.nomogram.NoNomogram": (_no_nomogram, "No nomogram"),
    "radsurv.validation.optimism.OptimismBootstrap": (_optimism, "No resample"),
    "radsurv.validation.optimism.Resample": (_resample, "No model"),
}

def _case(name: str):
    return pytest.param(name, id=name.removeprefix("radsurv."))


# ------------------------------------------------------------------ what is drawn


def _texts(artist) -> list[str]:
    """Every text drawn in a Figure or an Axes (titles and texts; legends' too)."""
    return [t.get_text() for t in artist.findobj(Text) if t.get_text()]


@pytest.fixture
def saved(monkeypatch):
    """The texts of every figure written by ``savefig`` (save_figure closes the figure)."""
    texts: list[str] = []
    original = Figure.savefig

    def record(fig, *args, **kwargs):
        texts.extend(_texts(fig))
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return texts


def _shown(out, ax, saved_texts) -> list[str]:
    """Where the message must be: the written PNG's figure, the returned Figure or Axes,
    each Axes of a returned array, or else the Axes drawn on (a panel returns None or a set)."""
    if isinstance(out, Path):
        assert out.read_bytes()[:8] == PNG_MAGIC, f"{out} is not a PNG"
        return saved_texts
    if isinstance(out, (Axes, Figure)):
        return _texts(out)
    if isinstance(out, np.ndarray):
        return [t for a in out.ravel() for t in _texts(a)]
    return _texts(ax)


@pytest.mark.parametrize("name", [_case(n) for n in FUNCTIONS])
def test_drawing_function_on_empty_input(name, tmp_path, saved):
    """The function returns what it returns normally, and says what is missing."""
    call, words = FUNCTIONS[name]
    _, ax = plt.subplots()
    out = call(ax, tmp_path)
    shown = _shown(out, ax, saved)
    assert any(words in t for t in shown), f"{name}: no message with {words!r} among {shown}"


@pytest.mark.parametrize("name", [_case(n) for n in PLOTS])
def test_result_plot_on_empty_result(name, saved):
    """``plot()`` of a result built from empty tables returns an Axes with the message."""
    build, words = PLOTS[name]
    out = build().plot()
    assert isinstance(out, Axes), f"{name}.plot() returned {type(out).__name__}"
    shown = _texts(out)
    assert any(words in t for t in shown), f"{name}.plot(): no message with {words!r} among {shown}"


# ------------------------------------------------------------------ completeness


def _plot_functions() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(radsurv.plots.__path__, "radsurv.plots."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module.__name__:
                found.add(f"{module.__name__}.{name}")
    return found


def _plotting_results() -> set[str]:
    for info in pkgutil.walk_packages(radsurv.__path__, "radsurv."):
        importlib.import_module(info.name)

    def below(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return {f"{c.__module__}.{c.__qualname__}" for c in below(ShowsItself) if "plot" in vars(c)}


def test_every_drawing_function_has_an_empty_case():
    found = _plot_functions()
    listed = set(FUNCTIONS) | set(NOT_DRAWING)
    assert not set(FUNCTIONS) & set(NOT_DRAWING)
    assert found - listed == set(), f"public functions of radsurv.plots without an empty-input case: {found - listed}"
    assert listed - found == set(), f"cases of functions that no longer exist: {listed - found}"


def test_every_plot_method_has_an_empty_case():
    found = _plotting_results()
    assert found - set(PLOTS) == set(), f"results whose plot() has no empty-input case: {found - set(PLOTS)}"
    assert set(PLOTS) - found == set(), f"cases of results that no longer draw: {set(PLOTS) - found}"


# ------------------------------------------------------------------ non-empty input: unchanged


def test_km_plot_with_patients_draws_the_curves_not_the_message():
    """Three groups: per group a CI band, a step curve and its censoring ticks, and a legend
    entry with its counts (written out by hand from the input); no message."""
    time = np.array([2.0, 5.0, 9.0, 14.0, 3.0, 8.0, 20.0, 30.0, 1.0, 6.0, 12.0, 40.0])
    event = np.array([1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1])
    group = np.repeat(ORDER, 4)
    _, ax = plt.subplots()
    out = km.km_plot(time, event, group, ax, order=ORDER, labels=SET_LABELS, colors=style.SET_COLORS)
    assert out is ax
    assert len(ax.collections) == 3 and len(ax.lines) == 6
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Training (n=4, events=2)", "Internal test (n=4, events=2)", "External test (n=4, events=2)"]
    assert not any("No patient" in t for t in _texts(ax))


def test_draw_icc_with_features_draws_the_groups_not_the_message():
    """Two groups of ICCs: the share at or above 0.75 under each (1 of 2, 3 of 3), one
    violin and one box per group, the threshold line; no message."""
    icc = pd.DataFrame({"modality": ["US", "US", "MRI", "MRI", "MRI"], "region": ["intra"] * 5,
                        "icc": [0.9, 0.5, 0.8, 0.95, 0.76]})
    _, ax = plt.subplots()
    out = features.draw_icc(ax, icc, 0.75)
    assert out is ax
    assert [t.get_text() for t in ax.get_xticklabels()] == ["MRI intra\n100% >= 0.75\n(n=3)",
                                                          "US intra\n50% >= 0.75\n(n=2)"]
    assert len(ax.collections) == 2  # a violin per group
    assert len(ax.lines) == 2 * 6 + 1  # a box per group (box, median, 2 whiskers, 2 caps), the threshold
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ICC = 0.75"]
    assert not any("No ICC" in t for t in _texts(ax))

"""Validation of the models (stage ``05_validation``): optimism bootstrap repeating the
whole development, calibration, decision curves, the nomogram.

* :mod:`~radsurv.validation.inputs`: the scored patients, checked against ``04_models``.
* :mod:`~radsurv.validation.optimism`: Harrell's optimism bootstrap (C, calibration slope,
  the corrected calibration curve); one resample by hand (:func:`one_resample`).
* :mod:`~radsurv.validation.calibration`: grouped and smoothed calibration per set.
* :mod:`~radsurv.validation.centres`: calibration-in-the-large (O/E) and slope per test set
  and centre, and recalibration-in-the-large as a sensitivity analysis.
* :mod:`~radsurv.validation.decision`: decision curves per set.
* :mod:`~radsurv.validation.nomogram`: the final model's nomogram and points calculator.

The results show themselves (``summary()``, ``plot()``): :class:`Calibration`,
:class:`CentreCalibration`, :class:`DecisionCurves`, :class:`PointsCalculator`, :class:`Resample`,
:class:`OptimismBootstrap`, :class:`ValidationInputs`.
"""

from .calibration import Calibration, calibration_by_set, calibration_grid, predicted_risk, risk_grid
from .centres import CentreCalibration, calibration_by_centre
from .decision import DecisionCurves, benefit_range, decision_curves
from .inputs import ValidationInputs, check_scores, deployed_scores, example_patient, validation_inputs
from .nomogram import PointsCalculator, final_model_nomogram, model_nomogram
from .optimism import (DevelopmentData, OptimismBootstrap, Resample, corrected_calibration, development_data,
                       one_resample, optimism_bootstrap, optimism_summary, resample_once, resample_rows,
                       selection_frequency, training_measures)

__all__ = ["Calibration", "CentreCalibration", "DecisionCurves", "DevelopmentData", "OptimismBootstrap",
           "PointsCalculator", "Resample", "ValidationInputs", "benefit_range", "calibration_by_centre",
           "calibration_by_set", "calibration_grid", "check_scores", "corrected_calibration", "decision_curves",
           "deployed_scores", "development_data", "example_patient", "final_model_nomogram", "model_nomogram",
           "one_resample", "optimism_bootstrap", "optimism_summary", "predicted_risk", "resample_once",
           "resample_rows", "risk_grid", "selection_frequency", "training_measures", "validation_inputs"]

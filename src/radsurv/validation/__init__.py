"""Validation of the models (stage ``05_validation``): optimism bootstrap repeating the
whole development, calibration, decision curves, the nomogram.

* :mod:`~radsurv.validation.optimism`: Harrell's optimism bootstrap (C, calibration slope,
  the corrected calibration curve).
* :mod:`~radsurv.validation.calibration`: grouped and smoothed calibration per set.
* :mod:`~radsurv.validation.decision`: decision curves per set.
* :mod:`~radsurv.validation.nomogram`: the final model's nomogram and points calculator.
"""

from .calibration import calibration_by_set, predicted_risk, risk_grid
from .decision import benefit_range, decision_curves
from .nomogram import PointsCalculator, model_nomogram
from .optimism import DevelopmentData, corrected_calibration, optimism_bootstrap, optimism_summary, resample_once

__all__ = ["DevelopmentData", "PointsCalculator", "benefit_range", "calibration_by_set", "corrected_calibration",
           "decision_curves", "model_nomogram", "optimism_bootstrap", "optimism_summary", "predicted_risk",
           "resample_once", "risk_grid"]

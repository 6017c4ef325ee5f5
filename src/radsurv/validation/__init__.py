"""Validation of the models (stage ``05_validation``): optimism bootstrap repeating the
whole development, calibration, decision curves, the nomogram.

* :mod:`~radsurv.validation.optimism`: Harrell's optimism bootstrap.
"""

from .optimism import DevelopmentData, optimism_bootstrap, optimism_summary, resample_once

__all__ = ["DevelopmentData", "optimism_bootstrap", "optimism_summary", "resample_once"]

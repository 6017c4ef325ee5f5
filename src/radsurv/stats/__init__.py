"""Survival and diagnostic statistics matched to R (survival, glmnet, pROC, maxstat,
riskRegression, irr, Hmisc, rms, mice).

Plain arrays in, plain results out. Each function is tested against R's output on
public data (``tests/data/reference``); the R call each one reproduces is named in
its docstring.

Imported eagerly on purpose: several functions share their module's name
(``td_auc``, ``icc``), and a lazy loader would hand out the module instead of the
function once the submodule had been imported elsewhere.
"""

from .calibration import (CalibrationInTheLarge, CalibrationSlope, calibration_groups, calibration_in_the_large,
                          calibration_slope, calibration_table, recalibrated_risk)
from .calibration_smooth import SmoothedCalibration, smoothed_calibration
from .concordance import bootstrap_harrell_c, harrell_c, uno_c
from .cox import CoxFit, cox_aic, cox_lr_test, fit_cox
from .cutpoint import logrank_scores, optimal_cutpoint
from .decision_curve import net_benefit
from .delong import binary_at_time, delong_auc, delong_test
from .group_tests import bh_adjust, kruskal_wallis
from .icc import icc, icc_many
from .lasso_cox import lasso_cox_cv, lasso_cox_path
from .nomogram_cox import Nomogram, nomogram
from .ph_test import cox_zph
from .pooling import pool_rubin
from .screening import univariable_score_tests
from .survival_curves import kaplan_meier, logrank, median_survival
from .td_auc import td_auc, td_auc_compare, td_roc_curve

__all__ = [
    "CalibrationInTheLarge", "CalibrationSlope", "CoxFit", "Nomogram", "SmoothedCalibration", "bh_adjust",
    "binary_at_time", "bootstrap_harrell_c", "calibration_groups", "calibration_in_the_large", "calibration_slope",
    "calibration_table", "cox_aic", "cox_lr_test", "cox_zph", "delong_auc", "delong_test", "fit_cox", "harrell_c", "icc",
    "icc_many", "kaplan_meier", "kruskal_wallis", "lasso_cox_cv", "lasso_cox_path", "logrank", "logrank_scores",
    "median_survival", "net_benefit", "nomogram", "optimal_cutpoint", "pool_rubin", "recalibrated_risk",
    "smoothed_calibration", "td_auc", "td_auc_compare", "td_roc_curve", "univariable_score_tests", "uno_c",
]

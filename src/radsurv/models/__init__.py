"""The six Cox models of the study (stage ``04_models``).

* :mod:`~radsurv.models.design`: the coded clinical and MRI variables.
* :mod:`~radsurv.models.selection`: univariable screen and backward elimination by AIC.
* :mod:`~radsurv.models.six_models`: the six models, fitted on training.
* :mod:`~radsurv.models.diagnostics`: proportional-hazards tests, fit statistics, collinearity.
* :mod:`~radsurv.models.evaluation`: discrimination, comparisons, ROC curves, the oracle
  and the published values, per set.
* :mod:`~radsurv.models.imputation`: multiple imputation of missing covariates (chained
  equations fitted on training) and the Cox model pooled by Rubin's rules.
* :mod:`~radsurv.models.training_scores`: models 5 and 6 on pre-validated training
  Rad-scores (primary) beside the study's resubstitution way.
* :mod:`~radsurv.models.stage`: the ``04_models`` stage (writing only).
"""

from .design import Design, cohort_design, design_matrix, training_radscore
from .diagnostics import (FitStatistics, PHTests, baseline_survival, collinearity, fit_statistics, fit_table,
                          ph_tests)
from .evaluation import (Comparisons, Discrimination, PublishedComparison, TdRocCurves, compare_with_published,
                         compare_with_reference, evaluate_discrimination, model_comparisons, model_discrimination,
                         oracle_c, published_comparison, roc_horizons, td_roc_curves)
from .imputation import ChainedImputer, PooledCox, fit_cox_imputed, imputer_for, nelson_aalen_at
from .selection import Screen, SelectionResult, backward_aic, screen_variables, univariable_screen
from .six_models import MODELS, CoxModel, SixModels, develop_models
from .training_scores import TrainingScoreComparison, compare_training_scores

__all__ = ["MODELS", "ChainedImputer", "Comparisons", "CoxModel", "Design", "Discrimination", "FitStatistics",
           "PHTests", "PooledCox", "PublishedComparison", "Screen", "SelectionResult", "SixModels", "TdRocCurves",
           "backward_aic", "baseline_survival", "cohort_design", "collinearity", "compare_with_published",
           "compare_with_reference", "design_matrix", "develop_models", "evaluate_discrimination", "fit_cox_imputed",
           "fit_statistics", "fit_table", "imputer_for", "model_comparisons", "model_discrimination", "nelson_aalen_at", "oracle_c",
           "ph_tests", "published_comparison", "roc_horizons", "screen_variables", "td_roc_curves",
           "univariable_screen", "TrainingScoreComparison", "compare_training_scores", "training_radscore"]

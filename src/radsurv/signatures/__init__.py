"""Radiomics signatures: training-only filters, LASSO-Cox Rad-scores, X-tile risk groups.

* :mod:`~radsurv.signatures.preprocess`: standardisation and feature filters.
* :mod:`~radsurv.signatures.signature`: :class:`LassoCoxSignature`, :class:`StackedSignature`.
* :mod:`~radsurv.signatures.development`: the seven signatures developed together, the
  multi-modal rule, the Rad-scores (:func:`develop_signatures`, :func:`radscore_table`).
* :mod:`~radsurv.signatures.evaluation`: Harrell's and Uno's C of the Rad-scores.
* :mod:`~radsurv.signatures.risk_groups`: :class:`RiskGroups` (the X-tile cut) and group summaries.
* :mod:`~radsurv.signatures.stage`: the ``03_signatures`` stage's tables, texts and files.
"""

from .development import (MULTIMODAL, REGION_SIGNATURES, SIGNATURES, STACKED, Development, available_signatures,
                          compare_multimodal, develop_signatures, example_signature, needed_for_models,
                          prevalidated_scores, prevalidated_table, radscore_table, signature_columns,
                          signature_estimator, signature_label)
from .evaluation import NULL_C, UNO_TAU_MONTHS, discrimination, is_constant, oracle_discrimination, score_concordance
from .preprocess import FeatureFilter, Standardiser, correlation_filter, near_zero_variance
from .risk_groups import (RISK_GROUP_COLUMNS, RiskGroups, fit_risk_groups, group_summary, hazard_ratio_per_sd,
                          risk_group_table, risk_group_tables)
from .signature import LassoCoxSignature, StackedSignature, fold_ids, stacked_out_of_fold

__all__ = ["Development", "FeatureFilter", "LassoCoxSignature", "MULTIMODAL", "NULL_C", "REGION_SIGNATURES",
           "RISK_GROUP_COLUMNS", "RiskGroups", "SIGNATURES", "STACKED", "StackedSignature", "Standardiser",
           "UNO_TAU_MONTHS", "available_signatures", "compare_multimodal", "correlation_filter", "develop_signatures",
           "discrimination", "example_signature", "fit_risk_groups", "fold_ids", "group_summary",
           "hazard_ratio_per_sd", "is_constant", "near_zero_variance", "needed_for_models", "oracle_discrimination",
           "prevalidated_scores", "prevalidated_table",
           "radscore_table", "risk_group_table", "risk_group_tables", "score_concordance", "signature_columns",
           "signature_estimator", "signature_label", "stacked_out_of_fold"]

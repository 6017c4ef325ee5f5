"""Radiomics signatures: training-only filters, LASSO-Cox Rad-scores, X-tile risk groups.

* :mod:`~radsurv.signatures.preprocess`: standardisation and feature filters.
* :mod:`~radsurv.signatures.signature`: :class:`LassoCoxSignature`, :class:`StackedSignature`.
* :mod:`~radsurv.signatures.risk_groups`: :class:`RiskGroups` (the X-tile cut) and group summaries.
* :mod:`~radsurv.signatures.stage`: the ``03_signatures`` stage.
"""

from .preprocess import FeatureFilter, Standardiser, correlation_filter, near_zero_variance
from .risk_groups import RiskGroups, group_summary, hazard_ratio_per_sd
from .signature import LassoCoxSignature, StackedSignature, fold_ids

__all__ = ["FeatureFilter", "LassoCoxSignature", "RiskGroups", "StackedSignature", "Standardiser",
           "correlation_filter", "fold_ids", "group_summary", "hazard_ratio_per_sd", "near_zero_variance"]

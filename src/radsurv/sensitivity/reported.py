"""The signatures the sensitivity analyses report, and their printed names."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from ..signatures.development import MULTIMODAL, REGION_SIGNATURES, SIGNATURES

__all__ = ["REPORTED_SIGNATURES", "reported_label", "reported_scores"]

#: The signatures whose C the harmonisation, mask-source and ring-width analyses report, in this order.
REPORTED_SIGNATURES = (*REGION_SIGNATURES, "us", "mri", MULTIMODAL)


def reported_label(name: str) -> str:
    """A signature's printed name; the multi-modal one is the signature that feeds the models."""
    return "Multi-modal (feeds the models)" if name == MULTIMODAL else SIGNATURES[name][0]


def reported_scores(predictors: Mapping[str, Any], X: pd.DataFrame) -> pd.DataFrame:
    """Patients x signatures: the Rad-score of each reported signature a development has
    (:meth:`radsurv.signatures.development.Development.predictors`), on the features ``X``."""
    names = [n for n in REPORTED_SIGNATURES if n in predictors]
    return pd.DataFrame({n: predictors[n].predict(X) for n in names}, index=X.index)

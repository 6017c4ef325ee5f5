"""Radiomics features: PyRadiomics extraction (shared filters, cache) and robustness.

* :mod:`radsurv.features.extract` - :func:`extract_patients`, :func:`wide_matrix`,
  :class:`SharedFilterExtractor`.
* :mod:`radsurv.features.robustness` - ICC between mask sources, mask perturbation,
  ICC figure.
* :mod:`radsurv.features.ibsi` - IBSI 1 digital phantom compliance table.
"""

from .extract import (
    Case,
    ExtractionError,
    ExtractionResult,
    SharedFilterExtractor,
    extract_patients,
    wide_matrix,
)

__all__ = [
    "Case",
    "ExtractionError",
    "ExtractionResult",
    "SharedFilterExtractor",
    "extract_patients",
    "wide_matrix",
]

"""Radiomics features: regions, PyRadiomics extraction (shared filters, cache), robustness.

* :mod:`radsurv.features.regions` - :func:`example_patient`, :func:`example_regions`,
  :func:`reproducibility_subset`, :func:`build_cases` (every patient's regions).
* :mod:`radsurv.features.one_region` - :func:`settings_table`, :func:`extract_region`
  (:class:`RegionFeatures`: the features of one region by class and image type).
* :mod:`radsurv.features.extract` - :func:`extract_features`, :func:`extract_patients`,
  :func:`wide_matrix`, :class:`SharedFilterExtractor`.
* :mod:`radsurv.features.collect` - :func:`collect_features` (:class:`FeatureTable`: the
  features kept, the failures and the exclusions).
* :mod:`radsurv.features.robustness` - :func:`segmentation_robustness`
  (:class:`Robustness`: ICC between mask sources and under perturbation), the ICC figure.
* :mod:`radsurv.features.ibsi` - :func:`ibsi_check` (:class:`IbsiCompliance`: the IBSI 1
  digital phantom).
"""

from .collect import FeatureTable, analysis_exclusions, collect_features
from .extract import (
    Case,
    ExtractionError,
    ExtractionResult,
    SharedFilterExtractor,
    extract_features,
    extract_patients,
    extraction_params,
    wide_matrix,
)
from .ibsi import IbsiCompliance, ibsi_check
from .one_region import RegionFeatures, extract_region, feature_name_parts, settings_table
from .regions import build_cases, example_patient, example_regions, reproducibility_subset
from .robustness import Robustness, robustness_table, segmentation_robustness

__all__ = [
    "analysis_exclusions",
    "build_cases",
    "Case",
    "collect_features",
    "example_patient",
    "example_regions",
    "extract_features",
    "extract_patients",
    "extract_region",
    "extraction_params",
    "ExtractionError",
    "ExtractionResult",
    "feature_name_parts",
    "FeatureTable",
    "ibsi_check",
    "IbsiCompliance",
    "RegionFeatures",
    "reproducibility_subset",
    "Robustness",
    "robustness_table",
    "segmentation_robustness",
    "settings_table",
    "SharedFilterExtractor",
    "wide_matrix",
]

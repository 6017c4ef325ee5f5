"""The study's vocabulary in one place: sets, modalities, regions, mask sources, methods.

Codes (``train``, ``us``, ``intra``...) are what files and tables store; labels are what
figures, tables and the paper print. Every stage imports them from here, so a label is
changed once.
"""

from __future__ import annotations

__all__ = [
    "ANALYSIS_MASK",
    "FEATURE_CLASS_LABELS",
    "METHOD_LABELS",
    "MODALITIES",
    "MODALITY_LABELS",
    "MODALITY_NAMES",
    "REGIONS",
    "REGION_LABELS",
    "SET_LABELS",
    "SPLITS",
    "SPLIT_LABELS",
    "centre_sort_key",
    "region_prefix",
]

#: The three sets of the study, in the order tables and figures show them.
SPLITS: tuple[str, ...] = ("train", "internal", "external")
SPLIT_LABELS: dict[str, str] = {"train": "Training", "internal": "Internal test", "external": "External test"}

#: Sets on which segmentation is evaluated: the held-out development images, then the cohort's sets.
SET_LABELS: dict[str, str] = {"devtest": "Development test", **SPLIT_LABELS}

MODALITIES: tuple[str, ...] = ("us", "mri")
MODALITY_LABELS: dict[str, str] = {"us": "US", "mri": "MRI"}
#: The modalities as running text names them ("the ultrasound network").
MODALITY_NAMES: dict[str, str] = {"us": "ultrasound", "mri": "MRI"}

REGIONS: tuple[str, ...] = ("intra", "peri")
REGION_LABELS: dict[str, str] = {"intra": "Intra-tumoral", "peri": "Peri-tumoral"}


def region_prefix(modality: str, region: str) -> str:
    """The prefix of a region's features in the matrices of all regions side by side
    (``us_intra__`` for ``us_intra__original_firstorder_Mean``)."""
    return f"{modality}_{region}__"


#: PyRadiomics' feature classes as the paper names them.
FEATURE_CLASS_LABELS: dict[str, str] = {"shape": "3D shape", "shape2D": "2D shape", "firstorder": "first order",
                                        "glcm": "GLCM", "glrlm": "GLRLM", "glszm": "GLSZM", "gldm": "GLDM",
                                        "ngtdm": "NGTDM"}

#: Segmentation methods compared in the segmentation stage.
METHOD_LABELS: dict[str, str] = {"unet": "U-Net", "baseline": "Baseline (SimpleITK)", "reader": "Reader"}

#: The mask source of the analysis (the automatic mask, or its fallback); the other
#: sources (reader, true, perturbed) exist only for the reproducibility subset.
ANALYSIS_MASK = "auto"


def centre_sort_key(centre: object) -> tuple[int, float, str]:
    """Sort centres as people expect: numbers numerically (2 before 10), then names
    alphabetically ("Hospital A" before "Hospital B")."""
    text = str(centre).strip()
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def in_sentence(name: str) -> str:
    """A printed name inside a sentence: first letter lower-cased ("the multi-modal
    signature"), unless the name starts with an acronym ("MRI (intra + peri)")."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]

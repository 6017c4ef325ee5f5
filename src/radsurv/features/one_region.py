"""The features of one region, and the settings they are extracted with.

* :func:`settings_table`: the PyRadiomics parameter files of the modalities side by side
  (image types, feature classes, every setting).
* :func:`feature_name_parts`: a PyRadiomics feature name split into image type, class
  and feature.
* :func:`extract_region`: the features of one region of one image
  (:class:`~radsurv.features.extract.SharedFilterExtractor`, as the pipeline extracts
  them), as a :class:`RegionFeatures` that shows its counts per class and image type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import SimpleITK as sitk

from ..labels import FEATURE_CLASS_LABELS, MODALITY_LABELS
from ..results import ShowsItself
from .extract import SharedFilterExtractor, _quiet_pyradiomics, read_params

__all__ = ["extract_region", "feature_name_parts", "RegionFeatures", "settings_table"]


def _text(value: Any) -> str:
    """A setting's value as the table prints it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " x ".join(_text(v) for v in value) if all(isinstance(v, (int, float)) for v in value) else \
            ", ".join(_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _image_types(image_type: Mapping[str, Any] | None) -> str:
    parts = []
    for name, options in (image_type or {}).items():
        options = options or {}
        if "sigma" in options:
            parts.append(f"{name} (sigma {', '.join(f'{s:g}' for s in options['sigma'])} mm)")
        elif options:
            parts.append(f"{name} ({', '.join(f'{k} {_text(v)}' for k, v in options.items())})")
        else:
            parts.append(name)
    return "; ".join(parts) or "none"


def settings_table(params: Mapping[str, str | os.PathLike | Mapping[str, Any]]) -> pd.DataFrame:
    """The parameter files of the modalities side by side.

    Parameters
    ----------
    params : mapping
        Modality -> PyRadiomics parameter file or dict
        (:func:`~radsurv.features.extract.extraction_params`).

    Returns
    -------
    DataFrame
        Index: ``image types``, ``feature classes``, then every key of the files'
        ``setting`` sections (in the first file's order); one column per modality
        (labelled ``US``, ``MRI``); "not set" where a file does not set a key
        (PyRadiomics' default then applies).
    """
    parsed = {m: read_params(p) for m, p in params.items()}
    keys: list[str] = []
    for p in parsed.values():
        keys += [k for k in (p.get("setting") or {}) if k not in keys]
    columns = {}
    for m, p in parsed.items():
        setting = p.get("setting") or {}
        classes = [FEATURE_CLASS_LABELS.get(c, c) for c in (p.get("featureClass") or {})]
        column = {"image types": _image_types(p.get("imageType")), "feature classes": ", ".join(classes) or "all"}
        column.update({k: _text(setting[k]) if k in setting else "not set" for k in keys})
        columns[MODALITY_LABELS.get(m, m)] = column
    out = pd.DataFrame(columns)
    out.index.name = "setting"
    return out


def feature_name_parts(name: str) -> tuple[str, str, str]:
    """A PyRadiomics feature name's image type, feature class and feature.

    Parameters
    ----------
    name : str
        E.g. ``log-sigma-1-0-mm-3D_glcm_Contrast`` or ``original_shape2D_Elongation``.

    Returns
    -------
    tuple of str
        ``(image_type, feature_class, feature)``, e.g.
        ``("log-sigma-1-0-mm-3D", "glcm", "Contrast")``.

    Raises
    ------
    ValueError
        If the name does not have three parts.
    """
    parts = name.split("_", 2)
    if len(parts) != 3:
        raise ValueError(f"not a PyRadiomics feature name (image type_class_feature): {name!r}")
    return parts[0], parts[1], parts[2]


@dataclass(repr=False)
class RegionFeatures(ShowsItself):
    """The PyRadiomics features of one region of one image.

    Attributes
    ----------
    values : Series
        Feature name -> value, in PyRadiomics' order.
    modality, region : str
        What was extracted (``us``/``mri``, ``intra``/``peri``).
    """

    values: pd.Series
    modality: str
    region: str


    def title(self) -> str:
        return (f"{len(self.values)} features of one {MODALITY_LABELS.get(self.modality, self.modality)} "
                f"{self.region}-tumoral region")

    def table(self) -> pd.DataFrame:
        """One row per feature: ``image_type``, ``feature_class``, ``feature``, ``value``."""
        parts = [feature_name_parts(n) for n in self.values.index]
        return pd.DataFrame({"image_type": [p[0] for p in parts], "feature_class": [p[1] for p in parts],
                             "feature": [p[2] for p in parts], "value": self.values.to_numpy(float)})

    def summary(self) -> pd.DataFrame:
        """Features per class (rows, as the paper names them) and image type (columns),
        with totals."""
        t = self.table()
        t["feature_class"] = t["feature_class"].map(lambda c: FEATURE_CLASS_LABELS.get(c, c))
        counts = pd.crosstab(t["feature_class"], t["image_type"], margins=True, margins_name="total")
        order = list(dict.fromkeys(t["image_type"]))
        classes = list(dict.fromkeys(t["feature_class"]))
        counts = counts.reindex(index=[*classes, "total"], columns=[*order, "total"])
        counts.index.name, counts.columns.name = "feature class", "image type"
        return counts

    def examples(self, n: int = 2, image_type: str = "original") -> pd.DataFrame:
        """The first ``n`` features of each class on one image type, with their values."""
        t = self.table()
        return t[t["image_type"] == image_type].groupby("feature_class", sort=False).head(n).reset_index(drop=True)

    def max_relative_difference(self, other: pd.Series) -> float:
        """Largest ``|a - b| / max(|b|, 1e-12)`` over the features of both (inf if their
        names differ): a check against the same region's values from elsewhere."""
        if set(other.index) != set(self.values.index):
            return float("inf")
        b = other.reindex(self.values.index).to_numpy(float)
        a = self.values.to_numpy(float)
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))) if a.size else 0.0


def extract_region(image: sitk.Image, mask: sitk.Image, params: str | os.PathLike | Mapping[str, Any],
                   modality: str = "", region: str = "intra") -> RegionFeatures:
    """The features of one region, extracted as the pipeline extracts them.

    Parameters
    ----------
    image, mask : SimpleITK.Image
        The image and the region's mask (on the image's grid).
    params : path or mapping
        The modality's PyRadiomics parameter file or dict.
    modality, region : str
        Labels of the result.

    Returns
    -------
    RegionFeatures

    Raises
    ------
    ValueError
        With PyRadiomics' reason, if the region cannot be extracted.
    """
    _quiet_pyradiomics()
    results, errors = SharedFilterExtractor(params).extract(image, {(region, "example"): mask})
    if errors:
        raise ValueError(f"the region could not be extracted: {next(iter(errors.values()))}")
    values = results[(region, "example")]
    return RegionFeatures(pd.Series(values, dtype=float, name="value"), modality, region)

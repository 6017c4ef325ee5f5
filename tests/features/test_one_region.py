"""The features of one region (radsurv.features.one_region): the settings table, feature
names, and RegionFeatures against PyRadiomics' own execute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radsurv.features.extract import extraction_params, make_extractor, read_params
from radsurv.features.one_region import RegionFeatures, extract_region, feature_name_parts, settings_table

from ._feature_synthetic import textured_case

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"params": {"us": "params/radiomics_us.yaml", "mri": "params/radiomics_mri.yaml"},
          "image_types": {"us": None, "mri": None}}


def test_settings_table_sets_the_two_parameter_files_side_by_side():
    t = settings_table(extraction_params(PARAMS, ROOT))
    assert list(t.columns) == ["US", "MRI"] and t.index.name == "setting"
    assert list(t.index[:2]) == ["image types", "feature classes"]
    assert t.loc["binWidth"].tolist() == ["16", "5"]
    assert t.loc["normalize"].tolist() == ["no", "yes"]
    assert t.loc["resampledPixelSpacing"].tolist() == ["none", "1 x 1 x 1"]
    assert t.loc["padDistance", "US"] == "not set" and t.loc["padDistance", "MRI"] == "12"
    assert t.loc["image types", "US"] == "Original; LoG (sigma 1, 2, 3 mm); Wavelet"
    assert t.loc["feature classes", "MRI"].startswith("3D shape, first order, GLCM")
    # every setting of every file has a row
    keys = set(read_params(ROOT / "params/radiomics_us.yaml")["setting"]) | set(
        read_params(ROOT / "params/radiomics_mri.yaml")["setting"])
    assert set(t.index) == keys | {"image types", "feature classes"}
    # the profile's image types replace the file's
    quick = dict(PARAMS, image_types={"us": {"Original": {}, "LoG": {"sigma": [1.0]}}, "mri": {"Original": {}}})
    t = settings_table(extraction_params(quick, ROOT))
    assert t.loc["image types"].tolist() == ["Original; LoG (sigma 1 mm)", "Original"]


def test_feature_name_parts():
    assert feature_name_parts("log-sigma-1-0-mm-3D_glcm_Contrast") == ("log-sigma-1-0-mm-3D", "glcm", "Contrast")
    assert feature_name_parts("original_shape2D_Elongation") == ("original", "shape2D", "Elongation")
    assert feature_name_parts("wavelet-LH_firstorder_10Percentile") == ("wavelet-LH", "firstorder", "10Percentile")
    with pytest.raises(ValueError, match="not a PyRadiomics feature name"):
        feature_name_parts("Contrast")


def _params(file, image_types):
    params = read_params(ROOT / "params" / file)
    params["imageType"] = image_types
    return params


def test_extract_region_equals_pyradiomics_and_counts_by_class_and_image_type():
    import matplotlib

    matplotlib.use("Agg")
    image, masks = textured_case((90, 90), (0.1, 0.1), 2.5, seed=2)
    params = _params("radiomics_us.yaml", {"Original": {}, "LoG": {"sigma": [1.0]}})
    one = extract_region(image, masks[("intra", "true")], params, modality="us")
    reference = {k: float(v) for k, v in make_extractor(params).execute(image, masks[("intra", "true")]).items()
                 if not k.startswith("diagnostics")}
    assert one.max_relative_difference(pd.Series(reference)) < 1e-6   # the fast MCC agrees to ~1e-8
    s = one.summary()
    assert list(s.columns) == ["original", "log-sigma-1-0-mm-3D", "total"] and s.columns.name == "image type"
    assert s.loc["total", "total"] == len(one.values) == len(reference)
    assert s.loc["2D shape", "log-sigma-1-0-mm-3D"] == 0 < s.loc["2D shape", "original"]  # shape: the mask only
    # every texture class is computed alike on every image type
    texture = s.drop(index=["2D shape", "total"])
    assert (texture["original"] == texture["log-sigma-1-0-mm-3D"]).all()
    assert s.loc["first order", "original"] == 18 and s.loc["GLCM", "original"] == 24
    assert one.title() == f"{len(reference)} features of one US intra-tumoral region" == repr(one)
    assert one.title() in one._repr_html_()
    ex = one.examples(n=2)
    assert list(ex.columns) == ["image_type", "feature_class", "feature", "value"]
    assert (ex["image_type"] == "original").all() and ex.groupby("feature_class").size().max() == 2
    first = ex.iloc[0]
    assert first["value"] == one.values[f"original_{first['feature_class']}_{first['feature']}"]
    with pytest.raises(NotImplementedError):
        one.plot()


def test_max_relative_difference():
    values = pd.Series({"original_firstorder_Mean": 2.0, "original_firstorder_Median": -4.0})
    one = RegionFeatures(values, "mri", "peri")
    assert one.max_relative_difference(values) == 0.0
    assert one.max_relative_difference(values * 1.25) == pytest.approx(0.25 / 1.25)
    assert one.max_relative_difference(values.iloc[:1]) == np.inf
    assert one.title() == "2 features of one MRI peri-tumoral region"


def test_extract_region_says_why_a_region_cannot_be_extracted():
    import SimpleITK as sitk

    image, _ = textured_case((40, 40), (0.1, 0.1), 1.0, seed=1)
    small = np.zeros((40, 40), dtype=np.uint8)
    small[20:22, 20:23] = 1  # 6 pixels: below minimumROISize (20)
    mask = sitk.GetImageFromArray(small)
    mask.CopyInformation(image)
    with pytest.raises(ValueError, match="could not be extracted: .*"):
        extract_region(image, mask, _params("radiomics_us.yaml", {"Original": {}}))

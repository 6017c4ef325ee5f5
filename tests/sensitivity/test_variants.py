"""The region variants: rings and sources built in the worker are the regions radsurv.roi
builds, every variant of an image is extracted, matrices take 03's column names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.roi import intratumoral, peritumoral_ring
from radsurv.sensitivity.variants import (common_patients, extract_variants, jaccard, ring_source,
                                          selected_features, variant_jobs, variant_matrix)


def _write(tmp_path, name, array, spacing=(0.5, 0.5)):
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    path = tmp_path / f"{name}.nii.gz"
    sitk.WriteImage(img, str(path))
    return str(path)


@pytest.fixture
def study(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.normal(100, 20, (80, 80)).astype(np.float32)
    auto = np.zeros((80, 80), np.uint8)
    auto[30:50, 30:50] = 1
    reader = np.zeros_like(auto)
    reader[31:52, 29:49] = 1
    paths = {"image": _write(tmp_path, "img", image), "auto": _write(tmp_path, "auto", auto),
             "reader": _write(tmp_path, "reader", reader)}
    params = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None, "shape2D": None},
              "setting": {"label": 1, "binWidth": 10, "force2D": False, "minimumROIDimensions": 2,
                          "minimumROISize": 5, "additionalInfo": False}}
    return paths, params


def test_every_variant_is_the_region_roi_builds(study):
    paths, params = study
    analysis = pd.DataFrame({"patient_id": ["P1"], "modality": ["us"], "mask": [paths["auto"]]})
    jobs = variant_jobs(analysis, {("P1", "us"): paths["image"]}, {"reader": {("P1", "us"): paths["reader"]}},
                        [1.0, 2.0, 5.0])
    res = extract_variants(jobs, {"us": params}, 5.0, {"us": None}, n_jobs=1, progress=False)
    tidy = res.features
    assert res.failures.empty
    got = set(zip(tidy["region"], tidy["mask_source"]))
    assert got == {("intra", "auto"), ("peri", "auto"), ("intra", "reader"), ("peri", "reader"),
                   ("peri", "ring1mm"), ("peri", "ring2mm")}     # 5 mm is the analysis ring itself
    area = tidy[tidy["feature"] == "original_shape2D_PixelSurface"].set_index(["region", "mask_source"])["value"]
    lesion = intratumoral(sitk.ReadImage(paths["auto"]))
    for width, source in ((1.0, "ring1mm"), (2.0, "ring2mm"), (5.0, "auto")):
        ring = sitk.GetArrayFromImage(peritumoral_ring(lesion, width)).sum()
        assert area[("peri", source)] == pytest.approx(ring * 0.25, rel=1e-9)   # 0.5 mm pixels
    assert area[("intra", "reader")] == pytest.approx(21 * 20 * 0.25, rel=1e-9)
    # widths nest: a wider ring has more pixels
    assert area[("peri", "ring1mm")] < area[("peri", "ring2mm")] < area[("peri", "auto")]
    X = variant_matrix(tidy, {("us", "intra"): "reader", ("us", "peri"): ring_source(2.0)})
    assert list(X.index) == ["P1"] and X.columns[0].startswith("us_intra__original_")
    assert X.loc["P1", "us_peri__original_shape2D_PixelSurface"] == area[("peri", "ring2mm")]
    assert common_patients(tidy, [("us", "intra"), ("us", "peri")], ["auto", "reader"]) == ["P1"]
    assert common_patients(tidy, [("us", "peri")], ["true"]) == []


def test_a_failed_source_is_reported_not_dropped_silently(study, tmp_path):
    paths, params = study
    empty = _write(tmp_path, "empty", np.zeros((80, 80), np.uint8))
    analysis = pd.DataFrame({"patient_id": ["P1"], "modality": ["us"], "mask": [paths["auto"]]})
    jobs = variant_jobs(analysis, {("P1", "us"): paths["image"]}, {"reader": {("P1", "us"): empty}}, [])
    res = extract_variants(jobs, {"us": params}, 3.0, {"us": None}, n_jobs=1, progress=False)
    assert list(res.failures["mask_source"]) == ["reader"] and "region" in res.failures["reason"].iloc[0]
    assert set(res.features["mask_source"]) == {"auto"}


def test_jaccard_and_selected_features():
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0

    class Sig:
        def __init__(self, names):
            self.coef_ = pd.Series(1.0, index=names)

    class Stacked:
        components = {"x": Sig(["a", "b"]), "y": Sig(["c"])}
        used_ = ["x"]

    assert selected_features(Sig(["a"])) == {"a"}
    assert selected_features(Stacked()) == {"a", "b"}

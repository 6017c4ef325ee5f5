"""What the typed readers hand to more than one stage: the wide feature matrix and the
analysis masks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radsurv.stages.readers import FeatureOutputs, SegmentationOutputs


@pytest.fixture
def features(tmp_path) -> FeatureOutputs:
    us = pd.DataFrame({"mean": [1.0, 2.0, 3.0], "energy": [4.0, 5.0, 6.0]}, index=pd.Index([3, 1, 2], name="p"))
    mri = pd.DataFrame({"mean": [7.0, 8.0]}, index=pd.Index([1, 3], name="p"))
    us.to_parquet(tmp_path / "matrix_us_intra.parquet")
    mri.to_parquet(tmp_path / "matrix_mri_peri.parquet")
    icc = pd.DataFrame({"modality": ["us", "us", "mri"], "region": ["intra", "intra", "peri"],
                        "feature": ["mean", "energy", "mean"], "flag": [False, True, True]})
    return FeatureOutputs(tmp_path, icc, pd.DataFrame())


def test_the_wide_matrix_has_every_region_for_the_patients_with_all_of_them(features):
    X, flagged = features.wide()
    assert list(X.columns) == ["us_intra__mean", "us_intra__energy", "mri_peri__mean"]
    assert list(X.index) == ["1", "3"] and X.index.name == "patient_id"
    assert X.loc["3"].tolist() == [1.0, 4.0, 8.0]
    assert flagged == {"us_intra__energy", "mri_peri__mean"}
    X2, none = features.wide(drop_flagged=False)
    pd.testing.assert_frame_equal(X, X2)
    assert none == set()


def test_no_feature_matrix_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="wrote no feature matrix"):
        FeatureOutputs(tmp_path, pd.DataFrame(), pd.DataFrame()).wide()


def test_analysis_masks_leave_out_every_excluded_patient():
    masks = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2", "P3", "P3"],
                          "modality": ["us", "mri"] * 3,
                          "mask": ["a", "b", "c", None, "e", "f"],
                          "source": ["auto", "reader", "auto", "excluded", "auto", "auto"]})
    seg = SegmentationOutputs(Path("."), masks, pd.DataFrame({"patient_id": ["P2"], "modality": ["mri"],
                                                              "reason": ["x"]}), pd.DataFrame())
    kept = seg.analysis_masks()
    assert list(zip(kept.patient_id, kept.modality)) == [("P1", "us"), ("P1", "mri"), ("P3", "us"), ("P3", "mri")]

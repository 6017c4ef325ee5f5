"""Every patient's features collected (radsurv.features.collect) and the example patient's
regions (radsurv.features.regions): failures, exclusions, counts, no identifier shown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.features.collect import FeatureTable, collect_features
from radsurv.features.extract import FAILURE_COLUMNS, TIDY_COLUMNS, ExtractionError, ExtractionResult
from radsurv.features.regions import example_patient, example_regions


def _result():
    rows = []
    for p in ("P3", "P1", "P2"):
        for m, r in (("us", "intra"), ("us", "peri"), ("mri", "intra")):
            for f in range(3):
                rows.append((p, m, r, "auto", f"original_firstorder_F{f}", float(f + int(p[1]))))
        if p == "P1":  # the reproducibility subset's reader mask
            rows += [(p, "us", "intra", "reader", f"original_firstorder_F{f}", 0.5) for f in range(3)]
    failures = pd.DataFrame([("P2", "mri", "peri", "auto", "non-finite feature values: x"),
                             ("P1", "us", "peri", "reader", "RuntimeError: cannot read /data/P1_us_reader.nii.gz")],
                            columns=FAILURE_COLUMNS)
    return ExtractionResult(pd.DataFrame(rows, columns=TIDY_COLUMNS), failures, n_extracted=4, n_cached=7,
                            timings={"load": 1.0, "filters": 0.0, "features": 2.0})


def test_a_failed_analysis_region_excludes_its_patient_and_another_source_excludes_nobody():
    region_failures = pd.DataFrame([("P3", "us", "peri", "perturbed1", "region: ValueError: empty ring")],
                                   columns=FAILURE_COLUMNS)
    t = collect_features(_result(), region_failures, ["P1", "P3"], "exclude")
    assert t.excluded.to_dict("records") == [{"patient_id": "P2", "reason": "non-finite feature values: x"}]
    assert set(t.tidy["patient"]) == {"P1", "P3"} and list(t.tidy.columns) == TIDY_COLUMNS
    assert list(t.tidy["patient"].drop_duplicates()) == ["P1", "P3"]   # sorted by patient
    assert list(t.failures["patient"]) == ["P1", "P2", "P3"] and len(t.failures) == 3
    assert (t.n_extracted, t.n_cached, t.subset) == (4, 7, ["P1", "P3"])
    with pytest.raises(ExtractionError, match="P2/mri/peri/auto"):
        collect_features(_result(), region_failures, [], "fail")


def test_feature_table_shows_counts_per_modality_and_region_and_masks_identifiers():
    t = collect_features(_result(), pd.DataFrame(columns=FAILURE_COLUMNS), ["P1"], "exclude")
    s = t.summary()
    assert list(s.columns) == ["modality", "region", "patients", "features", "subset_patients",
                               "other_mask_sources", "failed_regions"]
    assert s[["modality", "region"]].values.tolist() == [["US", "intra"], ["US", "peri"], ["MRI", "intra"]]
    assert s["patients"].tolist() == [2, 2, 2] and s["features"].tolist() == [3, 3, 3]
    assert s["subset_patients"].tolist() == [1, 0, 0] and s["other_mask_sources"].tolist() == ["reader", "none", "none"]
    assert s["failed_regions"].tolist() == [0, 1, 0]   # the reader's US ring
    assert t.title() == ("Radiomic features of 2 patients: 11 regions (4 extracted now, 7 from the cache); "
                         "2 failed regions, 1 patients excluded") == repr(t)
    reasons = t.failure_reasons()
    assert reasons["regions"].sum() == 2
    assert "RuntimeError: cannot read /data/<patient>_us_reader.nii.gz" in set(reasons["reason"])
    html = t._repr_html_()
    assert t.title() in html and "P1" not in html and "P3" not in html
    assert "P1" not in reasons.to_string()
    assert t.values("P3", "us", "intra").to_dict() == {f"original_firstorder_F{f}": f + 3.0 for f in range(3)}
    assert t.values("P1", "us", "intra", "reader").tolist() == [0.5] * 3
    wide = t.matrices()
    assert sorted(wide) == [("mri", "intra"), ("us", "intra"), ("us", "peri")]
    assert wide[("us", "intra")].shape == (2, 3) and list(wide[("us", "intra")].index) == ["P1", "P3"]


def test_no_failure_is_an_empty_table_with_its_columns():
    ok = _result()
    ok.failures = ok.failures.iloc[:0]
    t = collect_features(ok, pd.DataFrame(columns=FAILURE_COLUMNS), [], "fail")
    assert t.failure_reasons().empty and list(t.failure_reasons().columns) == [
        "modality", "region", "mask_source", "reason", "regions"]
    assert isinstance(t, FeatureTable) and t.excluded.empty


def test_the_example_patient_is_the_first_training_patient_with_every_modality():
    cohort = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "split": ["internal", "train", "train", "train"]})
    masks = pd.DataFrame({"patient_id": ["A", "A", "B", "C", "C", "D"],
                          "modality": ["us", "mri", "mri", "us", "mri", "us"]})
    assert example_patient(cohort, masks) == "C"     # B lacks the US mask
    assert example_patient(cohort, masks[masks.modality == "mri"]) == "B"  # an MRI-only cohort
    assert example_patient(cohort, masks[masks.patient_id == "D"]) == "D"
    with pytest.raises(ValueError, match="no training patient"):
        example_patient(cohort, masks[masks.patient_id == "A"])


def test_example_regions_are_the_regions_the_pipeline_builds(tmp_path):
    from radsurv.roi import intratumoral, peritumoral_ring

    values = np.full((50, 60), 80, dtype=np.int16)
    values[:, :8] = 0   # air at the left edge
    lesion = np.zeros((50, 60), dtype=np.uint8)
    lesion[20:30, 12:30] = 1
    image = sitk.GetImageFromArray(values)
    image.SetSpacing((0.5, 0.5))
    mask = sitk.GetImageFromArray(lesion)
    mask.CopyInformation(image)
    sitk.WriteImage(image, str(tmp_path / "img.nii.gz"))
    sitk.WriteImage(mask, str(tmp_path / "mask.nii.gz"))
    cohort = pd.DataFrame({"patient_id": ["X"], "split": ["train"], "us_image": [str(tmp_path / "img.nii.gz")]})
    masks = pd.DataFrame({"patient_id": ["X"], "modality": ["us"], "mask": [str(tmp_path / "mask.nii.gz")]})
    params = {"ring_width_mm": 3.0, "air_threshold": {"us": 10.0, "mri": None}}
    regions = example_regions(cohort, masks, "X", params)
    assert list(regions) == ["us"]
    ring = peritumoral_ring(intratumoral(mask), 3.0, image=image, air_threshold=10.0)
    assert np.array_equal(sitk.GetArrayFromImage(regions["us"].peri), sitk.GetArrayFromImage(ring))
    assert regions["us"].air_fraction > 0 and regions["us"].width_mm == 3.0

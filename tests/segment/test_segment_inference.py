"""Cohort inference: parallel, masks written, flags, policy, user masks kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radsurv.segment.baseline import BaselineSegmenter
from radsurv.segment.inference import COLUMNS, segment_cohort

from ._segment_synth import disc_case, make_image


def _cohort(tmp_path):
    good, good_mask = disc_case(1, n=240, spacing=0.15, bright=False, radius_px=(30, 36))
    blank = make_image(np.full((240, 240), 128, np.uint8), (0.15, 0.15))  # nothing to find
    edge = good_mask  # reused as the reader mask of the blank case
    # A lesion cut by the image border: the baseline finds it but there is no ring room.
    a = sitk.GetArrayFromImage(good)
    border_img = make_image(np.ascontiguousarray(a[:, 100:]), (0.15, 0.15))
    user_mask = tmp_path / "user_mask.nii.gz"
    sitk.WriteImage(good_mask, str(user_mask))
    return [
        {"patient_id": "P1", "image": good, "reader_mask": good_mask},
        {"patient_id": "P2", "image": good, "mask": str(user_mask)},
        {"patient_id": "P3", "image": blank, "reader_mask": edge},
        {"patient_id": "P/4", "image": border_img, "reader_mask": None},
    ]


def test_segment_cohort_reader_policy(tmp_path):
    out = segment_cohort(_cohort(tmp_path), BaselineSegmenter("us"), tmp_path / "auto", n_jobs=2, progress=False,
                         policy="reader", border_margin_mm=5.0)
    assert list(out.columns) == COLUMNS and list(out["patient_id"]) == ["P1", "P2", "P3", "P/4"]
    r = out.set_index("patient_id")
    assert r.loc["P1", "source"] == "auto" and r.loc["P1", "flag"] == "ok" and r.loc["P1", "mask"] == r.loc["P1", "auto_mask"]
    written = sitk.ReadImage(r.loc["P1", "auto_mask"])
    assert written.GetSize() == (240, 240)
    # the written mask is the segmenter's prediction for that image, and finds the lesion
    expected = sitk.GetArrayFromImage(BaselineSegmenter("us").predict(_cohort(tmp_path)[0]["image"]))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), expected)
    truth = sitk.GetArrayFromImage(_cohort(tmp_path)[0]["reader_mask"]).astype(bool)
    overlap = 2 * np.sum(expected.astype(bool) & truth) / (expected.astype(bool).sum() + truth.sum())
    assert overlap > 0.98, overlap  # measured Dice 0.989 (a clear dark disc)
    # The user's mask is kept as is and reported; no automatic mask is made for it.
    assert r.loc["P2", "source"] == "user" and r.loc["P2", "mask"].endswith("user_mask.nii.gz")
    assert r.loc["P2", "auto_mask"] is None or pd.isna(r.loc["P2", "auto_mask"])
    # Empty prediction: replaced by the reader mask, and said so.
    assert r.loc["P3", "flag"] == "empty" and r.loc["P3", "source"] == "reader" and "reader" in r.loc["P3", "reason"]
    # Border: no reader mask to fall back on, so excluded with the reason.
    assert r.loc["P/4", "flag"] == "border" and r.loc["P/4", "source"] == "excluded"
    assert "border" in r.loc["P/4", "reason"] and "no reader mask" in r.loc["P/4", "reason"]
    assert (tmp_path / "auto" / "P_4_auto.nii.gz").exists()  # safe file name from the ID


def test_segment_cohort_exclude_policy_from_a_dataframe(tmp_path):
    cases = pd.DataFrame(_cohort(tmp_path))
    out = segment_cohort(cases, BaselineSegmenter("us"), tmp_path / "auto", n_jobs=1, progress=False,
                         policy="exclude", border_margin_mm=5.0)
    r = out.set_index("patient_id")
    assert r.loc["P3", "source"] == "excluded" and r.loc["P3", "mask"] is None and "exclude" in r.loc["P3", "reason"]
    assert r.loc["P1", "source"] == "auto" and r.loc["P2", "source"] == "user"

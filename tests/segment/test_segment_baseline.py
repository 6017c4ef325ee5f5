"""The classical baseline on easy synthetic cases (no ground truth used at inference)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radsurv.segment.baseline import BaselineSegmenter, otsu_threshold
from radsurv.segment.metrics import dice

from ._segment_synth import disc_case, make_image, sphere_case


def test_us_baseline_finds_a_hypoechoic_disc():
    img, mask = disc_case(1, n=160, spacing=0.15, bright=False, radius_px=(30, 40))
    seg = BaselineSegmenter("us")
    pred = seg.predict(img)
    assert pred.GetSize() == img.GetSize() and pred.GetOrigin() == img.GetOrigin()
    assert dice(pred, mask) > 0.98  # measured 0.991
    # The seed comes from the image and lies inside the lesion.
    assert sitk.GetArrayFromImage(mask)[seg.seed(img)] == 1


def test_mri_baseline_finds_an_enhancing_sphere_at_any_intensity_scale():
    for scale, offset in ((900.0, 200.0), (60.0, 0.0)):
        img, mask = sphere_case(2, shape=(24, 48, 48), spacing=(0.8, 0.8, 2.0), radius_mm=9.0, scale=scale, offset=offset)
        pred = BaselineSegmenter("mri").predict(img)
        assert pred.GetDirection() == img.GetDirection() and pred.GetSpacing() == img.GetSpacing()
        assert dice(pred, mask) > 0.98  # measured 0.988 at both scales


def test_baseline_accepts_one_slice_us_volumes_and_blank_images():
    img, mask = disc_case(3, n=120, spacing=0.15, bright=False, radius_px=(25, 30))
    vol = sitk.JoinSeries(img)
    pred = BaselineSegmenter("us").predict(vol)
    assert pred.GetDimension() == 3 and pred.GetSize() == vol.GetSize()
    blank = make_image(np.full((50, 50), 128, np.uint8), (0.2, 0.2))
    assert sitk.GetArrayFromImage(BaselineSegmenter("us").predict(blank)).sum() == 0


def test_otsu_threshold_separates_two_modes():
    v = np.concatenate([np.full(100, 10.0), np.full(50, 30.0)])
    assert 10 < otsu_threshold(v) <= 30


def test_unknown_parameter_rejected():
    with pytest.raises(TypeError):
        BaselineSegmenter("us", sigma=1.0)

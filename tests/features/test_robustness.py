"""Tests for radsurv.features.robustness: ICC vs R irr, table, perturbation, figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.features.robustness import icc_figure, icc_single, icc_table, perturb_mask

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "icc"


def test_icc_matches_r_irr():
    ratings = pd.read_csv(REFERENCE / "data.csv", index_col="subject")
    expected = json.loads((REFERENCE / "results.json").read_text())["irr"]
    for form, key in [("ICC(2,1)", "twoway_agreement_single"), ("ICC(3,1)", "twoway_consistency_single")]:
        icc, lower, upper = icc_single(ratings, form)
        ref = expected[key]
        assert icc == pytest.approx(ref["value"], rel=1e-9)
        assert lower == pytest.approx(ref["lower"], rel=1e-6)
        assert upper == pytest.approx(ref["upper"], rel=1e-6)


def _tidy(rng: np.random.Generator, n: int = 30) -> pd.DataFrame:
    truth = rng.normal(10, 3, n)
    rows = []
    for i, t in enumerate(truth):
        for source, noise in (("auto", 0.3), ("reader", 0.3)):
            rows.append((f"P{i}", "MRI", "intra", source, "stable", t + rng.normal(0, noise)))
            rows.append((f"P{i}", "MRI", "intra", source, "noisy", rng.normal(0, 3)))
            rows.append((f"P{i}", "MRI", "intra", source, "constant", 1.0))
    return pd.DataFrame(rows, columns=["patient", "modality", "region", "mask_source", "feature", "value"])


def test_icc_table_flags_unreliable_features(tmp_path):
    table = icc_table(_tidy(np.random.default_rng(0)), sources=("auto", "reader"))
    assert list(table.columns) == ["modality", "region", "feature", "icc", "lower", "upper",
                                   "flag_below_threshold"]
    by_feature = table.set_index("feature")
    assert by_feature.loc["stable", "icc"] > 0.9 and not by_feature.loc["stable", "flag_below_threshold"]
    assert by_feature.loc["stable", "lower"] < by_feature.loc["stable", "icc"] < by_feature.loc["stable", "upper"]
    assert by_feature.loc["noisy", "flag_below_threshold"]
    assert np.isnan(by_feature.loc["constant", "icc"]) and by_feature.loc["constant", "flag_below_threshold"]
    path = tmp_path / "icc.png"
    icc_figure(table, path)
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="not in the feature table"):
        icc_table(_tidy(np.random.default_rng(1)), sources=("auto", "true"))


def _disc(radius: float = 8.0) -> sitk.Image:
    yy, xx = np.mgrid[:40, :40]
    mask = sitk.GetImageFromArray(((yy - 20) ** 2 + (xx - 20) ** 2 <= radius**2).astype(np.uint8))
    mask.SetSpacing((0.5, 0.5))
    return mask


def test_perturb_mask_kinds():
    mask = _disc()
    area = sitk.GetArrayViewFromImage(mask).sum()
    rng = np.random.default_rng(0)
    eroded = sitk.GetArrayFromImage(perturb_mask(mask, rng, "erode")).sum()
    dilated = sitk.GetArrayFromImage(perturb_mask(mask, rng, "dilate")).sum()
    assert eroded < area < dilated
    jittered = perturb_mask(mask, rng, "jitter")
    jittered_arr = sitk.GetArrayFromImage(jittered)
    assert jittered.GetSpacing() == mask.GetSpacing()
    assert 0.7 * area < jittered_arr.sum() < 1.3 * area
    assert (jittered_arr != sitk.GetArrayViewFromImage(mask)).any()
    # reproducible from the seed
    a = perturb_mask(mask, np.random.default_rng(5), "random")
    b = perturb_mask(mask, np.random.default_rng(5), "random")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
    with pytest.raises(ValueError, match="empty mask"):
        perturb_mask(sitk.Image(10, 10, sitk.sitkUInt8), rng)
    with pytest.raises(ValueError, match="kind"):
        perturb_mask(mask, rng, "shrink")


def test_jitter_amplitude_is_in_physical_units_and_sub_voxel_jitters_move_the_contour():
    """A jitter of half a voxel's size still moves the contour, and the mean absolute
    change in radius grows with the amplitude (about sqrt(2/pi) x SD for a Gaussian field)."""
    size, spacing = 96, 0.5
    yy, xx = np.mgrid[:size, :size]
    disc = (((yy - size / 2) * spacing) ** 2 + ((xx - size / 2) * spacing) ** 2) <= 12.0 ** 2
    mask = sitk.GetImageFromArray(disc.astype(np.uint8))
    mask.SetSpacing((spacing, spacing))
    changed = []
    for amplitude_mm in (0.25, 1.0):
        out = perturb_mask(mask, np.random.default_rng(3), "jitter", jitter_voxels=amplitude_mm / spacing,
                           smoothness_voxels=4.0)
        arr = sitk.GetArrayFromImage(out).astype(bool)
        changed.append((arr ^ disc).sum())
    assert changed[0] > 0
    # Pixels that change per unit contour length ~ mean |displacement| / spacing.
    perimeter_px = 2 * np.pi * 12.0 / spacing
    assert 0.5 < changed[1] / perimeter_px / (1.0 / spacing * np.sqrt(2 / np.pi)) < 1.5

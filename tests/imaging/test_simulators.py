"""Geometry, types and the ring guarantee of single simulated cases."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
import pytest
import SimpleITK as sitk

from radsurv.imaging import DEFAULT_SCANNERS, scanner_for, simulate_mri, simulate_us
from radsurv.imaging.checks import lesion_room_mm


def _arrays(case):
    return (sitk.GetArrayFromImage(case.image), sitk.GetArrayFromImage(case.true_mask),
            sitk.GetArrayFromImage(case.reader_mask))


@pytest.mark.parametrize("center", [1, 2, 3])
@pytest.mark.parametrize("size_mm", [6.0, 60.0])
def test_us_case_geometry_and_ring_room(center, size_mm):
    scanner = scanner_for(center, "us")
    case = simulate_us(1.0, -0.5, size_mm, scanner, np.random.default_rng(3))
    image, mask, reader = _arrays(case)
    assert case.image.GetDimension() == 2
    assert image.dtype == np.uint8 and mask.dtype == np.uint8 and reader.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1} and set(np.unique(reader)) == {0, 1}
    assert case.image.GetSpacing() == pytest.approx((scanner["spacing_mm"],) * 2)
    for m in (case.true_mask, case.reader_mask):
        assert m.GetSize() == case.image.GetSize() and m.GetSpacing() == case.image.GetSpacing()
    # Ring of 10 mm inside the image on every side; above the lesion it lies below
    # the skin line (skin < 2.5 mm deep), so the top needs 10 mm plus the skin.
    room = lesion_room_mm(mask, case.image.GetSpacing())
    assert min(room["x"]) >= 10.0
    assert room["y"][1] >= 10.0 and room["y"][0] >= 12.0
    # The lesion is hypoechoic, markedly so unless it drew a mildly hypo- to isoechoic
    # interior (half of lesions; the echo ratio is a nuisance draw).
    # Compared where the blurred margin does not reach: the core (over 1 mm inside)
    # against the tissue 1-3 mm outside, which the ratio refers to.
    ratio = case.info["echo_ratio"]
    spacing = case.image.GetSpacing()[::-1]
    core = ndi.distance_transform_edt(mask > 0, sampling=spacing) > 1.0
    outside = ndi.distance_transform_edt(mask == 0, sampling=spacing)
    shell = (outside > 1.0) & (outside <= 3.0)
    assert image[core].mean() < (0.75 if ratio < 0.3 else 1.0) * np.median(image[shell]), ratio
    # Lesion diameter about as asked (irregularity adds spicules, not bulk).
    area = mask.sum() * np.prod(case.image.GetSpacing())
    assert 0.3 * size_mm**2 < area < 1.2 * size_mm**2


@pytest.mark.parametrize("center", [1, 2, 3])
@pytest.mark.parametrize("size_mm", [6.0, 45.0])
def test_mri_case_geometry_and_ring_room(center, size_mm):
    scanner = scanner_for(center, "mri")
    case = simulate_mri(0.5, 0.5, size_mm, scanner, np.random.default_rng(4))
    image, mask, reader = _arrays(case)
    assert case.image.GetDimension() == 3 and min(case.image.GetSize()) > 1
    assert image.dtype == np.int16
    spacing = case.image.GetSpacing()
    assert spacing == pytest.approx((scanner["inplane_mm"], scanner["inplane_mm"], scanner["slice_mm"]))
    assert spacing[2] > spacing[0]  # anisotropic: thick slices
    assert set(np.unique(mask)) == {0, 1} and reader.any()
    room = lesion_room_mm(mask, spacing)
    assert set(room) == {"x", "y", "z"}
    assert min(min(v) for v in room.values()) >= 10.0
    # The lesion enhances: brighter than the crop around it.
    assert image[mask > 0].mean() > 2.0 * image[mask == 0].mean()


def test_center_one_differs_from_the_others():
    us = {c: DEFAULT_SCANNERS[c]["us"] for c in (1, 2, 3)}
    mri = {c: DEFAULT_SCANNERS[c]["mri"] for c in (1, 2, 3)}
    assert us[1]["spacing_mm"] > max(us[2]["spacing_mm"], us[3]["spacing_mm"])
    assert us[1]["psf_lateral_mm"] > max(us[2]["psf_lateral_mm"], us[3]["psf_lateral_mm"])
    assert mri[1]["slice_mm"] > max(mri[2]["slice_mm"], mri[3]["slice_mm"])
    assert mri[1]["snr"] < min(mri[2]["snr"], mri[3]["snr"])
    for c in (1, 2, 3):
        assert 0.10 <= us[c]["spacing_mm"] <= 0.15
        assert 0.6 <= mri[c]["inplane_mm"] <= 0.9 and 1.0 <= mri[c]["slice_mm"] <= 3.0


def test_same_rng_same_case_and_latents_change_the_image():
    scanner = scanner_for(2, "us")
    one = simulate_us(0.0, 0.0, 15.0, scanner, np.random.default_rng(11))
    two = simulate_us(0.0, 0.0, 15.0, scanner, np.random.default_rng(11))
    other = simulate_us(2.0, 2.0, 15.0, scanner, np.random.default_rng(11))
    assert np.array_equal(_arrays(one)[0], _arrays(two)[0])
    assert not np.array_equal(_arrays(one)[0], _arrays(other)[0])


def test_halo_lies_outside_the_true_mask():
    # Same random stream, b low vs high: the true mask does not depend on b (the
    # invasive front is drawn outside it) while the ring brightens.
    scanner = scanner_for(2, "us")
    low = simulate_us(0.0, -2.5, 14.0, scanner, np.random.default_rng(5))
    high = simulate_us(0.0, 2.5, 14.0, scanner, np.random.default_rng(5))
    assert np.array_equal(_arrays(low)[1], _arrays(high)[1])
    assert high.info["halo_gain"] > 3 * low.info["halo_gain"]
    mri_low = simulate_mri(0.0, -2.5, 14.0, scanner_for(2, "mri"), np.random.default_rng(5))
    mri_high = simulate_mri(0.0, 2.5, 14.0, scanner_for(2, "mri"), np.random.default_rng(5))
    assert np.array_equal(_arrays(mri_low)[1], _arrays(mri_high)[1])

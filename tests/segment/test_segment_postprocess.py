"""One lesion per image, holes filled, failure flags (mm on anisotropic grids), the policy."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radsurv.segment.postprocess import (
    check_segmentation,
    fill_holes,
    keep_one_lesion,
    postprocess,
    resolve_failure,
    room_mm,
)

from ._segment_synth import make_image


def arr(img):
    return sitk.GetArrayFromImage(img)


def test_largest_component_kept_and_geometry_preserved():
    a = np.zeros((40, 40), np.uint8)
    a[5:10, 5:15] = 1  # 50 px
    a[30:33, 30:33] = 1  # 9 px, nearer the centre? no: both off-centre
    img = make_image(a, (0.3, 0.5), origin=(1.0, 2.0))
    out = keep_one_lesion(img)
    assert arr(out).sum() == 50 and arr(out)[7, 7] == 1 and arr(out)[31, 31] == 0
    assert out.GetSpacing() == img.GetSpacing() and out.GetOrigin() == img.GetOrigin()


def test_central_component_option():
    a = np.zeros((41, 41), np.uint8)
    a[0:10, 0:10] = 1  # large, in a corner
    a[19:22, 19:22] = 1  # small, at the centre
    out = arr(keep_one_lesion(make_image(a, (1.0, 1.0)), how="central"))
    assert out.sum() == 9 and out[20, 20] == 1
    with pytest.raises(ValueError):
        keep_one_lesion(make_image(a, (1.0, 1.0)), how="biggest")


def test_holes_filled_2d():
    yy, xx = np.mgrid[:30, :30]
    d = np.hypot(yy - 15, xx - 15)
    ring = ((d <= 10) & (d > 4)).astype(np.uint8)
    out = arr(fill_holes(make_image(ring, (1.0, 1.0))))
    assert out[15, 15] == 1 and out.sum() == (d <= 10).sum()


def test_holes_filled_slicewise_in_3d():
    # A tube-shaped core open at both ends is no 3D hole, but is a hole in every slice.
    yy, xx = np.mgrid[:20, :20]
    d = np.hypot(yy - 10, xx - 10)
    sl = ((d <= 7) & (d > 3)).astype(np.uint8)
    vol = np.repeat(sl[None], 6, axis=0)
    out = arr(fill_holes(make_image(vol, (0.7, 0.7, 2.5))))
    assert out[:, 10, 10].all()
    assert out.sum() == 6 * (d <= 7).sum()


def test_postprocess_combines_both():
    a = np.zeros((30, 30), np.uint8)
    a[5:20, 5:20] = 1
    a[10:13, 10:13] = 0  # hole
    a[25:27, 25:27] = 1  # speck
    out = arr(postprocess(make_image(a, (1, 1))))
    assert out.sum() == 225 and out[11, 11] == 1 and out[26, 26] == 0


def test_empty_prediction_flagged():
    flag = check_segmentation(make_image(np.zeros((20, 20), np.uint8), (0.1, 0.1)), border_margin_mm=5)
    assert not flag.ok and flag.reason == "empty" and "empty" in flag.detail


def test_border_flag_in_mm_on_anisotropic_spacing():
    # Spacing x 0.5 mm, y 0.5 mm, z 3 mm (numpy array z, y, x). The lesion lies 4 voxels
    # from the low z and the low x edges: 12 mm of room along z (enough for a 10 mm ring)
    # but only 2 mm along x (not enough). A voxel-count rule would treat both alike.
    vol = np.zeros((20, 60, 60), np.uint8)
    vol[4:10, 25:35, 4:14] = 1
    img = make_image(vol, (0.5, 0.5, 3.0))
    room = room_mm(img)
    assert room["z"][0] == pytest.approx(12.0) and room["x"][0] == pytest.approx(2.0)
    assert room["z"][1] == pytest.approx((20 - 1 - 9) * 3.0)
    flag = check_segmentation(img, border_margin_mm=10.0)
    assert flag.reason == "border"
    assert "x low 2.0 mm" in flag.detail and "z low" not in flag.detail
    # Move the lesion to the middle in x: now only room counts, and there is enough.
    vol2 = np.zeros_like(vol)
    vol2[4:10, 25:35, 25:35] = 1
    assert check_segmentation(make_image(vol2, (0.5, 0.5, 3.0)), border_margin_mm=10.0).ok
    # The same array with 1 mm slices has only 4 mm of room along z: flagged.
    flag3 = check_segmentation(make_image(vol2, (0.5, 0.5, 1.0)), border_margin_mm=10.0)
    assert flag3.reason == "border" and "z low 4.0 mm" in flag3.detail


def _disc_mask(n=60, c=30, r=8, spacing=(0.5, 0.5)):
    yy, xx = np.mgrid[:n, :n]
    return make_image(((yy - c) ** 2 + (xx - c) ** 2 <= r**2).astype(np.uint8), spacing)


def test_resolve_failure_policies_are_never_silent():
    empty = make_image(np.zeros((60, 60), np.uint8), (0.5, 0.5))
    reader = _disc_mask()
    flag = check_segmentation(empty, border_margin_mm=5.0)

    fallback = resolve_failure(flag, policy="reader", reader_mask=reader)
    assert fallback.action == "reader" and fallback.mask is reader and "reader" in fallback.reason

    no_reader = resolve_failure(flag, policy="reader", reader_mask=None)
    assert no_reader.action == "excluded" and no_reader.mask is None and "no reader mask" in no_reader.reason

    excluded = resolve_failure(flag, policy="exclude", reader_mask=reader)
    assert excluded.action == "excluded" and "exclude" in excluded.reason and "empty" in excluded.reason

    # A reader mask that itself touches the border cannot rescue the case.
    bad_reader = _disc_mask(c=5)
    assert resolve_failure(flag, "reader", reader_mask=bad_reader).action == "excluded"

    ok_mask = _disc_mask()
    ok = resolve_failure(check_segmentation(ok_mask, border_margin_mm=5.0), policy="exclude", auto_mask=ok_mask)
    assert ok.action == "auto" and ok.mask is ok_mask and ok.reason

    with pytest.raises(ValueError):
        resolve_failure(flag, policy="ignore")

"""Dice, HD95 (mm), volume differences and summary tables against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from radsurv.segment.metrics import case_metrics, dice, evaluate, hausdorff95, hausdorff95_sitk, summary_table, volume

from ._segment_synth import make_image


def _disc(n, cy, cx, r, spacing=(1.0, 1.0)):
    yy, xx = np.mgrid[:n, :n]
    return make_image(((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2).astype(np.uint8), spacing)


def _sphere(shape, centre_mm, r_mm, spacing_xyz):
    zz, yy, xx = np.mgrid[: shape[0], : shape[1], : shape[2]]
    d2 = (xx * spacing_xyz[0] - centre_mm[0]) ** 2 + (yy * spacing_xyz[1] - centre_mm[1]) ** 2 + (zz * spacing_xyz[2] - centre_mm[2]) ** 2
    return make_image((d2 <= r_mm**2).astype(np.uint8), spacing_xyz)


def test_dice_of_two_overlapping_discs_matches_the_lens_formula():
    # Two discs of radius r whose centres are r apart overlap in a lens of area
    # r^2 (2 pi / 3 - sqrt(3) / 2); Dice = lens / (pi r^2) = 0.391.
    r = 40
    a, b = _disc(200, 100, 80, r), _disc(200, 100, 120, r)
    expected = (2 * math.pi / 3 - math.sqrt(3) / 2) / math.pi
    assert dice(a, b) == pytest.approx(expected, abs=0.002)  # measured +0.00084 (pixelised discs)
    assert dice(a, a) == 1.0


def test_dice_edge_cases():
    empty = make_image(np.zeros((10, 10), np.uint8), (1, 1))
    full = make_image(np.ones((10, 10), np.uint8), (1, 1))
    assert dice(empty, empty) == 1.0 and dice(empty, full) == 0.0
    assert math.isnan(hausdorff95(empty, full)) and hausdorff95(empty, empty) == 0.0
    with pytest.raises(ValueError):
        dice(full, make_image(np.ones((10, 10), np.uint8), (2, 1)))


def test_hd95_of_concentric_spheres_is_the_radius_difference_in_mm():
    # Anisotropic voxels (0.5, 0.5, 1.0) mm: every surface point of the inner sphere is
    # 3 mm from the outer one, so HD95 = 3 mm up to voxelisation (about a voxel).
    spacing = (0.5, 0.5, 1.0)
    shape = (40, 60, 60)  # z, y, x: 40 x 30 x 30 mm
    c = (15.0, 15.0, 20.0)
    outer, inner = _sphere(shape, c, 10.0, spacing), _sphere(shape, c, 7.0, spacing)
    hd = hausdorff95(inner, outer)
    assert hd == pytest.approx(3.0, abs=0.2)  # measured 3.162 mm (sqrt(10) on this grid)
    # MONAI and SimpleITK agree.
    assert hausdorff95_sitk(inner, outer) == pytest.approx(hd, abs=1e-3)
    # Spacing is honoured: the same arrays on a grid twice as coarse are twice as far apart.
    from radsurv.segment._common import as_image
    import SimpleITK as sitk

    coarse = [sitk.Image(as_image(m)) for m in (inner, outer)]
    for m in coarse:
        m.SetSpacing(tuple(2 * s for s in spacing))
    assert hausdorff95(*coarse) == pytest.approx(2 * hd, rel=1e-5)


def test_monai_and_sitk_hd95_agree_on_irregular_shapes():
    rng = np.random.default_rng(3)
    from scipy import ndimage

    a = ndimage.gaussian_filter(rng.normal(size=(24, 40, 40)), 3) > 0.02
    b = ndimage.gaussian_filter(rng.normal(size=(24, 40, 40)), 3) > 0.0
    ia, ib = make_image(a.astype(np.uint8), (0.7, 0.9, 2.5)), make_image(b.astype(np.uint8), (0.7, 0.9, 2.5))
    assert hausdorff95(ia, ib) == pytest.approx(hausdorff95_sitk(ia, ib), abs=1e-3)


def _monai_on_the_whole_image(pred, true) -> float:
    """HD95 as hausdorff95 computed it before cropping: MONAI on the whole arrays, with
    torch's threads as they are."""
    import warnings

    import SimpleITK as sitk
    import torch
    from monai.metrics import compute_hausdorff_distance

    p, t = (sitk.GetArrayFromImage(m) != 0 for m in (pred, true))
    spacing = list(reversed(true.GetSpacing()))
    yp = torch.from_numpy(np.stack([~p, p])[None].astype(np.float32))
    yt = torch.from_numpy(np.stack([~t, t])[None].astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return float(compute_hausdorff_distance(yp, yt, include_background=False, percentile=95,
                                                spacing=spacing).reshape(-1)[0])


def test_hd95_on_the_cropped_masks_is_monais_on_the_whole_image_bit_for_bit():
    """hausdorff95 crops to the masks' union (plus MONAI's one-voxel margin) before MONAI
    does, and runs torch on one thread: the same value to the last bit, for masks deep
    inside the image, touching its border (MONAI pads there), in two far-apart pieces,
    and in 3D with anisotropic voxels; torch's thread count is restored."""
    import torch
    from scipy import ndimage

    rng = np.random.default_rng(11)
    cases = []
    for shape, spacing in (((120, 140), (0.14, 0.14)), ((22, 56, 54), (0.86, 0.86, 2.5))):
        for kind in ("inside", "border", "apart"):
            a = ndimage.gaussian_filter(rng.normal(size=shape), 2.5)
            b = ndimage.gaussian_filter(rng.normal(size=shape), 2.5)
            core = tuple(slice(n // 3, 2 * n // 3) for n in shape)
            pa, pb = np.zeros(shape, bool), np.zeros(shape, bool)
            pa[core], pb[core] = a[core] > 0.0, b[core] > 0.02
            if kind == "border":   # both reach the first and the last index of every axis
                pa |= a > 0.25
                pb[tuple(slice(0, 2) for _ in shape)] = True
                pb[tuple(slice(n - 2, n) for n in shape)] = True
            elif kind == "apart":  # a second piece in a far corner
                pb[tuple(slice(n - 4, n - 1) for n in shape)] = True
            spacing_xyz = tuple(reversed(spacing))
            cases.append((make_image(pa.astype(np.uint8), spacing_xyz), make_image(pb.astype(np.uint8), spacing_xyz)))
    torch.set_num_threads(2)
    for pred, true in cases:
        expected = _monai_on_the_whole_image(pred, true)
        assert hausdorff95(pred, true) == expected
        assert hausdorff95(true, pred) == _monai_on_the_whole_image(true, pred)
        assert hausdorff95(pred, true) == pytest.approx(hausdorff95_sitk(pred, true), abs=1e-3)
        assert torch.get_num_threads() == 2
    assert len({hausdorff95(*c) for c in cases}) == len(cases)   # six different values, none trivial


def test_volume_and_volume_differences():
    true = np.zeros((30, 30), np.uint8)
    pred = np.zeros((30, 30), np.uint8)
    true[5:15, 5:15] = 1  # 100 px * 0.25 mm^2 = 25 mm^2
    pred[5:17, 5:17] = 1  # 144 px = 36 mm^2
    t, p = make_image(true, (0.5, 0.5)), make_image(pred, (0.5, 0.5))
    m = case_metrics(p, t)
    assert m["volume_true"] == 25.0 and m["volume_pred"] == 36.0
    assert m["abs_volume_diff"] == 11.0 and m["rel_volume_diff"] == pytest.approx(0.44)
    assert m["dice"] == pytest.approx(200 / 244)
    sph = _sphere((40, 60, 60), (15, 15, 20), 10.0, (0.5, 0.5, 1.0))
    assert volume(sph) == pytest.approx(4 / 3 * math.pi * 1000, rel=0.01)  # measured -0.66%


def test_evaluate_and_summary_table():
    t = _disc(50, 25, 25, 10)
    preds = [_disc(50, 25, 25, 10), _disc(50, 25, 27, 10), None]
    df = evaluate(preds, [t, t, t], case_ids=["a", "b", "c"], method="unet", set="internal")
    assert list(df["case_id"]) == ["a", "b", "c"] and (df["method"] == "unet").all()
    assert df.loc[0, "dice"] == 1.0 and df.loc[2, "dice"] == 0.0 and math.isnan(df.loc[2, "hd95_mm"])

    toy = pd.DataFrame(
        {"method": ["u"] * 4 + ["b"] * 2, "set": ["i"] * 6, "dice": [0.4, 0.6, 0.8, 1.0, 0.2, 0.4], "hd95_mm": [1, 2, 3, np.nan, 5, 7]}
    )
    s = summary_table(toy, metrics=("dice", "hd95_mm"))
    u = s.set_index("method").loc["u"]
    # Linear percentiles of 0.4, 0.6, 0.8, 1.0: Q1 0.55, median 0.70, Q3 0.85.
    assert u["n"] == 4 and u["dice"] == "0.70 [0.55, 0.85]"
    assert u["hd95_mm"] == "2.00 [1.50, 2.50]" and u["n_hd95_undefined"] == 1
    m = summary_table(toy, metrics=("dice",), stat="mean_sd", digits=3).set_index("method")
    assert m.loc["b", "dice"] == f"0.300 ± {np.std([0.2, 0.4], ddof=1):.3f}"


def test_sensitivity_precision_and_the_kind_of_failure_on_squares():
    """A 10 x 10 lesion and masks whose overlap is counted by hand: its left half
    (sensitivity 0.5, precision 1, Dice 2/3: part missed), a 20 x 20 square around it
    (sensitivity 1, precision 0.25, Dice 0.4: a leak), a square beside it (no overlap:
    on another structure), nothing (none found) and itself (no failure)."""
    def sq(y0, y1, x0, x1):
        a = np.zeros((40, 40), np.uint8)
        a[y0:y1, x0:x1] = 1
        return make_image(a, (0.5, 0.5))

    from radsurv.segment.metrics import FAILURE_KINDS, failure_kinds

    true = sq(10, 20, 10, 20)
    preds = {"half": sq(10, 20, 10, 15), "leak": sq(5, 25, 5, 25), "beside": sq(25, 35, 25, 35),
             "empty": sq(0, 0, 0, 0), "same": sq(10, 20, 10, 20), "slight": sq(10, 20, 10, 19)}
    df = evaluate(list(preds.values()), [true] * len(preds), case_ids=list(preds))
    m = df.set_index("case_id")
    assert (m.loc["half", "sensitivity"], m.loc["half", "precision"]) == (0.5, 1.0)
    assert m.loc["half", "dice"] == pytest.approx(2 / 3)
    assert (m.loc["leak", "sensitivity"], m.loc["leak", "precision"]) == (1.0, 0.25)
    assert m.loc["leak", "dice"] == pytest.approx(0.4)
    assert m.loc["beside", "sensitivity"] == 0.0 and math.isnan(m.loc["empty", "precision"])
    kinds = failure_kinds(df, dice_threshold=0.7).set_axis(df["case_id"])
    assert kinds.to_dict() == {"half": "missed_part", "leak": "leak", "beside": "elsewhere", "empty": "none",
                               "same": "", "slight": ""}  # slight: Dice 0.947
    # the threshold decides what fails: at 0.5 the half mask (Dice 0.67) passes
    assert failure_kinds(df, dice_threshold=0.5).tolist() == ["", "leak", "elsewhere", "none", "", ""]
    assert set(FAILURE_KINDS) == {"none", "elsewhere", "missed_part", "leak"}

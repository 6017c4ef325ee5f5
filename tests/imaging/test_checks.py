"""check_image_pair reports each problem, naming the patient and the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radsurv.imaging.checks import (CODES, RESAMPLED, GeometryMismatch, check_image_pair, extent_gap_mm,
                                     mask_on_image_grid)


def _write(array: np.ndarray, path: Path, spacing=None, origin=None, direction=None) -> Path:
    image = sitk.GetImageFromArray(array)
    if spacing is not None:
        image.SetSpacing(spacing)
    if origin is not None:
        image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    sitk.WriteImage(image, str(path), True)
    return path


@pytest.fixture
def mri_pair(tmp_path):
    """A valid 3D pair: 1 mm voxels, 40 mm cube, 6 mm lesion in the middle."""
    image = np.random.default_rng(0).integers(0, 1000, (40, 40, 40)).astype(np.int16)
    mask = np.zeros((40, 40, 40), np.uint8)
    mask[17:23, 17:23, 17:23] = 1
    return (_write(image, tmp_path / "img.nii.gz", (1.0, 1.0, 1.0)), _write(mask, tmp_path / "mask.nii.gz", (1.0, 1.0, 1.0)),
            image, mask)


@pytest.fixture
def us_pair(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (300, 300)).astype(np.uint8)
    mask = np.zeros((300, 300), np.uint8)
    mask[120:180, 120:180] = 1
    return (_write(image, tmp_path / "us.nii.gz", (0.1, 0.1)), _write(mask, tmp_path / "us_mask.nii.gz", (0.1, 0.1)),
            image, mask)


def _codes(problems):
    return [p.code for p in problems]


def _one(problems, code):
    assert _codes(problems) == [code], [str(p) for p in problems]
    problem = problems[0]
    assert problem.patient_id == "P7" and "P7" in str(problem)
    return problem


def test_valid_pairs_have_no_problem(mri_pair, us_pair):
    assert check_image_pair("P7", mri_pair[0], mri_pair[1], "mri") == []
    assert check_image_pair("P7", us_pair[0], us_pair[1], "us") == []
    assert check_image_pair("P7", us_pair[0], None, "us") == []  # no mask given: image only


def test_single_slice_3d_us_is_accepted(tmp_path):
    image = np.zeros((1, 300, 300), np.uint8)
    mask = np.zeros((1, 300, 300), np.uint8)
    mask[0, 120:180, 120:180] = 1
    img = _write(image, tmp_path / "u.nii.gz", (0.1, 0.1, 1.0))
    msk = _write(mask, tmp_path / "m.nii.gz", (0.1, 0.1, 1.0))
    assert check_image_pair("P7", img, msk, "us") == []


def test_missing_files(tmp_path, mri_pair):
    problem = _one(check_image_pair("P7", tmp_path / "nope.nii.gz", None, "mri"), "missing_file")
    assert "nope.nii.gz" in problem.file
    problem = _one(check_image_pair("P7", mri_pair[0], tmp_path / "nomask.nii.gz", "mri"), "missing_file")
    assert "nomask" in problem.file and "mask" in problem.message
    _one(check_image_pair("P7", None, None, "mri"), "missing_file")


def test_unreadable_file(tmp_path, mri_pair):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 this is not an image")
    problem = _one(check_image_pair("P7", bad, mri_pair[1], "mri"), "unreadable")
    assert problem.file == str(bad)


def test_a_truncated_image_is_refused_with_its_patient(tmp_path, mri_pair):
    """A NIfTI cut short (a copy interrupted) reads without error in ITK; the check refuses it."""
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(Path(mri_pair[0]).read_bytes()[:200])
    problem = _one(check_image_pair("P7", cut, mri_pair[1], "mri"), "unreadable")
    assert problem.patient_id == "P7" and problem.file == str(cut)
    assert "MRI image cannot be read" in problem.message and "truncated or corrupt compressed data" in problem.message


@pytest.mark.parametrize(
    "change, words",
    [
        ({"shape": (40, 40, 39)}, ["size differs", "mask (39, 40, 40)"]),
        ({"spacing": (1.0, 1.0, 1.5)}, ["spacing differs", "(1, 1, 1.5)"]),
        ({"origin": (0.0, 5.0, 0.0)}, ["origin differs", "(0, 5, 0)"]),
        ({"direction": (-1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)}, ["direction differs", "-1"]),
    ],
)
def test_geometry_mismatch(tmp_path, mri_pair, change, words):
    mask = np.zeros(change.get("shape", (40, 40, 40)), np.uint8)
    mask[17:23, 17:23, 17:23] = 1
    path = _write(mask, tmp_path / "m2.nii.gz", change.get("spacing", (1.0, 1.0, 1.0)), change.get("origin"),
                  change.get("direction"))
    problem = _one(check_image_pair("P7", mri_pair[0], path, "mri"), "geometry")
    for word in words:
        assert word in problem.message
    assert problem.file == str(path)


def test_empty_mask(tmp_path, mri_pair):
    path = _write(np.zeros((40, 40, 40), np.uint8), tmp_path / "empty.nii.gz", (1.0, 1.0, 1.0))
    assert "empty" in _one(check_image_pair("P7", mri_pair[0], path, "mri"), "empty_mask").message


def test_multi_label_mask(tmp_path, mri_pair):
    mask = mri_pair[3].copy()
    mask[18:20, 18:20, 18:20] = 2
    path = _write(mask, tmp_path / "multi.nii.gz", (1.0, 1.0, 1.0))
    assert "[1, 2]" in _one(check_image_pair("P7", mri_pair[0], path, "mri"), "multi_label").message
    assert check_image_pair("P7", mri_pair[0], path, "mri", label=1) == []
    assert "label 3" in _one(check_image_pair("P7", mri_pair[0], path, "mri", label=3), "empty_mask").message


def test_float_mask_values(tmp_path, mri_pair):
    mask = mri_pair[3].astype(np.float32) * 0.5
    path = _write(mask, tmp_path / "prob.nii.gz", (1.0, 1.0, 1.0))
    _one(check_image_pair("P7", mri_pair[0], path, "mri"), "mask_values")


def test_lesion_too_close_to_the_border(tmp_path, mri_pair, us_pair):
    mask = np.zeros((40, 40, 40), np.uint8)
    mask[2:8, 17:23, 17:23] = 1  # numpy axis 0 is z: 2 mm of room below, along z
    path = _write(mask, tmp_path / "edge.nii.gz", (1.0, 1.0, 1.0))
    problem = _one(check_image_pair("P7", mri_pair[0], path, "mri"), "ring_room")
    assert "z low 2.00 mm" in problem.message and "10 mm" in problem.message
    assert check_image_pair("P7", mri_pair[0], path, "mri", border_margin_mm=2.0) == []
    # 2D: a lesion touching the lateral border.
    mask2 = np.zeros((300, 300), np.uint8)
    mask2[120:180, 250:300] = 1
    path2 = _write(mask2, tmp_path / "edge2.nii.gz", (0.1, 0.1))
    problem = _one(check_image_pair("P7", us_pair[0], path2, "us"), "ring_room")
    assert "x high 0.00 mm" in problem.message
    # Physical units: 60 px of room at 0.1 mm is 6 mm, too little; per axis.
    mask3 = np.zeros((300, 300), np.uint8)
    mask3[140:160, 60:100] = 1
    path3 = _write(mask3, tmp_path / "edge3.nii.gz", (0.1, 0.1))
    assert "x low 6.00 mm" in _one(check_image_pair("P7", us_pair[0], path3, "us"), "ring_room").message


def test_ring_at_border_clip_accepts_a_tight_crop_and_nothing_else(tmp_path, mri_pair):
    mask = np.zeros((40, 40, 40), np.uint8)
    mask[2:8, 17:23, 17:23] = 1
    path = _write(mask, tmp_path / "edge.nii.gz", (1.0, 1.0, 1.0))
    assert check_image_pair("P7", mri_pair[0], path, "mri", ring_at_border="clip") == []
    # the policy is about room only: an empty mask is still refused
    empty = _write(np.zeros((40, 40, 40), np.uint8), tmp_path / "empty.nii.gz", (1.0, 1.0, 1.0))
    _one(check_image_pair("P7", mri_pair[0], empty, "mri", ring_at_border="clip"), "empty_mask")
    with pytest.raises(ValueError, match="ring_at_border"):
        check_image_pair("P7", mri_pair[0], path, "mri", ring_at_border="clipp")


def test_dimension_per_modality(tmp_path, mri_pair, us_pair):
    problem = _one(check_image_pair("P7", mri_pair[0], None, "us"), "dimension")
    assert "US image must be 2D" in problem.message
    problem = _one(check_image_pair("P7", us_pair[0], None, "mri"), "dimension")
    assert "MRI image must be a 3D volume" in problem.message


def test_real_fixture(fixture_paths):
    # The PyRadiomics lesion lies 9.96 mm from the high-x border: too close for 10 mm.
    problems = check_image_pair("P7", fixture_paths["image"], fixture_paths["label"], "mri")
    assert _codes(problems) == ["ring_room"] and "x high 9.96 mm" in problems[0].message
    assert check_image_pair("P7", fixture_paths["image"], fixture_paths["label"], "mri", border_margin_mm=5.0) == []


# One small bad input per problem code: (expected code, builder). Each builder writes
# what it needs under tmp_path and returns check_image_pair's problems.
def _bad_mask(tmp_path, mri_pair, name, array, spacing=(1.0, 1.0, 1.0)):
    return check_image_pair("P7", mri_pair[0], _write(array, tmp_path / name, spacing), "mri")


def _garbage(tmp_path, mri_pair, us_pair):
    bad = tmp_path / "garbage.nii.gz"
    bad.write_bytes(b"not an image at all")
    return check_image_pair("P7", bad, mri_pair[1], "mri")


def _two_labels(tmp_path, mri_pair, us_pair):
    mask = mri_pair[3].copy()
    mask[18, 18, 18] = 2
    return _bad_mask(tmp_path, mri_pair, "two.nii.gz", mask)


def _edge(tmp_path, mri_pair, us_pair):
    mask = np.zeros((40, 40, 40), np.uint8)
    mask[17:23, 17:23, 34:40] = 1
    return _bad_mask(tmp_path, mri_pair, "edge_x.nii.gz", mask)


CODE_CASES = [
    ("missing_file", lambda tmp, mri, us: check_image_pair("P7", tmp / "absent.nii.gz", mri[1], "mri")),
    ("unreadable", _garbage),
    ("dimension", lambda tmp, mri, us: check_image_pair("P7", us[0], us[1], "mri")),
    ("geometry", lambda tmp, mri, us: _bad_mask(tmp, mri, "sp.nii.gz", mri[3], (1.0, 1.0, 2.0))),
    ("mask_values", lambda tmp, mri, us: _bad_mask(tmp, mri, "f.nii.gz", mri[3].astype(np.float32) * 0.3)),
    ("empty_mask", lambda tmp, mri, us: _bad_mask(tmp, mri, "e.nii.gz", np.zeros((40, 40, 40), np.uint8))),
    ("multi_label", _two_labels),
    ("ring_room", _edge),
]


@pytest.mark.parametrize("code, build", CODE_CASES, ids=[c for c, _ in CODE_CASES])
def test_each_code_case_produces_its_code(tmp_path, mri_pair, us_pair, code, build):
    problem = _one(build(tmp_path, mri_pair, us_pair), code)
    assert problem.message and code in CODES


def test_every_code_is_produced_by_a_case(tmp_path, mri_pair, us_pair):
    # Guard: run every case and collect the codes it really produces; a code in CODES
    # that no input produces (or a new code without a case) fails here.
    produced = set()
    for k, (_, build) in enumerate(CODE_CASES):
        folder = tmp_path / str(k)
        folder.mkdir()
        produced |= {p.code for p in build(folder, mri_pair, us_pair)}
    assert produced == set(CODES), f"never produced: {set(CODES) - produced}; unknown: {produced - set(CODES)}"


# --------------------------------------------------------------------------- geometry tolerance


def _image(array: np.ndarray, spacing, origin=(0.0, 0.0, 0.0), direction=None) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


@pytest.fixture
def anisotropic():
    """An image of 0.7 x 0.7 x 2 mm voxels and a two-label mask on its grid."""
    img = _image(np.zeros((20, 30, 40), np.int16), (0.7, 0.7, 2.0), (10.0, -5.0, 30.0))
    arr = np.zeros((20, 30, 40), np.uint8)
    arr[5:12, 10:20, 8:30] = 1
    arr[5, 10, 8] = 2
    mask = _image(arr, img.GetSpacing(), img.GetOrigin())
    return img, mask, arr


def _reversed_slices(mask: sitk.Image) -> sitk.Image:
    out = _image(sitk.GetArrayFromImage(mask)[::-1].copy(), mask.GetSpacing(),
                 mask.TransformIndexToPhysicalPoint((0, 0, mask.GetDepth() - 1)), (1, 0, 0, 0, 1, 0, 0, 0, -1))
    return out


def test_a_mask_in_the_opposite_slice_order_is_resampled_voxel_for_voxel(anisotropic):
    img, mask, arr = anisotropic
    flipped = _reversed_slices(mask)
    assert extent_gap_mm(img, flipped) < 1e-9
    out, note = mask_on_image_grid(img, flipped)
    assert "same physical volume" in note and "origin differs" in note and "direction differs" in note
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out), arr)  # both labels, every voxel back in place
    assert out.GetOrigin() == img.GetOrigin() and out.GetDirection() == img.GetDirection()


def test_permuted_axes_and_a_finer_grid_over_the_same_volume_are_resampled(anisotropic):
    img, mask, arr = anisotropic
    permuted = sitk.PermuteAxes(mask, [2, 1, 0])
    out, note = mask_on_image_grid(img, permuted)
    assert "size differs" in note
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out), arr)
    # the same field of view in voxels half as large in-plane (corners at the voxel edges agree)
    fine_origin = img.TransformContinuousIndexToPhysicalPoint((-0.25, -0.25, 0.0))
    fine = sitk.Resample(mask, [80, 60, 20], sitk.Transform(), sitk.sitkNearestNeighbor, fine_origin,
                         (0.35, 0.35, 2.0), img.GetDirection(), 0, mask.GetPixelID())
    assert extent_gap_mm(img, fine) < 1e-9
    out, _ = mask_on_image_grid(img, fine)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out), arr)


def test_a_mask_over_another_volume_is_refused_with_the_distance(anisotropic):
    img, mask, _ = anisotropic
    shifted = sitk.Image(mask)
    shifted.SetOrigin((10.0, -5.0, 32.0))  # one slice off
    with pytest.raises(GeometryMismatch, match=r"origin differs.*corners lie up to 2 mm apart, tolerance 0.035 mm"):
        mask_on_image_grid(img, shifted)
    # a rounding-size offset (well under the 5 % tolerance) is the same volume
    rounded = sitk.Image(mask)
    rounded.SetOrigin((10.02, -5.0, 30.0))
    out, note = mask_on_image_grid(img, rounded)
    assert note and "origin differs" in note
    # identical geometry: the mask itself, no note
    same, none = mask_on_image_grid(img, mask)
    assert same is mask and none is None


def test_check_image_pair_accepts_a_resampled_mask_with_a_note(tmp_path, anisotropic):
    img, mask, _ = anisotropic
    arr = sitk.GetArrayFromImage(img)
    arr[:] = np.random.default_rng(1).integers(0, 500, arr.shape)
    big = _image(arr, img.GetSpacing(), img.GetOrigin())
    sitk.WriteImage(big, str(tmp_path / "img.nii.gz"))
    sitk.WriteImage(_reversed_slices(mask), str(tmp_path / "mask.nii.gz"))
    notes: list = []
    problems = check_image_pair("P7", tmp_path / "img.nii.gz", tmp_path / "mask.nii.gz", "mri", border_margin_mm=1.0,
                                label=1, notes=notes)
    assert problems == []
    assert [n.code for n in notes] == [RESAMPLED] and notes[0].patient_id == "P7"
    # the later checks see the mask on the image grid: the lesion's room is measured there
    # (lesion at z 5-11 of 20 slices of 2 mm: 10 mm below, 16 mm above, in the image's order)
    problems = check_image_pair("P7", tmp_path / "img.nii.gz", tmp_path / "mask.nii.gz", "mri", border_margin_mm=12.0,
                                label=1)
    assert [p.code for p in problems] == ["ring_room"] and "z low 10.00 mm" in problems[0].message

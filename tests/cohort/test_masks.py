"""A user's masks put on their image grid (or reduced to the lesion label), and a user's
segmentation-development set: checked like the cohort, never holding a test-set image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.cohort.manifest import ManifestSpec, load_cohort, read_manifest, check_manifest
from radsurv.cohort.masks import load_devset, prepare_masks
from radsurv.exceptions import ManifestError

SPEC = ManifestSpec(columns={}, internal_centers=("A",), external_centers=("B",), min_train_events=1,
                    border_margin_mm=2.0, mask_label=1)
IMAGING = {"mask_label": 1}


def _pair(folder: Path, name: str, seed: int, reverse: bool = False, shift_mm: float = 0.0) -> tuple[str, str, np.ndarray]:
    """An MRI-like volume (1 x 1 x 3 mm) and a two-label mask; optionally the mask in the
    opposite slice order (same volume) or shifted (another volume)."""
    rng = np.random.default_rng(seed)
    image = sitk.GetImageFromArray(rng.integers(0, 900, (12, 24, 24)).astype(np.int16))
    image.SetSpacing((1.0, 1.0, 3.0))
    image.SetOrigin((0.0, 0.0, 100.0))
    arr = np.zeros((12, 24, 24), np.uint8)
    arr[4:8, 8:14, 9:15] = 1
    arr[0:2, 0:3, 20:24] = 2            # another structure the lesion label excludes
    mask = sitk.GetImageFromArray(arr[::-1].copy() if reverse else arr)
    mask.SetSpacing(image.GetSpacing())
    if reverse:
        mask.SetOrigin(image.TransformIndexToPhysicalPoint((0, 0, 11)))
        mask.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, -1))
    else:
        mask.SetOrigin((0.0, 0.0, 100.0 + shift_mm))
    sitk.WriteImage(image, str(folder / f"{name}_img.nrrd"))
    sitk.WriteImage(mask, str(folder / f"{name}_seg.nii.gz"))
    return f"{name}_img.nrrd", f"{name}_seg.nii.gz", arr


@pytest.fixture
def cohort(tmp_path):
    rows, arrays = [], {}
    for i in range(12):
        pid = f"HN-{100 + i}"
        img, seg, arr = _pair(tmp_path, pid, i, reverse=(i % 4 == 1))
        arrays[pid] = arr
        rows.append({"patient_id": pid, "center": "A" if i < 8 else "B", "dfs_time": 10 + 3 * i,
                     "dfs_event": int(i % 2 == 0), "split": "train" if i < 5 else ("internal" if i < 8 else "external"),
                     "mri_image": img, "mri_mask": seg})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    return tmp_path, arrays


def test_validation_notes_the_resampled_masks_and_refuses_another_volume(cohort):
    folder, _ = cohort
    df = read_manifest(folder / "manifest.csv")
    _pair(folder, "HN-111", 11, shift_mm=4.5)                # the last patient's mask is one slice and a half off
    rep = check_manifest(df, SPEC, base_dir=folder, check_images=True)
    assert [(p.row, p.patient_id, p.column) for p in rep.notes] == [(2, "HN-101", "mri_mask"), (6, "HN-105", "mri_mask"),
                                                                     (10, "HN-109", "mri_mask")]
    assert all("mask resampled onto the image grid (same physical volume" in p.message for p in rep.notes)
    assert [(p.row, p.patient_id, p.column) for p in rep.problems] == [(12, "HN-111", "mri_mask")]
    assert "cover different physical volumes (their corners lie up to 4.5 mm apart" in rep.problems[0].message


def test_prepared_masks_are_binary_on_the_image_grid_and_never_overwrite_the_supplied(cohort, tmp_path):
    folder, arrays = cohort
    df = read_manifest(folder / "manifest.csv")
    loaded = load_cohort(df, SPEC, source="m", seed=1, split_params={}, base_dir=folder, check_images=True)
    assert len(loaded.notes) == 3
    before = {p: p.read_bytes() for p in folder.glob("*_seg.nii.gz")}
    out = tmp_path / "stage"
    table = prepare_masks(loaded.data, loaded.notes, 1, folder, out)
    assert len(table) == 12                                    # the label is chosen: every mask is prepared
    assert list(table["action"]).count("resampled onto the image grid, label 1 kept") == 3
    for row in table.itertuples():
        mask = sitk.ReadImage(str(out / row.mask))
        image = sitk.ReadImage(str(folder / f"{row.patient_id}_img.nrrd"))
        assert mask.GetOrigin() == image.GetOrigin() and mask.GetDirection() == image.GetDirection()
        np.testing.assert_array_equal(sitk.GetArrayFromImage(mask), (arrays[row.patient_id] == 1).astype(np.uint8))
    assert before == {p: p.read_bytes() for p in folder.glob("*_seg.nii.gz")}
    # without a label only the masks on another grid are prepared
    table = prepare_masks(loaded.data, loaded.notes, None, folder, tmp_path / "stage2")
    assert sorted(table["patient_id"]) == ["HN-101", "HN-105", "HN-109"]
    assert set(table["action"]) == {"resampled onto the image grid"}
    got = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "stage2" / table["mask"].iloc[0])))
    np.testing.assert_array_equal(got, (arrays["HN-101"] > 0).astype(np.uint8))   # every non-zero label kept


def _devset(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = folder / "dev" / "devset.csv"
    pd.DataFrame(rows, columns=["patient_id", "image", "mask"]).to_csv(path, index=False)
    return path


def test_a_development_set_is_checked_prepared_and_kept_apart_from_the_test_sets(cohort, tmp_path):
    folder, arrays = cohort
    cohort_df = pd.read_csv(folder / "manifest.csv", dtype={"patient_id": str})
    (folder / "dev").mkdir()
    rows = []
    for i in range(4):
        img, seg, _ = _pair(folder / "dev", f"D{i}", 50 + i, reverse=(i == 2))
        rows.append((f"D{i}", img, seg))
    path = _devset(folder, rows)
    out = tmp_path / "stage"
    dev, excluded = load_devset(path, "mri", IMAGING, cohort_df, folder, out)
    assert list(dev["patient_id"]) == ["D0", "D1", "D2", "D3"] and excluded.empty
    assert dev["reader_mask"].isna().all()                    # a user's set has no second reader
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in dev["image"])
    prepared = sitk.GetArrayFromImage(sitk.ReadImage(str(out / dev["mask"].iloc[2])))
    assert set(np.unique(prepared)) == {0, 1} and prepared[4:8, 8:14, 9:15].all()   # on the image grid, label 1 only

    # an image of a test-set patient, and a test-set patient's id, are refused by name
    leak = rows + [("X1", "../HN-110_img.nrrd", "../HN-110_seg.nii.gz"), ("HN-106", "D0_img.nrrd", "D0_seg.nii.gz"),
                   ("T1", "../HN-101_img.nrrd", "../HN-101_seg.nii.gz")]
    path = _devset(folder, leak)
    with pytest.raises(ManifestError) as err:
        load_devset(path, "mri", IMAGING, cohort_df, folder, out)
    text = str(err.value)
    assert "row 5, patient 'X1', column 'image': ../HN-110_img.nrrd is the image of test-set patient HN-110" in text
    assert "row 6, patient 'HN-106', column 'patient_id': is a test-set patient of the cohort" in text
    assert "T1" not in text                                    # HN-101 is a training patient: allowed
    # with on_invalid: exclude the offending rows are left out and listed
    dev, excluded = load_devset(path, "mri", IMAGING, cohort_df, folder, out, on_invalid="exclude")
    assert list(dev["patient_id"]) == ["D0", "D1", "D2", "D3", "T1"]
    assert list(excluded["patient_id"]) == ["X1", "HN-106"] and list(excluded["row"]) == [5, 6]


def test_a_development_set_with_a_missing_column_or_file_is_refused(cohort, tmp_path):
    folder, _ = cohort
    cohort_df = pd.read_csv(folder / "manifest.csv", dtype={"patient_id": str})
    (folder / "dev").mkdir()
    path = folder / "dev" / "devset.csv"
    pd.DataFrame({"image": ["a.nrrd"]}).to_csv(path, index=False)
    with pytest.raises(ManifestError, match="column 'mask': required column is missing"):
        load_devset(path, "mri", IMAGING, cohort_df, folder, tmp_path)
    with pytest.raises(ManifestError, match="mri development set: file not found"):
        load_devset(folder / "nope.csv", "mri", IMAGING, cohort_df, folder, tmp_path)
    pd.DataFrame({"image": ["a.nrrd"], "mask": ["b.nii.gz"]}).to_csv(path, index=False)
    with pytest.raises(ManifestError, match="patient 'dev-1', column 'image': MRI image file does not exist"):
        load_devset(path, "mri", IMAGING, cohort_df, folder, tmp_path)


def test_the_cohort_stage_hands_on_prepared_masks_and_a_users_development_set(cohort, tmp_path, root):
    """Stage 00 as the runner runs it, on a profile naming a development set: the later
    stages' reader gets the prepared masks and the checked development set, and the
    Methods say what was done."""
    import shutil

    import yaml

    from radsurv.config import load_profile
    from radsurv.manuscript import render_text
    from radsurv.pipeline.runner import run_pipeline
    from radsurv.stages.readers import read_cohort

    folder, arrays = cohort
    (folder / "dev").mkdir()
    rows = [(f"D{i}", *_pair(folder / "dev", f"D{i}", 70 + i, reverse=(i == 1))[:2]) for i in range(3)]
    _devset(folder, rows)
    (folder / "study.yml").write_text(
        "extends: quick\nprofile: study\ncohort:\n  source: manifest\n  manifest: manifest.csv\n"
        "  centers: {internal: [A], external: [B]}\n  min_train_events: 1\n"
        "  columns: !override\n    clinical: {}\n    mri: {}\n"
        "imaging:\n  mask_label: 1\n  border_margin_mm: 2\n  development:\n    mri: {manifest: dev/devset.csv}\n",
        encoding="utf-8")
    proj = tmp_path / "project"
    for name in ("notebooks", "params"):
        shutil.copytree(root / name, proj / name)
    for name in ("requirements.lock", "index.qmd", "_quarto.yml", "references.bib"):
        shutil.copy(root / name, proj / name)
    report = run_pipeline(folder / "study.yml", root=proj, stages=["00_cohort"], render=False)
    assert report.exit_code == 0, report.failure
    out = read_cohort(proj / "build" / "study")
    for pid, mask in zip(out.data["patient_id"], out.data["mri_mask"]):
        assert "/00_cohort/masks/mri/" in mask                # the prepared mask, not the supplied file
        np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(mask)),
                                      (arrays[pid] == 1).astype(np.uint8))
    dev = out.devsets["mri"]
    assert list(dev["patient_id"]) == ["D0", "D1", "D2"] and dev["reader_mask"].isna().all()
    assert all(Path(m).is_file() and "/00_cohort/devsets/mri/" in m for m in dev["mask"])
    # the Methods paragraph, as publishing writes it from the stage's variables
    variables = yaml.safe_load((proj / "build" / "study" / "00_cohort" / "variables.yml").read_text(encoding="utf-8"))
    text = render_text("00_cohort", "text-imaging.md", variables, load_profile(folder / "study.yml", proj))
    assert "The masks of 3 patients were stored on a voxel grid other than their image's" in text
    assert "A segmentation-development set of 3 MRI images with masks and no outcome was supplied" in text


def test_validate_lists_the_resampled_masks_and_checks_the_development_set(cohort, monkeypatch, capsys):
    from radsurv.cli import main

    folder, _ = cohort
    (folder / "dev").mkdir()
    rows = [(f"D{i}", *_pair(folder / "dev", f"D{i}", 70 + i)[:2]) for i in range(2)]
    _devset(folder, rows + [("X1", "../HN-110_img.nrrd", "../HN-110_seg.nii.gz")])
    profile = ("extends: quick\nprofile: study\ncohort:\n  source: manifest\n  manifest: manifest.csv\n"
               "  centers: {internal: [A], external: [B]}\n  min_train_events: 1\n  on_invalid: ON_INVALID\n"
               "  columns: !override\n    clinical: {}\n    mri: {}\n"
               "imaging:\n  mask_label: 1\n  border_margin_mm: 2\n  development:\n    mri: {manifest: dev/devset.csv}\n")
    monkeypatch.chdir(folder)
    (folder / "fail.yml").write_text(profile.replace("ON_INVALID", "fail"), encoding="utf-8")
    assert main(["validate", "manifest.csv", "--params", "fail.yml"]) == 2
    captured = capsys.readouterr()
    assert "3 mask(s) lie on another voxel grid over the same physical volume" in captured.out
    assert "row 2, patient 'HN-101', column 'mri_mask': HN-101_seg.nii.gz: mask resampled onto the image grid" in \
        captured.out
    assert "row 3, patient 'X1', column 'image': ../HN-110_img.nrrd is the image of test-set patient HN-110" in \
        captured.err
    (folder / "exclude.yml").write_text(profile.replace("ON_INVALID", "exclude"), encoding="utf-8")
    # The rows pass; the cohort's 3 training events cannot feed stages 03-06 (radsurv.preconditions).
    assert main(["validate", "manifest.csv", "--params", "exclude.yml"]) == 2
    captured = capsys.readouterr()
    out = captured.out
    assert "the run would stop at 03_signatures" in captured.err
    assert "dev/devset.csv: 2 development images usable, 1 left out:" in out
    assert "row 3, patient 'X1': image: ../HN-110_img.nrrd is the image of test-set patient HN-110" in out
    assert not list(folder.rglob("devsets"))                # validate writes nothing

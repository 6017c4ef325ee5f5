"""The input contract: each tabular problem gets an error naming row, patient and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.cohort.manifest import (
    ManifestError, ManifestSpec, cohort_outcomes, derive_split, load_cohort, read_manifest, check_manifest,
)

SPEC = ManifestSpec(
    columns={"age": "numeric", "n_stage": ["N0", "N1", "N2", "N3"]},
    internal_centers=("1",), external_centers=("2", "3"), min_train_events=2,
)


def good_rows(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": [f"P{i:03d}" for i in range(1, n + 1)],
        "center": ["1"] * (n - 10) + ["2"] * 5 + ["3"] * 5,
        "dfs_time": [f"{10 + i}.5" for i in range(n)],
        "dfs_event": ["1" if i % 4 == 0 else "0" for i in range(n)],
        "age": [str(40 + i % 20) for i in range(n)],
        "n_stage": ["N0", "N1", "N2", "N3"] * (n // 4),
    })


def write(df: pd.DataFrame, tmp_path: Path) -> Path:
    p = tmp_path / "manifest.csv"
    df.to_csv(p, index=False)
    return p


def problems_of(df: pd.DataFrame, tmp_path: Path):
    return check_manifest(read_manifest(write(df, tmp_path)), SPEC).problems


def test_good_manifest_has_no_problems(tmp_path):
    assert problems_of(good_rows(), tmp_path) == []


@pytest.mark.parametrize(
    "mutate, row, column, fragment",
    [
        (lambda d: d.assign(dfs_time=d.dfs_time.where(d.index != 2, "")), 3, "dfs_time", "missing follow-up time"),
        (lambda d: d.assign(dfs_time=d.dfs_time.where(d.index != 6, "-4")), 7, "dfs_time", "negative follow-up time"),
        (lambda d: d.assign(dfs_time=d.dfs_time.where(d.index != 4, "twelve")), 5, "dfs_time", "not a number"),
        (lambda d: d.assign(dfs_event=d.dfs_event.where(d.index != 2, "2")), 3, "dfs_event", "must be 0 or 1"),
        (lambda d: d.assign(dfs_event=d.dfs_event.where(d.index != 9, "")), 10, "dfs_event", "must be 0 or 1"),
        (lambda d: d.assign(patient_id=d.patient_id.where(d.index != 5, "P001")), 6, "patient_id", "duplicate identifier (first seen in row 1)"),
        (lambda d: d.assign(center=d.center.where(d.index != 11, "9")), 12, "center", "unknown centre '9'"),
        (lambda d: d.assign(split=["train"] * 39 + ["validation"]), 40, "split", "unknown split 'validation'"),
        (lambda d: d.assign(age=d.age.where(d.index != 3, "forty")), 4, "age", "not a number: 'forty'"),
        (lambda d: d.assign(n_stage=d.n_stage.where(d.index != 8, "N4")), 9, "n_stage", "unknown category 'N4'"),
    ],
)
def test_each_problem_names_row_patient_column(tmp_path, mutate, row, column, fragment):
    df = mutate(good_rows())
    probs = problems_of(df, tmp_path)
    assert len(probs) == 1, probs
    p = probs[0]
    assert (p.row, p.column) == (row, column)
    assert fragment in p.message
    text = str(p)
    assert f"row {row}" in text and f"column '{column}'" in text
    assert f"patient '{df.patient_id.iloc[row - 1]}'" in text


@pytest.mark.parametrize("column", ["patient_id", "center", "dfs_time", "dfs_event"])
def test_missing_required_column(tmp_path, column):
    probs = problems_of(good_rows().drop(columns=[column]), tmp_path)
    assert any(p.column == column and "required column is missing" in p.message for p in probs)
    assert not any(p.column == "cohort.columns" for p in probs)


def test_a_missing_declared_column_points_at_override(tmp_path):
    """The profile's columns are missing (a child profile kept its parent's): say that
    !override replaces the parent's list."""
    probs = problems_of(good_rows().drop(columns=["age"]), tmp_path)
    assert [p.column for p in probs if p.row is None] == ["age", "cohort.columns"]
    assert "column declared in the profile (cohort.columns) is missing" in probs[0].message
    hint = next(p.message for p in probs if p.column == "cohort.columns")
    assert hint.startswith(f"1 of the {len(SPEC.columns)} columns the profile declares are not in the manifest")
    assert "write 'columns: !override' above your clinical and mri columns" in hint


def test_all_problems_reported_at_once(tmp_path):
    df = good_rows()
    df.loc[1, "dfs_event"] = "yes"
    df.loc[2, "dfs_time"] = "-1"
    df.loc[3, "center"] = "7"
    with pytest.raises(ManifestError) as err:
        load_cohort(read_manifest(write(df, tmp_path)), SPEC, source="m.csv", seed=1, split_params={"n_train": 20, "stratify": "dfs_event"})
    msg = str(err.value)
    assert "3 problems" in msg
    assert "row 2" in msg and "row 3" in msg and "row 4" in msg


def test_exclude_mode_lists_excluded_rows(tmp_path):
    df = good_rows()
    df.loc[4, "dfs_event"] = "3"
    loaded = load_cohort(read_manifest(write(df, tmp_path)), SPEC, source="m.csv", seed=1,
                         split_params={"n_train": 20, "stratify": "dfs_event"}, on_invalid="exclude")
    assert len(loaded.data) == 39
    assert loaded.excluded.to_dict("records") == [
        {"row": 5, "patient_id": "P005", "reason": "dfs_event: event must be 0 or 1, got '3'"}
    ]
    assert "P005" not in set(loaded.data.patient_id)


def test_missing_file_and_unreadable_file(tmp_path):
    with pytest.raises(ManifestError, match="file not found"):
        read_manifest(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00\xff")
    with pytest.raises(ManifestError, match="not a readable CSV"):
        read_manifest(bad)


def _write_us_pair(folder: Path) -> tuple[str, str]:
    """A valid 2D US image and mask (0.1 mm pixels, 6 mm lesion with 12 mm of room)."""
    image = sitk.GetImageFromArray(np.random.default_rng(0).integers(0, 255, (300, 300)).astype(np.uint8))
    mask_arr = np.zeros((300, 300), np.uint8)
    mask_arr[120:180, 120:180] = 1
    mask = sitk.GetImageFromArray(mask_arr)
    for im in (image, mask):
        im.SetSpacing((0.1, 0.1))
    sitk.WriteImage(image, str(folder / "ok.nii.gz"), True)
    sitk.WriteImage(mask, str(folder / "ok_mask.nii.gz"), True)
    return "ok.nii.gz", "ok_mask.nii.gz"


GARBAGE_ROWS = (2, 7)  # 0-based rows whose US image is a file that is not an image


@pytest.fixture
def image_manifest(tmp_path):
    image, mask = _write_us_pair(tmp_path)
    (tmp_path / "img.nii.gz").write_bytes(b"x")  # exists, but is no image
    df = good_rows().assign(us_image=image, us_mask=mask)
    for i in GARBAGE_ROWS:
        df.loc[i, "us_image"] = "img.nii.gz"
    df.loc[3, "us_image"] = "missing.nii.gz"
    return df, tmp_path


def test_without_image_checks_only_the_missing_file_is_reported(image_manifest):
    # the garbage file exists, so it is not a "missing file"; only reading it tells
    df, tmp_path = image_manifest
    rep = check_manifest(read_manifest(write(df, tmp_path)), SPEC, base_dir=tmp_path)
    assert [(p.row, p.patient_id, p.column) for p in rep.problems] == [(4, "P004", "us_image")]
    assert rep.problems[0].message == "file not found: missing.nii.gz"


def test_image_checks_report_the_unreadable_file(image_manifest):
    df, tmp_path = image_manifest
    rep = check_manifest(read_manifest(write(df, tmp_path)), SPEC, base_dir=tmp_path, check_images=True)
    found = {(p.row, p.patient_id, p.column): p for p in rep.problems}
    assert sorted(found) == [(3, "P003", "us_image"), (4, "P004", "us_image"), (8, "P008", "us_image")]
    for i in GARBAGE_ROWS:
        p = found[(i + 1, f"P{i + 1:03d}", "us_image")]
        assert p.message.startswith("img.nii.gz: ") and "cannot be read" in p.message
        text = str(p)
        assert f"row {i + 1}" in text and f"patient 'P{i + 1:03d}'" in text and "column 'us_image'" in text
        assert "img.nii.gz" in text
    assert found[(4, "P004", "us_image")].message.startswith("missing.nii.gz: ")
    assert "does not exist" in found[(4, "P004", "us_image")].message


def test_image_checks_also_report_the_mask_and_geometry(image_manifest):
    df, tmp_path = image_manifest
    df = df.copy()
    empty = sitk.GetImageFromArray(np.zeros((300, 300), np.uint8))
    empty.SetSpacing((0.1, 0.1))
    sitk.WriteImage(empty, str(tmp_path / "empty_mask.nii.gz"), True)
    df.loc[10, "us_mask"] = "empty_mask.nii.gz"
    rep = check_manifest(read_manifest(write(df, tmp_path)), SPEC, base_dir=tmp_path, check_images=True)
    mask_problems = [p for p in rep.problems if p.column == "us_mask"]
    assert [(p.row, p.patient_id) for p in mask_problems] == [(11, "P011")]
    assert mask_problems[0].message.startswith("empty_mask.nii.gz: ") and "empty" in mask_problems[0].message


@pytest.mark.parametrize("check_images", [False, True])
def test_required_image_path_missing_is_reported_in_both_modes(image_manifest, check_images):
    # library bug found here: with check_images=True an empty path was skipped silently
    df, tmp_path = image_manifest
    df = df.copy()
    df.loc[5, "us_image"] = ""
    spec = ManifestSpec(columns=SPEC.columns, internal_centers=("1",), external_centers=("2", "3"),
                        min_train_events=2, image_columns=("us_image",))
    rep = check_manifest(read_manifest(write(df, tmp_path)), spec, base_dir=tmp_path, check_images=check_images)
    empty = [p for p in rep.problems if p.row == 6]
    assert [(p.patient_id, p.column, p.message) for p in empty] == [("P006", "us_image", "missing file path")]


def test_too_few_training_events(tmp_path):
    df = good_rows().assign(dfs_event="0")
    df.loc[0, "dfs_event"] = "1"
    spec = ManifestSpec(columns=SPEC.columns, internal_centers=("1",), external_centers=("2", "3"), min_train_events=5)
    with pytest.raises(ManifestError, match="events in the"):
        load_cohort(read_manifest(write(df, tmp_path)), spec, source="m.csv", seed=1, split_params={"n_train": 20, "stratify": "dfs_event"})


def test_derived_split_is_stratified_seeded_and_external_by_centre(tmp_path):
    df = load_cohort(read_manifest(write(good_rows(), tmp_path)), SPEC, source="m.csv", seed=3,
                     split_params={"n_train": 20, "stratify": "dfs_event"}).data
    assert (df.split[df.center != "1"] == "external").all()
    assert (df.split == "train").sum() == 20 and (df.split == "internal").sum() == 10
    # Stratified: event shares in train and internal differ by at most one patient's worth.
    rates = df[df.center == "1"].groupby("split").dfs_event.mean()
    assert abs(rates["train"] - rates["internal"]) <= 1 / 10
    again = derive_split(df.drop(columns="split"), SPEC, 20, seed=3)
    assert (again.to_numpy() == df.split.to_numpy()).all()


def test_image_checks_show_a_progress_bar_on_large_cohorts(image_manifest, capsys):
    from radsurv.cohort.manifest import check_image_files

    df, tmp_path = image_manifest
    check_image_files(df, SPEC, tmp_path)                      # 40 images: no bar by default
    assert "image checks" not in capsys.readouterr().err
    check_image_files(df, SPEC, tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "image checks: 100%" in err and "40/40" in err


def test_outcomes_in_months_for_the_patients_asked_in_their_order():
    data = pd.DataFrame({"patient_id": ["A", "B", "C"], "split": ["train", "internal", "external"],
                         "dfs_time": [365.25, 730.5, 30.4375], "dfs_event": [1.0, 0.0, 1.0]})
    out = cohort_outcomes(data, pd.Index(["C", "A"], name="patient_id"), "days")
    assert list(out.index) == ["C", "A"] and list(out.columns) == ["split", "time", "event"]
    assert out["split"].tolist() == ["external", "train"]
    np.testing.assert_allclose(out["time"], [1.0, 12.0])
    assert out["event"].tolist() == [1, 1] and out["event"].dtype == int
    months = cohort_outcomes(data.assign(dfs_time=[3.0, 4.0, 5.0]), pd.Index(["B"]), "months")
    assert months["time"].tolist() == [4.0] and months["event"].tolist() == [0]


def test_lesions_too_small_for_the_extraction_settings_are_read_with_the_image_checks(tmp_path):
    """With the supplied masks analysed, the image checks also hold every lesion against the
    extraction settings (radsurv.preconditions.region_checks): a 16-pixel US lesion is not a
    problem of the manifest, but the report lists it with its row, patient, column and file
    and PyRadiomics' reason (minimumROISize 20 in params/radiomics_us.yaml), the loaded
    cohort keeps it, and the preconditions note that 02 leaves the patient out."""
    from radsurv.config import load_profile
    from radsurv.pipeline.runner import precondition_verdicts
    from radsurv.preconditions import region_checks

    root = Path(__file__).resolve().parents[2]
    image, mask = _write_us_pair(tmp_path)
    tiny = np.zeros((300, 300), np.uint8)
    tiny[148:152, 148:152] = 1
    small = sitk.GetImageFromArray(tiny)
    small.SetSpacing((0.1, 0.1))
    sitk.WriteImage(small, str(tmp_path / "tiny_mask.nii.gz"), True)
    df = good_rows().assign(us_image=image, us_mask=mask)
    df.loc[[0, 5], "us_mask"] = "tiny_mask.nii.gz"
    quick = load_profile("quick", root)
    prof = {**quick, "segmentation": {**quick["segmentation"], "use_supplied_masks": True}}
    assert region_checks(quick, root) == {}          # a U-Net's masks are not known before 01
    checks = region_checks(prof, root)
    rep = check_manifest(read_manifest(write(df, tmp_path)), SPEC, base_dir=tmp_path, check_images=True,
                         region_checks=checks)
    assert rep.problems == []
    assert [(p.row, p.patient_id, p.column) for p in rep.regions] == [(1, "P001", "us_mask"), (6, "P006", "us_mask")]
    assert rep.regions[0].message == ("tiny_mask.nii.gz: 16 voxels in the lesion; PyRadiomics refuses it: Size of the "
                                      "ROI is too small (minimum size: 20, ROI size: 16) (setting.minimumROISize 20, "
                                      "setting.minimumROIDimensions 2)")
    loaded = load_cohort(read_manifest(write(df, tmp_path)), SPEC, source="m.csv", seed=0,
                         split_params={"n_train": 0.6, "stratify": "dfs_event"}, report=rep)
    assert loaded.regions == rep.regions
    first = precondition_verdicts(loaded.data, {**prof, "cohort": {**prof["cohort"], "columns": {"clinical": {},
                                                                                                 "mri": {}}}},
                                  loaded.regions)[0]
    assert (first.stage, first.check, first.action) == ("02_features", "extractable_regions", "note")
    assert first.message.startswith("the lesion of 2 of 40 patients cannot be extracted with the extraction settings")
    assert "row 1, patient 'P001', column 'us_mask': tiny_mask.nii.gz: 16 voxels" in first.message

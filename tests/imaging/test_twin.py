"""Writing the twin's image files: layout, paths, byte-identical reproducibility."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.imaging import check_image_pair, scanner_for, write_cohort_images, write_devset
from radsurv.imaging.twin import patient_rng

COLUMNS = ["patient_id", "us_image", "us_mask", "us_reader_mask", "mri_image", "mri_mask", "mri_reader_mask"]


@pytest.fixture(scope="module")
def latents() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["TW001", "TW002", "TW/003"],  # the '/' must not make a folder
            "center": [1, 2, 3],
            "a_img": [-1.0, 0.5, 2.0],
            "b_img": [0.3, -1.2, 1.0],
            "size_mm": [9.0, 11.0, 8.0],
        }
    )


def _digests(table: pd.DataFrame, root: Path) -> dict[tuple[str, str], str]:
    return {
        (row.patient_id, column): hashlib.sha256((root / getattr(row, column)).read_bytes()).hexdigest()
        for row in table.itertuples()
        for column in COLUMNS[1:]
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory, latents):
    base = tmp_path_factory.mktemp("twin")
    first = write_cohort_images(latents, base / "run1" / "images", seed=42, n_jobs=1, progress=False)
    return base, first


def test_table_layout_and_relative_paths(written, latents):
    base, table = written
    assert list(table.columns) == COLUMNS
    assert table["patient_id"].tolist() == latents["patient_id"].tolist()
    root = base / "run1"
    for column in COLUMNS[1:]:
        for value in table[column]:
            assert not Path(value).is_absolute() and value.startswith("images/") and value.endswith(".nii.gz")
            assert (root / value).is_file()
    assert table.loc[2, "us_image"] == "images/us/TW_003_image.nii.gz"


def test_written_pairs_pass_the_checks(written):
    base, table = written
    root = base / "run1"
    for row in table.itertuples():
        for modality in ("us", "mri"):
            image = root / getattr(row, f"{modality}_image")
            for mask_column in ("mask", "reader_mask"):
                mask = root / getattr(row, f"{modality}_{mask_column}")
                assert check_image_pair(row.patient_id, image, mask, modality) == []


def test_gzip_headers_carry_no_timestamp(written):
    base, table = written
    path = base / "run1" / table.loc[0, "mri_image"]
    header = path.read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b" and header[4:8] == b"\x00\x00\x00\x00"  # MTIME = 0
    with gzip.open(path) as handle:
        assert len(handle.read(348)) == 348  # a NIfTI-1 header follows


def test_same_seed_same_bytes_regardless_of_jobs_and_order(written, latents):
    base, first = written
    reference = _digests(first, base / "run1")
    # Two workers, rows reversed, and one patient fewer: each file depends only on
    # (seed, patient_id).
    subset = latents.iloc[::-1].iloc[:2].reset_index(drop=True)
    second = write_cohort_images(subset, base / "run2" / "images", seed=42, n_jobs=2, progress=False)
    again = _digests(second, base / "run2")
    assert again and all(again[key] == reference[key] for key in again)


def test_other_seed_other_bytes(written, latents):
    base, first = written
    reference = _digests(first, base / "run1")
    third = write_cohort_images(latents.iloc[:1], base / "run3" / "images", seed=43, n_jobs=1, progress=False,
                                modalities=("us",))
    assert list(third.columns) == ["patient_id", "us_image", "us_mask", "us_reader_mask"]
    digest = hashlib.sha256((base / "run3" / third.loc[0, "us_image"]).read_bytes()).hexdigest()
    assert digest != reference[("TW001", "us_image")]


def test_patient_streams_are_distinct():
    draw = lambda *key: patient_rng(*key).integers(0, 2**62)  # noqa: E731
    assert draw(1, "A", "us") == draw(1, "A", "us")
    assert len({draw(1, "A", "us"), draw(1, "A", "mri"), draw(1, "B", "us"), draw(2, "A", "us")}) == 4


def test_bad_latents_are_refused(tmp_path, latents):
    with pytest.raises(ValueError, match="size_mm"):
        write_cohort_images(latents.drop(columns="size_mm"), tmp_path, seed=1, progress=False)
    with pytest.raises(ValueError, match="duplicate"):
        write_cohort_images(pd.concat([latents, latents]), tmp_path, seed=1, progress=False)
    with pytest.raises(TypeError, match="seed"):
        write_cohort_images(latents, tmp_path, progress=False)


@pytest.mark.parametrize("modality", ["us", "mri"])
def test_development_set(tmp_path, modality):
    table = write_devset(modality, 3, tmp_path / "dev" / modality, seed=5, n_jobs=1, progress=False,
                                  root=tmp_path, latents={"max_mm": 12.0})
    assert list(table.columns) == ["patient_id", "center", "size_mm", "image", "mask", "reader_mask"]
    assert table["patient_id"].str.startswith(f"DEV{modality.upper()}").all()
    assert (table["center"] == 1).all()  # default: the internal centre only
    for row in table.itertuples():
        assert row.image == f"dev/{modality}/{row.patient_id}_image.nii.gz"
        assert check_image_pair(row.patient_id, tmp_path / row.image, tmp_path / row.mask, modality) == []
    again = write_devset(modality, 3, tmp_path / "dev2", seed=5, n_jobs=1, progress=False, root=tmp_path,
                                  latents={"max_mm": 12.0})
    assert (tmp_path / table.loc[0, "image"]).read_bytes() == (tmp_path / again.loc[0, "image"]).read_bytes()
    _assert_written_with_scanner_of_row(table, tmp_path, modality)


def _expected_spacing(center: int, modality: str) -> tuple[float, ...]:
    scanner = scanner_for(center, modality)
    if modality == "us":
        return (scanner["spacing_mm"], scanner["spacing_mm"])
    return (scanner["inplane_mm"], scanner["inplane_mm"], scanner["slice_mm"])


def _assert_written_with_scanner_of_row(table, root, modality):
    # the centres' scanners differ in pixel spacing (US 0.14/0.10/0.11 mm; MRI
    # 0.86/0.66/0.74 mm in plane), so each file shows which scanner made it
    for row in table.itertuples():
        spacing = sitk.ReadImage(str(root / row.image)).GetSpacing()
        np.testing.assert_allclose(spacing, _expected_spacing(row.center, modality), rtol=1e-6,
                                   err_msg=f"{row.patient_id} (centre {row.center})")


@pytest.mark.parametrize("modality", ["us", "mri"])
def test_development_set_centres_argument(tmp_path, modality):
    only3 = write_devset(modality, 3, tmp_path / "c3", seed=5, n_jobs=1, progress=False, root=tmp_path,
                                  centers=[3], latents={"max_mm": 10.0})
    assert only3["center"].tolist() == [3, 3, 3]
    _assert_written_with_scanner_of_row(only3, tmp_path, modality)
    # weights: centre 1 has weight 0, so only centres 2 and 3 (seed 5 draws both)
    mixed = write_devset(modality, 6, tmp_path / "c23", seed=5, n_jobs=1, progress=False, root=tmp_path,
                                  centers={1: 0.0, 2: 1.0, 3: 1.0}, latents={"max_mm": 10.0})
    assert set(mixed["center"]) == {2, 3}
    _assert_written_with_scanner_of_row(mixed, tmp_path, modality)

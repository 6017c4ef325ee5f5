"""read_image on NIfTI, NRRD, MetaImage and DICOM series (from the real breast MRI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radsurv.imaging.io import ImageReadError, dicom_series, read_image

SERIES_ROOT = "1.2.826.0.1.3680043.2.1125.42"


def write_dicom_series(image: sitk.Image, folder: Path, series_uid: str, prefix: str = "slice") -> None:
    """Write a 3D int16 image as one DICOM file per axial slice (SimpleITK's recipe)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    d = image.GetDirection()
    shared = {
        "0008|0021": "20240101", "0008|0031": "120000", "0008|0060": "MR",
        "0008|0008": "DERIVED\\SECONDARY", "0020|000e": series_uid, "0008|103e": "test series",
        "0020|0037": "\\".join(str(v) for v in (d[0], d[3], d[6], d[1], d[4], d[7])),
        "0018|0050": str(image.GetSpacing()[2]),
    }
    for k in range(image.GetDepth()):
        plane = image[:, :, k]
        for tag, value in shared.items():
            plane.SetMetaData(tag, value)
        plane.SetMetaData("0020|0032", "\\".join(str(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k))))
        plane.SetMetaData("0020|0013", str(k + 1))
        plane.SetMetaData("0008|0018", f"{series_uid}.{k + 1}")
        writer.SetFileName(str(folder / f"{prefix}{k:03d}.dcm"))
        writer.Execute(plane)


@pytest.fixture(scope="module")
def breast(fixture_paths) -> sitk.Image:
    return sitk.ReadImage(str(fixture_paths["image"]))


def _same(a: sitk.Image, b: sitk.Image, atol: float = 1e-4) -> None:
    assert a.GetSize() == b.GetSize()
    assert np.allclose(a.GetSpacing(), b.GetSpacing(), atol=atol)
    assert np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-3)
    assert np.array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))


def test_nrrd_fixture(fixture_paths, breast):
    image = read_image(fixture_paths["image"])
    assert image.GetDimension() == 3 and image.GetSize() == (45, 120, 21)
    assert image.GetSpacing() == pytest.approx((0.664062, 0.664062, 2.1), abs=1e-6)
    _same(image, breast)


@pytest.mark.parametrize("name", ["breast.nii.gz", "breast.nii", "breast.mha", "breast.mhd"])
def test_file_formats(tmp_path, breast, name):
    path = tmp_path / name
    sitk.WriteImage(breast, str(path))
    _same(read_image(path), breast)
    _same(read_image(str(path)), breast)  # str paths too


def test_dicom_series(tmp_path, breast):
    folder = tmp_path / "dicom"
    write_dicom_series(breast, folder, SERIES_ROOT + ".1")
    assert len(list(folder.glob("*.dcm"))) == breast.GetDepth()
    image = read_image(folder)
    _same(image, breast, atol=1e-3)


def test_dicom_folder_with_two_series(tmp_path, breast):
    folder = tmp_path / "dicom"
    write_dicom_series(breast, folder, SERIES_ROOT + ".1", prefix="a")
    write_dicom_series(breast[:, :, :5], folder, SERIES_ROOT + ".2", prefix="b")
    assert set(dicom_series(folder)) == {SERIES_ROOT + ".1", SERIES_ROOT + ".2"}
    with pytest.raises(ImageReadError, match="2 DICOM series"):
        read_image(folder)
    assert read_image(folder, series_id=SERIES_ROOT + ".2").GetSize() == (45, 120, 5)
    with pytest.raises(ImageReadError, match="no DICOM series"):
        read_image(folder, series_id="1.2.3")


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "absent.nii.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="no DICOM series"):
        read_image(tmp_path / "empty")
    (tmp_path / "image.png").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="unsupported"):
        read_image(tmp_path / "image.png")
    (tmp_path / "broken.nii.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ImageReadError, match="unreadable"):
        read_image(tmp_path / "broken.nii.gz")

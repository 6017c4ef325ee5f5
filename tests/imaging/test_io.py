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


def _volume() -> sitk.Image:
    return sitk.GetImageFromArray(np.arange(20 * 30 * 40, dtype=np.float32).reshape(20, 30, 40))


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_a_truncated_nifti_is_refused_not_read_as_zeros(tmp_path, name):
    """ITK reads a NIfTI cut short and fills the rest with zeros; read_image refuses it."""
    from radsurv.imaging.io import nifti_truncation

    full = tmp_path / name
    sitk.WriteImage(_volume(), str(full), useCompression=name.endswith(".gz"))
    assert nifti_truncation(full) is None
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_image(full)).ravel(), np.arange(24000))
    cut = tmp_path / ("cut_" + name)
    cut.write_bytes(full.read_bytes()[:full.stat().st_size // 2])
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(cut))).shape == (20, 30, 40)  # ITK alone accepts it
    with pytest.raises(ImageReadError, match=rf"cut_{name}: (truncated|truncated or corrupt compressed data)"):
        read_image(cut)
    if name == "v.nii":  # 352 header bytes + 24,000 float32 voxels; half the file is left
        assert nifti_truncation(cut) == ("truncated: 48,176 of 96,352 bytes (the header declares 40 x 30 x 20 "
                                         "voxels of 32 bits from byte 352)")
    else:
        assert nifti_truncation(cut).startswith("truncated or corrupt compressed data (Compressed file ended")


def test_nifti_sizes_from_big_endian_and_nifti2_headers():
    import struct

    from radsurv.imaging.io import _nifti_declared_size

    one = bytearray(348)
    struct.pack_into(">i", one, 0, 348)
    struct.pack_into(">8h", one, 40, 3, 7, 5, 3, 1, 1, 1, 1)
    struct.pack_into(">h", one, 72, 16)
    struct.pack_into(">f", one, 108, 352.0)
    one[344:348] = b"n+1\0"
    assert _nifti_declared_size(bytes(one)) == (352 + 7 * 5 * 3 * 2, (7, 5, 3), 16, 352)
    two = bytearray(540)
    struct.pack_into("<i", two, 0, 540)
    two[4:8] = b"n+2\0"
    struct.pack_into("<h", two, 14, 64)
    struct.pack_into("<8q", two, 16, 2, 11, 13, 1, 1, 1, 1, 1)
    struct.pack_into("<q", two, 168, 544)
    assert _nifti_declared_size(bytes(two)) == (544 + 11 * 13 * 8, (11, 13), 64, 544)
    assert _nifti_declared_size(bytes(348)) is None  # not a NIfTI header

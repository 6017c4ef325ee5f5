"""Reading real images: NIfTI, NRRD, MetaImage and DICOM series, all through SimpleITK."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib

from pathlib import Path

import SimpleITK as sitk

from ..exceptions import ImageReadError

__all__ = ["as_image", "dicom_series", "FILE_SUFFIXES", "image_digest", "ImageReadError", "nifti_truncation",
           "read_image"]

#: File endings read with ``SimpleITK.ReadImage`` (lower case).
FILE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm")


def dicom_series(folder: str | Path) -> dict[str, list[str]]:
    """The DICOM series in a folder, each with its slice files in spatial order.

    Parameters
    ----------
    folder
        A folder holding DICOM files (not searched recursively).

    Returns
    -------
    dict
        Series instance UID -> sorted file names (empty if the folder has none).
    """
    folder = str(folder)
    ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder) or ()
    return {sid: list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, sid)) for sid in ids}


def _suffix(path: Path) -> str:
    """Lower-case file ending, treating ``.nii.gz`` as one ending."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def as_image(x: str | Path | sitk.Image) -> sitk.Image:
    """A SimpleITK image from an image (returned as is) or a path (read with
    :func:`read_image`: a file or a DICOM series folder)."""
    return x if isinstance(x, sitk.Image) else read_image(x)


def image_digest(x: str | Path | sitk.Image) -> str:
    """SHA-256 of an image: the file bytes for a path, the voxels plus geometry for an image.

    Used in cache keys (trained U-Nets, radiomic features), so that a changed image or
    header invalidates what was computed from it. A DICOM folder is hashed file by file.
    """
    h = hashlib.sha256()
    if isinstance(x, sitk.Image):
        h.update(sitk.GetArrayViewFromImage(x).tobytes())
        h.update(repr((x.GetSize(), x.GetSpacing(), x.GetOrigin(), x.GetDirection(), x.GetPixelIDTypeAsString())).encode())
        return h.hexdigest()
    path = Path(x)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def read_image(path: str | Path, series_id: str | None = None) -> sitk.Image:
    """Read a medical image from a file or a DICOM series folder.

    Parameters
    ----------
    path
        A ``.nii``/``.nii.gz``, ``.nrrd``/``.nhdr``, ``.mha``/``.mhd`` or single
        ``.dcm`` file, or a folder holding one DICOM series.
    series_id
        Series instance UID to read when the folder holds several series.

    Returns
    -------
    SimpleITK.Image

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ImageReadError
        Unsupported ending, unreadable file, a folder with no DICOM series, several
        series and no ``series_id``, or an unknown ``series_id``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return _read_dicom_folder(path, series_id)
    suffix = _suffix(path)
    if suffix not in FILE_SUFFIXES:
        raise ImageReadError(f"{path}: unsupported image format {suffix!r} (expected one of {', '.join(FILE_SUFFIXES)})")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise ImageReadError(f"{path}: unreadable image ({_first_line(err)})") from err
    if suffix in (".nii", ".nii.gz"):
        # ITK's NIfTI reader fills the voxels of a truncated file with zeros without a word
        # (NRRD, MetaImage and DICOM readers refuse one): check the size the header declares.
        short = nifti_truncation(path)
        if short:
            raise ImageReadError(f"{path}: {short}; copy the file again from its source")
    return image


def nifti_truncation(path: str | Path) -> str | None:
    """Why a NIfTI file (``.nii`` or ``.nii.gz``) holds fewer bytes than its header
    declares, or None when it is complete.

    The header (NIfTI-1 or NIfTI-2, either byte order) gives the offset of the voxels and
    their number and size. A ``.nii.gz`` is decompressed to its end, which also checks the
    gzip stream's own CRC and length.

    Parameters
    ----------
    path : str or Path
        A NIfTI file.

    Returns
    -------
    str or None
        For example ``"truncated: 200 of 151,268 bytes (the header declares 415 x 364
        voxels of 8 bits from byte 352)"``.
    """
    path = Path(path)
    compressed = path.name.lower().endswith(".gz")
    try:
        if compressed:
            size, head = 0, b""
            with gzip.open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    if len(head) < 540:
                        head += block[:540 - len(head)]
                    size += len(block)
        else:
            size = path.stat().st_size
            with open(path, "rb") as fh:
                head = fh.read(540)
    except (EOFError, OSError, zlib.error) as err:
        return f"truncated or corrupt compressed data ({err})"
    declared = _nifti_declared_size(head)
    if declared is None:
        return "no NIfTI header" if len(head) < 348 else None
    total, shape, bits, offset = declared
    if size < total:
        dims = " x ".join(str(d) for d in shape)
        return (f"truncated: {size:,} of {total:,} bytes (the header declares {dims} voxels of {bits} bits "
                f"from byte {offset})")
    return None


def _nifti_declared_size(head: bytes) -> tuple[int, tuple[int, ...], int, int] | None:
    """(file bytes, shape, bits per voxel, voxel offset) that a NIfTI-1 or NIfTI-2 header
    declares; None when ``head`` is not a single-file NIfTI header."""
    for order in "<>":
        if len(head) >= 348 and struct.unpack(order + "i", head[:4])[0] == 348 and head[344:347] == b"n+1":
            dim = struct.unpack(order + "8h", head[40:56])
            bits = struct.unpack(order + "h", head[72:74])[0]
            offset = int(struct.unpack(order + "f", head[108:112])[0])
        elif len(head) >= 540 and struct.unpack(order + "i", head[:4])[0] == 540 and head[4:7] == b"n+2":
            dim = struct.unpack(order + "8q", head[16:80])
            bits = struct.unpack(order + "h", head[14:16])[0]
            offset = int(struct.unpack(order + "q", head[168:176])[0])
        else:
            continue
        if not 1 <= dim[0] <= 7:
            return None
        shape = tuple(int(d) for d in dim[1:dim[0] + 1])
        n = 1
        for d in shape:
            n *= max(d, 1)
        return offset + n * bits // 8, shape, int(bits), offset
    return None


def _read_dicom_folder(folder: Path, series_id: str | None) -> sitk.Image:
    """Read one DICOM series from ``folder`` (see :func:`read_image`)."""
    series = dicom_series(folder)
    if not series:
        raise ImageReadError(f"{folder}: folder holds no DICOM series")
    if series_id is None:
        if len(series) > 1:
            raise ImageReadError(
                f"{folder}: folder holds {len(series)} DICOM series ({', '.join(sorted(series))}); choose one with series_id"
            )
        series_id = next(iter(series))
    if series_id not in series:
        raise ImageReadError(f"{folder}: no DICOM series {series_id!r} (found {', '.join(sorted(series))})")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(series[series_id])
    try:
        return reader.Execute()
    except RuntimeError as err:
        raise ImageReadError(f"{folder}: unreadable DICOM series {series_id} ({_first_line(err)})") from err


def _first_line(err: Exception) -> str:
    """The informative part of an ITK exception (its messages span many lines)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if "rror" in line or "annot" in line or "not" in line:
            return line[:300]
    return lines[0][:300] if lines else type(err).__name__

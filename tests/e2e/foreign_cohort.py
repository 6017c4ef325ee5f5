"""A small own-cohort fixture unlike the digital twin, written from the PyRadiomics
breast MRI crop (``tests/data/pyradiomics``, BSD-3, credit PyRadiomics).

What differs from the twin, as a real user's data would:

- MRI only (no ultrasound columns at all);
- centres named ``Hospital A`` (internal) and ``Hospital B`` (external), strings;
- follow-up in days; two clinical columns (age with missing values, a 3-level grade);
  no radiologist-read MRI descriptors;
- hospital-number-like patient ids (``HN-...``), which must not reach the paper;
- images as NRRD, NIfTI (.nii.gz) and DICOM series (one folder of slices per patient),
  masks as NRRD or NIfTI, every volume a transformed copy of the breast crop (flips,
  intensity scale and offset, smoothing, noise, a one-voxel dilated or eroded mask);
- multi-label masks: the lesion is label 1, and a second structure (label 2, a block
  of tissue away from the lesion, as segmentation tools export) must be ignored;
- every other DICOM patient's NIfTI mask stored in the opposite slice order (its origin
  on the last slice, the slice axis reversed): the same physical volume, another grid;
- a survival outcome that depends on the smoothing and noise of the image (so the
  texture features carry a real signal) and on grade.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

DATA = Path(__file__).resolve().parents[1] / "data" / "pyradiomics"
CENTRES = ("Hospital A", "Hospital B")


def _base() -> tuple[sitk.Image, sitk.Image]:
    image = sitk.ReadImage(str(DATA / "breast1_image.nrrd"))
    mask = sitk.ReadImage(str(DATA / "breast1_label.nrrd"))
    return image, mask


def _write_dicom_series(image: sitk.Image, folder: Path, patient: str) -> None:
    """One 16-bit DICOM file per slice, with the geometry tags a scanner writes."""
    folder.mkdir(parents=True, exist_ok=True)
    image = sitk.Cast(image, sitk.sitkInt16)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = image.GetDirection()
    series_uid = "1.2.826.0.1.3680043.2.1125." + str(zlib.crc32(patient.encode()))
    for k in range(image.GetDepth()):
        sl = image[:, :, k]
        origin = image.TransformIndexToPhysicalPoint((0, 0, k))
        tags = {
            "0008|0060": "MR",
            "0010|0020": patient,
            "0020|000e": series_uid,
            "0020|0032": "\\".join(f"{v:.6f}" for v in origin),
            "0020|0037": "\\".join(f"{v:.6f}" for v in direction[0:1] + direction[3:4] + direction[6:7]
                                   + direction[1:2] + direction[4:5] + direction[7:8]),
            "0020|0013": str(k + 1),
            "0018|0050": f"{image.GetSpacing()[2]:.6f}",
            "0028|0030": f"{image.GetSpacing()[1]:.6f}\\{image.GetSpacing()[0]:.6f}",
        }
        for tag, value in tags.items():
            sl.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(sl)


def _reverse_slices(mask: sitk.Image) -> sitk.Image:
    """The same mask stored with the opposite slice order (as some converters write a
    DICOM series' segmentation): voxels reversed along z, origin moved to the last
    slice, the slice direction negated. Same physical content, different grid."""
    arr = sitk.GetArrayFromImage(mask)[::-1].copy()
    out = sitk.GetImageFromArray(arr)
    out.SetSpacing(mask.GetSpacing())
    out.SetOrigin(mask.TransformIndexToPhysicalPoint((0, 0, mask.GetDepth() - 1)))
    d = np.array(mask.GetDirection()).reshape(3, 3)
    d[:, 2] *= -1
    out.SetDirection(tuple(d.ravel()))
    return out


def write_foreign_cohort(folder: Path, n: int = 44, seed: int = 7) -> Path:
    """Write the images, masks and ``manifest.csv`` under ``folder``; returns the manifest."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base, base_mask = _base()
    arr0 = sitk.GetArrayFromImage(base).astype(float)
    rows = []
    for i in range(n):
        pid = f"HN-{rng.integers(10**6, 10**7)}"
        centre = CENTRES[0] if i < int(0.7 * n) else CENTRES[1]
        smooth = float(rng.uniform(0.0, 1.5))  # the image property the outcome depends on
        noise = float(rng.uniform(5.0, 60.0))
        arr = arr0.copy()
        img = sitk.GetImageFromArray(arr)
        img.CopyInformation(base)
        if smooth > 0.05:
            img = sitk.SmoothingRecursiveGaussian(img, smooth)
        arr = sitk.GetArrayFromImage(img) * rng.uniform(0.7, 1.4) + rng.uniform(-50, 50)
        arr += rng.normal(0, noise, arr.shape)
        mask = sitk.GetArrayFromImage(base_mask).astype(np.uint8)
        if rng.random() < 0.5:  # left-right flip of image and mask together
            arr, mask = arr[:, :, ::-1].copy(), mask[:, :, ::-1].copy()
        out = sitk.GetImageFromArray(np.clip(arr, -1000, 3000).astype(np.int16))
        out.CopyInformation(base)
        m = sitk.GetImageFromArray(mask)
        m.CopyInformation(base)
        change = rng.integers(0, 3)  # a reader's mask: as drawn, one voxel larger, or smaller
        if change == 1:
            m = sitk.BinaryDilate(m, [1, 1, 0])
        elif change == 2:
            m = sitk.BinaryErode(m, [1, 1, 0])
        # a second structure, label 2: a block of tissue in the corner farthest from the lesion
        labels = sitk.GetArrayFromImage(m)
        z, y, x = labels.shape
        hit = np.argwhere(labels > 0).mean(axis=0)
        ys = slice(0, 4) if hit[1] > y / 2 else slice(y - 4, y)
        xs = slice(0, 4) if hit[2] > x / 2 else slice(x - 4, x)
        labels[:, ys, xs] = np.where(labels[:, ys, xs] == 0, 2, labels[:, ys, xs])
        m2 = sitk.GetImageFromArray(labels)
        m2.CopyInformation(m)
        m = m2
        fmt = i % 3
        if fmt == 2 and i % 6 == 5:
            m = _reverse_slices(m)
        if fmt == 0:
            image_path, mask_path = f"images/{pid}_t1.nrrd", f"images/{pid}_seg.nrrd"
            sitk.WriteImage(out, str(folder / image_path), useCompression=True)
        elif fmt == 1:
            image_path, mask_path = f"images/{pid}_t1.nii.gz", f"images/{pid}_seg.nii.gz"
            sitk.WriteImage(out, str(folder / image_path))
        else:
            image_path, mask_path = f"images/{pid}_dicom", f"images/{pid}_seg.nii.gz"
            _write_dicom_series(out, folder / image_path, pid)
        sitk.WriteImage(m, str(folder / mask_path))
        grade = ["G1", "G2", "G3"][int(rng.integers(0, 3))]
        age = float(np.round(rng.normal(52, 10), 0))
        lp = 1.2 * (smooth - 0.75) / 0.43 - 0.8 * (noise - 32) / 16 + 0.5 * (grade == "G3")
        t_event = rng.exponential(1100 * np.exp(-lp))
        t_cens = rng.uniform(900, 3000)
        rows.append({
            "patient_id": pid, "center": centre,
            "dfs_time": int(max(1, round(min(t_event, t_cens)))), "dfs_event": int(t_event <= t_cens),
            "age": "" if rng.random() < 0.1 else age, "grade": grade,
            "mri_image": image_path, "mri_mask": mask_path,
        })
    manifest = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False, lineterminator="\n")
    return manifest

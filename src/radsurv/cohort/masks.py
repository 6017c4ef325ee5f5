"""A user's masks as the later stages read them, and a user's segmentation-development set.

Two kinds of supplied mask cannot be read as they are by every later stage, which take
any non-zero voxel of a mask on its image's grid as lesion:

- a mask stored on another voxel grid over the same physical volume (a DICOM series
  with a NIfTI mask written in the opposite slice order, a mask on a finer grid): it
  is resampled onto the image grid by nearest neighbour, as PyRadiomics' ``correctMask``
  does (:func:`radsurv.imaging.checks.mask_on_image_grid`; a mask over another volume
  is refused by the checks before this point);
- a multi-label mask when the profile names the lesion's label
  (``imaging.mask_label``): only that label is kept.

:func:`prepare_masks` writes those masks, as binary NIfTI files, into the cohort
stage's folder and lists them in ``prepared_masks.csv``; the reader of the stage's
outputs (:func:`radsurv.stages.readers.read_cohort`) hands them on in place of the
supplied files, which are never modified.

:func:`load_devset` reads a user's segmentation-development set
(``imaging.development.<modality>.manifest``: images with masks, no outcome), checks
it as the cohort is checked, and refuses images that are also those of a test-set
patient (a segmenter trained on them would have seen the test set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import SimpleITK as sitk

from ..exceptions import ManifestError
from ..imaging.checks import check_image_pair, mask_on_image_grid
from ..imaging.io import read_image
from .manifest import Problem

__all__ = ["PREPARED_COLUMNS", "load_devset", "prepare_mask", "prepare_masks"]

#: Columns of ``prepared_masks.csv``.
PREPARED_COLUMNS = ["patient_id", "modality", "mask", "supplied", "action"]


def prepare_mask(image_path: str | Path, mask_path: str | Path, label: int | None, out_path: Path) -> str:
    """Write the binary lesion mask on the image's grid; return what was done.

    Parameters
    ----------
    image_path, mask_path
        The supplied pair (already checked: same physical volume, the label present).
    label
        The lesion's label (None: every non-zero voxel).
    out_path
        Where to write the binary uint8 mask (NIfTI).

    Returns
    -------
    str
        ``"resampled onto the image grid"``, ``"label <k> kept"``, or both.
    """
    image, mask = read_image(image_path), read_image(mask_path)
    mask, note = mask_on_image_grid(image, mask)
    values = sitk.GetArrayViewFromImage(mask)
    lesion = (values == int(label)) if label is not None else (values != 0)
    out = sitk.GetImageFromArray(lesion.astype(np.uint8))
    out.CopyInformation(image)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(out, str(out_path), True)
    done = []
    if note:
        done.append("resampled onto the image grid")
    if label is not None:
        done.append(f"label {int(label)} kept")
    return ", ".join(done)


def _needs(data: pd.DataFrame, notes: list[Problem], label: int | None) -> list[tuple[int, str]]:
    """(row position in ``data``, modality) of every mask to prepare."""
    position = {pid: i for i, pid in enumerate(data["patient_id"].astype(str))}
    todo = set()
    for note in notes:
        if note.column and note.column.endswith("_mask") and note.patient_id in position:
            todo.add((position[note.patient_id], note.column[: -len("_mask")]))
    if label is not None:
        for m in ("us", "mri"):
            if f"{m}_mask" in data:
                todo |= {(i, m) for i in np.flatnonzero(data[f"{m}_mask"].notna().to_numpy())}
    return sorted(todo, key=lambda t: (t[1] != "us", t[0]))


def prepare_masks(data: pd.DataFrame, notes: list[Problem], label: int | None, root: Path, out_dir: Path,
                  n_jobs: int = 1) -> pd.DataFrame:
    """Write the masks later stages cannot read as supplied (see the module docstring).

    Parameters
    ----------
    data
        The validated cohort (``LoadedCohort.data``; paths relative to ``root``).
    notes
        The input checks' notes (``LoadedCohort.notes``): masks to resample.
    label
        ``imaging.mask_label``.
    root
        The folder the manifest's paths start from.
    out_dir
        The cohort stage's folder; masks go to ``masks/<modality>/<position>.nii.gz``.
    n_jobs
        Threads.

    Returns
    -------
    DataFrame
        :data:`PREPARED_COLUMNS`; ``mask`` relative to ``out_dir``, ``supplied`` as in
        the manifest. Empty when every mask is usable as supplied.
    """
    from joblib import Parallel, delayed

    todo = _needs(data, notes, label)

    def one(i: int, m: str) -> dict[str, Any]:
        rel = Path("masks") / m / f"{i:05d}.nii.gz"
        supplied = str(data[f"{m}_mask"].iloc[i])
        action = prepare_mask(root / str(data[f"{m}_image"].iloc[i]), root / supplied, label, out_dir / rel)
        return {"patient_id": str(data["patient_id"].iloc[i]), "modality": m, "mask": rel.as_posix(),
                "supplied": supplied, "action": action}

    rows = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(one)(i, m) for i, m in todo)
    return pd.DataFrame(rows, columns=PREPARED_COLUMNS)


def load_devset(path: str | Path, modality: str, imaging: Mapping[str, Any], cohort: pd.DataFrame,
                         cohort_root: Path, out_dir: Path | None, on_invalid: str = "fail",
                         test_splits: tuple[str, ...] = ("internal", "external"),
                         n_jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read, check and prepare a user's segmentation-development set.

    Parameters
    ----------
    path
        The CSV: ``image`` and ``mask`` columns (paths relative to the CSV), optional
        ``patient_id``.
    modality
        ``"us"`` or ``"mri"``.
    imaging
        The profile's ``imaging`` section (``mask_label``).
    cohort
        The validated survival cohort (with ``split``), paths relative to ``cohort_root``.
    cohort_root
        The folder the cohort manifest's paths start from.
    out_dir
        The cohort stage's folder: prepared masks go to ``devsets/<modality>/``. None
        checks only (``radsurv validate``): nothing is written, masks stay as supplied.
    on_invalid
        ``"fail"``: any problem stops with every problem listed; ``"exclude"``: rows
        with a problem are left out and returned.
    test_splits
        The cohort's test sets, whose images must not be in the development set.
    n_jobs
        Threads for the image checks.

    Returns
    -------
    (devset, excluded)
        ``devset``: ``patient_id``, ``image`` (absolute), ``mask`` (absolute, or
        relative to ``out_dir`` when prepared), ``reader_mask`` (empty: a user's set
        has one mask per image, the reference); ``excluded``: ``row``, ``patient_id``,
        ``reason``.

    Raises
    ------
    ManifestError
        A missing column, an empty set, or (``on_invalid: fail``) any row problem.
    """
    from joblib import Parallel, delayed

    path = Path(path)
    if not path.is_file():
        raise ManifestError(str(path), [Problem(None, None, None, f"{modality} development set: file not found")])
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in ("image", "mask") if c not in df.columns]
    if missing or df.empty:
        raise ManifestError(str(path), [Problem(None, None, c, "required column is missing") for c in missing]
                            or [Problem(None, None, None, "the development set has no rows")])
    if "patient_id" not in df.columns:
        df.insert(0, "patient_id", [f"dev-{i + 1}" for i in range(len(df))])
    df["patient_id"] = df["patient_id"].astype(str).str.strip()
    base = path.resolve().parent
    label = imaging["mask_label"]

    tests = cohort[cohort["split"].isin(test_splits)]
    test_images = {str((cohort_root / str(v)).resolve()): pid
                   for pid, v in zip(tests["patient_id"], tests[f"{modality}_image"]) if isinstance(v, str)}
    test_ids = set(tests["patient_id"].astype(str))

    def check(i: int) -> tuple[list[Problem], bool]:
        row = df.iloc[i]
        pid = row["patient_id"]
        image = None if pd.isna(row["image"]) else base / str(row["image"]).strip()
        mask = None if pd.isna(row["mask"]) else base / str(row["mask"]).strip()
        notes: list = []
        # A development image needs no room for the peri-tumoral ring: no ring is built on it.
        found = check_image_pair(pid, image, mask, modality, label=label, ring_at_border="clip", notes=notes)
        problems = [Problem(i + 1, pid, "image" if p.file == str(image) else "mask", p.message) for p in found]
        if image is not None and str(image.resolve()) in test_images:
            problems.append(Problem(i + 1, pid, "image", f"{row['image']} is the image of test-set patient "
                                    f"{test_images[str(image.resolve())]}: a segmenter trained on it would have "
                                    "seen the test set"))
        elif pid in test_ids:
            problems.append(Problem(i + 1, pid, "patient_id", "is a test-set patient of the cohort: a segmenter "
                                    "trained on their image would have seen the test set"))
        return problems, bool(notes)

    results = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(check)(i) for i in range(len(df)))
    problems = [p for found, _ in results for p in found]
    if problems and on_invalid != "exclude":
        raise ManifestError(str(path), problems)
    bad = {p.row for p in problems}
    reasons: dict[int, list[str]] = {}
    for p in problems:
        reasons.setdefault(p.row, []).append(f"{p.column}: {p.message}")
    excluded = pd.DataFrame([{"row": r, "patient_id": df["patient_id"].iloc[r - 1], "reason": "; ".join(reasons[r])}
                             for r in sorted(bad)], columns=["row", "patient_id", "reason"])
    rows = []
    for i in range(len(df)):
        if i + 1 in bad:
            continue
        image = (base / str(df["image"].iloc[i]).strip()).resolve()
        mask = (base / str(df["mask"].iloc[i]).strip()).resolve()
        if out_dir is not None and (results[i][1] or label is not None):
            rel = Path("devsets") / modality / f"{i:05d}_mask.nii.gz"
            prepare_mask(image, mask, label, out_dir / rel)
            mask = rel
        rows.append({"patient_id": df["patient_id"].iloc[i], "image": str(image), "mask": str(mask),
                     "reader_mask": None})
    if not rows:
        raise ManifestError(str(path), problems + [Problem(None, None, None, f"no usable row is left in the "
                                                                         f"{modality} development set")])
    return pd.DataFrame(rows, columns=["patient_id", "image", "mask", "reader_mask"]), excluded

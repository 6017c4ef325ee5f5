"""Small and odd own cohorts for the cohort-shape fuzz test (issue 28, item 3).

Every shape is a named function that writes a cohort into a folder: the MRI-only cohort
of :func:`tests.e2e.foreign_cohort.write_foreign_cohort` (NRRD / NIfTI / DICOM series,
``Hospital A`` / ``Hospital B``, days), then edited as a real pilot cohort would differ
(its manifest, masks or images), with an explicit ``split`` column so that the events per
set are what the shape says, and a profile ``mystudy.yml`` built from the README's
own-cohort recipe with the smallest settings that still run every stage
(:func:`tiny_profile`). The grid is seeded: the same shape writes the same files.

The issue's list and where it is covered:

* 0 to 20 events per set: ``train_events_{0,2,3,5,20}``, ``internal_events_{0,1,5}``,
  ``external_events_{0,1}``, ``folds_exceed_events`` (the profile's default 10 folds);
* one internal centre and no external set: ``no_external``;
* a test set with every patient censored: ``internal_events_0``, ``external_events_0``;
* one modality: every shape (the generator is MRI only);
* one clinical column only: ``one_clinical_column``; none at all: ``no_clinical_column``;
* a category with a single level: ``single_level_observed`` (three declared, one seen),
  ``single_level_declared`` (one declared);
* a column entirely missing: ``column_all_missing``;
* constant features: ``identical_images`` (every patient the same image and mask),
  ``constant_intensity`` (a flat image inside and around every lesion);
* tiny lesions (under 10 voxels): ``tiny_lesion_some`` (three patients), ``tiny_lesion_all``;
* masks touching the border: ``mask_at_border``;
* tied and zero times: ``tied_times``, ``zero_time``;
* follow-up shorter than the horizons: ``short_followup``;
* broken inputs validate must name: ``empty_mask``, ``truncated_image``.

Not generated: shapes of the digital twin (its images take minutes to simulate, and a
shape is an edit of the manifest, masks or images that does not depend on where they came
from; the twin's own small shape is ``tests/e2e/test_null_profile.py``), and a second
modality (the generator writes MRI only).
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import SimpleITK as sitk
import yaml

from .foreign_cohort import write_foreign_cohort

ROOT = Path(__file__).resolve().parents[2]

#: The reduced PyRadiomics parameters of every shape: the project's MRI file with the
#: original image only and three feature classes (shape, first order, GLCM): every stage
#: still sees shape, intensity and texture features, at a tenth of the extraction time.
FEATURE_CLASSES = ("shape", "firstorder", "glcm")


@dataclass(frozen=True)
class Shape:
    """One cohort shape.

    Attributes
    ----------
    name : str
        Its name (the test's id, the benchmark's row).
    write : callable
        ``write(folder) -> Path``: writes the images, masks, ``manifest.csv`` and
        ``mystudy.yml`` under ``folder`` and returns the profile's path.
    expect : str
        ``"refuse"`` or ``"pass"``: what validate should say (the test checks it, so a
        change in validate's verdict on a shape is seen).
    """

    name: str
    write: Callable[[Path], Path]
    expect: str


def tiny_profile(folder: Path, *, columns: dict | None = None, centres: dict | None = None,
                 overrides: dict | None = None) -> Path:
    """Write ``mystudy.yml`` (the README's own-cohort recipe, ``extends: quick``) with the
    smallest settings that still run every stage, and ``radiomics_tiny.yaml`` beside it.

    ``columns`` replaces the recipe's clinical columns, ``centres`` its centres;
    ``overrides`` are merged into the profile (nested dicts, key by key).
    """
    from ..test_profiles import readme_recipe

    text, _ = readme_recipe(ROOT)
    base = yaml.load(text.replace("!override", ""), Loader=yaml.SafeLoader)
    base["extends"] = "quick"
    params = yaml.safe_load((ROOT / "params/radiomics_mri.yaml").read_text(encoding="utf-8"))
    params["imageType"] = {"Original": {}}
    params["featureClass"] = {c: None for c in FEATURE_CLASSES}
    params["setting"]["padDistance"] = 3   # no filter to pad for
    (folder / "radiomics_tiny.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    small = {
        "cohort": {"min_train_events": 3},
        "features": {"params": {"mri": str((folder / "radiomics_tiny.yaml").resolve())},
                     "image_types": {"mri": None}, "reproducibility": {"n": 6}},
        "signatures": {"n_folds": 3, "nlambda": 30,
                       "cutpoint": {"n_permutations": 5, "n_bootstrap": 5}},
        "models": {"n_bootstrap": 20},
        "validation": {"n_resamples": 3},
        "sensitivity": {"permutation": {"n": 2}, "cutpoint": {"n_folds": 3}, "variants": {"run": False}},
    }
    from radsurv.schema import ModelsSection

    if "imputation" in ModelsSection.model_fields:   # multiple imputation (issue 28, item 4): 2 short chains
        small["models"]["imputation"] = {"m": 2, "max_iter": 3}
    prof = _merge(base, small)
    if columns is not None:
        prof["cohort"]["columns"]["clinical"] = columns
    if centres is not None:
        prof["cohort"]["centers"] = centres
    prof = _merge(prof, overrides or {})
    body = yaml.safe_dump(prof, sort_keys=False)
    # the recipe's !override: the child's columns replace quick's (the twin's 23)
    body = body.replace("  columns:\n", "  columns: !override\n", 1)
    path = folder / "mystudy.yml"
    path.write_text(body, encoding="utf-8")
    return path


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# --------------------------------------------------------------------------- editing helpers


def _cohort(folder: Path, n: int = 40, seed: int = 7) -> pd.DataFrame:
    """The generator's cohort with an explicit split: the first 60% of Hospital A train."""
    write_foreign_cohort(folder, n=n, seed=seed)
    df = pd.read_csv(folder / "manifest.csv", dtype={"patient_id": str, "center": str}, keep_default_na=False)
    internal = np.flatnonzero(df["center"] == "Hospital A")
    split = np.full(len(df), "external", dtype=object)
    split[internal] = "internal"
    split[internal[: int(round(0.6 * len(internal)))]] = "train"
    df.insert(2, "split", split)
    return df


def _save(folder: Path, df: pd.DataFrame) -> None:
    df.to_csv(folder / "manifest.csv", index=False, lineterminator="\n")


def _set_events(df: pd.DataFrame, split: str, k: int, seed: int = 0) -> pd.DataFrame:
    """Exactly ``k`` events in ``split`` (the earliest times become events, the rest censored)."""
    sel = np.flatnonzero(df["split"] == split)
    if k > sel.size:
        raise ValueError(f"{split}: {k} events asked of {sel.size} patients")
    order = sel[np.argsort(df["dfs_time"].to_numpy()[sel], kind="stable")]
    df.loc[df.index[sel], "dfs_event"] = 0
    df.loc[df.index[order[:k]], "dfs_event"] = 1
    return df


def _read(folder: Path, rel: str) -> sitk.Image:
    path = folder / rel
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
        return reader.Execute()
    return sitk.ReadImage(str(path))


def _edit_masks(folder: Path, df: pd.DataFrame, rows, edit: Callable[[np.ndarray], np.ndarray]) -> None:
    """Replace the mask of each row in ``rows`` by ``edit(array)`` (same grid, same file)."""
    for i in rows:
        rel = df.loc[i, "mri_mask"]
        mask = sitk.ReadImage(str(folder / rel))
        out = sitk.GetImageFromArray(edit(sitk.GetArrayFromImage(mask)).astype(np.uint8))
        out.CopyInformation(mask)
        sitk.WriteImage(out, str(folder / rel))


def _tiny(arr: np.ndarray) -> np.ndarray:
    """A lesion of 8 voxels (2 x 2 x 2) at the centre of the drawn one; label 2 kept."""
    z, y, x = np.round(np.argwhere(arr == 1).mean(axis=0)).astype(int)
    out = np.where(arr == 2, 2, 0)
    out[z:z + 2, y:y + 2, x:x + 2] = 1
    return out


def _at_border(arr: np.ndarray) -> np.ndarray:
    """The lesion moved so that it touches the image's first column (x = 0)."""
    lesion = arr == 1
    x0 = np.argwhere(lesion)[:, 2].min()
    moved = np.roll(lesion, -int(x0), axis=2)
    return np.where(moved, 1, np.where(arr == 2, 2, 0) * ~moved)


# --------------------------------------------------------------------------- shapes


def _events(split: str, k: int, n: int = 40, seed: int = 7) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        df = _set_events(_cohort(folder, n, seed), split, k)
        _save(folder, df)
        return tiny_profile(folder)
    return write


def _baseline(folder: Path) -> Path:
    _save(folder, _cohort(folder))
    return tiny_profile(folder)


def _folds_exceed_events(folder: Path) -> Path:
    _save(folder, _set_events(_cohort(folder), "train", 6))
    return tiny_profile(folder, overrides={"signatures": {"n_folds": 10}})


def _no_external(folder: Path) -> Path:
    df = _cohort(folder)
    df = df[df["center"] == "Hospital A"].copy()
    _save(folder, df)
    return tiny_profile(folder, centres={"internal": ["Hospital A"], "external": []})


def _one_clinical_column(folder: Path) -> Path:
    _save(folder, _cohort(folder).drop(columns=["grade"]))
    return tiny_profile(folder, columns={"age": "numeric"})


def _no_clinical_column(folder: Path) -> Path:
    _save(folder, _cohort(folder).drop(columns=["grade", "age"]))
    return tiny_profile(folder, columns={})


def _single_level_observed(folder: Path) -> Path:
    df = _cohort(folder)
    df["grade"] = "G2"
    _save(folder, df)
    return tiny_profile(folder)


def _single_level_declared(folder: Path) -> Path:
    df = _cohort(folder)
    df["grade"] = "G2"
    _save(folder, df)
    return tiny_profile(folder, columns={"age": "numeric", "grade": ["G2"]})


def _column_all_missing(folder: Path) -> Path:
    df = _cohort(folder)
    df["age"] = ""
    _save(folder, df)
    return tiny_profile(folder)


def _identical_images(folder: Path) -> Path:
    """Every patient the first NRRD patient's image and mask: every feature constant."""
    df = _cohort(folder)
    first = df.index[df["mri_image"].str.endswith(".nrrd")][0]
    for i in df.index:
        for col in ("mri_image", "mri_mask"):
            df.loc[i, col] = df.loc[first, col]
    _save(folder, df)
    return tiny_profile(folder)


def _constant_intensity(folder: Path) -> Path:
    """Every image flat (one value per patient, the patient's mean): no texture, no spread."""
    df = _cohort(folder)
    for i in df.index:
        rel = df.loc[i, "mri_image"]
        img = _read(folder, rel)
        arr = sitk.GetArrayFromImage(img)
        flat = sitk.GetImageFromArray(np.full_like(arr, int(arr.mean())))
        flat.CopyInformation(img)
        if (folder / rel).is_dir():   # a DICOM series becomes one NRRD file
            shutil.rmtree(folder / rel)
            rel = rel + ".nrrd"
            df.loc[i, "mri_image"] = rel
        sitk.WriteImage(flat, str(folder / rel))
    _save(folder, df)
    return tiny_profile(folder)


def _tiny_lesion(which: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        df = _cohort(folder)
        rows = df.index[:3] if which == "some" else df.index
        _edit_masks(folder, df, rows, _tiny)
        _save(folder, df)
        return tiny_profile(folder)
    return write


def _mask_at_border(folder: Path) -> Path:
    df = _cohort(folder)
    _edit_masks(folder, df, df.index[::2], _at_border)
    _save(folder, df)
    return tiny_profile(folder)


def _tied_times(folder: Path) -> Path:
    """Five distinct follow-up times only (every time rounded to 400 days): many ties."""
    df = _cohort(folder)
    df["dfs_time"] = np.maximum(400, (df["dfs_time"] // 400) * 400)
    _save(folder, df)
    return tiny_profile(folder)


def _zero_time(folder: Path) -> Path:
    df = _cohort(folder)
    df.loc[df.index[[0, 5]], "dfs_time"] = 0
    _save(folder, df)
    return tiny_profile(folder)


def _short_followup(folder: Path) -> Path:
    """Every follow-up under 300 days (10 months): shorter than every horizon."""
    df = _cohort(folder)
    rng = np.random.default_rng(3)
    df["dfs_time"] = rng.integers(30, 300, len(df))
    _save(folder, df)
    return tiny_profile(folder)


def _empty_mask(folder: Path) -> Path:
    df = _cohort(folder)
    _edit_masks(folder, df, df.index[[4]], lambda a: np.where(a == 2, 2, 0))
    _save(folder, df)
    return tiny_profile(folder)


def _truncated_image(folder: Path) -> Path:
    """One NIfTI image cut after its header (the first 400 bytes of the uncompressed file)."""
    df = _cohort(folder)
    i = df.index[df["mri_image"].str.endswith(".nii.gz")][0]
    path = folder / df.loc[i, "mri_image"]
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:400]))
    _save(folder, df)
    return tiny_profile(folder)


SHAPES: list[Shape] = [
    Shape("baseline", _baseline, "pass"),
    Shape("train_events_0", _events("train", 0), "refuse"),
    Shape("train_events_2", _events("train", 2), "refuse"),
    Shape("train_events_3", _events("train", 3), "refuse"),
    Shape("train_events_5", _events("train", 5), "pass"),
    Shape("train_events_20", _events("train", 20, n=50, seed=12), "pass"),
    Shape("internal_events_0", _events("internal", 0), "pass"),
    Shape("internal_events_1", _events("internal", 1), "pass"),
    Shape("internal_events_5", _events("internal", 5), "pass"),
    Shape("external_events_0", _events("external", 0), "pass"),
    Shape("external_events_1", _events("external", 1), "pass"),
    Shape("folds_exceed_events", _folds_exceed_events, "refuse"),
    Shape("no_external", _no_external, "pass"),
    Shape("one_clinical_column", _one_clinical_column, "pass"),
    Shape("no_clinical_column", _no_clinical_column, "pass"),
    Shape("single_level_observed", _single_level_observed, "pass"),
    Shape("single_level_declared", _single_level_declared, "pass"),
    Shape("column_all_missing", _column_all_missing, "pass"),
    Shape("identical_images", _identical_images, "pass"),
    # every image flat: PyRadiomics' normalisation divides by an SD of 0 (setting.normalize)
    Shape("constant_intensity", _constant_intensity, "refuse"),
    Shape("tiny_lesion_some", _tiny_lesion("some"), "pass"),
    # every lesion too small for the extraction settings: no training event left to develop on
    Shape("tiny_lesion_all", _tiny_lesion("all"), "refuse"),
    Shape("mask_at_border", _mask_at_border, "pass"),
    Shape("tied_times", _tied_times, "pass"),
    Shape("zero_time", _zero_time, "refuse"),
    Shape("short_followup", _short_followup, "pass"),
    Shape("empty_mask", _empty_mask, "refuse"),
    Shape("truncated_image", _truncated_image, "refuse"),
]

BY_NAME = {s.name: s for s in SHAPES}

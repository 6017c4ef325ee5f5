"""The cohort stage (``notebooks/00_cohort.ipynb``): from profile to checked cohort.

The notebook computes, step by step, with the library: the twin
(:func:`radsurv.cohort.twin.simulate_cohort`, :func:`radsurv.cohort.twin.add_twin_images`),
the input contract (:func:`check_from_profile`, :func:`load_from_profile`), Table 1
(:func:`radsurv.cohort.table1.baseline_characteristics`), the sets
(:func:`radsurv.cohort.sets.describe_sets`), a user's masks and development sets
(:func:`prepare_inputs`) and the images (:func:`describe_images`). Other computing here
(plain data in, plain data out; unit-tested): :func:`input_exclusions`,
:func:`twin_variables`, :func:`run_variables`.

Writing: :func:`prepare_manifest` (the twin's manifest and truth, before the input checks
reads them), :func:`write_cohort_artefacts` and :func:`write_imaging_artefacts`, which
only format and write what the notebook computed. The declared outputs are listed in
:mod:`radsurv.stages.registry`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import StageError
from ..stages.context import StageContext, resolve_n_jobs
from .images import CohortImaging, example_cases, example_patients, imaging_statistics
from .manifest import (MONTHS_PER_DAY, LoadedCohort, ManifestSpec, InputReport, load_cohort_from_profile,
                       to_months, check_from_profile as _check_from_profile)
from .masks import load_devset, prepare_masks
from .sets import KM_CONF_TYPE, CohortSets, cohort_summary, median_follow_up
from .table1 import BaselineTable
from .twin import TwinCohort

__all__ = ["KM_CONF_TYPE", "MONTHS_PER_DAY", "ManifestSource", "PreparedInputs", "cohort_summary", "describe_images",
           "example_cases", "example_patients", "imaging_statistics", "load_from_profile", "median_follow_up",
           "prepare_inputs", "prepare_manifest", "run_variables", "to_months", "twin_variables",
           "check_from_profile", "input_exclusions", "write_cohort_artefacts", "write_imaging_artefacts"]


@dataclass(frozen=True)
class ManifestSource:
    """Where the cohort's manifest lies, and whether it was simulated."""

    path: Path
    simulated: bool


@dataclass(frozen=True)
class PreparedInputs:
    """What later stages read besides the cohort table (:func:`prepare_inputs`).

    Attributes
    ----------
    masks : DataFrame
        The masks later stages read in place of the supplied ones
        (:func:`radsurv.cohort.masks.prepare_masks`; empty when none needs preparing).
    development : dict of str to DataFrame
        The segmentation-development set per modality (the twin's, or a user's checked one).
    devset_excluded : dict of str to DataFrame
        The rows of a user's development set left out by a check, per modality.
    """

    masks: pd.DataFrame
    development: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    devset_excluded: Mapping[str, pd.DataFrame] = field(default_factory=dict)


# --------------------------------------------------------------------------- computing


def input_exclusions(excluded: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The patient-flow events of the input checks: (``invalid <first column>``, rows).

    Parameters
    ----------
    excluded : DataFrame
        ``row``, ``patient_id``, ``reason`` ("column: message; column: message").

    Returns
    -------
    list of (str, list of str)
        One event per first failing column, in column order, naming the manifest rows
        ("row 12"): a row's identifier may be missing, or duplicate a valid row's.
    """
    if excluded.empty:
        return []
    who = [f"row {r}" for r in excluded["row"]]
    first = excluded["reason"].str.split(":").str[0]
    return [(f"invalid {col}", [w for w, c in zip(who, first) if c == col]) for col in sorted(set(first))]


def twin_variables(twin: Mapping[str, Any]) -> dict[str, Any]:
    """The twin's generative parameters as the manuscript prints them."""
    hz = twin["hazard"]
    return {
        "target_dfs_5y": f"{100 * hz['target_dfs_at_60_months']:.0f}",
        "hr_a": f"{np.exp(hz['log_hr']['a']):.2f}",
        "hr_b": f"{np.exp(hz['log_hr']['b']):.2f}",
        "rho_ab": f"{twin['latent']['rho_ab']:.1f}",
        "weibull_shape": f"{hz['weibull_shape']:.1f}",
        "loss_per_year_pct": f"{100 * twin['accrual']['loss_to_follow_up_per_year']:.0f}",
        "cutoff": str(twin["accrual"]["cutoff"]),
        "imaging_signal": "yes" if twin["imaging_signal"] else "no",
        "n_centre": {str(k): int(v) for k, v in twin["n_per_center"].items()},
    }


def run_variables(profile: Mapping[str, Any], simulated: bool, n_total: int) -> dict[str, Any]:
    """The ``run`` variables: profile, seed, data source, and the paper's subtitle."""
    prof = profile["profile"]
    return {
        "profile": prof, "seed": int(profile["seed"]),
        "data_source": "simulated digital twin" if simulated else "user manifest",
        "subtitle": ("A reproducible study on a simulated multi-centre digital-twin cohort (profile "
                     f"{prof}): evidence about the method and software, not clinical evidence")
        if simulated else f"A multi-centre cohort of {n_total} patients",
    }


def _reader_dice(truth: pd.DataFrame, data: pd.DataFrame, modality: str, n_jobs: int) -> np.ndarray:
    """Dice of each patient's reader mask against the true mask (absolute paths)."""
    import SimpleITK as sitk
    from joblib import Parallel, delayed

    from ..imaging._common import dice

    pairs = data[["patient_id", f"{modality}_mask"]].merge(truth[["patient_id", f"{modality}_true_mask"]],
                                                           on="patient_id")

    def one(reader, true):
        a = sitk.GetArrayFromImage(sitk.ReadImage(str(reader)))
        b = sitk.GetArrayFromImage(sitk.ReadImage(str(true)))
        return dice(a > 0, b > 0)

    return np.asarray(Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(one)(r, t) for r, t in zip(pairs[f"{modality}_mask"], pairs[f"{modality}_true_mask"])))


# --------------------------------------------------------------------------- writing


def check_from_profile(profile: Mapping[str, Any], manifest: Path) -> InputReport:
    """Check a manifest against the profile's contract, every image and mask read with the
    profile's ``compute.n_jobs`` (:func:`radsurv.cohort.manifest.check_from_profile`)."""
    return _check_from_profile(profile, manifest, n_jobs=resolve_n_jobs(profile["compute"]["n_jobs"]))


def load_from_profile(profile: Mapping[str, Any], manifest: Path,
                      report: InputReport | None = None) -> LoadedCohort:
    """Read and check a manifest with the profile's contract (or take ``report``,
    :func:`check_from_profile`, as its check); derive the split if absent
    (:func:`radsurv.cohort.manifest.load_cohort_from_profile` with ``compute.n_jobs``)."""
    return load_cohort_from_profile(profile, manifest, n_jobs=resolve_n_jobs(profile["compute"]["n_jobs"]),
                                    report=report)


def prepare_inputs(profile: Mapping[str, Any], loaded: LoadedCohort, source: ManifestSource, out_dir: Path,
                   n_jobs: int = 1, twin: TwinCohort | None = None) -> PreparedInputs:
    """A user's masks on their image grids and the segmentation-development sets
    (:mod:`radsurv.cohort.masks`).

    Masks that later stages cannot read as supplied (another voxel grid, a multi-label
    mask) are written, binary and on the image's grid, under ``out_dir/masks/``; each
    ``imaging.development.<modality>.manifest`` of a user's cohort is read and checked as
    the cohort is (its prepared masks under ``out_dir/devsets/``). The twin's development
    sets are its own (:func:`radsurv.cohort.twin.add_twin_images`).

    Parameters
    ----------
    profile : mapping
        The validated profile (``imaging``, ``cohort.on_invalid``).
    loaded : LoadedCohort
        The validated cohort.
    source : ManifestSource
        Where the manifest lies (its folder is where the paths start).
    out_dir : Path
        The stage's folder.
    n_jobs : int
        Threads.
    twin : TwinCohort, optional
        The twin, whose development sets are taken as they are.

    Returns
    -------
    PreparedInputs

    Raises
    ------
    StageError
        A development-set manifest given for the twin (which simulates its own).
    """
    imaging = profile["imaging"]
    root = Path(source.path).resolve().parent
    masks = prepare_masks(loaded.data, loaded.notes, imaging["mask_label"], root, out_dir, n_jobs=n_jobs)
    development = dict(twin.development) if twin is not None else {}
    excluded = {}
    for m in ("us", "mri"):
        path = imaging["development"][m]["manifest"]
        if not path:
            continue
        if source.simulated:
            raise StageError(f"imaging.development.{m}.manifest is for a user's cohort: the digital twin simulates "
                             f"its development set (imaging.development.{m}.n)")
        development[m], excluded[m] = load_devset(path, m, imaging, loaded.data, root, out_dir,
                                                           on_invalid=profile["cohort"]["on_invalid"], n_jobs=n_jobs)
    return PreparedInputs(masks=masks, development=development, devset_excluded=excluded)


def describe_images(profile: Mapping[str, Any], loaded: LoadedCohort, source: ManifestSource, inputs: PreparedInputs,
                    out_dir: Path, n_jobs: int = 1) -> CohortImaging | None:
    """The cohort's images: per-centre statistics, example cases and the imaging variables.

    Reads every image once (:func:`radsurv.plots.imaging.image_statistics_table`: spacing,
    size, intensities, lesion size from the masks later stages read, SNR); for the twin
    also each reader's mask against the true one (Dice) and the size of the image files.

    Parameters
    ----------
    profile : mapping
        The validated profile (``imaging.mask_label``).
    loaded : LoadedCohort
        The validated cohort.
    source : ManifestSource
        Where the manifest lies.
    inputs : PreparedInputs
        :func:`prepare_inputs` (its masks replace the supplied ones).
    out_dir : Path
        The stage's folder (the twin's truth and images lie there).
    n_jobs : int
        Threads for the Dice.

    Returns
    -------
    CohortImaging or None
        None when the cohort has no images.
    """
    from ..plots.imaging import image_statistics_table
    from ..stages.readers import read_truth, with_prepared_masks

    out_dir = Path(out_dir)
    data = with_prepared_masks(loaded.data, inputs.masks, out_dir)
    root = Path(source.path).resolve().parent
    if "us_image" not in data.columns and "mri_image" not in data.columns:
        return None
    # Read from this run's folder (build/<profile>/00_cohort.partial until the stage ends).
    truth = read_truth(out_dir.parent, folder=out_dir.name) if source.simulated else None
    cases = example_cases(data, truth)
    stats = image_statistics_table(data, root=root)
    variables: dict[str, Any] = {
        "n_us": int(data["us_image"].notna().sum()) if "us_image" in data else 0,
        "n_mri": int(data["mri_image"].notna().sum()) if "mri_image" in data else 0,
    }
    for m in ("us", "mri"):
        variables[f"n_dev_{m}"] = int(len(inputs.development[m])) if m in inputs.development else 0
        variables[f"n_dev_excluded_{m}"] = (int(len(inputs.devset_excluded[m]))
                                            if m in inputs.devset_excluded else 0)
        variables[f"n_mask_{m}"] = int(data[f"{m}_mask"].notna().sum()) if f"{m}_mask" in data else 0
    variables["n_masks_resampled"] = int(inputs.masks["action"].str.contains("resampled").sum())
    variables["mask_label"] = profile["imaging"]["mask_label"]
    if truth is not None:
        absolute = data.assign(**{f"{m}_mask": data[f"{m}_mask"].map(lambda v: str(root / v))
                                  for m in ("us", "mri") if f"{m}_mask" in data})
        for m in ("us", "mri"):
            d = _reader_dice(truth, absolute, m, n_jobs)
            q1, med, q3 = np.percentile(d, [25, 50, 75])
            variables[f"reader_dice_{m}"] = f"{med:.2f}"
            variables[f"reader_dice_{m}_iqr"] = f"{q1:.2f}-{q3:.2f}"
        disk = sum(p.stat().st_size for p in (out_dir / "images").rglob("*.nii.gz"))
        disk += sum(p.stat().st_size for p in (out_dir / "devsets").rglob("*.nii.gz"))
        variables["disk_mb"] = f"{disk / 2**20:.0f}"
    return CohortImaging(statistics=stats, cases=cases, root=root, variables=variables)


# --------------------------------------------------------------------------- writing


def prepare_manifest(ctx: StageContext, twin: TwinCohort | None = None) -> ManifestSource:
    """Write the twin's manifest (``manifest.csv``, with its images once
    :func:`radsurv.cohort.twin.add_twin_images` has drawn them) and truth
    (``truth.parquet``), or point at the user's manifest (``cohort.source: manifest``)."""
    cohort = ctx.profile["cohort"]
    if cohort["source"] == "twin":
        if twin is None:
            raise StageError("cohort.source is the twin: simulate it first (radsurv.cohort.twin.simulate_cohort)")
        path = ctx.write_data(twin.manifest, "manifest.csv", float_format=None)
        twin.truth.to_parquet(ctx.path("truth.parquet"), index=False)
        return ManifestSource(path=path, simulated=True)
    return ManifestSource(path=Path(cohort["manifest"]), simulated=False)


def write_cohort_artefacts(ctx: StageContext, loaded: LoadedCohort, source: ManifestSource, table1: BaselineTable,
                           sets: CohortSets, exclusions: list[tuple[str, list[str]]], inputs: PreparedInputs,
                           imaging: CohortImaging | None = None) -> dict:
    """Write what the notebook computed: cohort.csv, source.json, excluded.csv, the prepared
    masks and development-set tables, Table 1, the Kaplan-Meier figure, the patient flow
    (with ``exclusions``, :func:`input_exclusions`), the imaging artefacts
    (:func:`write_imaging_artefacts`) and the variables (the Methods paragraphs on the data
    and the images are written from them when the paper is published).

    Returns the variables (also in ``variables.yml``).
    """
    profile = ctx.profile
    cohort = profile["cohort"]
    data = loaded.data
    ctx.write_data(data, "cohort.csv", float_format=None)
    # Later stages resolve the image paths of cohort.csv against the manifest's folder.
    # The twin's manifest lies in this stage's folder, which is renamed when the stage
    # finishes: record it relative to the folder; a user's manifest by its absolute path.
    mdir = Path(source.path).resolve().parent
    rel = os.path.relpath(mdir, ctx.out_dir.resolve()) if mdir == ctx.out_dir.resolve() else str(mdir)
    spec = ManifestSpec.from_profile(profile)
    ctx.path("source.json").write_text(json.dumps({
        "manifest_dir": rel, "simulated": source.simulated,
        "centers": {"internal": list(spec.internal_centers), "external": list(spec.external_centers)},
    }, indent=1) + "\n", encoding="utf-8")
    ctx.write_data(loaded.excluded, "excluded.csv", float_format=None)
    ctx.write_data(inputs.masks, "prepared_masks.csv", float_format=None)
    for m, dev in inputs.development.items():
        ctx.write_data(dev, f"devset_{m}.csv", float_format=None)
    for m, excluded in inputs.devset_excluded.items():
        ctx.write_data(excluded, f"devset_{m}_excluded.csv", float_format=None)

    ctx.write_data(table1.table, "table1.csv", float_format=None)
    ctx.write_table(table1.table, "table1.md", label="baseline",
                    caption="Baseline characteristics of the training, internal test and external test sets. "
                            "Continuous variables as mean (SD) or median [Q1,Q3]; categorical as n (%). "
                            "P-values compare the three sets.")
    ctx.write_figure(sets.plot().figure, "fig-km-sets.png")

    for reason, patients in exclusions:
        ctx.exclude(reason, patients)
    ctx.save_flow(data, {"internal": spec.internal_centers, "external": spec.external_centers}, source.simulated)

    summary = sets.numbers
    variables: dict[str, Any] = {
        "run": run_variables(profile, source.simulated, summary["n_total"]),
        "cohort": {**summary, "n_excluded": int(len(loaded.excluded)),
                   "n_train_target": int(cohort["split"]["n_train"]), "simulated": bool(source.simulated)},
    }
    if source.simulated:
        variables["twin"] = twin_variables(cohort["twin"])
    if imaging is not None:
        variables["imaging"] = write_imaging_artefacts(ctx, imaging)
    ctx.write_variables(variables)
    return variables


def write_imaging_artefacts(ctx: StageContext, imaging: CohortImaging) -> dict:
    """Write the example images with contours (``fig-imaging-examples.png``) and the
    per-centre image statistics (``imaging_stats.csv``/``.md``); return the ``imaging``
    variables, from which the Methods paragraph on the images is written when the paper
    is published."""
    ctx.write_figure(imaging.plot_examples().flat[0].figure, "fig-imaging-examples.png")
    ctx.write_data(imaging.statistics, "imaging_stats.csv", float_format="%.4g")
    ctx.write_table(imaging_statistics(imaging.statistics), "imaging_stats.md", label="imaging-stats",
                    caption="Image statistics per centre and modality (medians over patients; intensities in stored "
                            "units, which differ between centres by design). Lesion size from the manifest's masks.")
    return imaging.variables

"""The cohort stage (``notebooks/00_cohort.ipynb``): from profile to validated cohort.

Computing (plain data in, plain data out; unit-tested): :func:`to_months`,
:func:`median_follow_up`, :func:`cohort_summary`, :func:`validation_exclusions`,
:func:`twin_variables`, :func:`example_patients`, :func:`imaging_statistics`.
Writing: :func:`prepare_manifest` (the twin's manifest, truth and images),
:func:`write_cohort_artefacts` and :func:`write_imaging_artefacts`.

Every number comes from :mod:`radsurv.stats` (Kaplan-Meier with log-log CIs, the
log-rank test, the reverse Kaplan-Meier median follow-up), matched to R's survival.
The declared outputs are listed in :mod:`radsurv.stages.registry`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import StageError
from ..labels import SPLIT_LABELS, SPLITS, centre_sort_key
from ..plots.style import SET_COLORS
from ..report.formatting import format_p
from ..stages.context import StageContext, resolve_n_jobs
from ..stats import kaplan_meier, logrank, median_survival
from .manifest import MONTHS_PER_DAY, LoadedCohort, ManifestSpec, load_cohort_from_profile, to_months
from .masks import load_development_set, prepare_masks
from .table1 import baseline_table
from .twin import TwinCohort, simulate_cohort

__all__ = ["MONTHS_PER_DAY", "ManifestSource", "cohort_summary", "example_patients", "imaging_statistics",
           "load_from_profile", "median_follow_up", "prepare_manifest", "to_months", "twin_variables",
           "validation_exclusions", "write_cohort_artefacts", "write_imaging_artefacts"]

#: The confidence interval of the Kaplan-Meier estimates the paper reports: R's
#: ``conf.type = "log-log"`` (stays inside [0, 1]; lifelines' default too).
KM_CONF_TYPE = "log-log"


@dataclass(frozen=True)
class ManifestSource:
    """Where the cohort's manifest lies, and whether it was simulated."""

    path: Path
    simulated: bool


# --------------------------------------------------------------------------- computing


def _pct(x: float, decimals: int = 1) -> str:
    return f"{100 * x:.{decimals}f}"


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan-Meier method (censoring as the event;
    Schemper & Smith 1996), as R's ``survfit(Surv(time, 1 - event) ~ 1)`` median."""
    return median_survival(time, 1 - np.asarray(event, dtype=int)).median


def cohort_summary(data: pd.DataFrame, time_months: np.ndarray, landmarks: list[float]) -> dict:
    """Numbers of the cohort for the manuscript's variables (strings, formatted once here).

    Parameters
    ----------
    data : DataFrame
        The cohort: ``dfs_event``, ``split``, ``center`` and optionally ``age``.
    time_months : ndarray
        Follow-up in months.
    landmarks : list of float
        Months at which DFS is reported (12, 36, 60 give ``dfs_1y``, ``dfs_3y``, ``dfs_5y``).

    Returns
    -------
    dict
        Counts, event rates, median follow-up, DFS with 95% CI (log-log) overall and per
        set, and the log-rank test across sets, with the words the text uses for it.
    """
    event = data["dfs_event"].to_numpy(dtype=int)
    split = data["split"].to_numpy()
    out: dict[str, Any] = {
        "n_total": int(len(data)),
        "n_events": int(event.sum()),
        "event_rate_pct": _pct(event.mean()),
        "n_centres": int(data["center"].nunique()),
        "median_followup_months": f"{median_follow_up(time_months, event):.1f}",
        "age_mean": f"{data['age'].mean():.1f}" if "age" in data else "NA",
        "age_sd": f"{data['age'].std():.1f}" if "age" in data else "NA",
    }
    for s in SPLITS:
        sel = split == s
        out[s] = {
            "n": int(sel.sum()),
            "events": int(event[sel].sum()),
            "event_rate_pct": _pct(event[sel].mean()) if sel.any() else "NA",
            "median_followup_months": f"{median_follow_up(time_months[sel], event[sel]):.1f}" if sel.any() else "NA",
        }
        if not sel.any():
            continue
        km = kaplan_meier(time_months[sel], event[sel], times=landmarks, conf_type=KM_CONF_TYPE)
        for r in km.itertuples(index=False):
            key = f"dfs_{int(round(r.time / 12))}y"
            # Before the first event the CI is undefined (R's NA): S = 1 exactly.
            lower = r.lower if np.isfinite(r.lower) else 1.0
            upper = r.upper if np.isfinite(r.upper) else 1.0
            out[s][key] = f"{100 * r.survival:.1f}"
            out[s][key + "_ci"] = f"{100 * lower:.1f}-{100 * upper:.1f}"
    overall = kaplan_meier(time_months, event, times=landmarks, conf_type=KM_CONF_TYPE)
    for r in overall.itertuples(index=False):
        out[f"dfs_{int(round(r.time / 12))}y"] = f"{100 * r.survival:.1f}"
    lr = logrank(time_months, event, split)
    out["logrank_sets_p"] = format_p(lr.p, missing=None)
    # Words for the text, chosen by the result (the manuscript types no conclusion).
    out["sets_comparison"] = "no clear difference between the sets" if lr.p >= 0.05 else "a difference between the sets"
    out["logrank_sets_chisq"] = f"{lr.statistic:.2f}"
    return out


def validation_exclusions(excluded: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The patient-flow events of the validation: (``invalid <first column>``, rows).

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


def example_patients(data: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(centre, risk, patient_id) examples per centre chosen from the observed outcome
    (no truth needed, so the same works on a user's cohort): the earliest event is the
    high-risk example, the longest event-free follow-up the low-risk one."""
    out = []
    for center in sorted(data["center"].astype(str).unique(), key=centre_sort_key):
        grp = data[data["center"].astype(str) == center]
        events = grp[grp["dfs_event"] == 1]
        free = grp[grp["dfs_event"] == 0]
        if len(free):
            out.append((center, "low", free.sort_values(["dfs_time", "patient_id"]).iloc[-1]["patient_id"]))
        if len(events):
            out.append((center, "high", events.sort_values(["dfs_time", "patient_id"]).iloc[0]["patient_id"]))
    return out


_STAT_NAMES = {
    "center": "Centre", "modality": "Modality", "n": "n", "spacing_x_mm": "Spacing x, mm", "spacing_y_mm": "Spacing y, mm",
    "spacing_z_mm": "Spacing z, mm", "size_x": "Size x", "size_y": "Size y", "size_z": "Size z",
    "intensity_mean": "Intensity mean", "intensity_sd": "Intensity SD", "lesion_area_mm2": "Lesion area, mm²",
    "lesion_volume_mm3": "Lesion volume, mm³", "snr": "SNR",
}


def imaging_statistics(stats: pd.DataFrame) -> pd.DataFrame:
    """The per-centre image statistics as the paper prints them (3 significant digits)."""
    shown = stats.copy()
    for c in shown.columns:
        if shown[c].dtype.kind == "f":
            shown[c] = shown[c].map(lambda v: f"{v:.3g}")
    shown = shown.replace("nan", "–")
    shown["modality"] = shown["modality"].str.upper()
    shown.columns = [_STAT_NAMES.get(c, c.replace("_", " ")) for c in shown.columns]
    return shown


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


def write_twin_images(ctx: StageContext, twin: TwinCohort) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate every patient's US and MRI study and the segmentation-development sets.

    The manifest gets what a user would supply: the image and the reader's mask
    (``us_mask``/``mri_mask`` = a radiologist's delineation). The true masks are part of
    the truth (``us_true_mask``/``mri_true_mask``): only the twin has them, and only the
    evaluation of segmentation against truth reads them.

    Returns
    -------
    (manifest, truth) with the image columns added; also writes ``devset_us.csv`` and
    ``devset_mri.csv`` (development images and true masks).
    """
    from ..imaging.twin import write_cohort_images, write_development_set

    img = ctx.profile["imaging"]
    latents = twin.truth[["patient_id", "center", "a_img", "b_img", "size_img"]].rename(columns={"size_img": "size_mm"})
    if "mri_bpe" in twin.manifest:
        # the background enhancement the radiologist reads is the one in the image
        latents = latents.merge(twin.manifest[["patient_id", "mri_bpe"]], on="patient_id", how="left",
                                validate="one_to_one")
    paths = write_cohort_images(latents, ctx.path("images/"), scanners=img["scanners"], seed=ctx.seed,
                                n_jobs=ctx.n_jobs, root=ctx.out_dir, phenotype=img["phenotype"])
    manifest = twin.manifest.merge(
        paths[["patient_id", "us_image", "us_reader_mask", "mri_image", "mri_reader_mask"]].rename(
            columns={"us_reader_mask": "us_mask", "mri_reader_mask": "mri_mask"}),
        on="patient_id", how="left", validate="one_to_one")
    truth = twin.truth.merge(
        paths[["patient_id", "us_mask", "mri_mask"]].rename(
            columns={"us_mask": "us_true_mask", "mri_mask": "mri_true_mask"}),
        on="patient_id", how="left", validate="one_to_one")
    dev = img["development"]
    centers = tuple(int(c) for c in dev["centers"])
    for modality in ("us", "mri"):
        n = int(dev[modality]["n"])
        if n > 0:
            table = write_development_set(modality, n, ctx.path(f"devsets/{modality}/"), scanners=img["scanners"],
                                          seed=ctx.seed, n_jobs=ctx.n_jobs, root=ctx.out_dir, centers=centers,
                                          phenotype=img["phenotype"])
            table.to_csv(ctx.path(f"devset_{modality}.csv"), index=False, lineterminator="\n")
    return manifest, truth


def prepare_manifest(ctx: StageContext) -> ManifestSource:
    """Write the twin's manifest (and truth, and images), or point at the user's manifest."""
    cohort = ctx.profile["cohort"]
    if cohort["source"] == "twin":
        twin = simulate_cohort(cohort["twin"], ctx.seed)
        manifest, truth = twin.manifest, twin.truth
        if ctx.profile["imaging"]["enabled"]:
            with ctx.timed("twin images and development sets"):
                manifest, truth = write_twin_images(ctx, twin)
        path = ctx.path("manifest.csv")
        manifest.to_csv(path, index=False, lineterminator="\n")
        truth.to_parquet(ctx.path("truth.parquet"), index=False)
        return ManifestSource(path=path, simulated=True)
    return ManifestSource(path=Path(cohort["manifest"]), simulated=False)


def load_from_profile(profile: Mapping[str, Any], manifest: Path) -> LoadedCohort:
    """Read and validate a manifest with the profile's contract; derive the split if absent
    (:func:`radsurv.cohort.manifest.load_cohort_from_profile` with the profile's ``n_jobs``)."""
    return load_cohort_from_profile(profile, manifest, n_jobs=resolve_n_jobs(profile["n_jobs"]))


def write_cohort_artefacts(ctx: StageContext, loaded: LoadedCohort, source: ManifestSource) -> dict:
    """Write cohort.csv, source.json, excluded.csv, Table 1, the flow and KM figures and
    the variables (the Methods paragraphs on the data and the images are written from
    them when the paper is published). Returns the variables (also in ``variables.yml``)."""
    from ..plots.km import km_figure

    profile = ctx.profile
    cohort = profile["cohort"]
    data = loaded.data
    data.to_csv(ctx.path("cohort.csv"), index=False, lineterminator="\n")
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
    loaded.excluded.to_csv(ctx.path("excluded.csv"), index=False, lineterminator="\n")
    prepared = write_user_masks(ctx, loaded, source)

    tbl = baseline_table(data, spec.columns, cohort["labels"])
    tbl.to_csv(ctx.path("table1.csv"), index=False, lineterminator="\n")
    ctx.write_table(tbl, "table1.md", label="baseline",
                    caption="Baseline characteristics of the training, internal test and external test sets. "
                            "Continuous variables as mean (SD) or median [Q1,Q3]; categorical as n (%). "
                            "P-values compare the three sets.")

    time_m = to_months(data["dfs_time"], profile["time_unit"])
    summary = cohort_summary(data, time_m, [float(x) for x in cohort["landmarks_months"]])
    km_figure(time_m, data["dfs_event"].to_numpy(), data["split"].to_numpy(), ctx.path("fig-km-sets.png"),
              order=SPLITS, labels=SPLIT_LABELS, colors=SET_COLORS,
              annotation=f"Log-rank test across sets: p = {summary['logrank_sets_p']}")

    for reason, patients in validation_exclusions(loaded.excluded):
        ctx.exclude(reason, patients)
    ctx.save_flow(data, {"internal": spec.internal_centers, "external": spec.external_centers}, source.simulated)

    excluded = loaded.excluded
    variables: dict[str, Any] = {
        "run": run_variables(profile, source.simulated, summary["n_total"]),
        "cohort": {**summary, "n_excluded": int(len(excluded)), "n_train_target": int(cohort["split"]["n_train"]),
                   "simulated": bool(source.simulated)},
    }
    if source.simulated:
        variables["twin"] = twin_variables(cohort["twin"])
    imaging = write_imaging_artefacts(ctx, loaded, source, prepared)
    if imaging:
        variables["imaging"] = imaging
    ctx.write_variables(variables)
    return variables


def write_user_masks(ctx: StageContext, loaded: LoadedCohort, source: ManifestSource) -> pd.DataFrame:
    """A user's masks on their image grids and a user's development sets
    (:mod:`radsurv.cohort.masks`).

    Writes ``prepared_masks.csv`` (every mask later stages read in place of the
    supplied one, with what was done), the prepared masks under ``masks/``, and for
    each ``imaging.development.<modality>.manifest`` the checked ``devset_<modality>.csv``
    with its ``devset_<modality>_excluded.csv``. Returns the prepared-masks table.
    """
    imaging = ctx.profile["imaging"]
    n_jobs = ctx.n_jobs
    root = Path(source.path).resolve().parent
    prepared = prepare_masks(loaded.data, loaded.notes, imaging["mask_label"], root, ctx.out_dir, n_jobs=n_jobs)
    prepared.to_csv(ctx.path("prepared_masks.csv"), index=False, lineterminator="\n")
    for m in ("us", "mri"):
        path = imaging["development"][m]["manifest"]
        if not path:
            continue
        if source.simulated:
            raise StageError(f"imaging.development.{m}.manifest is for a user's cohort: the digital twin simulates "
                             f"its development set (imaging.development.{m}.n)")
        with ctx.timed(f"{m} development set (checks)"):
            dev, excluded = load_development_set(path, m, imaging, loaded.data, root, ctx.out_dir,
                                                 on_invalid=ctx.profile["cohort"]["on_invalid"], n_jobs=n_jobs)
        dev.to_csv(ctx.path(f"devset_{m}.csv"), index=False, lineterminator="\n")
        excluded.to_csv(ctx.path(f"devset_{m}_excluded.csv"), index=False, lineterminator="\n")
    return prepared


def write_imaging_artefacts(ctx: StageContext, loaded: LoadedCohort, source: ManifestSource,
                            prepared: pd.DataFrame | None = None) -> dict:
    """Example images with contours, per-centre image statistics, and the imaging variables.

    Writes ``fig-imaging-examples.png``, ``imaging_stats.md/.csv`` and returns the
    ``imaging`` variables (empty when the cohort has no images), from which the Methods
    paragraph on the images is written when the paper is published.
    ``prepared`` (:func:`write_user_masks`) replaces the masks later stages read.
    """
    from ..plots.imaging import example_cases_figure, image_statistics_table
    from ..stages.readers import read_truth, with_prepared_masks

    data = with_prepared_masks(loaded.data, prepared, ctx.out_dir) if prepared is not None else loaded.data
    root = Path(source.path).resolve().parent
    if "us_image" not in data.columns and "mri_image" not in data.columns:
        return {}
    # Read from this run's folder (build/<profile>/00_cohort.partial until the stage ends).
    truth = read_truth(ctx.out_dir.parent, folder=ctx.out_dir.name) if source.simulated else None
    rows = data.set_index("patient_id")
    cases = []
    for center, risk, pid in example_patients(data):
        case: dict[str, Any] = {"center": center, "risk": risk}
        for m in ("us", "mri"):
            if f"{m}_image" in rows.columns and pd.notna(rows.loc[pid, f"{m}_image"]):
                case[f"{m}_image"] = rows.loc[pid, f"{m}_image"]
                if truth is not None:
                    # The twin knows the true lesion; the manifest's mask is the reader's.
                    case[f"{m}_mask"] = truth.set_index("patient_id").loc[pid, f"{m}_true_mask"]
                    case[f"{m}_reader_mask"] = rows.loc[pid, f"{m}_mask"]
                elif f"{m}_mask" in rows.columns and pd.notna(rows.loc[pid, f"{m}_mask"]):
                    case[f"{m}_reader_mask"] = rows.loc[pid, f"{m}_mask"]
        cases.append(case)
    example_cases_figure(cases, ctx.path("fig-imaging-examples.png"), root=root)

    stats = image_statistics_table(data, root=root)
    stats.to_csv(ctx.path("imaging_stats.csv"), index=False, lineterminator="\n", float_format="%.4g")
    ctx.write_table(imaging_statistics(stats), "imaging_stats.md", label="imaging-stats",
                    caption="Image statistics per centre and modality (medians over patients; intensities in stored "
                            "units, which differ between centres by design). Lesion size from the manifest's masks.")
    variables: dict[str, Any] = {
        "n_us": int(data["us_image"].notna().sum()) if "us_image" in data else 0,
        "n_mri": int(data["mri_image"].notna().sum()) if "mri_image" in data else 0,
    }
    for m in ("us", "mri"):
        dev = ctx.out_dir / f"devset_{m}.csv"
        variables[f"n_dev_{m}"] = int(len(pd.read_csv(dev))) if dev.is_file() else 0
        dev_excluded = ctx.out_dir / f"devset_{m}_excluded.csv"
        variables[f"n_dev_excluded_{m}"] = int(len(pd.read_csv(dev_excluded))) if dev_excluded.is_file() else 0
        variables[f"n_mask_{m}"] = int(data[f"{m}_mask"].notna().sum()) if f"{m}_mask" in data else 0
    actions = prepared["action"] if prepared is not None else pd.Series([], dtype=str)
    variables["n_masks_resampled"] = int(actions.str.contains("resampled").sum())
    variables["mask_label"] = ctx.profile["imaging"]["mask_label"]
    if truth is not None:
        absolute = data.assign(**{f"{m}_mask": data[f"{m}_mask"].map(lambda v: str(root / v))
                                  for m in ("us", "mri") if f"{m}_mask" in data})
        for m in ("us", "mri"):
            d = _reader_dice(truth, absolute, m, ctx.n_jobs)
            q1, med, q3 = np.percentile(d, [25, 50, 75])
            variables[f"reader_dice_{m}"] = f"{med:.2f}"
            variables[f"reader_dice_{m}_iqr"] = f"{q1:.2f}-{q3:.2f}"
        disk = sum(p.stat().st_size for p in (ctx.out_dir / "images").rglob("*.nii.gz"))
        disk += sum(p.stat().st_size for p in (ctx.out_dir / "devsets").rglob("*.nii.gz"))
        variables["disk_mb"] = f"{disk / 2**20:.0f}"
    return variables

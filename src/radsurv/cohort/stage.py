"""The cohort stage (``notebooks/00_cohort.ipynb``): from profile to validated cohort.

It writes, under the stage's output folder:

``manifest.csv``   the twin's manifest (twin only; a user's manifest stays where it is)
``truth.parquet``  the twin's hidden truth (never read by the analysis)
``cohort.csv``     the validated, typed cohort with its split: what later stages read
``excluded.csv``   rows removed by a check, with the reason (patient flow)
``table1.md/.csv`` Table 1; ``fig-flow.png``, ``fig-km-sets.png``; ``variables.yml``
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from ..plots.flow import flow_figure
from ..plots.km import km_figure, km_table
from ..plots.style import SET_COLORS
from .manifest import SPLIT_LABELS, SPLITS, LoadedCohort, ManifestSpec, load_cohort, read_manifest
from .table1 import baseline_table
from .twin import TwinCohort, simulate_cohort

MONTHS_PER_DAY = 12 / 365.25


@dataclass(frozen=True)
class ManifestSource:
    path: Path
    simulated: bool


def record_step(out_dir: Path, step: str, seconds: float) -> None:
    """Time of one step inside a stage; the runner copies these into ``timings.json``."""
    path = Path(out_dir) / "steps.json"
    steps = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    steps[step] = round(seconds, 2)
    path.write_text(json.dumps(steps, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _n_jobs(profile: Mapping[str, Any]) -> int:
    n = int(profile.get("n_jobs", -1))
    return n if n > 0 else max(1, os.cpu_count() or 1)


def write_twin_images(profile: Mapping[str, Any], twin: TwinCohort, out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate every patient's US and MRI study and the segmentation-development sets.

    The manifest gets what a user would supply: the image and the reader's mask
    (``us_mask``/``mri_mask`` = a radiologist's delineation). The true masks are part of
    the truth (``us_true_mask``/``mri_true_mask``): only the twin has them, and only the
    evaluation of segmentation against truth reads them.

    Returns
    -------
    (manifest, truth) with the image columns added; also writes
    ``devset_us.csv`` and ``devset_mri.csv`` (development images and true masks).
    """
    from ..imaging.twin import write_cohort_images, write_development_set

    img = profile["imaging"]
    seed = int(profile["seed"])
    n_jobs = _n_jobs(profile)
    latents = twin.truth[["patient_id", "center", "a_img", "b_img", "size_mm"]]
    paths = write_cohort_images(latents, out_dir / "images", scanners=img.get("scanners"), seed=seed,
                                n_jobs=n_jobs, root=out_dir, phenotype=img.get("phenotype"))
    manifest = twin.manifest.merge(
        paths[["patient_id", "us_image", "us_reader_mask", "mri_image", "mri_reader_mask"]].rename(
            columns={"us_reader_mask": "us_mask", "mri_reader_mask": "mri_mask"}),
        on="patient_id", how="left", validate="one_to_one")
    truth = twin.truth.merge(
        paths[["patient_id", "us_mask", "mri_mask"]].rename(
            columns={"us_mask": "us_true_mask", "mri_mask": "mri_true_mask"}),
        on="patient_id", how="left", validate="one_to_one")
    dev = img.get("development", {})
    centers = tuple(int(c) for c in dev.get("centers", [1]))
    for modality in ("us", "mri"):
        n = int(dev.get(modality, {}).get("n", 0))
        if n > 0:
            table = write_development_set(modality, n, out_dir / "devsets" / modality, scanners=img.get("scanners"),
                                          seed=seed, n_jobs=n_jobs, root=out_dir, centers=centers,
                                          phenotype=img.get("phenotype"))
            table.to_csv(out_dir / f"devset_{modality}.csv", index=False, lineterminator="\n")
    return manifest, truth


def prepare_manifest(profile: Mapping[str, Any], out_dir: Path) -> ManifestSource:
    """Write the twin's manifest (and truth, and images), or point at the user's manifest."""
    cohort = profile["cohort"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cohort["source"] == "twin":
        twin = simulate_cohort(cohort["twin"], int(profile["seed"]))
        manifest, truth = twin.manifest, twin.truth
        if (profile.get("imaging") or {}).get("enabled", True):
            t0 = time.perf_counter()
            manifest, truth = write_twin_images(profile, twin, out_dir)
            record_step(out_dir, "twin images and development sets", time.perf_counter() - t0)
        path = out_dir / "manifest.csv"
        manifest.to_csv(path, index=False, lineterminator="\n")
        truth.to_parquet(out_dir / "truth.parquet", index=False)
        return ManifestSource(path=path, simulated=True)
    if cohort["source"] == "manifest":
        if not cohort.get("manifest"):
            raise ValueError("cohort.source is 'manifest' but cohort.manifest is not set in the profile")
        return ManifestSource(path=Path(cohort["manifest"]), simulated=False)
    raise ValueError(f"cohort.source: expected 'twin' or 'manifest', got {cohort['source']!r}")


def load_from_profile(profile: Mapping[str, Any], manifest: Path) -> LoadedCohort:
    """Read and validate a manifest with the profile's contract; derive the split if absent."""
    spec = ManifestSpec.from_profile(profile)
    raw = read_manifest(manifest)
    return load_cohort(
        raw, spec, source=str(manifest), seed=int(profile["seed"]), split_params=profile["cohort"]["split"],
        on_invalid=profile["cohort"].get("on_invalid", "fail"), base_dir=Path(manifest).resolve().parent,
        check_images=True, n_jobs=_n_jobs(profile),
    )


def to_months(time: pd.Series, unit: str) -> np.ndarray:
    if unit == "months":
        return time.to_numpy(dtype=float)
    if unit == "days":
        return time.to_numpy(dtype=float) * MONTHS_PER_DAY
    raise ValueError(f"time_unit: expected 'months' or 'days', got {unit!r}")


def _fmt_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _pct(x: float, decimals: int = 1) -> str:
    return f"{100 * x:.{decimals}f}"


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan-Meier method (censoring as the event)."""
    kmf = KaplanMeierFitter().fit(time, 1 - event)
    return float(kmf.median_survival_time_)


def cohort_summary(data: pd.DataFrame, time_months: np.ndarray, landmarks: list[float]) -> dict:
    """Numbers of the cohort for the manuscript's variables (strings, formatted once here)."""
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
    km = km_table(time_months, event, split, landmarks, SPLITS)
    for s in SPLITS:
        sel = split == s
        out[s] = {
            "n": int(sel.sum()),
            "events": int(event[sel].sum()),
            "event_rate_pct": _pct(event[sel].mean()) if sel.any() else "NA",
            "median_followup_months": f"{median_follow_up(time_months[sel], event[sel]):.1f}" if sel.any() else "NA",
        }
        for _, r in km[km.group == s].iterrows():
            key = f"dfs_{int(round(r.time / 12))}y"
            out[s][key] = f"{100 * r.survival:.1f}"
            out[s][key + "_ci"] = f"{100 * r.lower:.1f}-{100 * r.upper:.1f}"
    overall = KaplanMeierFitter().fit(time_months, event)
    for t in landmarks:
        out[f"dfs_{int(round(t / 12))}y"] = f"{100 * float(overall.survival_function_at_times(t).iloc[0]):.1f}"
    lr = multivariate_logrank_test(time_months, split, event)
    out["logrank_sets_p"] = _fmt_p(float(lr.p_value))
    # Words for the text, chosen by the result (the manuscript types no conclusion).
    out["sets_comparison"] = ("no clear difference between the sets" if lr.p_value >= 0.05
                              else "a difference between the sets")
    out["logrank_sets_chisq"] = f"{float(lr.test_statistic):.2f}"
    return out


def write_cohort_artefacts(profile: Mapping[str, Any], loaded: LoadedCohort, source: ManifestSource,
                           out_dir: Path) -> dict:
    """Write cohort.csv, excluded.csv, Table 1, the flow and KM figures, and the variables.

    Returns the variables mapping (also written to ``variables.yml``).
    """
    from ..report.tables import write_markdown_table
    from ..report.variables import write_variables

    out_dir = Path(out_dir)
    cohort = profile["cohort"]
    data = loaded.data
    data.to_csv(out_dir / "cohort.csv", index=False, lineterminator="\n")
    # Later stages resolve the image paths of cohort.csv against the manifest's folder.
    # The twin's manifest lies in this stage's folder, which is renamed when the stage
    # finishes: record it relative to the folder; a user's manifest by its absolute path.
    mdir = Path(source.path).resolve().parent
    rel = os.path.relpath(mdir, out_dir.resolve()) if mdir == out_dir.resolve() else str(mdir)
    (out_dir / "source.json").write_text(json.dumps({"manifest_dir": rel, "simulated": source.simulated},
                                                    indent=1) + "\n", encoding="utf-8")
    loaded.excluded.to_csv(out_dir / "excluded.csv", index=False, lineterminator="\n")

    spec = ManifestSpec.from_profile(profile)
    notebook = "notebooks/00_cohort.ipynb"
    prof = profile["profile"]
    tbl = baseline_table(data, spec.columns, cohort.get("labels", {}))
    tbl.to_csv(out_dir / "table1.csv", index=False, lineterminator="\n")
    write_markdown_table(
        tbl, out_dir / "table1.md",
        caption="Baseline characteristics of the training, internal test and external test sets. "
                "Continuous variables as mean (SD) or median [Q1,Q3]; categorical as n (%). "
                "P-values compare the three sets.",
        label="baseline", source=f"`{notebook}`, profile `{prof}`",
    )

    time_m = to_months(data["dfs_time"], profile.get("time_unit", "months"))
    landmarks = [float(x) for x in cohort.get("landmarks_months", [12, 36, 60])]
    summary = cohort_summary(data, time_m, landmarks)
    split = data["split"].to_numpy()
    km_figure(time_m, data["dfs_event"].to_numpy(), split, out_dir / "fig-km-sets.png",
              order=SPLITS, labels=SPLIT_LABELS, colors=SET_COLORS,
              annotation=f"Log-rank test across sets: p = {summary['logrank_sets_p']}")

    internal = data["center"].isin(spec.internal_centers)
    excl = loaded.excluded
    exclusions = []
    if len(excl):
        for reason, grp in excl.groupby(excl["reason"].str.split(":").str[0]):
            exclusions.append((f"invalid {reason}", len(grp)))
    flow_figure(
        out_dir / "fig-flow.png",
        n_internal_centres=int(internal.sum()), n_external_centres=int((~internal).sum()),
        internal_label=f"Centre {', '.join(spec.internal_centers)} (internal)",
        external_label=f"Centres {', '.join(spec.external_centers)} (external)",
        n_train=summary["train"]["n"], n_internal=summary["internal"]["n"], n_external=summary["external"]["n"],
        exclusions=exclusions,
        source_label="Simulated digital-twin patients" if source.simulated else "Patients in the manifest",
    )

    variables = {
        "run": {
            "profile": prof, "seed": int(profile["seed"]),
            "data_source": "simulated digital twin" if source.simulated else "user manifest",
            "subtitle": ("A reproducible study on a simulated multi-centre digital-twin cohort (profile "
                         f"{prof}): evidence about the method and software, not clinical evidence")
            if source.simulated else f"A multi-centre cohort of {summary['n_total']} patients",
        },
        "cohort": {**summary, "n_excluded": int(len(excl)),
                   "n_train_target": int(cohort["split"].get("n_train", 0))},
    }
    if source.simulated:
        twin = cohort["twin"]
        variables["twin"] = {
            "target_dfs_5y": f"{100 * twin['hazard']['target_dfs_at_60_months']:.0f}",
            "hr_a": f"{np.exp(twin['hazard']['log_hr']['a']):.2f}",
            "hr_b": f"{np.exp(twin['hazard']['log_hr']['b']):.2f}",
            "rho_ab": f"{twin['latent']['rho_ab']:.1f}",
            "weibull_shape": f"{twin['hazard']['weibull_shape']:.1f}",
            "loss_per_year_pct": f"{100 * twin['accrual']['loss_to_follow_up_per_year']:.0f}",
            "cutoff": str(twin["accrual"]["cutoff"]),
            "imaging_signal": "yes" if twin.get("imaging_signal", True) else "no",
            "n_centre": {str(k): int(v) for k, v in twin["n_per_center"].items()},
        }
    (out_dir / "text-data.md").write_text(describe_data(profile, source, variables["cohort"]), encoding="utf-8")
    imaging = write_imaging_artefacts(profile, loaded, source, out_dir)
    if imaging:
        variables["imaging"] = imaging
    write_variables(variables, out_dir / "variables.yml")
    return variables


def describe_data(profile: Mapping[str, Any], source: ManifestSource, summary: Mapping[str, Any]) -> str:
    """The Methods paragraph on the data, written from the profile (so a user's cohort
    is described without any simulation language, and the twin with its parameters)."""
    cohort = profile["cohort"]
    spec = ManifestSpec.from_profile(profile)
    ext = ", ".join(spec.external_centers)
    if not source.simulated:
        return (
            f"The cohort comprises {summary['n_total']} patients from {summary['n_centres']} centres, read from a "
            f"manifest that lists each patient's centre, follow-up and clinical variables and the paths of the "
            f"ultrasound and MRI images. Patients of centre {', '.join(spec.internal_centers)} form the "
            f"development cohort, split into a training set and an internal test set; centres {ext} form the "
            f"external test set. Every row was checked against the input contract before any analysis; "
            f"{summary.get('n_excluded', 0)} patients were excluded by a check (@fig-flow).\n"
        )
    twin = cohort["twin"]
    hz = twin["hazard"]
    beta = hz["log_hr"]
    sig = twin.get("imaging_signal", True)
    return (
        "The cohort is a **simulated digital twin** of the study design, not patient data. Each simulated "
        "patient has two latent traits: tumour aggressiveness $a$ and invasive-front (peri-tumoral) activity "
        f"$b$, standard normal with correlation {twin['latent']['rho_ab']}. They drive the clinical variables "
        "(histological grade, Ki-67, receptor status and molecular subtype, nodal stage, lymphovascular "
        "invasion), the tumour size (log-normal, median "
        f"{twin['size']['median_mm']:.0f} mm), guideline-shaped adjuvant treatment, and the imaging phenotype. "
        "Disease-free survival follows a Weibull proportional-hazards model [@bender2005] with shape "
        f"{hz['weibull_shape']} and log hazard ratios {beta['a']} per SD of $a$, {beta['b']} per SD of $b$, "
        f"{beta['n_stage']['N1']}/{beta['n_stage']['N2']}/{beta['n_stage']['N3']} for N1/N2/N3, "
        f"{beta['log_size']} per log size, {beta['triple_negative']} for triple-negative disease and "
        f"{beta['endocrine_therapy']} and {beta['anti_her2_therapy']} for endocrine and anti-HER2 therapy, "
        "with a centre-specific baseline hazard; the Weibull scale is solved so that the mean 5-year DFS is "
        f"{100 * hz['target_dfs_at_60_months']:.0f}%. Patients are accrued uniformly over centre-specific "
        f"windows and followed to a common cut-off ({twin['accrual']['cutoff']}), with "
        f"{100 * twin['accrual']['loss_to_follow_up_per_year']:.0f}% per year lost to follow-up. "
        "Radiologist-read MRI descriptors (shape, margin, internal enhancement, time-intensity curve, "
        "peritumoral oedema) are thresholds of the imaging latents plus reader noise. "
        + ("" if sig else "In this `null` profile the images, and the descriptors read from them, are driven by "
           "latent traits drawn independently of the hazard, so any apparent imaging signal is an artefact. ")
        + "The simulator writes the same manifest a user would supply, and the analysis reads it through the same "
        f"code; the true linear predictor is stored apart and read only for the oracle C-index. Centre "
        f"{', '.join(spec.internal_centers)} ({summary['train']['n'] + summary['internal']['n']} patients) was split "
        f"at random into a training set ({summary['train']['n']}) and an internal test set "
        f"({summary['internal']['n']}), stratified by the DFS event; centres {ext} ({summary['external']['n']}) "
        "form the external test set. All parameters and the reasons for their values are in `params/"
        f"{profile['profile']}.yml`.\n"
    )


def _example_patients(data: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(centre, risk, patient_id) examples per centre chosen from the observed outcome
    (no truth needed, so the same works on a user's cohort): the earliest event is the
    high-risk example, the longest event-free follow-up the low-risk one."""
    out = []
    for center, grp in data.groupby("center", sort=True):
        events = grp[grp["dfs_event"] == 1]
        free = grp[grp["dfs_event"] == 0]
        if len(free):
            out.append((center, "low", free.sort_values(["dfs_time", "patient_id"]).iloc[-1]["patient_id"]))
        if len(events):
            out.append((center, "high", events.sort_values(["dfs_time", "patient_id"]).iloc[0]["patient_id"]))
    return out


def _reader_dice(truth: pd.DataFrame, manifest: pd.DataFrame, root: Path, modality: str, n_jobs: int) -> np.ndarray:
    import SimpleITK as sitk
    from joblib import Parallel, delayed

    from ..imaging._common import dice

    pairs = manifest[["patient_id", f"{modality}_mask"]].merge(truth[["patient_id", f"{modality}_true_mask"]],
                                                               on="patient_id")

    def one(reader, true):
        a = sitk.GetArrayFromImage(sitk.ReadImage(str(root / reader)))
        b = sitk.GetArrayFromImage(sitk.ReadImage(str(root / true)))
        return dice(a > 0, b > 0)

    return np.asarray(Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(one)(r, t) for r, t in zip(pairs[f"{modality}_mask"], pairs[f"{modality}_true_mask"])))


_STAT_NAMES = {
    "center": "Centre", "modality": "Modality", "n": "n", "spacing_x_mm": "Spacing x, mm", "spacing_y_mm": "Spacing y, mm",
    "spacing_z_mm": "Spacing z, mm", "size_x": "Size x", "size_y": "Size y", "size_z": "Size z",
    "intensity_mean": "Intensity mean", "intensity_sd": "Intensity SD", "lesion_area_mm2": "Lesion area, mm²",
    "lesion_volume_mm3": "Lesion volume, mm³", "snr": "SNR",
}


def write_imaging_artefacts(profile: Mapping[str, Any], loaded: LoadedCohort, source: ManifestSource,
                            out_dir: Path) -> dict:
    """Example images with contours, per-centre image statistics, and the imaging variables.

    Writes ``fig-imaging-examples.png``, ``imaging_stats.md/.csv``, ``text-imaging.md``
    and returns the ``imaging`` variables (merged into ``variables.yml`` by the caller).
    """
    from ..plots.imaging import example_cases_figure, image_statistics_table
    from ..report.tables import write_markdown_table

    out_dir = Path(out_dir)
    data = loaded.data
    root = Path(source.path).resolve().parent
    if "us_image" not in data.columns and "mri_image" not in data.columns:
        return {}
    truth = pd.read_parquet(out_dir / "truth.parquet") if source.simulated else None
    rows = data.set_index("patient_id")
    cases = []
    for center, risk, pid in _example_patients(data):
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
    example_cases_figure(cases, out_dir / "fig-imaging-examples.png", root=root)

    stats = image_statistics_table(data, root=root)
    stats.to_csv(out_dir / "imaging_stats.csv", index=False, lineterminator="\n", float_format="%.4g")
    shown = stats.copy()
    for c in shown.columns:
        if shown[c].dtype.kind == "f":
            shown[c] = shown[c].map(lambda v: f"{v:.3g}")
    shown = shown.replace("nan", "–")
    shown["modality"] = shown["modality"].str.upper()
    shown.columns = [_STAT_NAMES.get(c, c.replace("_", " ")) for c in shown.columns]
    prof = profile["profile"]
    write_markdown_table(
        shown, out_dir / "imaging_stats.md",
        caption="Image statistics per centre and modality (medians over patients; intensities in stored units, "
                "which differ between centres by design). Lesion size from the manifest's masks.",
        label="imaging-stats", source=f"`notebooks/00_cohort.ipynb`, profile `{prof}`",
    )
    n_jobs = _n_jobs(profile)
    variables: dict[str, Any] = {
        "n_us": int(data["us_image"].notna().sum()) if "us_image" in data else 0,
        "n_mri": int(data["mri_image"].notna().sum()) if "mri_image" in data else 0,
    }
    for m in ("us", "mri"):
        dev = out_dir / f"devset_{m}.csv"
        variables[f"n_dev_{m}"] = int(len(pd.read_csv(dev))) if dev.is_file() else 0
    if truth is not None:
        manifest = pd.read_csv(source.path)
        for m in ("us", "mri"):
            d = _reader_dice(truth, manifest, root, m, n_jobs)
            q1, med, q3 = np.percentile(d, [25, 50, 75])
            variables[f"reader_dice_{m}"] = f"{med:.2f}"
            variables[f"reader_dice_{m}_iqr"] = f"{q1:.2f}-{q3:.2f}"
        disk = sum(p.stat().st_size for p in (out_dir / "images").rglob("*.nii.gz"))
        disk += sum(p.stat().st_size for p in (out_dir / "devsets").rglob("*.nii.gz"))
        variables["disk_mb"] = f"{disk / 2**20:.0f}"
    (out_dir / "text-imaging.md").write_text(describe_imaging(profile, source, variables), encoding="utf-8")
    return variables


def describe_imaging(profile: Mapping[str, Any], source: ManifestSource, v: Mapping[str, Any]) -> str:
    """Methods paragraph on the images (the twin's simulator, or the user's files)."""
    if not source.simulated:
        return (f"Each patient has a breast ultrasound image ({v['n_us']} patients) and a DCE-MRI volume "
                f"({v['n_mri']} patients), read with SimpleITK and checked before any analysis (geometry of image "
                "and mask, non-empty single-label masks, room for the peri-tumoral ring). Example images are "
                "shown in @fig-imaging-examples and per-centre image statistics in @tbl-imaging-stats.\n")
    img = profile["imaging"]
    sc = img["scanners"]
    us_sp = ", ".join(f"{sc[c]['us']['spacing_mm']}" for c in sorted(sc))
    mri_sl = ", ".join(f"{sc[c]['mri']['slice_mm']}" for c in sorted(sc))
    return (
        "Every simulated patient has one 2D B-mode ultrasound image and one 3D DCE-MRI subtraction volume, "
        "written as NIfTI files that the analysis reads exactly as it would read a user's. The images follow "
        "the patient's imaging latents: aggressiveness $a$ sets margin irregularity and spiculation, internal "
        "heterogeneity and posterior shadowing in US, and enhancement heterogeneity, rim enhancement and "
        "necrosis in MRI; invasive-front activity $b$ sets an echogenic halo and architectural distortion in "
        "US and a peri-tumoral enhancement/oedema zone in MRI, both outside the true lesion boundary. Tissue "
        "layers (skin, subcutaneous fat, fibroglandular tissue, pectoralis), speckle, depth-dependent gain, "
        "fibroglandular background, bias field and Rician noise are nuisance variation unrelated to outcome. "
        f"Scanners differ by centre (US pixel spacing {us_sp} mm and MRI slice thickness {mri_sl} mm for "
        "centres 1, 2, 3, with centre-specific speckle, noise, gain and arbitrary MRI intensity scale). "
        "Besides the true lesion mask, each image has a reader's delineation with realistic, spatially "
        f"correlated boundary variability (median Dice against truth {v['reader_dice_us']} for US, IQR "
        f"{v['reader_dice_us_iqr']}, and {v['reader_dice_mri']} for MRI, IQR {v['reader_dice_mri_iqr']}); the "
        "manifest lists the reader's mask, as a user's manifest would. Separate segmentation-development sets "
        f"of {v['n_dev_us']} US and {v['n_dev_mri']} MRI patients without outcome were simulated for training "
        "the segmenters. Example images are shown in @fig-imaging-examples and per-centre image statistics in "
        "@tbl-imaging-stats.\n"
    )

"""The segmentation stage (``notebooks/01_segmentation.ipynb``).

For each modality (US 2D, MRI 3D):

1. the development set (patients without outcome; the twin's, or the user's) is split
   into a development-training part, on which the U-Net is trained with model
   selection on a validation split of its own, and a held-out development-test part;
2. the U-Net, the classical baseline and the reader are scored against the true masks
   of the development-test part, and on every set of the survival cohort against the
   true masks (twin) or the reader's masks (a user's cohort, where no truth exists);
3. the U-Net segments every cohort patient; a failed automatic mask (none found, or
   touching the border where the peri-tumoral ring needs room) falls back to the
   reader's mask or excludes the patient, as the profile says, and is listed.

Outputs (``build/<profile>/01_segmentation/``): ``segmentation.csv`` (the mask each
patient's features will use, its source and any flag), ``metrics.csv`` (per case),
``seg_table.md/.csv``, ``fig-segmentation.png``, ``excluded.csv``, ``variables.yml``.
Trained weights live in ``build/<profile>/cache/segment/`` (keyed by data, parameters
and code), so re-running the stage after an unrelated change does not re-train.
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

from ..cohort.manifest import SPLIT_LABELS, SPLITS
from .baseline import BaselineSegmenter
from .inference import segment_cohort
from .metrics import evaluate, summary_table

MODALITY_LABELS = {"us": "US", "mri": "MRI"}
METHOD_LABELS = {"unet": "U-Net", "baseline": "Baseline (SimpleITK)", "reader": "Reader"}
SET_LABELS = {"devtest": "Development test", **SPLIT_LABELS}


@dataclass
class StageInputs:
    """What the segmentation stage reads from the cohort stage."""

    cohort: pd.DataFrame
    manifest_dir: Path
    simulated: bool
    truth: pd.DataFrame | None
    devsets: dict[str, pd.DataFrame]
    cohort_dir: Path


def load_inputs(build_dir: Path) -> StageInputs:
    """Read ``00_cohort``'s artefacts; image paths become absolute."""
    cdir = Path(build_dir) / "00_cohort"
    src = json.loads((cdir / "source.json").read_text(encoding="utf-8"))
    mdir = (cdir / src["manifest_dir"]).resolve()  # relative (the twin) or absolute (a user's manifest)
    cohort = pd.read_csv(cdir / "cohort.csv", dtype={"patient_id": str, "center": str})
    for col in ("us_image", "us_mask", "mri_image", "mri_mask"):
        if col in cohort:
            cohort[col] = cohort[col].map(lambda v: str(mdir / v) if isinstance(v, str) and v else None)
    truth = None
    if src["simulated"] and (cdir / "truth.parquet").is_file():
        truth = pd.read_parquet(cdir / "truth.parquet")
        for col in ("us_true_mask", "mri_true_mask"):
            if col in truth:
                truth[col] = truth[col].map(lambda v: str(cdir / v) if isinstance(v, str) else None)
    devsets = {}
    for m in ("us", "mri"):
        f = cdir / f"devset_{m}.csv"
        if f.is_file():
            d = pd.read_csv(f, dtype={"patient_id": str})
            for col in ("image", "mask", "reader_mask"):
                d[col] = d[col].map(lambda v: str(cdir / v))
            devsets[m] = d
    return StageInputs(cohort, mdir, bool(src["simulated"]), truth, devsets, cdir)


def development_split(dev: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split of the development set into training (with its own validation
    split inside the U-Net's fit) and a held-out test part used only for evaluation."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(dev))
    n_test = int(round(test_fraction * len(dev)))
    test = dev.iloc[np.sort(order[:n_test])].reset_index(drop=True)
    train = dev.iloc[np.sort(order[n_test:])].reset_index(drop=True)
    return train, test


def training_data(inputs: StageInputs, modality: str) -> pd.DataFrame:
    """The images and masks a segmenter learns from.

    The twin (and a user who supplies one) has a development set of its own; without
    it, the training set's supplied masks are used, never those of the test sets.
    """
    if modality in inputs.devsets:
        return inputs.devsets[modality]
    c = inputs.cohort
    sel = (c["split"] == "train") & c[f"{modality}_image"].notna() & c[f"{modality}_mask"].notna()
    if sel.sum() < 10:
        raise ValueError(f"{modality}: no development set and only {int(sel.sum())} training patients with a mask; "
                         "the U-Net needs at least 10 annotated images")
    d = c.loc[sel, ["patient_id", f"{modality}_image", f"{modality}_mask"]]
    d.columns = ["patient_id", "image", "mask"]
    d["reader_mask"] = d["mask"]
    return d.reset_index(drop=True)


def n_jobs_of(params: Mapping[str, Any]) -> int:
    n = int(params.get("n_jobs", -1))
    return n if n > 0 else max(1, os.cpu_count() or 1)


def train_unet(inputs: StageInputs, modality: str, params: Mapping[str, Any], seed: int, cache_dir: Path):
    """Train (or load from the cache) the U-Net of one modality on the development-training part."""
    from .unet import train_or_load

    dev = training_data(inputs, modality)
    train, test = development_split(dev, float(params.get("dev_test_fraction", 0.2)), seed)
    unet_params = dict(params[modality].get("unet", {}))
    unet_params.setdefault("seed", seed)
    t0 = time.perf_counter()
    model = train_or_load(cache_dir, modality, list(train["image"]), list(train["mask"]), progress=True, **unet_params)
    return model, train, test, time.perf_counter() - t0


def evaluate_development(model, baseline, test: pd.DataFrame, modality: str) -> pd.DataFrame:
    """U-Net, baseline and reader against the true masks of the development-test part."""
    preds_u = [model.predict(p) for p in test["image"]]
    preds_b = [baseline.predict(p) for p in test["image"]]
    ids = list(test["patient_id"])
    return pd.concat([
        evaluate(preds_u, list(test["mask"]), ids, modality=modality, method="unet", set="devtest"),
        evaluate(preds_b, list(test["mask"]), ids, modality=modality, method="baseline", set="devtest"),
        evaluate(list(test["reader_mask"]), list(test["mask"]), ids, modality=modality, method="reader", set="devtest"),
    ], ignore_index=True)


def segment_modality(inputs: StageInputs, model, baseline, modality: str, params: Mapping[str, Any],
                     out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment every cohort patient with the U-Net (and the baseline, for comparison).

    Returns the per-patient table (which mask the features will use) and the per-case
    metrics on each set of the cohort.
    """
    c = inputs.cohort
    has = c[f"{modality}_image"].notna()
    use_supplied = bool(params.get("use_supplied_masks", False))
    cases = pd.DataFrame({
        "patient_id": c.loc[has, "patient_id"],
        "image": c.loc[has, f"{modality}_image"],
        # The study's design: the automatic mask is the analysis mask, and the manifest's
        # mask is the reader's (fallback and yardstick) unless the profile says otherwise.
        "mask": c.loc[has, f"{modality}_mask"] if use_supplied else None,
        "reader_mask": c.loc[has, f"{modality}_mask"],
    })
    n_jobs = n_jobs_of(params)
    ring = float(params.get("ring_mm", 10.0))
    policy = params.get("policy", "reader")
    table = segment_cohort(cases, model, out_dir / "masks" / modality, n_jobs=n_jobs, policy=policy, ring_mm=ring)
    base = segment_cohort(cases.assign(mask=None), baseline, out_dir / "baseline" / modality, n_jobs=n_jobs,
                          policy="exclude", ring_mm=ring)
    table.insert(1, "modality", modality)
    table["baseline_mask"] = base["auto_mask"].to_numpy()
    split = c.set_index("patient_id")["split"]

    # Reference: the truth for the twin; the reader for a user's cohort (no truth exists).
    if inputs.truth is not None:
        ref = inputs.truth.set_index("patient_id").loc[cases["patient_id"], f"{modality}_true_mask"].to_numpy()
        methods = {"unet": table["auto_mask"], "baseline": base["auto_mask"], "reader": cases["reader_mask"]}
    else:
        ref = cases["reader_mask"].to_numpy()
        methods = {"unet": table["auto_mask"], "baseline": base["auto_mask"]}
    frames = []
    for method, preds in methods.items():
        preds = [p if isinstance(p, str) else None for p in preds]
        m = evaluate(preds, list(ref), list(cases["patient_id"]), modality=modality, method=method)
        m["set"] = split.loc[m["case_id"]].to_numpy()
        frames.append(m)
    return table, pd.concat(frames, ignore_index=True)


def segmentation_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Dice, HD95 and relative volume difference, median [IQR], by modality, method and set."""
    m = metrics.copy()
    order_sets = ["devtest", *SPLITS]
    m["set"] = pd.Categorical(m["set"], categories=order_sets)
    m["method"] = pd.Categorical(m["method"], categories=list(METHOD_LABELS))
    m["modality"] = pd.Categorical(m["modality"], categories=list(MODALITY_LABELS))
    m = m.sort_values(["modality", "set", "method"])
    t = summary_table(m, by=("modality", "set", "method"), metrics=("dice", "hd95_mm", "rel_volume_diff"))
    t = t[t["n"] > 0].copy()
    t["modality"] = t["modality"].map(MODALITY_LABELS)
    t["set"] = t["set"].map(SET_LABELS)
    t["method"] = t["method"].map(METHOD_LABELS)
    t = t.rename(columns={"modality": "Modality", "set": "Set", "method": "Method", "dice": "Dice",
                          "hd95_mm": "HD95, mm", "rel_volume_diff": "Relative volume difference"})
    if "n_hd95_undefined" in t:
        t = t.rename(columns={"n_hd95_undefined": "HD95 undefined, n"})
        t["HD95 undefined, n"] = t["HD95 undefined, n"].fillna(0).astype(int)
    return t.reset_index(drop=True)


def median_dice(metrics: pd.DataFrame, modality: str, method: str, set_: str) -> float:
    sel = (metrics["modality"] == modality) & (metrics["method"] == method) & (metrics["set"] == set_)
    return float(np.median(metrics.loc[sel, "dice"])) if sel.any() else float("nan")


def overlay_examples(inputs: StageInputs, tables: dict[str, pd.DataFrame], metrics: pd.DataFrame,
                     out_dir: Path) -> list[dict]:
    """For each modality, the external-test patients at the 10th, 50th and 90th
    percentile of U-Net Dice: a typical case and the tails, not the best ones."""
    examples = []
    for modality, table in tables.items():
        m = metrics[(metrics["modality"] == modality) & (metrics["method"] == "unet")]
        ext = m[m["set"] == "external"].sort_values(["dice", "case_id"]).reset_index(drop=True)
        if ext.empty:
            continue
        picks = sorted({int(round(q * (len(ext) - 1))) for q in (0.1, 0.5, 0.9)})
        t = table.set_index("patient_id")
        c = inputs.cohort.set_index("patient_id")
        truth = inputs.truth.set_index("patient_id") if inputs.truth is not None else None
        for i in picks:
            pid = ext.loc[i, "case_id"]
            ex = {"image": c.loc[pid, f"{modality}_image"], "reader": c.loc[pid, f"{modality}_mask"],
                  "title": f"{MODALITY_LABELS[modality]}, external test, U-Net Dice {ext.loc[i, 'dice']:.2f}"}
            if isinstance(t.loc[pid, "auto_mask"], str):
                ex["unet"] = t.loc[pid, "auto_mask"]
            if isinstance(t.loc[pid, "baseline_mask"], str):
                ex["baseline"] = t.loc[pid, "baseline_mask"]
            if truth is not None:
                ex["true"] = truth.loc[pid, f"{modality}_true_mask"]
            examples.append(ex)
    return examples


def draw_flow(profile: Mapping[str, Any], inputs: StageInputs, path: Path,
              exclusions: list[tuple[str, set]], notes: list[str] = ()) -> None:
    """Redraw the patient flow with the exclusions of the stages after the cohort's.

    ``exclusions``: (reason, patient ids) in the order the checks ran; a patient is
    counted once, under the first reason that removed it.
    """
    from ..cohort.manifest import ManifestSpec
    from ..plots.flow import flow_figure

    spec = ManifestSpec.from_profile(profile)
    prev = pd.read_csv(inputs.cohort_dir / "excluded.csv")
    counted: list[tuple[str, int]] = []
    if len(prev):
        for reason, grp in prev.groupby(prev["reason"].str.split(":").str[0]):
            counted.append((f"invalid {reason}", len(grp)))
    removed: set = set()
    for reason, ids in exclusions:
        new = set(ids) - removed
        if new:
            counted.append((reason, len(new)))
            removed |= new
    kept = inputs.cohort[~inputs.cohort["patient_id"].isin(removed)]
    internal = kept["center"].isin(spec.internal_centers)
    flow_figure(
        path,
        n_internal_centres=int(internal.sum()), n_external_centres=int((~internal).sum()),
        internal_label=f"Centre {', '.join(spec.internal_centers)} (internal)",
        external_label=f"Centres {', '.join(spec.external_centers)} (external)",
        n_train=int((kept["split"] == "train").sum()), n_internal=int((kept["split"] == "internal").sum()),
        n_external=int((kept["split"] == "external").sum()), exclusions=counted,
        source_label="Simulated digital-twin patients" if inputs.simulated else "Patients in the manifest",
        notes=list(notes),
    )


def fallback_notes(fallback: pd.DataFrame) -> list[str]:
    """One line for the patient flow: automatic masks replaced by the reader's, per modality."""
    counts = [f"{MODALITY_LABELS[m]} n = {int((fallback['modality'] == m).sum())}"
              for m in MODALITY_LABELS if (fallback["modality"] == m).any()]
    return ["Automatic mask failed the checks and was replaced by the reader's: " + ", ".join(counts)] if counts else []


def write_segmentation_artefacts(profile: Mapping[str, Any], inputs: StageInputs, tables: dict[str, pd.DataFrame],
                                 metrics: pd.DataFrame, out_dir: Path, training: dict[str, dict]) -> dict:
    """Write the per-patient masks table, metrics, Table, overlay figure, updated patient
    flow and variables. Returns the variables."""
    from ..plots.segmentation import overlay_figure
    from ..report.tables import write_markdown_table
    from ..report.variables import write_variables

    out_dir = Path(out_dir)
    prof = profile["profile"]
    src = f"`notebooks/01_segmentation.ipynb`, profile `{prof}`"
    seg = pd.concat(list(tables.values()), ignore_index=True)
    # Paths relative to this stage's folder, so the table does not depend on where the
    # project lies.
    for col in ("mask", "auto_mask", "baseline_mask"):
        seg[col] = seg[col].map(lambda v: os.path.relpath(v, out_dir) if isinstance(v, str) else None)
    seg.to_csv(out_dir / "segmentation.csv", index=False, lineterminator="\n")
    metrics.to_csv(out_dir / "metrics.csv", index=False, lineterminator="\n", float_format="%.6g")

    reference = "true masks" if inputs.truth is not None else "the reader's masks (no truth exists for this cohort)"
    tbl = segmentation_table(metrics)
    tbl.to_csv(out_dir / "seg_table.csv", index=False, lineterminator="\n")
    write_markdown_table(
        tbl, out_dir / "seg_table.md",
        caption=f"Agreement of automatic segmentation with {reference}: median [IQR] Dice, 95% Hausdorff distance "
                "(HD95) and relative volume difference, on the held-out development test set and on each set of the "
                "survival cohort. The reader row is the human yardstick.",
        label="segmentation", source=src,
    )
    examples = overlay_examples(inputs, tables, metrics, out_dir)
    if examples:
        # One row per modality: the 10th, 50th and 90th percentile cases side by side.
        overlay_figure(examples, out_dir / "fig-segmentation.png",
                       columns=max(sum(e["title"].startswith(lbl) for e in examples) for lbl in ("US", "MRI")))

    excluded = seg[seg["source"] == "excluded"][["patient_id", "modality", "reason"]]
    excluded.to_csv(out_dir / "excluded.csv", index=False, lineterminator="\n")
    fallback = seg[seg["source"] == "reader"]
    c = inputs.cohort
    kept = c[~c["patient_id"].isin(excluded["patient_id"])]
    draw_flow(profile, inputs, out_dir / "fig-flow.png",
              [(f"no usable {MODALITY_LABELS[m]} mask", set(grp["patient_id"])) for m, grp in excluded.groupby("modality")],
              notes=fallback_notes(fallback))

    v: dict[str, Any] = {"reference": "truth" if inputs.truth is not None else "reader",
                         "n_excluded": int(excluded["patient_id"].nunique()),
                         "n_analysed": int(len(kept)),
                         "policy": str(profile["segmentation"].get("policy", "reader"))}
    for modality in tables:
        mv: dict[str, Any] = {
            "n_fallback": int((fallback["modality"] == modality).sum()),
            "n_excluded": int((excluded["modality"] == modality).sum()),
            "n_dev_train": int(training[modality]["n_train"]),
            "n_dev_test": int(training[modality]["n_test"]),
        }
        for method in ("unet", "baseline", "reader"):
            for set_ in ("devtest", *SPLITS):
                d = median_dice(metrics, modality, method, set_)
                if not np.isnan(d):
                    mv.setdefault(method, {})[f"dice_{set_}"] = f"{d:.2f}"
        v[modality] = mv
    write_variables({"segmentation": v}, out_dir / "variables.yml")
    return v

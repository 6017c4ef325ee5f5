"""The radiomics stage (``notebooks/02_features.ipynb``): the notebook computes, this
module formats and writes.

The notebook's cells compute with the library:

1. Regions (:mod:`radsurv.features.regions`, :mod:`radsurv.roi`): for every patient and
   modality, the intra-tumoral region is the analysis mask chosen by ``01_segmentation``
   (the U-Net's, or the reader's where the U-Net failed) and the peri-tumoral region a
   ring of ``features.ring_width_mm`` grown outward in mm. For a seeded random subset of
   training patients whose analysis masks are the U-Net's (``features.reproducibility.n``,
   60 in the paper), the same regions are also built from the reader's mask, the true
   mask (digital twin only) and small random perturbations of the U-Net's mask.
2. PyRadiomics features of every region (:func:`radsurv.features.extract.extract_features`:
   one filtering per image grid, parallel over patients, cached per image, mask and
   settings), with the parameter files ``features.params``; failures and exclusions
   (:func:`radsurv.features.collect.collect_features`): a failed extraction, or a NaN or
   infinite feature, in a patient's analysis region is reported with the patient,
   modality, region and reason, and ``features.on_error`` decides whether the patient is
   excluded (and shown in the patient flow) or the stage stops.
3. Robustness (:func:`radsurv.features.robustness.segmentation_robustness`): ICC of every
   feature between the U-Net and reader masks, and across the perturbed masks; features
   below ``features.icc.threshold`` are flagged for the selection stage.
4. IBSI 1 compliance of the extraction code on the digital phantom
   (:func:`radsurv.features.ibsi.ibsi_check`, supplement).

Here: the tables and the manuscript's variables as the paper prints them
(:func:`features_table`, :func:`ibsi_display`, :func:`ring_clipping_text`,
:func:`robustness_texts`, :func:`describe_low_agreement`, :func:`feature_variables`), and
:func:`write_feature_artefacts`, which writes the outputs declared in
:mod:`radsurv.stages.registry` from the objects the notebook computed.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..cohort.manifest import cohort_outcomes
from ..labels import ANALYSIS_MASK, MODALITIES, MODALITY_LABELS, MODALITY_NAMES, REGION_LABELS, REGIONS
from ..preconditions import extractable_regions
from ..stages.context import StageContext
from ..stages.readers import CohortOutputs
from .collect import FeatureTable
from .ibsi import IbsiCompliance
from .robustness import Robustness

__all__ = ["describe_low_agreement", "feature_variables", "features_table", "ibsi_display", "ring_clipping_text",
           "robustness_texts", "unextractable_regions", "write_feature_artefacts"]


def _median_iqr(x: pd.Series) -> str:
    x = x.dropna()
    if x.empty:
        return "-"
    q1, q2, q3 = np.percentile(x, [25, 50, 75])
    return f"{q2:.2f} [{q1:.2f}, {q3:.2f}]"


def features_table(tidy: pd.DataFrame, icc: pd.DataFrame, n_patients: dict[str, int]) -> pd.DataFrame:
    """Per modality and region: features, patients, ICC summaries and flags."""
    rows = []
    for m in MODALITIES:
        for r in REGIONS:
            sel = icc[(icc["modality"] == m) & (icc["region"] == r)]
            feats = tidy[(tidy["modality"] == m) & (tidy["region"] == r) & (tidy["mask_source"] == ANALYSIS_MASK)]
            if feats.empty:
                continue
            row = {"Modality": MODALITY_LABELS[m], "Region": REGION_LABELS[r],
                   "Features, n": int(feats["feature"].nunique()), "Patients, n": n_patients[m],
                   "ICC U-Net vs reader": _median_iqr(sel["icc_reader"])}
            if "icc_perturbation" in sel:
                row["ICC under perturbation"] = _median_iqr(sel["icc_perturbation"])
            row["Robust (ICC ≥ threshold), n (%)"] = (
                f"{int((~sel['flag']).sum())} ({100 * (~sel['flag']).mean():.0f}%)" if len(sel) else "-")
            rows.append(row)
    return pd.DataFrame(rows)


def ibsi_display(t: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The IBSI compliance table as the supplement prints it, and the caption's notes:
    each convention difference is explained once, in the caption, and referred to by letter.

    Parameters
    ----------
    t : DataFrame
        :func:`radsurv.features.ibsi.compliance_table`.
    """
    reasons = [r for r in dict.fromkeys(t["reason"].fillna("")) if r]
    letter = {r: chr(ord("a") + i) for i, r in enumerate(reasons)}
    show = pd.DataFrame({
        "PyRadiomics feature": t["feature"].str.replace("original_", "", regex=False),
        "IBSI tag": t["ibsi_tag"],
        "Value (IBSI convention)": t["value_ibsi_convention"].map(lambda v: f"{v:.4g}"),
        "Reference": t["reference"].map(lambda v: f"{v:.4g}"),
        "Tolerance": t["tolerance"].map(lambda v: f"{v:.3g}"),
        "Pass": t["pass"].map({True: "yes", False: "no"}),
        "Note": t["reason"].fillna("").map(lambda r: letter.get(r, "")),
    })
    notes = " ".join(f"({letter[r]}) {r.rstrip('.')}." for r in reasons)
    return show, notes


def ring_clipping_text(clipping: pd.DataFrame) -> str:
    """One sentence on the rings cut at the image border (``ring_clipping.csv``)."""
    if clipping.empty:
        return "No peri-tumoral ring was built."
    f = clipping["ring_clipped_fraction"].to_numpy(float)
    cut = f[f > 0]
    if cut.size == 0:
        return f"Every peri-tumoral ring lay inside its image ({len(f)} images)."
    return (f"In {cut.size} of {len(f)} images the lesion lay nearer the image border than the ring width and the "
            f"ring was clipped at the border (median {100 * np.median(cut):.0f}% of the ring cut off, at most "
            f"{100 * cut.max():.0f}%).")


def robustness_texts(icc: pd.DataFrame, n_perturbations: int) -> dict[str, str]:
    """The robustness phrases of the paper, for the comparisons this run made.

    With a second delineation (the reader's mask beside the U-Net's) both comparisons
    are named; with the cohort's own masks as analysis masks
    (``segmentation.use_supplied_masks``) only the perturbations are.

    Returns
    -------
    dict
        ``robustness_sources`` (Methods: what the regions were also built from),
        ``flag_rule`` (which comparisons flag a feature) and ``icc_results`` (Results:
        the median ICC per modality and region, and the robust count; the paper adds
        the cross-references, which Quarto does not resolve inside a variable).
    """
    has_reader = bool(icc["icc_reader"].notna().any())
    has_pert = "icc_perturbation" in icc and bool(icc["icc_perturbation"].notna().any())
    k = int(n_perturbations)
    mask = "the U-Net's mask" if has_reader else "the supplied mask"
    sources = (["the reader's mask"] if has_reader else []) + (
        [f"{k} random perturbation{'s' if k != 1 else ''} of {mask}"] if k else [])
    column = "icc_reader" if has_reader else "icc_perturbation"
    lead = ("Between the U-Net's and the reader's masks" if has_reader else
            "Across the random perturbations of the supplied masks")
    parts = []
    for m in MODALITIES:
        for r in REGIONS:
            sel = icc[(icc["modality"] == m) & (icc["region"] == r)]
            if len(sel) and column in sel and sel[column].notna().any():
                parts.append(f"{sel[column].median():.2f} ({MODALITY_NAMES[m]}, {r}-tumoral)")
    both = has_reader and has_pert
    robust = int((~icc["flag"]).sum())
    if parts:
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        results = (f"{lead} the median ICC was {listed}; {robust} features were robust in "
                   f"{'both comparisons' if both else 'that comparison'}")
    else:
        results = "Robustness to segmentation was not measured in this run"
    return {
        "robustness_sources": ("whose regions were also built from " + " and from ".join(sources)) if sources
        else "whose regions were built from the analysis mask only",
        "flag_rule": "in either comparison" if both else "in that comparison",
        "icc_compared": ("between features from the U-Net's and the reader's masks" if has_reader else
                         "across random perturbations of the supplied masks"),
        "icc_results": results,
    }


CLASS_NAMES = {"firstorder": "first-order", "glcm": "GLCM", "glrlm": "GLRLM", "glszm": "GLSZM", "gldm": "GLDM",
               "ngtdm": "NGTDM", "shape": "shape", "shape2D": "shape"}


def _words(name: str) -> str:
    """A PyRadiomics feature name in words: ``10Percentile`` -> "10th percentile",
    ``MeanAbsoluteDeviation`` -> "mean absolute deviation"."""
    name = re.sub(r"^(\d+)Percentile$", r"\1th Percentile", name)
    return " ".join(w if w.isupper() or w[0].isdigit() else w.lower()
                    for w in re.findall(r"\d+th|[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name))


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


FAMILY_NAMES = {"log": "Laplacian-of-Gaussian-filtered images", "wavelet": "wavelet bands",
                "original": "the original image"}


def describe_low_agreement(icc: pd.DataFrame, jitter_mm: float, threshold: float = 0.75,
                           min_share: float = 0.1) -> str:
    """The Results sentences on the region whose features agree worst between the
    U-Net's and the reader's masks: which features they are, and whether a random
    displacement of the contour moves them as much (:func:`~radsurv.features.robustness.low_agreement`).

    Returns "" when no region has at least ``min_share`` of its features below
    :data:`~radsurv.features.robustness.POOR_ICC` (or no reader ICC exists).
    """
    from .robustness import POOR_ICC, low_agreement

    found = [(m, r, s) for m in MODALITIES for r in REGIONS if (s := low_agreement(icc, m, r)) and s["n"]]
    found = [f for f in found if f[2]["n_low"] / f[2]["n"] >= min_share]
    if not found:
        return ""
    m, r, s = max(found, key=lambda f: (f[2]["n_low"] / f[2]["n"], f[2]["n_low"]))
    fams = [(f"{100 * share:.0f}% from {FAMILY_NAMES.get(k, k + '-filtered images')}",
             f"{100 * s['families_all'].get(k, 0):.0f}%") for k, share in s["families"].items()]
    listed = [f"{fams[0][0]} (which make up {fams[0][1]} of the region's features)"] + [f"{a} ({b})" for a, b in fams[1:]]
    text = (f"Agreement was poorest in the {MODALITY_NAMES[m]} {r}-tumoral region, where {s['n_low']} of {s['n']} "
            f"features had an ICC below {POOR_ICC:.2f} (poor reliability on Koo and Li's scale): "
            + _and(listed))
    if s.get("sigmas_mm"):
        text += f"; LoG sigma {_and([f'{x:g}' for x in s['sigmas_mm']])} mm"
    classes = [CLASS_NAMES.get(c, c) for c in list(s["classes"])[:3]]
    text += f"; mostly {_and(classes)} features"
    if s.get("firstorder"):
        text += f" (first-order: {', '.join(_words(x) for x in s['firstorder'][:4])})"
    text += ". "
    if "pert_low" in s and np.isfinite(s["pert_low"]):
        fragile = s["pert_rest"] - s["pert_low"] >= 0.2
        text += (f"The same features were {'also fragile' if fragile else 'stable'} under random displacements of "
                 f"the U-Net's own contour by about {jitter_mm:g} mm (median ICC {s['pert_low']:.2f}, against "
                 f"{s['pert_rest']:.2f} for the region's other features"
                 + (f"; rank correlation of the two ICCs over the region's features {s['spearman']:.2f}"
                    if np.isfinite(s["spearman"]) else "") + ")")
        text += (": they are driven by the pixels at the lesion's edge, where the lesion meets the tissue around it "
                 "and where the filters respond most, so they move with wherever a contour lies rather than with who "
                 "draws it" + (f", and the robustness filter (ICC below {threshold:.2f}) flags them. "
                                if threshold >= POOR_ICC else ". ") if fragile else
                 ": what moves them is how the reader's contour differs from the U-Net's, not contour noise. ")
    return text


def feature_variables(params: Mapping[str, Any], tidy: pd.DataFrame, icc: pd.DataFrame, ibsi: pd.DataFrame,
                      n_subset: int, n_excluded: int, n_failures: int) -> dict[str, Any]:
    """The ``features`` variables of the manuscript (formatted strings and counts)."""
    analysed = tidy.loc[tidy["mask_source"] == ANALYSIS_MASK]
    per_region = analysed.groupby(["modality", "region"])["feature"].nunique()
    # no region analysed (every analysis region failed): 0 features, not NaN
    # (write_feature_artefacts refuses such a run first, radsurv.preconditions.extractable_regions)
    v: dict[str, Any] = {
        "ring_mm": f"{float(params['ring_width_mm']):g}",
        "n_subset": int(n_subset),
        "jitter_mm": f"{float(params['reproducibility']['jitter_mm']):g}",
        "n_excluded": int(n_excluded),
        "n_failures": int(n_failures),
        "icc_form": str(params["icc"]["form"]),
        "icc_threshold": f"{float(params['icc']['threshold']):.2f}",
        "n_per_region": int(per_region.max()) if len(per_region) else 0,
        "n_total": int(per_region.sum()),
        "regions": {1: "one region", 2: "two regions", 3: "three regions", 4: "four regions"}.get(
            len(per_region), f"{len(per_region)} regions"),
        "n_flagged": int(icc["flag"].sum()),
        "n_robust": int((~icc["flag"]).sum()),
        "ibsi": {"n_mapped": int(len(ibsi)), "n_pass": int(ibsi["pass"].sum()),
                 "n_convention": int((ibsi["reason"].fillna("") != "").sum())},
    }
    # the perturbations this run made (not the profile's number: a run may have made none)
    n_perturbed = sum(str(src).startswith("perturbed") for src in tidy["mask_source"].unique())
    v.update(robustness_texts(icc, n_perturbed))
    v["icc_low"] = describe_low_agreement(icc, float(params["reproducibility"]["jitter_mm"]),
                                          float(params["icc"]["threshold"])).rstrip()
    for m in MODALITIES:
        for r in REGIONS:
            sel = icc[(icc["modality"] == m) & (icc["region"] == r)]
            # a modality the cohort lacks still resolves in the paper
            v.setdefault(m, {})[r] = {"icc_reader_median": "–", "pct_robust": "–"}
            if len(sel):
                v.setdefault(m, {})[r] = {
                    "icc_reader_median": (f"{sel['icc_reader'].median():.2f}" if sel["icc_reader"].notna().any()
                                          else "not measured"),
                    "pct_robust": f"{100 * (~sel['flag']).mean():.0f}",
                }
    return v


def unextractable_regions(failures: pd.DataFrame) -> pd.DataFrame:
    """The failed analysis regions as :func:`radsurv.preconditions.extractable_regions` reads
    them: ``patient_id``, ``modality``, ``reason`` (the modality, the region and PyRadiomics'
    reason, with the patient's identifier replaced by ``<patient>``: the executed notebook is
    published, and equal reasons are counted)."""
    bad = failures[failures["mask_source"] == ANALYSIS_MASK]
    return pd.DataFrame({
        "patient_id": bad["patient"].astype(str).to_numpy(),
        "modality": bad["modality"].astype(str).to_numpy(),
        "reason": [f"{MODALITY_LABELS.get(m, m)} {r}-tumoral region: {str(why).replace(str(p), '<patient>')}"
                   for p, m, r, why in zip(bad["patient"], bad["modality"], bad["region"], bad["reason"])],
    }, columns=["patient_id", "modality", "reason"])


def write_feature_artefacts(ctx: StageContext, cohort: CohortOutputs, features: FeatureTable,
                            robustness: Robustness, ibsi: IbsiCompliance, clipping: pd.DataFrame) -> dict:
    """Write the declared outputs from the objects the notebook computed: the failures
    and exclusions, the tidy features and the matrices, the ICC table and figure, the
    features and IBSI tables, the patient flow and the variables.

    Parameters
    ----------
    ctx : StageContext
        The stage's context.
    cohort : CohortOutputs
        The cohort (the patient flow).
    features : FeatureTable
        :func:`radsurv.features.collect.collect_features`.
    robustness : Robustness
        :func:`radsurv.features.robustness.segmentation_robustness`.
    ibsi : IbsiCompliance
        :func:`radsurv.features.ibsi.ibsi_check`.
    clipping : DataFrame
        The share of each analysis ring cut off at the image border
        (:attr:`radsurv.features.regions.CohortRegions.clipping`).

    Returns
    -------
    dict
        The ``features`` variables of the manuscript.
    """
    params = ctx.params
    failures, tidy = features.failures, features.tidy
    excluded_ids = set(features.excluded["patient_id"])
    # Too few patients left with an extractable region (lesions too small for the settings):
    # refused, naming the parameter file and its settings, before anything is written; the
    # same decision as radsurv validate's (which refuses such a cohort before the run).
    extractable_regions(cohort_outcomes(cohort.data, pd.Index(cohort.data["patient_id"].astype(str)),
                                        ctx.profile["time_unit"]),
                        unextractable_regions(failures), ctx.profile).refuse()
    ctx.write_data(failures, "failures.csv", float_format=None)
    ctx.write_data(features.excluded, "excluded.csv", float_format=None)
    ctx.write_data(clipping, "ring_clipping.csv", float_format="%.6g")
    tidy.to_parquet(ctx.path("features.parquet"), index=False)
    n_patients = {}
    for (m, r), wide in features.matrices().items():
        wide.to_parquet(ctx.path(f"matrix_{m}_{r}.parquet"))
        n_patients[m] = len(wide)

    icc = robustness.table
    ctx.write_data(icc, "icc.csv", float_format="%.6g")
    threshold = robustness.threshold
    # The figure shows the U-Net-vs-reader ICC; without a second delineation (the cohort's
    # own masks analysed), the ICC across perturbations, the only comparison made.
    fig = robustness.plot().figure
    fig.tight_layout()
    ctx.write_figure(fig, "fig-icc.png")

    has_reader = robustness.has_reader
    compared = ("between features from the U-Net's and the reader's masks, and across random perturbations of the "
                "U-Net's mask" if has_reader else "across random perturbations of the supplied masks (no second "
                "delineation exists)")
    ctx.write_table(
        features_table(tidy, icc, n_patients), "features_table.md", label="features",
        caption=f"Radiomic features per modality and region and their robustness to segmentation: ICC "
                f"({params['icc']['form']}, median [IQR] over features) {compared}, in {robustness.n_subset} training "
                f"patients; a feature is robust when {'both ICCs reach' if has_reader else 'its ICC reaches'} "
                f"{threshold:.2f}.")
    ctx.write_data(ibsi.table, "ibsi_table.csv", float_format=None)
    show, notes = ibsi_display(ibsi.table)
    ctx.write_table(
        show, "ibsi_table.md", label="ibsi",
        caption="IBSI 1 compliance of the feature extraction on the IBSI digital phantom (Zwanenburg et al., "
                "2020): each PyRadiomics feature with an IBSI 1 equivalent, its value in IBSI's convention, the "
                "reference value and tolerance; where a convention differs, the note says how. " + notes)

    ctx.exclude("radiomics failed", excluded_ids)
    ctx.save_flow(cohort.data, cohort.centers, cohort.simulated)

    v = feature_variables(params, tidy, icc, ibsi.table, robustness.n_subset, len(excluded_ids), len(failures))
    v["ring_clipping"] = ring_clipping_text(clipping[~clipping["patient"].isin(excluded_ids)])
    ctx.write_variables({"features": v})
    return v

"""The sensitivity stage (``notebooks/06_sensitivity.ipynb``): questions reviewers of
radiomics papers ask, answered by re-running the real development.

1. **Permutation null of the whole development** (:mod:`.permutation`): the multi-modal
   signature developed again on permuted training outcomes, B times, scored on the
   untouched test sets; the observed test C against that null.
2. **Cut-point** (:mod:`.cutpoints`): the X-tile cut against the training median and
   tertiles and against its own cross-validated version, and the shrinkage of its
   hazard ratio.
3. **ComBat harmonisation** (:mod:`.harmonisation`): the external centres' features
   mapped onto the training set's by reference-batch ComBat; centre effects before and
   after, and the signatures' external C with and without it.
4. **Mask source and ring width** (:mod:`.variants`): the signatures developed again
   from the reader's masks, the true masks (twin) and the analysis masks' rings of other
   widths, with a declared reduced set of image types, against the analysis masks with
   the same set.

The stage reads the feature matrices (``02_features``), the Rad-scores (``03_signatures``)
and the cohort, and repeats ``03``'s development with ``03``'s own parameters (the
``signatures`` section), so the null is the null of exactly the pipeline the paper
reports. Writing: :func:`write_sensitivity_artefacts` (the outputs declared in
:mod:`radsurv.stages.registry`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..cohort.manifest import cohort_outcomes
from ..exceptions import StageError
from ..labels import ANALYSIS_MASK, FEATURE_CLASS_LABELS, MODALITY_LABELS, REGION_LABELS, SPLIT_LABELS
from ..report.formatting import format_ci, format_p
from ..seeds import STREAM_CUTPOINT_CV
from ..signatures.development import MULTIMODAL, REGION_SIGNATURES, SIGNATURES, develop_signatures
from ..signatures.evaluation import discrimination
from ..signatures.risk_groups import RiskGroups
from ..stages.context import StageContext
from ..stages.readers import CohortOutputs, FeatureOutputs, SegmentationOutputs
from .cutpoints import cutpoint_comparison, shrinkage
from .harmonisation import batches_for, block_labels, centre_effects, combat_harmonise
from .variants import (SOURCE_LABELS, common_patients, extract_variants, jaccard, ring_source, selected_features,
                       variant_jobs, variant_matrix)
from .permutation import TEST_SETS, permutation_null, permutation_summary, c_on_set

__all__ = ["cutpoint_display", "harmonisation_analysis",
           "harmonisation_display", "permutation_display", "sensitivity_variables", "write_sensitivity_artefacts"]


def permutation_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The permutation table as the paper prints it."""
    return pd.DataFrame({
        "Set": [SPLIT_LABELS[s] for s in summary["set"]],
        "Observed C": [f"{c:.3f}" for c in summary["observed_c"]],
        "Null C, mean (SD)": [f"{m:.3f} ({sd:.3f})" for m, sd in zip(summary["null_mean"], summary["null_sd"])],
        "Null C, 95th percentile": [f"{q:.3f}" for q in summary["null_q95"]],
        "Permutations": summary["n_permutations"].astype(int),
        "Permutation p": [format_p(p) for p in summary["p"]],
    })


_SPLIT_BY = {"X-tile": "X-tile cut (training optimum)", "X-tile, cross-validated": "X-tile cut, cross-validated",
             "median": "Training median", "tertiles": "Training tertiles (top vs bottom)"}


def cutpoint_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The cut-point table as the paper prints it."""
    rows = []
    for r in comparison.itertuples(index=False):
        rows.append({"Set": SPLIT_LABELS[r.set], "Split": _SPLIT_BY[r.split_by],
                     "Cut": "–" if not np.isfinite(r.cut) else f"{r.cut:.3f}",
                     "Low / high, n (events)": f"{r.n_low} ({r.events_low}) / {r.n_high} ({r.events_high})",
                     "HR high vs low (95% CI)": format_ci(r.hr, r.hr_lower, r.hr_upper),
                     "Log-rank p": format_p(r.logrank_p)})
    return pd.DataFrame(rows)


#: The signatures whose external C the harmonisation table reports, in this order.
HARMONISED_SIGNATURES = (*REGION_SIGNATURES, "us", "mri", MULTIMODAL)


def harmonisation_analysis(X: pd.DataFrame, outcome: pd.DataFrame, centre: pd.Series, flagged: set[str],
                           signature_params: Mapping[str, Any], seed: int, radscores: pd.DataFrame,
                           params: Mapping[str, Any], n_jobs: int = 1) -> dict[str, Any] | None:
    """ComBat with the training set as reference, and what it changes.

    The signatures are developed again exactly as ``03_signatures`` did (same features,
    parameters and seed; checked against its Rad-scores) and scored on the features as
    extracted and as harmonised. Reference-batch ComBat leaves the training features as
    they are, so the signatures themselves do not change: only the external centres'
    inputs do.

    Returns
    -------
    dict or None
        ``effects`` (per block: features differing by centre before and after),
        ``blocks`` (features harmonised or left as extracted), ``discrimination`` (external
        C per signature, as extracted and harmonised); None without an external centre.
    """
    split = outcome["split"]
    if not (split == "external").any():
        return None
    batch = batches_for(split, centre.reindex(X.index).astype(str))
    result = combat_harmonise(X, batch, parametric=bool(params["parametric"]))
    alpha = float(params["alpha"])
    before = centre_effects(X, batch, alpha)
    after = centre_effects(result.features, batch, alpha)
    effects = before.merge(after[["block", "n_differ", "pct_differ", "median_h"]], on="block",
                           suffixes=("_before", "_after"))
    dev = develop_signatures(X, outcome, flagged, signature_params, seed, n_jobs=n_jobs)
    predictors = dev.predictors()
    names = [n for n in HARMONISED_SIGNATURES if n in predictors]
    raw = pd.DataFrame({n: predictors[n].predict(X) for n in names}, index=X.index)
    for n in names:
        if n in radscores and not np.allclose(raw[n].to_numpy(), radscores.loc[X.index, n].to_numpy(),
                                              rtol=0, atol=1e-8):
            raise StageError(f"06_sensitivity: the {n} signature developed again differs from 03_signatures' "
                             "(the features or the signatures section changed?): run 03_signatures again")
    harmonised = pd.DataFrame({n: predictors[n].predict(result.features) for n in names}, index=X.index)
    ext = outcome.assign(split=np.where(split == "external", "external", "other"))
    d_raw = discrimination(raw, ext, names)
    d_h = discrimination(harmonised, ext, names)
    d_raw, d_h = d_raw[d_raw["set"] == "external"], d_h[d_h["set"] == "external"]
    disc = d_raw[["signature", "n", "events", "c", "lower", "upper"]].merge(
        d_h[["signature", "c", "lower", "upper"]], on="signature", suffixes=("_raw", "_harmonised"))
    return {"effects": effects, "blocks": result.blocks, "discrimination": disc, "batch": batch}


#: The signatures the mask-source and ring-width analyses report.
VARIANT_SIGNATURES = (*REGION_SIGNATURES, "us", "mri", MULTIMODAL)


def _develop_and_score(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], sp: Mapping[str, Any],
                       seed: int, n_jobs: int) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """03's development on ``X``: each signature's C per test set and its selected features."""
    dev = develop_signatures(X, outcome, flagged, sp, seed, n_jobs=n_jobs)
    predictors = dev.predictors()
    names = [n for n in VARIANT_SIGNATURES if n in predictors]
    scores = pd.DataFrame({n: predictors[n].predict(X) for n in names}, index=X.index)
    disc = discrimination(scores, outcome, names)
    return disc[disc["set"].isin(TEST_SETS)], {n: selected_features(predictors[n]) for n in names}


def region_variants_analysis(cohort: CohortOutputs, seg: SegmentationOutputs, truth: pd.DataFrame | None,
                             flagged: set[str], profile: Mapping[str, Any], params: Mapping[str, Any], seed: int,
                             cache_dir, root, n_jobs: int = 1) -> dict[str, Any] | None:
    """The signatures developed again from other masks and other ring widths.

    Every variant of one image is built and extracted in one worker with the reduced
    image types ``params["image_types"]``; the analysis masks are extracted with the same
    set, and every comparison is against them, on the patients every variant has.

    Returns
    -------
    dict or None
        ``sources`` (per mask source, signature and test set: C and CI, features selected
        and their Jaccard overlap with the analysis masks' signature), ``widths`` (per ring
        width, signature and test set: C and CI), ``n_patients``, ``failures``; None
        when not run.
    """
    from ..features.extract import extraction_params, read_params

    if not params["run"]:
        return None
    fp = profile["features"]
    analysis = seg.analysis_masks()
    data = cohort.data.set_index("patient_id")
    images = {(p, m): data.loc[p, f"{m}_image"] for p, m in zip(analysis["patient_id"], analysis["modality"])}
    others: dict[str, dict] = {}
    user_masks = (analysis["source"] == "user").all()
    if "reader" in params["sources"] and not user_masks:
        others["reader"] = {(p, m): data.loc[p, f"{m}_mask"] for p, m in images
                            if f"{m}_mask" in data and isinstance(data.loc[p, f"{m}_mask"], str)}
    if "true" in params["sources"] and truth is not None:
        t = truth.set_index("patient_id")
        others["true"] = {(p, m): t.loc[p, f"{m}_true_mask"] for p, m in images
                          if p in t.index and f"{m}_true_mask" in t}
    widths = sorted(float(w) for w in params["widths_mm"])
    settings = {}
    for m, file in extraction_params(fp, root).items():
        s = read_params(file)
        if params["image_types"][m] is not None:
            s["imageType"] = {k: (v or {}) for k, v in params["image_types"][m].items()}
        classes = params["feature_classes"][m]
        if classes is not None:
            s["featureClass"] = {c: None for c in classes}
        settings[m] = s
    jobs = variant_jobs(analysis, images, others, widths)
    result = extract_variants(jobs, {m: settings[m] for m in analysis["modality"].unique()},
                              float(fp["ring_width_mm"]), dict(fp["air_threshold"]), cache_dir=cache_dir,
                              n_jobs=n_jobs)
    tidy = result.features
    modalities = [m for m in ("us", "mri") if m in set(analysis["modality"])]
    blocks = [(m, r) for m in modalities for r in ("intra", "peri")]
    sp = profile["signatures"]
    ring = float(fp["ring_width_mm"])
    sources = [ANALYSIS_MASK, *others]
    sweep = [ring_source(w) if w != ring else ANALYSIS_MASK for w in widths]
    patients = common_patients(tidy, blocks, sources)
    patients = sorted(set(patients) & set(common_patients(tidy, [(m, "peri") for m in modalities], sweep)))
    rows, feats = [], {}
    for src in sources:
        X = variant_matrix(tidy, {b: src for b in blocks}, patients)
        outcome = cohort_outcomes(cohort.data, X.index, profile["time_unit"])
        disc, sel = _develop_and_score(X, outcome, flagged, sp, seed, n_jobs)
        feats[src] = sel
        rows.append(disc.assign(source=src, n_selected=disc["signature"].map(lambda n: len(sel[n]))))
    by_source = pd.concat(rows, ignore_index=True)
    by_source["jaccard_vs_auto"] = [jaccard(feats[s][n], feats[ANALYSIS_MASK][n]) if n in feats[ANALYSIS_MASK]
                                    else float("nan") for s, n in zip(by_source["source"], by_source["signature"])]
    rows = []
    for w, src in zip(widths, sweep):
        if src == ANALYSIS_MASK:   # the analysis ring: the development above, on the same matrix
            disc = by_source[by_source["source"] == ANALYSIS_MASK].drop(columns=["source", "n_selected",
                                                                                  "jaccard_vs_auto"])
        else:
            X = variant_matrix(tidy, {(m, r): (src if r == "peri" else ANALYSIS_MASK) for m, r in blocks}, patients)
            outcome = cohort_outcomes(cohort.data, X.index, profile["time_unit"])
            disc, _ = _develop_and_score(X, outcome, flagged, sp, seed, n_jobs)
        rows.append(disc.assign(width_mm=w))
    by_width = pd.concat(rows, ignore_index=True)
    return {"sources": by_source, "widths": by_width, "n_patients": len(patients), "failures": result.failures,
            "ring_mm": ring, "image_types": {m: list(settings[m]["imageType"]) for m in modalities},
            "feature_classes": {m: list(settings[m].get("featureClass") or {}) for m in modalities},
            "n_extracted": result.n_extracted, "n_cached": result.n_cached}


def write_variant_artefacts(ctx: StageContext, variants: Mapping[str, Any] | None, params: Mapping[str, Any]) -> None:
    """The mask-source table and data, the ring-width figure and data."""
    from ..plots.sensitivity import ring_width_figure
    from ..plots.style import message_figure

    if variants is None:
        why = ("Not run (sensitivity.variants.run: false)." if not params["variants"]["run"] else
               "Not run: no segmentation outputs.")
        pd.DataFrame(columns=["source"]).to_csv(ctx.path("mask_source.csv"), index=False)
        pd.DataFrame(columns=["width_mm"]).to_csv(ctx.path("ring_width.csv"), index=False)
        table = pd.DataFrame({"Mask source and ring width": [why]})
        message_figure(ctx.path("fig-ring-width.png"), "No ring-width sweep\n" + why)
    else:
        variants["sources"].to_csv(ctx.path("mask_source.csv"), index=False, lineterminator="\n", float_format="%.10g")
        variants["widths"].to_csv(ctx.path("ring_width.csv"), index=False, lineterminator="\n", float_format="%.10g")
        table = mask_source_display(variants)
        ring_width_figure(variants["widths"], ctx.path("fig-ring-width.png"), variants["ring_mm"],
                          {s: SPLIT_LABELS[s] for s in TEST_SETS},
                          {n: _signature_label(n) for n in ("us_peri", "mri_peri", MULTIMODAL)})
    ctx.write_table(table, "mask_source_table.md", label="mask-source",
                    caption="The signatures developed again, with every step of the development, from the analysis "
                            "masks and, where the cohort has them, the reader's masks and (simulated cohort) the true "
                            "lesion masks, on the same "
                            "patients and sets and with the same reduced set of image types: Harrell's C on the test "
                            "sets, the features selected and their overlap with the signature from the analysis masks.")


def variant_variables(variants: Mapping[str, Any] | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``sensitivity.variants`` variables."""
    widths = [f"{w:g}" for w in sorted(params["variants"]["widths_mm"])]
    v: dict[str, Any] = {"run": "yes" if variants is not None else "no",
                         "widths": ", ".join(widths[:-1]) + " and " + widths[-1] if len(widths) > 1 else widths[0]}
    if variants is None:
        return {"variants": v}
    types = variants["image_types"]
    names = {"Original": "original", "LoG": "Laplacian-of-Gaussian", "Wavelet": "wavelet"}
    phrase = {m: " and ".join(names.get(t, t) for t in ts) for m, ts in types.items()}
    classes = {m: ", ".join(FEATURE_CLASS_LABELS.get(c, c) for c in cs)
               for m, cs in variants["feature_classes"].items()}
    phrase = {m: f"{p} image ({classes[m]})" for m, p in phrase.items()}
    v["image_types"] = (f"the {next(iter(phrase.values()))}" if len(set(phrase.values())) == 1 else
                        "; ".join(f"{MODALITY_LABELS[m]}: the {p}" for m, p in phrase.items()))
    v["n_patients"] = int(variants["n_patients"])
    v["ring_mm"] = f"{variants['ring_mm']:g}"
    d = variants["sources"]
    mm = d[d["signature"] == MULTIMODAL]
    for src in dict.fromkeys(mm["source"]):
        sub = mm[mm["source"] == src].set_index("set")
        entry = {f"c_{s}": f"{sub.loc[s, 'c']:.3f}" for s in TEST_SETS if s in sub.index}
        entry["n_selected"] = int(sub["n_selected"].iloc[0])
        entry["jaccard"] = f"{sub['jaccard_vs_auto'].iloc[0]:.2f}"
        v[src] = entry
    w = variants["widths"]
    for name, key in ((MULTIMODAL, "multimodal"), ("us_peri", "us_peri"), ("mri_peri", "mri_peri")):
        ext = w[(w["signature"] == name) & (w["set"] == "external")]
        if len(ext):
            v[f"{key}_external_range"] = f"{ext['c'].min():.3f} to {ext['c'].max():.3f}"
    return {"variants": v}


def mask_source_display(v: Mapping[str, Any]) -> pd.DataFrame:
    """The mask-source table as the paper prints it: per signature and source, the test C
    and the overlap of the selected features with the analysis masks' signature."""
    d = v["sources"]
    rows = []
    for name in [n for n in VARIANT_SIGNATURES if n in set(d["signature"])]:
        for src in dict.fromkeys(d["source"]):
            sub = d[(d["signature"] == name) & (d["source"] == src)].set_index("set")
            if sub.empty:
                continue
            row = {"Signature": _signature_label(name), "Masks": SOURCE_LABELS.get(src, src)}
            for s in TEST_SETS:
                if s in sub.index:
                    r = sub.loc[s]
                    row[f"C, {SPLIT_LABELS[s].lower()} (95% CI)"] = f"{r.c:.3f} ({r.lower:.3f}-{r.upper:.3f})"
            first = sub.iloc[0]
            row["Features selected"] = int(first["n_selected"])
            row["Overlap with automatic (Jaccard)"] = "–" if src == ANALYSIS_MASK else f"{first['jaccard_vs_auto']:.2f}"
            rows.append(row)
    return pd.DataFrame(rows)


def _signature_label(name: str) -> str:
    return "Multi-modal (feeds the models)" if name == MULTIMODAL else SIGNATURES[name][0]


def harmonisation_display(h: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two harmonisation tables as the paper prints them: centre effects per region,
    and the signatures' external C."""
    e = h["effects"].merge(h["blocks"][["block", "n_harmonised", "n_constant"]], on="block")
    effects = pd.DataFrame({
        "Region": block_labels(e["block"], MODALITY_LABELS, REGION_LABELS),
        "Features tested": e["n_features"].astype(int),
        "Differ by centre, as extracted": [f"{n} ({p:.0f}%)" for n, p in zip(e["n_differ_before"],
                                                                              e["pct_differ_before"])],
        "Differ by centre, after ComBat": [f"{n} ({p:.0f}%)" for n, p in zip(e["n_differ_after"],
                                                                             e["pct_differ_after"])],
        "Left as extracted (constant in a centre)": e["n_constant"].astype(int),
    })
    d = h["discrimination"]
    disc = pd.DataFrame({
        "Signature": [_signature_label(n) for n in d["signature"]],
        "External test, n (events)": [f"{n} ({ev})" for n, ev in zip(d["n"], d["events"])],
        "C as extracted (95% CI)": [f"{c:.3f} ({lo:.3f}-{hi:.3f})" for c, lo, hi in
                                    zip(d["c_raw"], d["lower_raw"], d["upper_raw"])],
        "C after ComBat (95% CI)": [f"{c:.3f} ({lo:.3f}-{hi:.3f})" for c, lo, hi in
                                    zip(d["c_harmonised"], d["lower_harmonised"], d["upper_harmonised"])],
        "Difference": [f"{b - a:+.3f}" for a, b in zip(d["c_raw"], d["c_harmonised"])],
    })
    return effects, disc


def sensitivity_variables(params: Mapping[str, Any], null: pd.DataFrame, summary: pd.DataFrame,
                          comparison: pd.DataFrame | None, shrink: float,
                          harmonisation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``sensitivity`` variables (formatted strings and counts)."""
    failed = null["failed"].fillna("").astype(str) != "" if len(null) else pd.Series([], dtype=bool)
    empty = (null["n_selected"] == 0) & ~failed if len(null) else pd.Series([], dtype=bool)
    v: dict[str, Any] = {"permutation": {"n": int(params["permutation"]["n"]), "n_failed": int(failed.sum()),
                                         "n_empty": int(empty.sum())},
                         "cutpoint": {"n_folds": int(params["cutpoint"]["n_folds"])}}
    for r in summary.itertuples(index=False):
        if r.n_permutations == 0:
            continue
        v["permutation"][r.set] = {"observed_c": f"{r.observed_c:.3f}", "null_mean": f"{r.null_mean:.3f}",
                                   "null_q95": f"{r.null_q95:.3f}", "p": format_p(r.p)}
    cp = v["cutpoint"]
    cp["shrinkage"] = f"{shrink:.2f}" if np.isfinite(shrink) else "–"
    if comparison is not None and len(comparison):
        for r in comparison.itertuples(index=False):
            key = {"X-tile": "xtile", "X-tile, cross-validated": "xtile_cv", "median": "median",
                   "tertiles": "tertiles"}[r.split_by]
            cp.setdefault(r.set, {})[key] = format_ci(r.hr, r.hr_lower, r.hr_upper)
    hv: dict[str, Any] = {"run": "yes" if harmonisation is not None else "no",
                          "alpha": f"{float(params['harmonisation']['alpha']):g}"}
    if harmonisation is not None:
        e = harmonisation["effects"]
        n_tested = int(e["n_features"].sum())
        hv.update(n_tested=n_tested,
                  pct_before=f"{100 * e['n_differ_before'].sum() / max(n_tested, 1):.0f}",
                  pct_after=f"{100 * e['n_differ_after'].sum() / max(n_tested, 1):.0f}",
                  n_constant=int(harmonisation["blocks"]["n_constant"].sum()),
                  n_batches=int(harmonisation["batch"].dropna().nunique()) - 1)
        d = harmonisation["discrimination"].set_index("signature")
        if MULTIMODAL in d.index:
            r = d.loc[MULTIMODAL]
            hv["multimodal"] = {"c_raw": f"{r.c_raw:.3f}", "c_harmonised": f"{r.c_harmonised:.3f}",
                                "difference": f"{r.c_harmonised - r.c_raw:+.3f}"}
        diffs = (d["c_harmonised"] - d["c_raw"]).abs()
        hv["max_abs_difference"] = f"{diffs.max():.3f}"
    v["harmonisation"] = hv
    return v


def write_sensitivity_artefacts(ctx: StageContext, cohort: CohortOutputs, features: FeatureOutputs,
                                radscores: pd.DataFrame, segmentation: SegmentationOutputs | None = None,
                                truth: pd.DataFrame | None = None) -> dict:
    """Run the analyses and write every declared output. Returns the variables."""
    from ..plots.sensitivity import permutation_figure
    from ..plots.style import message_figure

    params = ctx.params
    sp = ctx.profile["signatures"]
    with ctx.timed("feature matrix"):
        X, flagged = features.wide(sp["filters"]["drop_icc_flagged"])
        outcome = cohort_outcomes(cohort.data, X.index, ctx.profile["time_unit"])
    if not radscores.index.sort_values().equals(X.index.sort_values()):
        raise StageError("06_sensitivity: the feature matrix and 03_signatures' Rad-scores cover different patients; "
                         "run 03_signatures again")
    score = radscores.loc[X.index, MULTIMODAL]
    observed = {s: c_on_set(score, outcome, s) for s in TEST_SETS}

    n = int(params["permutation"]["n"])
    with ctx.timed(f"permutation null ({n} developments)"):
        null = permutation_null(X, outcome, flagged, sp, ctx.seed, n, n_jobs=ctx.n_jobs, progress=True)
    null.to_csv(ctx.path("permutation_null.csv"), index=False, lineterminator="\n", float_format="%.10g")
    summary = permutation_summary(null, observed)
    summary.to_csv(ctx.path("permutation_summary.csv"), index=False, lineterminator="\n", float_format="%.10g")
    shown = (permutation_display(summary) if n > 0 else
             pd.DataFrame({"Permutation null": ["Not run (sensitivity.permutation.n: 0)."]}))
    ctx.write_table(shown, "permutation_table.md", label="permutation",
                    caption="Permutation null of the whole development: the multi-modal signature's Harrell's C on "
                            "each test set against the C of signatures developed, with every selection step, on "
                            "permuted training outcomes. p = (1 + number of permuted C at least as high) / "
                            "(permutations + 1).")
    if n > 0:
        permutation_figure(null, summary, ctx.path("fig-permutation.png"), {s: SPLIT_LABELS[s] for s in TEST_SETS})
    else:
        message_figure(ctx.path("fig-permutation.png"), "No permutation null\n(sensitivity.permutation.n: 0)")

    train = (outcome["split"] == "train").to_numpy()
    comparison = None
    shrink = float("nan")
    with ctx.timed("cut-points"):
        if np.ptp(score.to_numpy()[train]) > 0:
            cut = ctx.profile["signatures"]["cutpoint"]
            # 03's X-tile rule, without its permutations and bootstrap (the cut itself is deterministic)
            groups = RiskGroups(min_prop=cut["min_prop"], max_prop=1 - cut["min_prop"], n_permutations=0,
                                n_bootstrap=0).fit(score.to_numpy()[train], outcome.loc[train, "time"],
                                                   outcome.loc[train, "event"])
            comparison = cutpoint_comparison(score, outcome, groups, int(params["cutpoint"]["n_folds"]),
                                             [ctx.seed, STREAM_CUTPOINT_CV])
            shrink = shrinkage(comparison)
            comparison.to_csv(ctx.path("cutpoints.csv"), index=False, lineterminator="\n", float_format="%.10g")
            table = cutpoint_display(comparison)
        else:
            pd.DataFrame(columns=["set", "split_by"]).to_csv(ctx.path("cutpoints.csv"), index=False)
            table = pd.DataFrame({"Cut-points": ["None: the multi-modal Rad-score is constant."]})
    ctx.write_table(table, "cutpoints_table.md", label="cutpoints",
                    caption="The X-tile cut of the multi-modal Rad-score against cuts without a search (training "
                            "median; training tertiles, top against bottom third) and against its cross-validated "
                            "version (each training patient assigned by a cut chosen without them). HR: Cox model, "
                            "high against low risk.")

    harmonisation = None
    hp = params["harmonisation"]
    if hp["run"]:
        with ctx.timed("ComBat harmonisation (and the signatures developed again)"):
            centre = cohort.data.set_index("patient_id")["center"]
            centre.index = centre.index.astype(str)
            harmonisation = harmonisation_analysis(X, outcome, centre, flagged, sp, ctx.seed, radscores, hp,
                                                   n_jobs=ctx.n_jobs)
    if harmonisation is not None:
        harmonisation["effects"].to_csv(ctx.path("combat_centre_effects.csv"), index=False, lineterminator="\n",
                                        float_format="%.10g")
        harmonisation["discrimination"].to_csv(ctx.path("combat_discrimination.csv"), index=False,
                                               lineterminator="\n", float_format="%.10g")
        effects_table, disc_table = harmonisation_display(harmonisation)
    else:
        why = ("not run (sensitivity.harmonisation.run: false)" if not hp["run"] else
               "not applicable: the cohort has no external centre")
        pd.DataFrame(columns=["block"]).to_csv(ctx.path("combat_centre_effects.csv"), index=False)
        pd.DataFrame(columns=["signature"]).to_csv(ctx.path("combat_discrimination.csv"), index=False)
        effects_table = pd.DataFrame({"ComBat harmonisation": [why[0].upper() + why[1:] + "."]})
        disc_table = effects_table
    ctx.write_table(effects_table, "centre_effects_table.md", label="centre-effects",
                    caption="Centre effects in the radiomic features before and after ComBat: the features whose "
                            "distribution differs between the training set and the external centres (Kruskal-Wallis, "
                            f"Benjamini-Hochberg adjusted p < {float(hp['alpha']):g}), per modality and region.")
    ctx.write_table(disc_table, "harmonisation_table.md", label="harmonisation",
                    caption="Harrell's C of each signature on the external test set, with its features as extracted "
                            "and after reference-batch ComBat (the training set as reference; each external centre's "
                            "location and scale estimated from its own features, without outcomes). The signatures "
                            "are the same in both columns.")

    variants = None
    if params["variants"]["run"] and segmentation is not None:
        with ctx.timed("mask source and ring width (regions, reduced extraction, developments)"):
            variants = region_variants_analysis(cohort, segmentation, truth, flagged, ctx.profile,
                                                params["variants"], ctx.seed, ctx.build_dir / "cache" / "features",
                                                ctx.root, n_jobs=ctx.n_jobs)
    write_variant_artefacts(ctx, variants, params)

    v = sensitivity_variables(params, null, summary, comparison, shrink, harmonisation)
    v.update(variant_variables(variants, params))
    ctx.write_variables({"sensitivity": v})
    return v

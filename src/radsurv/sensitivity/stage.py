"""The sensitivity stage (``notebooks/06_sensitivity.ipynb``): questions reviewers of
radiomics papers ask, answered by re-running the real development.

1. **Permutation null of the whole development** (:mod:`.permutation`): the multi-modal
   signature developed again on permuted training outcomes, B times, scored on the
   untouched test sets; the observed test C against that null. Each permutation also
   records the X-tile statistic of its training Rad-score against its permuted outcomes:
   the observed one against these is the training-set p of the risk-group split.
2. **Cut-point** (:mod:`.cutpoints`): the X-tile cut against the training median and
   tertiles and against its own cross-validated version (of the pre-validated
   Rad-score), and the shrinkage of its hazard ratio.
3. **ComBat harmonisation** (:mod:`.harmonisation`): the external centres' features
   mapped onto the training set's by reference-batch ComBat; centre effects before and
   after, and the signatures' external C with and without it.
4. **Mask source and ring width** (:mod:`.variants`): the signatures developed again
   from the reader's masks, the true masks (twin) and the analysis masks' rings of other
   widths, with a declared reduced set of image types, against the analysis masks with
   the same set.
5. **Outcome draws** (:mod:`.outcome_draws`, the twin only): the twin's outcomes drawn
   again with the same patients, images and features, each draw developed as ``03`` and
   ``04`` develop the build's; the build's own C-indices placed among them.
6. **Scanner agreement** (:mod:`.scanner_agreement`, the twin only): travelling lesions
   scanned twice on every centre's scanner; each feature's repeatability and its agreement
   across scanners, beside published studies.

The stage reads the feature matrices (``02_features``), the Rad-scores (``03_signatures``)
and the cohort, and repeats ``03``'s development with ``03``'s own parameters (the
``signatures`` section), so the null is the null of exactly the pipeline the paper
reports. The notebook computes each analysis with the library's functions and result
objects; :func:`write_sensitivity_artefacts` takes them and only formats and writes the
outputs declared in :mod:`radsurv.stages.registry`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..labels import ANALYSIS_MASK, FEATURE_CLASS_LABELS, MODALITY_LABELS, REGION_LABELS, SPLIT_LABELS
from ..report.formatting import MISSING, format_ci, format_p
from ..signatures.development import MULTIMODAL
from ..stages.context import StageContext
from .cutpoints import NO_CUT, SPLIT_BY, CutpointCheck
from .harmonisation import Harmonisation, block_labels
from .permutation import TEST_SETS, PermutationNull
from .reported import REPORTED_SIGNATURES, reported_label
from .outcome_draws import OutcomeDraws
from .scanner_agreement import AGREEMENT_COLUMNS, ScannerAgreement
from .variants import SOURCE_LABELS, MaskSources, RingWidths, VariantExtraction

__all__ = ["XTILE_P_COLUMN", "cutpoint_display", "harmonisation_display", "mask_source_display",
           "outcome_draws_display", "outcome_draws_variables", "permutation_display", "scanner_agreement_display",
           "scanner_agreement_variables", "sensitivity_variables", "variant_variables", "write_sensitivity_artefacts"]


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


#: The cut-point table's column with the whole-development permutation p of the X-tile split.
XTILE_P_COLUMN = "Whole-development permutation p"


def _counts(r) -> str:
    """``low (events) / high (events)``, or "–" where the split could not be formed."""
    if not np.isfinite(float(r.n_low)):
        return "–"
    return f"{int(r.n_low)} ({int(r.events_low)}) / {int(r.n_high)} ({int(r.events_high)})"


def cutpoint_display(comparison: pd.DataFrame, xtile_p: float | None = None) -> pd.DataFrame:
    """The cut-point table as the paper prints it.

    ``xtile_p``: the whole-development permutation p of the X-tile split
    (:meth:`PermutationNull.xtile`); given, a last column holds it on the training X-tile
    row ("–" elsewhere: no other split was searched under the null). None: the table as
    without a permutation null."""
    rows = []
    for r in comparison.itertuples(index=False):
        row = {"Set": SPLIT_LABELS[r.set], "Split": SPLIT_BY[r.split_by],
               "Cut": "–" if not np.isfinite(r.cut) else f"{r.cut:.3f}",
               "Low / high, n (events)": _counts(r),
               "HR high vs low (95% CI)": format_ci(r.hr, r.hr_lower, r.hr_upper),
               "Log-rank p": format_p(r.logrank_p)}
        if xtile_p is not None:
            row[XTILE_P_COLUMN] = format_p(xtile_p) if (r.set, r.split_by) == ("train", "X-tile") else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def variant_variables(extraction: VariantExtraction | None, mask_sources: MaskSources | None,
                      ring_widths: RingWidths | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``sensitivity.variants`` variables (formatted strings and counts)."""
    widths = [f"{w:g}" for w in sorted(params["variants"]["widths_mm"])]
    v: dict[str, Any] = {"run": "yes" if extraction is not None else "no",
                         "widths": ", ".join(widths[:-1]) + " and " + widths[-1] if len(widths) > 1 else widths[0]}
    if extraction is None:
        return {"variants": v}
    types = extraction.image_types
    names = {"Original": "original", "LoG": "Laplacian-of-Gaussian", "Wavelet": "wavelet"}
    phrase = {m: " and ".join(names.get(t, t) for t in ts) for m, ts in types.items()}
    classes = {m: ", ".join(FEATURE_CLASS_LABELS.get(c, c) for c in cs)
               for m, cs in extraction.feature_classes.items()}
    phrase = {m: f"{p} image ({classes[m]})" for m, p in phrase.items()}
    v["image_types"] = (f"the {next(iter(phrase.values()))}" if len(set(phrase.values())) == 1 else
                        "; ".join(f"{MODALITY_LABELS[m]}: the {p}" for m, p in phrase.items()))
    v["n_patients"] = int(mask_sources.n_patients)
    v["ring_mm"] = f"{extraction.ring_mm:g}"
    d = mask_sources.sources
    mm = d[d["signature"] == MULTIMODAL]
    for src in dict.fromkeys(mm["source"]):
        sub = mm[mm["source"] == src].set_index("set")
        entry = {f"c_{s}": f"{sub.loc[s, 'c']:.3f}" for s in TEST_SETS if s in sub.index}
        entry["n_selected"] = int(sub["n_selected"].iloc[0])
        entry["jaccard"] = f"{sub['jaccard_vs_auto'].iloc[0]:.2f}"
        v[src] = entry
    w = ring_widths.widths
    for name, key in ((MULTIMODAL, "multimodal"), ("us_peri", "us_peri"), ("mri_peri", "mri_peri")):
        ext = w[(w["signature"] == name) & (w["set"] == "external")]
        if len(ext):
            v[f"{key}_external_range"] = f"{ext['c'].min():.3f} to {ext['c'].max():.3f}"
    return {"variants": v}


def mask_source_display(mask_sources: MaskSources) -> pd.DataFrame:
    """The mask-source table as the paper prints it: per signature and source, the test C
    and the overlap of the selected features with the analysis masks' signature."""
    d = mask_sources.sources
    rows = []
    for name in [n for n in REPORTED_SIGNATURES if n in set(d["signature"])]:
        for src in dict.fromkeys(d["source"]):
            sub = d[(d["signature"] == name) & (d["source"] == src)].set_index("set")
            if sub.empty:
                continue
            row = {"Signature": reported_label(name), "Masks": SOURCE_LABELS.get(src, src)}
            for s in TEST_SETS:
                if s in sub.index:
                    r = sub.loc[s]
                    row[f"C, {SPLIT_LABELS[s].lower()} (95% CI)"] = f"{r.c:.3f} ({r.lower:.3f}-{r.upper:.3f})"
            first = sub.iloc[0]
            row["Features selected"] = int(first["n_selected"])
            row["Overlap with automatic (Jaccard)"] = "–" if src == ANALYSIS_MASK else f"{first['jaccard_vs_auto']:.2f}"
            rows.append(row)
    return pd.DataFrame(rows)


def harmonisation_display(h: Harmonisation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two harmonisation tables as the paper prints them: centre effects per region,
    and the signatures' external C."""
    e = h.effects.table.merge(h.blocks[["block", "n_harmonised", "n_constant"]], on="block")
    effects = pd.DataFrame({
        "Region": block_labels(e["block"], MODALITY_LABELS, REGION_LABELS),
        "Features tested": e["n_features"].astype(int),
        "Differ by centre, as extracted": [f"{n} ({p:.0f}%)" for n, p in zip(e["n_differ_before"],
                                                                              e["pct_differ_before"])],
        "Differ by centre, after ComBat": [f"{n} ({p:.0f}%)" for n, p in zip(e["n_differ_after"],
                                                                             e["pct_differ_after"])],
        "Left as extracted (constant in a centre)": e["n_constant"].astype(int),
    })
    d = h.discrimination
    disc = pd.DataFrame({
        "Signature": [reported_label(n) for n in d["signature"]],
        "External test, n (events)": [f"{n} ({ev})" for n, ev in zip(d["n"], d["events"])],
        "C as extracted (95% CI)": [f"{c:.3f} ({lo:.3f}-{hi:.3f})" for c, lo, hi in
                                    zip(d["c_raw"], d["lower_raw"], d["upper_raw"])],
        "C after ComBat (95% CI)": [f"{c:.3f} ({lo:.3f}-{hi:.3f})" for c, lo, hi in
                                    zip(d["c_harmonised"], d["lower_harmonised"], d["upper_harmonised"])],
        "Difference": [f"{b - a:+.3f}" for a, b in zip(d["c_raw"], d["c_harmonised"])],
    })
    return effects, disc


#: Why ComBat's effect on the multi-modal signature is not reported when its Rad-score is constant.
NO_COMBAT_MULTIMODAL = ("the multi-modal signature's external C with and without ComBat cannot be compared: it "
                        "selected no feature, so its C is 0.5 whatever the features")


#: The rows of the outcome-draw table, in the paper's order: what the measure is (the
#: multi-modal Rad-score's C is the signature's, model 4, and is not repeated).
_DRAW_ROWS = {"clinical": "Clinical model", "mri": "Traditional MRI model",
              "clinical_mri": "Clinical + traditional MRI model", "signature": "Multi-modal radiomics signature",
              "radiomics": "Multi-modal radiomics model", "imaging": "Multi-modal clinical imaging model",
              "oracle": "Oracle (true linear predictor)"}


def outcome_draws_display(draws: OutcomeDraws) -> pd.DataFrame:
    """The paper's table of the build's own C among the outcome redraws: per model and
    test set, this build's C, the redraws' mean (SD) and 10th-90th percentiles, and the
    build's percentile among them."""
    summary = draws.summary()
    rows = []
    for key, label in _DRAW_ROWS.items():
        for s in TEST_SETS:
            name = f"{key}_{s}"
            if name not in summary.index or not summary.loc[name, "draws"]:
                continue
            r = summary.loc[name]
            rows.append({"Model": label, "Set": SPLIT_LABELS[s], "This build": f"{r['own']:.3f}",
                         "Redraws, mean (SD)": f"{r['mean']:.3f} ({r['sd']:.3f})" if np.isfinite(r["sd"])
                         else f"{r['mean']:.3f}",
                         "10th-90th percentile": f"{r['p10']:.3f}-{r['p90']:.3f}",
                         "Percentile of this build": f"{r['percentile']:.0f}"})
    return pd.DataFrame(rows)


def outcome_draws_variables(draws: OutcomeDraws) -> dict[str, Any]:
    """The ``sensitivity.outcome_draws`` variables: the number of redraws (developed and
    failed), the clinical imaging model's share of draws as the best of the six on the
    external set, and per measure the build's C, the redraws' mean and the percentile."""
    summary = draws.summary()
    v: dict[str, Any] = {"n": int(len(draws.draws)), "n_developed": int(len(draws.developed)),
                         "n_failed": int(draws.n_failed)}
    share = draws.best_share()
    if np.isfinite(share):
        v["imaging_best_pct"] = f"{100 * share:.0f}"
    for name, r in summary.iterrows():
        if r["draws"]:
            v[name] = {"own": f"{r['own']:.3f}", "mean": f"{r['mean']:.3f}", "percentile": f"{r['percentile']:.0f}"}
    return v


def _pct(x: float) -> str:
    return f"{100 * x:.0f}" if np.isfinite(x) else MISSING


def scanner_agreement_display(agreement: ScannerAgreement) -> pd.DataFrame:
    """The paper's table of the travelling lesions: per modality and region, the features'
    median test-retest ICC on the internal centre's scanner and their median ICC across the
    scanners, each with the shares of good (>= 0.75) and excellent (>= 0.90) features, and
    the share whose systematic scanner offset carries more than half their variance."""
    rows = []
    for r in agreement.summary().itertuples(index=False):
        rows.append({"Modality": MODALITY_LABELS.get(r.modality, r.modality),
                     "Region": REGION_LABELS.get(r.region, r.region), "Features": r.n_features,
                     "Same scanner: median ICC": f"{r.retest_median:.2f}",
                     "Same scanner: ICC >= 0.75 / 0.90 (%)": f"{_pct(r.retest_good)} / {_pct(r.retest_excellent)}",
                     "Across scanners: median ICC": f"{r.between_median:.2f}",
                     "Across scanners: ICC >= 0.75 / 0.90 (%)": f"{_pct(r.between_good)} / {_pct(r.between_excellent)}",
                     "Scanner offset > half the variance (%)": _pct(r.scanner_share_over_half)})
    return pd.DataFrame(rows)


def scanner_agreement_variables(agreement: ScannerAgreement) -> dict[str, Any]:
    """The ``sensitivity.scanner_agreement`` variables: lesions per modality, scanners, and per
    modality and region the median ICCs (same scanner, across scanners) and the shares of
    excellent features; per modality the share of features whose scanner offset carries more
    than half their variance."""
    v: dict[str, Any] = {"n": int(max(agreement.n_lesions.values(), default=0)), "scanners": len(agreement.centers),
                         "retest_center": str(agreement.retest_center)}
    for r in agreement.summary().itertuples(index=False):
        v[f"{r.modality}_{r.region}"] = {
            "retest_median": f"{r.retest_median:.2f}", "retest_excellent_pct": _pct(r.retest_excellent),
            "between_median": f"{r.between_median:.2f}", "between_excellent_pct": _pct(r.between_excellent)}
    for modality, group in agreement.table.groupby("modality", sort=False):
        share = group["scanner_share"].dropna()
        v[f"{modality}_offset_pct"] = _pct(float((share > 0.5).mean()) if len(share) else float("nan"))
    return v


def sensitivity_variables(params: Mapping[str, Any], null: pd.DataFrame, summary: pd.DataFrame,
                          comparison: pd.DataFrame | None, shrink: float,
                          harmonisation: Harmonisation | None = None, radscore_constant: bool = False,
                          xtile: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The ``sensitivity`` variables (formatted strings and counts).

    ``radscore_constant``: the multi-modal Rad-score selected no feature (no cut-point
    check); written as ``radscore_constant: true`` only then, and the multi-modal
    signature's ComBat comparison (C = 0.5 either way) is left out.

    ``xtile``: :meth:`PermutationNull.xtile`; written as ``permutation.xtile``
    (``observed``, ``null_mean``, ``null_q95``, ``n``, ``p``) when its p is defined and the
    Rad-score was cut (not constant)."""
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
    if (xtile is not None and not radscore_constant and np.isfinite(xtile.get("p", np.nan))
            and int(xtile.get("n_permutations", 0)) > 0):
        v["permutation"]["xtile"] = {"observed": f"{xtile['observed']:.2f}", "null_mean": f"{xtile['null_mean']:.2f}",
                                     "null_q95": f"{xtile['null_q95']:.2f}", "n": int(xtile["n_permutations"]),
                                     "p": format_p(xtile["p"])}
    if radscore_constant:   # written only then: the quick profile's variables are unchanged
        v["radscore_constant"] = True
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
        e = harmonisation.effects.table
        n_tested = int(e["n_features"].sum())
        hv.update(n_tested=n_tested,
                  pct_before=f"{100 * e['n_differ_before'].sum() / max(n_tested, 1):.0f}",
                  pct_after=f"{100 * e['n_differ_after'].sum() / max(n_tested, 1):.0f}",
                  n_constant=int(harmonisation.blocks["n_constant"].sum()),
                  n_batches=int(harmonisation.batch.dropna().nunique()) - 1)
        d = harmonisation.discrimination.set_index("signature")
        if MULTIMODAL in d.index and not radscore_constant:
            r = d.loc[MULTIMODAL]
            hv["multimodal"] = {"c_raw": f"{r.c_raw:.3f}", "c_harmonised": f"{r.c_harmonised:.3f}",
                                "difference": f"{r.c_harmonised - r.c_raw:+.3f}"}
        diffs = (d["c_harmonised"] - d["c_raw"]).abs()
        hv["max_abs_difference"] = f"{diffs.max():.3f}"
    v["harmonisation"] = hv
    return v


def write_sensitivity_artefacts(ctx: StageContext, permutation: PermutationNull, cutpoints: CutpointCheck,
                                harmonisation: Harmonisation | None = None,
                                extraction: VariantExtraction | None = None, mask_sources: MaskSources | None = None,
                                ring_widths: RingWidths | None = None, harmonisation_note: str = "",
                                outcome_draws: OutcomeDraws | None = None, outcome_draws_note: str = "",
                                scanner_agreement: ScannerAgreement | None = None,
                                scanner_agreement_note: str = "") -> dict:
    """Write every declared output of the sensitivity analyses from what the notebook computed.

    Parameters
    ----------
    ctx : StageContext
    permutation : PermutationNull
        The permutation null of the development (:meth:`PermutationNull.run`).
    cutpoints : CutpointCheck
        :func:`radsurv.sensitivity.cutpoint_check` of the multi-modal Rad-score.
    harmonisation : Harmonisation or None
        ComBat and what it changes; None when not run or without an external centre.
    extraction, mask_sources, ring_widths : optional
        The variant regions' features (:func:`radsurv.sensitivity.extract_region_variants`), the
        developments on each mask source (:meth:`MaskSources.run`) and ring width
        (:meth:`RingWidths.run`); None when not run.
    harmonisation_note : str
        Why ComBat could not be estimated on this cohort (:func:`radsurv.preconditions.combat_batches`'
        message), or "".
    outcome_draws : OutcomeDraws or None
        The build's own draw among redraws of the twin's outcomes (:meth:`OutcomeDraws.run`);
        None when not run.
    outcome_draws_note : str
        Why the outcome draws were not run (a user's cohort; ``sensitivity.outcome_draws.n: 0``).
    scanner_agreement : ScannerAgreement or None
        The travelling lesions' repeatability and agreement across scanners
        (:func:`radsurv.sensitivity.measure_scanner_agreement`); None when not run.
    scanner_agreement_note : str
        Why it was not run (a user's cohort; ``sensitivity.scanner_agreement.n: 0``).

    Returns
    -------
    dict
        The ``sensitivity`` variables of the manuscript.
    """
    from ..plots.sensitivity import permutation_figure, ring_width_figure
    from ..plots.style import message_figure, save_figure

    params = ctx.params
    n = permutation.n_permutations
    summary = permutation.summary()
    ctx.write_data(permutation.null, "permutation_null.csv")
    ctx.write_data(summary, "permutation_summary.csv")
    shown = (permutation_display(summary) if n > 0 else
             pd.DataFrame({"Permutation null": ["Not run (sensitivity.permutation.n: 0)."]}))
    ctx.write_table(shown, "permutation_table.md", label="permutation",
                    caption="Permutation null of the whole development: the multi-modal signature's Harrell's C on "
                            "each test set against the C of signatures developed, with every selection step, on "
                            "permuted training outcomes. p = (1 + number of permuted C at least as high) / "
                            "(permutations + 1).")
    if n > 0:
        permutation_figure(permutation, ctx.path("fig-permutation.png"))
    else:
        message_figure(ctx.path("fig-permutation.png"), "No permutation null\n(sensitivity.permutation.n: 0)")

    comparison = cutpoints.comparison
    xtile = permutation.xtile()
    # the permutation p of the X-tile split, shown only where the null was run and recorded it
    xtile_p = xtile["p"] if comparison is not None and n > 0 and np.isfinite(xtile["p"]) else None
    if comparison is not None:
        ctx.write_data(comparison, "cutpoints.csv")
        table = cutpoint_display(comparison, xtile_p)
    else:
        ctx.write_data(pd.DataFrame(columns=["set", "split_by"]), "cutpoints.csv")
        table = pd.DataFrame({"Cut-points": [NO_CUT[0].upper() + NO_CUT[1:] + "."]})
    ctx.write_table(table, "cutpoints_table.md", label="cutpoints",
                    caption="The X-tile cut of the multi-modal Rad-score against cuts without a search (training "
                            "median; training tertiles, top against bottom third) and against its cross-validated "
                            "version (each training patient assigned by a cut chosen without them). HR: Cox model, "
                            "high against low risk." + (
                                " Cross-validated split: of the pre-validated Rad-score (each training patient "
                                "scored by the cross-validation fit made without their fold)."
                                if cutpoints.score_cv == "pre-validated" and comparison is not None else "") + (
                                f" {XTILE_P_COLUMN}: the training X-tile split's maximally selected log-rank "
                                "statistic against those of the signatures developed on permuted training outcomes "
                                f"({xtile['n_permutations']} permutations); the log-rank p beside "
                                "it corrects for neither the search over cuts nor the fit of the Rad-score."
                                if xtile_p is not None else ""))

    hp = params["harmonisation"]
    if harmonisation is not None:
        ctx.write_data(harmonisation.effects.table, "combat_centre_effects.csv")
        ctx.write_data(harmonisation.discrimination, "combat_discrimination.csv")
        effects_table, disc_table = harmonisation_display(harmonisation)
    else:
        why = ("not run (sensitivity.harmonisation.run: false)" if not hp["run"] else
               harmonisation_note or "not applicable: the cohort has no external centre")
        ctx.write_data(pd.DataFrame(columns=["block"]), "combat_centre_effects.csv")
        ctx.write_data(pd.DataFrame(columns=["signature"]), "combat_discrimination.csv")
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

    if extraction is None or mask_sources is None or ring_widths is None:
        why = ("Not run (sensitivity.variants.run: false)." if not params["variants"]["run"] else
               "Not run: no segmentation outputs.")
        ctx.write_data(pd.DataFrame(columns=["source"]), "mask_source.csv")
        ctx.write_data(pd.DataFrame(columns=["width_mm"]), "ring_width.csv")
        table = pd.DataFrame({"Mask source and ring width": [why]})
        message_figure(ctx.path("fig-ring-width.png"), "No ring-width sweep\n" + why)
        extraction = None
    else:
        ctx.write_data(mask_sources.sources, "mask_source.csv")
        ctx.write_data(ring_widths.widths, "ring_width.csv")
        table = mask_source_display(mask_sources)
        ring_width_figure(ring_widths, ctx.path("fig-ring-width.png"))
    ctx.write_table(table, "mask_source_table.md", label="mask-source",
                    caption="The signatures developed again, with every step of the development, from the analysis "
                            "masks and, where the cohort has them, the reader's masks and (simulated cohort) the true "
                            "lesion masks, on the same "
                            "patients and sets and with the same reduced set of image types: Harrell's C on the test "
                            "sets, the features selected and their overlap with the signature from the analysis masks.")

    if outcome_draws is not None:
        ctx.write_data(outcome_draws.draws, "outcome_draws.csv")
        table = outcome_draws_display(outcome_draws)
        fig = outcome_draws.plot().figure
        save_figure(fig, ctx.path("fig-outcome-draws.png"))
    else:
        why = outcome_draws_note or "Not run."
        ctx.write_data(pd.DataFrame(columns=["outcome_seed"]), "outcome_draws.csv")
        table = pd.DataFrame({"Outcome draws": [why]})
        message_figure(ctx.path("fig-outcome-draws.png"), "No outcome draws\n" + why)
    ctx.write_table(table, "outcome_draws_table.md", label="outcome-draws",
                    caption="This build's outcomes are one draw of the simulated cohort's: Harrell's C of the "
                            "multi-modal Rad-score, the six models and the oracle on the test sets against "
                            f"{len(outcome_draws.draws) if outcome_draws is not None else 0} other draws of the "
                            "outcomes (same patients, images and features; split, signatures and models developed "
                            "again as for this build), and this build's mid-rank percentile among them.")

    if scanner_agreement is not None:
        ctx.write_data(scanner_agreement.table, "scanner_agreement.csv")
        table = scanner_agreement_display(scanner_agreement)
        save_figure(scanner_agreement.plot().figure, ctx.path("fig-scanner-agreement.png"))
        n_lesions = max(scanner_agreement.n_lesions.values(), default=0)
    else:
        why = scanner_agreement_note or "Not run."
        ctx.write_data(pd.DataFrame(columns=AGREEMENT_COLUMNS), "scanner_agreement.csv")
        table = pd.DataFrame({"Scanner agreement": [why]})
        message_figure(ctx.path("fig-scanner-agreement.png"), "No travelling lesions\n" + why)
        n_lesions = 0
    ctx.write_table(table, "scanner_agreement_table.md", label="scanner-agreement",
                    caption=f"How much the simulated scanners move the radiomic features: {n_lesions} lesions per "
                            "modality, not the cohort's, each scanned twice on every centre's scanner (the tumour "
                            "kept; the breast around it, the placement, noise and texture drawn again), features "
                            "from the true lesion mask and its ring. ICC(A,1) of each feature between the two scans "
                            "on the internal centre's scanner (same scanner) and between the first scans on every "
                            "scanner (across scanners), the shares of features at least good (0.75) and excellent "
                            "(0.90), and the share whose systematic scanner offset, 1 - ICC(A,1)/ICC(C,1), is more "
                            "than half their variance. For comparison: 16.5% of breast T1-weighted features had a "
                            "test-retest CCC above 0.90 in healthy volunteers on one 1.5 T protocol [@granzier2022].")

    # cutpoint_check finds no cut only when the training Rad-score is constant (no feature selected)
    constant = comparison is None
    v = sensitivity_variables(params, permutation.null, summary, comparison, cutpoints.shrinkage, harmonisation,
                              radscore_constant=constant, xtile=xtile)
    v.update(variant_variables(extraction, mask_sources, ring_widths, params))
    if outcome_draws is not None:
        v["outcome_draws"] = outcome_draws_variables(outcome_draws)
    if scanner_agreement is not None:
        v["scanner_agreement"] = scanner_agreement_variables(scanner_agreement)
    missing = [NO_CUT] if constant else []
    missing += [cutpoints.note] if cutpoints.note else []
    if constant and harmonisation is not None:
        missing.append(NO_COMBAT_MULTIMODAL)
    missing += [harmonisation_note] if harmonisation_note else []
    if missing:   # written only when something could not be estimated (the paper says what and why)
        v["not_estimable"] = missing
    ctx.write_variables({"sensitivity": v})
    return v

"""The paper's paragraphs on the sensitivity analyses (stage ``06_sensitivity``), written
from the stage's variables and the profile when the paper is published.

:func:`methods` (``text-sensitivity-methods.md``): the permutation null, the cut-point
check, ComBat harmonisation and the mask-source and ring-width variants, as the profile
set them. :func:`results` (``text-sensitivity.md``): what each found in this run.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..labels import ANALYSIS_MASK, SPLIT_LABELS
from ..report.formatting import MISSING
from ..sensitivity.permutation import TEST_SETS
from .estimable import not_estimable

__all__ = ["describe_outcome_draws", "describe_outcome_draws_methods", "describe_scanner_agreement",
           "describe_scanner_agreement_methods", "describe_sensitivity",
           "describe_sensitivity_methods", "describe_variants", "methods", "results"]

def methods(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-sensitivity-methods.md`` from the profile's ``sensitivity`` section (and, for
    a simulated cohort whose outcomes were drawn again, ``sensitivity.outcome_draws``)."""
    v = variables.get("sensitivity") or {}
    text = describe_sensitivity_methods(profile["sensitivity"])
    if v.get("outcome_draws"):
        text = text.rstrip("\n") + " " + describe_outcome_draws_methods(v["outcome_draws"]) + "\n"
    if v.get("scanner_agreement"):
        text = text.rstrip("\n") + " " + describe_scanner_agreement_methods(v["scanner_agreement"]) + "\n"
    return text


def describe_outcome_draws_methods(draws: Mapping[str, Any]) -> str:
    """The Methods sentences on the outcome redraws (simulated cohort only)."""
    return (f"Since a simulated cohort's outcomes are one draw of its generative model, the simulated follow-up and "
            f"events were drawn {draws['n']} more times from the model's outcome stream with the same patients, "
            "images and features; each draw was split and developed again exactly as this build (signatures, "
            "pre-validated training Rad-scores, imputation, selection and the six models), and this build's test-set "
            "C-indices are placed among the draws' by their mid-rank percentile.")


def describe_scanner_agreement_methods(agreement: Mapping[str, Any]) -> str:
    """The Methods sentence on the travelling lesions (simulated cohort only)."""
    return (f"To size the simulated scanners' effects against published studies, {agreement['n']} lesions per "
            "modality that are not the cohort's were each scanned twice on every centre's scanner (the tumour kept; "
            "the breast around it, the placement, noise and the texture's realisation drawn again for each scan), "
            "and their features were extracted from the true lesion masks and rings: each feature's test-retest "
            f"ICC(A,1) on the internal centre's scanner and its ICC(A,1) across the {agreement['scanners']} scanners "
            "were read against Koo and Li's bands [@koo2016], and the share of its variance that is a systematic "
            "scanner offset as 1 - ICC(A,1)/ICC(C,1) [@mcgraw1996].")


def describe_scanner_agreement(agreement: Mapping[str, Any]) -> str:
    """The Results sentence on the travelling lesions, beside the published studies."""
    us, mri = agreement.get("us_intra"), agreement.get("mri_intra")
    if not us or not mri:
        return ""
    return (f"On the travelling lesions, a feature's median test-retest ICC on one scanner was {us['retest_median']} "
            f"for ultrasound and {mri['retest_median']} for MRI (intra-tumoral; {us['retest_excellent_pct']}% and "
            f"{mri['retest_excellent_pct']}% of the features excellent, against 16.5% of breast T1-weighted features "
            "in a test-retest study of volunteers [@granzier2022]), and across the scanners "
            f"{us['between_median']} and {mri['between_median']}; a systematic scanner offset carried more than half "
            f"the variance of {agreement.get('us_offset_pct', MISSING)}% of the ultrasound and "
            f"{agreement.get('mri_offset_pct', MISSING)}% of the MRI features, as inter-scanner differences rival "
            "inter-patient ones for some features on phantoms [@mackin2015] and breast lesions' feature distributions "
            "differ between 1.5 T and 3 T [@whitney2021] (@tbl-scanner-agreement, @fig-scanner-agreement).")


def describe_outcome_draws(draws: Mapping[str, Any]) -> str:
    """The Results sentence on where this build's outcome draw falls among the redraws."""
    keys = [("radscore_internal", "the multi-modal signature's internal"),
            ("radscore_external", "external"), ("imaging_external", "the clinical imaging model's external")]
    have = [(k, label) for k, label in keys if k in draws]
    if not have:
        return ""
    parts = [f"{label} C averaged {draws[k]['mean']} (this build {draws[k]['own']}, percentile "
             f"{draws[k]['percentile']})" for k, label in have]
    failed = draws.get("n_failed", 0)
    text = (f"Over {draws['n_developed']} other draws of the simulated outcomes"
            + (f" ({failed} more could not be developed)" if failed else "")
            + ", " + ", ".join(parts) + "")
    if "imaging_best_pct" in draws:
        text += (f"; the clinical imaging model was the best of the six on the external set in "
                 f"{draws['imaging_best_pct']}% of the draws")
    return text + " (@tbl-outcome-draws, @fig-outcome-draws)."


def results(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-sensitivity.md`` from the run's ``sensitivity`` variables, and what could not
    be estimated on the cohort (``not_estimable``)."""
    v = variables["sensitivity"]
    # strip: with nothing else to report the paragraph is the not-estimable sentence alone
    return (describe_sensitivity(v).rstrip("\n") + not_estimable(v)).strip() + "\n"


def describe_variants(v: Mapping[str, Any]) -> str:
    """The Results sentences on the mask source and the ring width."""
    if v.get("run") != "yes":
        return ""
    parts = []
    auto = v.get(ANALYSIS_MASK)
    if auto and "c_external" in auto:
        text = (f"With the features of {v['image_types']} only, the multi-modal signature from the analysis masks "
                f"reached an external C of {auto['c_external']}")
        said = {"reader": "reader's", "true": "true lesion"}
        others = [(said[s], v[s]) for s in ("reader", "true") if s in v and "c_external" in v[s]]
        if others:
            text += ", from " + " and from ".join(
                f"the {label} masks {o['c_external']} (selected features shared, Jaccard {o['jaccard']})"
                for label, o in others)
        parts.append(text + f" on the same {v['n_patients']} patients (@tbl-mask-source).")
    if "multimodal_external_range" in v:
        parts.append(f"Over peri-tumoral rings of {v['widths']} mm the multi-modal signature's external C ranged "
                     f"from {v['multimodal_external_range']}" +
                     (f", the ultrasound peri-tumoral signature's from {v['us_peri_external_range']}"
                      if "us_peri_external_range" in v else "") +
                     (f" and the MRI peri-tumoral signature's from {v['mri_peri_external_range']}"
                      if "mri_peri_external_range" in v else "") +
                     f" (@fig-ring-width); the analysis keeps its pre-specified {v['ring_mm']} mm.")
    return " ".join(parts)


def _variants_methods(params: Mapping[str, Any]) -> str:
    p = params["variants"]
    srcs = {"reader": "the reader's masks", "true": "the true lesion masks (simulated cohort)"}
    named = " and ".join(srcs[s] for s in p["sources"])
    return ("Two analyses asked how much the signatures depend on the regions. The whole development (every filter, "
            "LASSO-Cox with its cross-validated penalty, the multi-modal rule) was repeated on features from "
            f"{named} instead of the analysis masks, and on peri-tumoral rings of "
            f"{', '.join(f'{w:g}' for w in p['widths_mm'])} mm grown around the analysis masks, each time on the same "
            "patients and sets. To keep this affordable the regions were extracted with a reduced set of image types "
            "declared in the profile, and the reference was the analysis masks' signature developed on the same "
            "reduced set; the test-set C and the overlap of the selected features (Jaccard) were compared. The "
            "ring-width sweep is reported, not used: choosing the width with the best test C would be leakage.")


def describe_sensitivity_methods(params: Mapping[str, Any]) -> str:
    """The Methods paragraph on the sensitivity analyses."""
    n = int(params["permutation"]["n"])
    k = int(params["cutpoint"]["n_folds"])
    parts = []
    if n > 0:
        parts.append(
            "A permutation null tested the whole development against overfitting and leakage: the training "
            f"outcomes (follow-up and event together) were permuted among the training patients {n} times, and each "
            "time the multi-modal signature was developed again exactly as above (robustness flags, filters, "
            "LASSO-Cox with its cross-validated penalty, the multi-modal rule) and scored on the internal and "
            "external test sets, whose features and outcomes were untouched. The permutation p of the observed test "
            "C is the share of permuted signatures, counting the observed one, with a C at least as high "
            "[@phipson2010]. The same permutations tested the X-tile risk groups on the training set: each recorded "
            "the maximally selected log-rank statistic of its own training Rad-score against the permuted outcomes "
            "it was developed on, and the observed signature's statistic was compared with these in the same way. "
            "Because the fit of the Rad-score to the training outcomes and the search over cuts are both repeated "
            "under the null, this p-value is exact; the Lausen-Schumacher and fixed-score permutation p-values "
            "correct for the search over cuts only and, even on the pre-validated Rad-score, are approximate "
            "[@lausen1992; @tibshirani2002].")
    else:
        parts.append("No permutation null was run (sensitivity.permutation.n: 0).")
    parts.append(
        "The X-tile cut was compared with cuts that involve no search, the training median and tertiles, and with "
        "its own cross-validated version, in which each training patient is assigned by a cut chosen on the other "
        f"{k - 1} of {k} folds [@faraggi1996], applied to the pre-validated Rad-score (each training patient scored "
        "by the cross-validation fit made without their fold [@tibshirani2002]), since the training Rad-score was "
        "itself fitted to the training outcomes; the ratio of the two log hazard ratios on the training set measures "
        "how much of the optimal cut's effect is the search's [@altman1994].")
    if params["harmonisation"]["run"]:
        parts.append(_harmonisation_methods(params).strip())
    if params.get("variants", {}).get("run"):
        parts.append(_variants_methods(params))
    return " ".join(parts) + "\n"


def _harmonisation_methods(params: Mapping[str, Any]) -> str:
    h = params["harmonisation"]
    return ("Centre effects were addressed by ComBat harmonisation of the radiomic features [@johnson2007; "
            "@orlhac2018], run as a sensitivity analysis: reference-batch ComBat [@zhang2018] with the training set "
            "as the reference, whose features it leaves unchanged (so every signature is unchanged too), and each "
            "external centre a batch whose location and scale per feature were estimated from its own features with "
            f"{'parametric' if h['parametric'] else 'non-parametric'} empirical-Bayes priors, without its outcomes. "
            "This is transductive: a new centre's features must be at hand before its patients are scored. The "
            "internal test set, from the training centre, was left as extracted and took no part in any estimate. "
            "Harmonisation ran per modality and region with InMoose's port of R's sva::ComBat [@behdenna2023]. A "
            "feature was taken to differ between centres when its Kruskal-Wallis p across the training set and the "
            f"external centres, Benjamini-Hochberg adjusted [@benjamini1995], was below {float(h['alpha']):g}. ")


def describe_sensitivity(v: Mapping[str, Any]) -> str:
    """The Results paragraph on the sensitivity analyses."""
    perm = v["permutation"]
    parts = []
    for s in TEST_SETS:
        if s in perm:
            r = perm[s]
            parts.append(f"{r['observed_c']} on the {SPLIT_LABELS[s].lower()} set against a null mean of "
                         f"{r['null_mean']} (95th percentile {r['null_q95']}; permutation p {r['p']})")
    text = ""
    if parts:
        n_ok = perm["n"] - perm["n_failed"]
        empty = perm.get("n_empty", 0)
        text += (f"Against {n_ok} signatures developed on permuted training outcomes"
                 + (f" ({empty} of which kept no feature and score C = 0.5)" if empty else "")
                 + ", the multi-modal signature's test C was " + " and ".join(parts)
                 + " (@tbl-permutation, @fig-permutation)"
                 + (f"; {perm['n_failed']} permutation{'s' if perm['n_failed'] != 1 else ''} could not be developed"
                    if perm["n_failed"] else "") + ". ")
        xt = perm.get("xtile")
        if xt:
            text += (f"The X-tile split of the training Rad-score had a maximally selected log-rank statistic of "
                     f"{xt['observed']} against {xt['null_mean']} on average (95th percentile {xt['null_q95']}) for "
                     f"the signatures developed on permuted outcomes, a whole-development permutation p of "
                     f"{xt['p']} (@tbl-cutpoints): the training-set test of the risk groups with the Rad-score's fit "
                     "and the search over cuts both repeated under the null, which replaces the approximate "
                     "Lausen-Schumacher and permutation p-values that correct for the search only. ")
        if v.get("radscore_constant"):
            text += ("The multi-modal signature itself kept no feature, so its C of 0.5 is chance by construction "
                     "and the null shows how often a development on permuted outcomes does better. ")
    cp = v["cutpoint"]
    train = cp.get("train", {})
    if train.get("xtile") and train.get("xtile_cv") and train["xtile_cv"] != MISSING:
        text += (f"On the training set the X-tile cut gave a hazard ratio of {train['xtile']}, its cross-validated "
                 f"version {train['xtile_cv']}: a shrinkage of the log hazard ratio to {cp['shrinkage']} "
                 "(@tbl-cutpoints).")
    elif train.get("xtile") and train["xtile"] != MISSING:
        # no cross-validated split (the pre-validated score admits no cut; not_estimable says why)
        text += f"On the training set the X-tile cut gave a hazard ratio of {train['xtile']} (@tbl-cutpoints)."
    elif text == "" and not v.get("radscore_constant"):
        text = "No sensitivity analysis could be run: the multi-modal Rad-score is constant."
    extra = describe_variants(v.get("variants") or {})
    if extra:
        text = text.rstrip() + " " + extra
    draws = describe_outcome_draws(v.get("outcome_draws") or {})
    if draws:
        text = text.rstrip() + " " + draws
    scanners = describe_scanner_agreement(v.get("scanner_agreement") or {})
    if scanners:
        text = text.rstrip() + " " + scanners
    h = v.get("harmonisation") or {}
    if h.get("run") == "yes":
        text = text.rstrip() + (
            f" Before harmonisation {h['pct_before']}% of the {h['n_tested']} features tested differed between the "
            f"training set and the external centres, after ComBat {h['pct_after']}% (@tbl-centre-effects).")
        if "multimodal" in h:
            m = h["multimodal"]
            text += (f" The multi-modal signature's external C was {m['c_raw']} as extracted and "
                     f"{m['c_harmonised']} after ComBat ({m['difference']}); over all the signatures the C changed "
                     f"by at most {h['max_abs_difference']} (@tbl-harmonisation).")
        elif "max_abs_difference" in h:   # no multi-modal comparison (its Rad-score is constant)
            text += (f" Over the signatures the external C changed with ComBat by at most {h['max_abs_difference']} "
                     "(@tbl-harmonisation).")
    return text.strip() + "\n"

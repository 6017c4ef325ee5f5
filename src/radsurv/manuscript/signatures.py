"""The paper's paragraphs on the signatures (stage ``03_signatures``), written from the
stage's variables when the paper is published.

:func:`methods` (``text-signature-methods.md``): which signatures were developed for the
cohort's modalities, and which one fed the models. :func:`results`
(``text-signatures.md``): the multi-modal signature's C in each set against the study's,
the single-region and single-modality signatures, and the X-tile cut with its three
p-values (the uncorrected one of the training Rad-score; the Lausen-Schumacher and
permutation ones of the pre-validated Rad-score, said so); a Rad-score that selected no
feature is said so, not reported as a finding.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..labels import MODALITY_NAMES, in_sentence
from ..signatures.development import MULTIMODAL, REGION_SIGNATURES, SIGNATURES
from .estimable import not_estimable

__all__ = ["describe_design", "describe_signatures", "methods", "results"]


def methods(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-signature-methods.md`` from the run's variables (``signatures``)."""
    v = variables["signatures"]
    return describe_design([n for n in SIGNATURES if n in v], v["multimodal_rule"])


def results(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-signatures.md`` from the run's variables and the study's published C, and
    what could not be estimated on the cohort (``not_estimable``)."""
    v = variables["signatures"]
    return describe_signatures(v, profile["signatures"]["published_c"]).rstrip("\n") + not_estimable(v) + "\n"


_COUNT = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven"}


def describe_design(signatures: list[str], rule: str) -> str:
    """The Methods paragraph on which signatures were built and which fed the models,
    for the modalities the cohort has (both: the study's seven; one: three, the
    modality's own standing in for the multi-modal signature)."""
    modalities = [m for m in ("us", "mri") if m in signatures]
    n = len(signatures)
    count = _COUNT.get(n, str(n))
    if len(modalities) == 2:
        design = (f"{count} signatures were developed on the training set only: one per region (ultrasound and MRI, "
                  "intra- and peri-tumoral), one per modality (its intra- and peri-tumoral features together) and "
                  "a multi-modal one (all four regions).")
        multimodal = ("The multi-modal signature was built two ways, LASSO on the four regions' features together "
                      "and a Cox model on the four regional Rad-scores; "
                      + ("the one with the higher pre-validated C-index on the training set (each patient scored by "
                         "the cross-validation fit made without them [@tibshirani2002]) fed the models (rule: auto)."
                         if rule == "auto" else
                         f"the {'Cox model on the regional Rad-scores' if rule == 'stacked' else 'LASSO on all four regions'}"
                         f" fed the models, as the profile fixes (signatures.multimodal.feeds_models: {rule})."))
    elif len(modalities) == 1:
        m = modalities[0]
        other = MODALITY_NAMES["mri" if m == "us" else "us"]
        design = (f"{count} signatures were developed on the training set only: one per region ({MODALITY_NAMES[m]} intra- "
                  f"and peri-tumoral) and one for the modality (both regions' features together). The cohort has no "
                  f"{other}, so no multi-modal signature could be built.")
        multimodal = (f"The {MODALITY_NAMES[m]} signature took the multi-modal signature's place in the models; the "
                      "multi-modal rule (two constructions compared by pre-validated C-index) did not apply.")
    else:
        design = f"{count} signatures were developed on the training set only."
        multimodal = ""
    return design + (" " + multimodal if multimodal else "") + "\n"


def _oracle_sentence(v: Mapping[str, Any]) -> str:
    if "oracle" not in v:
        return ""
    o = v["oracle"]
    return (f" The simulation's true linear predictor, the best any model can reach on these patients, scores "
            f"{o.get('c_internal', '–')} and {o.get('c_external', '–')} on the internal and external test sets.")


def describe_signatures(v: Mapping[str, Any], published: Mapping[str, Any]) -> str:
    """The Results paragraph on the signatures, written from the variables: the oracle
    and the published values are mentioned only where they exist."""
    mm = v[MULTIMODAL]
    choice = v["multimodal_choice_label"]
    if mm.get("constant"):
        # Nothing was selected: a C of 0.500 with a zero-width CI would read as a finding
        n0, n = v.get("n_constant", 0), v.get("n_signatures", 0)
        nf = v.get("n_filtered_out", 0)
        text = (f"The multi-modal signature that feeds the models ({in_sentence(choice)}) selected no "
                f"feature on the training set, so its Rad-score is the same for every patient: it cannot rank "
                f"patients (C 0.500 by construction in every set, @tbl-signatures) and no risk groups were cut. ")
        if nf and nf == n:
            text += (f"No feature of any of the {n} signatures passed the filters: every "
                     "feature was constant, nearly constant or flagged on the training set, so LASSO had nothing "
                     "to select and every signature kept nothing.")
        else:
            text += (f"{n0} of the {n} LASSO signatures selected no feature at lambda {v['lambda_rule']}"
                     + (f" ({nf} of them because no feature passed the filters)" if nf else "")
                     + ", which is what images without prognostic signal beyond chance at this sample size give.")
        return text + _oracle_sentence(v) + "\n"
    text = (f"The multi-modal signature that feeds the models ({in_sentence(choice)}; "
            f"pre-validated C on training {v['cv_c_union']} for the union and {v['cv_c_stacked']} for the stacked "
            f"way) reached a C-index of {mm.get('c_internal', '–')} (95% CI {mm.get('c_internal_ci', '–')}) on the "
            f"internal and {mm.get('c_external', '–')} ({mm.get('c_external_ci', '–')}) on the external test set, "
            f"against {mm.get('c_train', '–')} on the training set it was developed on (@tbl-signatures).")
    text += _oracle_sentence(v)
    if published.get("internal") is not None and published.get("external") is not None:
        text += (f" The study reported {published['internal']:.3f} and {published['external']:.3f} for its "
                 "multi-modal signature.")
    singles = [v[n] for n in REGION_SIGNATURES if n in v and "c_external" in v[n]]
    if singles:
        ext = sorted(float(s["c_external"]) for s in singles)
        text += (f" The four single-region signatures reached external C-indices from {ext[0]:.3f} to "
                 f"{ext[-1]:.3f}.")
    modal = {n: v[n]["c_external"] for n in ("us", "mri") if n in v and "c_external" in v[n]}
    if modal and mm.get("c_external", "–") != "–":
        above = all(float(mm["c_external"]) > float(c) for c in modal.values())
        shown = " and ".join(f"{c} for the {'ultrasound' if n == 'us' else 'MRI'} signature" for n, c in modal.items())
        text += (f" On the external set the multi-modal signature was {'above' if above else 'not above'} each "
                 f"single-modality one ({shown}), {'as in' if above else 'unlike'} the study.")
    if "cut" in mm:
        # Which score each p uses: the uncorrected p is the chosen split of the training
        # Rad-score, which LASSO fitted to these outcomes; the corrected ones repeat the
        # search on the pre-validated Rad-score, so they do not reuse that fit.
        if mm.get("p_score", "training") == "pre-validated":
            corrected = (f"and, for the search over cuts repeated on the pre-validated Rad-score (each training "
                         f"patient scored by the cross-validation fit made without them [@tibshirani2002], so the "
                         f"Rad-score's own fit to these outcomes is not reused), {mm['p_lausen']} by the "
                         f"Lausen-Schumacher bound [@lausen1992] and {mm['p_permutation']} by permutation; these "
                         f"two are approximate, since a pre-validated score still depends on the other folds' "
                         f"outcomes")
        else:
            corrected = (f"{mm['p_lausen']} by the Lausen-Schumacher bound and {mm['p_permutation']} by permutation, "
                         f"both on the training Rad-score")
        note = f"; {mm['p_note']}" if mm.get("p_note") else ""
        text += (f" The X-tile cut of the multi-modal Rad-score on the training set was {mm['cut']} (bootstrap 95% "
                 f"range {mm.get('cut_bootstrap_95', '–')}; log-rank p {mm['p_uncorrected']} for the chosen split of "
                 f"the training Rad-score, corrected neither for the search nor for the fit, {corrected}{note}). "
                 f"Applied unchanged, it separated high- from low-risk patients with a hazard ratio of "
                 f"{mm.get('hr_xtile_internal', '–')} in the internal and {mm.get('hr_xtile_external', '–')} in the "
                 f"external test set; the hazard ratio per SD of the continuous Rad-score was "
                 f"{mm.get('hr_per_sd_internal', '–')} and {mm.get('hr_per_sd_external', '–')} (@tbl-risk-groups, "
                 "@fig-km-risk).")
    return text + "\n"

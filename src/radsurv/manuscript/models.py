"""The paper's paragraph on the six models (stage ``04_models``), written from the
stage's variables and the profile when the paper is published.

:func:`results` (``text-models.md``): what each model kept, the C-indices on the
external test set, whether the clinical imaging model led as in the study, the
likelihood-ratio test of the Rad-score, the models 5 and 6 developed the study's way
(resubstitution training Rad-scores) beside the primary ones (pre-validated), the oracle
(twin only) and the study's value.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..models.six_models import model_name
from .estimable import not_estimable

__all__ = ["describe_models", "missing_data", "results", "training_scores_sentence"]


def _variable(label: str) -> str:
    """A variable's printed name inside a sentence, without its unit ("Ki-67, %" -> "Ki-67",
    "Histological grade" -> "histological grade"): a first word with a digit or a capital
    after its first letter (Ki-67, HER2, MRI) keeps its case."""
    name = label.split(",")[0].strip()
    first = name.split(" ")[0]
    if any(ch.isdigit() for ch in first) or any(ch.isupper() for ch in first[1:]):
        return name
    return name[:1].lower() + name[1:]


def missing_data(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-missing.md``, the Methods paragraph on missing values (TRIPOD+AI item 9):
    what was missing in which set, how it was handled, and the training patients each
    model kept, from ``models.missing``
    (:func:`radsurv.models.stage.missing_data_variables`)."""
    from ..labels import SPLIT_LABELS

    v = variables["models"].get("missing") or {}
    missing = v.get("variables") or []
    models = v.get("models") or {}
    if not missing:
        return "No patient missed a value of a candidate clinical or MRI variable.\n"
    sets = [s for s in ("train", "internal", "external") if s in missing[0]]
    what = "; ".join(f"{_variable(m['label'])} ({'; '.join(f'{SPLIT_LABELS[s].lower()} {m[s]}' for s in sets)})"
                     for m in missing)
    text = f"Values were missing for {what}. "
    if v.get("method") == "multiple_imputation":
        text += (f"They were imputed by chained equations with predictive mean matching, {v['m']} imputations of "
                 f"{v['max_iter']} iterations with {v['donors']} donors [@vanbuuren2011; @morris2014], fitted on the "
                 "training set only, with the event indicator and the Nelson-Aalen cumulative hazard among the predictors "
                 "[@white2009]; test-set patients were imputed from imputation models fitted on the completed "
                 "training sets without any outcome, as a new patient would be [@hoogland2020]. The univariable "
                 "screen used each variable's median p over the imputations [@eekhout2017], and backward "
                 "elimination kept a variable selected in at least half of them [@wood2008]. Each model was fitted "
                 "on every completed training set and pooled by Rubin's rules [@rubin1987; @barnard1999], and a "
                 "patient's score is the mean over the imputations of the pooled model's linear predictor "
                 "[@wood2015]; the optimism bootstrap repeats the imputation in every resample.")
        kept = [f"{model_name(k)} {e['n']} (complete cases {e['complete']})" for k, e in models.items()
                if e["complete"] != e["n"]]
        if kept:
            text += f" Training patients per model, all of them kept: {'; '.join(kept)}."
    else:
        left = [f"{model_name(k)} {e['left_out']}" for k, e in models.items() if e.get("left_out")]
        why = (" (`models.missing: complete_case`)" if v.get("setting") == "complete_case" else "")
        text += f"Each model was fitted on the training patients with complete values of its variables{why}"
        text += f"; patients left out: {'; '.join(left)}." if left else "; no model's variables missed a value in training."
    return text + "\n"


def results(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-models.md`` from the ``models`` variables (a model that was not fitted,
    ``fitted: false``, is left out, as the stage left it out) and the study's published
    C (``models.published_c``)."""
    v = {k: e for k, e in variables["models"].items() if not (isinstance(e, Mapping) and e.get("fitted") is False)}
    return describe_models(v, profile["models"]["published_c"]).rstrip("\n") + not_estimable(v) + "\n"


def training_scores_sentence(ts: Mapping[str, Any]) -> str:
    """The Results sentence on the training Rad-scores (``models.training_scores``,
    :meth:`radsurv.models.TrainingScoreComparison.variables`): the primary models weigh
    the pre-validated Rad-score; the clinical imaging model (else the radiomics model)
    developed the study's way, on resubstitution Rad-scores, is set beside it. "" when the
    comparison was not made or no Rad-score model was fitted both ways."""
    key = next((k for k in ("imaging", "radiomics")
                if {"prevalidated", "resubstitution"} <= set((ts.get(k) or {}))), None)
    if key is None:
        return ""
    pv, rs = ts[key]["prevalidated"], ts[key]["resubstitution"]
    return (f" These models weighed each training patient's pre-validated Rad-score; developed the study's way, on "
            f"the training patients' own Rad-scores (resubstitution), the {model_name(key)} gave the Rad-score a "
            f"hazard ratio of {rs['hr']} against {pv['hr']} and a training C of {rs['c_train']} against "
            f"{pv['c_train']}, with an external C of {rs['c_external']} against {pv['c_external']} "
            "(@tbl-radscore-training).")


def describe_models(v: Mapping[str, Any], published: Mapping[str, Mapping[str, float | None]]) -> str:
    """The Results paragraph on the six models, from the ``models`` variables of the
    fitted models (``oracle_c_external``: the simulation's true linear predictor's
    external C, for the twin only) and the study's published C."""
    def c(key, s):
        e = v.get(key, {})
        return f"{e.get(f'c_{s}', '–')} ({e.get(f'c_{s}_ci', '–')})"

    text = (f"The clinical model kept {v.get('clinical', {}).get('variables') or 'no variable'}; the traditional MRI model kept "
            f"{v.get('mri', {}).get('variables') or 'no variable'}; their combination "
            f"{v.get('clinical_mri', {}).get('variables') or 'no variable'} (@tbl-hazard-ratios, @fig-forest). ")
    constant = bool(v.get("radscore_constant"))
    if constant:
        # No Rad-score to add: models 5 and 6 are models 1 and 3, and there is no model 4
        text += ("The multi-modal Rad-score selected no feature and is the same for every patient, so there is no "
                 "radiomics signature model, and the radiomics and clinical imaging models are the clinical and the "
                 "clinical + MRI models. On the external test set the C-index was "
                 f"{c('clinical', 'external')} for the clinical model and {c('imaging', 'external')} for the "
                 "clinical imaging model (@tbl-model-discrimination, @fig-c-models).")
    else:
        text += (f"On the external test set the C-index was {c('clinical', 'external')} for the clinical model, "
                 f"{c('signature', 'external')} for the multi-modal radiomics signature, {c('radiomics', 'external')} "
                 f"for the radiomics model and {c('imaging', 'external')} for the clinical imaging model "
                 "(@tbl-model-discrimination, @fig-c-models).")
    # a set without patients or events reads "–": no C to rank
    ext = {k: float(e["c_external"]) for k, e in v.items()
           if isinstance(e, dict) and e.get("c_external", "–") not in ("–", "")}
    if "imaging" in ext and not constant:
        best = max(ext, key=ext.get)
        if ext["imaging"] >= ext[best]:  # a tie is not "unlike the study"
            text += " The clinical imaging model had the highest external C of the six, as in the study."
        else:
            b = v[best]
            text += (f" Unlike the study, the {model_name(best)} had a higher external C than the clinical "
                     f"imaging model (difference in C, clinical imaging model minus it, "
                     f"{b.get('boot_delta_external', '–')}; paired bootstrap p "
                     f"{b.get('boot_p_external', '–')}).")
    if "imaging" in v and "lr_p" in v["imaging"] and not constant:
        p = v["imaging"]["lr_p"]
        significant = p.startswith("<") or (p != "–" and float(p) < 0.05)
        verb = "improved" if significant else "did not significantly improve"
        test = ("pooled Wald test over the imputations" if v["imaging"].get("lr_test") == "pooled_wald"
                else "likelihood-ratio test")
        text += f" Adding the Rad-score to the clinical and MRI variables {verb} the training fit ({test} p {p})."
    if not constant:
        text += training_scores_sentence(v.get("training_scores") or {})
    if "oracle_c_external" in v:
        text += (f" The true linear predictor of the simulation reaches {v['oracle_c_external']} on the external set; "
                 f"the clinical imaging model recovers {v['imaging'].get('recovery_external_pct', '–')}% of its gain "
                 "over the clinical model (@tbl-published).")
    pub = (published.get("imaging") or {}).get("external")
    if pub is not None:
        text += f" The study reported {pub:.3f} for its clinical imaging model on the external set."
    return text + "\n"

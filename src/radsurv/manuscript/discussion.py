"""The data-dependent paragraphs of the Discussion, written from the variables of the
signatures, models and validation stages.

What the paragraphs say depends on the run: whether the radiomics models beat the
clinical one, whether the study's ordering held, whether a Rad-score was selected at all
(under the ``null`` twin none is), and, for the digital twin only, how much of the true
signal the models recover. The fixed parts of the Discussion (limitations, running the
analysis on a real cohort) are in ``index.qmd``.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..labels import in_sentence

__all__ = ["describe_discussion", "discussion"]


def _f(entry: Mapping[str, Any] | None, key: str) -> float | None:
    try:
        return float((entry or {})[key])
    except (KeyError, TypeError, ValueError):
        return None


def describe_discussion(signatures: Mapping[str, Any], models: Mapping[str, Any], validation: Mapping[str, Any],
                        published_signature: Mapping[str, float | None], published_imaging: float | None,
                        simulated: bool) -> str:
    """The Discussion's paragraphs on what this run found.

    Parameters
    ----------
    signatures, models, validation : mapping
        The ``signatures``, ``models`` and ``validation`` variables of stages 03-05.
    published_signature : mapping
        The study's multi-modal signature C (``internal``, ``external``), or None values.
    published_imaging : float or None
        The study's external C of its clinical imaging model.
    simulated : bool
        The data are the digital twin (the oracle paragraph is written only then).

    Returns
    -------
    str
        Markdown paragraphs, ending with a newline.
    """
    clin, img = models.get("clinical", {}), models.get("imaging", {})
    final = validation.get(validation.get("final_model_key", "imaging"), {})
    c_clin, c_img = _f(clin, "c_external"), _f(img, "c_external")
    paras = []
    if models.get("radscore_constant"):
        paras.append(
            "No radiomic feature survived the development on the training set: every LASSO signature feeding the "
            "models was empty, so the Rad-score is the same for every patient and the radiomics models reduce to "
            f"the clinical ones (external C {clin.get('c_external', '–')} for the clinical model). A pipeline that "
            "leaked test outcomes into the development, or overfitted its selection, would have found a signature "
            "here; this one did not.")
    else:
        gain = (f"{c_img - c_clin:+.3f}" if c_img is not None and c_clin is not None else "–")
        sig = models.get("signature", {})
        text = (f"On the external test set, the multi-modal clinical imaging model reached a C-index of "
                f"{img.get('c_external', '–')} (95% CI {img.get('c_external_ci', '–')}), against "
                f"{clin.get('c_external', '–')} for the clinical model (difference {gain}) and "
                f"{sig.get('c_external', '–')} for the multi-modal radiomics signature alone. ")
        lr = img.get("lr_p")
        if lr and lr != "–":
            significant = lr.startswith("<") or float(lr) < 0.05
            text += (f"On the training set the Rad-score {'added' if significant else 'did not significantly add'} "
                     f"to the clinical and MRI variables ("
                     f"{'pooled Wald' if img.get('lr_test') == 'pooled_wald' else 'likelihood-ratio'} p {lr}). ")
        if final.get("corrected_c") and validation.get("final_fitted") is not False:
            name = str(validation.get("final_model", "final model"))
            text += (f"The bootstrap put the optimism of the {in_sentence(name)}'s "
                     f"training C at {final.get('optimism', '–')} (corrected C {final.get('corrected_c', '–')}, "
                     f"corrected calibration slope {final.get('corrected_slope', '–')}): "
                     + ("its predictions should be shrunk before use elsewhere."
                        if (_f(final, "corrected_slope") or 1.0) < 0.9 else
                        "little shrinkage is needed."))
        paras.append(text.strip())
        order = []
        if c_img is not None:
            ext = {k: _f(e, "c_external") for k, e in models.items() if isinstance(e, dict) and "c_external" in e}
            best = max(c for c in ext.values() if c is not None)  # unfitted models read "–"
            order.append("the clinical imaging model was the best of the six on the external set" if c_img >= best
                         else "the clinical imaging model was not the best of the six on the external set")
        mm, us, mri = (_f(signatures.get(k), "c_external") for k in ("multimodal", "us", "mri"))
        if None not in (mm, us, mri):
            order.append("the multi-modal signature " + ("was" if mm > max(us, mri) else "was not")
                         + " above each single-modality signature")
        pub = published_signature or {}
        if order:
            text = f"Of the study's two orderings, here {' and '.join(order)}"
            if pub.get("external") is not None and published_imaging is not None:
                text += (f" (the study: {published_imaging:.3f} for its clinical imaging model and "
                         f"{pub['external']:.3f} for its multi-modal signature on the external set)")
            paras.append(text + ".")
    if simulated and "oracle" in signatures:
        o_ext = _f(signatures["oracle"], "c_external")
        if o_ext is not None and c_clin is not None:
            room = o_ext - c_clin
            text = (f"Because the digital twin's true linear predictor is known, the models can be judged against the "
                    f"best any model could do on these patients: an external C of {o_ext:.3f}. The clinical model "
                    f"alone reaches {c_clin:.3f}, so the images can add at most {room:.3f} in C")
            rec = img.get("recovery_external_pct")
            if rec and rec != "–" and not models.get("radscore_constant"):
                text += (f", and the clinical imaging model recovered {rec}% of that gain" if float(rec) > 0 else
                         ", and the clinical imaging model recovered none of it (its external C was not above the "
                         "clinical model's)")
            text += "."
            if room < 0.05:
                text += (" The clinical variables carry most of the simulated prognostic signal here, which leaves the "
                         "images little to add.")
            text += (" Test sets of this size cannot reliably order models whose C-indices differ by a few "
                     "hundredths (compare the confidence intervals and the paired tests in @tbl-model-comparisons): "
                     "an ordering like the study's, held or not, is weak evidence either way.")
            paras.append(text)
    return "\n\n".join(paras) + "\n"


def discussion(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-discussion.md`` (stage ``05_validation``) from the signatures', models' and
    validation's variables and the study's published values in the profile."""
    return describe_discussion(variables.get("signatures", {}), variables.get("models", {}), variables["validation"],
                               profile["signatures"]["published_c"],
                               (profile["models"]["published_c"].get("imaging") or {}).get("external"),
                               simulated=profile["cohort"]["source"] != "manifest")

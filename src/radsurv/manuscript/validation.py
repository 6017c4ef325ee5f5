"""The paper's Results paragraph on validation (stage ``05_validation``), written from the
stage's variables when the paper is published: the optimism-corrected C and slope of
the final model and the signature, the external calibration (ICI), its O/E per external
centre and the ICI after recalibration-in-the-large, the net benefit, and the nomogram's
example patient.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..models.six_models import model_name
from .estimable import calibration_notes, not_estimable

__all__ = ["describe_centres", "describe_validation", "results"]


def results(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-validation.md`` from the run's ``validation`` variables, with the final model's
    calibrations in the test sets that could not be estimated and why."""
    v = variables["validation"]
    return describe_validation(v).rstrip("\n") + calibration_notes(v) + not_estimable(v) + "\n"


def _fitted(v: Mapping[str, Any]) -> list[str]:
    """The models with an optimism row (an unfitted model's entry says ``fitted: false``)."""
    return [k for k, e in v.items() if isinstance(e, Mapping) and "corrected_c" in e and e.get("fitted", True)]


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _without_final(v: Mapping[str, Any]) -> str:
    """The paragraph when ``04_models`` did not fit the final model: the fitted models'
    corrected C, or that none was fitted (``not_estimable`` says why and what to set)."""
    fitted = _fitted(v)
    if not fitted:
        return "No model was fitted by 04_models, so none could be validated.\n"
    parts = [f"{v[k]['corrected_c']} for the {model_name(k)}" for k in fitted]
    return (f"The final model chosen for validation, the {v['final_model']}, was not fitted by 04_models; the "
            f"{'model' if len(fitted) == 1 else 'models'} it did fit {'was' if len(fitted) == 1 else 'were'} "
            f"validated over {v['n_resamples_used']} of {v['n_resamples']} bootstrap resamples, each repeating the "
            f"whole development, with an optimism-corrected C of {_and(parts)} (@tbl-optimism; calibration in "
            "@tbl-calibration, net benefit in @tbl-decision).\n")


def _years(key: str) -> float:
    return float(key.rsplit("_", 1)[1].rstrip("y"))


def describe_centres(v: Mapping[str, Any]) -> str:
    """The final model's O/E per external centre at the longest horizon with an estimate,
    and what recalibration-in-the-large does to its ICI; "" without an external set."""
    keys = sorted((k for k, c in v.items() if k.startswith("centre_calibration_") and isinstance(c, list) and c),
                  key=_years)
    if not keys:
        return ""
    shown = [k for k in keys if any(c["oe"] != "–" for c in v[k])]
    if not shown:
        why = "; ".join(f"centre {c['centre']}: {c['note']}" for c in v[keys[-1]])
        return (f"Its calibration per external centre could not be estimated at {_years(keys[-1]):g} years ({why}; "
                "@tbl-calibration-centre). ")
    key = shown[-1]
    rows = v[key]
    ok = [c for c in rows if c["oe"] != "–"]
    text = (f"By {_years(key):g} years its ratio of observed to expected risk of recurrence (O/E, 95% CI; above 1: "
            "under-prediction) was " + _and([f"{c['oe']} in centre {c['centre']}" for c in ok]))
    text += " (@tbl-calibration-centre)"
    missing = [c for c in rows if c["oe"] == "–"]
    if missing:
        text += "; it could not be estimated in " + "; in ".join(f"centre {c['centre']}: {c['note']}" for c in missing)
    text += ". "
    recal = [c for c in ok if c["ici"] != "–" and c["ici_recalibrated"] != "–"]
    if recal:
        text += ("Recalibration-in-the-large, a sensitivity analysis multiplying the baseline hazard by a factor "
                 "estimated from each centre's own outcomes (what a local update would give, not a validation), "
                 "changed its ICI " + _and([f"from {c['ici']} to {c['ici_recalibrated']} in centre {c['centre']}"
                                            for c in recal]) + ". ")
    return text


def describe_validation(v: Mapping[str, Any]) -> str:
    """The Results paragraph on validation."""
    if v.get("final_fitted") is False:
        return _without_final(v)
    final = v["final_model_key"]
    f = v.get(final, {})
    text = (f"Over {v['n_resamples_used']} of {v['n_resamples']} bootstrap resamples, each repeating the whole "
            f"development, the {v['final_model']}'s apparent C on the training set of {f.get('apparent_c', '–')} "
            f"had an optimism of {f.get('optimism', '–')}, for a corrected C of {f.get('corrected_c', '–')} and a corrected "
            f"calibration slope of {f.get('corrected_slope', '–')} (@tbl-optimism). ")
    sig = v.get("signature", {})
    if sig and sig.get("fitted", True):   # not fitted: a constant Rad-score (no feature selected)
        text += (f"The multi-modal radiomics signature's optimism was {sig.get('optimism', '–')} (corrected C "
                 f"{sig.get('corrected_c', '–')}). ")
    cal = [(k, c) for k, c in v.items() if k.startswith("calibration_external") and isinstance(c, dict)]
    if cal:
        parts = [f"ICI {c['ici']} at {k.rsplit('_', 1)[1].replace('y', ' years')}" for k, c in cal if c["ici"] != "–"]
        if parts:
            text += (f"On the external test set its predicted DFS was calibrated with {', '.join(parts)} "
                     "(@tbl-calibration, @fig-calibration). ")
    text += describe_centres(v)
    ben = [(k, b) for k, b in v.items() if k.startswith("benefit_external")]
    if ben:
        text += ("Its net benefit exceeded treating all and treating none for threshold probabilities of "
                 + ", ".join(f"{b} at {k.rsplit('_', 1)[1].replace('y', ' years')}" for k, b in ben)
                 + " on the external set (@fig-decision). ")
    if "example" in v:
        dfs = ", ".join(f"{val} at {k[4:].replace('y', ' years')}" for k, val in v["example"].items()
                        if k.startswith("dfs_"))
        text += (f"@fig-nomogram draws it as a nomogram: a patient at the training medians of its numeric "
                 f"variables and in the reference category of the others scores {v['example']['total_points']} "
                 f"points, for a predicted DFS of {dfs}.")
    return text.strip() + "\n"

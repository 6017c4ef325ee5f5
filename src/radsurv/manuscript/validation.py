"""The paper's Results paragraph on validation (stage ``05_validation``), written from the
stage's variables when the paper is published: the optimism-corrected C and slope of
the final model and the signature, the external calibration (ICI) and net benefit, and
the nomogram's example patient.
"""

from __future__ import annotations

from typing import Any, Mapping

from .estimable import calibration_notes, not_estimable

__all__ = ["describe_validation", "results"]


def results(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-validation.md`` from the run's ``validation`` variables, with the final model's
    calibrations in the test sets that could not be estimated and why."""
    v = variables["validation"]
    return describe_validation(v).rstrip("\n") + calibration_notes(v) + not_estimable(v) + "\n"


def describe_validation(v: Mapping[str, Any]) -> str:
    """The Results paragraph on validation."""
    final = v["final_model_key"]
    f = v.get(final, {})
    text = (f"Over {v['n_resamples_used']} of {v['n_resamples']} bootstrap resamples, each repeating the whole "
            f"development, the {v['final_model']}'s training C of {f.get('apparent_c', '–')} had an optimism "
            f"of {f.get('optimism', '–')}, for a corrected C of {f.get('corrected_c', '–')} and a corrected "
            f"calibration slope of {f.get('corrected_slope', '–')} (@tbl-optimism). ")
    sig = v.get("signature", {})
    if sig:
        text += (f"The multi-modal radiomics signature's optimism was {sig.get('optimism', '–')} (corrected C "
                 f"{sig.get('corrected_c', '–')}). ")
    cal = [(k, c) for k, c in v.items() if k.startswith("calibration_external") and isinstance(c, dict)]
    if cal:
        parts = [f"ICI {c['ici']} at {k.rsplit('_', 1)[1].replace('y', ' years')}" for k, c in cal if c["ici"] != "–"]
        if parts:
            text += (f"On the external test set its predicted DFS was calibrated with {', '.join(parts)} "
                     "(@tbl-calibration, @fig-calibration). ")
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

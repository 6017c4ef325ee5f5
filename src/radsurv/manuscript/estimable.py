"""The sentence that says what a stage could not estimate on the cohort, and why.

A stage that degrades (:mod:`radsurv.preconditions`: a test set without patients or
events, a horizon beyond a set's follow-up, no model with a variable, an external centre
too small for ComBat) writes the reasons as its ``not_estimable`` variable, a list of
clauses, only when there is one; each Results paragraph ends with this sentence.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["calibration_notes", "not_estimable"]


def not_estimable(v: Mapping[str, Any]) -> str:
    """" Not estimable on this cohort: <clause>; <clause>." (with a leading space), or ""."""
    items = [str(i) for i in v.get("not_estimable") or () if str(i)]
    if not items:
        return ""
    return " Not estimable on this cohort: " + "; ".join(items) + "."


def calibration_notes(v: Mapping[str, Any]) -> str:
    """The final model's calibrations on the external test set (the set the Results
    paragraph reports) that could not be estimated, from the ``validation`` variables
    ``calibration_external_<h>y`` and their ``note`` (the table gives every set's)."""
    items = [f"calibration at {key.rsplit('_', 1)[1].replace('y', ' years')} in the external test set: {c['note']}"
             for key, c in v.items()
             if key.startswith("calibration_external_") and isinstance(c, Mapping) and c.get("note")]
    return not_estimable({"not_estimable": items})

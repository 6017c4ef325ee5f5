"""The abstract's Results, written from the stages' variables when the paper is published.

The abstract sits in ``index.qmd``'s front matter, where a text file cannot be included,
so its Results are one variable (``abstract.results``) that publishing adds to
``_variables.yml`` (:func:`radsurv.pipeline.publish.publish`). On the study's design
(three sets, every model fitted) it reads as the fixed sentence it replaces; on a cohort
without an external set, without a test-set C or without the multi-modal clinical
imaging model it says what was estimated and leaves out what was not, instead of
printing "–".
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["abstract_results", "abstract_variables"]

_SETS = {"train": "training", "internal": "internal", "external": "external"}
_TEST_SETS = ("internal", "external")


def _known(value: Any) -> bool:
    """A number the paper can quote (not missing, not the "–" of a quantity not estimated)."""
    return value is not None and str(value).strip() not in ("", "–", "-", "nan", "NaN")


def _n(entry: Mapping[str, Any] | None) -> int:
    try:
        return int(str((entry or {}).get("n", 0)))
    except ValueError:
        return 0


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _c(entry: Mapping[str, Any], split: str) -> str:
    """``C (CI)`` of one set, with the CI only when it was estimated."""
    ci = entry.get(f"c_{split}_ci")
    return f"{entry[f'c_{split}']}" + (f" ({ci})" if _known(ci) and any(ch.isdigit() for ch in str(ci)) else "")


def _dfs(cohort: Mapping[str, Any]) -> str:
    sets = [s for s in _SETS if _n(cohort.get(s)) > 0 and _known(cohort[s].get("dfs_5y"))]
    if not sets:
        return ""
    values = _and([f"{cohort[s]['dfs_5y']}%" for s in sets])
    return f"Five-year DFS was {values} in the {_and([_SETS[s] for s in sets])} set{'s' if len(sets) > 1 else ''}. "


def _signature(sig: Mapping[str, Any]) -> str:
    head = "The multi-modal radiomics signature, developed on the training set only, "
    sets = [s for s in _TEST_SETS if _known(sig.get(f"c_{s}"))]
    if not sets:
        return head + "could not be evaluated on a test set (no test set with an event). "
    if len(sets) == 2:
        return (f"{head}reached a C-index of {sig['c_internal']} (95% CI {sig.get('c_internal_ci', '–')}) on the "
                f"internal and {_c(sig, 'external')} on the external test set. ")
    s = sets[0]
    return f"{head}reached a C-index of {sig[f'c_{s}']} (95% CI {sig.get(f'c_{s}_ci', '–')}) on the {s} test set. "


def _fitted(entry: Mapping[str, Any] | None) -> bool:
    return bool(entry) and str(entry.get("fitted", True)).lower() not in ("false", "0")


def _models(models: Mapping[str, Any], validation: Mapping[str, Any]) -> str:
    imaging, clinical = models.get("imaging"), models.get("clinical")
    corrected = (validation.get("imaging") or {}).get("corrected_c")
    n_used = validation.get("n_resamples_used")
    if not _fitted(imaging):
        text = ("The multi-modal clinical imaging model (Rad-score with the clinical and MRI variables) could not be "
                "fitted: no variable was selected for it")
        sets = [s for s in ("external", "internal") if _fitted(clinical) and _known(clinical.get(f"c_{s}"))]
        if sets:
            text += f"; the clinical model reached {_c(clinical, sets[0])} on the {sets[0]} test set"
        return text + "."
    sets = [s for s in ("external", "internal") if _known(imaging.get(f"c_{s}"))]
    if sets:
        s = sets[0]
        text = (f"The multi-modal clinical imaging model (Rad-score with the clinical and MRI variables) reached "
                f"{_c(imaging, s)} on the {s} test set")
        if _fitted(clinical) and _known(clinical.get(f"c_{s}")):
            text += f", against {_c(clinical, s)} for the clinical model"
    else:
        text = ("The multi-modal clinical imaging model (Rad-score with the clinical and MRI variables) had no test "
                "set with an event to be evaluated on")
    if _known(corrected) and _known(n_used):
        text += (f"; its optimism-corrected C on the training set was {corrected} over {n_used} bootstrap resamples "
                 "that repeated the whole development")
    return text + "."


def abstract_results(variables: Mapping[str, Any]) -> str:
    """The abstract's Results (without the "Results." heading).

    Parameters
    ----------
    variables : mapping
        Every finished stage's variables, merged (``cohort``, ``signatures``, ``models``,
        ``validation``; a stage that has not run leaves its part out).
    """
    cohort = variables.get("cohort") or {}
    sig = (variables.get("signatures") or {}).get("multimodal") or {}
    text = _dfs(cohort)
    if sig:
        text += _signature(sig)
    if variables.get("models"):
        text += _models(variables["models"], variables.get("validation") or {})
    return text.strip() or "The stages that estimate the results have not run."


def abstract_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """``{"abstract": {"results": ...}}``, merged into the published variables."""
    return {"abstract": {"results": abstract_results(variables)}}

"""The manuscript's prose, in one place, written from the stages' variables when the
paper is published.

A stage computes and writes its numbers (``variables.yml``); the paragraphs that quote
them are functions here, ``(variables, profile) -> markdown``, which publishing
(:func:`radsurv.pipeline.publish.publish`) calls for every text artefact a stage declares
with ``rendered=True`` (:class:`radsurv.stages.registry.Artefact`), writing
``texts/<stage>/<name>``. No stage notebook imports this package, so a wording edit
re-runs no stage, only the publishing step (a test checks that no stage's inputs
include it).

``variables`` are every finished stage's variables merged, with their types (a count
stays an int, a flag a bool); ``profile`` is the run's whole profile.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from . import cohort, discussion, models, segmentation, sensitivity, signatures, validation
from .abstract import abstract_results, abstract_variables

__all__ = ["TEXTS", "abstract_results", "abstract_variables", "render_text"]

Renderer = Callable[[Mapping[str, Any], Mapping[str, Any]], str]

#: (stage, text artefact) -> the function that writes it.
TEXTS: dict[tuple[str, str], Renderer] = {
    ("00_cohort", "text-data.md"): cohort.data,
    ("00_cohort", "text-imaging.md"): cohort.imaging,
    ("01_segmentation", "text-segmentation.md"): segmentation.methods,
    ("01_segmentation", "text-seg-results.md"): segmentation.results,
    ("03_signatures", "text-signature-methods.md"): signatures.methods,
    ("03_signatures", "text-signatures.md"): signatures.results,
    ("04_models", "text-models.md"): models.results,
    ("04_models", "text-missing.md"): models.missing_data,
    ("05_validation", "text-validation.md"): validation.results,
    ("05_validation", "text-discussion.md"): discussion.discussion,
    ("06_sensitivity", "text-sensitivity-methods.md"): sensitivity.methods,
    ("06_sensitivity", "text-sensitivity.md"): sensitivity.results,
}


def render_text(stage: str, name: str, variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """The markdown of one rendered text.

    Raises
    ------
    KeyError
        When no function here writes ``stage``'s ``name`` (declare it in :data:`TEXTS`).
    """
    try:
        renderer = TEXTS[(stage, name)]
    except KeyError:
        raise KeyError(f"{stage}/{name} is declared rendered=True but radsurv.manuscript.TEXTS has no function "
                       "for it") from None
    return renderer(variables, profile)

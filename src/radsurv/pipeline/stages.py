"""The stages of the study, in order. Each is one notebook and reads only its
upstream stages' artefacts from ``build/<profile>/<stage>/``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """One pipeline stage.

    Attributes
    ----------
    name : str
        Also the name of the output folder under ``build/<profile>/``.
    notebook : str
        Path of the notebook, relative to the project root.
    sections : tuple of str
        Profile sections the stage reads (a change in any of them re-runs it).
    upstream : tuple of str
        Stages whose artefacts it reads.
    """

    name: str
    notebook: str
    sections: tuple[str, ...]
    upstream: tuple[str, ...] = ()


STAGES: tuple[Stage, ...] = (
    Stage("00_cohort", "notebooks/00_cohort.ipynb", ("cohort", "imaging")),
    Stage("01_segmentation", "notebooks/01_segmentation.ipynb", ("segmentation",), upstream=("00_cohort",)),
    Stage("02_features", "notebooks/02_features.ipynb", ("features",), upstream=("00_cohort", "01_segmentation")),
)

STAGE_BY_NAME = {s.name: s for s in STAGES}


def downstream_of(name: str) -> list[str]:
    """Stages that depend, directly or not, on ``name`` (in pipeline order)."""
    out: list[str] = []
    for s in STAGES:
        if name in s.upstream or any(u in out for u in s.upstream):
            out.append(s.name)
    return out

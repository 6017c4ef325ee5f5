"""What a stage notebook opens first: its declaration, its profile, its folders.

A notebook's parameters cell holds ``stage``, ``profile_path``, ``build_dir``,
``out_dir`` and ``params``; its first code cell is::

    from radsurv.stages import open_stage
    ctx = open_stage(stage, profile_path, build_dir, out_dir, params)

Under the runner, papermill injects the stage's declaration and ``params``: the global
keys and the stage's own sections of the validated profile, and nothing else, so a
stage cannot read a section it does not declare (a change to which would not re-run
it). Run by hand, ``params`` is None and the profile is loaded from ``profile_path``.

``ctx`` then gives the parameters (``ctx.profile``, and the stage's first section as
``ctx.params``), the seed, the number of workers, step timing (``with
ctx.timed("extraction"):``), paths of declared artefacts (``ctx.path("table1.csv")``),
writers that add the provenance line (``ctx.write_table``) or check declared keys
(``ctx.write_variables``), and the patient flow (``ctx.flow``).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..config import load_profile, stage_params
from .flow import PatientFlow, draw_flow
from .registry import Artefact, Stage, provenance, stage_by_name
from .timing import StepTimer, timed

__all__ = ["StageContext", "open_stage", "resolve_n_jobs"]


def resolve_n_jobs(value: int | None, default: int | None = None) -> int:
    """Workers to use: a positive count as given; -1 (or any value < 1) means every core.

    Parameters
    ----------
    value : int or None
        The section's ``n_jobs``; None falls back to ``default``.
    default : int, optional
        The profile's global ``n_jobs``.
    """
    n = value if value is not None else default
    n = -1 if n is None else int(n)
    return n if n > 0 else max(1, os.cpu_count() or 1)


def _stage_from(declaration: Stage | str | Mapping[str, Any]) -> Stage:
    """A Stage from itself, a registered name, or the dict the runner injects."""
    if isinstance(declaration, Stage):
        return declaration
    if isinstance(declaration, str):
        return stage_by_name(declaration)
    d = dict(declaration)
    return Stage(name=d["name"], title=d["title"], sections=tuple(d["sections"]), upstream=tuple(d["upstream"]),
                 outputs=tuple(Artefact(**a) for a in d["outputs"]), variables=tuple(d["variables"]))


def stage_declaration(stage: Stage) -> dict[str, Any]:
    """The Stage as plain data (what the runner injects into the notebook's parameters)."""
    return {"name": stage.name, "title": stage.title, "sections": list(stage.sections),
            "upstream": list(stage.upstream), "variables": list(stage.variables),
            "outputs": [{"name": a.name, "kind": a.kind, "description": a.description, "optional": a.optional}
                        for a in stage.outputs]}


@dataclass
class StageContext:
    """A running stage: declaration, validated profile, folders, timing, flow, writers."""

    stage: Stage
    profile: dict[str, Any]  # the global keys and the stage's own sections
    build_dir: Path
    out_dir: Path
    flow: PatientFlow = field(default_factory=PatientFlow)

    # -- parameters -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.stage.name

    @property
    def params(self) -> dict[str, Any]:
        """The stage's own (first) profile section."""
        return self.profile[self.stage.sections[0]] if self.stage.sections else {}

    @property
    def seed(self) -> int:
        return int(self.profile["seed"])

    @property
    def n_jobs(self) -> int:
        """Workers: the section's ``n_jobs`` if it has one, else the profile's."""
        return resolve_n_jobs(self.params.get("n_jobs") if isinstance(self.params, Mapping) else None,
                              self.profile["n_jobs"])

    @property
    def provenance(self) -> str:
        """The "Source: ..." text of this stage's figures and tables."""
        return provenance(self.stage, self.profile["profile"])

    # -- timing -----------------------------------------------------------------------------
    def timed(self, step: str) -> AbstractContextManager[StepTimer]:
        """``with ctx.timed("extraction"):`` records the block's wall time in ``steps.json``."""
        return timed(self.out_dir, step)

    # -- artefacts --------------------------------------------------------------------------
    def artefact(self, name: str) -> Artefact:
        """The declaration of ``name`` (a file, or a file inside a declared folder)."""
        for a in self.stage.outputs:
            if a.name == name or (a.name.endswith("/") and name.startswith(a.name)):
                return a
        declared = ", ".join(a.name for a in self.stage.outputs)
        raise KeyError(f"stage {self.name} does not declare {name!r} (declared: {declared}); add it to the "
                       "stage's outputs in radsurv/stages/registry.py")

    def path(self, name: str) -> Path:
        """Where a declared artefact goes (its folder is created)."""
        self.artefact(name)
        path = self.out_dir / name
        (path if name.endswith("/") else path.parent).mkdir(parents=True, exist_ok=True)
        return path

    def write_table(self, table: pd.DataFrame, name: str, caption: str, label: str, index: bool = False) -> Path:
        """Write a declared table as a Quarto pipe table whose caption ends with the provenance."""
        from ..report.tables import write_markdown_table

        if self.artefact(name).kind != "table":
            raise ValueError(f"{name!r} is declared as {self.artefact(name).kind}, not as a table")
        return write_markdown_table(table, self.path(name), caption=caption, label=label, source=self.provenance,
                                    index=index)

    def write_text(self, name: str, text: str) -> Path:
        """Write a declared text snippet (markdown the manuscript includes)."""
        if self.artefact(name).kind != "text":
            raise ValueError(f"{name!r} is declared as {self.artefact(name).kind}, not as a text")
        path = self.path(name)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        return path

    def write_variables(self, variables: Mapping[str, Any]) -> Path:
        """Write ``variables.yml``: the declared top-level keys only, plus this stage's provenance."""
        from ..report.variables import write_variables

        undeclared = sorted(set(variables) - set(self.stage.variables))
        if undeclared:
            raise KeyError(f"stage {self.name} sets undeclared variables {undeclared}; declared: "
                           f"{list(self.stage.variables)} (radsurv/stages/registry.py)")
        return write_variables({**variables, "provenance": {self.name: self.provenance}},
                               self.out_dir / "variables.yml")

    # -- patient flow -----------------------------------------------------------------------
    def read_flow(self) -> PatientFlow:
        """Start this stage's flow from the one its upstream stages left (call once, first)."""
        self.flow = PatientFlow.read(self.build_dir, self.stage.upstream)
        return self.flow

    def exclude(self, reason: str, patients, modality: str | None = None) -> None:
        """Record patients this stage removes, with the reason."""
        self.flow.exclude(self.name, reason, patients, modality)

    def fallback(self, reason: str, patients, modality: str | None = None) -> None:
        """Record patients this stage analyses differently, with the reason."""
        self.flow.fallback(self.name, reason, patients, modality)

    def save_flow(self, cohort: pd.DataFrame, centers: Mapping[str, Any], simulated: bool) -> Path:
        """Write ``flow.json`` (the flow up to this stage) and draw it as ``fig-flow.png``.

        Parameters
        ----------
        cohort : DataFrame
            The validated cohort (``patient_id``, ``center``, ``split``).
        centers : mapping
            The internal and external centres (``CohortOutputs.centers``).
        simulated : bool
            Whether the cohort is the digital twin.
        """
        self.flow.save(self.path("flow.json").parent, self.name)
        return draw_flow(self.flow, cohort, centers, self.path("fig-flow.png"), simulated)


def open_stage(stage: Stage | str | Mapping[str, Any], profile_path: str | Path, build_dir: str | Path,
               out_dir: str | Path, params: Mapping[str, Any] | None = None) -> StageContext:
    """Open a stage for running: its parameters, its output folder, the flow so far.

    Parameters
    ----------
    stage : Stage, str or mapping
        The stage's declaration (the runner injects it as a mapping), or a registered name.
    profile_path : str or Path
        The profile (a name in ``params/`` or a YAML path); read only when ``params`` is None.
    build_dir : str or Path
        ``build/<profile>``.
    out_dir : str or Path
        Where this run of the stage writes (``build/<profile>/<stage>.partial`` under the runner).
    params : mapping, optional
        The validated global keys and stage sections (the runner injects them).

    Returns
    -------
    StageContext
    """
    declaration = _stage_from(stage)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if params is None:
        params = stage_params(load_profile(profile_path), declaration.sections)
    ctx = StageContext(declaration, dict(params), Path(build_dir), out)
    ctx.read_flow()
    print(f"stage {declaration.name}: profile {ctx.profile['profile']}, seed {ctx.seed}, {ctx.n_jobs} worker(s)")
    return ctx

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
``ctx.params``), the seed, where the heavy loops run (``ctx.n_jobs``, ``ctx.scheduler``,
both as ``ctx.compute``), step timing (``with
ctx.timed("extraction"):``), paths of declared artefacts (``ctx.path("table1.csv")``),
writers that check the declaration and write the same bytes for the same values: data
(``ctx.write_data``), figures (``ctx.write_figure``), tables with their provenance line
(``ctx.write_table``) and variables (``ctx.write_variables``, declared keys only); and the
patient flow (``ctx.flow``).

**Hand runs.** Opened in Jupyter or Binder (from ``notebooks/`` or anywhere inside the
project), a notebook's parameters cell leaves ``build_dir``, ``out_dir`` and ``params``
as None: :func:`open_stage` then finds the project root, loads the profile (a name in
``params/``, default ``quick``), reads the upstream stages from the pipeline's
``build/<profile>/`` and writes to ``build/<profile>/explore/<stage>/``, which it
empties first: a hand run never writes into the pipeline's stage folders, so later
stages and the manuscript cannot mix its outputs with the pipeline's. The notebook's
"Try it" values (``try_it={"signatures.lambda_rule": "lambda_1se"}``; None means "as
the profile says") change the profile of a hand run only; under the pipeline a value
that is not None is refused, since the paper must follow its profile.
"""

from __future__ import annotations

import os
import shutil
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..config import GLOBAL_KEYS, load_profile, profile_path as resolve_profile_path, project_root, stage_params
from .flow import PatientFlow, draw_flow
from .registry import Artefact, Stage, provenance, stage_by_name
from .timing import StepTimer, timed

__all__ = ["EXPLORE", "StageContext", "open_stage", "resolve_n_jobs"]

#: Folder of ``build/<profile>/`` that hand runs write to, one sub-folder per stage.
EXPLORE = "explore"

#: How :meth:`StageContext.write_data` writes floats unless told otherwise.
DATA_FLOAT_FORMAT = "%.10g"


def resolve_n_jobs(value: int | None, default: int | None = None) -> int:
    """Workers to use: a positive count as given; -1 (or any value < 1) means every core.

    Parameters
    ----------
    value : int or None
        The section's ``n_jobs``; None falls back to ``default``.
    default : int, optional
        The profile's ``compute.n_jobs``.
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
            "outputs": [{"name": a.name, "kind": a.kind, "description": a.description, "optional": a.optional,
                         "rendered": a.rendered} for a in stage.outputs]}


@dataclass
class StageContext:
    """A running stage: declaration, validated profile, folders, timing, flow, writers."""

    stage: Stage
    profile: dict[str, Any]  # the global keys and the stage's own sections
    build_dir: Path
    out_dir: Path
    flow: PatientFlow = field(default_factory=PatientFlow)
    hand_run: bool = False  # opened by hand (Jupyter, Binder): writes to build/<profile>/explore/<stage>/
    root: Path = field(default_factory=Path.cwd)  # the project: what the profile's relative paths start from

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
        """Local workers: the section's ``n_jobs`` if it has one and sets it, else the
        profile's ``compute.n_jobs``."""
        return resolve_n_jobs(self.params.get("n_jobs") if isinstance(self.params, Mapping) else None,
                              self.profile["compute"]["n_jobs"])

    @property
    def scheduler(self) -> str | None:
        """The Dask scheduler address the heavy loops run on (``compute.scheduler``), or None."""
        return self.profile["compute"]["scheduler"]

    @property
    def compute(self) -> dict[str, Any]:
        """Where this stage's heavy loops run, as the keyword arguments of the library's
        loops (:mod:`radsurv.compute`): ``OptimismBootstrap.run(..., **ctx.compute)``."""
        return {"n_jobs": self.n_jobs, "scheduler": self.scheduler}

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

    def write_data(self, frame: pd.DataFrame, name: str, float_format: str | None = DATA_FLOAT_FORMAT,
                   index: bool = False) -> Path:
        """Write a declared data table as CSV, the same bytes for the same values on every platform.

        Parameters
        ----------
        frame : DataFrame
            The table. Patient identifiers may appear here (data files are never published).
        name : str
            A declared ``data`` artefact ending in ``.csv``.
        float_format : str or None
            ``"%.10g"`` (the default) keeps ten significant digits, well above any reported
            precision, so the last bits of a sum taken in another order do not change the file;
            ``None`` writes pandas' shortest round-trip repr (for tables of identifiers, counts
            and values read back exactly).
        index : bool
            Whether to write the index as the first column.
        """
        artefact = self.artefact(name)
        if artefact.kind != "data" or not name.endswith(".csv"):
            raise ValueError(f"{name!r} is declared as {artefact.kind}; write_data writes .csv data files")
        path = self.path(name)
        frame.to_csv(path, index=index, lineterminator="\n", float_format=float_format)
        return path

    def write_figure(self, fig, name: str) -> Path:
        """Save a declared figure as PNG without timestamps or versions in its metadata, and close it."""
        from ..plots.style import save_figure

        if self.artefact(name).kind != "figure":
            raise ValueError(f"{name!r} is declared as {self.artefact(name).kind}, not as a figure")
        return save_figure(fig, self.path(name))

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
        if self.artefact(name).rendered:
            raise ValueError(f"{name!r} is written when the paper is published, from the stage's variables "
                             "(radsurv.manuscript); the stage writes the variables it needs instead")
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


def open_stage(stage: Stage | str | Mapping[str, Any], profile_path: str | Path = "quick",
               build_dir: str | Path | None = None, out_dir: str | Path | None = None,
               params: Mapping[str, Any] | None = None, try_it: Mapping[str, Any] | None = None) -> StageContext:
    """Open a stage for running: its parameters, its output folder, the flow so far.

    Parameters
    ----------
    stage : Stage, str or mapping
        The stage's declaration (the runner injects it as a mapping), or a registered name.
    profile_path : str or Path
        The profile: a name in ``params/`` (``quick``) or a YAML path (relative to the
        working directory or to the project root); read only when ``params`` is None.
    build_dir : str or Path, optional
        ``build/<profile>`` (the runner injects it). None: the project's
        ``build/<profile>/``.
    out_dir : str or Path, optional
        Where this run of the stage writes (the runner injects
        ``build/<profile>/<stage>.partial``). None: ``build/<profile>/explore/<stage>/``,
        emptied first. A hand run may not write into a pipeline stage's folder.
    params : mapping, optional
        The validated global keys and stage sections (the runner injects them); None
        for a hand run, whose profile is read from ``profile_path``.
    try_it : mapping, optional
        Dotted profile keys of the stage's own sections (or the global keys) and the
        values a hand run uses instead of the profile's; None values are ignored.

    Returns
    -------
    StageContext

    Raises
    ------
    ValueError
        When a "Try it" value is set under the pipeline, names a key outside the
        stage's sections, or a hand run's ``out_dir`` is a pipeline stage's folder.
    FileNotFoundError
        When a hand run's upstream stage has not been built.
    """
    declaration = _stage_from(stage)
    chosen = {k: v for k, v in (try_it or {}).items() if v is not None}
    for key in chosen:
        head = key.split(".")[0]
        if head not in declaration.sections and head not in GLOBAL_KEYS:
            raise ValueError(f"Try-it key {key!r} is not in stage {declaration.name}'s profile sections "
                             f"({', '.join(declaration.sections) or 'none'}) or the global keys")
    hand_run = params is None
    if not hand_run and chosen:
        raise ValueError(f"Try-it values {chosen} apply to hand runs only: under the pipeline the stage follows "
                         "its profile (set them to None in the notebook, or change the profile)")
    if hand_run:
        root = project_root()
        profile_path = _profile_from(profile_path, root)
        profile = load_profile(profile_path, root, overrides=chosen)
        params = stage_params(profile, declaration.sections)
        build = Path(build_dir) if build_dir is not None else root / "build" / profile["profile"]
        build = build if build.is_absolute() else root / build
        out = _hand_run_folder(declaration, build, out_dir, root)
        _check_upstream(declaration, build, profile["profile"])
    else:
        # papermill runs the notebook in the project root
        root, build, out = Path.cwd(), Path(build_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(declaration, dict(params), build, out, hand_run=hand_run, root=root)
    ctx.read_flow()
    print(f"stage {declaration.name}: profile {ctx.profile['profile']}, seed {ctx.seed}, {ctx.n_jobs} worker(s)")
    if hand_run:
        changed = "; Try it: " + ", ".join(f"{k} = {v!r}" for k, v in chosen.items()) if chosen else ""
        print(f"hand run: reads {_shown(build, root)}/, writes {_shown(out, root)}/{changed}")
    return ctx


def _profile_from(profile_path: str | Path, root: Path) -> str | Path:
    """A relative YAML path that does not exist from here, taken from the project root
    (``params/quick.yml`` opened from ``notebooks/``)."""
    p = Path(profile_path)
    if p.suffix in (".yml", ".yaml") and not p.is_absolute() and not p.is_file() and (root / p).is_file():
        return root / p
    return resolve_profile_path(profile_path, root)


def _hand_run_folder(declaration: Stage, build: Path, out_dir: str | Path | None, root: Path) -> Path:
    """Where a hand run writes: ``build/<profile>/explore/<stage>/`` (emptied), or the
    ``out_dir`` asked for, unless it is a pipeline stage's folder."""
    from .registry import STAGES

    if out_dir is None:
        out = build / EXPLORE / declaration.name
        if out.exists():
            shutil.rmtree(out)
        return out
    out = Path(out_dir)
    out = (out if out.is_absolute() else Path.cwd() / out).resolve()
    pipeline = {(build / s.name).resolve() for s in STAGES} | {(build / f"{s.name}.partial").resolve() for s in STAGES}
    pipeline.add((build / declaration.name).resolve())
    if out in pipeline or any(p in out.parents for p in pipeline):
        raise ValueError(f"a hand run of {declaration.name} may not write into the pipeline's folder {out}: leave "
                         f"out_dir as None (it then writes to {build / EXPLORE / declaration.name}), or run the "
                         f"stage through the pipeline (radsurv run --stage {declaration.name})")
    return out


def _check_upstream(declaration: Stage, build: Path, profile: str) -> None:
    """A hand run reads its upstream stages from the pipeline's build: they must exist."""
    missing = [u for u in declaration.upstream if not (build / u).is_dir()]
    if missing:
        raise FileNotFoundError(f"stage {declaration.name} reads {', '.join(missing)}, not built in {build}: run "
                                f"`radsurv run --profile {profile} --stage {declaration.name} --no-render` (or "
                                f"`make stage STAGE={declaration.name} PROFILE={profile}`) first; it builds what "
                                "the stage needs")


def _shown(path: Path, root: Path) -> str:
    """``path`` relative to the project root when inside it (no machine's folders in outputs)."""
    path = Path(path).resolve()
    return path.relative_to(root.resolve()).as_posix() if path.is_relative_to(root.resolve()) else str(path)

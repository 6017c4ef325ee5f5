"""Schedule the stages with doit: file dependencies by MD5 content, parameters by
``config_changed``, so a stage re-runs exactly when one of its inputs changed.

A stage's inputs: its notebook, the radsurv source files the notebook can import
(:mod:`radsurv.pipeline.deps`), ``requirements.lock``, its sections of the profile and
the global keys (not ``compute``, which says where the work runs, not what it computes:
:data:`radsurv.config.PLACEMENT_KEYS`), the stamps of its upstream stages, and for the
cohort stage a user's manifest. The
stamp a stage writes holds the digest of those inputs, so when a stage re-runs
with changed inputs the stages after it re-run too, and no others.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from doit.cmd_base import TaskLoader2
from doit.doit_cmd import DoitMain
from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter
from doit.tools import config_changed

from ..config import PLACEMENT_KEYS, load_profile, profile_path, stage_params
from ..exceptions import InputError, PreconditionError, StageError
from ..report.documents import FORMATS, parse_formats
from ..stages.context import resolve_n_jobs, stage_declaration
from ..stages.registry import STAGES, Stage
from .deps import library_files, module_files
from .execute import STAMP, execute_stage

__all__ = ["MANUSCRIPT_SOURCES", "RunReport", "build_tasks", "precondition_verdicts", "print_outputs", "print_report",
           "run_pipeline", "stage_input_params", "stage_inputs"]

MANUSCRIPT_SOURCES = ("index.qmd", "_quarto.yml", "references.bib")


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def stage_input_params(params: Mapping[str, Any]) -> dict:
    """What of a stage's parameters (:func:`radsurv.config.stage_params`) decides whether it
    is stale: all but the keys that say where its loops run (``compute``,
    :data:`radsurv.config.PLACEMENT_KEYS`); the results do not depend on them, so changing
    ``compute.n_jobs`` or ``compute.scheduler`` (or ``radsurv run --scheduler``) re-runs
    nothing."""
    return {k: v for k, v in params.items() if k not in PLACEMENT_KEYS}


def _file_digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p).encode())
        h.update(Path(p).read_bytes() if Path(p).is_file() else b"<missing>")
    return h.hexdigest()


@dataclass
class RunReport:
    """What a run did: stages executed or up to date, the renderer and the paper."""

    profile: str
    build_dir: Path
    executed: list[str] = field(default_factory=list)
    failure: StageError | None = None
    renderer: str | None = None
    paper: Path | None = None
    #: every format the render wrote, and the submission bundle (``{"docx": path, ...}``)
    outputs: dict[str, Path] = field(default_factory=dict)
    wall_s: float = 0.0
    exit_code: int = 0


class _Reporter(ConsoleReporter):
    """doit's console reporter, without its "TaskFailed ... Python Task failed: ...
    returned False" for a stage whose failure radsurv reports itself (notebook, cell,
    error): printed above the real error, it read as the error. Other failures (a task
    that raised) are printed as doit prints them."""

    def add_failure(self, task, fail):
        if isinstance(fail, TaskFailed):
            self.failures.append({"task": task, "exception": fail})
            return
        super().add_failure(task, fail)


class _Loader(TaskLoader2):
    def __init__(self, tasks: list[dict], dep_file: Path):
        super().__init__()
        self._tasks = tasks
        self._dep_file = dep_file

    def setup(self, opt_values):
        pass

    def load_doit_config(self):
        # doit's default outfile is the sys.stdout of the moment doit was first imported
        # (a default argument): name the current one, or a stream replaced since (pytest's
        # capture, a notebook) is written to after it was closed.
        return {"dep_file": str(self._dep_file), "backend": "json", "verbosity": 2, "reporter": _Reporter,
                "outfile": sys.stdout}

    def load_tasks(self, cmd, pos_args):
        from doit.task import dict_to_task

        return [dict_to_task(dict(t)) for t in self._tasks]


def _referenced_files(value, root: Path) -> list[Path]:
    """Existing YAML/JSON files named (relative to the project root) anywhere in ``value``."""
    if isinstance(value, dict):
        return [f for v in value.values() for f in _referenced_files(v, root)]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _referenced_files(v, root)]
    if isinstance(value, str) and value.endswith((".yaml", ".yml", ".json")) and (root / value).is_file():
        return [root / value]
    return []


#: Library files every notebook imports whose content a stage depends on only through
#: what the runner hashes itself: the registry (the stage's own declaration is hashed)
#: and the schema (the stage's validated parameters, defaults included, are hashed). So
#: registering stage 04 or adding its section does not re-run stages 00-03.
_HASHED_ELSEWHERE = ("stages/registry.py", "schema.py")


def stage_inputs(stage: Stage, root: Path, profile: dict, build_dir: Path) -> list[Path]:
    """The files whose content decides whether ``stage`` is stale."""
    package = Path(__file__).resolve().parents[1]
    library = [p for p in library_files(root / stage.notebook)
               if p.resolve().relative_to(package).as_posix() not in _HASHED_ELSEWHERE]
    files = [root / stage.notebook, *library, root / "requirements.lock"]
    files += [build_dir / up / STAMP for up in stage.upstream]
    # Parameter files a stage's sections point at (e.g. the PyRadiomics YAML files):
    # their content, not just their name, decides whether the stage is stale.
    files += sorted(set(_referenced_files(stage_params(profile, stage.sections), root)))
    manifest = profile["cohort"]["manifest"]
    if "cohort" in stage.sections and profile["cohort"]["source"] == "manifest" and manifest:
        files.append(Path(manifest))
    return files


def _citation_style(root: Path) -> list[Path]:
    """The citation style ``_quarto.yml`` names (``csl``), when it exists: a render input."""
    from ..report.qmd import load_project_config

    try:
        csl = load_project_config(root).get("csl")
    except Exception:  # a broken _quarto.yml is reported by the manuscript check
        return []
    return [root / str(csl)] if csl and (root / str(csl)).is_file() else []


def build_tasks(root: Path, profile_file: Path, profile: dict, build_dir: Path, report: RunReport,
                render: bool, renderer: str, stages: tuple[Stage, ...] | None = None,
                formats: Sequence[str] = FORMATS) -> list[dict]:
    """The doit task dictionaries of one run."""
    stages = STAGES if stages is None else stages
    tasks = []
    for stage in stages:
        inputs = stage_inputs(stage, root, profile, build_dir)
        params = stage_params(profile, stage.sections)   # injected whole, hashed without compute
        declared = {"params": stage_input_params(params), "declaration": stage_declaration(stage)}
        digest = _digest({"files": _file_digest([p for p in inputs if p.suffix != ".json"]), **declared})

        def action(stage=stage, digest=digest, params=params):
            try:
                rec = execute_stage(stage, root, profile_file, build_dir, digest, params)
            except StageError as exc:
                report.failure = exc
                return False
            report.executed.append(stage.name)
            print(f"   {stage.name}: {rec['wall_s']:.1f} s, peak memory {rec['peak_rss_mb']:.0f} MB", flush=True)
            return True

        tasks.append({
            "name": stage.name,
            "actions": [action],
            "file_dep": [str(p) for p in inputs],
            "targets": [str(build_dir / stage.name / STAMP)],
            "uptodate": [config_changed(declared)],
            "verbosity": 2,
        })
    if render:
        from ..report import preview
        from . import publish

        sources = ([root / s for s in MANUSCRIPT_SOURCES]
                   + _citation_style(root)
                   + module_files("radsurv.pipeline.publish")
                   + [Path(preview.__file__).parent / "preview.css",
                      Path(preview.__file__).parent / "templates" / "paper.typst"])
        stamps = [build_dir / s.name / STAMP for s in stages]
        out_dir = build_dir / "paper"

        def render_action():
            res = publish.publish_and_render(root, build_dir, profile["profile"], out_dir, renderer=renderer,
                                             stages=stages, profile_config=profile, formats=formats)
            report.renderer, report.paper = res.renderer, res.output
            report.outputs = dict(res.outputs)
            return True

        def published_here():
            # The root's _variables.yml/figures/tables must be this profile's for the
            # paper to be current (another profile may have been rendered since).
            return publish.published_profile(root) == profile["profile"] and (out_dir / ".rendered").exists()

        tasks.append({
            "name": "paper",
            "actions": [render_action],
            "file_dep": [str(p) for p in sources + stamps],
            "targets": [str(out_dir / ".rendered")],
            "uptodate": [published_here, config_changed({"renderer": renderer, "formats": list(formats)})],
            "verbosity": 2,
        })
    return tasks


def run_pipeline(profile: str | Path = "paper", *, root: Path | None = None, stages: Sequence[str] | None = None,
                 render: bool = True, renderer: str = "auto", force: bool = False,
                 overrides: Mapping[str, Any] | None = None,
                 formats: str | Sequence[str] | None = FORMATS) -> RunReport:
    """Bring the build of ``profile`` up to date (and render the paper).

    Parameters
    ----------
    profile : str or Path
        Profile name (``params/<name>.yml``) or path to a profile YAML.
    stages : sequence of str, optional
        Only these stages (and what they need); default all.
    render : bool
        Render the manuscript after the stages.
    renderer : {"auto", "quarto", "preview"}
    formats : str or sequence of str
        Without Quarto, the paper's formats among "html", "docx" and "pdf" (default all),
        with the submission bundle (:func:`radsurv.pipeline.publish.publish_and_render`).
    force : bool
        Re-run the selected stages even if they are up to date.
    overrides : mapping, optional
        Dotted profile keys set over the file (:func:`radsurv.config.load_profile`), as
        ``radsurv run --scheduler`` sets ``{"compute.scheduler": address}``; the stages
        receive the profile with them.

    Returns
    -------
    RunReport
    """
    from ..cohort.manifest import load_cohort_from_profile
    from ..config import project_root

    formats = parse_formats(formats)
    t0 = time.perf_counter()
    root = (root or project_root()).resolve()
    pfile = profile_path(profile, root)
    prof = load_profile(pfile, root, overrides=overrides)
    known = [s.name for s in STAGES]
    for s in stages or ():
        if s not in known:
            raise InputError(f"unknown stage {s!r}; stages: {', '.join(known)}")
    # Validate a user's manifest before any work: a broken manifest, or a cohort that a
    # stage to be run would refuse (radsurv.preconditions), must not touch build/.
    if prof["cohort"]["source"] == "manifest":
        from ..preconditions import region_checks

        loaded = load_cohort_from_profile(prof, Path(prof["cohort"]["manifest"]),
                                          n_jobs=resolve_n_jobs(prof["compute"]["n_jobs"]),
                                          region_checks=region_checks(prof, root))
        to_run = _with_upstream(stages or known)
        refused = [v for v in precondition_verdicts(loaded.data, prof, loaded.regions)
                   if v.refuses and v.stage in to_run]
        if refused:
            raise PreconditionError("; ".join(str(v) for v in refused), key=refused[0].key,
                                    suggested=refused[0].suggested)
    build_dir = root / "build" / prof["profile"]
    report = RunReport(profile=prof["profile"], build_dir=build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    tasks = build_tasks(root, pfile, prof, build_dir, report, render and not stages, renderer, formats=formats)
    targets = list(stages) if stages else [t["name"] for t in tasks]
    if force:
        # Forget only the named stages (doit's --always-execute would also re-run every
        # stage they depend on); stages after them re-run only if their inputs change.
        forget = DoitMain(_Loader(tasks, build_dir / ".doit.json")).run(["forget", *targets])
        if forget not in (0, None):
            raise StageError(f"could not mark {', '.join(targets)} for re-running (doit forget: {forget})")
    code = DoitMain(_Loader(tasks, build_dir / ".doit.json")).run(["run", *targets])
    report.exit_code = code
    report.wall_s = time.perf_counter() - t0
    return report


def _with_upstream(names: Sequence[str]) -> set[str]:
    """The stages ``names`` and every stage they need, transitively."""
    by_name = {s.name: s for s in STAGES}
    out, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += list(by_name[name].upstream)
    return out


def precondition_verdicts(data, profile: dict, regions: Sequence = ()) -> list:
    """The preconditions of stages 02-06 (:func:`radsurv.preconditions.check_all`) that the
    cohort table ``data`` (``patient_id``, ``center``, ``split``, ``dfs_time``,
    ``dfs_event``: the rows the run keeps) does not meet with ``profile``: what ``radsurv
    validate`` prints and what ``run`` refuses before any work. ``regions``: the lesions the
    extraction settings turn down (``LoadedCohort.regions``, problems of the ``<m>_mask``
    columns)."""
    import pandas as pd

    from ..cohort.manifest import cohort_outcomes
    from ..preconditions import check_all
    from ..sensitivity.harmonisation import harmonisation_batches

    data = data.assign(patient_id=data["patient_id"].astype(str))
    outcome = cohort_outcomes(data, pd.Index(data["patient_id"]), profile["time_unit"])
    unextractable = pd.DataFrame([{"patient_id": str(r.patient_id), "modality": str(r.column).split("_")[0],
                                   "reason": str(r)} for r in regions], columns=["patient_id", "modality", "reason"])
    return check_all(outcome, profile, harmonisation_batches(outcome, data), unextractable)


def print_outputs(renderer: str | None, paper: Path, outputs: Mapping[str, Any], stream=None) -> None:
    """"renderer: ...; paper: <the HTML>", then one line per other format and the bundle."""
    stream = stream or sys.stdout
    print(f"renderer: {renderer}; paper: {paper}", file=stream)
    for name, path in outputs.items():
        if Path(path) != Path(paper):
            print(f"  {name}: {path}", file=stream)


def print_report(report: RunReport, stream=None) -> None:
    """Print what a run did: the build folder, the stages run, the error, the paper."""
    stream = stream or sys.stdout
    print(f"profile {report.profile}: build folder {report.build_dir}", file=stream)
    if report.failure is not None:
        done = ", ".join(report.executed) if report.executed else "none"
        print(f"stages run before the failure: {done}", file=stream)
        print(f"error: {report.failure}", file=stream)
    elif report.executed:
        print(f"stages run: {', '.join(report.executed)}", file=stream)
    else:
        print("stages run: none (everything up to date)", file=stream)
    if report.paper is not None:
        print_outputs(report.renderer, report.paper, report.outputs, stream)
    print(f"total wall time: {report.wall_s:.1f} s", file=stream)

"""Execute one stage notebook with papermill, measuring wall time and peak memory.

A stage writes into ``build/<profile>/<stage>.partial/`` and the folder is moved to
``build/<profile>/<stage>/`` only when the notebook finished and wrote what the stage
declares (:func:`check_outputs`), so a failing or interrupted stage never leaves
half-written artefacts where later stages (or the manuscript) would read them, and
earlier stages' outputs stay as they were.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import psutil
import yaml

from ..exceptions import StageFailure, StageOutputsError
from ..progress import bar_options
from ..stages.context import stage_declaration
from ..stages.registry import PUBLISHED_KINDS, Stage

__all__ = ["PeakMemory", "STAMP", "check_outputs", "execute_stage"]

STAMP = ".stamp.json"


class PeakMemory:
    """Sample the resident memory of this process's children (the Jupyter kernel and
    its workers) in a background thread; ``peak_mb`` is the largest sum seen, and
    ``peak_process_mb`` the largest of one process (the kernel or one worker): the memory
    one machine of a cluster needs, which must not grow with the cohort (issue 29).
    ``cpu_s`` is the CPU time (user + system) of every process seen: unlike the wall
    time it hardly changes when other work shares the machine, so a cost curve measured
    on a busy machine can use it (``benchmarks/scale.py``). A process that ends between
    two samples loses at most ``interval`` seconds of it."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak = 0
        self.peak_process = 0
        self._cpu: dict[tuple[int, float], float] = {}   # (pid, start time) -> last CPU seconds seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                    cpu = child.cpu_times()
                    self._cpu[(child.pid, child.create_time())] = cpu.user + cpu.system
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                self.peak_process = max(self.peak_process, rss)
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def peak_process_mb(self) -> float:
        return self.peak_process / 2**20

    @property
    def cpu_s(self) -> float:
        return float(sum(self._cpu.values()))


def kernel_manager_class():
    """The kernel manager papermill starts each stage's kernel with.

    ipykernel >= 7.3 warns at every start ("Kernel is running over TCP without
    encryption") unless the kernel manager provisions CurveZMQ keys; with pyzmq's Curve
    support the kernel and papermill talk encrypted and the console stays readable. Without
    it, jupyter_client's default (and the warning) remain.
    """
    import zmq
    from jupyter_client.manager import KernelManager

    class EncryptedKernelManager(KernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if zmq.has("curve"):
                self.transport_encryption = "auto"

    return EncryptedKernelManager


def _failing_cell(executed: Path) -> tuple[int | None, str | None]:
    """Number of the code cell that raised (1-based, as in the source notebook: the
    cell papermill injects with the parameters is not counted), and its first line of
    code (comments and blank lines skipped; shortened past 80 characters)."""
    try:
        nb = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    n = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        n += 1
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
            first = lines[0] if lines else None
            if first and len(first) > 80:
                first = first[:77] + "..."
            return n, first
    return None, None


def execute_stage(stage: Stage, root: Path, profile_path: Path, build_dir: Path, inputs_digest: str,
                  stage_params: dict, log_output: bool = False, progress: bool = True) -> dict:
    """Run ``stage``'s notebook into ``build_dir/<stage>`` and return its timing record.

    Parameters
    ----------
    stage : Stage
    root : Path
        Project root (the notebook runs with it as working directory).
    profile_path : Path
        The profile YAML (the notebook loads it with :func:`radsurv.config.load_profile`).
    build_dir : Path
        ``build/<profile>``.
    inputs_digest : str
        Digest of the stage's inputs, written to the stamp that downstream stages depend on.
    stage_params : dict
        The validated global keys and the stage's sections (injected as ``params``).
    progress : bool
        Show papermill's progress bar over the notebook's cells.

    Raises
    ------
    StageFailure
        When a cell raises; the partial output folder is kept for inspection.
    StageOutputsError
        When the notebook finished without a declared output, or wrote a publishable
        file it does not declare; the partial output folder is kept.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    build_dir = Path(build_dir)
    final = build_dir / stage.name
    partial = build_dir / f"{stage.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    executed = partial / Path(stage.notebook).name
    log_dir = build_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / f"{stage.name}.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    pm_logger = logging.getLogger("papermill")
    pm_logger.addHandler(handler)
    pm_logger.setLevel(logging.INFO)
    # Paths inside the project are injected relative to it (the notebook runs there), so
    # the executed notebook published with the paper names no machine's folders.
    params = {
        "stage": stage_declaration(stage),
        "profile_path": _portable(profile_path, root),
        "build_dir": _portable(build_dir, root),
        "out_dir": _portable(partial, root),
        "params": stage_params,
    }
    t0 = time.perf_counter()
    try:
        with PeakMemory() as mem:
            pm.execute_notebook(
                str(root / stage.notebook), str(executed), parameters=params, cwd=str(root),
                kernel_name="python3", progress_bar=bar_options() if progress else False,
                log_output=log_output,
                stdout_file=None, stderr_file=None, kernel_manager_class=kernel_manager_class(),
            )
    except PapermillExecutionError as exc:
        cell, line = _failing_cell(executed)
        raise StageFailure(stage.name, stage.notebook, cell, f"{exc.ename}: {exc.evalue}", executed, line) from None
    except Exception as exc:  # kernel died, notebook unreadable...
        cell, line = _failing_cell(executed)
        raise StageFailure(stage.name, stage.notebook, cell, f"{type(exc).__name__}: {exc}", executed, line) from None
    finally:
        pm_logger.removeHandler(handler)
        handler.close()
    wall = time.perf_counter() - t0
    missing, undeclared = check_outputs(stage, partial)
    if missing or undeclared:
        raise StageOutputsError(stage.name, missing, undeclared, folder=partial)
    # the cores the stage could use: its wall time means little without them
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    record = {"wall_s": round(wall, 2), "peak_rss_mb": round(mem.peak_mb, 1),
              "peak_process_mb": round(mem.peak_process_mb, 1), "cpu_s": round(mem.cpu_s, 1), "cpus": cpus}
    steps = partial / "steps.json"
    if steps.is_file():
        record["steps_s"] = json.loads(steps.read_text(encoding="utf-8"))
    (partial / STAMP).write_text(json.dumps({"stage": stage.name, "inputs": inputs_digest}, indent=1) + "\n")
    # Swap in the new outputs only now that the stage succeeded.
    if final.exists():
        old = build_dir / f"{stage.name}.old"
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(partial, final)
        shutil.rmtree(old)
    else:
        os.replace(partial, final)
    _update_timings(build_dir, stage.name, record)
    return record


def _portable(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies inside it, else absolute."""
    path, root = Path(path).resolve(), Path(root).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def check_outputs(stage: Stage, folder: Path) -> tuple[list[str], list[str]]:
    """Compare what a stage wrote in ``folder`` with what it declares.

    Returns
    -------
    (missing, undeclared)
        Required declared artefacts that are absent (``variables.yml`` counts when the
        stage declares variables), and publishable files (``fig-*.png``, ``*.md`` at the
        top of the folder) that it does not declare, or that are rendered when the paper
        is published (:mod:`radsurv.manuscript`) and so are not the stage's to write.
    """
    folder = Path(folder)
    missing = [a.name for a in stage.written() if not a.optional and not (folder / a.name.rstrip("/")).exists()]
    if stage.variables and not (folder / "variables.yml").is_file():
        missing.append("variables.yml")
    declared = {a.name for a in stage.written() if a.kind in PUBLISHED_KINDS}
    written = {p.name for p in folder.glob("fig-*.png")} | {p.name for p in folder.glob("*.md")}
    undeclared = sorted(written - declared)
    variables = folder / "variables.yml"
    if variables.is_file():
        keys = set(yaml.safe_load(variables.read_text(encoding="utf-8")) or {})
        undeclared += [f"variables.yml key '{k}'" for k in sorted(keys - set(stage.variables) - {"provenance"})]
    return missing, undeclared


def _update_timings(build_dir: Path, stage: str, record: dict) -> None:
    path = build_dir / "timings.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault("stages", {})[stage] = record
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")

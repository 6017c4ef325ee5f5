"""Step timings inside a stage: ``with timed(out_dir, "extraction"): ...``.

Each step's wall time goes to ``<out_dir>/steps.json``; the runner copies it into
``build/<profile>/timings.json`` beside the stage's total wall time and peak memory,
and the manuscript's computational-cost table reads it from there.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["STEPS_FILE", "StepTimer", "record_step", "timed"]

STEPS_FILE = "steps.json"


def record_step(out_dir: Path, step: str, seconds: float) -> None:
    """Add (or replace) one step's wall time in ``<out_dir>/steps.json``."""
    path = Path(out_dir) / STEPS_FILE
    steps = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    steps[step] = round(float(seconds), 2)
    path.write_text(json.dumps(steps, indent=1, sort_keys=True) + "\n", encoding="utf-8")


class StepTimer:
    """What ``timed`` yields: the step's name, and its seconds once the block has run.

    A block may rename its step before it ends (e.g. "U-Net training (cached)").
    """

    def __init__(self, step: str):
        self.step = step
        self.seconds: float | None = None


@contextmanager
def timed(out_dir: Path, step: str, echo: bool = True) -> Iterator[StepTimer]:
    """Time a block and record it as ``step`` (also when the block raises).

    Parameters
    ----------
    out_dir : Path
        The stage's output folder.
    step : str
        The step's name in ``timings.json``.
    echo : bool
        Print "step: 12.3 s" when the block ends.
    """
    timer = StepTimer(step)
    t0 = time.perf_counter()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - t0
        record_step(out_dir, timer.step, timer.seconds)
        if echo:
            print(f"{timer.step}: {timer.seconds:.1f} s", flush=True)

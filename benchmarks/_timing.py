"""Shared timing helper of the benchmarks (they run as scripts: ``python benchmarks/bench_x.py``)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import numpy as np

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeat: int = 3) -> tuple[float, T]:
    """The best wall time of ``repeat`` calls of ``fn`` (seconds), and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out

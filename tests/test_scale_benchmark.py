"""benchmarks/scale.py's arithmetic (the exponent, the extrapolation, the goals) and the
CPU time and per-process memory that the stage runner records for it."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from radsurv.pipeline.execute import PeakMemory

from tests._benchmarks import load_benchmark


def _script(root):
    return load_benchmark("scale")


def test_exponent_is_the_log_log_slope(root):
    script = _script(root)
    n = np.array([100.0, 200.0, 400.0])
    assert script.fit_exponent(n, 3.0 * n**1.25) == pytest.approx(1.25)
    assert script.fit_exponent(n, np.array([5.0, 5.0, 5.0])) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(script.fit_exponent(n[:1], np.array([1.0])))          # one size: no curve
    assert math.isnan(script.fit_exponent(n, np.array([0.0, 0.01, 0.02])))   # nothing measurable


def _rows(n, wall, cpu, steps):
    rows = [{"N": n, "stage": "02_features", "step": "(stage)", "seconds": wall, "cpu_s": cpu,
             "peak_rss_mb": 900.0, "peak_process_mb": 500.0}]
    rows += [{"N": n, "stage": "02_features", "step": k, "seconds": v, "cpu_s": None,
              "peak_rss_mb": None, "peak_process_mb": None} for k, v in steps.items()]
    return rows


def test_curve_extrapolation_and_goals(root):
    script = _script(root)
    rows = pd.DataFrame(_rows(100, 100.0, 180.0, {"extraction": 80.0, "writing": 20.0})
                        + _rows(200, 200.0, 360.0, {"extraction": 180.0, "writing": 20.0}))
    table = script.curve(rows)
    whole = table[table["step"] == "(stage)"].iloc[0]
    assert whole["k"] == pytest.approx(1.0) and whole["k_cpu"] == pytest.approx(1.0)
    assert whole["k_mem"] == pytest.approx(0.0)
    ext = script.extrapolate(table, 200, 800, [2, 64]).set_index("stage")
    # CPU 360 s x 4; 90% of the wall time at 200 is the parallel extraction
    assert ext.loc["02_features", "CPU s"] == pytest.approx(1440.0)
    assert ext.loc["02_features", "s on 64 cores"] == pytest.approx(1440.0 * (0.1 + 0.9 / 64))
    assert ext.loc["total", "CPU s"] == pytest.approx(1440.0)
    # the extraction step's wall time grew as N^1.17: over the 1.05 goal, flagged
    bad = script.missed_goals(table)
    assert len(bad) == 1 and "extraction (wall time)" in bad[0]


def test_peak_memory_records_cpu_time_and_the_largest_process():
    burn = ("import time, numpy as np; x = np.ones(40_000_000); t = time.process_time()\n"
            "while time.process_time() - t < 0.6: pass\ntime.sleep(0.3)")
    with PeakMemory(interval=0.05) as mem:
        subprocess.run([sys.executable, "-c", burn], check=True)
    assert mem.cpu_s >= 0.5                     # the child's CPU seconds, seen while it ran
    assert mem.peak_process_mb >= 300           # its 320 MB array
    assert mem.peak_mb >= mem.peak_process_mb

"""Loader for the R reference values in ``tests/data/reference/<item>/``.

Each item holds ``data.csv`` (the exact input) and ``results.json`` (R's outputs;
``null`` means NA). See ``tests/data/reference/README.md`` for the source.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"


def load_reference(item: str) -> tuple[pd.DataFrame, dict]:
    """Return ``(data, results)`` for one reference item."""
    d = REFERENCE_DIR / item
    if not d.is_dir():
        raise FileNotFoundError(f"no reference item {item!r} under {REFERENCE_DIR}")
    data = pd.read_csv(d / "data.csv")
    results = json.loads((d / "results.json").read_text(encoding="utf-8"))
    return data, results


def na_array(values) -> np.ndarray:
    """JSON value(s) with ``null`` (R's NA) -> float array with NaN (nested lists kept)."""
    def conv(v):
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return np.nan if v is None else float(v)
    if hasattr(values, "to_numpy"):  # a pandas Series
        values = values.to_numpy()
    return np.asarray(conv(values.tolist() if isinstance(values, np.ndarray) else values), dtype=float)


def assert_close(actual, expected, rtol: float, atol: float = 0.0, what: str = "") -> float:
    """Element-wise check with NA (None/NaN) matching NA; returns the max relative error."""
    a = np.atleast_1d(np.asarray(actual, dtype=float))
    e = np.atleast_1d(na_array(expected))
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} != expected {e.shape}")
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if not np.array_equal(nan_a, nan_e):
        raise AssertionError(f"{what}: NA pattern differs\nactual={a}\nexpected={e}")
    ok = ~nan_e
    np.testing.assert_allclose(a[ok], e[ok], rtol=rtol, atol=atol, err_msg=what)
    diff = np.abs(a[ok] - e[ok])
    rel = np.where(np.abs(e[ok]) > 0, diff / np.where(e[ok] == 0, 1, np.abs(e[ok])), diff)
    return float(rel.max()) if rel.size else 0.0

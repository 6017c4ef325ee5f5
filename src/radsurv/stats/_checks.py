"""Input checks shared by the statistics functions.

Every public function validates its arguments here so that bad input fails with a
``ValueError`` that names the argument and the reason, instead of a NaN result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["as_1d_float", "as_2d_float", "check_conf_level", "check_event", "check_not_constant",
           "check_risk_at_time", "check_survival", "check_time", "same_length"]


def as_1d_float(x, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D float array; reject NaN/inf and wrong shapes."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot be read as numbers ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: contains NaN or infinite values (first at index {i})")
    return arr


def as_2d_float(X, name: str = "X", allow_nan: bool = False) -> np.ndarray:
    """Return ``X`` (array or DataFrame) as a 2-D float array; a 1-D array is one column.

    Rejects text, empty matrices and (unless ``allow_nan``) NaN or infinite values,
    naming the first bad cell.
    """
    try:
        arr = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot be read as numbers ({exc})") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        i, j = (int(v[0]) for v in np.nonzero(bad))
        what = "infinite" if allow_nan else "NaN or infinite"
        raise ValueError(f"{name}: contains {what} values (first at row {i}, column {j})")
    return arr


def check_conf_level(conf_level) -> float:
    """A confidence level strictly between 0 and 1."""
    try:
        level = float(conf_level)
    except (TypeError, ValueError):
        raise ValueError(f"conf_level: must be a number in (0, 1), got {conf_level!r}") from None
    if not 0 < level < 1:
        raise ValueError(f"conf_level: must be in (0, 1), got {conf_level!r}")
    return level


def same_length(**arrays) -> int:
    """Check that all named arrays have the same length; return it."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise ValueError(f"mismatched lengths: {desc}")
    return next(iter(lengths.values()))


def check_time(time, name: str = "time") -> np.ndarray:
    t = as_1d_float(time, name)
    if (t < 0).any():
        i = int(np.flatnonzero(t < 0)[0])
        raise ValueError(f"{name}: negative time {t[i]!r} at index {i}")
    return t


def check_event(event, name: str = "event", require_events: bool = True) -> np.ndarray:
    e = as_1d_float(event, name)
    ok = (e == 0) | (e == 1)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"{name}: must be 0/1, got {e[i]!r} at index {i}")
    if require_events and e.sum() == 0:
        raise ValueError(f"{name}: no events (all observations censored)")
    return e.astype(np.int8)


def check_survival(time, event, require_events: bool = True, **others):
    """Validate ``time``, ``event`` and further same-length 1-D arrays.

    Returns ``(time, event, others_dict)`` as float/int arrays.
    """
    t = check_time(time)
    e = check_event(event, require_events=require_events)
    out = {k: as_1d_float(v, k) for k, v in others.items()}
    same_length(time=t, event=e, **out)
    return t, e, out


def check_not_constant(x: np.ndarray, name: str) -> None:
    if np.all(x == x[0]):
        raise ValueError(f"{name}: is constant (all values equal {x[0]!r}); nothing to rank")


def check_risk_at_time(time, event, predicted_risk, t):
    """Survival data with a predicted risk of an event by a positive horizon ``t``.

    Returns ``(time, event, predicted_risk, t)`` as checked arrays and a float.
    """
    tt, e, o = check_survival(time, event, require_events=False, predicted_risk=predicted_risk)
    p = o["predicted_risk"]
    if (p < 0).any() or (p > 1).any():
        raise ValueError("predicted_risk: must be probabilities in [0, 1]")
    t = float(as_1d_float([t], "t")[0])
    if t <= 0:
        raise ValueError(f"t: must be a positive time, got {t!r}")
    return tt, e, p, t

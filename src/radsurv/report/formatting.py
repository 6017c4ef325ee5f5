"""Numbers as the paper prints them: p-values and estimates with their confidence
interval, the same way in every stage's tables, texts and figures."""

from __future__ import annotations

import numpy as np

__all__ = ["MISSING", "format_ci", "format_p"]

#: What a table or text shows for a value that does not exist (an en dash).
MISSING = "–"


def format_p(p: float | None, missing: str | None = MISSING) -> str:
    """A p-value with three decimals, or ``<0.001`` below 0.001.

    Parameters
    ----------
    p : float or None
    missing : str or None
        Shown for a p that is None, NaN or infinite. None formats such a p as Python does
        (``nan``, ``inf``; ``-inf`` is below 0.001), as the cohort stage always has.
    """
    if missing is not None and (p is None or not np.isfinite(p)):
        return missing
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_ci(estimate: float, lower: float, upper: float, digits: int = 2) -> str:
    """``estimate (lower-upper)`` with ``digits`` decimals (``1.23 (0.98-1.54)``), or
    :data:`MISSING` when the estimate is NaN or infinite."""
    if not np.isfinite(estimate):
        return MISSING
    return f"{estimate:.{digits}f} ({lower:.{digits}f}-{upper:.{digits}f})"

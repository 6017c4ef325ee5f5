"""Tests across groups for the centre-effect count of the harmonisation analysis.

* :func:`kruskal_wallis`: R's ``kruskal.test(x, g)`` (ranks with ties averaged, the
  tie-corrected statistic, chi-square with k - 1 degrees of freedom), through SciPy;
* :func:`bh_adjust`: R's ``p.adjust(p, method = "BH")``, Benjamini & Hochberg (1995).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["KruskalWallis", "bh_adjust", "kruskal_wallis"]


@dataclass(frozen=True)
class KruskalWallis:
    """``statistic`` (H, tie-corrected), ``df`` (groups - 1) and ``p``."""

    statistic: float
    df: int
    p: float


def kruskal_wallis(x, groups) -> KruskalWallis:
    """Kruskal-Wallis rank-sum test of ``x`` across ``groups`` (R's ``kruskal.test``).

    Parameters
    ----------
    x : array-like
        Values (finite).
    groups : array-like
        Group label of each value; at least two groups.
    """
    x = np.asarray(x, dtype=float)
    g = np.asarray(groups)
    if x.shape != g.shape:
        raise ValueError("x and groups must have the same length")
    if not np.isfinite(x).all():
        raise ValueError("kruskal_wallis: x has non-finite values")
    levels = list(dict.fromkeys(g.tolist()))
    if len(levels) < 2:
        raise ValueError("kruskal_wallis: needs at least two groups")
    if np.ptp(x) == 0:
        return KruskalWallis(float("nan"), len(levels) - 1, float("nan"))
    h, p = stats.kruskal(*[x[g == lv] for lv in levels])
    return KruskalWallis(float(h), len(levels) - 1, float(p))


def bh_adjust(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (R's ``p.adjust(p, "BH")``), in the input order."""
    p = np.asarray(p, dtype=float)
    if p.size == 0:
        return p.copy()
    if ((p < 0) | (p > 1) | ~np.isfinite(p)).any():
        raise ValueError("bh_adjust: p-values must lie in [0, 1]")
    return stats.false_discovery_control(p, method="bh")

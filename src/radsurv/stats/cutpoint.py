"""Maximally selected log-rank statistic for an optimal cut-point (R ``maxstat``).

Reproduces ``maxstat.test(Surv(time, event) ~ marker, smethod = "LogRank",
pmethod = "Lau94", minprop, maxprop)`` (maxstat 0.7-25): the standardized
linear rank statistic of exactRankTests log-rank scores over every admissible
split ``marker <= cut``, its maximum, the first cut that attains it, and the
Lausen & Schumacher (1994) p-value approximation (also the 1992 one). For the
X-tile plot every candidate cut also gets the ordinary ``survdiff`` chi-square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import check_not_constant, check_survival
from .survival_curves import logrank

__all__ = ["CutpointResult", "logrank_scores", "optimal_cutpoint"]


@dataclass(frozen=True)
class CutpointResult:
    """Optimal cut-point: split ``marker <= cutpoint`` vs ``marker > cutpoint``.

    ``statistic`` is maxstat's standardized statistic (not the square root of the
    log-rank chi-square); ``p_value`` is the Lau94 bound, ``p_lau92`` the Lau92
    approximation. ``grid`` has one row per candidate cut: ``cut``, ``n_low``,
    ``statistic``, ``logrank_chisq``, ``logrank_p``. ``scores`` are the log-rank
    scores in input order.
    """

    cutpoint: float
    statistic: float
    p_value: float
    p_lau92: float
    n_cuts: int
    minprop: float
    maxprop: float
    grid: pd.DataFrame
    scores: np.ndarray

    @property
    def logrank_chisq(self) -> float:
        """``survdiff`` chi-square of the split at ``cutpoint``."""
        return float(self.grid.loc[self.grid["cut"] == self.cutpoint, "logrank_chisq"].iloc[0])


def logrank_scores(time, event) -> np.ndarray:
    """Log-rank scores as ``exactRankTests::cscores(Surv(time, event))``.

    a_i = event_i - sum over j with time_j <= time_i of event_j / (N - r_j + 1),
    with r_j = #{k: time_k <= time_j}. With tied times the denominator is not the
    risk-set size (it counts the later times plus one); this reproduces R's scores.
    """
    t, e, _ = check_survival(time, event, require_events=False)
    N = t.size
    ot = np.argsort(t, kind="stable")
    r = np.searchsorted(np.sort(t), t, side="right")  # rank, ties.method = "max"
    fact = e / (N - r + 1.0)
    return e - np.cumsum(fact[ot])[r - 1]


def _lausen94(b: float, N: int, m: np.ndarray) -> float:
    """``maxstat::pLausen94(b, N, minprop, maxprop, m = n_low of the cuts)``."""
    if m.size < 2:
        return float(1 - (stats.norm.cdf(b) - stats.norm.cdf(-b)))
    m1, m2 = m[:-1].astype(float), m[1:].astype(float)
    t = np.sqrt(1 - m1 * (N - m2) / ((N - m1) * m2))
    D = np.sum(1 / np.pi * np.exp(-(b**2) / 2) * (t - (b**2 / 4 - 1) * t**3 / 6))
    return float(1 - (stats.norm.cdf(b) - stats.norm.cdf(-b)) + D)


def _lausen92(b: float, minprop: float, maxprop: float) -> float:
    """``maxstat::pLausen92``: Miller & Siegmund's approximation."""
    db = stats.norm.pdf(b)
    return float(4 * db / b + db * (b - 1 / b) * np.log((maxprop * (1 - minprop)) / ((1 - maxprop) * minprop)))


def optimal_cutpoint(time, event, marker, min_prop: float = 0.1, max_prop: float = 0.9,
                     logrank_grid: bool = True) -> CutpointResult:
    """Optimal cut-point of a continuous marker by the maximally selected log-rank statistic.

    Reproduces ``maxstat.test(Surv(time, event) ~ marker, smethod = "LogRank",
    pmethod = "Lau94", minprop = min_prop, maxprop = max_prop)``.

    Candidate cuts are the distinct marker values whose n_low = #(marker <= cut)
    satisfies max(1, floor(N min_prop)) <= n_low <= floor(N max_prop). For each,
    S = sum of log-rank scores a over marker <= cut, and the standardized
    statistic is |S - m/N sum(a)| / sqrt(V) with
    V = m (N - m) / (N^2 (N - 1)) (N sum(a^2) - sum(a)^2), m = n_low.

    Parameters
    ----------
    time, event, marker : array-like
    min_prop, max_prop : float
        Smallest and largest proportion of subjects in the low group.
    logrank_grid : bool
        Also compute the ``survdiff`` chi-square and p at every cut (for the X-tile
        plot). One O(n) log-rank per cut.

    Returns
    -------
    CutpointResult
    """
    if not (0 <= min_prop < max_prop <= 1):
        raise ValueError(f"min_prop/max_prop: need 0 <= min_prop < max_prop <= 1, got {min_prop!r}, {max_prop!r}")
    t, e, o = check_survival(time, event, marker=marker)
    x = o["marker"]
    check_not_constant(x, "marker")
    N = t.size
    a = logrank_scores(t, e)

    ux, inv = np.unique(x, return_inverse=True)
    counts = np.bincount(inv)
    n_low = np.cumsum(counts)
    lo_lim = max(1, int(np.floor(N * min_prop)))
    hi_lim = int(np.floor(N * max_prop))
    ok = (n_low >= lo_lim) & (n_low <= hi_lim)
    if not ok.any():
        raise ValueError(
            f"marker: no cut leaves between {lo_lim} and {hi_lim} subjects in the low group "
            "(too many ties for min_prop/max_prop)"
        )
    cuts, m = ux[ok], n_low[ok].astype(float)
    S = np.cumsum(np.bincount(inv, weights=a))[ok]
    sa, sa2 = a.sum(), np.sum(a**2)
    E = m / N * sa
    V = m * (N - m) / (N**2 * (N - 1)) * (N * sa2 - sa**2)
    if np.any(V <= 0):
        raise ValueError("time/event: log-rank scores have no variance (no usable events)")
    stat = np.abs(S - E) / np.sqrt(V)
    best = int(np.argmax(stat))  # first maximum, as maxstat's which.max
    b = float(stat[best])

    grid = pd.DataFrame({"cut": cuts, "n_low": m.astype(int), "statistic": stat})
    if logrank_grid:
        chisq = np.empty(cuts.size)
        for k, c in enumerate(cuts):
            chisq[k] = logrank(t, e, (x > c).astype(int)).statistic
        grid["logrank_chisq"] = chisq
        grid["logrank_p"] = stats.chi2.sf(chisq, 1)

    return CutpointResult(
        cutpoint=float(cuts[best]), statistic=b,
        p_value=_lausen94(b, N, n_low[ok]), p_lau92=_lausen92(b, min_prop, max_prop),
        n_cuts=int(cuts.size), minprop=min_prop, maxprop=max_prop, grid=grid, scores=a,
    )

"""Univariable Cox score tests of many features at once (the screening step of a signature).

For each column x of X, the score test of the univariable Cox model ``h(t) = h0(t)
exp(beta x)`` at ``beta = 0``: the score U = dl/dbeta and the information
I = -d2l/dbeta2 at 0, the statistic U^2 / I (chi-square, 1 df) and the signed
z = U / sqrt(I). This is R's ``coxph(Surv(time, event) ~ x, ties = ties)$score``
(``summary(fit)$sctest``), computed for every column in one pass over the risk sets
instead of one Newton fit per feature.

At beta = 0 every subject has risk 1, so with d deaths at a time where n are at risk,
S1 = sum of x over the risk set and S2 = sum of x^2:

* Breslow: U = sum_deaths x - sum_times d S1/n;  I = sum_times d (S2/n - (S1/n)^2);
* Efron: each of the d tied deaths k = 0..d-1 sees the risk set with k/d of the deaths'
  weight removed: n_k = n - k, S1_k = S1 - (k/d) S1_D, S2_k = S2 - (k/d) S2_D (S1_D, S2_D
  the sums over the d deaths); U and I sum over k the Breslow terms with d = 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import as_2d_float, check_survival, same_length

__all__ = ["univariable_score_tests"]


def univariable_score_tests(X, time, event, ties: str = "efron") -> pd.DataFrame:
    """Score test of a univariable Cox model for every column of ``X``.

    Parameters
    ----------
    X : array-like or DataFrame, (n, p)
        Features (columns are tested one at a time).
    time, event : array-like, (n,)
        Follow-up and event indicator (1 = event).
    ties : {"efron", "breslow"}
        Tie handling, as ``coxph``'s ``ties`` (R's default is Efron).

    Returns
    -------
    DataFrame
        One row per column (index: the column names, or ``x1``...): ``score`` (U),
        ``information`` (I), ``z`` (U / sqrt(I), positive when higher values mean higher
        hazard), ``chisq`` (U^2 / I) and ``p`` (1 df). A constant column has I = 0 and
        z, chisq, p NaN.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties: must be 'efron' or 'breslow', got {ties!r}")
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    A = as_2d_float(X, "X")
    t, e, _ = check_survival(time, event)
    same_length(time=t, X=A[:, 0])
    names = names or [f"x{j + 1}" for j in range(A.shape[1])]

    # Distinct event times, in decreasing time order so that cumulative sums give the
    # risk sets {time >= u}.
    order = np.argsort(-t, kind="stable")
    ts, es, As = t[order], e[order], A[order]
    S1_all = np.cumsum(As, axis=0)
    S2_all = np.cumsum(As * As, axis=0)
    n_all = np.arange(1, len(ts) + 1, dtype=float)
    # The last row of each block of equal times closes that time's risk set.
    last = np.flatnonzero(np.r_[ts[1:] != ts[:-1], True])
    block = np.repeat(np.arange(last.size), np.diff(np.r_[-1, last]))
    d = np.bincount(block, weights=es.astype(float))
    keep = d > 0
    n, S1, S2 = n_all[last][keep], S1_all[last][keep], S2_all[last][keep]
    d = d[keep]
    # Sums over each time's deaths.
    death_rows = es == 1
    blk = np.searchsorted(np.flatnonzero(keep), block[death_rows])
    S1D = np.zeros_like(S1)
    S2D = np.zeros_like(S2)
    np.add.at(S1D, blk, As[death_rows])
    np.add.at(S2D, blk, As[death_rows] ** 2)

    U = S1D.sum(axis=0)
    if ties == "breslow":
        m1, m2 = S1 / n[:, None], S2 / n[:, None]
        U = U - (d[:, None] * m1).sum(axis=0)
        info = (d[:, None] * (m2 - m1 * m1)).sum(axis=0)
    else:
        info = np.zeros(A.shape[1])
        for k in range(int(d.max())):
            active = d > k
            frac = (k / d[active])[:, None]
            nk = (n[active] - k)[:, None]
            m1 = (S1[active] - frac * S1D[active]) / nk
            m2 = (S2[active] - frac * S2D[active]) / nk
            U = U - m1.sum(axis=0)
            info = info + (m2 - m1 * m1).sum(axis=0)
    # Rounding can leave a tiny negative information for a constant column.
    info = np.where(info > 1e-12 * np.maximum(1.0, np.abs(S2).max(axis=0)), info, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(info > 0, U / np.sqrt(info), np.nan)
    chisq = z * z
    p = stats.chi2.sf(chisq, 1)
    return pd.DataFrame({"score": U, "information": info, "z": z, "chisq": chisq, "p": p}, index=names)

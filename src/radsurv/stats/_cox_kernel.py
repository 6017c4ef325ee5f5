"""Compiled risk-set sums of :mod:`radsurv.stats.cox` (numba).

Every Cox fit (the univariable screens, the backward eliminations on each imputed set,
the six models, inside every bootstrap resample and outcome draw) evaluates the partial
likelihood's derivatives some ten times; the optimism bootstrap makes about 9,500 such
evaluations per resample. In numpy one evaluation built three cumulative sums over
(patients x covariates x covariates) temporaries and scattered the tied deaths' sums
with ``np.add.at``: about 0.36 ms for 311 patients and 8 columns, mostly array
allocation and interpreter time between small operations. This loop makes the same
sums in one pass, about five times faster.

It is the numpy code's arithmetic to the last bit, not an approximation of it: each
running sum adds the same products ``(r_i x_ia) x_ib`` in the same order (decreasing
time for the risk sets, as ``np.cumsum`` did; the deaths' order for the tied sums, as
``np.bincount`` and ``np.add.at`` did), and the operations whose order numpy chooses
itself (the exponential, the pairwise sums of the log-likelihood, ``einsum``) stay in
numpy, in :func:`radsurv.stats.cox._loglik_derivs`. :func:`risk_set_sums_numpy` is the
former numpy code, kept as the reference: ``tests/stats/test_cox_kernel.py`` compares the
two on random data (tied times, tied deaths, overflow) with ``==``, and
``benchmarks/bench_cox_kernel.py`` measures the ratio.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def risk_set_sums(X, r, order, prefix_end, death_idx, death_group, n_groups, need_info):
    """Risk-set sums S0, S1, S2 at each distinct event time and the tied deaths' sums.

    Parameters
    ----------
    X : ndarray (n, p)
        Covariates (any layout).
    r : ndarray (n,)
        Relative risks exp(X beta).
    order : ndarray (n,)
        Patients by decreasing time (stable): the risk set of an event time is a prefix.
    prefix_end : ndarray (G,)
        Last position in ``order`` of each event time's risk set (non-increasing in the
        event time's rank).
    death_idx, death_group : ndarray (D,)
        The deaths and the rank of their event time.
    n_groups : int
        G, the distinct event times.
    need_info : bool
        Whether the second-order sums (for the information matrix) are wanted.

    Returns
    -------
    S0 (G,), S1 (G, p), S2 (G, p, p), S0D (G,), S1D (G, p), S2D (G, p, p)
        S2 and S2D are empty (0, p, p) without ``need_info``.
    """
    n, p = X.shape
    G = n_groups
    S0 = np.empty(G)
    S1 = np.empty((G, p))
    S2 = np.empty((G if need_info else 0, p, p))
    c0 = 0.0
    c1 = np.zeros(p)
    c2 = np.zeros((p, p))
    g = G - 1   # the latest event time has the smallest risk set: reached first
    for k in range(n):
        i = order[k]
        ri = r[i]
        c0 += ri
        for a in range(p):
            c1[a] += ri * X[i, a]
        if need_info:
            for a in range(p):
                ra = ri * X[i, a]
                for b in range(p):
                    c2[a, b] += ra * X[i, b]
        while g >= 0 and prefix_end[g] == k:
            S0[g] = c0
            for a in range(p):
                S1[g, a] = c1[a]
            if need_info:
                for a in range(p):
                    for b in range(p):
                        S2[g, a, b] = c2[a, b]
            g -= 1
    S0D = np.zeros(G)
    S1D = np.zeros((G, p))
    S2D = np.zeros((G if need_info else 0, p, p))
    for m in range(death_idx.size):
        i = death_idx[m]
        gm = death_group[m]
        ri = r[i]
        S0D[gm] += ri
        for a in range(p):
            S1D[gm, a] += ri * X[i, a]
        if need_info:
            for a in range(p):
                ra = ri * X[i, a]
                for b in range(p):
                    S2D[gm, a, b] += ra * X[i, b]
    return S0, S1, S2, S0D, S1D, S2D


def risk_set_sums_numpy(X, r, order, prefix_end, death_idx, death_group, n_groups, need_info):
    """:func:`risk_set_sums` as numpy computed it before the kernel (cumulative sums over
    the time-sorted rows, ``np.bincount`` and ``np.add.at`` for the tied deaths): the
    reference the kernel must equal to the last bit, and the baseline of its benchmark."""
    p = X.shape[1]
    Xs, rsrt = X[order], r[order]
    c0 = np.cumsum(rsrt)
    c1 = np.cumsum(rsrt[:, None] * Xs, axis=0)
    S0, S1 = c0[prefix_end], c1[prefix_end]
    Xd, rd = X[death_idx], r[death_idx]
    S0D = np.bincount(death_group, weights=rd, minlength=n_groups)
    S1D = np.zeros((n_groups, p))
    np.add.at(S1D, death_group, rd[:, None] * Xd)
    if not need_info:
        return S0, S1, np.empty((0, p, p)), S0D, S1D, np.zeros((0, p, p))
    c2 = np.cumsum(rsrt[:, None, None] * Xs[:, :, None] * Xs[:, None, :], axis=0)
    S2 = c2[prefix_end]
    S2D = np.zeros((n_groups, p, p))
    np.add.at(S2D, death_group, rd[:, None, None] * Xd[:, :, None] * Xd[:, None, :])
    return S0, S1, S2, S0D, S1D, S2D

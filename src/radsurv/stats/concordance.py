"""Harrell's and Uno's concordance index with R's infinitesimal-jackknife SE.

Reproduces ``survival::concordance`` (survival >= 3.0) for right-censored data with
a risk score where higher risk means shorter survival, i.e.
``concordance(Surv(time, event) ~ risk, reverse = TRUE)``, which is what
``concordance(coxfit)`` reports for a Cox model.

Pair rules (as R): a pair (i, j) is comparable when i has an event and either
``time_j > time_i`` or j is censored at ``time_i`` (a censoring at a death time is
taken to follow the death). Two events at the same time are "tied.y" and are not
comparable. Among comparable pairs, equal risk scores ("tied.x") count one half.

Everything is O(n log n): all pair sums are "weighted 2-D dominance counts"
(how much weight lies below a point in both time and risk), computed level by
level as in a bottom-up merge sort, with one ``argsort`` + ``searchsorted`` per
level, fully vectorised in numpy. The same search plans are reused for every
bootstrap replicate, where only the case weights change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._checks import as_1d_float, check_not_constant, check_survival

__all__ = ["bootstrap_harrell_c", "ConcordanceResult", "harrell_c", "uno_c"]

_Z975 = stats.norm.ppf(0.975)


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class ConcordanceResult:
    """Concordance index with its infinitesimal-jackknife standard error.

    ``concordant``, ``discordant``, ``tied_risk`` (R's ``tied.x``), ``tied_time``
    (``tied.y``) and ``tied_both`` (``tied.xy``) are the (time-weighted, for
    Uno's C) pair counts of ``concordance()$count``.
    """

    c: float
    se: float
    lower: float
    upper: float
    concordant: float
    discordant: float
    tied_risk: float
    tied_time: float
    tied_both: float
    n: int
    timewt: str = "n"
    ymax: float | None = None

    @property
    def var(self) -> float:
        return self.se**2

    @property
    def n_pairs(self) -> float:
        """Comparable pairs: concordant + discordant + tied_risk."""
        return self.concordant + self.discordant + self.tied_risk


# --------------------------------------------------------------------------- dominance sums
class _DominancePlan:
    """Search plan for S_k = sum_j w_j [x_j < x_k] [y_j < y_k] (or y_j <= y_k).

    ``x`` and ``y`` are dense integer ranks (ties allowed in both). Every pair with
    x_j < x_k is split at exactly one level of a binary partition of the x ranks
    (the highest bit where they differ): j falls in the left half, k in the right
    half of the same block. At that level, the weight of left-half elements of k's
    block with smaller y is a difference of prefix sums over the left halves
    sorted by (block, y). Ties in x never split, so x_j < x_k is strict.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, strict_y: bool = True):
        x = np.asarray(x, dtype=np.int64)
        y = np.asarray(y, dtype=np.int64)
        n_y = int(y.max()) + 1
        n_levels = max(1, int(np.ceil(np.log2(int(x.max()) + 1)))) if x.max() > 0 else 0
        side = "left" if strict_y else "right"
        self.levels = []
        for lev in range(n_levels):
            block = x >> (lev + 1)
            right = ((x >> lev) & 1).astype(bool)
            left_idx = np.flatnonzero(~right)
            q_idx = np.flatnonzero(right)
            if q_idx.size == 0 or left_idx.size == 0:
                continue
            comp_left = block[left_idx] * n_y + y[left_idx]
            order = np.argsort(comp_left, kind="stable")
            src = left_idx[order]
            sorted_comp = comp_left[order]
            qb = block[q_idx] * n_y
            lo = np.searchsorted(sorted_comp, qb, side="left")
            hi = np.searchsorted(sorted_comp, qb + y[q_idx], side=side)
            self.levels.append((src, q_idx, lo, hi))

    def apply(self, w: np.ndarray) -> np.ndarray:
        """Dominance sums for weights ``w`` (shape (n,) or (B, n), B replicates)."""
        w = np.asarray(w, dtype=float)
        out = np.zeros_like(w)
        for src, q_idx, lo, hi in self.levels:
            cw = np.cumsum(w[..., src], axis=-1)
            cw = np.concatenate([np.zeros(w.shape[:-1] + (1,)), cw], axis=-1)
            out[..., q_idx] += cw[..., hi] - cw[..., lo]
        return out


def _dense_rank(x: np.ndarray) -> np.ndarray:
    return np.unique(x, return_inverse=True)[1].astype(np.int64)


def _time_keys(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Integer key a with: (i event, j) comparable  <=>  a_j > a_i.

    a = 2 * rank(time) + (1 - event): a censoring at a death time sorts after the
    death (comparable), tied deaths share a key (not comparable, tied.y).
    """
    return 2 * _dense_rank(t) + (1 - e.astype(np.int64))


def _time_weights(t, e, timewt: str, ymax: float | None) -> np.ndarray:
    """Per-subject weight of the pairs a death starts (0 for censored), as R's
    ``concordancefit``: "n" -> 1, "n/G" -> 1/G(t-), "n/G2" -> 1/G(t-)^2, with G the
    Kaplan-Meier estimate of the censoring distribution; 0 for deaths > ymax."""
    tw = e.astype(float).copy()
    if timewt != "n" and e.sum() >= 2:  # R falls back to "n" with < 2 events
        ut, inv = np.unique(t, return_inverse=True)
        cens = np.bincount(inv, weights=1.0 - e, minlength=ut.size)
        dead = np.bincount(inv, weights=e.astype(float), minlength=ut.size)
        tot = np.bincount(inv, minlength=ut.size).astype(float)
        n_risk = np.cumsum(tot[::-1])[::-1]
        # Censorings tied with deaths are taken to happen just after them, so the
        # censoring-distribution risk set at u excludes the deaths at u (this is
        # what survival 3.5 gives; checked against its Uno weights to 1e-15).
        with np.errstate(divide="ignore", invalid="ignore"):
            G = np.cumprod(np.where(cens > 0, 1.0 - cens / (n_risk - dead), 1.0))
        G_minus = np.concatenate([[1.0], G[:-1]])[inv]  # G(t-)
        with np.errstate(divide="ignore"):
            g = 1.0 / G_minus if timewt == "n/G" else 1.0 / G_minus**2
        g = np.where(np.isfinite(g), g, 0.0)
        tw = tw * g
    if ymax is not None:
        tw[t > ymax] = 0.0
    return tw


def _concordance_core(t, e, risk, timewt: str = "n", ymax: float | None = None):
    """Counts and per-subject influence (R's ``imat``) for one data set."""
    n = t.size
    tw = _time_weights(t, e, timewt, ymax)
    a = _time_keys(t, e)
    r = _dense_rank(risk)
    a_max = int(a.max())
    r_max = int(r.max())
    ones = np.ones(n)

    # Part A: subject i (death) as the earlier member; sum over j with a_j > a_i.
    # Flip a so that "greater a" becomes "smaller key".
    a_rev = a_max - a
    lt = _DominancePlan(a_rev, r, strict_y=True).apply(ones)  # r_j < r_i: concordant
    le = _DominancePlan(a_rev, r, strict_y=False).apply(ones)  # r_j <= r_i
    # number with a_j > a_i
    a_counts = np.bincount(a, minlength=a_max + 1)
    above = np.concatenate([np.cumsum(a_counts[::-1])[::-1][1:], [0]])[a]
    conc_A = tw * lt
    tie_A = tw * (le - lt)
    disc_A = tw * (above - le)

    # Part B: subject j as the later member of pairs started by deaths i (a_i < a_j).
    v = tw  # weight each death brings to its pairs
    conc_B = _DominancePlan(a, r_max - r, strict_y=True).apply(v)  # r_i > r_j
    disc_B = _DominancePlan(a, r, strict_y=True).apply(v)  # r_i < r_j
    v_by_a = np.bincount(a, weights=v, minlength=a_max + 1)
    below = np.concatenate([[0.0], np.cumsum(v_by_a)[:-1]])[a]
    tie_B = below - conc_B - disc_B

    concordant = conc_A.sum()
    discordant = disc_A.sum()
    tied_x = tie_A.sum()

    # tied.y / tied.xy: pairs of deaths at the same time (and same risk), once per pair
    dmask = e == 1
    td, trd = t[dmask], tw[dmask]
    _, gi, m = np.unique(td, return_inverse=True, return_counts=True)
    w_time = np.bincount(gi, weights=trd) / np.maximum(m, 1)  # tw is constant within a time
    tied_y = float(np.sum(w_time * m * (m - 1) / 2))
    _, gxy, mxy = np.unique(np.column_stack([td, risk[dmask]]), axis=0, return_inverse=True,
                            return_counts=True)
    gxy = np.ravel(gxy)
    w_xy = np.bincount(gxy, weights=trd) / np.maximum(mxy, 1)
    tied_xy = float(np.sum(w_xy * mxy * (mxy - 1) / 2))
    tied_y -= tied_xy  # R's tied.y is "tied on y but not on x"

    imat = np.column_stack([conc_A + conc_B, disc_A + disc_B, tie_A + tie_B])
    return concordant, discordant, tied_x, tied_y, tied_xy, imat


def _finish(t, e, risk, timewt, ymax) -> ConcordanceResult:
    C, D, T, Ty, Txy, imat = _concordance_core(t, e, risk, timewt, ymax)
    npair = C + D + T
    if npair <= 0:
        raise ValueError("time/event: no comparable pairs (need an event before another "
                         "subject's follow-up ends" + (" within ymax" if ymax is not None else "") + ")")
    somer = (C - D) / npair
    # R: dfbeta = ((imat1 - imat2)/npair - somer/npair * rowSums(imat[,1:3])); var = sum/4
    dfbeta = (imat[:, 0] - imat[:, 1]) / npair - somer / npair * imat.sum(axis=1)
    var = float(np.sum(dfbeta**2) / 4)
    c = (somer + 1) / 2
    se = np.sqrt(var)
    return ConcordanceResult(
        c=float(c), se=float(se), lower=float(c - _Z975 * se), upper=float(c + _Z975 * se),
        concordant=float(C), discordant=float(D), tied_risk=float(T), tied_time=float(Ty),
        tied_both=float(Txy), n=int(t.size), timewt=timewt, ymax=ymax,
    )


def _inputs(time, event, risk):
    t, e, o = check_survival(time, event, risk=risk)
    check_not_constant(o["risk"], "risk")
    return t, e, o["risk"]


def _check_ymax(ymax, name="ymax"):
    if ymax is None:
        return None
    y = float(ymax)
    if not np.isfinite(y) or y <= 0:
        raise ValueError(f"{name}: must be a positive finite time, got {ymax!r}")
    return y


# --------------------------------------------------------------------------- public API
def harrell_c(time, event, risk, ymax: float | None = None, tau: float | None = None) -> ConcordanceResult:
    """Harrell's C index (higher ``risk`` = shorter survival) with R's standard error.

    Reproduces ``survival::concordance(Surv(time, event) ~ risk, reverse = TRUE,
    ymax = ymax)`` (equivalently ``concordance(coxfit)`` with ``risk`` the linear
    predictor): C = (concordant + tied.x / 2) / (concordant + discordant + tied.x),
    SE = sqrt of the infinitesimal-jackknife variance (R's ``var``), and a Wald
    95% CI C +/- 1.96 SE.

    Parameters
    ----------
    time, event : array-like
        Follow-up time and event indicator (1 = event).
    risk : array-like
        Risk score, e.g. a Cox linear predictor.
    ymax, tau : float, optional
        Only pairs whose earlier (event) time is <= ymax are counted (R's
        ``ymax``); ``tau`` is an alias.

    Returns
    -------
    ConcordanceResult
    """
    if tau is not None and ymax is not None and float(tau) != float(ymax):
        raise ValueError("tau: is an alias of ymax; give one of them")
    ymax = _check_ymax(ymax if ymax is not None else tau, "ymax" if tau is None else "tau")
    t, e, r = _inputs(time, event, risk)
    return _finish(t, e, r, "n", ymax)


def uno_c(time, event, risk, tau: float | None = None) -> ConcordanceResult:
    """Uno's C (inverse-probability-of-censoring weighted), truncated at ``tau``.

    Reproduces ``survival::concordance(Surv(time, event) ~ risk, reverse = TRUE,
    timewt = "n/G2", ymax = tau)``: each comparable pair started by a death at t
    gets weight 1 / G(t-)^2, with G the Kaplan-Meier estimate of the censoring
    distribution. Counts in the result are these weighted sums.

    Parameters
    ----------
    time, event, risk : array-like
    tau : float, optional
        Truncation time (R's ``ymax``); None uses all pairs.

    Returns
    -------
    ConcordanceResult
    """
    tau = _check_ymax(tau, "tau")
    t, e, r = _inputs(time, event, risk)
    return _finish(t, e, r, "n/G2", tau)


def bootstrap_harrell_c(time, event, risk, n_boot: int = 1000, seed=None,
                        ymax: float | None = None) -> np.ndarray:
    """Harrell's C on ``n_boot`` bootstrap resamples, for one or several risk scores.

    A resample is represented by case weights (how often each subject is drawn);
    R's pair counts on the resample are the same sums with pair weight w_i w_j
    (copies of one subject are tied in time, hence never comparable). The time
    and risk search plans are built once per score and reused for every replicate,
    and all replicates are processed together as a (n_boot, n) weight matrix.

    Parameters
    ----------
    time, event : array-like, length n
    risk : array-like, shape (n,) or (n, m), or a list of m arrays of length n
        One risk score per model (column).
    n_boot : int
    seed : int or numpy.random.Generator, optional
        Resamples are drawn with ``rng.integers(0, n, (n_boot, n))`` and are the
        same for every model (paired bootstrap).
    ymax : float, optional
        As in :func:`harrell_c`.

    Returns
    -------
    numpy.ndarray, shape (n_boot, m)
        C of each replicate and model (NaN if a replicate has no comparable pair).
    """
    if isinstance(risk, (list, tuple)):
        R = np.column_stack([as_1d_float(x, f"risk[{k}]") for k, x in enumerate(risk)])
    else:
        R = np.asarray(risk, dtype=float)
        if R.ndim == 1:
            R = R[:, None]
    if R.ndim != 2:
        raise ValueError(f"risk: expected (n,) or (n, m), got shape {R.shape}")
    if not np.isfinite(R).all():
        raise ValueError("risk: contains NaN or infinite values")
    t, e, _ = check_survival(time, event)
    if R.shape[0] != t.size:
        raise ValueError(f"mismatched lengths: time={t.size}, risk={R.shape[0]}")
    for k in range(R.shape[1]):
        check_not_constant(R[:, k], f"risk[:, {k}]")
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot: must be a positive integer, got {n_boot!r}")
    ymax = _check_ymax(ymax)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n, B = t.size, int(n_boot)

    idx = rng.integers(0, n, size=(B, n))
    W = np.bincount((np.arange(B)[:, None] * n + idx).ravel(), minlength=B * n).reshape(B, n)
    W = W.astype(float)

    tw = _time_weights(t, e, "n", ymax)
    a = _time_keys(t, e)
    a_rev = int(a.max()) - a
    # weight above each subject in a (strictly greater key), per replicate
    order = np.argsort(a_rev, kind="stable")
    a_sorted = a_rev[order]
    cw = np.concatenate([np.zeros((B, 1)), np.cumsum(W[:, order], axis=1)], axis=1)
    above = cw[:, np.searchsorted(a_sorted, a_rev, side="left")]
    V = W * tw  # weight of the pairs each death starts

    out = np.empty((B, R.shape[1]))
    for k in range(R.shape[1]):
        r = _dense_rank(R[:, k])
        lt = _DominancePlan(a_rev, r, strict_y=True).apply(W)
        le = _DominancePlan(a_rev, r, strict_y=False).apply(W)
        C = np.sum(V * lt, axis=1)
        T = np.sum(V * (le - lt), axis=1)
        D = np.sum(V * (above - le), axis=1)
        npair = C + D + T
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, k] = np.where(npair > 0, (C + T / 2) / npair, np.nan)
    return out

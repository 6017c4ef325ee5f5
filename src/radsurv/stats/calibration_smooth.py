"""Smoothed calibration of predicted risk at a horizon (Austin, Harrell & van Klaveren 2020).

The observed risk by ``horizon`` is estimated, for every patient, from a Cox model
of the outcome on a restricted cubic spline of the complementary log-log of the
predicted risk, ``cll = log(-log(1 - p))``; the calibration errors are the
absolute differences between observed and predicted risk. Reproduces::

    cll <- log(-log(1 - p))
    X   <- Hmisc::rcspline.eval(cll, nk = 3, inclx = TRUE)   # norm = 2
    fit <- coxph(Surv(time, event) ~ X)                      # Efron ties
    obs <- 1 - summary(survfit(fit, newdata = data.frame(X)), times = t)$surv
    err <- abs(obs - p)
    ICI <- mean(err); E50 <- median(err); E90 <- quantile(err, 0.9); Emax <- max(err)

(quantiles of type 7, R's default). The hazard-regression variant of the paper
(``polspline::hare``/``phare``) is not implemented: its stepwise knot search and
numerical integration could not be matched to R.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._checks import as_1d_float, check_survival
from .cox import fit_cox

__all__ = ["SmoothedCalibration", "rcspline_eval", "rcspline_knots", "smoothed_calibration"]


def rcspline_knots(x, nk: int = 3, fractied: float = 0.05) -> np.ndarray:
    """Default knots of ``Hmisc::rcspline.eval(x, nk = nk)`` (Hmisc 4.8-0).

    Quantiles (type 7) of x at ``seq(outer, 1 - outer, length = nk)`` with
    ``outer`` = 0.1 for 3 knots, 0.05 for 4-6 and 0.025 for more. When at least
    ``fractied`` of x is tied at its minimum (maximum) and no interior value is
    that frequent, the first (last) knot is the second smallest (largest) value
    and the quantiles are taken of the values beyond it. With fewer than 100
    values the outer knots are the 5th smallest and 5th largest values; with
    ``nk + 2`` or fewer distinct values the knots are the interior distinct
    values.

    Parameters
    ----------
    x : array-like
    nk : int
        Number of knots, at least 3.
    fractied : float
        Share of ties at an end that moves the outer knot inward.

    Returns
    -------
    numpy.ndarray
        Sorted distinct knots.
    """
    xx = as_1d_float(x, "x")
    if int(nk) != nk or nk < 3:
        raise ValueError(f"knots: need at least 3 knots, got {nk!r}")
    nk = int(nk)
    n = xx.size
    if n < 6:
        raise ValueError(f"x: knots need at least 6 values, got {n}")
    xu, counts = np.unique(xx, return_counts=True)
    if xu.size - 2 <= nk:
        knots = xu[1:-1]
    else:
        outer = 0.025 if nk > 6 else (0.05 if nk > 3 else 0.1)
        nke, first, last = nk, [], []
        f = counts / n
        if 0 < fractied < 1 and f[1:-1].max() < fractied:
            if f[0] >= fractied:
                first = [xx[xx > xx.min()].min()]
                xx = xx[xx > first[0]]
                nke -= 1
            if f[-1] >= fractied:
                last = [xx[xx < xx.max()].max()]
                xx = xx[xx < last[0]]
                nke -= 1
        if nke == 1:
            knots = np.array([np.median(xx)])
        else:
            probs = (np.linspace(0.5, 1 - outer, nke) if nke == 2
                     else np.linspace(outer, 1 - outer, nke))
            knots = np.quantile(xx, probs)
            if np.unique(knots).size < min(nke, 3):
                raise ValueError(f"x: too many ties to place {nk} knots")
            if xx.size < 100:
                xs = np.sort(xx)
                if not first:
                    knots[0] = xs[4]
                if not last:
                    knots[-1] = xs[-5]
        knots = np.concatenate([first, knots, last])
    knots = np.unique(knots)
    if knots.size < 3:
        raise ValueError(f"x: fewer than 3 distinct knots ({knots.size})")
    return knots


def rcspline_eval(x, knots, inclx: bool = True) -> np.ndarray:
    """Restricted cubic spline basis of ``Hmisc::rcspline.eval(x, knots, inclx,
    norm = 2)``.

    For knots k_1 < ... < k_K and j = 1..K-2 the j-th column is::

        (x - k_j)_+^3 - [(k_K - k_j)(x - k_{K-1})_+^3 - (k_{K-1} - k_j)(x - k_K)_+^3] / (k_K - k_{K-1})

    divided by (k_K - k_1)^2 (``norm = 2``: the columns are in the units of x).

    Parameters
    ----------
    x : array-like
    knots : array-like
        At least 3 increasing knots.
    inclx : bool
        Put x itself as the first column (R: ``inclx = TRUE``).

    Returns
    -------
    numpy.ndarray, shape (n, K - 2 + inclx)
    """
    x = as_1d_float(x, "x")
    k = as_1d_float(knots, "knots")
    if k.size < 3:
        raise ValueError(f"knots: need at least 3 knots, got {k.size}")
    if np.any(np.diff(k) <= 0):
        raise ValueError("knots: must be strictly increasing")
    kd = (k[-1] - k[0]) ** (2.0 / 3.0)

    def cube(v):
        return np.maximum(v / kd, 0.0) ** 3

    cols = [cube(x - kj) + ((k[-2] - kj) * cube(x - k[-1]) - (k[-1] - kj) * cube(x - k[-2]))
            / (k[-1] - k[-2]) for kj in k[:-2]]
    if inclx:
        cols.insert(0, x)
    return np.column_stack(cols)


@dataclass(frozen=True)
class SmoothedCalibration:
    """Smoothed calibration at a horizon: per-patient ``table`` (``predicted``,
    ``observed``, ``abs_error``) and the summaries of ``abs_error``: ``ici``
    (mean), ``e50`` (median), ``e90`` (90th percentile, type 7), ``emax`` (max)."""

    horizon: float
    method: str
    knots: np.ndarray
    ici: float
    e50: float
    e90: float
    emax: float
    table: pd.DataFrame = field(repr=False)
    fit: object = field(default=None, repr=False, compare=False)

    @property
    def observed(self) -> np.ndarray:
        return self.table["observed"].to_numpy()

    def observed_at(self, risk) -> np.ndarray:
        """The smoothed observed risk at predicted risks ``risk`` (the calibration curve at
        any point, e.g. a common grid for a bootstrap correction); beyond the outer knots the
        spline is linear in the complementary log-log."""
        p = as_1d_float(np.atleast_1d(risk), "risk")
        if np.any((p <= 0) | (p >= 1)):
            raise ValueError("risk: must be strictly between 0 and 1 (its complementary log-log is used)")
        X = rcspline_eval(np.log(-np.log1p(-p)), self.knots, inclx=True)
        return 1.0 - self.fit.predict_survival(X, [self.horizon])[:, 0]


def _error_summaries(observed: np.ndarray, predicted: np.ndarray) -> dict:
    err = np.abs(observed - predicted)
    return {"ici": float(err.mean()), "e50": float(np.quantile(err, 0.5)),
            "e90": float(np.quantile(err, 0.9)), "emax": float(err.max())}


def smoothed_calibration(time, event, risk, horizon: float, method: str = "rcs",
                         knots=3) -> SmoothedCalibration:
    """Smoothed calibration curve and ICI, E50, E90, Emax of predicted risk by ``horizon``.

    Observed risk = 1 - S(horizon | cll) from ``coxph(Surv(time, event) ~
    rcspline.eval(cll, knots, inclx = TRUE))`` (Efron ties; survfit with the
    Efron baseline hazard, ctype 2), evaluated at each patient's own cll =
    log(-log(1 - risk)). See the module docstring for the R code.

    Parameters
    ----------
    time, event : array-like, length n
    risk : array-like, length n
        Predicted probability of an event by ``horizon``, strictly in (0, 1).
    horizon : float
        Positive time (same units as ``time``).
    method : {"rcs"}
        ``"rcs"``: Cox model on a restricted cubic spline, the only method (the
        hazard-regression one is not implemented: see the module docstring).
    knots : int or array-like
        Number of knots placed as Hmisc does (``rcspline_knots``; default 3), or
        the knots themselves on the cll scale.

    Returns
    -------
    SmoothedCalibration
    """
    if method != "rcs":
        raise ValueError(f"method: must be 'rcs' (restricted cubic spline; polspline's hazard regression "
                         f"'hare' is not implemented), got {method!r}")
    t, e, other = check_survival(time, event, risk=risk)
    p = other["risk"]
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("risk: must be strictly between 0 and 1 (its complementary log-log is used)")
    horizon = float(as_1d_float([horizon], "horizon")[0])
    if horizon <= 0:
        raise ValueError(f"horizon: must be a positive time, got {horizon!r}")
    cll = np.log(-np.log1p(-p))
    if np.isscalar(knots) or np.ndim(knots) == 0:
        k = rcspline_knots(cll, knots)
    else:
        k = as_1d_float(knots, "knots")
    X = rcspline_eval(cll, k, inclx=True)
    fit = fit_cox(X, t, e, ties="efron")
    observed = 1.0 - fit.predict_survival(X, [horizon])[:, 0]
    table = pd.DataFrame({"predicted": p, "observed": observed, "abs_error": np.abs(observed - p)})
    return SmoothedCalibration(horizon=horizon, method=method, knots=k, table=table, fit=fit,
                               **_error_summaries(observed, p))

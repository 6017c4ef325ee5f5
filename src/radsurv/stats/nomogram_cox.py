"""Nomogram of a Cox model, matched to ``rms::nomogram`` (rms 6.5-0).

Reproduces, for a Cox model with linear (dummy-coded) predictors::

    dd  <- datadist(data); options(datadist = "dd")
    fit <- cph(Surv(time, event) ~ x1 + x2 + ..., data, surv = TRUE)
    S   <- Survival(fit)
    nom <- nomogram(fit, fun = list(function(lp) S(t1, lp), function(lp) S(t2, lp)),
                    fun.at = ..., maxscale = 100, nint = 10)

How rms builds it:

- **Axis values.** A predictor with at most ``n_unique`` (10) distinct values is
  drawn at those values; any other at ``pretty(range(x), nint)`` over its whole
  data range (``datadist``'s Low/High limits).
- **Points.** With the uncentred term beta_i * x on each axis, the predictor whose
  term spans the widest range gets ``maxscale`` points:
  ``points_per_unit_lp = maxscale / max_i range_i(beta_i x)``, and each value gets
  ``points_per_unit_lp * (beta_i x - min_axis(beta_i x))``.
- **Total points and linear predictor.** With rms's centred linear predictor
  ``lp = X beta - center`` (``center = sum(beta * column means)``), total points =
  ``points_per_unit_lp * (lp - lp_at_zero)``, where ``lp_at_zero = -center +
  sum_i min_axis(beta_i x)``. The total-points axis is
  ``pretty(c(0, max(maxscale, points_per_unit_lp * max(lp.at - lp_at_zero))), nint)``
  with ``lp.at = pretty(range(lp of the data), nint)``.
- **Survival axes.** S(t | lp) = S0(t)^exp(lp), where S0 is cph's survival at
  lp = 0 (the covariate means; Efron hazard for an Efron fit, step function in t).
  For each requested survival value, rms finds the lp on a grid of 1000 points
  over ``range(lp.at)`` by linear interpolation (``approx``) and drops values
  outside it; the axis is placed at that lp's total points. This module does
  the same, so the axis points equal rms's (not the exact inverse
  log(log(S) / log(S0)), which differs by the interpolation error: up to
  8.6e-5 points on the GBSG2 reference).

- **Factors.** rms draws a factor on one axis, its levels at their terms (0 for the
  reference level) and the axis's minimum at 0 points. Give ``factors`` to do the same
  for dummy-coded columns; without it each indicator is an axis of its own (0/1), which
  is the same for a two-level factor.

Not reproduced: rms merges the labels of consecutive axis values with equal points
(a zero coefficient); here every value keeps its own row.

``cph`` stops Newton-Raphson at ``eps = 1e-4``; fit with
``fit_cox(X, time, event, eps=1e-4, max_iter=10)`` to get its coefficients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._checks import as_1d_float, as_2d_float
from .cox import CoxFit

__all__ = ["Nomogram", "datadist_limits", "nomogram", "r_pretty"]

_DBL_EPS = np.finfo(float).eps


def r_pretty(lo: float, hi: float, n: int = 5, min_n: int | None = None,
             shrink_sml: float = 0.75, high_u_bias: float = 1.5) -> np.ndarray:
    """Round tick values covering [lo, hi], as R's ``pretty(c(lo, hi), n)`` (R 4.2).

    The step is 1, 2, 5 or 10 times a power of ten, chosen close to
    ``(hi - lo) / n`` (larger steps favoured by ``high_u_bias``, 5 over 2 by
    ``u5.bias = 0.5 + 1.5 * high_u_bias``); the ticks run from the largest
    multiple of the step <= lo to the smallest >= hi, with at least ``min_n``
    (default ``n // 3``) intervals.

    Parameters
    ----------
    lo, hi : float
    n : int
        Desired number of intervals.
    min_n : int, optional
    shrink_sml, high_u_bias : float
        As R's ``shrink.sml`` and ``high.u.bias``.

    Returns
    -------
    numpy.ndarray
        The tick values.
    """
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
        raise ValueError(f"lo, hi: need finite lo <= hi, got {lo!r}, {hi!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"n: must be a non-negative integer, got {n!r}")
    n = int(n)
    min_n = n // 3 if min_n is None else int(min_n)
    h = high_u_bias
    h5 = 0.5 + 1.5 * h
    rounding_eps = 1e-10
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        u_bound = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u_bound *= max(1, n) * _DBL_EPS
        small = dx < cell * u_bound * 3
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink_sml
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    cell = max(cell, 2.0 ** -20 * np.finfo(float).tiny)
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + rounding_eps)
    nu = math.ceil(hi / unit - rounding_eps)
    while ns * unit > lo + rounding_eps * unit:
        ns -= 1
    while nu * unit < hi - rounding_eps * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        k = min_n
    first, last = ns * unit, nu * unit
    ticks = first + np.arange(k + 1) * ((last - first) / k) if k > 0 else np.array([first])
    if k > 0:
        ticks[-1] = last
        delta = (last - first) / k
        ticks[np.abs(ticks) < 1e-14 * delta] = 0.0
    return ticks


def _r_quantile(x: np.ndarray, probs) -> np.ndarray:
    """R's default quantile (type 7)."""
    return np.quantile(x, probs)


def datadist_limits(X, q_display=None, q_effect=(0.25, 0.75)) -> pd.DataFrame:
    """Limits of numeric predictors as ``rms::datadist`` (rms 6.5-0).

    Parameters
    ----------
    X : pandas.DataFrame
        Numeric predictors (dummy-coded), one column each.
    q_display : (float, float), optional
        Quantiles for the prediction limits; R's default is
        ``10 / max(n, 200)`` and its complement.
    q_effect : (float, float)
        Quantiles for the effect limits (inter-quartile range).

    Returns
    -------
    pandas.DataFrame
        One row per predictor; columns ``low_effect, adjust_to, high_effect,
        low_prediction, high_prediction, low, high, n_distinct``. With fewer than
        4 distinct values the effect and prediction limits are the range; the
        adjust-to value is the lowest value (2 distinct), the middle one (3) or the
        median. Quantiles are R's type 7.
    """
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"X: must be a pandas DataFrame with named columns, got {type(X).__name__}")
    as_2d_float(X, "X")
    rows = {}
    for name in X.columns:
        y = X[name].to_numpy(dtype=float)
        n = y.size
        vals = np.unique(y)
        if n < 2:
            raise ValueError(f"X: fewer than 2 observations for {name!r}")
        if vals.size < 2:
            raise ValueError(f"X: column {name!r} is constant")
        lo, hi = vals[0], vals[-1]
        if vals.size < 4:
            qd = qe = np.array([lo, hi])
        else:
            q = 10 / max(n, 200)
            qd = _r_quantile(y, (q, 1 - q) if q_display is None else q_display)
            qe = _r_quantile(y, q_effect)
        if qd[0] == qd[1]:
            qd = np.array([lo, hi])
        if qe[0] == qe[1]:
            qe = np.array([lo, hi])
        adjust = vals[0] if vals.size < 3 else (vals[1] if vals.size == 3 else float(np.median(y)))
        rows[name] = {"low_effect": qe[0], "adjust_to": adjust, "high_effect": qe[1],
                      "low_prediction": qd[0], "high_prediction": qd[1], "low": lo, "high": hi,
                      "n_distinct": int(vals.size)}
    return pd.DataFrame.from_dict(rows, orient="index")


def _approx(x: np.ndarray, y: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R's ``approx(x, y, xout, ties = mean)``: linear, NaN outside [min x, max x]."""
    ux, inv = np.unique(x, return_inverse=True)
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    out = np.interp(xout, ux, uy)
    out[(xout < ux[0]) | (xout > ux[-1])] = np.nan
    return out


@dataclass(frozen=True)
class Nomogram:
    """A Cox-model nomogram as ``rms::nomogram`` computes it.

    Attributes
    ----------
    coef : pandas.Series
        Coefficient of each predictor (in axis order).
    center : float
        ``sum(coef * column means)``: rms's linear predictor is ``X beta - center``.
    points_per_unit_lp : float
        Points per unit of the linear predictor (rms: ``sc``).
    lp_at_zero : float
        Centred linear predictor at 0 total points (rms: ``Intercept``).
    maxscale : float
    limits : pandas.DataFrame
        ``datadist_limits`` of the predictors.
    axes : pandas.DataFrame
        Tidy predictor axes: ``predictor, value, points``.
    total_points_axis : numpy.ndarray
        Tick values of the total-points axis.
    lp_axis : pandas.DataFrame
        ``lp, points``: the linear-predictor axis (rms: ``lp.at``).
    function_axes : pandas.DataFrame
        Tidy survival axes: ``axis, time, survival, points`` (total points at
        which S(time | lp) equals ``survival``).
    baseline_survival : pandas.Series
        S0(t) at lp = 0 (the covariate means), indexed by the requested times.
    """

    coef: pd.Series
    center: float
    points_per_unit_lp: float
    lp_at_zero: float
    maxscale: float
    limits: pd.DataFrame = field(repr=False)
    axes: pd.DataFrame = field(repr=False)
    total_points_axis: np.ndarray = field(repr=False)
    lp_axis: pd.DataFrame = field(repr=False)
    function_axes: pd.DataFrame = field(repr=False)
    baseline_survival: pd.Series = field(repr=False)
    axis_labels: tuple = ()
    _min_term: pd.Series = field(default=None, repr=False)
    #: axis -> its columns (one for a numeric predictor, the indicators of a factor)
    axis_columns: dict = field(default_factory=dict, repr=False)

    @property
    def predictors(self) -> list[str]:
        return list(self.coef.index)

    @property
    def axis_names(self) -> list[str]:
        """The predictor axes in drawing order (a factor is one axis)."""
        return list(self.axis_columns) if self.axis_columns else self.predictors

    def to_dict(self) -> dict:
        """Everything the points calculator and a drawing need, as JSON-ready data."""
        def frame(df):
            return {c: [v.item() if hasattr(v, "item") else v for v in df[c]] for c in df.columns}

        return {
            # ordered pairs, not mappings: the order of predictors and axes is meaningful
            "coef": [[k, float(v)] for k, v in self.coef.items()], "center": self.center,
            "points_per_unit_lp": self.points_per_unit_lp, "lp_at_zero": self.lp_at_zero,
            "maxscale": self.maxscale, "axis_labels": list(self.axis_labels),
            "min_term": [[k, float(v)] for k, v in self._min_term.items()],
            "axis_columns": [[k, list(v)] for k, v in self.axis_names_columns().items()],
            "baseline_survival": {"time": [float(t) for t in self.baseline_survival.index],
                                  "survival": [float(v) for v in self.baseline_survival]},
            "limits": {"index": [str(i) for i in self.limits.index], **frame(self.limits)},
            "axes": frame(self.axes), "total_points_axis": [float(v) for v in self.total_points_axis],
            "lp_axis": frame(self.lp_axis), "function_axes": frame(self.function_axes),
        }

    def axis_names_columns(self) -> dict:
        return dict(self.axis_columns) if self.axis_columns else {c: [c] for c in self.predictors}

    @classmethod
    def from_dict(cls, d: dict) -> "Nomogram":
        """The inverse of :meth:`to_dict`."""
        limits = pd.DataFrame({k: v for k, v in d["limits"].items() if k != "index"}, index=d["limits"]["index"])
        return cls(coef=pd.Series(dict(d["coef"]), dtype=float), center=float(d["center"]),
                   points_per_unit_lp=float(d["points_per_unit_lp"]), lp_at_zero=float(d["lp_at_zero"]),
                   maxscale=float(d["maxscale"]), limits=limits,
                   axes=pd.DataFrame(d["axes"])[["predictor", "value", "points"]],
                   total_points_axis=np.asarray(d["total_points_axis"], float),
                   lp_axis=pd.DataFrame(d["lp_axis"])[["lp", "points"]],
                   function_axes=pd.DataFrame(d["function_axes"])[["axis", "time", "survival", "points"]],
                   baseline_survival=pd.Series(d["baseline_survival"]["survival"],
                                               index=d["baseline_survival"]["time"], name="baseline_survival"),
                   axis_labels=tuple(d["axis_labels"]), _min_term=pd.Series(dict(d["min_term"]), dtype=float),
                   axis_columns={k: list(v) for k, v in d["axis_columns"]})

    def survival(self, lp, times=None) -> np.ndarray:
        """S(t | lp) = S0(t)^exp(lp) for centred linear predictors ``lp`` (rows) at
        the nomogram's times (columns), as ``Survival(fit)(t, lp)``; ``times`` must
        be among them (default: all)."""
        lp = as_1d_float(np.atleast_1d(lp), "lp")
        s0 = self.baseline_survival
        if times is not None:
            tt = as_1d_float(np.atleast_1d(times), "times")
            missing = [float(t) for t in tt if t not in s0.index]
            if missing:
                raise ValueError(f"times: {missing} not among the nomogram's times {s0.index.tolist()}")
            s0 = s0.loc[tt]
        return s0.to_numpy()[None, :] ** np.exp(lp)[:, None]

    def points(self, X) -> pd.DataFrame:
        """Points calculator: a patient's (or several patients') predictor values in,
        points per predictor, total points, centred linear predictor and predicted
        survival at each time out.

        Parameters
        ----------
        X : pandas.DataFrame or mapping
            One row per patient with a column for every predictor (a mapping of
            name -> value or values is read as a DataFrame).

        Returns
        -------
        pandas.DataFrame
            Columns ``points_<axis>`` for each axis (a predictor, or a factor given to
            :func:`nomogram`), ``total_points``,
            ``lp`` (= total_points / points_per_unit_lp + lp_at_zero =
            X beta - center) and one survival column per axis label.
        """
        if not isinstance(X, pd.DataFrame):
            try:
                X = pd.DataFrame({k: np.atleast_1d(v) for k, v in dict(X).items()})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"X: must be a DataFrame or a mapping of predictor values ({exc})") from None
        missing = [c for c in self.predictors if c not in X.columns]
        if missing:
            raise ValueError(f"X: missing predictors {missing}")
        vals = as_2d_float(X[self.predictors], "X")
        terms = pd.DataFrame(vals * self.coef.to_numpy()[None, :], columns=self.predictors, index=X.index)
        out = pd.DataFrame(index=X.index)
        for axis, cols in self.axis_names_columns().items():
            if len(cols) > 1 and ((X[cols] != 0).sum(axis=1) > 1).any():
                raise ValueError(f"X: more than one level of factor {axis!r} set for a patient")
            out[f"points_{axis}"] = (terms[cols].sum(axis=1) - self._min_term[axis]) * self.points_per_unit_lp
        out["total_points"] = out.sum(axis=1)
        out["lp"] = terms.sum(axis=1) - self.center
        surv = self.survival(out["lp"].to_numpy())
        for j, lab in enumerate(self.axis_labels):
            out[lab] = surv[:, j]
        return out


def _check_fit_and_data(fit, X):
    if not isinstance(fit, CoxFit):
        raise ValueError(f"fit: must be a CoxFit from fit_cox, got {type(fit).__name__}")
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"X: must be a pandas DataFrame with the model's columns, got {type(X).__name__}")
    missing = [c for c in fit.names if c not in X.columns]
    if missing:
        raise ValueError(f"X: missing predictors {missing}")
    X = X[fit.names]
    arr = as_2d_float(X, "X")
    lp = arr @ fit.coef.to_numpy()
    if arr.shape[0] != fit.n or not np.allclose(lp, fit._lp, rtol=1e-10, atol=1e-10 * (1 + np.abs(fit._lp).max())):
        raise ValueError("X: must be the data the model was fitted on (its linear predictor differs)")
    return X, arr


def nomogram(fit: CoxFit, X, times=(36, 60), fun_at=None, axis_labels=None,
             maxscale: float = 100, nint: int = 10, n_unique: int = 10, factors=None) -> Nomogram:
    """Compute an ``rms::nomogram`` of a Cox model with survival axes at ``times``.

    Parameters
    ----------
    fit : CoxFit
        The model (``fit_cox``); for rms's ``cph`` coefficients use
        ``fit_cox(X, time, event, eps=1e-4, max_iter=10)``.
    X : pandas.DataFrame
        The data the model was fitted on (it gives ``datadist`` and the range
        of the linear predictor, as ``datadist(data)`` and
        ``fit$linear.predictors`` do in R).
    times : sequence of float
        Times of the survival axes (units of the fitted times; default 3 and 5
        years in months). Each must be within the follow-up.
    fun_at : sequence of float, or sequence of sequences, optional
        Survival values to mark on each axis (one sequence for all axes, or one
        per time). Default, as rms: ``pretty(S(t | range(lp.at)), nint)``.
        Values outside the axis are dropped.
    axis_labels : sequence of str, optional
        Names of the survival axes (default ``"S(<time>)"``).
    maxscale : float
        Points given to the predictor with the widest range (rms: 100).
    nint : int
        Number of intervals for ``pretty`` (rms: 10).
    n_unique : int
        Predictors with at most this many distinct values are drawn at those
        values (``datadist``'s ``n.unique``).
    factors : mapping, optional
        Factors drawn on one axis each, as rms draws them:
        ``{name: {"reference": level, "levels": {column: level, ...}}}`` where the
        columns are the factor's 0/1 indicators among the model's predictors.

    Returns
    -------
    Nomogram
        Tidy tables ready to draw, and ``points()`` as a points calculator.
    """
    X, arr = _check_fit_and_data(fit, X)
    tt = as_1d_float(np.atleast_1d(times), "times")
    if np.any(tt <= 0):
        raise ValueError(f"times: must be positive, got {tt.tolist()}")
    if np.any(tt > fit._time.max()):
        raise ValueError(f"times: beyond the last follow-up time {fit._time.max():g}: {tt[tt > fit._time.max()].tolist()}")
    if len(np.unique(tt)) != tt.size:
        raise ValueError(f"times: must be distinct, got {tt.tolist()}")
    if not (np.isfinite(maxscale) and maxscale > 0):
        raise ValueError(f"maxscale: must be positive, got {maxscale!r}")
    if int(nint) != nint or nint < 1:
        raise ValueError(f"nint: must be a positive integer, got {nint!r}")
    if axis_labels is None:
        axis_labels = [f"S({t:g})" for t in tt]
    axis_labels = [str(a) for a in axis_labels]
    if len(axis_labels) != tt.size or len(set(axis_labels)) != tt.size:
        raise ValueError(f"axis_labels: need {tt.size} distinct labels, got {axis_labels}")
    if fun_at is None:
        fun_at_list = [None] * tt.size
    else:
        seqs = [fun_at] if np.ndim(fun_at[0]) == 0 else list(fun_at)
        if len(seqs) == 1:
            seqs = seqs * tt.size
        if len(seqs) != tt.size:
            raise ValueError(f"fun_at: need one sequence or one per time ({tt.size}), got {len(seqs)}")
        fun_at_list = [as_1d_float(s, "fun_at") for s in seqs]

    beta = fit.coef
    center = float(fit.means @ beta)
    limits = datadist_limits(X)
    axis_columns = _axis_columns(fit.names, X, factors)

    # axis values and their uncentred terms beta * x (a factor: its levels' coefficients)
    rows, min_term, max_term = [], {}, {}
    for axis, cols in axis_columns.items():
        if axis in (factors or {}):
            spec = factors[axis]
            values = np.array([str(spec["reference"]), *[str(spec["levels"][c]) for c in cols]], dtype=object)
            term = np.array([0.0, *[beta[c] for c in cols]])
        else:
            j = fit.names.index(cols[0])
            lim = limits.loc[cols[0]]
            if lim["n_distinct"] <= n_unique:
                values = np.unique(arr[:, j])
            else:
                values = r_pretty(lim["low"], lim["high"], nint)
            term = beta[cols[0]] * values
        min_term[axis], max_term[axis] = term.min(), term.max()
        rows.append((axis, values, term))
    ranges = np.array([max_term[a] - min_term[a] for a in axis_columns])
    if not np.any(ranges > 0):
        raise ValueError("fit: every coefficient is 0; the nomogram has no scale")
    sc = maxscale / ranges.max()
    lp_at_zero = -center + sum(min_term.values())
    axes = pd.DataFrame(
        [(name, v, (tm - min_term[name]) * sc) for name, values, term in rows for v, tm in zip(values, term)],
        columns=["predictor", "value", "points"])

    lp_data = arr @ beta.to_numpy() - center
    lp_at = r_pretty(lp_data.min(), lp_data.max(), nint)
    sum_max = maxscale if len(axis_columns) == 1 else max(maxscale, sc * np.max(lp_at - lp_at_zero))
    total_axis = r_pretty(0.0, sum_max, nint)
    lp_axis = pd.DataFrame({"lp": lp_at, "points": (lp_at - lp_at_zero) * sc})

    s0 = np.exp(-fit.baseline_cumhaz(tt) * np.exp(center))
    baseline = pd.Series(s0, index=tt, name="baseline_survival")
    grid = np.linspace(lp_at.min(), lp_at.max(), 1000)
    faxes = []
    for k, t in enumerate(tt):
        fu = s0[k] ** np.exp(grid)
        fat = fun_at_list[k]
        if fat is None:
            ends = s0[k] ** np.exp(np.array([lp_at.min(), lp_at.max()]))
            fat = r_pretty(ends.min(), ends.max(), nint)
        w = _approx(fu, grid, fat)
        keep = ~np.isnan(w)
        faxes += [(axis_labels[k], t, s, (lp - lp_at_zero) * sc) for s, lp in zip(fat[keep], w[keep])]
    function_axes = pd.DataFrame(faxes, columns=["axis", "time", "survival", "points"])

    return Nomogram(coef=beta.copy(), center=center, points_per_unit_lp=float(sc), lp_at_zero=float(lp_at_zero),
                    maxscale=float(maxscale), limits=limits, axes=axes, total_points_axis=total_axis,
                    lp_axis=lp_axis, function_axes=function_axes, baseline_survival=baseline,
                    axis_labels=tuple(axis_labels), _min_term=pd.Series(min_term, dtype=float),
                    axis_columns=axis_columns)


def _axis_columns(names: list[str], X: pd.DataFrame, factors) -> dict[str, list[str]]:
    """Axis -> its columns, in the order of the model's first column of each axis."""
    factors = dict(factors or {})
    owner = {}
    for fname, spec in factors.items():
        if not isinstance(spec, dict) or "reference" not in spec or not isinstance(spec.get("levels"), dict):
            raise ValueError(f"factors: {fname!r} must be {{'reference': level, 'levels': {{column: level}}}}")
        for col in spec["levels"]:
            if col not in names:
                raise ValueError(f"factors: column {col!r} of {fname!r} is not a predictor of the model")
            if col in owner:
                raise ValueError(f"factors: column {col!r} belongs to both {owner[col]!r} and {fname!r}")
            owner[col] = fname
        cols = list(spec["levels"])
        bad = [c for c in cols if not np.isin(X[c].to_numpy(float), (0.0, 1.0)).all()]
        if bad:
            raise ValueError(f"factors: columns {bad} of {fname!r} are not 0/1 indicators")
        if (X[cols].sum(axis=1) > 1).any():
            raise ValueError(f"factors: a patient has more than one level of {fname!r} set")
    out: dict[str, list[str]] = {}
    for c in names:
        axis = owner.get(c, c)
        if axis in out:
            continue
        if axis in names and axis != c:
            raise ValueError(f"factors: factor name {axis!r} is also a predictor's name")
        out[axis] = [k for k in names if owner.get(k, k) == axis]
    return out

"""Rubin's rules for multiply imputed analyses, matched to R ``mice::pool``.

Given the estimates and covariance matrices of one model fitted on each of m
completed (imputed) data sets, :func:`pool_rubin` combines them per term as
``mice::pool(fits, dfcom)`` does (its ``pooled`` table) and adds the tests and
intervals of ``summary(pool(fits), conf.int = TRUE)``:

* ``qbar`` = mean of the m estimates, ``ubar`` = mean of the m variances (the
  diagonals of the covariance matrices), ``b`` = their sample variance (m - 1 in
  the denominator), ``t = ubar + (1 + 1/m) b`` (Rubin 1987, p. 76);
* ``riv = (1 + 1/m) b / ubar``, ``lambda = (1 + 1/m) b / t``;
* ``df``: Barnard & Rubin (1999), from ``lambda`` and the complete-data degrees
  of freedom ``dfcom``;
* ``fmi = (riv + 2 / (df + 3)) / (riv + 1)``, mice's fraction of missing
  information (it uses the Barnard-Rubin ``df``, not Rubin's large-sample one);
* ``std_error = sqrt(t)``, ``statistic = qbar / std_error``, a two-sided p-value
  from Student's t with ``max(df, 0.001)`` degrees of freedom and the interval
  ``qbar +/- qt(1 - alpha/2, df) std_error``, as ``summary.mipo`` computes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import check_conf_level

__all__ = ["pool_rubin"]

COLUMNS = ("qbar", "ubar", "b", "t", "riv", "lambda", "fmi", "df",
           "std_error", "statistic", "p_value", "conf_low", "conf_high")


def _as_float_array(x, name: str, ndim: int) -> np.ndarray:
    try:
        arr = x.to_numpy(dtype=float) if isinstance(x, pd.DataFrame) else np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot be read as numbers ({exc})") from None
    if arr.ndim != ndim:
        want = "m x k (one row per imputation)" if ndim == 2 else "m x k x k (one matrix per imputation)"
        raise ValueError(f"{name}: expected a {ndim}-D array of shape {want}, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(v[0]) for v in np.nonzero(bad))
        raise ValueError(f"{name}: contains NaN or infinite values (first at index {where})")
    return arr


def _check_dfcom(dfcom) -> float:
    numeric = isinstance(dfcom, (int, float, np.integer, np.floating)) and not isinstance(dfcom, bool)
    if not (numeric and dfcom >= 1):  # NaN fails the comparison
        raise ValueError(
            f"dfcom: the complete-data degrees of freedom must be a number >= 1 (or inf for a "
            f"large sample), got {dfcom!r}; for a Cox model mice uses the number of events minus "
            f"the number of coefficients")
    return float(dfcom)


def _barnard_rubin_df(m: int, lam: np.ndarray, dfcom: float) -> np.ndarray:
    """Barnard & Rubin (1999) degrees of freedom, written as current mice writes them.

    ``1 / (1/df_old + 1/df_obs)`` with ``df_old = (m - 1) / lambda^2`` and
    ``df_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda)``, in the form that stays
    finite at ``lambda = 0`` (there ``df = df_obs``).
    """
    with np.errstate(divide="ignore"):
        df_old = (m - 1) / lam**2  # inf where lambda == 0
    if np.isinf(dfcom):
        return df_old
    tmp = (1.0 - lam) * (1.0 + dfcom) * dfcom
    return (m - 1) * tmp / ((dfcom + 3.0) * (m - 1) + lam**2 * tmp)


def pool_rubin(estimates, covariances, dfcom: float, terms: Sequence[str] | None = None,
               conf_level: float = 0.95) -> pd.DataFrame:
    """Pool m imputed-data fits by Rubin's rules with Barnard-Rubin degrees of freedom.

    Reproduces ``mice::pool(fits, dfcom = dfcom)$pooled`` and
    ``summary(pool(fits, dfcom = dfcom), conf.int = TRUE)`` (mice 3.15.0; checked
    against it on GBSG2 in ``tests/stats/test_pooling.py``). Only the diagonals of
    the covariance matrices enter the per-term pooling, as in mice.

    Parameters
    ----------
    estimates : array-like or pandas.DataFrame, shape (m, k)
        One row per imputation: the k coefficients of the model fitted on that
        completed data set. DataFrame column names become the terms.
    covariances : array-like, shape (m, k, k)
        The covariance matrix of each row of ``estimates`` (for a Cox model
        ``CoxFit``'s inverse information, ``vcov`` in R).
    dfcom : float
        Degrees of freedom of the analysis on complete data, at least 1; ``numpy.inf``
        for a large sample (``df`` is then Rubin's ``(m - 1) / lambda^2``). For a
        Cox model ``mice::pool(dfcom = NULL)`` uses the number of events minus the
        number of coefficients; for a linear model n - k.
    terms : sequence of str, optional
        Names of the k terms (default: the DataFrame's columns, else ``x0 .. x{k-1}``).
    conf_level : float
        Level of the interval (``summary(..., conf.level)``), 0.95 by default.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``term``, with the columns ``qbar, ubar, b, t, riv, lambda, fmi, df,
        std_error, statistic, p_value, conf_low, conf_high``; ``attrs`` holds ``m``,
        ``dfcom`` and ``conf_level``.

    Raises
    ------
    ValueError
        Wrong shapes (``estimates`` not m x k, ``covariances`` not m x k x k with
        the same m and k, ``terms`` not k distinct names), NaN or infinite values,
        a negative variance, a term whose variance is 0 in every imputation,
        ``dfcom`` below 1, or m = 1. With one imputation there
        is nothing to pool: ``mice::pool`` then warns and returns the single fit
        unpooled; this function refuses instead, so that an unpooled fit is never
        taken for a pooled one.

    Notes
    -----
    Where every imputation gives the same estimate (``b = 0``): ``t = ubar``,
    ``riv = lambda = 0``, ``df = dfcom (dfcom + 1) / (dfcom + 3)`` (the observed-data
    df of Barnard & Rubin) and ``fmi = 2 / (df + 3)``, not 0; with ``dfcom = inf``,
    ``df = inf`` and ``fmi = 0``. mice before 3.19 raised ``lambda`` to 1e-4 inside
    the df formula (only there), which changes ``df`` slightly when
    ``lambda < 1e-4``; mice 3.19 dropped that floor and this function follows it.
    For ``lambda >= 1e-4`` the two agree to rounding.

    References
    ----------
    .. [1] Rubin DB. Multiple Imputation for Nonresponse in Surveys. New York: Wiley;
       1987. doi:10.1002/9780470316696
    .. [2] Barnard J, Rubin DB. Small-sample degrees of freedom with multiple
       imputation. Biometrika. 1999;86(4):948-955. doi:10.1093/biomet/86.4.948
    .. [3] van Buuren S, Groothuis-Oudshoorn K. mice: Multivariate Imputation by
       Chained Equations in R. J Stat Softw. 2011;45(3):1-67. doi:10.18637/jss.v045.i03
    """
    q = _as_float_array(estimates, "estimates", 2)
    m, k = q.shape
    if m == 0 or k == 0:
        raise ValueError(f"estimates: is empty (shape {q.shape})")
    if m == 1:
        raise ValueError(
            "estimates: m = 1 imputation, nothing to pool (mice::pool warns and returns the "
            "single fit unpooled); use at least 2 imputations")
    u = _as_float_array(covariances, "covariances", 3)
    if u.shape != (m, k, k):
        raise ValueError(
            f"covariances: expected shape (m, k, k) = ({m}, {k}, {k}) to match estimates "
            f"{q.shape}, got {u.shape}")
    var = np.diagonal(u, axis1=1, axis2=2)  # (m, k)
    if (var < 0).any():
        i, j = (int(v[0]) for v in np.nonzero(var < 0))
        raise ValueError(f"covariances: negative variance on the diagonal (imputation {i}, term {j})")
    zero = np.flatnonzero((var == 0).all(axis=0))
    if zero.size:
        raise ValueError(f"covariances: term {int(zero[0])} has variance 0 in every imputation "
                         "(riv and fmi would be undefined)")
    df_com = _check_dfcom(dfcom)
    level = check_conf_level(conf_level)

    if terms is None:
        terms = ([str(c) for c in estimates.columns] if isinstance(estimates, pd.DataFrame)
                 else [f"x{j}" for j in range(k)])
    else:
        terms = [str(t) for t in terms]
        if len(terms) != k:
            raise ValueError(f"terms: {len(terms)} names for k = {k} columns of estimates")
    if len(set(terms)) != k:
        raise ValueError(f"terms: names must be distinct, got {terms}")

    qbar = q.mean(axis=0)
    ubar = var.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    inflate = 1.0 + 1.0 / m
    t = ubar + inflate * b
    riv = inflate * b / ubar  # ubar > 0: checked above
    lam = inflate * b / t
    df = _barnard_rubin_df(m, lam, df_com)
    fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)

    se = np.sqrt(t)
    statistic = qbar / se
    p_value = 2.0 * stats.t.sf(np.abs(statistic), np.maximum(df, 0.001))
    half = stats.t.ppf(0.5 + level / 2.0, df) * se
    out = pd.DataFrame(
        {"qbar": qbar, "ubar": ubar, "b": b, "t": t, "riv": riv, "lambda": lam, "fmi": fmi,
         "df": df, "std_error": se, "statistic": statistic, "p_value": p_value,
         "conf_low": qbar - half, "conf_high": qbar + half},
        index=pd.Index(terms, name="term"), columns=list(COLUMNS))
    out.attrs.update(m=m, dfcom=df_com, conf_level=level)
    return out

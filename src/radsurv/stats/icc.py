"""Intraclass correlation coefficients matched to R ``irr::icc`` (McGraw & Wong 1996).

Every form is computed in closed form from the ANOVA mean squares of the
subjects x raters table, as ``irr::icc(ratings, model, type, unit, r0 = 0,
conf.level)`` does:

* ``MSr`` (between subjects, df n - 1), ``MSw`` (within subjects, df n(k - 1)),
  ``MSc`` (between raters, df k - 1), ``MSe`` (residual, df (n - 1)(k - 1));
* the values (McGraw & Wong's Table 4), the F test of H0: ICC = 0 and the
  confidence intervals (their Tables 7 and 8) follow. For the agreement forms
  irr's F ratio MSr / MSe is referred to (n - 1, v) degrees of freedom, v the
  Satterthwaite-type df of McGraw & Wong computed from the ICC being reported
  (single or average). psych and pingouin use (n - 1)(k - 1) there instead, and
  pingouin transforms the single-rater interval by Spearman-Brown for ICC(A,k),
  so their agreement tests and the ICC(A,k) interval differ from irr's; their
  values agree with irr's to rounding.

The residual sum of squares is computed from the residuals themselves (not as
the difference of the other sums of squares, as irr does), so it is never
negative; the results equal irr's to rounding (~1e-15 relative on the reference
data).

:func:`icc` handles one table; :func:`icc_many` computes the same numbers for many
features at once (subjects x raters x features), dropping per feature the
subjects with a missing rating. Both go through the same code, and every sum runs
sequentially over subjects and over raters, so that a feature's result does not
depend on the other features or on where its missing rows are: ``icc_many`` equals
``icc`` on the feature's complete rows bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import check_conf_level

__all__ = ["icc", "icc_many", "ICCArrays", "ICCResult"]

_FORMS = {
    # key: (model, type, unit)
    "ICC(1,1)": ("oneway", "consistency", "single"),
    "ICC(1,k)": ("oneway", "consistency", "average"),
    "ICC(A,1)": ("twoway", "agreement", "single"),
    "ICC(A,k)": ("twoway", "agreement", "average"),
    "ICC(C,1)": ("twoway", "consistency", "single"),
    "ICC(C,k)": ("twoway", "consistency", "average"),
}
_ALIASES = {
    "oneway_single": "ICC(1,1)", "oneway_average": "ICC(1,k)",
    "twoway_agreement_single": "ICC(A,1)", "twoway_agreement_average": "ICC(A,k)",
    "twoway_consistency_single": "ICC(C,1)", "twoway_consistency_average": "ICC(C,k)",
    "ICC1": "ICC(1,1)", "ICC1k": "ICC(1,k)", "ICC2": "ICC(A,1)", "ICC2k": "ICC(A,k)",
    "ICC3": "ICC(C,1)", "ICC3k": "ICC(C,k)",
}


@dataclass(frozen=True)
class ICCResult:
    """An ICC with irr's F test of H0: ICC = 0 and its confidence interval."""

    form: str
    model: str
    type: str
    unit: str
    value: float
    F: float
    df1: float
    df2: float
    p: float
    lower: float
    upper: float
    n_subjects: int
    n_raters: int
    conf_level: float = 0.95


@dataclass(frozen=True)
class ICCArrays:
    """ICCs of many features (one entry per feature; NaN where undefined).

    Same fields as :class:`ICCResult`, as arrays; ``n_subjects`` counts each
    feature's complete subjects.
    """

    form: str
    model: str
    type: str
    unit: str
    value: np.ndarray
    F: np.ndarray
    df1: np.ndarray
    df2: np.ndarray
    p: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_subjects: np.ndarray
    n_raters: int
    conf_level: float = 0.95


def _form(form: str) -> str:
    key = _ALIASES.get(form, form)
    if key not in _FORMS:
        raise ValueError(f"form: unknown ICC form {form!r}; use one of {sorted(_FORMS)}")
    return key


def _seqsum(a: np.ndarray, axis: int) -> np.ndarray:
    """Sum along ``axis`` strictly in order (((a0 + a1) + a2) + ...).

    ``np.sum`` may sum pairwise or sequentially depending on the memory layout,
    so one feature's sum could round differently alone and among others; a
    running sum cannot. Zeros (masked rows) then leave the result unchanged.
    """
    return np.take(np.add.accumulate(a, axis=axis), -1, axis=axis)


def _core(Y: np.ndarray, valid: np.ndarray, key: str, conf_level: float) -> dict[str, np.ndarray]:
    """ICC, F test and CI of every feature of ``Y`` (n x k x m) on its ``valid`` rows (n x m).

    No checks; degenerate features give NaN/inf as the formulas do.
    """
    model, typ, unit = _FORMS[key]
    n, k, m = Y.shape
    w3 = valid[:, None, :]
    Z = np.where(w3, Y, 0.0)
    ns = valid.sum(axis=0).astype(float)  # complete subjects per feature
    row_mean = _seqsum(Z, axis=1) / k  # (n, m)
    col_sum = _seqsum(Z, axis=0)  # (k, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        grand = _seqsum(col_sum, axis=0) / (ns * k)  # (m,)
        col_mean = col_sum / ns  # (k, m)
        d_row = np.where(valid, row_mean - grand, 0.0)
        ss_r = k * _seqsum(d_row * d_row, axis=0)
        ss_c = ns * _seqsum((col_mean - grand) ** 2, axis=0)
        within = np.where(w3, Z - row_mean[:, None, :], 0.0)
        ss_w = _seqsum(_seqsum(within * within, axis=1), axis=0)
        resid = np.where(w3, within - (col_mean - grand)[None, :, :], 0.0)
        ss_e = _seqsum(_seqsum(resid * resid, axis=1), axis=0)

        MSr = ss_r / (ns - 1)
        MSw = ss_w / (ns * (k - 1))
        MSc = ss_c / (k - 1)
        MSe = ss_e / ((ns - 1) * (k - 1))
        alpha = 1 - conf_level
        qf = stats.f.ppf
        df1 = ns - 1
        if model == "oneway":
            value = (MSr - MSw) / (MSr + (k - 1) * MSw) if unit == "single" else (MSr - MSw) / MSr
            F = MSr / MSw
            df2 = ns * (k - 1)
        elif typ == "consistency":
            value = (MSr - MSe) / (MSr + (k - 1) * MSe) if unit == "single" else (MSr - MSe) / MSr
            F = MSr / MSe
            df2 = (ns - 1) * (k - 1)
        elif unit == "single":
            value = (MSr - MSe) / (MSr + (k - 1) * MSe + (k / ns) * (MSc - MSe))
        else:
            value = (MSr - MSe) / (MSr + (MSc - MSe) / ns)

        if typ == "consistency":  # oneway and twoway consistency share the interval's form
            FL = F / qf(1 - alpha / 2, df1, df2)
            FU = F * qf(1 - alpha / 2, df2, df1)
            if unit == "single":
                lower, upper = (FL - 1) / (FL + (k - 1)), (FU - 1) / (FU + (k - 1))
            else:
                lower, upper = 1 - 1 / FL, 1 - 1 / FU
        else:
            # irr with r0 = 0: F = MSr / MSe; v from the reported ICC (single or average)
            F = MSr / MSe
            a = (k * value) / (ns * (1 - value))
            b = 1 + (k * value * (ns - 1)) / (ns * (1 - value))
            v = (a * MSc + b * MSe) ** 2 / ((a * MSc) ** 2 / (k - 1) + (b * MSe) ** 2 / ((ns - 1) * (k - 1)))
            df2 = v
            FL = qf(1 - alpha / 2, df1, v)
            FU = qf(1 - alpha / 2, v, df1)
            if unit == "single":
                c = k * MSc + (k * ns - k - ns) * MSe
                lower = (ns * (MSr - FL * MSe)) / (FL * c + ns * MSr)
                upper = (ns * (FU * MSr - MSe)) / (c + ns * FU * MSr)
            else:
                lower = (ns * (MSr - FL * MSe)) / (FL * (MSc - MSe) + ns * MSr)
                upper = (ns * (FU * MSr - MSe)) / (MSc - MSe + ns * FU * MSr)
        p = stats.f.sf(F, df1, df2)
    full = lambda x: np.broadcast_to(np.asarray(x, dtype=float), (m,)).copy()  # noqa: E731
    return {"value": full(value), "F": full(F), "df1": full(df1), "df2": full(df2), "p": full(p),
            "lower": full(lower), "upper": full(upper), "n_subjects": valid.sum(axis=0)}


def _wide(ratings, subject: str, rater: str, score: str) -> np.ndarray:
    if isinstance(ratings, pd.DataFrame):
        if {rater, score} <= set(ratings.columns):
            if subject not in ratings.columns:
                raise ValueError(f"ratings: long format needs a {subject!r} column")
            if ratings[[subject, rater]].duplicated().any():
                raise ValueError("ratings: a subject is rated more than once by the same rater")
            wide = ratings.pivot(index=subject, columns=rater, values=score)
        else:
            wide = ratings.drop(columns=[subject], errors="ignore")
        try:
            arr = wide.to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ratings: cannot be read as numbers ({exc})") from None
    else:
        try:
            arr = np.asarray(ratings, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ratings: cannot be read as numbers ({exc})") from None
    if arr.ndim != 2:
        raise ValueError(f"ratings: expected a subjects x raters matrix, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError("ratings: contains missing values (each subject needs every rater)")
    if not np.isfinite(arr).all():
        raise ValueError("ratings: contains infinite values")
    ns, nr = arr.shape
    if ns < 2:
        raise ValueError(f"ratings: need at least 2 subjects, got {ns}")
    if nr < 2:
        raise ValueError(f"ratings: need at least 2 raters, got {nr}")
    if np.all(arr == arr.flat[0]):
        raise ValueError("ratings: all ratings are equal; the ICC is undefined")
    return arr


def icc(ratings, form: str = "ICC(A,1)", conf_level: float = 0.95, subject: str = "subject",
        rater: str = "rater", score: str = "score") -> ICCResult:
    """Intraclass correlation coefficient with F test and confidence interval.

    Reproduces ``irr::icc(ratings, model, type, unit, r0 = 0, conf.level)``
    (McGraw & Wong 1996), computed in closed form from the ANOVA mean squares.

    Parameters
    ----------
    ratings : array-like (subjects x raters) or pandas.DataFrame
        A wide matrix, a wide DataFrame (a ``subject`` column is dropped, other
        columns are raters) or a long DataFrame with ``subject``, ``rater`` and
        ``score`` columns (names configurable). No missing values.
    form : str
        ``"ICC(A,1)"`` (twoway agreement, single; Shrout-Fleiss ICC(2,1)),
        ``"ICC(C,1)"`` (twoway consistency, single; ICC(3,1)), ``"ICC(A,k)"``,
        ``"ICC(C,k)"`` (average of k raters), ``"ICC(1,1)"``, ``"ICC(1,k)"``
        (oneway). Also accepted: ``"twoway_agreement_single"``-style names and
        psych's ``"ICC1"`` ... ``"ICC3k"``.
    conf_level : float

    Returns
    -------
    ICCResult
        ``value``, irr's ``F``, ``df1``, ``df2`` (Satterthwaite-type, non-integer,
        for the agreement forms) and ``p`` of H0: ICC = 0, and the CI
        ``lower``, ``upper``. Perfect agreement (zero residual) gives value 1 with
        an infinite F and NaN limits, as irr.

    Raises
    ------
    ValueError
        Unknown form, missing or infinite ratings, fewer than 2 subjects or
        raters, or all ratings equal.
    """
    key = _form(form)
    check_conf_level(conf_level)
    Y = _wide(ratings, subject, rater, score)
    ns, nr = Y.shape
    out = _core(Y[:, :, None], np.ones((ns, 1), dtype=bool), key, conf_level)
    model, typ, unit = _FORMS[key]
    return ICCResult(
        form=key, model=model, type=typ, unit=unit, value=float(out["value"][0]), F=float(out["F"][0]),
        df1=float(out["df1"][0]), df2=float(out["df2"][0]), p=float(out["p"][0]),
        lower=float(out["lower"][0]), upper=float(out["upper"][0]), n_subjects=ns, n_raters=nr,
        conf_level=conf_level,
    )


def icc_many(Y, form: str = "ICC(A,1)", conf_level: float = 0.95, min_subjects: int = 2) -> ICCArrays:
    """The ICC of every feature of a subjects x raters x features array at once.

    Feature j gives exactly ``icc(Y[rows, :, j], form, conf_level)`` with
    ``rows`` the subjects rated by every rater for that feature (irr's
    ``na.omit``), or NaN where that ICC is undefined.

    Parameters
    ----------
    Y : array-like, shape (subjects, raters, features) or (subjects, raters)
        Ratings; NaN marks a missing rating (the subject is dropped for that
        feature only).
    form : str
        As in :func:`icc`.
    conf_level : float
    min_subjects : int
        Features with fewer complete subjects give NaN (at least 2, the minimum
        for an ICC).

    Returns
    -------
    ICCArrays
        Arrays of length ``features``: ``value``, ``F``, ``df1``, ``df2``, ``p``,
        ``lower``, ``upper`` (all NaN for a feature with fewer than
        ``min_subjects`` complete subjects, constant complete ratings, or an
        infinite rating), and ``n_subjects``.
    """
    key = _form(form)
    check_conf_level(conf_level)
    try:
        arr = np.asarray(Y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Y: cannot be read as numbers ({exc})") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"Y: expected subjects x raters x features, got shape {arr.shape}")
    if arr.shape[1] < 2:
        raise ValueError(f"Y: need at least 2 raters, got {arr.shape[1]}")
    if int(min_subjects) < 2:
        raise ValueError(f"min_subjects: must be at least 2, got {min_subjects!r}")
    valid = ~np.isnan(arr).any(axis=1)  # (n, m)
    with np.errstate(invalid="ignore"):
        hi = np.where(valid[:, None, :], arr, -np.inf).max(axis=(0, 1), initial=-np.inf)
        lo = np.where(valid[:, None, :], arr, np.inf).min(axis=(0, 1), initial=np.inf)
    finite = np.isfinite(np.where(valid[:, None, :], arr, 0.0)).all(axis=(0, 1))
    defined = (valid.sum(axis=0) >= int(min_subjects)) & finite & (hi > lo)
    out = _core(np.where(defined[None, None, :], arr, 0.0), valid & defined, key, conf_level)
    for name in ("value", "F", "df1", "df2", "p", "lower", "upper"):
        out[name][~defined] = np.nan
    out["n_subjects"] = valid.sum(axis=0)
    model, typ, unit = _FORMS[key]
    return ICCArrays(form=key, model=model, type=typ, unit=unit, n_raters=arr.shape[1],
                     conf_level=conf_level, **out)

"""Intraclass correlation coefficients matched to R ``irr::icc`` (McGraw & Wong 1996).

The ICC values come from ``pingouin.intraclass_corr`` (identical to irr and
psych). Where pingouin's test or interval differs from irr, irr's formula is
computed here from the ANOVA mean squares:

* agreement ICCs (ICC(A,1), ICC(A,k)): irr tests H0: ICC = 0 with the F ratio
  MSR / MSE on (n - 1, v) degrees of freedom, v the Satterthwaite-type df of
  McGraw & Wong; pingouin (and psych) use (n - 1)(k - 1). irr's df2 and p are
  used here;
* confidence intervals: pingouin rounds them to 2 decimals, and for ICC(A,k) it
  transforms the single-rater interval by Spearman-Brown whereas irr uses McGraw
  & Wong's own formula. All intervals here are irr's, in full precision.

F and p of the consistency and one-way forms are pingouin's (they equal irr's).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

_FORMS = {
    # key: (model, type, unit, pingouin Type label)
    "ICC(1,1)": ("oneway", "consistency", "single", "ICC(1,1)"),
    "ICC(1,k)": ("oneway", "consistency", "average", "ICC(1,k)"),
    "ICC(A,1)": ("twoway", "agreement", "single", "ICC(A,1)"),
    "ICC(A,k)": ("twoway", "agreement", "average", "ICC(A,k)"),
    "ICC(C,1)": ("twoway", "consistency", "single", "ICC(C,1)"),
    "ICC(C,k)": ("twoway", "consistency", "average", "ICC(C,k)"),
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

    Reproduces ``irr::icc(ratings, model, type, unit, r0 = 0, conf.level)``.

    Parameters
    ----------
    ratings : array-like (subjects x raters) or pandas.DataFrame
        A wide matrix, a wide DataFrame (a ``subject`` column is dropped, other
        columns are raters) or a long DataFrame with ``subject``, ``rater`` and
        ``score`` columns (names configurable).
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
    """
    import pingouin as pg

    key = _ALIASES.get(form, form)
    if key not in _FORMS:
        raise ValueError(f"form: unknown ICC form {form!r}; use one of {sorted(_FORMS)}")
    if not (0 < conf_level < 1):
        raise ValueError(f"conf_level: must be in (0, 1), got {conf_level!r}")
    model, typ, unit, pg_label = _FORMS[key]
    Y = _wide(ratings, subject, rater, score)
    ns, nr = Y.shape
    alpha = 1 - conf_level

    long = pd.DataFrame({"s": np.repeat(np.arange(ns), nr), "r": np.tile(np.arange(nr), ns),
                         "y": Y.ravel()})
    with np.errstate(invalid="ignore", divide="ignore"):
        tab = pg.intraclass_corr(long, targets="s", raters="r", ratings="y").set_index("Type")
    row = tab.loc[pg_label]
    value = float(row["ICC"])

    # irr's mean squares (for its df2 / p of agreement forms and all CIs)
    ss_total = np.var(Y, ddof=1) * (ns * nr - 1)
    MSr = np.var(Y.mean(1), ddof=1) * nr
    MSw = np.sum(np.var(Y, axis=1, ddof=1) / ns)
    MSc = np.var(Y.mean(0), ddof=1) * ns
    MSe = (ss_total - MSr * (ns - 1) - MSc * (nr - 1)) / ((ns - 1) * (nr - 1))
    qf = stats.f.ppf

    F, df1, df2, p = float(row["F"]), float(row["df1"]), float(row["df2"]), float(row["pval"])
    if model == "oneway":
        FL = (MSr / MSw) / qf(1 - alpha / 2, ns - 1, ns * (nr - 1))
        FU = (MSr / MSw) * qf(1 - alpha / 2, ns * (nr - 1), ns - 1)
        if unit == "single":
            lower, upper = (FL - 1) / (FL + (nr - 1)), (FU - 1) / (FU + (nr - 1))
        else:
            lower, upper = 1 - 1 / FL, 1 - 1 / FU
    elif typ == "consistency":
        FL = (MSr / MSe) / qf(1 - alpha / 2, ns - 1, (ns - 1) * (nr - 1))
        FU = (MSr / MSe) * qf(1 - alpha / 2, (ns - 1) * (nr - 1), ns - 1)
        if unit == "single":
            lower, upper = (FL - 1) / (FL + (nr - 1)), (FU - 1) / (FU + (nr - 1))
        else:
            lower, upper = 1 - 1 / FL, 1 - 1 / FU
    else:
        # agreement: irr's F = MSr / (a MSc + b MSe) with r0 = 0 (a = 0, b = 1), on
        # (ns - 1, v) df; v is computed from the ICC being reported (single or
        # average), exactly as irr does.
        coeff = value
        a = (nr * coeff) / (ns * (1 - coeff))
        b = 1 + (nr * coeff * (ns - 1)) / (ns * (1 - coeff))
        v = (a * MSc + b * MSe) ** 2 / ((a * MSc) ** 2 / (nr - 1) + (b * MSe) ** 2 / ((ns - 1) * (nr - 1)))
        F = MSr / MSe
        df1, df2 = ns - 1, float(v)
        p = float(stats.f.sf(F, df1, df2))
        FL = qf(1 - alpha / 2, ns - 1, v)
        FU = qf(1 - alpha / 2, v, ns - 1)
        if unit == "single":
            lower = (ns * (MSr - FL * MSe)) / (FL * (nr * MSc + (nr * ns - nr - ns) * MSe) + ns * MSr)
            upper = (ns * (FU * MSr - MSe)) / (nr * MSc + (nr * ns - nr - ns) * MSe + ns * FU * MSr)
        else:
            lower = (ns * (MSr - FL * MSe)) / (FL * (MSc - MSe) + ns * MSr)
            upper = (ns * (FU * MSr - MSe)) / (MSc - MSe + ns * FU * MSr)

    return ICCResult(
        form=key, model=model, type=typ, unit=unit, value=value, F=float(F), df1=float(df1),
        df2=float(df2), p=float(p), lower=float(lower), upper=float(upper), n_subjects=ns,
        n_raters=nr, conf_level=conf_level,
    )


class _CallableModule(type(sys.modules[__name__])):
    """Let ``radsurv.stats.icc(...)`` call the function even though the package
    attribute ``icc`` resolves to this module.

    The package's lazy ``__getattr__`` imports this submodule, which binds the
    *module* to ``radsurv.stats.icc``; ``from radsurv.stats import icc`` then
    returns the module, not the function of the same name. Making the module
    callable keeps both spellings working without touching the package file.
    """

    def __call__(self, *args, **kwargs):
        return icc(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

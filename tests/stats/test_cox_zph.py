"""Proportional-hazards test against R survival 3.5-3 ``cox.zph`` (item `cox_zph`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.stats import cox_zph, fit_cox
from radsurv.stats.ph_test import zph_time_transform

from ._ref import assert_close, load_reference

# README (cox_zph): 1e-6 relative. With our own fit (coefficients at the optimum,
# R's within ~5e-11 of it) the measured max deviation is 4.7e-10 (chisq) and
# 3.8e-10 (p); with R's iterates (fit_cox(eps=1e-9)) it is 3.5e-14.
RTOL = 1e-8
RTOL_R_COEF = 1e-12
TRANSFORMS = ["km", "rank", "identity"]


@pytest.fixture(scope="module")
def ref():
    df, r = load_reference("cox_zph")
    _, rc = load_reference("cox")
    return df, r, rc


def _cov(df):
    return list(df.columns[3:])


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_table_matches_r(ref, transform):
    df, r, _ = ref
    a = r["results"][transform]
    assert a["transform"] == transform
    tab = cox_zph(df[_cov(df)], df["time"], df["event"], transform=transform)
    assert tab.index.tolist() == a["rows"]
    assert tab.columns.tolist() == ["chisq", "df", "p"]
    assert tab["df"].tolist() == a["df"]
    assert_close(tab["chisq"], a["chisq"], RTOL, what=f"{transform} chisq")
    assert_close(tab["p"], a["p"], RTOL, what=f"{transform} p")


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_with_r_iterates_to_rounding(ref, transform):
    # fit_cox(eps = 1e-9, max_iter = 20) stops where coxph does (its coefficients equal
    # the `cox` item's to 1e-14), so the test statistic then agrees to rounding
    df, r, rc = ref
    cov = _cov(df)
    fit = fit_cox(df[cov], df["time"], df["event"], eps=1e-9, max_iter=20)
    assert_close(fit.coef[cov], [rc["efron"]["coef"][c] for c in cov], 1e-12, what="coxph iterates")
    tab = cox_zph(df[cov], df["time"], df["event"], transform=transform, fit=fit)
    a = r["results"][transform]
    assert_close(tab["chisq"], a["chisq"], RTOL_R_COEF, what=f"{transform} chisq at R's coef")
    assert_close(tab["p"], a["p"], RTOL_R_COEF, what=f"{transform} p at R's coef")


def test_fitted_model_is_reused(ref):
    df, r, _ = ref
    cov = _cov(df)
    fit = fit_cox(df[cov], df["time"], df["event"])
    tab = cox_zph(df[cov], df["time"], df["event"], fit=fit)
    assert_close(tab["chisq"], r["results"]["km"]["chisq"], RTOL, what="km chisq (fit given)")
    # array input: row names come from the fit
    tab2 = cox_zph(df[cov].to_numpy(), df["time"], df["event"], fit=fit)
    assert tab2.index.tolist() == r["results"]["km"]["rows"]


def test_time_transforms_by_hand():
    # times 1..5 (event, censored, event, event tied with a censoring, ...)
    t = np.array([1.0, 2.0, 3.0, 3.0, 5.0, 6.0])
    e = np.array([1, 0, 1, 0, 1, 0])
    # KM: S(1) = 5/6, S(3) = 5/6 * 3/4 = 5/8, S(5) = 5/8 * 1/2 = 5/16; g = 1 - S(t-)
    np.testing.assert_allclose(zph_time_transform(t, e, "km"),
                               [0, 1 / 6, 1 / 6, 1 / 6, 3 / 8, 11 / 16], rtol=1e-15)
    np.testing.assert_allclose(zph_time_transform(t, e, "rank"), [1, 2, 3.5, 3.5, 5, 6])
    np.testing.assert_array_equal(zph_time_transform(t, e, "identity"), t)


def test_proportional_hazards_violation_is_detected():
    # a covariate whose effect reverses over time: the PH test must reject strongly,
    # while a covariate with a constant effect must not
    rng = np.random.default_rng(3)
    n = 400
    x = rng.integers(0, 2, n).astype(float)
    z = rng.normal(size=n)
    t_early = rng.exponential(1 / np.exp(1.5 * x + 0.5 * z))
    t = np.where(t_early < 0.5, t_early, 0.5 + rng.exponential(1 / np.exp(-1.5 * x + 0.5 * z)))
    e = (rng.random(n) < 0.9).astype(int)
    tab = cox_zph(pd.DataFrame({"x": x, "z": z}), t, e)
    assert tab.loc["x", "p"] < 1e-6
    assert tab.loc["z", "p"] > 0.01


# ---------------------------------------------------------------- bad input
def _small():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    t = rng.exponential(size=40) + 0.01
    e = (rng.random(40) < 0.7).astype(int)
    e[0] = 1
    return X, t, e


def test_bad_transform():
    X, t, e = _small()
    with pytest.raises(ValueError, match="transform: must be one of"):
        cox_zph(X, t, e, transform="log-time")
    with pytest.raises(ValueError, match="transform: must be one of"):
        zph_time_transform(t, e, "KM")


def test_bad_ties():
    X, t, e = _small()
    with pytest.raises(ValueError, match="ties: must be"):
        cox_zph(X, t, e, ties="exact")


@pytest.mark.parametrize("case, pattern", [
    ("nan_time", r"time: contains NaN"),
    ("negative_time", r"time: negative time"),
    ("event_2", r"event: must be 0/1"),
    ("nan_x", r"X: contains NaN"),
    ("short_event", r"mismatched lengths"),
])
def test_bad_data(case, pattern):
    X, t, e = _small()
    t, e = t.copy(), e.copy()
    if case == "nan_time":
        t[3] = np.nan
    elif case == "negative_time":
        t[2] = -1
    elif case == "event_2":
        e[4] = 2
    elif case == "nan_x":
        X = X.copy()
        X.iloc[5, 1] = np.nan
    elif case == "short_event":
        e = e[:-1]
    with pytest.raises(ValueError, match=pattern):
        cox_zph(X, t, e)


def test_fit_must_match_the_data():
    X, t, e = _small()
    fit = fit_cox(X, t, e)
    with pytest.raises(ValueError, match="fit: was not fitted on these"):
        cox_zph(X, t * 2, e, fit=fit)
    with pytest.raises(ValueError, match="fit: was not fitted on these"):
        cox_zph(X, t, e, ties="breslow", fit=fit)
    with pytest.raises(ValueError, match="fit: was not fitted on these"):
        cox_zph(X * 2, t, e, fit=fit)
    with pytest.raises(ValueError, match="fit: covariates"):
        cox_zph(X[["b", "a"]], t, e, fit=fit)
    with pytest.raises(ValueError, match="fit: must be a CoxFit"):
        cox_zph(X, t, e, fit={"coef": [0, 0]})

"""Cox model against R survival 3.5-3 ``coxph`` / ``survfit.coxph`` (item `cox`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import CoxFit, fit_cox

from ._ref import assert_close, load_reference

# README suggests 1e-6; the fit is at the optimum, so 1e-8 holds (R's own
# coefficients are within ~5e-11 of it). p-values near 1e-21 are checked at 1e-7.
RTOL = 1e-8
RTOL_P_TINY = 1e-7


@pytest.fixture(scope="module")
def ref():
    return load_reference("cox")


@pytest.fixture(scope="module", params=["efron", "breslow"])
def fitted(request, ref):
    df, r = ref
    cov = r["covariates"]
    return request.param, fit_cox(df[cov], df["time"], df["event"], ties=request.param)


def test_coefficients(ref, fitted):
    ties, f = fitted
    _, r = ref
    a, cov = r[ties], r["covariates"]
    assert isinstance(f, CoxFit)
    assert f.names == cov
    assert f.n == a["n"] and f.n_events == a["n_events"]
    for attr, key in [("coef", "coef"), ("se", "se"), ("hr", "hr"), ("hr_lower", "hr_lower"),
                      ("hr_upper", "hr_upper"), ("z", "z"), ("p", "p_wald")]:
        assert_close(getattr(f, attr)[cov], [a[key][c] for c in cov], RTOL, what=attr)
    assert_close(f.vcov.loc[cov, cov].to_numpy(), a["vcov"], RTOL, what="vcov")


def test_likelihood_and_tests(ref, fitted):
    ties, f = fitted
    a = ref[1][ties]
    assert_close(f.loglik_null, a["loglik_null"], RTOL)
    assert_close(f.loglik, a["loglik"], RTOL)
    assert_close(f.aic, a["aic"], RTOL)
    assert_close(f.bic, a["bic_r"], RTOL)
    assert_close(f.bic_n_subjects, a["bic_n_subjects"], RTOL)
    assert f.n_events == a["bic_r_nobs"]
    for test, key in [(f.lr_test, "lrt"), (f.wald_test, "wald_test"), (f.score_test, "score_test")]:
        assert test.df == a[key]["df"]
        assert_close(test.statistic, a[key]["stat"], RTOL, what=key)
        assert_close(test.p, a[key]["p"], RTOL_P_TINY, what=key + " p")


def test_predictions(ref, fitted):
    ties, f = fitted
    df, r = ref
    a, cov = r[ties], r["covariates"]
    X10 = df[cov].iloc[:10]
    assert_close(f.predict(X10), a["lp_first10"], RTOL, what="lp")
    ps = a["predicted_survival"]
    assert ps["ctype"] == (2 if ties == "efron" else 1)
    assert_close(f.predict_survival(X10, ps["times"]), ps["surv"], RTOL, what="S(t|x)")
    assert_close(f.predict_cumhaz(X10, ps["times"]), ps["cumhaz"], RTOL, what="H(t|x)")
    b = a["baseline_cumhaz"]
    for key, ctype in [("default_ctype", None), ("breslow_ctype1", 1)]:
        H0 = f.baseline_cumhaz(b["times"], ctype=ctype)
        assert_close(H0, b[key]["cumhaz"], RTOL, what=key)
        assert_close(np.exp(-H0), b[key]["surv"], RTOL, what=key + " surv")
    # a plain array gives the same linear predictor; column order is by name for DataFrames
    assert_close(f.predict(X10.to_numpy()), a["lp_first10"], RTOL)
    assert_close(f.predict(X10[cov[::-1]]), a["lp_first10"], RTOL)


def test_array_input_names():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    t = rng.exponential(size=60)
    e = rng.integers(0, 2, 60)
    e[0] = 1
    f = fit_cox(X, t, e)
    assert f.names == ["x1", "x2"]
    assert f.summary().index.tolist() == ["x1", "x2"]


SUMMARY_COLUMNS = {"coef": "coef", "hr": "hr", "se": "se", "z": "z", "p": "p_wald",
                   "hr_lower": "hr_lower", "hr_upper": "hr_upper"}


def test_summary_values_against_r(ref, fitted):
    # summary(coxph): coef, exp(coef), se(coef), z, Pr(>|z|), lower/upper .95, row by row
    ties, f = fitted
    _, r = ref
    a, cov = r[ties], r["covariates"]
    table = f.summary()
    assert table.index.tolist() == cov
    assert sorted(table.columns) == sorted(SUMMARY_COLUMNS)
    for column, key in SUMMARY_COLUMNS.items():
        assert_close(table[column].to_numpy(), [a[key][c] for c in cov], RTOL, what=f"summary {column}")
    # the columns are consistent with each other as in R: HR = exp(coef), z = coef / se,
    # CI = exp(coef -/+ 1.96 se)
    np.testing.assert_allclose(table["hr"], np.exp(table["coef"]), rtol=1e-14)
    np.testing.assert_allclose(table["z"], table["coef"] / table["se"], rtol=1e-14)
    np.testing.assert_allclose(table["hr_lower"], np.exp(table["coef"] - 1.959963984540054 * table["se"]), rtol=1e-12)


def test_cox_aic_is_rs_aic_and_fit_cox_aic_to_the_last_bit(ref):
    """cox_aic runs fit_cox's own fit without its summaries (the selection loops' AIC):
    R's AIC(coxph(...)), and exactly fit_cox's aic from a frame or its column-major array."""
    from radsurv.stats import cox_aic

    df, r = ref
    cov = r["covariates"]
    for ties in ("efron", "breslow"):
        frame = fit_cox(df[cov], df["time"], df["event"], ties=ties).aic
        assert_close(cox_aic(df[cov], df["time"], df["event"], ties=ties), r[ties]["aic"], RTOL)
        assert cox_aic(df[cov], df["time"], df["event"], ties=ties) == frame
        array = df[cov].to_numpy(dtype=float)
        assert cox_aic(array, df["time"], df["event"], ties=ties, names=list(cov)) == frame
    # its errors are fit_cox's, naming the column
    const = df[cov].assign(**{cov[0]: 1.0})
    with pytest.raises(ValueError, match=f"column '{cov[0]}' is constant"):
        cox_aic(const.to_numpy(dtype=float), df["time"], df["event"], names=list(cov))
    with pytest.raises(ValueError, match="2 names for"):
        cox_aic(df[cov].to_numpy(dtype=float), df["time"], df["event"], names=["a", "b"])


def test_cox_lr_test_is_rs_lrt_and_fit_cox_lr_test_to_the_last_bit(ref):
    """cox_lr_test runs fit_cox's own fit without its summaries (the univariable screen's
    test): R's likelihood-ratio test, and exactly fit_cox's from a frame or its
    column-major array, with its monotone covariates (none here)."""
    from radsurv.stats import cox_lr_test

    df, r = ref
    cov = r["covariates"]
    for ties in ("efron", "breslow"):
        fit = fit_cox(df[cov], df["time"], df["event"], ties=ties)
        lr, runaway = cox_lr_test(df[cov].to_numpy(dtype=float), df["time"], df["event"], ties=ties, names=list(cov))
        assert lr == fit.lr_test and runaway == fit.monotone == ()
        assert lr.df == r[ties]["lrt"]["df"]
        assert_close(lr.statistic, r[ties]["lrt"]["stat"], RTOL, what="lrt")
        assert cox_lr_test(df[cov], df["time"], df["event"], ties=ties)[0] == fit.lr_test
    with pytest.raises(ValueError, match=f"column '{cov[0]}' is constant"):
        cox_lr_test(df[cov].assign(**{cov[0]: 1.0}), df["time"], df["event"])

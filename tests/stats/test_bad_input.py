"""Bad input fails with a ValueError naming the argument and the reason (part 1 functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.stats import (calibration_table, fit_cox, harrell_c, kaplan_meier, logrank,
                           net_benefit, optimal_cutpoint, uno_c)
from radsurv.stats.concordance import bootstrap_harrell_c
from radsurv.stats.icc import icc
from radsurv.stats.survival_curves import median_survival

N = 40


def _valid_inputs(seed: int = 0):
    """Valid time, event, marker and predicted risk (read-only constants below)."""
    rng = np.random.default_rng(seed)
    t = rng.exponential(10, N).round(2) + 0.1
    e = (rng.random(N) < 0.7).astype(int)
    e[0] = 1
    x = rng.normal(size=N)
    p = rng.uniform(0.05, 0.95, N)
    for a in (t, e, x, p):
        a.flags.writeable = False  # tests copy before changing them
    return t, e, x, p


T, E, X, P = _valid_inputs()


def _nan(a, i=3):
    a = np.asarray(a, dtype=float).copy()
    a[i] = np.nan
    return a


def _neg(a, i=2):
    a = np.asarray(a, dtype=float).copy()
    a[i] = -1.0
    return a


# ---------------------------------------------------------------- shared survival checks
SURV_FUNCS = {
    "harrell_c": lambda t, e, x: harrell_c(t, e, x),
    "uno_c": lambda t, e, x: uno_c(t, e, x, tau=5.0),
    "logrank": lambda t, e, x: logrank(t, e, (x > 0).astype(int)),
    "fit_cox": lambda t, e, x: fit_cox(x, t, e),
    "optimal_cutpoint": lambda t, e, x: optimal_cutpoint(t, e, x),
    "calibration_table": lambda t, e, x: calibration_table(t, e, P[: len(x)] if len(x) <= N else x, 5.0),
    "net_benefit": lambda t, e, x: net_benefit(t, e, P[: len(x)] if len(x) <= N else x, 5.0, [0.1, 0.2]),
    "bootstrap_harrell_c": lambda t, e, x: bootstrap_harrell_c(t, e, x, n_boot=5, seed=1),
    "kaplan_meier": lambda t, e, x: kaplan_meier(t, e, [1.0]),
}


@pytest.mark.parametrize("name", list(SURV_FUNCS))
def test_mismatched_lengths(name):
    with pytest.raises(ValueError, match="mismatched lengths|time=|length"):
        if name == "kaplan_meier":
            kaplan_meier(T, E[:-1])
        else:
            SURV_FUNCS[name](T, E, X[:-1])


@pytest.mark.parametrize("name", list(SURV_FUNCS))
def test_nan_time(name):
    with pytest.raises(ValueError, match=r"time: contains NaN"):
        SURV_FUNCS[name](_nan(T), E, X)


@pytest.mark.parametrize("name", list(SURV_FUNCS))
def test_negative_time(name):
    with pytest.raises(ValueError, match=r"time: negative time"):
        SURV_FUNCS[name](_neg(T), E, X)


@pytest.mark.parametrize("name", list(SURV_FUNCS))
def test_event_not_binary(name):
    e = E.copy()
    e[1] = 2
    with pytest.raises(ValueError, match=r"event: must be 0/1"):
        SURV_FUNCS[name](T, e, X)


@pytest.mark.parametrize("name", ["harrell_c", "uno_c", "logrank", "fit_cox", "optimal_cutpoint",
                                  "bootstrap_harrell_c"])
def test_no_events(name):
    with pytest.raises(ValueError, match=r"event: no events"):
        SURV_FUNCS[name](T, np.zeros(N, dtype=int), X)


@pytest.mark.parametrize("name", ["harrell_c", "uno_c", "optimal_cutpoint", "bootstrap_harrell_c"])
def test_nan_marker(name):
    with pytest.raises(ValueError, match=r"(risk|marker).*NaN"):
        SURV_FUNCS[name](T, E, _nan(X))


# ---------------------------------------------------------------- concordance
@pytest.mark.parametrize("fn", [harrell_c, lambda t, e, x: uno_c(t, e, x, tau=5.0)])
def test_constant_risk(fn):
    with pytest.raises(ValueError, match=r"risk: is constant"):
        fn(T, E, np.ones(N))


def test_concordance_ymax_and_pairs():
    with pytest.raises(ValueError, match=r"ymax: must be a positive"):
        harrell_c(T, E, X, ymax=-1)
    with pytest.raises(ValueError, match=r"tau: must be a positive"):
        uno_c(T, E, X, tau=0)
    with pytest.raises(ValueError, match=r"tau: is an alias"):
        harrell_c(T, E, X, ymax=3, tau=4)
    with pytest.raises(ValueError, match=r"no comparable pairs"):
        harrell_c(T, E, X, ymax=1e-3)


def test_bootstrap_arguments():
    with pytest.raises(ValueError, match=r"n_boot: must be a positive integer"):
        bootstrap_harrell_c(T, E, X, n_boot=0)
    with pytest.raises(ValueError, match=r"risk\[:, 1\]: is constant"):
        bootstrap_harrell_c(T, E, np.column_stack([X, np.ones(N)]), n_boot=3)
    with pytest.raises(ValueError, match=r"risk: expected"):
        bootstrap_harrell_c(T, E, np.ones((N, 2, 2)), n_boot=3)


# ---------------------------------------------------------------- KM / log-rank
def test_km_arguments():
    with pytest.raises(ValueError, match=r"conf_type: must be one of"):
        kaplan_meier(T, E, [1.0], conf_type="arcsin")
    with pytest.raises(ValueError, match=r"times: must be sorted"):
        kaplan_meier(T, E, [5.0, 1.0])
    with pytest.raises(ValueError, match=r"times: contains NaN"):
        kaplan_meier(T, E, [np.nan])
    with pytest.raises(ValueError, match=r"conf_level: must be in"):
        median_survival(T, E, conf_level=1.5)


def test_logrank_single_group_and_missing():
    with pytest.raises(ValueError, match=r"group: needs at least two groups"):
        logrank(T, E, np.zeros(N))
    g = np.array(["a", "b"] * (N // 2), dtype=object)
    g[3] = None
    with pytest.raises(ValueError, match=r"group: contains missing"):
        logrank(T, E, g)


# ---------------------------------------------------------------- Cox
def test_cox_design_problems():
    Xd = pd.DataFrame({"a": X, "b": np.random.default_rng(1).normal(size=N)})
    with pytest.raises(ValueError, match=r"X: column 'c' is constant"):
        fit_cox(Xd.assign(c=1.0), T, E)
    with pytest.raises(ValueError, match=r"X: columns are collinear"):
        fit_cox(Xd.assign(c=2 * Xd["a"] - Xd["b"]), T, E)
    # the message names the columns of the dependence, and only those
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match=r"a, b, c are linearly dependent$"):
        fit_cox(Xd.assign(c=2 * Xd["a"] - Xd["b"], d=rng.normal(size=N)), T, E)
    level = rng.integers(0, 3, N)   # a category's indicators and the variable they make up
    coded = pd.DataFrame({"age": rng.normal(size=N), "er[negative]": (level > 0).astype(float),
                          "subtype[her2]": (level == 1).astype(float), "subtype[tn]": (level == 2).astype(float)})
    with pytest.raises(ValueError, match=r"er\[negative\], subtype\[her2\], subtype\[tn\] are linearly dependent"):
        fit_cox(coded, T, E)
    with pytest.raises(ValueError, match=r"X: contains NaN"):
        fit_cox(Xd.assign(a=_nan(X)), T, E)
    with pytest.raises(ValueError, match=r"ties: must be"):
        fit_cox(Xd, T, E, ties="exact")
    with pytest.raises(ValueError, match=r"X: cannot be read as numbers"):
        fit_cox(Xd.assign(a="x"), T, E)


def test_cox_monotone_likelihood():
    t = np.arange(1.0, 21.0)
    e = np.ones(20, dtype=int)
    x = -t  # perfect separation: beta -> infinity
    with pytest.raises(ValueError, match=r"X: Newton-Raphson did not converge"):
        fit_cox(x, t, e)


def test_cox_predict_columns():
    f = fit_cox(pd.DataFrame({"a": X}), T, E)
    with pytest.raises(ValueError, match=r"X: missing columns"):
        f.predict(pd.DataFrame({"b": X}))
    with pytest.raises(ValueError, match=r"ctype: must be 1 or 2"):
        f.baseline_cumhaz([1.0], ctype=3)


# ---------------------------------------------------------------- cut-point
def test_cutpoint_problems():
    with pytest.raises(ValueError, match=r"marker: is constant"):
        optimal_cutpoint(T, E, np.ones(N))
    with pytest.raises(ValueError, match=r"min_prop/max_prop"):
        optimal_cutpoint(T, E, X, min_prop=0.6, max_prop=0.4)
    m = np.r_[np.zeros(N - 1), 1.0]  # only one admissible split, with n_low = N - 1 > 0.9 N
    with pytest.raises(ValueError, match=r"marker: no cut leaves"):
        optimal_cutpoint(T, E, m)


# ---------------------------------------------------------------- calibration / DCA
def test_calibration_problems():
    with pytest.raises(ValueError, match=r"predicted_risk: must be probabilities"):
        calibration_table(T, E, P + 1, 5.0)
    with pytest.raises(ValueError, match=r"t: must be a positive time"):
        calibration_table(T, E, P, 0.0)
    with pytest.raises(ValueError, match=r"n_groups: 50 groups for only 40"):
        calibration_table(T, E, P, 5.0, n_groups=50)
    with pytest.raises(ValueError, match=r"mismatched lengths: time=40, groups=39"):
        calibration_table(T, E, P, 5.0, groups=np.ones(N - 1))
    with pytest.raises(ValueError, match=r"predicted_risk: contains NaN"):
        calibration_table(T, E, _nan(P), 5.0)


def test_net_benefit_problems():
    with pytest.raises(ValueError, match=r"thresholds: must lie in \[0, 1\)"):
        net_benefit(T, E, P, 5.0, [0.5, 1.0])
    with pytest.raises(ValueError, match=r"predicted_risk: must be probabilities"):
        net_benefit(T, E, -P, 5.0, [0.5])
    with pytest.raises(ValueError, match=r"t: must be a positive time"):
        net_benefit(T, E, P, -2, [0.5])


# ---------------------------------------------------------------- ICC
def test_icc_problems():
    Y = np.random.default_rng(2).normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"form: unknown ICC form"):
        icc(Y, "ICC(2,1)x")
    with pytest.raises(ValueError, match=r"ratings: need at least 2 raters"):
        icc(Y[:, :1], "ICC(A,1)")
    with pytest.raises(ValueError, match=r"ratings: need at least 2 subjects"):
        icc(Y[:1], "ICC(A,1)")
    Yn = Y.copy()
    Yn[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"ratings: contains missing values"):
        icc(Yn, "ICC(A,1)")
    with pytest.raises(ValueError, match=r"ratings: all ratings are equal"):
        icc(np.ones((5, 2)), "ICC(C,1)")
    with pytest.raises(ValueError, match=r"ratings: expected a subjects x raters matrix"):
        icc(np.ones(5), "ICC(C,1)")
    long = pd.DataFrame({"subject": [1, 1, 2, 2], "rater": ["a", "a", "a", "b"], "score": [1, 2, 3, 4.0]})
    with pytest.raises(ValueError, match=r"ratings: a subject is rated more than once"):
        icc(long, "ICC(A,1)")


def test_cox_monotone_likelihood_as_r():
    """coxph's answer: stop when the log-likelihood has converged, warn about the
    covariate, return the fit. The coefficient is large and the likelihood at its
    supremum (doubling it changes the log-likelihood by less than 1e-8)."""
    rng = np.random.default_rng(0)
    t = np.arange(1.0, 41.0)
    e = np.ones(40, dtype=int)
    sep = (t <= 10).astype(float)           # every early event has sep = 1; risk sets separate
    z = rng.normal(size=40)
    X = pd.DataFrame({"sep": sep, "z": z})
    with pytest.warns(RuntimeWarning, match=r"converged before sep; coefficient may be infinite"):
        f = fit_cox(X, t, e, monotone="as_r")
    assert f.monotone == ("sep",)
    assert f.coef["sep"] > 10
    from radsurv.stats.cox import _RiskSets, _loglik_derivs

    Xc = X.to_numpy() - X.to_numpy().mean(0)
    rs = _RiskSets(t, e)
    double = _loglik_derivs(Xc, f.coef.to_numpy() * np.array([2.0, 1.0]), rs, "efron")[0]
    assert abs(double - f.loglik) < 1e-8 * abs(f.loglik)
    # without separation the option changes nothing
    g1 = fit_cox(pd.DataFrame({"z": z}), t, e)
    g2 = fit_cox(pd.DataFrame({"z": z}), t, e, monotone="as_r")
    assert g2.monotone == () and g1.coef["z"] == g2.coef["z"]
    with pytest.raises(ValueError, match="monotone: must be 'raise' or 'as_r'"):
        fit_cox(X, t, e, monotone="ignore")

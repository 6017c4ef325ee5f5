"""Univariable Cox score tests of many features at once, against one Cox fit per feature
(radsurv.stats.fit_cox, matched to R's coxph score test) on GBSG2 (tied times)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.stats import fit_cox, univariable_score_tests

from ._ref import load_reference


@pytest.fixture(scope="module")
def gbsg2():
    data, _ = load_reference("cox")
    covariates = [c for c in data.columns if c not in ("id", "time", "event")]
    return data[covariates], data["time"].to_numpy(), data["event"].to_numpy()


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_equals_the_score_test_of_each_univariable_cox_model(gbsg2, ties):
    X, t, e = gbsg2
    tests = univariable_score_tests(X, t, e, ties=ties)
    assert list(tests.index) == list(X.columns)
    for name in X.columns:
        fit = fit_cox(X[[name]], t, e, ties=ties)
        assert tests.loc[name, "chisq"] == pytest.approx(fit.score_test.statistic, rel=1e-10)
        assert tests.loc[name, "p"] == pytest.approx(fit.score_test.p, rel=1e-8)
        # The sign follows the fitted coefficient (higher values, higher hazard: z > 0).
        assert np.sign(tests.loc[name, "z"]) == np.sign(fit.coef[name])


def test_efron_and_breslow_agree_without_ties():
    rng = np.random.default_rng(4)
    t, e = rng.exponential(10, 200), rng.integers(0, 2, 200)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    efron, breslow = univariable_score_tests(X, t, e, "efron"), univariable_score_tests(X, t, e, "breslow")
    pd.testing.assert_frame_equal(efron, breslow, rtol=1e-12)


def test_a_constant_feature_has_no_test_and_bad_input_is_named():
    rng = np.random.default_rng(5)
    t, e = rng.exponential(10, 50), np.r_[np.ones(25), np.zeros(25)]
    X = pd.DataFrame({"const": np.full(50, 3.0), "x": rng.normal(size=50)})
    tests = univariable_score_tests(X, t, e)
    assert tests.loc["const", "information"] == 0 and np.isnan(tests.loc["const", "p"])
    assert np.isfinite(tests.loc["x", "p"])
    with pytest.raises(ValueError, match="ties"):
        univariable_score_tests(X, t, e, ties="exact")
    with pytest.raises(ValueError, match="X: contains NaN"):
        univariable_score_tests(X.assign(x=np.nan), t, e)
    with pytest.raises(ValueError, match="mismatched lengths"):
        univariable_score_tests(X.iloc[:10], t, e)

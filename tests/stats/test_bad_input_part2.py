"""Bad input to lasso_cox, td_auc and delong: ValueError naming the argument and reason."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats.delong import binary_at_time, delong_auc, delong_test
from radsurv.stats.lasso_cox import lasso_cox_cv, lasso_cox_path
from radsurv.stats.td_auc import td_auc, td_auc_compare

N = 60


def _valid_inputs(seed: int = 0):
    """Valid inputs (read-only constants below), each call from its own generator."""
    rng = np.random.default_rng(seed)
    arrays = (rng.exponential(1.0, N) + 0.01, (rng.random(N) < 0.6).astype(int), rng.normal(size=N),
              rng.normal(size=(N, 5)), np.arange(N) % 3 + 1, (rng.random(N) < 0.4).astype(int))
    for a in arrays:
        a.flags.writeable = False  # tests copy before changing them
    return arrays


TIME, EVENT, RISK, X, FOLD, Y = _valid_inputs()


def _nan(a, i=3):
    a = np.array(a, float)
    a[i] = np.nan
    return a


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: td_auc(TIME[:-1], EVENT, RISK, [1.0]), "mismatched lengths"),
        (lambda: td_auc(_nan(TIME), EVENT, RISK, [1.0]), "time: contains NaN"),
        (lambda: td_auc(TIME, EVENT, _nan(RISK), [1.0]), "risk: contains NaN"),
        (lambda: td_auc(-TIME, EVENT, RISK, [1.0]), "time: negative"),
        (lambda: td_auc(TIME, np.zeros(N), RISK, [1.0]), "event: no events"),
        (lambda: td_auc(TIME, EVENT + 1, RISK, [1.0]), "event: must be 0/1"),
        (lambda: td_auc(TIME, EVENT, np.ones(N), [1.0]), "risk: is constant"),
        (lambda: td_auc(TIME, EVENT, RISK, [np.nan]), "times: contains NaN"),
        (lambda: td_auc(TIME, EVENT, RISK, [-1.0]), "times: .*non-negative"),
        (lambda: td_auc_compare(TIME, EVENT, RISK, RISK[:-1], [1.0]), "mismatched lengths"),
        (lambda: td_auc_compare(TIME, EVENT, RISK, np.ones(N), [1.0]), "risk_b: is constant"),
    ],
)
def test_td_auc_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: delong_auc(Y[:-1], RISK), "mismatched lengths"),
        (lambda: delong_auc(Y, _nan(RISK)), "score: contains NaN"),
        (lambda: delong_auc(_nan(Y), RISK), "y: contains NaN"),
        (lambda: delong_auc(Y * 2, RISK), "y: must be 0/1"),
        (lambda: delong_auc(np.ones(N), RISK), "y: has a single class"),
        (lambda: delong_auc(np.zeros(N), RISK), "y: has a single class"),
        (lambda: delong_auc(Y, np.full(N, 2.0)), "score: is constant"),
        (lambda: delong_auc(Y, RISK, direction="up"), "direction"),
        (lambda: delong_auc(np.r_[1, np.zeros(N - 1)], RISK), "at least 2 cases"),
        (lambda: delong_test(Y, RISK, RISK[:-1]), "mismatched lengths"),
        (lambda: delong_test(Y, RISK, np.ones(N)), "score_b: is constant"),
        (lambda: delong_test(Y, RISK, RISK, paired=False, y_b=np.ones(N)), "y_b: has a single class"),
        (lambda: delong_test(Y, RISK, RISK, y_b=Y), "y_b: only used with paired=False"),
        (lambda: binary_at_time(TIME, EVENT[:-1], 1.0), "mismatched lengths"),
        (lambda: binary_at_time(-TIME, EVENT, 1.0), "time: negative"),
        (lambda: binary_at_time(_nan(TIME), EVENT, 1.0), "time: contains NaN"),
        (lambda: binary_at_time(TIME, EVENT, np.nan), "t: must be a finite"),
    ],
)
def test_delong_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _x_nan():
    a = X.copy()
    a[2, 1] = np.nan
    return a


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lasso_cox_path(X[:-1], TIME, EVENT), "mismatched lengths"),
        (lambda: lasso_cox_path(X, TIME[:-1], EVENT), "mismatched lengths"),
        (lambda: lasso_cox_path(_x_nan(), TIME, EVENT), r"X: contains NaN.*row 2, column 1"),
        (lambda: lasso_cox_path(X, _nan(TIME), EVENT), "time: contains NaN"),
        (lambda: lasso_cox_path(X, -TIME, EVENT), "time: negative"),
        (lambda: lasso_cox_path(X, TIME, np.zeros(N)), "event: no events"),
        (lambda: lasso_cox_path(X[:, 0], TIME, EVENT), "X: expected a 2-D array"),
        (lambda: lasso_cox_path(np.ones((N, 3)), TIME, EVENT), "X: every column is constant"),
        (lambda: lasso_cox_path(X, TIME, EVENT, lambdas=[-0.1]), "lambdas: must be non-negative"),
        (lambda: lasso_cox_path(X, TIME, EVENT, lambda_min_ratio=2.0), "lambda_min_ratio"),
        (lambda: lasso_cox_cv(X, TIME, EVENT, FOLD[:-1]), "mismatched lengths"),
        (lambda: lasso_cox_cv(X, TIME, EVENT, _nan(FOLD)), "foldid: contains NaN"),
        (lambda: lasso_cox_cv(X, TIME, EVENT, FOLD + 0.5), "foldid: must hold integer"),
        (lambda: lasso_cox_cv(X, TIME, EVENT, np.arange(N) % 2), "foldid: .*at least 3 folds"),
        (lambda: lasso_cox_cv(X, TIME, np.where(FOLD == 2, 0, EVENT), FOLD), r"foldid: fold\(s\) \[2\] contain no events"),
    ],
)
def test_lasso_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_lasso_constant_column_is_left_out():
    # glmnet's chkvars: a constant column gets coefficient 0 and is not an error
    Xc = np.column_stack([X, np.full(N, 3.0)])
    fit = lasso_cox_path(Xc, TIME, EVENT, lambdas=[0.01])
    assert fit.coef_path[-1, 0] == 0.0
    ref = lasso_cox_path(X, TIME, EVENT, lambdas=[0.01])
    np.testing.assert_allclose(fit.coef_path[:-1, 0], ref.coef_path[:, 0], rtol=1e-10, atol=1e-14)


def test_path_coef_bad_lambda():
    fit = lasso_cox_path(X, TIME, EVENT, lambdas=[0.1, 0.05])
    with pytest.raises(ValueError, match="lam: must be a finite non-negative"):
        fit.coef(-1.0)

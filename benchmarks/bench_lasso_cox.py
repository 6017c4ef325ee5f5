"""Benchmark: radsurv lasso_cox_cv vs scikit-survival's CoxnetSurvivalAnalysis.

311 simulated patients x 2,000 correlated features, 10-fold CV over the first
N_LAMBDA (default 50) lambdas of glmnet's default path, given explicitly to
both implementations (so every fold uses the same lambdas). The full
100-lambda path is not timed by default: with p >> n its tail has ~250 active
columns and our pure-numpy solver needs ~2 minutes per path there (see the
report); pass --full to time it anyway. sksurv does the same job "the obvious way": one full-data path
(its own glmnet port, Breslow ties, normalize=True) for the lambda sequence,
then one path per fold on those lambdas, scored with cv.glmnet's grouped
deviance (the CV rule is not in sksurv, it is computed here with our helper).

Run:  .venv/bin/python benchmarks/bench_lasso_cox.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from radsurv.stats.lasso_cox import _breslow_deviance_matrix, lasso_cox_cv, lasso_cox_path


def simulate(n=311, p=2000, seed=20240501):
    rng = np.random.default_rng(seed)
    # block-correlated features, as radiomics (rho ~ 0.6 within blocks of 20)
    z = rng.normal(size=(n, p // 20))
    X = np.repeat(z, 20, axis=1) * 0.77 + rng.normal(size=(n, p)) * 0.64
    beta = np.zeros(p)
    beta[rng.choice(p, 10, replace=False)] = rng.normal(0, 0.5, 10)
    t_ev = rng.exponential(np.exp(-X @ beta) * 3)
    t_c = rng.uniform(0.5, 6, n)
    tt = np.round(np.minimum(t_ev, t_c) * 365.25)  # days: some tied times
    ev = (t_ev <= t_c).astype(int)
    foldid = rng.permutation(np.arange(n) % 10 + 1)
    return X, tt + 1, ev, foldid


def sksurv_cv(X, t, e, foldid, lam):
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    y = Surv.from_arrays(e.astype(bool), t)
    full = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=lam, normalize=True, fit_baseline_model=False, tol=1e-7)
    full.fit(X, y)
    K = np.unique(foldid)
    ev = np.array([e[foldid == k].sum() for k in K])
    cvraw = np.empty((K.size, lam.size))
    for i, k in enumerate(K):
        tr = foldid != k
        m = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=lam, normalize=True, fit_baseline_model=False, tol=1e-7)
        m.fit(X[tr], y[tr])
        C = m.coef_
        if C.shape[1] < lam.size:  # sksurv may stop early: carry the last fit (as cv.glmnet)
            C = np.hstack([C, np.repeat(C[:, -1:], lam.size - C.shape[1], axis=1)])
        cvraw[i] = (_breslow_deviance_matrix(t, e, X @ C) - _breslow_deviance_matrix(t[tr], e[tr], X[tr] @ C)) / ev[i]
    cvm = ev @ cvraw / ev.sum()
    return lam, full.coef_, cvm


def main():
    import sys

    X, t, e, foldid = simulate()
    n_lambda = 100 if "--full" in sys.argv else 50
    print(f"data: n={X.shape[0]}, p={X.shape[1]}, events={e.sum()}, 10 folds, {n_lambda} lambdas")
    lmax = lasso_cox_path(X, t, e, lambdas=[1.0]).lambda_max
    expo = float(np.float32(1.0) / np.float32(99))
    lam = (lmax * (0.01**expo) ** np.arange(100))[:n_lambda]  # glmnet's path, n < p

    t0 = time.perf_counter()
    ours = lasso_cox_cv(X, t, e, foldid, lambdas=lam)
    t_ours = time.perf_counter() - t0
    print(
        f"radsurv lasso_cox_cv : {t_ours:7.2f} s  ({ours.lambdas.size} lambdas, "
        f"lambda_min={ours.lambda_min:.5g} [{ours.nzero[ours.index_min]} nonzero], "
        f"lambda_1se={ours.lambda_1se:.5g})"
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        lam_s, coef_s, cvm_s = sksurv_cv(X, t, e, foldid, lam)
        t_sk = time.perf_counter() - t0
    print(f"sksurv Coxnet path+CV: {t_sk:7.2f} s  ({lam_s.size} lambdas, tol=1e-7 as glmnet)")
    print(f"time ratio radsurv / sksurv = {t_ours / t_sk:.2f}")

    m = min(lam_s.size, ours.lambdas.size, coef_s.shape[1])
    print(f"sksurv full-data path returned {coef_s.shape[1]} of {lam_s.size} lambdas (its own early stop)")
    print(f"max rel. difference of the lambda sequences: {np.max(np.abs(lam_s[:m] / ours.lambdas[:m] - 1)):.2e}")
    diff = np.abs(coef_s[:, :m] - ours.coef_path[:, :m]).max()
    print(f"max |coef difference| on common path (sksurv tol 1e-7 vs converged): {diff:.2e}")
    print(f"max rel. cvm difference (same lambdas in every fold): "
          f"{np.max(np.abs(cvm_s[:m] / ours.cvm[:m] - 1)):.2e}")


if __name__ == "__main__":
    main()

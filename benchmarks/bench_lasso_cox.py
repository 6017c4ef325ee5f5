"""Benchmark: radsurv ``lasso_cox_cv`` against the previous solver, scikit-survival and R.

Problem (``simulate()``): 311 patients x 2,000 block-correlated features
(rho ~ 0.6 in blocks of 20, as radiomics), tied event times, 10 folds,
glmnet's default 100-lambda path (n < p: lambda.min.ratio = 0.01). Also a
signature-sized problem (``simulate(p=300)``: 311 x 300, n > p so the path
goes down to 1e-4 * lambda_max), the call that the optimism bootstrap and
the permutation null repeat.

Timed in this process, one BLAS thread, wall and CPU seconds:

1. radsurv ``lasso_cox_cv`` (glmnet's CV rule: each fold on its own default
   path, interpolated at the full-data lambdas; every fit converged to
   ``thresh = 1e-14``).
2. The first pure-numpy solver (coordinate descent in Python), read from
   git at commit ``a9e37c0`` (it is no longer in the package). It needs about
   100 s for one full-data path of the 2,000-feature problem and some 20-25
   minutes for its CV, so it is timed on the full-data path only, stopped
   after ``OLD_CAP_S`` seconds, against radsurv's path on the same lambdas.
   (On the signature-sized problem, n > p, its path runs into the nearly
   separable tail at 1e-4 * lambda_max and does not finish there.)
3. scikit-survival's ``CoxnetSurvivalAnalysis`` (compiled coordinate descent),
   (a) "the obvious way": ``normalize=True`` and its own alpha path on the
   full data, every fold refitted on those alphas, scored with cv.glmnet's
   grouped deviance; its ``normalize`` divides by the column norm, not the SD,
   so its alphas are not glmnet's lambdas; (b) the same estimator as radsurv:
   glmnet-standardised X, glmnet's lambdas, each fold on its own path and
   interpolated; its default ``tol = 1e-7``. For (b) the agreement with
   radsurv and the KKT violation of its full-data path are printed.
4. On the signature-sized problem and on a bootstrap resample of it: the
   same proximal-Newton solver written in numpy, read from git at commit
   ``6e171be`` (before its loops were compiled with numba).
5. R 4.2.2 / glmnet 4.1-6, not run here (R is not installed on the project's
   machines)::

       cv.glmnet(x, Surv(t, e), family = "cox", foldid = foldid)

   on the same 311 x 2,000 problem took about 16 s on one core of this kind of
   machine, as reported in issue 11 (``R_SECONDS`` below). Its default
   ``thresh = 1e-7`` does not reach the optimum in the p > n tail of the path.

Run:  .venv/bin/python benchmarks/bench_lasso_cox.py
"""

from __future__ import annotations

import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from radsurv.stats.lasso_cox import (
    _breslow_deviance_matrix,
    _CoxLassoSolver,
    _default_lambdas,
    _interp_coef,
    lasso_cox_cv,
    lasso_cox_path,
)

R_SECONDS = 16.0  # cv.glmnet on the 311 x 2,000 problem, 1 core (issue 11)
OLD_COMMIT = "a9e37c0"  # last commit with the pure-numpy coordinate-descent solver
NUMPY_COMMIT = "6e171be"  # last commit with this proximal-Newton solver written in numpy (before numba)
OLD_CAP_S = 120.0


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


class Timer:
    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0

    def __str__(self):
        return f"{self.wall:7.2f} s wall {self.cpu:7.2f} s CPU"


def load_old_solver(commit=OLD_COMMIT):
    """The module as it was at ``commit``, imported under another name (or None)."""
    root = Path(__file__).resolve().parents[1]
    try:
        src = subprocess.run(
            ["git", "show", f"{commit}:src/radsurv/stats/lasso_cox.py"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType(f"radsurv.stats._lasso_cox_{commit}")
    mod.__package__ = "radsurv.stats"
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(src, f"{commit}:lasso_cox.py", "exec"), mod.__dict__)
    return mod


def grouped_cv(fit_path, X, t, e, foldid):
    """cv.glmnet's rule around any path fitter: (lambdas, coef) = fit_path(X, t, e, lambdas or None)."""
    lam, coef = fit_path(X, t, e, None)
    folds = np.unique(foldid)
    ev = np.array([e[foldid == k].sum() for k in folds])
    cvraw = np.empty((folds.size, lam.size))
    for i, k in enumerate(folds):
        tr = foldid != k
        lk, ck = fit_path(X[tr], t[tr], e[tr], None)
        C = _interp_coef(lk, ck, lam)
        eta = X @ C
        cvraw[i] = (_breslow_deviance_matrix(t, e, eta) - _breslow_deviance_matrix(t[tr], e[tr], eta[tr])) / ev[i]
    cvm = ev @ cvraw / ev.sum()
    cvsd = np.sqrt(ev @ (cvraw - cvm) ** 2 / ev.sum() / (folds.size - 1))
    i_min = int(np.flatnonzero(cvm <= cvm.min())[0])
    i_1se = int(np.flatnonzero(cvm <= cvm[i_min] + cvsd[i_min])[0])
    return lam, coef, cvm, cvsd, i_min, i_1se


def sksurv_glmnet_path(X, t, e, _):
    """scikit-survival's Coxnet on glmnet's standardisation and lambdas (tol 1e-7)."""
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    s = _CoxLassoSolver(X, t, e)
    lam, _ = _default_lambdas(s, *X.shape, 100, None)
    o = s.order
    m = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=lam, normalize=False, fit_baseline_model=False, tol=1e-7)
    m.fit(s.X, Surv.from_arrays(e[o].astype(bool), t[o]))
    B = m.coef_
    # glmnet's early stop on the deviance ratio, which sksurv does not apply
    dev = np.array([s.dev_ratio(B[:, j]) for j in range(B.shape[1])])
    L = B.shape[1]
    for i in range(4, L):
        if dev[i] > 0.99 or (dev[i] != 0 and (dev[i] - dev[i - 4]) / dev[i] < 1e-3):
            L = i + 1
            break
    return lam[:L], s.to_original(B[:, :L])


def sksurv_obvious_cv(X, t, e, foldid):
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    y = Surv.from_arrays(e.astype(bool), t)
    full = CoxnetSurvivalAnalysis(l1_ratio=1.0, n_alphas=100, normalize=True, fit_baseline_model=False)
    full.fit(X, y)
    alphas = full.alphas_
    folds = np.unique(foldid)
    ev = np.array([e[foldid == k].sum() for k in folds])
    cvraw = np.empty((folds.size, alphas.size))
    for i, k in enumerate(folds):
        tr = foldid != k
        m = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=alphas, normalize=True, fit_baseline_model=False)
        m.fit(X[tr], y[tr])
        C = m.coef_[:, np.minimum(np.arange(alphas.size), m.coef_.shape[1] - 1)]
        eta = X @ C
        cvraw[i] = (_breslow_deviance_matrix(t, e, eta) - _breslow_deviance_matrix(t[tr], e[tr], eta[tr])) / ev[i]
    return alphas, ev @ cvraw / ev.sum()


def max_kkt(X, t, e, lam, coef):
    """Largest KKT violation / lambda along a path (original-scale coefficients)."""
    s = _CoxLassoSolver(X, t, e)
    worst = 0.0
    for j, lj in enumerate(lam):
        b = coef[:, j] * s.xs
        g = s.gradient(s.X @ b)[-1]
        act = b != 0
        v = np.concatenate([np.abs(g[act] - lj * np.sign(b[act])), np.maximum(np.abs(g[~act & s.ok]) - lj, 0)])
        worst = max(worst, float(v.max()) / lj)
    return worst


def time_old_path(old, X, t, e, cap):
    """Full-data default path with the old solver, stopping after `cap` seconds."""
    s = old._CoxLassoSolver(X, t, e)
    lam, _ = old._default_lambdas(s, *X.shape, 100, None)
    beta, prev, done = np.zeros(X.shape[1]), None, 0
    t0 = time.perf_counter()
    for lj in lam:
        beta = s.solve(lj, beta, prev)
        prev, done = lj, done + 1
        if time.perf_counter() - t0 > cap:
            break
    return done, time.perf_counter() - t0


def main():
    warnings.simplefilter("ignore")  # sksurv's convergence chatter
    X, t, e, foldid = simulate()
    print(f"data: n={X.shape[0]}, p={X.shape[1]}, events={e.sum()}, 10 folds, glmnet's default 100-lambda path")
    with threadpool_limits(limits=1, user_api="blas"):
        # ---- full problem ------------------------------------------------------
        with Timer() as tr:
            ours = lasso_cox_cv(X, t, e, foldid)
        print(f"\n[311 x 2000] radsurv lasso_cox_cv          : {tr}  ({ours.lambdas.size} lambdas, "
              f"index_min={ours.index_min} [{ours.nzero[ours.index_min]} nonzero], index_1se={ours.index_1se})")
        kkt_ours = max_kkt(X, t, e, ours.lambdas, ours.path.coef_path)
        print(f"    KKT violation / lambda, full-data path (max over lambdas): {kkt_ours:.1e}")
        print(f"    ratio to R cv.glmnet (~{R_SECONDS:.0f} s, 1 core, reported; not run here): "
              f"{tr.cpu / R_SECONDS:.2f} (CPU), {tr.wall / R_SECONDS:.2f} (wall)")

        with Timer() as ta:
            lam_a, cvm_a = sksurv_obvious_cv(X, t, e, foldid)
        print(f"[311 x 2000] sksurv Coxnet, obvious way     : {ta}  ({lam_a.size} alphas on sksurv's own scale)"
              f"   radsurv/sksurv = {tr.cpu / ta.cpu:.2f} (CPU)")

        with Timer() as tb:
            lam_b, coef_b, cvm_b, cvsd_b, imin_b, i1se_b = grouped_cv(sksurv_glmnet_path, X, t, e, foldid)
        m = min(lam_b.size, ours.lambdas.size)
        print(f"[311 x 2000] sksurv Coxnet, glmnet's rule   : {tb}  radsurv/sksurv = {tr.cpu / tb.cpu:.2f} (CPU)")
        print(f"    index_min={imin_b}, index_1se={i1se_b}; max rel. cvm difference to radsurv "
              f"{np.max(np.abs(cvm_b[:m] / ours.cvm[:m] - 1)):.1e}; max |coef difference| "
              f"{np.abs(coef_b[:, :m] - ours.path.coef_path[:, :m]).max():.1e}; "
              f"KKT violation / lambda {max_kkt(X, t, e, lam_b, coef_b):.1e} (tol 1e-7)")

        # ---- previous solver, full-data path, capped ----------------------------
        old = load_old_solver()
        if old is None:
            print(f"\nprevious solver: not available (needs git and commit {OLD_COMMIT})")
        else:
            done, secs = time_old_path(old, X, t, e, OLD_CAP_S)
            with Timer() as tn:
                lasso_cox_path(X, t, e, lambdas=ours.lambdas[:done])
            print(f"[311 x 2000] previous numpy solver, full-data path, first {done} lambdas (cap "
                  f"{OLD_CAP_S:.0f} s): {secs:7.2f} s; radsurv on the same lambdas: {tn.wall:.2f} s; "
                  f"speed-up {secs / tn.wall:.0f}x")

        # ---- signature-sized problem -------------------------------------------
        Xs, ts_, es, fs = simulate(p=300)
        with Timer() as ts:
            sig = lasso_cox_cv(Xs, ts_, es, fs)
        print(f"\n[311 x 300]  radsurv lasso_cox_cv          : {ts}  ({sig.lambdas.size} lambdas, "
              f"index_min={sig.index_min} [{sig.nzero[sig.index_min]} nonzero], index_1se={sig.index_1se})")
        with Timer() as tss:
            grouped_cv(sksurv_glmnet_path, Xs, ts_, es, fs)
        print(f"[311 x 300]  sksurv Coxnet, glmnet's rule   : {tss}  radsurv/sksurv = {ts.cpu / tss.cpu:.2f} (CPU)")
        print(f"    200 bootstrap resamples x this call: ~{200 * ts.cpu / 60:.0f} min of CPU on one core")

        # ---- the same solver in numpy, and a bootstrap resample ---------------------
        numpy_solver = load_old_solver(NUMPY_COMMIT)
        rows = np.random.default_rng(7).integers(0, Xs.shape[0], Xs.shape[0])  # a resample: repeated rows
        Xb, tb_, eb, fb = Xs[rows], ts_[rows], es[rows], fs[rows]
        with Timer() as tsb:
            lasso_cox_cv(Xb, tb_, eb, fb)
        print(f"[311 x 300]  radsurv, a bootstrap resample   : {tsb}  (its {np.unique(rows).size} distinct "
              "patients fitted once each, with case weights)")
        if numpy_solver is None:
            print(f"the same solver in numpy: not available (needs git and commit {NUMPY_COMMIT})")
        else:
            with Timer() as tnp:
                numpy_solver.lasso_cox_cv(Xs, ts_, es, fs)
            with Timer() as tnb:
                numpy_solver.lasso_cox_cv(Xb, tb_, eb, fb)
            print(f"[311 x 300]  same solver in numpy ({NUMPY_COMMIT})  : {tnp}  compiled/numpy = "
                  f"{ts.cpu / tnp.cpu:.2f} (CPU)")
            print(f"[311 x 300]  numpy, the bootstrap resample   : {tnb}  compiled/numpy = "
                  f"{tsb.cpu / tnb.cpu:.2f} (CPU)")


if __name__ == "__main__":
    main()

"""Benchmark: the Cox fit's risk-set sums compiled (``radsurv.stats._cox_kernel.risk_set_sums``)
against the numpy code they replaced (``risk_set_sums_numpy``), in the same run.

Every Cox fit evaluates the partial likelihood's derivatives some ten times (Newton from
0 to a step of 1e-12); one optimism-bootstrap resample of the paper build makes about
9,500 evaluations (the screens and backward eliminations on 10 imputed sets, the six
models). Two measures, each with both implementations and bit-equal results checked:

1. one evaluation (log-likelihood, score, information) on 311 patients with 8 columns;
2. a backward elimination by AIC (``radsurv.models.backward_aic``) on the data of
   ``bench_selection.py`` (311 patients, 10 candidate variables, 14 columns).

Run:  .venv/bin/python benchmarks/bench_cox_kernel.py
"""

from __future__ import annotations

import numpy as np

import radsurv.stats.cox as cox
from radsurv.models import backward_aic
from radsurv.stats._cox_kernel import risk_set_sums, risk_set_sums_numpy

from _timing import best_of
from bench_selection import simulate

CALLS = 2000


def one_evaluation():
    rng = np.random.default_rng(0)
    n, p = 311, 8
    X = rng.normal(size=(n, p))
    X = np.asfortranarray(X - X.mean(0))
    t = np.round(rng.exponential(50, size=n), 1)
    e = (rng.random(n) < 0.3).astype(int)
    rs = cox._RiskSets(t, e)
    beta = rng.normal(size=p) * 0.1

    def many():
        for _ in range(CALLS):
            out = cox._loglik_derivs(X, beta, rs, "efron")
        return out

    return many


def elimination():
    design, variables, time_, event = simulate()
    return lambda: backward_aic(design, variables, time_, event)


def timed(make):
    """(compiled seconds, numpy seconds, results equal to the last bit)"""
    fn = make()
    fn()   # compile (or load the cached kernel)
    t_kernel, out_kernel = best_of(fn)
    cox.risk_set_sums = risk_set_sums_numpy
    try:
        t_numpy, out_numpy = best_of(fn)
    finally:
        cox.risk_set_sums = risk_set_sums
    return t_kernel, t_numpy, out_kernel, out_numpy


def main():
    t_k, t_n, a, b = timed(one_evaluation)
    same = a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
    print(f"== (1) one evaluation (311 patients, 8 columns), {CALLS} calls ==")
    print(f"compiled: {t_k / CALLS * 1e3:.3f} ms   numpy: {t_n / CALLS * 1e3:.3f} ms   "
          f"ratio numpy / compiled: {t_n / t_k:.2f}x   bit-equal: {same}")
    t_k, t_n, a, b = timed(elimination)
    same = a.selected == b.selected and a.aic_start == b.aic_start and a.steps == b.steps
    print("== (2) backward elimination by AIC (311 patients, 10 variables, 14 columns) ==")
    print(f"compiled: {t_k * 1e3:.1f} ms   numpy: {t_n * 1e3:.1f} ms   ratio numpy / compiled: {t_n / t_k:.2f}x   "
          f"same path and AICs to the last bit: {same}")
    if not same:
        raise SystemExit("the compiled sums changed a result")


if __name__ == "__main__":
    main()

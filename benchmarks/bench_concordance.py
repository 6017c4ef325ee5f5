"""Benchmark: radsurv Harrell's C (with its SE) and its bootstrap vs lifelines.

(1) ``harrell_c`` (C, infinitesimal-jackknife SE, counts) on 5,000 simulated
    subjects vs ``lifelines.utils.concordance_index`` (C only) on the same data.
(2) 1,000 bootstrap replicates of Harrell's C for 6 risk scores on each of 3
    simulated cohorts of 311, 169 and 163 subjects (18,000 C values), through
    ``bootstrap_harrell_c`` (one call per cohort, all replicates and scores at
    once) vs lifelines called once per replicate and score. lifelines is timed
    on a subset of replicates and extrapolated linearly (printed as such).

Simulated data: exponential event times with hazard exp(0.7 * x1), independent
exponential censoring (~35% censored), times rounded to whole days so that
ties occur as in real follow-up data; scores are x1 plus noise of varying size.

Run:  .venv/bin/python benchmarks/bench_concordance.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from radsurv.stats.concordance import bootstrap_harrell_c, harrell_c

from _timing import best_of

N_BOOT = 1000
SIZES = (311, 169, 163)
N_MODELS = 6
LIFELINES_SUBSET = 50  # replicates per cohort timed through lifelines


def simulate(n, n_models=N_MODELS, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_event = rng.exponential(1000 * np.exp(-0.7 * x))
    t_cens = rng.exponential(1800, size=n)
    time_ = np.maximum(np.round(np.minimum(t_event, t_cens)), 1.0)
    event = (t_event <= t_cens).astype(int)
    noise = np.linspace(0.3, 2.0, n_models)
    risk = x[:, None] + rng.normal(size=(n, n_models)) * noise
    return time_, event, risk


def main():
    from lifelines.utils import concordance_index

    warnings.filterwarnings("ignore")
    print("== (1) Harrell's C on 5,000 subjects ==")
    t, e, R = simulate(5000, 1, seed=1)
    r = R[:, 0]
    t_ours, res = best_of(lambda: harrell_c(t, e, r))
    t_ll, c_ll = best_of(lambda: concordance_index(t, -r, e))
    print(f"radsurv harrell_c (C + IJ SE + counts): {t_ours * 1e3:8.1f} ms  C = {res.c:.6f}, se = {res.se:.6f}")
    print(f"lifelines concordance_index (C only):   {t_ll * 1e3:8.1f} ms  C = {c_ll:.6f}")
    print(f"ratio lifelines / radsurv: {t_ll / t_ours:.2f}x")
    print(f"|C_radsurv - C_lifelines| = {abs(res.c - c_ll):.1e}")

    print()
    print(f"== (2) {N_BOOT} bootstrap replicates x {N_MODELS} scores x cohorts {SIZES} ==")
    cohorts = [simulate(n, seed=10 + k) for k, n in enumerate(SIZES)]
    t0 = time.perf_counter()
    boots = [bootstrap_harrell_c(tt, ee, RR, n_boot=N_BOOT, seed=100 + k) for k, (tt, ee, RR) in enumerate(cohorts)]
    t_fast = time.perf_counter() - t0
    n_values = sum(b.size for b in boots)
    print(f"radsurv bootstrap_harrell_c: {t_fast:.2f} s for {n_values} C values")

    # lifelines on the first LIFELINES_SUBSET replicates of each cohort (same resamples)
    t_ll_total = 0.0
    max_diff = 0.0
    for k, (tt, ee, RR) in enumerate(cohorts):
        n = tt.size
        idx = np.random.default_rng(100 + k).integers(0, n, size=(N_BOOT, n))[:LIFELINES_SUBSET]
        t0 = time.perf_counter()
        vals = np.array([[concordance_index(tt[ix], -RR[ix, m], ee[ix]) for m in range(N_MODELS)] for ix in idx])
        t_ll_total += time.perf_counter() - t0
        max_diff = max(max_diff, float(np.max(np.abs(vals - boots[k][:LIFELINES_SUBSET]))))
    t_ll_extrap = t_ll_total * N_BOOT / LIFELINES_SUBSET
    print(f"lifelines concordance_index: {t_ll_total:.2f} s for {LIFELINES_SUBSET} replicates per cohort "
          f"-> extrapolated to {N_BOOT}: {t_ll_extrap:.1f} s")
    print(f"ratio lifelines / radsurv: {t_ll_extrap / t_fast:.0f}x")
    print(f"max |C_radsurv - C_lifelines| over the compared replicates: {max_diff:.1e}")
    print(f"target < 10 s for the 1,000 x 18 bootstrap: {'met' if t_fast < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()

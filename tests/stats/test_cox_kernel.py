"""The compiled risk-set sums of the Cox fit (``radsurv.stats._cox_kernel``) against the
numpy code they replaced (``risk_set_sums_numpy``, the former arithmetic of
``radsurv.stats.cox._loglik_derivs``), compared with ``==``: the kernel is a speed change
only, and every Cox fit in the pipeline (screens, backward elimination, the six models,
the bootstrap) must come out to the last bit as before. The fits themselves are tested
against R in ``test_cox.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats._cox_kernel import risk_set_sums, risk_set_sums_numpy
from radsurv.stats.cox import _loglik_derivs, _RiskSets


def _same(a, b) -> bool:
    """Equal to the last bit, NaN where NaN (an overflowing fit)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def _args(X, beta, rs: _RiskSets, need_info: bool):
    with np.errstate(over="ignore"):
        r = np.exp(X @ beta)
    return X, r, rs.order, rs.n_ge - 1, rs.death_idx, rs.death_group, rs.event_times.size, need_info


def _case(seed: int):
    rng = np.random.default_rng(seed)
    n, p = int(rng.integers(5, 400)), int(rng.integers(1, 12))
    X = rng.normal(size=(n, p))
    X[:, 0] = rng.integers(0, 2, n)                      # an indicator, as the designs have
    X = X - X.mean(0)
    if seed % 2:
        X = np.asfortranarray(X)                         # backward_aic slices column-major
    # whole months: many tied times, tied deaths and tied censorings
    t = np.round(rng.exponential(30, n)) + 1
    e = (rng.random(n) < 0.45).astype(int)
    e[0] = 1
    beta = rng.normal(size=p) * (0.3 if seed % 5 else 40.0)   # every fifth: exp() overflows
    return X, _RiskSets(t, e), beta


@pytest.mark.parametrize("seed", range(40))
def test_kernel_is_the_numpy_arithmetic_to_the_last_bit(seed):
    X, rs, beta = _case(seed)
    with np.errstate(all="ignore"):
        for need_info in (True, False):
            got = risk_set_sums(*_args(X, beta, rs, need_info))
            want = risk_set_sums_numpy(*_args(X, beta, rs, need_info))
            for name, g, w in zip(("S0", "S1", "S2", "S0D", "S1D", "S2D"), got, want):
                assert _same(g, w), (seed, need_info, name)


def test_sums_by_their_definition():
    """Distinct times (every risk set ends at its own position), then tied deaths: the
    sums against their definition, sum over the risk set {t_j >= t} of r_j x_j x_j'."""
    rng = np.random.default_rng(7)
    n = 60
    X = rng.normal(size=(n, 3))
    t = np.concatenate([rng.permutation(np.arange(1.0, n - 5)), [3.0, 3.0, 10.0, 10.0, 10.0, 40.0]])
    e = np.ones(n, int)
    e[::7] = 0
    rs = _RiskSets(t, e)
    beta = np.array([0.2, -0.1, 0.05])
    r = np.exp(X @ beta)
    S0, S1, S2, S0D, S1D, S2D = risk_set_sums(*_args(X, beta, rs, True))
    for g, u in enumerate(rs.event_times):
        at_risk, dead = t >= u, (t == u) & (e == 1)
        assert S0[g] == pytest.approx(r[at_risk].sum(), rel=1e-13)
        np.testing.assert_allclose(S1[g], (r[at_risk, None] * X[at_risk]).sum(0), rtol=1e-12)
        np.testing.assert_allclose(S2[g], np.einsum("i,ij,ik->jk", r[at_risk], X[at_risk], X[at_risk]), rtol=1e-12)
        assert S0D[g] == pytest.approx(r[dead].sum(), rel=1e-13)
        np.testing.assert_allclose(S1D[g], (r[dead, None] * X[dead]).sum(0), rtol=1e-12)
        np.testing.assert_allclose(S2D[g], np.einsum("i,ij,ik->jk", r[dead], X[dead], X[dead]), rtol=1e-12)
    # the null log partial likelihood without ties in the deaths' risk sets: -sum log |R(t)|
    ll0 = _loglik_derivs(X, np.zeros(3), rs, "breslow", need_info=False)[0]
    want = -sum(np.log((t >= t[i]).sum()) for i in np.flatnonzero(e == 1))
    assert ll0 == pytest.approx(want, rel=1e-13)

"""Harrell's and Uno's C against R survival 3.5-3 ``concordance`` (item `cox`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import harrell_c, uno_c
from radsurv.stats.concordance import bootstrap_harrell_c

from ._ref import assert_close, load_reference

RTOL_C = 1e-9  # README: concordance value
RTOL_SE = 1e-6  # README: infinitesimal-jackknife std_err
COUNT_KEYS = [("concordant", "concordant"), ("discordant", "discordant"), ("tied_risk", "tied.x"),
              ("tied_time", "tied.y"), ("tied_both", "tied.xy")]


@pytest.fixture(scope="module")
def ref():
    return load_reference("cox")


def _lp(ref, ties):
    df, r = ref
    cov = r["covariates"]
    return df[cov].to_numpy() @ np.array([r[ties]["coef"][c] for c in cov])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("key", ["concordance_harrell", "concordance_harrell_ymax", "concordance_uno"])
def test_against_r(ref, ties, key):
    df, r = ref
    a = r[ties][key]
    lp = _lp(ref, ties)
    if key == "concordance_harrell":
        res = harrell_c(df["time"], df["event"], lp)
    elif key == "concordance_harrell_ymax":
        res = harrell_c(df["time"], df["event"], lp, ymax=1825)
    else:
        res = uno_c(df["time"], df["event"], lp, tau=1825)
    assert_close(res.c, a["concordance"], RTOL_C, what="C")
    assert_close(res.se, a["std_err"], RTOL_SE, what="se")
    assert_close(res.var, a["var"], 2 * RTOL_SE, what="var")
    for attr, k in COUNT_KEYS:
        if key == "concordance_uno":  # weighted counts
            assert_close(getattr(res, attr), a["count"][k], RTOL_C, atol=1e-12, what=k)
        else:  # Harrell pair counts: exact
            assert getattr(res, attr) == a["count"][k], k
    assert res.lower == pytest.approx(res.c - 1.959963984540054 * res.se, rel=1e-12)
    assert res.upper == pytest.approx(res.c + 1.959963984540054 * res.se, rel=1e-12)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_hmisc_rcorr_cens(ref, ties):
    # Hmisc counts the same comparable pairs here (relevant_pairs = 2 x usable pairs)
    df, r = ref
    a = r[ties]["concordance_hmisc"]
    res = harrell_c(df["time"], df["event"], _lp(ref, ties))
    assert_close(res.c, a["c_index"], RTOL_C, what="C")
    assert 2 * res.n_pairs == a["relevant_pairs"]
    assert 2 * res.concordant + res.tied_risk == a["concordant"]


def _brute(t, e, x, ymax=None):
    C = D = T = Ty = 0
    for i in range(len(t)):
        if not e[i] or (ymax is not None and t[i] > ymax):
            continue
        for j in range(len(t)):
            if j == i:
                continue
            if t[j] > t[i] or (t[j] == t[i] and e[j] == 0):
                C += x[i] > x[j]
                D += x[i] < x[j]
                T += x[i] == x[j]
            elif t[j] == t[i] and e[j] == 1 and j > i:
                Ty += 1
    return C, D, T, Ty


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 80
    t = rng.integers(1, 15, n).astype(float)
    e = rng.integers(0, 2, n)
    x = rng.integers(0, 6, n).astype(float)
    for ymax in (None, 8.0):
        res = harrell_c(t, e, x, ymax=ymax)
        C, D, T, Ty = _brute(t, e, x, ymax)
        assert (res.concordant, res.discordant, res.tied_risk) == (C, D, T)
        assert res.tied_time + res.tied_both == Ty
        assert res.c == pytest.approx((C + T / 2) / (C + D + T), rel=1e-14)


def test_direction():
    rng = np.random.default_rng(3)
    t = rng.exponential(size=50)
    e = np.ones(50)
    assert harrell_c(t, e, -t).c == 1.0  # higher risk for shorter time
    assert harrell_c(t, e, t).c == 0.0


def _same_result(a, b):
    for attr in ("c", "se", "var", "lower", "upper", "ymax", *(k for k, _ in COUNT_KEYS)):
        assert getattr(a, attr) == getattr(b, attr), f"{attr}: {getattr(a, attr)} with tau, {getattr(b, attr)} with ymax"


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_tau_alias_equals_ymax_and_r(ref, ties):
    # same data, same risk: tau=1825 is ymax=1825, and both are R's concordance(ymax = 1825)
    df, r = ref
    a = r[ties]["concordance_harrell_ymax"]
    lp = _lp(ref, ties)
    by_ymax = harrell_c(df["time"], df["event"], lp, ymax=1825)
    by_tau = harrell_c(df["time"], df["event"], lp, tau=1825)
    both = harrell_c(df["time"], df["event"], lp, ymax=1825, tau=1825.0)  # equal values: accepted
    for res in (by_tau, both):
        _same_result(res, by_ymax)
        assert_close(res.c, a["concordance"], RTOL_C, what="C")
        assert_close(res.se, a["std_err"], RTOL_SE, what="se")
        for attr, k in COUNT_KEYS:
            assert getattr(res, attr) == a["count"][k], k
    assert by_tau.ymax == 1825.0
    # the truncation matters here: without it C and the pair counts differ from R's ymax values
    untruncated = harrell_c(df["time"], df["event"], lp)
    assert untruncated.concordant != a["count"]["concordant"]
    assert abs(untruncated.c - a["concordance"]) > 1e-4


def test_tau_and_ymax_conflicting_values_are_refused(ref):
    df, r = ref
    lp = _lp(ref, "efron")
    with pytest.raises(ValueError, match=r"tau: is an alias of ymax; give one of them"):
        harrell_c(df["time"], df["event"], lp, ymax=1825, tau=1826)
    with pytest.raises(ValueError, match=r"tau: must be a positive"):
        harrell_c(df["time"], df["event"], lp, tau=-1)


def test_bootstrap_matches_direct_resamples():
    rng = np.random.default_rng(5)
    n = 120
    t = rng.integers(1, 40, n).astype(float)
    e = rng.integers(0, 2, n)
    R = np.column_stack([rng.normal(size=n), rng.integers(0, 4, n)])
    boot = bootstrap_harrell_c(t, e, R, n_boot=25, seed=11)
    idx = np.random.default_rng(11).integers(0, n, size=(25, n))
    for b in range(25):
        for k in range(2):
            ix = idx[b]
            assert boot[b, k] == pytest.approx(harrell_c(t[ix], e[ix], R[ix, k]).c, rel=1e-12)
    # a list of scores gives the same as the matrix
    boot2 = bootstrap_harrell_c(t, e, [R[:, 0], R[:, 1]], n_boot=25, seed=11)
    np.testing.assert_array_equal(boot, boot2)

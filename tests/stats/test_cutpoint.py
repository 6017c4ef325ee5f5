"""Optimal cut-point against R maxstat 0.7-25 / exactRankTests (item `cutpoint`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import optimal_cutpoint
from radsurv.stats.cutpoint import logrank_scores

from ._ref import assert_close, load_reference

RTOL = 1e-9  # README: grid, statistic; cutpoint exact
RTOL_P = 1e-8  # README: Lau94 / Lau92


@pytest.fixture(scope="module")
def ref():
    return load_reference("cutpoint")


@pytest.fixture(scope="module", params=["lp", "tsize"])
def result(request, ref):
    df, r = ref
    return request.param, optimal_cutpoint(df["time"], df["event"], df[request.param], 0.1, 0.9)


def test_scores(ref, result):
    df, r = ref
    mk, res = result
    assert_close(res.scores, r["markers"][mk]["logrank_scores"], RTOL)
    assert_close(logrank_scores(df["time"], df["event"]), r["markers"][mk]["logrank_scores"], RTOL)


def test_grid(ref, result):
    mk, res = result
    g = ref[1]["markers"][mk]["grid"]
    assert len(res.grid) == len(g["cut"])
    assert res.grid["n_low"].tolist() == g["n_low"]
    assert_close(res.grid["cut"], g["cut"], RTOL, what="cut")
    assert_close(res.grid["statistic"], g["maxstat_stat"], RTOL, what="maxstat_stat")
    assert_close(res.grid["logrank_chisq"], g["logrank_chisq"], RTOL, what="chisq")
    assert_close(res.grid["logrank_p"], g["logrank_p"], RTOL, what="p")


def test_cutpoint_and_p(ref, result):
    mk, res = result
    m = ref[1]["markers"][mk]
    lau94, lau92 = m["pmethods"]["Lau94"], m["pmethods"]["Lau92"]
    assert res.cutpoint == lau94["cutpoint"] == lau92["cutpoint"]  # exact
    assert res.n_cuts == lau94["n_cuts"]
    assert_close(res.statistic, lau94["statistic"], RTOL)
    assert_close(res.statistic, lau92["statistic"], RTOL)
    assert_close(res.p_value, lau94["p_value"], RTOL_P, what="Lau94")
    assert_close(res.p_lau92, lau92["p_value"], RTOL_P, what="Lau92")
    assert_close(res.logrank_chisq, m["logrank_at_maxstat_cut"], RTOL)
    best = res.grid.loc[res.grid["logrank_chisq"].idxmax()]
    assert best["cut"] == m["logrank_chisq_max"]["cut"]
    assert_close(best["logrank_chisq"], m["logrank_chisq_max"]["chisq"], RTOL)
    # exactGauss / HL are not implemented (see the reference notes); nothing to compare


def test_independent_grid_from_r_scores(ref, result):
    # The standardized statistic written out from maxstat's formula (a plain loop over
    # the admissible cuts, using R's own log-rank scores), independently of the
    # implementation: its first maximum is R's cut-point and the function's.
    df, r = ref
    mk, res = result
    m = r["markers"][mk]
    a = np.asarray(m["logrank_scores"], dtype=float)
    x = df[mk].to_numpy(dtype=float)
    N = x.size
    cuts, stats = [], []
    for c in np.unique(x):
        low = x <= c
        n = int(low.sum())
        if not (max(1, int(np.floor(0.1 * N))) <= n <= int(np.floor(0.9 * N))):
            continue
        E = n / N * a.sum()
        V = n * (N - n) / (N**2 * (N - 1)) * (N * np.sum(a**2) - a.sum() ** 2)
        cuts.append(c)
        stats.append(abs(a[low].sum() - E) / np.sqrt(V))
    stats = np.asarray(stats)
    assert_close(stats, m["grid"]["maxstat_stat"], RTOL, what="independent grid vs R")
    assert cuts[int(np.argmax(stats))] == m["pmethods"]["Lau94"]["cutpoint"] == res.cutpoint


# Eight patients whose log-rank scores are exact binary fractions (every event's
# denominator N - r + 1 is a power of two), so the statistic is computed without
# rounding error, and two cuts give exactly the same statistic: 0.7122... at
# marker <= 2 (3 patients low) and at marker <= 4 (5 patients low).
TIE_TIME = np.array([1.0, 1, 4, 2, 2, 1, 1, 1])
TIE_EVENT = np.array([1, 0, 0, 1, 1, 0, 0, 1])
TIE_MARKER = np.array([5.0, 3, 4, 6, 7, 0, 1, 2])


def _exact_squared_statistics(time, event, marker, lo, hi):
    """maxstat's standardized statistic, squared, in exact rational arithmetic.

    Scores as exactRankTests::cscores: a_i = e_i - sum_{t_j <= t_i} e_j / (N - r_j + 1),
    r_j = #{k: t_k <= t_j}; statistic (S - m/N sum a)^2 / V with
    V = m (N - m) / (N^2 (N - 1)) (N sum a^2 - (sum a)^2).
    """
    from fractions import Fraction

    t, e, x = [float(v) for v in time], [int(v) for v in event], [float(v) for v in marker]
    N = len(t)
    r = [sum(tk <= ti for tk in t) for ti in t]
    a = [e[i] - sum(Fraction(e[j], N - r[j] + 1) for j in range(N) if t[j] <= t[i]) for i in range(N)]
    sa, sa2 = sum(a), sum(v * v for v in a)
    out = {}
    for c in sorted(set(x)):
        m = sum(xi <= c for xi in x)
        if lo <= m <= hi:
            S = sum(a[i] for i in range(N) if x[i] <= c)
            V = Fraction(m * (N - m), N * N * (N - 1)) * (N * sa2 - sa * sa)
            out[c] = (S - Fraction(m, N) * sa) ** 2 / V
    return out


def test_exact_tie_takes_the_smallest_cut():
    exact = _exact_squared_statistics(TIE_TIME, TIE_EVENT, TIE_MARKER, 1, 7)
    best = max(exact.values())
    assert [c for c, v in exact.items() if v == best] == [2.0, 4.0]  # a true tie, in exact arithmetic
    res = optimal_cutpoint(TIE_TIME, TIE_EVENT, TIE_MARKER, 0.1, 0.9)
    g = res.grid.set_index("cut")["statistic"]
    # the float statistics agree with the exact ones, and the two tied values are identical
    np.testing.assert_allclose(g.to_numpy() ** 2, [float(v) for v in exact.values()], rtol=1e-14)
    assert g[2.0] == g[4.0] == res.statistic
    assert res.statistic == pytest.approx(0.7122123116119197, rel=1e-14)
    # documented rule (maxstat's which.max): the first maximum, i.e. the smallest cut
    assert res.cutpoint == 2.0
    assert res.grid["n_low"].tolist() == [1, 2, 3, 4, 5, 6, 7]


def test_exact_tie_rule_is_by_cut_value_not_by_partition():
    # With the marker negated the same two partitions tie, and the smallest cut is now
    # the split {marker >= 5} (-marker <= -5): the other partition than above.
    res = optimal_cutpoint(TIE_TIME, TIE_EVENT, -TIE_MARKER, 0.1, 0.9)
    g = res.grid.set_index("cut")["statistic"]
    assert g[-5.0] == g[-3.0] == res.statistic
    assert res.cutpoint == -5.0

"""Optimal cut-point against R maxstat 0.7-25 / exactRankTests (item `cutpoint`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import optimal_cutpoint
from radsurv.stats.cutpoint import logrank_scores

from _ref import assert_close, load_reference

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


def test_first_maximum_is_taken():
    # two cuts with the same statistic by symmetry: maxstat takes the first
    t = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    e = np.ones(10)
    x = np.arange(10.0)
    res = optimal_cutpoint(t, e, x, 0.1, 0.9)
    assert res.cutpoint == res.grid["cut"].iloc[int(np.argmax(res.grid["statistic"].to_numpy()))]

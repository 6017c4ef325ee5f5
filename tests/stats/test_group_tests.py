"""Kruskal-Wallis and Benjamini-Hochberg against their closed forms and R's documented output."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from radsurv.stats.group_tests import bh_adjust, kruskal_wallis


def test_kruskal_wallis_without_ties_is_the_textbook_formula():
    x = np.array([2.9, 3.0, 2.5, 2.6, 3.2, 3.8, 2.7, 4.0, 2.4, 2.8, 3.4, 3.7, 2.2, 2.0])
    g = np.array(["a"] * 5 + ["b"] * 4 + ["c"] * 5)
    n = len(x)
    r = stats.rankdata(x)
    h = 12 / (n * (n + 1)) * sum(r[g == k].sum() ** 2 / (g == k).sum() for k in "abc") - 3 * (n + 1)
    res = kruskal_wallis(x, g)
    assert res.statistic == pytest.approx(h, rel=1e-12)
    assert res.df == 2
    assert res.p == pytest.approx(stats.chi2.sf(h, 2), rel=1e-12)
    # R: kruskal.test(list(c(2.9,3.0,2.5,2.6,3.2), c(3.8,2.7,4.0,2.4), c(2.8,3.4,3.7,2.2,2.0)))
    # Kruskal-Wallis chi-squared = 0.77143, df = 2, p-value = 0.68 (R's ?kruskal.test example)
    assert res.statistic == pytest.approx(0.77143, abs=5e-6)


def test_kruskal_wallis_ties_get_the_correction():
    x = np.array([1, 1, 2, 2, 3, 3, 3, 4], dtype=float)
    g = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    r = stats.rankdata(x)
    n = len(x)
    h0 = 12 / (n * (n + 1)) * sum(r[g == k].sum() ** 2 / (g == k).sum() for k in range(3)) - 3 * (n + 1)
    _, counts = np.unique(x, return_counts=True)
    correction = 1 - (counts ** 3 - counts).sum() / (n ** 3 - n)
    assert kruskal_wallis(x, g).statistic == pytest.approx(h0 / correction, rel=1e-12)


def test_constant_values_and_bad_input():
    assert np.isnan(kruskal_wallis([1.0, 1.0, 1.0, 1.0], ["a", "a", "b", "b"]).p)
    with pytest.raises(ValueError, match="two groups"):
        kruskal_wallis([1.0, 2.0], ["a", "a"])
    with pytest.raises(ValueError, match="non-finite"):
        kruskal_wallis([1.0, np.nan], ["a", "b"])


def test_bh_is_the_step_up_minimum():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, 0.5, 0.041])
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    expected_sorted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    expected = np.empty(m)
    expected[order] = expected_sorted
    np.testing.assert_allclose(bh_adjust(p), expected, rtol=1e-14)
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "BH") is 0.05 five times
    np.testing.assert_allclose(bh_adjust([0.01, 0.02, 0.03, 0.04, 0.05]), [0.05] * 5)
    with pytest.raises(ValueError):
        bh_adjust([0.5, 1.5])

"""X-tile risk groups: the cut is maxstat's (radsurv.stats.optimal_cutpoint), the
permutation p is the whole search repeated, the cut is frozen, and the group summaries
are the log-rank test and the Cox hazard ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.exceptions import NotFittedError
from radsurv.signatures import RiskGroups, group_summary, hazard_ratio_per_sd
from radsurv.stats import fit_cox, logrank, optimal_cutpoint


def simulate(seed, n=200, effect=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.exponential(np.exp(-effect * x))
    c = rng.exponential(2.0, n)
    return x, np.minimum(t, c), (t <= c).astype(int)


def test_cut_and_p_values():
    x, t, e = simulate(1)
    g = RiskGroups(n_permutations=99, n_bootstrap=30, seed=[1, 5]).fit(x, t, e)
    ref = optimal_cutpoint(t, e, x, 0.1, 0.9)
    assert g.cutpoint_ == ref.cutpoint and g.statistic_ == ref.statistic and g.p_lausen_ == ref.p_value
    chosen = logrank(t, e, (x > g.cutpoint_).astype(int))
    assert g.p_uncorrected_ == pytest.approx(chosen.p, rel=1e-12)
    # A strong marker: no permutation beats it, so p = 1 / (B + 1).
    assert g.p_permutation_ == pytest.approx(1 / 100)
    assert len(g.bootstrap_cuts_) == 30 and np.isin(g.bootstrap_cuts_, x).all()
    again = RiskGroups(n_permutations=99, n_bootstrap=30, seed=[1, 5]).fit(x, t, e)
    np.testing.assert_array_equal(again.bootstrap_cuts_, g.bootstrap_cuts_)


def test_permutation_p_under_no_signal_is_not_small():
    x, t, e = simulate(2, effect=0.0)
    g = RiskGroups(n_permutations=199, n_bootstrap=0, seed=0).fit(x, t, e)
    # Counting by hand: the share of permuted searches that reach the observed maximum.
    rng = np.random.default_rng(0)
    exceed = sum(optimal_cutpoint(t[p], e[p], x, 0.1, 0.9, logrank_grid=False).statistic >= g.statistic_ - 1e-12
                 for p in (rng.permutation(len(t)) for _ in range(199)))
    assert g.p_permutation_ == (1 + exceed) / 200
    assert g.p_permutation_ > 0.05 and g.p_uncorrected_ < g.p_permutation_


def test_assign_uses_the_frozen_cut():
    x, t, e = simulate(3)
    g = RiskGroups(n_permutations=0, n_bootstrap=0).fit(x, t, e)
    new = np.array([g.cutpoint_, g.cutpoint_ + 1e-9, -10.0, 10.0])
    assert list(g.assign(new)) == ["low", "high", "low", "high"]
    with pytest.raises(NotFittedError):
        RiskGroups().assign(new)


def test_group_summary_is_logrank_and_cox():
    x, t, e = simulate(4)
    group = np.where(x > 0, "high", "low")
    s = group_summary(t, e, group)
    fit = fit_cox(pd.DataFrame({"high": (x > 0).astype(float)}), t, e)
    lr = logrank(t, e, (x > 0).astype(int))
    assert (s["n_low"], s["n_high"]) == (int((x <= 0).sum()), int((x > 0).sum()))
    assert s["events_high"] == int(e[x > 0].sum())
    assert s["logrank_p"] == lr.p and s["hr"] == pytest.approx(float(fit.hr["high"]), rel=1e-12)
    assert s["hr_lower"] < s["hr"] < s["hr_upper"] and s["hr"] > 1
    # One group empty or without events: no HR, no crash.
    assert np.isnan(group_summary(t, e, np.full(len(t), "low"))["hr"])
    no_events_high = group_summary(t, np.where(x > 0, 0, e), group)
    assert np.isnan(no_events_high["hr"]) and np.isfinite(no_events_high["logrank_p"])


def test_hazard_ratio_per_sd():
    x, t, e = simulate(5)
    sd = 2.0
    hr = hazard_ratio_per_sd(x, t, e, sd)
    fit = fit_cox(pd.DataFrame({"x": x}), t, e)
    assert hr["hr"] == pytest.approx(np.exp(2.0 * float(fit.coef["x"])), rel=1e-10)

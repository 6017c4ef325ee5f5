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


def test_corrected_p_values_search_the_prevalidated_score():
    x, t, e = simulate(5)
    rng = np.random.default_rng(9)
    pv = x + rng.normal(scale=2.0, size=x.size)   # a noisier version of the marker
    g = RiskGroups(n_permutations=49, n_bootstrap=0, seed=3).fit(x, t, e, prevalidated=pv)
    fixed = RiskGroups(n_permutations=49, n_bootstrap=0, seed=3).fit(x, t, e)
    # the cut, its grid and its uncorrected p are the training score's (the study's cut)
    assert g.cutpoint_ == fixed.cutpoint_ and g.p_uncorrected_ == fixed.p_uncorrected_
    ref = optimal_cutpoint(t, e, pv, 0.1, 0.9)
    assert g.p_lausen_ == ref.p_value and g.statistic_prevalidated_ == ref.statistic
    assert g.p_score_ == "pre-validated" and fixed.p_score_ == "training"
    perm_rng = np.random.default_rng(3)
    exceed = sum(optimal_cutpoint(t[p], e[p], pv, 0.1, 0.9, logrank_grid=False).statistic >= ref.statistic - 1e-12
                 for p in (perm_rng.permutation(len(t)) for _ in range(49)))
    assert g.p_permutation_ == (1 + exceed) / 50
    assert "on the pre-validated Rad-score" in g.title()
    assert g.summary()["value"]["p Lausen-Schumacher (1994) bound, pre-validated Rad-score"] == g.p_lausen_


def test_a_constant_prevalidated_score_gives_no_evidence():
    x, t, e = simulate(6)
    g = RiskGroups(n_permutations=9, n_bootstrap=0).fit(x, t, e, prevalidated=np.zeros_like(x))
    assert g.p_lausen_ == 1.0 and g.p_permutation_ == 1.0 and "admits no cut" in g.inference_note_
    with pytest.raises(ValueError, match="prevalidated: 3 values for 200 training patients"):
        RiskGroups().fit(x, t, e, prevalidated=[1.0, 2.0, 3.0])


def test_whole_development_null_redevelops_on_permuted_outcomes():
    from radsurv.signatures.risk_groups import development_permutation_p, xtile_development_null, xtile_statistic

    x, t, e = simulate(7)
    seen = []

    def develop(tt, ee):   # a "development" that records the outcomes it is given
        seen.append((tt.copy(), ee.copy()))
        return x * 0 if len(seen) == 2 else x
    null = xtile_development_null(develop, t, e, 3, seed=4)
    rng = np.random.default_rng(4)
    for (tt, ee), b in zip(seen, range(3)):
        p = rng.permutation(t.size)
        np.testing.assert_array_equal(tt, t[p])
        np.testing.assert_array_equal(ee, e[p])
        assert null[b] == (0.0 if b == 1 else optimal_cutpoint(t[p], e[p], x, 0.1, 0.9).statistic)
    assert xtile_statistic(x, t, e) == optimal_cutpoint(t, e, x, 0.1, 0.9).statistic
    assert development_permutation_p(2.0, [1.0, 2.0, 3.0]) == 3 / 4
    assert development_permutation_p(0.0, [1.0, 2.0]) == 1.0

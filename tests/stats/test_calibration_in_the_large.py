"""Calibration-in-the-large (O/E, alpha) and slope of a survival model at a horizon:
closed forms, an independent fit (statsmodels' GLMs and PHReg), and the invariants."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from radsurv.stats import calibration_in_the_large, calibration_slope, kaplan_meier, recalibrated_risk


def _uncensored(n=300, seed=0):
    """Everyone followed to the horizon (36) or to their event: no censoring before it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    T = rng.exponential(1 / (0.01 * np.exp(x)))
    time = np.minimum(T, 48.0)
    event = (T <= 48.0).astype(int)
    p = 1 - np.exp(-0.006 * 36 * np.exp(x))   # a model under-predicting the true 0.01 hazard
    return time, event, p, x


def test_without_censoring_o_e_is_the_poisson_intercept_and_the_binomial_se():
    time, event, p, _ = _uncensored()
    r = calibration_in_the_large(time, event, p, 36.0)
    d = int(((time <= 36) & (event == 1)).sum())
    n = time.size
    # closed forms: O = d / n, E = mean p, SE(log O/E) = sqrt(1/d - 1/n)
    assert r.events_by_t == d and r.n == n
    assert r.observed == pytest.approx(d / n, rel=1e-12)
    assert r.expected == pytest.approx(p.mean(), rel=1e-12)
    assert r.oe == pytest.approx((d / n) / p.mean(), rel=1e-12)
    assert r.log_oe_se == pytest.approx(np.sqrt(1 / d - 1 / n), rel=1e-9)
    z = 1.959963984540054
    assert r.oe_lower == pytest.approx(r.oe * np.exp(-z * r.log_oe_se), rel=1e-9)
    assert r.oe_upper == pytest.approx(r.oe * np.exp(z * r.log_oe_se), rel=1e-9)
    # second check: the intercept-only Poisson GLM of the event indicator with offset log p
    # (Crowson et al. 2016) gives log(sum d / sum p) = log O/E; its SE 1/sqrt(d) is larger
    y = ((time <= 36) & (event == 1)).astype(float)
    glm = sm.GLM(y, np.ones((n, 1)), family=sm.families.Poisson(), offset=np.log(p)).fit(tol=1e-14)
    assert np.log(r.oe) == pytest.approx(glm.params[0], abs=1e-9)
    assert glm.bse[0] == pytest.approx(1 / np.sqrt(d), rel=1e-6)
    assert r.log_oe_se < glm.bse[0]


def test_alpha_with_one_predicted_risk_is_the_closed_form_and_the_cloglog_glm():
    # every patient at the same p: (1 - p) ** exp(alpha) = 1 - O, so exp(alpha) = log(1 - O) / log(1 - p)
    time, event, _, _ = _uncensored(seed=1)
    p = np.full(time.size, 0.2)
    r = calibration_in_the_large(time, event, p, 36.0)
    assert r.alpha == pytest.approx(np.log(np.log(1 - r.observed) / np.log(1 - 0.2)), abs=1e-10)
    # the binomial GLM with complementary log-log link and offset log H (H = -log(1 - p)) is
    # the same model: P(event by t) = 1 - exp(-H exp(alpha))
    y = ((time <= 36) & (event == 1)).astype(float)
    glm = sm.GLM(y, np.ones((time.size, 1)), family=sm.families.Binomial(sm.families.links.CLogLog()),
                 offset=np.log(-np.log(1 - p))).fit(tol=1e-14)
    assert r.alpha == pytest.approx(glm.params[0], abs=1e-7)
    assert r.alpha_se == pytest.approx(glm.bse[0], rel=1e-5)   # delta method = inverse information here


def test_recalibration_makes_expected_equal_observed_exactly():
    rng = np.random.default_rng(2)
    n = 250
    x = rng.normal(size=n)
    T = rng.exponential(1 / (0.015 * np.exp(x)))
    C = rng.uniform(10, 90, n)
    time, event = np.minimum(T, C), (T <= C).astype(int)
    p = 1 - np.exp(-0.004 * 60 * np.exp(0.8 * x))
    r = calibration_in_the_large(time, event, p, 60.0)
    q = r.recalibrated(p)
    km = kaplan_meier(time, event, [60.0])["survival"].iloc[0]
    # the KM-estimated number of events by t equals the sum of recalibrated expected risks
    assert q.sum() == pytest.approx(n * (1 - km), rel=1e-12)
    assert q.mean() == pytest.approx(r.observed, rel=1e-12)
    # recalibrating again changes nothing; the weights (ranking) are kept
    assert calibration_in_the_large(time, event, q, 60.0).alpha == pytest.approx(0.0, abs=1e-10)
    assert (np.argsort(q, kind="stable") == np.argsort(p, kind="stable")).all()
    assert recalibrated_risk(p, 0.0) == pytest.approx(p, abs=1e-15)


@pytest.mark.parametrize("k", [0.5, 2.0])
def test_a_hazard_multiplied_by_k_gives_o_e_near_one_over_k(k):
    """A model whose every hazard is k times the truth: exp(alpha) estimates 1/k (within
    sampling error), and so does O/E when risks are small."""
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.normal(size=n)
    T = rng.exponential(1 / (0.002 * np.exp(0.7 * x)))
    C = rng.uniform(24, 120, n)
    time, event = np.minimum(T, C), (T <= C).astype(int)
    p = 1 - np.exp(-k * 0.002 * 36 * np.exp(0.7 * x))   # the true risk with the hazard times k
    r = calibration_in_the_large(time, event, p, 36.0)
    assert abs(r.alpha - np.log(1 / k)) < 3 * r.alpha_se
    assert abs(np.log(r.oe) - np.log(1 / k)) < 3 * r.log_oe_se + 0.05   # + the risk/hazard gap at ~7% risk
    # a calibrated model (k = 1) has O/E's CI around 1
    ok = calibration_in_the_large(time, event, 1 - np.exp(-0.002 * 36 * np.exp(0.7 * x)), 36.0)
    assert abs(np.log(ok.oe)) < 3 * ok.log_oe_se


def test_slope_is_the_refitted_cox_coefficient():
    rng = np.random.default_rng(4)
    n = 300
    x = rng.normal(size=n)
    T = rng.exponential(1 / (0.02 * np.exp(0.6 * x)))   # continuous times: no ties, Efron = Breslow
    C = rng.uniform(10, 80, n)
    time, event = np.minimum(T, C), (T <= C).astype(int)
    s = calibration_slope(time, event, x)
    ph = sm.PHReg(time, x[:, None], status=event, ties="breslow").fit()
    assert s.slope == pytest.approx(ph.params[0], abs=1e-7)
    assert s.se == pytest.approx(ph.bse[0], rel=1e-5)
    assert s.lower == pytest.approx(s.slope - 1.959963984540054 * s.se, rel=1e-12)
    # predictions twice as extreme: the slope halves
    assert calibration_slope(time, event, 2 * x).slope == pytest.approx(s.slope / 2, rel=1e-8)
    assert np.isnan(calibration_slope(time, event, np.zeros(n)).slope)


def test_not_estimable_is_refused_with_the_reason():
    time = np.array([5.0, 8.0, 12.0, 20.0])
    with pytest.raises(ValueError, match="before the horizon"):
        calibration_in_the_large(time, [1, 0, 1, 0], [0.1] * 4, 36.0)
    with pytest.raises(ValueError, match="no event by t"):
        calibration_in_the_large([40.0, 50.0, 60.0], [0, 0, 1], [0.1] * 3, 36.0)
    with pytest.raises(ValueError, match="predicted_risk"):
        calibration_in_the_large([40.0, 50.0], [1, 0], [0.1, 1.2], 36.0)

"""Training-only preprocessing: standardisation, caret's near-zero-variance rule, the
correlation filter that keeps the stronger feature, and the filter chain's flow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.exceptions import NotFittedError
from radsurv.signatures import FeatureFilter, Standardiser, correlation_filter, near_zero_variance
from radsurv.stats import univariable_score_tests


def test_standardiser_uses_the_training_statistics_only():
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [10.0, 10.0, 14.0, 18.0]})
    test = pd.DataFrame({"b": [14.0, 100.0], "a": [2.5, -1.0]})
    s = Standardiser().fit(train)
    z = s.transform(test)
    sd_a = np.std([1, 2, 3, 4], ddof=1)
    assert list(z.columns) == ["a", "b"]
    assert z.loc[0, "a"] == pytest.approx(0.0) and z.loc[1, "a"] == pytest.approx(-3.5 / sd_a)
    assert z.loc[1, "b"] == pytest.approx((100 - 13) / np.std([10, 10, 14, 18], ddof=1))
    assert np.allclose(s.transform(train).mean(), 0) and np.allclose(s.transform(train).std(ddof=1), 1)
    with pytest.raises(ValueError, match="constant feature"):
        Standardiser().fit(pd.DataFrame({"c": [1.0, 1.0]}))
    with pytest.raises(NotFittedError):
        Standardiser().transform(train)


def test_near_zero_variance_is_carets_rule():
    n = 100
    X = pd.DataFrame({
        "constant": np.ones(n),
        "rare": np.r_[np.zeros(97), [1.0, 2.0, 3.0]],      # ratio 97/1 > 19 and 4% unique -> flagged
        "binary_balanced": np.r_[np.zeros(50), np.ones(50)],  # ratio 1 -> kept
        "skewed_but_many_values": np.r_[np.zeros(85), np.arange(1.0, 16.0)],  # 15% unique -> kept
        "continuous": np.linspace(0, 1, n),
    })
    assert near_zero_variance(X) == ["constant", "rare"]
    # The thresholds are caret's freqCut and uniqueCut.
    assert near_zero_variance(X, freq_ratio=100.0) == ["constant"]
    assert "skewed_but_many_values" in near_zero_variance(X, unique_pct=20.0)


def test_correlation_filter_keeps_the_stronger_of_each_correlated_pair():
    rng = np.random.default_rng(1)
    base = rng.normal(size=200)
    X = pd.DataFrame({"a": base, "a_copy": base + 0.01 * rng.normal(size=200), "b": rng.normal(size=200),
                      "c": rng.normal(size=200)})
    assert abs(np.corrcoef(X["a"], X["a_copy"])[0, 1]) > 0.99
    strong_copy = pd.Series({"a": 1.0, "a_copy": 2.0, "b": 0.5, "c": 0.1})
    assert correlation_filter(X, strong_copy, 0.9) == ["a_copy", "b", "c"]
    strong_a = pd.Series({"a": 2.0, "a_copy": 1.0, "b": 0.5, "c": 0.1})
    assert correlation_filter(X, strong_a, 0.9) == ["a", "b", "c"]
    # Nothing above a threshold of 1: everything kept.
    assert correlation_filter(X, strong_a, 1.0) == list(X.columns)


def test_correlation_filter_leaves_no_pair_above_the_threshold():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(150, 10))
    X = pd.DataFrame(np.repeat(z, 5, axis=1) + 0.3 * rng.normal(size=(150, 50)), columns=[f"f{j}" for j in range(50)])
    kept = correlation_filter(X, pd.Series(rng.random(50), index=X.columns), 0.8)
    r = np.abs(np.corrcoef(X[kept].to_numpy(), rowvar=False))
    np.fill_diagonal(r, 0)
    assert r.max() <= 0.8 and len(kept) >= 10


def _survival(rng, n=200):
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{j}" for j in range(6)])
    X["f1"] = X["f0"] + 0.05 * rng.normal(size=n)         # near-copy of f0, weaker
    X["rare"] = np.r_[np.zeros(n - 3), [1.0, 2.0, 3.0]]
    hazard = np.exp(0.9 * X["f0"])
    t = rng.exponential(1 / hazard)
    c = rng.exponential(2.0, n)
    return X, np.minimum(t, c), (t <= c).astype(int)


def test_feature_filter_flow_in_the_profiles_order():
    X, t, e = _survival(np.random.default_rng(3))
    f = FeatureFilter(flagged={"f5"}, correlation_threshold=0.9, screen_p=0.05).fit(X, t, e)
    steps = [s for s, _ in f.flow_]
    assert steps == ["features in", "ICC below threshold removed", "near-zero variance removed",
                     "correlation |r| > 0.9 removed", "univariable Cox p >= 0.05 removed"]
    counts = [n for _, n in f.flow_]
    assert counts[:4] == [7, 6, 5, 4] and counts[4] == len(f.selected_)
    assert "f5" not in f.selected_ and "rare" not in f.selected_
    # Of the correlated pair the one with the stronger association is kept: f0 drives the hazard.
    z = univariable_score_tests(X[["f0", "f1"]], t, e)["z"].abs()
    assert ("f0" in f.selected_) == (z["f0"] >= z["f1"]) and ("f1" in f.selected_) == (z["f1"] > z["f0"])
    p = univariable_score_tests(X[f.selected_], t, e)["p"]
    assert (p < 0.05).all()
    with pytest.raises(NotFittedError):
        FeatureFilter().transform(X)

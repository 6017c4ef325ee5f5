"""The permutation null of the whole development: permuted training outcomes only,
the observed C in the tail when the features carry signal (simulation truth) and not
when they do not, test sets never seen by the development, seeds independent of the
number of processes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.sensitivity.permutation import (NULL_COLUMNS, permutation_null, permutation_p, permutation_summary,
                                             permuted_outcome, c_on_set)
from radsurv.signatures.development import MULTIMODAL, develop_signatures


def cohort(signal: float, seed: int = 3, n=(150, 100, 100), p: int = 20):
    """MRI intra and peri features (``p`` each); the hazard depends on two intra
    features with log HR ``signal`` per SD; Weibull-free exponential times, uniform
    censoring."""
    rng = np.random.default_rng(seed)
    n_all = sum(n)
    split = np.repeat(["train", "internal", "external"], n)
    X = pd.DataFrame(rng.normal(size=(n_all, 2 * p)),
                     columns=[f"mri_intra__f{i}" for i in range(p)] + [f"mri_peri__f{i}" for i in range(p)],
                     index=pd.Index([f"P{i:03d}" for i in range(n_all)], name="patient_id"))
    lp = signal * (X["mri_intra__f0"] + X["mri_intra__f1"])
    t_event = rng.exponential(60 * np.exp(-lp))
    t_cens = rng.uniform(20, 120, n_all)
    outcome = pd.DataFrame({"split": split, "time": np.minimum(t_event, t_cens),
                            "event": (t_event <= t_cens).astype(int)}, index=X.index)
    return X, outcome


@pytest.fixture(scope="module")
def params(quick_profile):
    return quick_profile["signatures"]


def observed(X, outcome, params):
    dev = develop_signatures(X, outcome, set(), params, seed=1)
    score = dev.predictors()[MULTIMODAL].predict(X)
    return {s: c_on_set(score, outcome, s) for s in ("internal", "external")}


def test_only_the_training_outcomes_are_permuted_as_pairs():
    X, outcome = cohort(0.5)
    a = permuted_outcome(outcome, np.random.default_rng(5))
    b = permuted_outcome(outcome, np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)                                     # seeded
    test = outcome["split"] != "train"
    pd.testing.assert_frame_equal(a[test], outcome[test])                   # the test sets untouched
    train = ~test
    assert not np.array_equal(a.loc[train, "time"], outcome.loc[train, "time"])
    pairs = lambda d: sorted(zip(d.loc[train, "time"], d.loc[train, "event"]))  # noqa: E731
    assert pairs(a) == pairs(outcome)                                        # (time, event) moved together


def test_permutation_p_closed_form():
    null = np.array([0.50, 0.60, 0.70, np.nan])
    assert permutation_p(null, 0.65) == pytest.approx(2 / 4)
    assert permutation_p(null, 0.80) == pytest.approx(1 / 4)                # never 0
    assert permutation_p(null, 0.60) == pytest.approx(3 / 4)                # ties count as at least as high
    assert np.isnan(permutation_p(np.array([np.nan]), 0.6))


def test_with_signal_the_observed_c_is_in_the_tail_and_without_it_is_not(params):
    X, outcome = cohort(0.7)
    obs = observed(X, outcome, params)
    null = permutation_null(X, outcome, set(), params, seed=1, n_permutations=19, n_jobs=2)
    assert list(null.columns) == NULL_COLUMNS and (null["failed"] == "").all()
    summary = permutation_summary(null, obs).set_index("set")
    for s in ("internal", "external"):
        # truth: log HR 0.7 per SD on two features; the observed signature is far from 0.5,
        # the permuted ones are not
        assert obs[s] > 0.65, obs
        assert summary.loc[s, "p"] == pytest.approx(1 / 20)
        assert abs(summary.loc[s, "null_mean"] - 0.5) < 0.05
        assert summary.loc[s, "null_q95"] < obs[s]
    X0, outcome0 = cohort(0.0, seed=4)
    obs0 = observed(X0, outcome0, params)
    null0 = permutation_null(X0, outcome0, set(), params, seed=1, n_permutations=19, n_jobs=2)
    p0 = permutation_summary(null0, obs0).set_index("set")["p"]
    assert (p0 > 0.05).all(), (obs0, p0)


def test_the_development_never_sees_the_test_sets(params):
    """Poisoned test-set features (replaced by noise a thousand times larger) change
    nothing the development selects; the scores on them change, as they must."""
    X, outcome = cohort(0.5)
    test = (outcome["split"] != "train").to_numpy()
    poisoned = X.copy()
    poisoned.loc[test] = np.random.default_rng(9).normal(0, 1000, (int(test.sum()), X.shape[1]))
    a = permutation_null(X, outcome, set(), params, seed=2, n_permutations=3)
    b = permutation_null(poisoned, outcome, set(), params, seed=2, n_permutations=3)
    assert list(a["n_selected"]) == list(b["n_selected"]) and (a["n_selected"] >= 0).all()
    assert not np.allclose(a["c_internal"], b["c_internal"])


def test_the_table_does_not_depend_on_the_number_of_processes(params):
    X, outcome = cohort(0.5)
    one = permutation_null(X, outcome, set(), params, seed=2, n_permutations=4, n_jobs=1)
    two = permutation_null(X, outcome, set(), params, seed=2, n_permutations=4, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)
    assert list(one["permutation"]) == [1, 2, 3, 4]

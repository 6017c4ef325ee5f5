"""LASSO-Cox signatures: the estimator is the filters, the standardisation and
radsurv.stats.lasso_cox_cv put together; the Rad-score is its linear predictor, centred
on training, and a patient's score depends on that patient alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.exceptions import NotFittedError
from radsurv.signatures import FeatureFilter, LassoCoxSignature, StackedSignature, Standardiser, fold_ids
from radsurv.stats import fit_cox, lasso_cox_cv


def simulate(seed: int, n: int = 240, p: int = 30):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{j:02d}" for j in range(p)],
                     index=[f"P{i:03d}" for i in range(n)])
    beta = np.zeros(p)
    beta[:3] = [0.8, -0.6, 0.5]
    t = rng.exponential(np.exp(-X.to_numpy() @ beta))
    c = rng.exponential(1.5, n)
    return X, np.minimum(t, c), (t <= c).astype(int)


def test_fold_ids_are_stratified_by_event_and_seeded():
    e = np.r_[np.ones(23), np.zeros(81)].astype(int)
    f = fold_ids(e, 10, [7, 3])
    assert sorted(set(f)) == list(range(1, 11))
    per_fold = np.bincount(f[e == 1])[1:]
    assert per_fold.min() >= 2 and per_fold.max() <= 3            # 23 events over 10 folds
    assert np.array_equal(f, fold_ids(e, 10, [7, 3])) and not np.array_equal(f, fold_ids(e, 10, [8, 3]))
    with pytest.raises(ValueError, match="5 events cannot fill 10 folds"):
        fold_ids(np.r_[np.ones(5), np.zeros(50)], 10, 0)


def test_signature_is_filters_standardisation_and_lasso_cox_cv():
    X, t, e = simulate(1)
    folds = fold_ids(e, 10, 0)
    sig = LassoCoxSignature(filter=FeatureFilter(correlation_threshold=None), lambda_rule="lambda_min").fit(X, t, e,
                                                                                                         folds)
    Z = Standardiser().fit_transform(X)
    cv = lasso_cox_cv(Z.to_numpy(), t, e, foldid=folds)
    beta = pd.Series(cv.coef("lambda_min"), index=X.columns)
    pd.testing.assert_series_equal(sig.coef_, beta[beta != 0])
    assert sig.lambda_ == cv.lambda_min and set(sig.coef_.index) >= {"f00", "f01", "f02"}
    assert sig.flow_[-1] == ("selected by LASSO (lambda_min)", len(sig.coef_))
    one_se = LassoCoxSignature(filter=FeatureFilter(correlation_threshold=None), lambda_rule="lambda_1se")
    assert len(one_se.fit(X, t, e, folds).coef_) <= len(sig.coef_)


def test_radscore_is_the_centred_linear_predictor_and_needs_no_other_patient():
    X, t, e = simulate(2)
    sig = LassoCoxSignature().fit(X, t, e, fold_ids(e, 10, 0))
    score = sig.predict(X)
    assert score.mean() == pytest.approx(0.0, abs=1e-12)
    sel = sig.coef_.index
    manual = ((X[sel] - X[sel].mean()) / X[sel].std(ddof=1)).to_numpy() @ sig.coef_.to_numpy()
    np.testing.assert_allclose(score.to_numpy(), manual, rtol=1e-12, atol=1e-12)
    # One patient scored alone gets the same Rad-score as within the whole set.
    alone = sig.predict(X.iloc[[17]])
    assert alone.iloc[0] == score.iloc[17]
    # New patients with extra columns, or columns in another order, are scored the same.
    shuffled = X[X.columns[::-1]].assign(extra=1.0)
    np.testing.assert_array_equal(sig.predict(shuffled).to_numpy(), score.to_numpy())
    table = sig.coefficients()
    np.testing.assert_allclose(table["coef_per_unit"] * table["sd"], table["coef_per_sd"])
    with pytest.raises(ValueError, match="lacks 30 feature"):
        sig.predict(X.add_prefix("x"))
    with pytest.raises(NotFittedError):
        LassoCoxSignature().predict(X)


def test_no_signal_no_feature_gives_a_constant_radscore():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(150, 5)), columns=list("abcde"))
    t, e = rng.exponential(1.0, 150), rng.integers(0, 2, 150)
    sig = LassoCoxSignature(lambda_rule="lambda_1se").fit(X, t, e, fold_ids(e, 5, 1))
    if sig.coef_.empty:   # the usual outcome under no signal
        assert (sig.predict(X) == 0).all() and sig.coefficients().empty


def test_stacked_signature_is_a_cox_model_on_the_component_radscores():
    # the study's construction, kept as a named comparison: weights fitted on the Rad-scores
    # the components fitted to the same outcomes
    X, t, e = simulate(4, p=12)
    folds = fold_ids(e, 10, 0)
    a = LassoCoxSignature().fit(X[[f"f{j:02d}" for j in range(6)]], t, e, folds)
    b = LassoCoxSignature().fit(X[[f"f{j:02d}" for j in range(6, 12)]], t, e, folds)
    stacked = StackedSignature({"a": a, "b": b}, training_scores="resubstitution").fit(X, t, e)
    scores = pd.DataFrame({"a": a.predict(X), "b": b.predict(X)})
    used = [c for c in scores if np.ptp(scores[c]) > 0]
    assert stacked.used_ == used
    fit = fit_cox(scores[used], t, e)
    lp = scores[used].to_numpy() @ fit.coef.to_numpy()
    np.testing.assert_allclose(stacked.predict(X).to_numpy(), lp - lp.mean(), rtol=1e-10, atol=1e-12)


def test_stacked_weights_are_fitted_on_the_prevalidated_component_scores():
    X, t, e = simulate(4, p=12)
    folds = fold_ids(e, 10, 0)
    # both components hold a true effect (f00, f01 in a; f02 in b), so both are used
    a = LassoCoxSignature().fit(X[["f00", "f01", "f03", "f04", "f05"]], t, e, folds)
    b = LassoCoxSignature().fit(X[["f02", *[f"f{j:02d}" for j in range(6, 12)]]], t, e, folds)
    stacked = StackedSignature({"a": a, "b": b}).fit(X, t, e, folds)
    P = pd.DataFrame({"a": a.prevalidated_, "b": b.prevalidated_})
    assert stacked.training_scores == "prevalidated" and stacked.used_ == ["a", "b"]
    fit = fit_cox(P, t, e)
    pd.testing.assert_series_equal(stacked.cox_.coef, fit.coef, rtol=1e-10)
    # the weights apply to the full-fit Rad-scores (what a new patient has), centred on training
    scores = pd.DataFrame({"a": a.predict(X), "b": b.predict(X)})
    lp = scores.to_numpy() @ fit.coef.to_numpy()
    np.testing.assert_allclose(stacked.predict(X).to_numpy(), lp - lp.mean(), rtol=1e-10, atol=1e-12)
    resub = StackedSignature({"a": a, "b": b}, training_scores="resubstitution").fit(X, t, e)
    assert not np.allclose(resub.cox_.coef.to_numpy(), fit.coef.to_numpy(), rtol=1e-3)
    # its pre-validated score: per fold, the Cox model on the other folds' pre-validated scores
    manual = np.zeros(t.size)
    for k in np.unique(folds):
        held = folds == k
        f = fit_cox(P[~held].reset_index(drop=True), t[~held], e[~held])
        manual[held] = P[held].to_numpy() @ f.coef.to_numpy()
    np.testing.assert_allclose(stacked.prevalidated_, manual, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="component 'a' was fitted on 240"):
        StackedSignature({"a": a, "b": b}).fit(X.iloc[:100], t[:100], e[:100])
    with pytest.raises(ValueError, match="training_scores: expected one of"):
        StackedSignature({"a": a}, training_scores="both").fit(X, t, e)


def test_no_feature_left_after_the_filters_gives_the_null_signature():
    """Every feature constant (identical images): the filters keep none and the signature
    keeps none, fitted all the same: Rad-score 0 for every patient, pre-validated too, no
    cross-validation, and what shows it says why (before, fit raised)."""
    from radsurv.plots.signatures import NO_FEATURE_LEFT

    X, t, e = simulate(5, n=60, p=4)
    flat = pd.DataFrame({c: 7.5 + j for j, c in enumerate(X.columns)}, index=X.index)
    sig = LassoCoxSignature(lambda_rule="lambda_1se").fit(flat, t, e, fold_ids(e, 5, 0))
    assert sig.filtered_out and sig.cv_ is None and np.isnan(sig.lambda_)
    assert sig.coef_.empty and sig.features_in_ == list(X.columns)
    np.testing.assert_array_equal(sig.prevalidated_, np.zeros(60))
    np.testing.assert_array_equal(sig.predict(X).to_numpy(), np.zeros(60))   # any features: 0
    assert sig.flow_[-1] == ("selected by LASSO (lambda_1se)", 0)
    assert [n for _, n in sig.flow_] == [4, 4, 0, 0]    # in, ICC-flagged, near-zero variance, LASSO
    assert sig.coefficients().empty and sig.summary().empty and list(sig.flow()["features_left"]) == [4, 4, 0, 0]
    assert sig.title().startswith("LASSO-Cox signature: no feature passed the filters (0 of 4 features)")
    for ax in (sig.plot(), sig.plot_path()):
        assert [txt.get_text() for txt in ax.texts] == [NO_FEATURE_LEFT]
    # a signature that LASSO fitted stays one (the filters keep the varying features)
    assert not LassoCoxSignature().fit(X, t, e, fold_ids(e, 5, 0)).filtered_out

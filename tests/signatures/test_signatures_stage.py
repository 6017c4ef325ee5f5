"""The signatures stage's computing parts on a small synthetic cohort: no test-set value
reaches a fit (poisoned test features change nothing learned), a Rad-score does not
depend on the other patients, the multi-modal choice uses training data only, and the
reported C-indices are radsurv.stats'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.config import load_profile
from radsurv.signatures.evaluation import discrimination
from radsurv.signatures import (MULTIMODAL, REGION_SIGNATURES, available_signatures, develop_signatures,
                                fit_risk_groups, prevalidated_table, radscore_table)
from radsurv.manuscript.signatures import describe_signatures
from radsurv.signatures.stage import signature_variables
from radsurv.stats import harrell_c, uno_c

REGIONS = ("us_intra", "us_peri", "mri_intra", "mri_peri")


def cohort(seed: int = 0, n: int = 300, p: int = 8):
    """Four regions of p features; the first feature of each region carries signal."""
    rng = np.random.default_rng(seed)
    cols = {f"{r}__f{j}": rng.normal(size=n) for r in REGIONS for j in range(p)}
    X = pd.DataFrame(cols, index=[f"P{i:03d}" for i in range(n)])
    lp = 0.6 * X["us_intra__f0"] + 0.5 * X["mri_peri__f0"] + 0.4 * X["us_peri__f0"]
    t = rng.exponential(60 * np.exp(-lp))
    c = rng.uniform(20, 120, n)
    split = np.array(["train", "train", "internal", "external"])[np.arange(n) % 4]
    outcome = pd.DataFrame({"split": split, "time": np.minimum(t, c), "event": (t <= c).astype(int)}, index=X.index)
    return X, outcome


@pytest.fixture(scope="module")
def params():
    p = load_profile("quick")["signatures"]
    p = {**p, "n_folds": 5, "cutpoint": {**p["cutpoint"], "n_permutations": 19, "n_bootstrap": 10}}
    return p


@pytest.fixture(scope="module")
def developed(params):
    X, outcome = cohort()
    return X, outcome, develop_signatures(X, outcome, set(), params, seed=11, n_jobs=1)


def _learned(dev):
    return {name: (tuple(sig.coef_.index), tuple(np.round(sig.coef_.to_numpy(), 15)), sig.lambda_, tuple(sig.flow_))
            for name, sig in dev.signatures.items()}


def test_seven_signatures_and_the_multimodal_choice(developed):
    X, outcome, dev = developed
    assert list(dev.signatures) == ["us_intra", "us_peri", "mri_intra", "mri_peri", "us", "mri", "multimodal_union"]
    assert set(dev.stacked.components) == set(REGION_SIGNATURES)
    c = dev.comparison.set_index("approach")["c"]
    assert dev.multimodal == ("multimodal_stacked" if c["stacked"] > c["union"] else "multimodal_union")
    # The union's pre-validated C is Harrell's C of its pre-validated Rad-score.
    train = (outcome.split == "train").to_numpy()
    pv = dev.signatures["multimodal_union"].prevalidated_
    assert c["union"] == harrell_c(outcome.time[train], outcome.event[train], pv).c
    # Pre-validated C is below the apparent C of the same signature on the training set.
    apparent = harrell_c(outcome.time[train], outcome.event[train],
                         dev.signatures["multimodal_union"].predict(X[train])).c
    assert c["union"] < apparent
    # The signal features are found.
    assert "us_intra__f0" in dev.signatures["us_intra"].coef_.index
    assert {"us_intra__f0", "mri_peri__f0"} <= set(dev.signatures["multimodal_union"].coef_.index)


def test_poisoned_test_sets_change_nothing_learned(developed, params):
    """NaN or noise in every internal and external patient's features: every signature
    (features, coefficients, lambda, flow), the multi-modal choice and the cuts are
    byte-identical."""
    X, outcome, dev = developed
    test = (outcome.split != "train").to_numpy()
    rng = np.random.default_rng(99)
    for poison in ("nan", "noise"):
        Xp = X.copy()
        Xp.loc[test] = np.nan if poison == "nan" else rng.normal(0, 100, size=(test.sum(), X.shape[1]))
        dp = develop_signatures(Xp, outcome, set(), params, seed=11, n_jobs=1)
        assert _learned(dp) == _learned(dev), poison
        assert dp.multimodal == dev.multimodal
        pd.testing.assert_frame_equal(dp.comparison, dev.comparison)
        s0, sp = radscore_table(dev, X, outcome), radscore_table(dp, Xp, outcome)
        pd.testing.assert_frame_equal(s0[~test], sp[~test])
        g0 = fit_risk_groups(s0, outcome, ["multimodal"], params, 11)
        gp = fit_risk_groups(sp, outcome, ["multimodal"], params, 11)
        assert g0["multimodal"].cutpoint_ == gp["multimodal"].cutpoint_
        assert g0["multimodal"].p_permutation_ == gp["multimodal"].p_permutation_


def test_scrambled_test_outcomes_change_nothing_learned(developed, params):
    """The test sets' follow-up and events are never used to develop anything."""
    X, outcome, dev = developed
    test = (outcome.split != "train").to_numpy()
    rng = np.random.default_rng(5)
    scrambled = outcome.copy()
    scrambled.loc[test, "time"] = rng.uniform(0.1, 200, test.sum())
    scrambled.loc[test, "event"] = rng.integers(0, 2, test.sum())
    ds = develop_signatures(X, scrambled, set(), params, seed=11, n_jobs=1)
    assert _learned(ds) == _learned(dev) and ds.multimodal == dev.multimodal
    s0, ss = radscore_table(dev, X, outcome), radscore_table(ds, X, scrambled)
    g0 = fit_risk_groups(s0, outcome, ["multimodal"], params, 11)["multimodal"]
    gs = fit_risk_groups(ss, scrambled, ["multimodal"], params, 11)["multimodal"]
    assert (g0.cutpoint_, g0.p_permutation_, g0.p_lausen_) == (gs.cutpoint_, gs.p_permutation_, gs.p_lausen_)


def test_a_patients_radscore_does_not_depend_on_the_other_patients(developed):
    X, outcome, dev = developed
    full = radscore_table(dev, X, outcome)
    external = outcome.split == "external"
    alone = radscore_table(dev, X[external.to_numpy()].iloc[::-1], outcome[external].iloc[::-1])
    pd.testing.assert_frame_equal(full[external.to_numpy()], alone.loc[full[external.to_numpy()].index])


def test_discrimination_is_radsurv_stats(developed):
    X, outcome, dev = developed
    scores = radscore_table(dev, X, outcome)
    disc = discrimination(scores, outcome, ["us_intra", MULTIMODAL], tau=60.0)
    for r in disc.itertuples(index=False):
        sel = (outcome.split == r.set).to_numpy()
        t, e, x = outcome.time[sel], outcome.event[sel], scores.loc[sel, r.signature]
        hc = harrell_c(t, e, x)
        assert (r.c, r.se, r.lower, r.upper) == (hc.c, hc.se, hc.lower, hc.upper)
        assert r.uno_c == uno_c(t, e, x, tau=60.0).c
    ext = disc[(disc.signature == MULTIMODAL) & (disc.set == "external")].iloc[0]
    assert ext.c > 0.6   # the signal survives to the external set


def test_prevalidated_scores_are_each_signatures_out_of_fold_scores(developed, params):
    X, outcome, dev = developed
    train = (outcome.split == "train").to_numpy()
    pv = prevalidated_table(dev, outcome)
    assert list(pv.index) == list(outcome.index[train])
    assert list(pv.columns) == [*dev.signatures, "multimodal_stacked", MULTIMODAL]
    for name, sig in dev.signatures.items():
        np.testing.assert_array_equal(pv[name].to_numpy(), sig.prevalidated_)
    np.testing.assert_array_equal(pv[MULTIMODAL].to_numpy(), pv[dev.multimodal].to_numpy())
    # the stacked one is the out-of-fold combination the multi-modal comparison scored
    c = dev.comparison.set_index("approach")["c"]
    assert c["stacked"] == harrell_c(outcome.time[train], outcome.event[train], pv["multimodal_stacked"]).c
    # its weights come from the regional pre-validated scores, not the full fits'
    P = pd.DataFrame({r: dev.signatures[r].prevalidated_ for r in dev.stacked.used_})
    from radsurv.stats import fit_cox
    pd.testing.assert_series_equal(dev.stacked.cox_.coef,
                                   fit_cox(P, outcome.time[train], outcome.event[train]).coef, rtol=1e-10)
    scores = radscore_table(dev, X, outcome)
    groups = fit_risk_groups(scores, outcome, [MULTIMODAL], params, 11, prevalidated=pv)
    from radsurv.stats import optimal_cutpoint
    ref = optimal_cutpoint(outcome.time[train], outcome.event[train], pv[MULTIMODAL], 0.1, 0.9)
    assert groups[MULTIMODAL].p_lausen_ == ref.p_value
    with pytest.raises(ValueError, match="prevalidated: lacks training patients of outcome"):
        fit_risk_groups(scores, outcome, [MULTIMODAL], params, 11, prevalidated=pv.iloc[1:])
    with pytest.raises(ValueError, match="outcome: 149 training patients"):
        prevalidated_table(dev, outcome.drop(outcome.index[0]))


def test_variables_and_text(developed, params):
    X, outcome, dev = developed
    scores = radscore_table(dev, X, outcome)
    names = [*dev.signatures, "multimodal_stacked", MULTIMODAL]
    disc = discrimination(scores, outcome, names)
    groups = fit_risk_groups(scores, outcome, [MULTIMODAL], params, 11, prevalidated=prevalidated_table(dev, outcome))
    from radsurv.signatures import risk_group_table

    train = (outcome.split == "train").to_numpy()
    risk = risk_group_table(scores, outcome, MULTIMODAL, groups[MULTIMODAL],
                            float(np.std(scores.loc[train, MULTIMODAL], ddof=1)))
    oracle = disc[disc.signature == "us_intra"].assign(signature="oracle")
    v = signature_variables(dev, disc, oracle, groups, risk, params, X.shape[1])
    c_ext = disc[(disc.signature == MULTIMODAL) & (disc.set == "external")].c.iloc[0]
    assert v[MULTIMODAL]["c_external"] == f"{c_ext:.3f}"
    assert v["n_features_total"] == 32 and v["multimodal_choice"] in ("union", "stacked")
    assert v[MULTIMODAL]["cut"] == f"{groups[MULTIMODAL].cutpoint_:.3f}"
    assert v[MULTIMODAL]["p_score"] == "pre-validated"
    text = describe_signatures(v, {"internal": 0.734, "external": 0.708})
    assert (f"{v[MULTIMODAL]['p_lausen']} by the Lausen-Schumacher bound [@lausen1992]" in text
            and "repeated on the pre-validated Rad-score" in text)
    assert f"{v[MULTIMODAL]['c_external']} ({v[MULTIMODAL]['c_external_ci']}) on the external" in text
    assert "0.734 and 0.708" in text and "true linear predictor" in text
    no_oracle = {k: val for k, val in v.items() if k != "oracle"}
    assert "true linear predictor" not in describe_signatures(no_oracle, {"internal": None, "external": None})


def test_one_modality_builds_its_own_signatures_only():
    X, outcome = cohort(p=3)
    mri = X[[c for c in X.columns if c.startswith("mri_")]]
    assert available_signatures(mri) == ["mri_intra", "mri_peri", "mri"]
    assert available_signatures(X) == ["us_intra", "us_peri", "mri_intra", "mri_peri", "us", "mri",
                                       "multimodal_union"]


def test_text_says_when_no_feature_was_selected(developed, params):
    """A null run selects nothing: the text must not report C 0.500 (0.500-0.500) as a
    finding but say the Rad-score is constant and why."""
    X, outcome, dev = developed
    scores = radscore_table(dev, X, outcome)
    names = [*dev.signatures, MULTIMODAL]
    disc = discrimination(scores, outcome, names)
    v = signature_variables(dev, disc, None, {}, pd.DataFrame(), params, X.shape[1], constant=names)
    assert v[MULTIMODAL]["constant"] and v["n_constant"] == len(dev.signatures)
    text = describe_signatures(v, {"internal": 0.734, "external": 0.708})
    assert "selected no feature" in text and f"{len(dev.signatures)} of the {len(dev.signatures)}" in text
    assert "X-tile cut" not in text and "0.500 (95% CI" not in text
    v = signature_variables(dev, disc, None, {}, pd.DataFrame(), params, X.shape[1])
    assert not v[MULTIMODAL]["constant"] and v["n_constant"] == 0


def test_the_design_paragraph_follows_the_modalities_and_the_rule():
    from radsurv.manuscript.signatures import describe_design

    both = describe_design(["us_intra", "us_peri", "mri_intra", "mri_peri", "us", "mri", "multimodal_union"], "auto")
    assert both.startswith("Seven signatures were developed on the training set only")
    assert "the one with the higher pre-validated C-index" in both and "(rule: auto)" in both
    fixed = describe_design(["us_intra", "us_peri", "mri_intra", "mri_peri", "us", "mri", "multimodal_union"],
                            "stacked")
    assert "the Cox model on the regional Rad-scores fed the models, as the profile fixes" in fixed
    assert "higher pre-validated" not in fixed
    mri = describe_design(["mri_intra", "mri_peri", "mri"], "auto")
    assert mri.startswith("Three signatures were developed on the training set only: one per region (MRI intra- and "
                          "peri-tumoral)")
    assert "The cohort has no ultrasound, so no multi-modal signature could be built" in mri
    assert "The MRI signature took the multi-modal signature's place in the models" in mri
    assert "ultrasound signature" not in mri and "four regions" not in mri


def test_constant_features_develop_signatures_that_keep_nothing(params, tmp_path):
    """Identical images (every feature constant): every signature's filters keep nothing,
    and the development goes on as for a LASSO that keeps none: each signature and the
    stacked one score 0 (C = 0.5 in every set), the two multi-modal constructions tie at 0.5
    in pre-validation, no risk groups are cut, the flow table has no lambda, the LASSO
    figure says why, and the paper says that no feature passed the filters. The optimism
    bootstrap's resample development (a patient's copies in one fold) does the same."""
    from radsurv.plots.signatures import lasso_figure
    from radsurv.signatures.evaluation import NULL_C

    X, outcome = cohort(p=3)
    flat = pd.DataFrame({c: 1.0 + j for j, c in enumerate(X.columns)}, index=X.index)
    dev = develop_signatures(flat, outcome, set(), params, seed=11, n_jobs=1)
    assert all(sig.filtered_out and sig.coef_.empty for sig in dev.signatures.values())
    assert dev.stacked.used_ == [] and dev.stacked.cox_ is None
    assert dev.comparison.set_index("approach")["c"].to_dict() == {"union": NULL_C, "stacked": NULL_C}
    scores = radscore_table(dev, flat, outcome)
    names = [*dev.names(), MULTIMODAL]
    assert (scores[names] == 0).all().all()
    disc = discrimination(scores, outcome, names)
    assert set(disc["c"]) == {NULL_C}
    assert (prevalidated_table(dev, outcome) == 0).all().all()
    groups = fit_risk_groups(scores, outcome, names, params, 11, prevalidated=prevalidated_table(dev, outcome))
    assert groups == {}
    flow = dev.flow_table()
    assert set(flow["lambda"]) == {"–"} and set(flow["selected by LASSO (lambda_min)"]) == {0}
    lasso_figure({n: s.cv_ for n, s in dev.signatures.items()}, tmp_path / "lasso.png", params["lambda_rule"])
    v = signature_variables(dev, disc, None, groups, pd.DataFrame(), params, flat.shape[1], constant=names)
    assert (v["n_filtered_out"], v["n_constant"], v["n_signatures"]) == (7, 7, 7)
    assert v["us_intra"]["filtered_out"] and v["us_intra"]["n_selected"] == 0
    text = describe_signatures(v, {"internal": None, "external": None})
    assert ("No feature of any of the 7 signatures passed the filters: every feature was constant, nearly constant "
            "or flagged on the training set, so LASSO had nothing to select and every signature kept nothing.") in text
    # the optimism bootstrap's development: a resample with a patient's copies kept together
    train = outcome.index[outcome["split"] == "train"]
    draw = np.random.default_rng(2).choice(train, size=len(train))
    resample = outcome.loc[draw].reset_index(drop=True)
    boot = develop_signatures(flat.loc[draw].reset_index(drop=True), resample, set(), params, seed=11, n_jobs=1,
                              groups=draw)
    assert all(s.filtered_out for s in boot.signatures.values())
    np.testing.assert_array_equal(boot.predictors()[MULTIMODAL].predict(flat), np.zeros(len(flat)))

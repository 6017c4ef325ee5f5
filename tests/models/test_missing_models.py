"""The six models with missing values (issue 28, item 4): multiple imputation wired into
the selection, the fits, the scores and the optimism bootstrap.

Against: Rubin's rules on the models' own per-imputation fits (``radsurv.stats.pool_rubin``
is checked against R's ``mice::pool`` in tests/stats/test_pooling.py); closed forms (no
missing value: the imputed development is the complete-case one); the full-data fit of
GBSG2 (``mice_pool`` reference); poisoned test sets (their outcomes and covariates never
reach the training fit); the twin's declared missingness (rates, MAR given centre and age,
nothing else drawn differently).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.cohort.twin import remove_at_random, simulate_cohort
from radsurv.config import load_profile
from radsurv.models import ChainedImputer, Design, baseline_survival, develop_models, imputer_for, ph_tests
from radsurv.models.diagnostics import median_over_imputations
from radsurv.models.imputation import missing_values
from radsurv.stats import cox_zph, pool_rubin

from tests.stats._ref import REFERENCE_DIR, load_reference

CLINICAL = ["horTh_yes", "age", "menostat_post", "tgrade_II", "pnodes", "progrec"]
MRI = ["tsize"]


@pytest.fixture(scope="module")
def gbsg2_missing():
    """GBSG2 with R's missing progrec and tsize (MAR given age and the event), a
    Rad-score-like column (noise plus pnodes), every variable numeric."""
    data, r = load_reference("mice_pool")
    full = pd.read_csv(REFERENCE_DIR / "mice_pool" / "data_full.csv")
    rng = np.random.default_rng(5)
    radscore = 0.1 * full["pnodes"].to_numpy() + rng.normal(size=len(full))
    cols = CLINICAL + MRI
    X = data[cols].astype(float).assign(radscore=radscore)
    groups = {c: [c] for c in [*cols, "radscore"]}
    design = Design(X.set_axis([f"P{i:03d}" for i in range(len(X))]), groups, {c: c for c in groups})
    full_design = Design(full[cols].astype(float).assign(radscore=radscore).set_axis(design.X.index), groups,
                         {c: c for c in groups})
    return design, full_design, data["time"].to_numpy(float), data["event"].to_numpy(int)


def _mi(m=5, seed=0):
    return ChainedImputer(m=m, seed=seed)


def test_without_missing_values_the_imputed_development_is_the_complete_case_one(gbsg2_missing):
    _, full, t, e = gbsg2_missing
    cc = develop_models(full, CLINICAL, MRI, t, e)
    mi = develop_models(full, CLINICAL, MRI, t, e, imputer=_mi())
    assert {k: m.variables for k, m in mi.models.items()} == {k: m.variables for k, m in cc.models.items()}
    for key, model in cc.models.items():   # m identical sets: Rubin's rules give the single fit
        pooled = mi.models[key]
        np.testing.assert_allclose(pooled.fit_.coef, model.fit_.coef, rtol=1e-10)
        np.testing.assert_allclose(pooled.fit_.se, model.fit_.se, rtol=1e-8)
        assert pooled.fit_.loglik == pytest.approx(model.fit_.loglik, rel=1e-12)
    pd.testing.assert_frame_equal(mi.scores(full), cc.scores(full), rtol=1e-10)
    assert all(set(v.values()) <= {0, 5} for v in mi.votes.values())


def test_pooled_models_are_rubins_rules_on_their_own_fits_and_keep_every_patient(gbsg2_missing):
    design, full, t, e = gbsg2_missing
    six = develop_models(design, CLINICAL, MRI, t, e, imputer=_mi(m=5))
    cc = develop_models(design, CLINICAL, MRI, t, e)
    assert six.imputer is not None and six.imputer.imputed_columns_ == ["progrec", "tsize"]
    for key, model in six.models.items():
        assert model.imputed and model.fit_.n == len(t) and model.n_excluded_ == 0
        fits = model.pooled_.fits
        terms = list(model.fit_.coef.index)
        q = np.array([f.coef[terms].to_numpy() for f in fits])
        u = np.array([f.vcov.loc[terms, terms].to_numpy() for f in fits])
        expected = pool_rubin(q, u, fits[0].n_events - len(terms), terms=terms)
        hr = model.hazard_ratios().set_index("term")
        np.testing.assert_allclose(hr["coef"], expected["qbar"], rtol=1e-12)
        np.testing.assert_allclose(hr["p"], expected["p_value"], rtol=1e-12)
        np.testing.assert_allclose(np.log(hr["hr_lower"]), expected["conf_low"], rtol=1e-12)
        # Xbar beta is the fit's linear predictor: the mean over the completed sets
        lp = np.mean([c[terms].to_numpy() @ model.fit_.coef.to_numpy() for c in model.completed_], axis=0)
        np.testing.assert_allclose(model.fit_._lp, lp, rtol=1e-12)
        if "progrec" in model.variables or "tsize" in model.variables:
            assert model.n_imputed_ > 0 and cc.models[key].n_excluded_ == model.n_imputed_
    # every patient scored, the training mean of each score 0
    scores = six.scores(design)
    assert not scores.isna().to_numpy().any()
    np.testing.assert_allclose(scores.mean().to_numpy(), 0.0, atol=1e-10)
    # closer to the full-data fit than the complete cases are (the reason for imputing)
    # (measured: 0.04, 0.08, 0.37, 0.29 full-data SEs, 0.78 in total; complete cases 0.79, 0.77,
    # 0.72, 0.24, 2.52 in total)
    key = "clinical_mri"
    full_fit = develop_models(full, CLINICAL, MRI, t, e).models[key]
    assert six.models[key].variables == full_fit.variables == cc.models[key].variables
    terms = list(full_fit.fit_.coef.index)

    def distance(model):
        return np.abs(model.fit_.coef[terms] - full_fit.fit_.coef[terms]) / full_fit.fit_.se[terms]

    assert distance(six.models[key]).max() < 1.0
    assert distance(six.models[key]).sum() < distance(cc.models[key]).sum()


def test_the_screen_uses_the_median_p_and_elimination_the_majority(gbsg2_missing):
    from radsurv.models.selection import backward_aic, univariable_screen

    design, _, t, e = gbsg2_missing
    imputer = _mi(m=4)
    six = develop_models(design, CLINICAL, MRI, t, e, screen_p=0.05, imputer=imputer)
    sets = [Design(X, design.groups, design.labels) for X in imputer.completed_]
    screens = [univariable_screen(d, CLINICAL, t, e) for d in sets]
    median_p = np.median([s["p"].to_numpy() for s in screens], axis=0)
    np.testing.assert_allclose(six.screens["clinical"]["p"].to_numpy(), median_p, rtol=1e-12)
    kept = [v for v, p in zip(CLINICAL, median_p) if p < 0.05]
    votes = {v: sum(v in backward_aic(d, kept, t, e).selected for d in sets) for v in kept}
    assert six.votes["clinical"] == votes
    assert six.selections["clinical"].selected == [v for v in kept if 2 * votes[v] >= 4]


def test_test_sets_never_reach_the_training_fit_and_their_outcomes_never_their_scores(gbsg2_missing):
    design, _, t, e = gbsg2_missing
    n_train = 450
    train = design.subset(design.X.index[:n_train])
    six = develop_models(train, CLINICAL, MRI, t[:n_train], e[:n_train], imputer=_mi(m=3, seed=4))
    hr = six.hazard_ratios()
    scores = six.scores(design)
    # poison the test patients' covariates: the training fit cannot change (it never saw
    # them); their own scores change, the training patients' do not
    poisoned = design.X.copy()
    test_rows = poisoned.index[n_train:]
    poisoned.loc[test_rows, "pnodes"] = 1e3
    poisoned.loc[test_rows[::2], "progrec"] = np.nan
    six_again = develop_models(train, CLINICAL, MRI, t[:n_train], e[:n_train], imputer=_mi(m=3, seed=4))
    pd.testing.assert_frame_equal(six_again.hazard_ratios(), hr)
    again = six_again.scores(Design(poisoned, design.groups, design.labels))
    pd.testing.assert_frame_equal(again.iloc[:n_train], scores.iloc[:n_train])
    # a test patient is imputed without any outcome: ChainedImputer.complete takes none, and
    # the same patients scored alone or with others get the training models' imputations
    assert not scores.iloc[n_train:].isna().to_numpy().any()
    # a training patient's index with other values is refused, not silently re-imputed
    bad = design.X.iloc[:n_train].copy()
    bad.iloc[0, bad.columns.get_loc("age")] += 1
    with pytest.raises(ValueError, match="training patients' index but other values"):
        six.scores(Design(bad, design.groups, design.labels))


def test_likelihood_ratio_rows_become_the_pooled_wald_test_of_the_radscore(gbsg2_missing):
    design, _, t, e = gbsg2_missing
    six = develop_models(design, CLINICAL, MRI, t, e, imputer=_mi(m=3))
    lr = six.likelihood_ratio_tests().set_index("model")
    for big in ("radiomics", "imaging"):
        row = six.models[big].pooled_.pooled.loc["radscore"]
        assert lr.loc[big, "test"] == "pooled_wald" and lr.loc[big, "df"] == 1
        assert lr.loc[big, "p"] == pytest.approx(row["p_value"], rel=1e-12)
        assert lr.loc[big, "chisq"] == pytest.approx(row["statistic"] ** 2, rel=1e-12)
    cc = develop_models(design, CLINICAL, MRI, t, e).likelihood_ratio_tests()
    assert set(cc["test"]) <= {"lr"}


def test_ph_tests_and_baseline_survival_of_pooled_models(gbsg2_missing):
    design, _, t, e = gbsg2_missing
    six = develop_models(design, CLINICAL, MRI, t, e, imputer=_mi(m=3))
    ph = ph_tests(six, design, t, e)
    model = six.models["clinical"]
    each = [cox_zph(X, t, e, transform="km", fit=f) for X, f in zip(model.completed_, model.pooled_.fits)]
    expected = median_over_imputations(each)
    np.testing.assert_allclose(ph.tables["clinical"]["p"], np.median([x["p"] for x in each], axis=0))
    pd.testing.assert_frame_equal(ph.tables["clinical"], expected)
    # S0 at the centred score: the Efron/Breslow hazard at the pooled coefficients
    base = baseline_survival(six, [365.0, 1825.0]).set_index(["model", "horizon"])
    H0 = model.fit_.baseline_cumhaz([365.0])[0]
    assert base.loc[("clinical", 365.0), "s0"] == pytest.approx(np.exp(-H0 * np.exp(model.center_)), rel=1e-12)


def test_imputer_for_follows_models_missing():
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    d = Design(X, {"a": ["a"], "b": ["b"]}, {})
    assert imputer_for(d, ["a", "b"], {"missing": "complete_case"}, seed=0) is None
    auto = imputer_for(d, ["a", "b"], {"missing": "auto", "imputation": {"m": 7}}, seed=[3, 4])
    assert isinstance(auto, ChainedImputer) and auto.m == 7 and auto.seed == [3, 4]
    assert imputer_for(d, ["b"], {"missing": "auto"}, seed=0) is None          # b is complete
    assert imputer_for(d, ["b"], {"missing": "multiple_imputation"}, seed=0) is not None
    with pytest.raises(ValueError, match="models.missing"):
        imputer_for(d, ["a"], {"missing": "mean"}, seed=0)
    # a categorical variable declared with one level has no indicator column (the fuzz
    # shape single_level_declared): no block, and the imputer fits the other columns
    one = Design(X, {"a": ["a"], "b": ["b"], "grade": []}, {})
    imp = imputer_for(one, ["a", "b", "grade"], {"missing": "auto", "imputation": {"m": 2, "max_iter": 2}}, seed=1)
    assert imp.categorical == {} and imp.fit(X, [1.0, 2.0, 3.0, 4.0], [1, 0, 1, 0]).blocks_ == [("a",), ("b",)]
    assert imp.completed_[0]["a"].notna().all()
    table = missing_values(d, ["a", "b"], pd.Series(["train", "train", "internal", "internal"]))
    assert table.to_dict("records") == [{"variable": "a", "label": "a", "missing_train": 1, "n_train": 2,
                                         "missing_internal": 0, "n_internal": 2}]


# ---------------------------------------------------------------- the twin's missingness


@pytest.fixture(scope="module")
def twin_profile():
    return load_profile("paper")["cohort"]["twin"]


def test_twin_removes_declared_values_at_random_given_centre_and_age(twin_profile):
    spec = {"ki67": {"rate": 0.15, "external_centre": 0.8, "age_per_10y": 0.3},
            "grade": {"rate": 0.08, "external_centre": 0.5, "age_per_10y": 0.2}}
    assert twin_profile["missing"] == spec   # the paper's declaration, tested below
    full = simulate_cohort({**twin_profile, "missing": {}}, seed=11)
    twin = simulate_cohort(twin_profile, seed=11)
    m, f = twin.manifest, full.manifest
    # nothing else changes: same patients, outcomes, truth and every other column
    pd.testing.assert_frame_equal(twin.truth, full.truth)
    others = [c for c in m.columns if c not in spec]
    pd.testing.assert_frame_equal(m[others], f[others])
    for col, s in spec.items():
        miss = m[col].isna()
        assert miss.mean() == pytest.approx(s["rate"], abs=0.03)          # 643 patients: SE about 0.014
        kept = ~miss
        assert (m.loc[kept, col] == f.loc[kept, col]).all()              # observed values untouched
    # The declared log odds, on a large twin (6,000 patients; the centres share one age
    # law, so the centre's marginal log odds ratio is close to the conditional one)
    big = simulate_cohort({**twin_profile, "n_per_center": {1: 3000, 2: 1500, 3: 1500}}, seed=3).manifest
    external = big["center"] != 1
    for col, s in spec.items():
        p_ext, p_int = big.loc[external, col].isna().mean(), big.loc[~external, col].isna().mean()
        log_or = np.log(p_ext / (1 - p_ext)) - np.log(p_int / (1 - p_int))
        assert log_or == pytest.approx(s["external_centre"], abs=0.25)
        assert big[col].isna().mean() == pytest.approx(s["rate"], abs=0.015)
        old = big["age"] > big["age"].mean()
        assert big.loc[old, col].isna().mean() > big.loc[~old, col].isna().mean()
    # MAR: given centre and age, missingness carries no information on the value itself
    # (compared with the full value in the truth's manifest, the missing Ki-67 are not
    # systematically higher: within 0.25 SD of the observed ones' mean, centre 1 only)
    c1 = m["center"] == 1
    k_missing = f.loc[c1 & m["ki67"].isna(), "ki67"]
    k_observed = f.loc[c1 & m["ki67"].notna(), "ki67"]
    assert abs(k_missing.mean() - k_observed.mean()) < 0.25 * f["ki67"].std()


def test_remove_at_random_names_a_bad_column():
    frame = pd.DataFrame({"center": [1, 2], "age": [40, 60], "ki67": [10.0, 20.0]})
    with pytest.raises(ValueError, match=r"cohort\.twin\.missing\.dfs_event"):
        remove_at_random(frame.assign(dfs_event=[0, 1]), {"dfs_event": {"rate": 0.1}}, seed=0)
    out = remove_at_random(frame, {"ki67": {"rate": 0.0}}, seed=0)
    pd.testing.assert_frame_equal(out, frame)


def test_majority_keeps_a_variable_selected_in_at_least_half_of_the_sets():
    from radsurv.models.six_models import pooled_selection

    rng = np.random.default_rng(2)
    n = 300
    t = rng.exponential(size=n)
    e = np.ones(n, int)
    signal = -np.log(t) + rng.normal(size=n)  # tied to the times: elimination keeps it
    sets = []
    for k in range(4):   # "z" carries the signal in sets 0 and 1, "w" in set 2 only
        z = signal if k < 2 else rng.normal(size=n)
        w = signal if k == 2 else rng.normal(size=n)
        sets.append(Design(pd.DataFrame({"z": z, "w": w}), {"z": ["z"], "w": ["w"]}, {}))
    table, selection, votes = pooled_selection(sets, ["z", "w"], t, e, None, screen=False)
    assert votes == {"z": 2, "w": 1}
    assert selection.selected == ["z"]        # half of the sets is enough; one of four is not
    assert table.empty and selection.candidates == ["z", "w"]


def test_the_nomogram_of_a_pooled_model_predicts_as_04_scores(gbsg2_missing):
    from radsurv.validation.nomogram import model_nomogram

    design, _, t, e = gbsg2_missing
    six = develop_models(design, CLINICAL, MRI, t, e, imputer=_mi(m=3))
    model = six.models["imaging"]
    coef = model.fit_.coef
    coding = {v: "numeric" for v in model.variables}
    nom, calc = model_nomogram(design, model.variables, t, e, [365.0, 1825.0], coding, {}, coef=coef,
                               completed=six.imputer.completed_)
    # a patient with every value: the pooled linear predictor, and 04's predicted DFS
    # S0(t) ** exp(centred score) at the pooled baseline hazard
    patient = design.X.loc[design.X[model.variables].notna().all(axis=1), model.variables].iloc[:5]
    out = calc(patient.reset_index(drop=True))
    lp = patient.to_numpy() @ coef.to_numpy()
    shift = out["lp"].to_numpy() - lp      # the nomogram's lp is centred (rms): one constant
    np.testing.assert_allclose(shift, shift[0], atol=1e-10)
    H0 = model.fit_.baseline_cumhaz([1825.0])[0]
    expected = np.exp(-H0 * np.exp(lp))
    np.testing.assert_allclose(out.filter(like="DFS").iloc[:, -1].to_numpy(), expected, rtol=1e-6)
    # the complete-case refit would not reproduce the pooled coefficients: refused
    with pytest.raises(ValueError, match="refit differs"):
        model_nomogram(design, model.variables, t, e, [365.0], coding, {}, coef=coef)


def test_the_methods_say_what_was_imputed_how_and_the_patients_each_model_kept(gbsg2_missing):
    from radsurv.manuscript.models import _variable, missing_data
    from radsurv.models.stage import missing_data_variables

    design, _, t, e = gbsg2_missing
    split = pd.Series(np.where(np.arange(len(t)) < 450, "train", "external"), index=design.X.index)
    train = design.subset(design.X.index[:450])
    six = develop_models(train, CLINICAL, MRI, t[:450], e[:450], imputer=_mi(m=4))
    table = missing_values(design, CLINICAL + MRI, split)
    v = missing_data_variables(six, table, {"missing": "auto"})
    n_prog = int(train.X["progrec"].isna().sum())
    assert v["method"] == "multiple_imputation" and (v["m"], v["max_iter"], v["donors"]) == (4, 10, 5)
    assert v["variables"][0] == {"label": "progrec", "train": f"{n_prog}/450, {100 * n_prog / 450:.0f}%",
                                 "external": f"{int(design.X['progrec'].iloc[450:].isna().sum())}/236, "
                                             f"{100 * design.X['progrec'].iloc[450:].isna().mean():.0f}%"}
    for key, entry in v["models"].items():
        model = six.models[key]
        assert entry["n"] == 450 and entry["complete"] == 450 - model.n_imputed_ and entry["left_out"] == 0
    text = missing_data({"models": {"missing": v}}, {})
    assert text.startswith(f"Values were missing for progrec (training {n_prog}/450")
    assert "4 imputations of 10 iterations with 5 donors" in text and "[@white2009]" in text
    kept = [k for k, m in six.models.items() if m.n_imputed_]
    assert kept and all(f"{six.models[k].fit_.n} (complete cases {450 - six.models[k].n_imputed_})" in text
                        for k in kept)
    assert [_variable(x) for x in ("Ki-67, %", "Histological grade", "HER2", "MRI margin", "Age, years")] == \
        ["Ki-67", "histological grade", "HER2", "MRI margin", "age"]


def test_a_variable_without_any_training_value_is_left_out_of_the_candidates():
    """An empty column (found by the cohort-shape sweep, shape column_all_missing: the
    imputer had nothing to learn from) is no candidate; a value in a test set only does
    not make it one."""
    from radsurv.models.design import cohort_design, unobserved_candidates

    cohort = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], "split": ["train", "train", "internal", "external"],
                           "age": [np.nan, np.nan, 50.0, np.nan], "grade": ["G1", "G2", None, "G1"]})
    columns = {"clinical": {"age": "numeric", "grade": ["G1", "G2"]}, "mri": {}}
    radscores = pd.DataFrame({"multimodal": [0.1, 0.2, 0.3, 0.4]}, index=pd.Index(list("abcd"), name="patient_id"))
    assert unobserved_candidates(cohort.set_index("patient_id"), columns) == ["age"]
    design, clinical, mri = cohort_design(cohort, radscores, columns, {})
    assert clinical == ["grade"] and mri == [] and "age" not in design.groups

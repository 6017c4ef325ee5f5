"""The six Cox models: coding, selection (univariable screen and backward AIC, anchored
on R's AIC for GBSG2), fitting on training only, evaluation from radsurv.stats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.models import (MODELS, Design, backward_aic, design_matrix, develop_models, model_comparisons,
                            model_discrimination, univariable_screen)
from radsurv.models import collinearity, fit_table, published_comparison
from radsurv.stats import delong_test, binary_at_time, fit_cox, harrell_c, td_auc, td_auc_compare, uno_c

from tests.stats._ref import load_reference


def test_design_codes_categories_against_the_first_declared_level():
    data = pd.DataFrame({"age": [50.0, 61.0, 45.0], "n_stage": ["N0", "N2", "N1"], "lvi": ["no", "yes", None]},
                        index=["a", "b", "c"])
    d = design_matrix(data, {"age": "numeric", "n_stage": ["N0", "N1", "N2", "N3"], "lvi": ["no", "yes"]},
                      {"n_stage": "N stage"}, extra=pd.DataFrame({"radscore": [0.1, -0.2, 0.3]}, index=data.index))
    assert d.groups == {"age": ["age"], "n_stage": ["n_stage[N1]", "n_stage[N2]", "n_stage[N3]"],
                        "lvi": ["lvi[yes]"], "radscore": ["radscore"]}
    assert d.X.loc["b", ["n_stage[N1]", "n_stage[N2]", "n_stage[N3]"]].tolist() == [0.0, 1.0, 0.0]
    assert np.isnan(d.X.loc["c", "lvi[yes]"]) and d.labels["n_stage[N2]"] == "N stage: N2 vs N0"
    # The coding depends on the declaration only: a set without N3 patients has the same columns.
    assert list(design_matrix(data.iloc[:1], {"n_stage": ["N0", "N1", "N2", "N3"]}).X.columns) == [
        "n_stage[N1]", "n_stage[N2]", "n_stage[N3]"]
    with pytest.raises(ValueError, match=r"column 'n_stage': value\(s\) \['N9'\]"):
        design_matrix(data.assign(n_stage=["N9", "N0", "N1"]), {"n_stage": ["N0", "N1"]})


@pytest.fixture(scope="module")
def gbsg2():
    data, results = load_reference("cox")
    cols = [c for c in data.columns if c not in ("id", "time", "event")]
    d = Design(data[cols].astype(float), {c: [c] for c in cols}, {c: c for c in cols})
    return d, cols, data["time"].to_numpy(), data["event"].to_numpy(), results


def test_backward_aic_starts_from_rs_aic_and_drops_while_the_aic_falls(gbsg2):
    d, cols, t, e, results = gbsg2
    r = backward_aic(d, cols, t, e)
    assert r.aic_start == pytest.approx(results["efron"]["aic"], rel=1e-9)   # R: AIC(coxph(...))
    # Each step dropped the variable whose removal lowered the AIC most...
    current, aic = list(cols), r.aic_start
    for dropped, after in r.steps:
        trials = {v: fit_cox(d.X[[c for c in current if c != v]], t, e).aic for v in current}
        assert min(trials, key=trials.get) == dropped and trials[dropped] == pytest.approx(after, rel=1e-12)
        assert after < aic
        current.remove(dropped)
        aic = after
    # ...and no further removal lowers it.
    assert current == r.selected
    assert all(fit_cox(d.X[[c for c in current if c != v]], t, e).aic >= aic for v in current)
    assert [s for s, _ in r.steps] == ["age", "menostat_post"]


def test_univariable_screen_is_the_likelihood_ratio_test_of_each_variable(gbsg2):
    d, cols, t, e, _ = gbsg2
    screen = univariable_screen(d, cols, t, e)
    for row in screen.itertuples(index=False):
        fit = fit_cox(d.X[[row.variable]], t, e)
        assert row.chisq == pytest.approx(fit.lr_test.statistic, rel=1e-12) and row.p == fit.lr_test.p


def _screen_by_frames(design, variables, time, event, ties="efron"):
    """The univariable screen as it was written before ``cox_lr_test`` (git 8dbbc1a): each
    variable's complete cases as a frame and a whole ``fit_cox``; the reference the
    screen must equal to the last bit."""
    import warnings

    rows = []
    for var in variables:
        X = design.X[design.columns([var])]
        keep = X.notna().all(axis=1).to_numpy()
        X, t, e = X[keep], np.asarray(time, float)[keep], np.asarray(event, int)[keep]
        row = {"variable": var, "df": len(design.groups[var]), "n": int(len(t)), "chisq": np.nan, "p": np.nan,
               "note": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fit = fit_cox(X, t, e, ties=ties, monotone="as_r")
            if fit.monotone:
                row["note"] = f"infinite coefficient ({', '.join(fit.monotone)}): a category without events?"
            else:
                row.update(chisq=fit.lr_test.statistic, p=fit.lr_test.p)
        except ValueError as error:
            row["note"] = str(error)
        rows.append(row)
    return pd.DataFrame(rows, columns=["variable", "df", "n", "chisq", "p", "note"])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_univariable_screen_is_fit_cox_on_each_frame_to_the_last_bit(ties):
    """The screen slices one column-major matrix and calls cox_lr_test: the same table,
    bit for bit, as a frame and a whole fit_cox per variable, with missing values (each
    variable's own complete cases), a three-level category, a category without events
    (monotone), a constant column and a variable missing everywhere but one patient."""
    rng = np.random.default_rng(11)
    n = 150
    a = rng.normal(size=n)
    grade = np.array(["G1", "G2", "G3"])[np.clip((a + rng.normal(size=n) + 1).astype(int), 0, 2)]
    rare = np.where(rng.random(n) < 0.06, "yes", "no")
    data = pd.DataFrame({
        "age": np.where(rng.random(n) < 0.1, np.nan, rng.normal(55, 10, n)),
        "grade": np.where(rng.random(n) < 0.15, None, grade),
        "rare": rare,
        "ki67": 20 + 10 * a + rng.normal(size=n),
        "flat": np.full(n, 3.0),
        "almost_none": np.where(np.arange(n) == 0, 1.0, np.nan),
    })
    t = np.round(rng.exponential(40 * np.exp(-0.6 * a)) + 1)
    e = (rng.random(n) < 0.55).astype(int)
    e[rare == "yes"] = 0                          # no event in the rare category: monotone
    d = design_matrix(data, {"age": "numeric", "grade": ["G1", "G2", "G3"], "rare": ["no", "yes"],
                             "ki67": "numeric", "flat": "numeric", "almost_none": "numeric"})
    variables = ["age", "grade", "rare", "ki67", "flat", "almost_none"]
    got = univariable_screen(d, variables, t, e, ties=ties)
    want = _screen_by_frames(d, variables, t, e, ties=ties)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # the cases it covers are there: a test, a monotone note, a constant column's error
    notes = got.set_index("variable")["note"]
    assert "infinite coefficient" in notes["rare"] and "constant" in notes["flat"]
    assert np.isfinite(got.set_index("variable").loc[["age", "grade", "ki67"], "p"]).all()
    assert got.set_index("variable").loc["age", "n"] < n


def synthetic(seed=0, n=600):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    data = pd.DataFrame({
        "age": rng.normal(50, 10, n),
        "n_stage": np.array(["N0", "N1", "N2"])[np.minimum((a + rng.normal(size=n) + 1.2).astype(int).clip(0), 2)],
        "grade": np.array(["G1", "G2", "G3"])[rng.integers(0, 3, n)],
        "mri_margin": np.array(["smooth", "spiculated"])[(a + rng.normal(size=n) > 0.5).astype(int)],
        "mri_noise": rng.normal(size=n),
    }, index=[f"P{i:03d}" for i in range(n)])
    radscore = 0.8 * a + 0.6 * rng.normal(size=n)
    lp = 0.7 * a + 0.5 * (data["n_stage"] != "N0")
    t = rng.exponential(50 * np.exp(-lp))
    c = rng.uniform(20, 120, n)
    split = np.array(["train", "train", "internal", "external"])[np.arange(n) % 4]
    outcome = pd.DataFrame({"split": split, "time": np.minimum(t, c), "event": (t <= c).astype(int)}, index=data.index)
    columns = {"age": "numeric", "n_stage": ["N0", "N1", "N2"], "grade": ["G1", "G2", "G3"],
               "mri_margin": ["smooth", "spiculated"], "mri_noise": "numeric"}
    design = design_matrix(data, columns, extra=pd.DataFrame({"radscore": radscore}, index=data.index))
    return design, outcome


@pytest.fixture(scope="module")
def six():
    design, outcome = synthetic()
    train = (outcome.split == "train").to_numpy()
    sub = design.subset(design.X.index[train])
    models = develop_models(sub, ["age", "n_stage", "grade"], ["mri_margin", "mri_noise"],
                            outcome.time[train], outcome.event[train])
    return design, outcome, models


def test_the_six_models_are_built_from_each_other(six):
    design, outcome, m = six
    assert list(m.models) == list(MODELS)
    clin, mri, both = m.models["clinical"].variables, m.models["mri"].variables, m.models["clinical_mri"].variables
    assert "n_stage" in clin and "grade" not in clin      # the screen drops the noise variable
    assert "mri_margin" in mri and "mri_noise" not in mri
    assert set(both) <= set(clin) | set(mri)
    assert m.models["signature"].variables == ["radscore"]
    assert m.models["radiomics"].variables == ["radscore", *clin]
    assert m.models["imaging"].variables == ["radscore", *both]
    # Fitted on the training patients only.
    assert m.models["imaging"].fit_.n == int((outcome.split == "train").sum())
    # Scores are centred on training and do not depend on other patients.
    s = m.scores(design)
    train = (outcome.split == "train").to_numpy()
    assert abs(s.loc[train, "imaging"].mean()) < 1e-12
    one = m.scores(design.subset(design.X.index[[5]]))
    assert one.iloc[0].equals(s.iloc[5])


def test_scrambled_test_outcomes_change_no_model(six):
    design, outcome, m = six
    train = (outcome.split == "train").to_numpy()
    scrambled = outcome.copy()
    rng = np.random.default_rng(1)
    scrambled.loc[~train, "time"] = rng.uniform(1, 100, (~train).sum())
    again = develop_models(design.subset(design.X.index[train]), ["age", "n_stage", "grade"],
                           ["mri_margin", "mri_noise"], scrambled.time[train], scrambled.event[train])
    for k in m.models:
        pd.testing.assert_series_equal(m.models[k].fit_.coef, again.models[k].fit_.coef)


def test_likelihood_ratio_tests_of_the_radscore(six):
    design, outcome, m = six
    lr = m.likelihood_ratio_tests()
    row = lr[lr.model == "radiomics"].iloc[0]
    big, small = m.models["radiomics"].fit_, m.models["clinical"].fit_
    assert row.chisq == pytest.approx(2 * (big.loglik - small.loglik)) and row.df == 1 and row.p < 0.001


def test_evaluation_is_radsurv_stats(six):
    design, outcome, m = six
    scores = m.scores(design)
    disc = model_discrimination(scores, outcome, ["clinical", "imaging"], [36.0], uno_tau=60.0)
    ext = (outcome.split == "external").to_numpy()
    t, e = outcome.time[ext], outcome.event[ext]
    row = disc[(disc.model == "imaging") & (disc.set == "external")].set_index("measure")
    hc = harrell_c(t, e, scores.loc[ext, "imaging"])
    assert (row.loc["harrell_c", "estimate"], row.loc["harrell_c", "lower"]) == (hc.c, hc.lower)
    assert row.loc["uno_c", "estimate"] == uno_c(t, e, scores.loc[ext, "imaging"], tau=60.0).c
    assert row.loc["td_auc", "estimate"] == td_auc(t, e, scores.loc[ext, "imaging"], [36.0]).auc.iloc[0]
    comp = model_comparisons(scores, outcome, ["clinical", "imaging"], "imaging", [36.0], n_boot=200, seed=0)
    c = comp[(comp.set == "external")].set_index("test")
    ref = td_auc_compare(t, e, scores.loc[ext, "clinical"], scores.loc[ext, "imaging"], [36.0]).iloc[0]
    assert c.loc["ipcw_td_auc", "delta"] == ref.delta and c.loc["ipcw_td_auc", "p"] == ref.p
    y, keep = binary_at_time(t, e, 36.0)
    dl = delong_test(y, scores.loc[ext, "clinical"].to_numpy()[keep], scores.loc[ext, "imaging"].to_numpy()[keep])
    assert c.loc["delong", "p"] == dl.p and c.loc["delong", "n_known"] == keep.sum()
    assert c.loc["bootstrap_c", "lower"] <= c.loc["bootstrap_c", "delta"] <= c.loc["bootstrap_c", "upper"]


def test_fit_table_hazard_ratios_and_collinearity(six):
    design, outcome, m = six
    fits = fit_table(m).set_index("model")
    f = m.models["imaging"].fit_
    assert fits.loc["imaging", "aic"] == f.aic and fits.loc["imaging", "epv"] == f.n_events / len(f.coef)
    hr = m.hazard_ratios()
    assert np.allclose(hr["hr"], np.exp(hr["coef"]))
    train = (outcome.split == "train").to_numpy()
    col = collinearity(design.subset(design.X.index[train]), m)
    assert (col[col.term != "correlation with the Rad-score"]["vif"] >= 1).all()


def test_recovery_share_of_the_oracles_gain():
    disc = pd.DataFrame({"model": ["clinical", "imaging", "clinical", "imaging"],
                         "set": ["external", "external", "internal", "internal"],
                         "measure": "harrell_c", "estimate": [0.60, 0.70, 0.62, 0.71]})
    pub = published_comparison(disc, {"internal": 0.8, "external": 0.85},
                               {"imaging": {"internal": None, "external": 0.795}}).set_index("model")
    assert pub.loc["imaging", "recovery_external"] == pytest.approx((0.70 - 0.60) / (0.85 - 0.60))
    assert pub.loc["clinical", "recovery_external"] == 0.0 and pub.loc["imaging", "published_external"] == 0.795


def test_baseline_survival_gives_the_cox_predicted_survival(six):
    """S0(t) ** exp(centred score) is the fitted model's predicted DFS (radsurv.stats, R's survfit)."""
    from radsurv.models import baseline_survival

    design, outcome, m = six
    base = baseline_survival(m, [36.0, 60.0]).set_index(["model", "horizon"])
    model = m.models["imaging"]
    X = design.X[list(model.fit_.coef.index)].iloc[:7]
    direct = model.fit_.predict_survival(X, [36.0, 60.0])
    score = model.predict(design.subset(design.X.index[:7])).to_numpy()
    for j, h in enumerate((36.0, 60.0)):
        np.testing.assert_allclose(base.loc[("imaging", h), "s0"] ** np.exp(score), np.asarray(direct)[:, j],
                                   rtol=1e-10)


def test_constant_radscore_is_no_covariate(gbsg2):
    """A LASSO that kept no feature gives a constant Rad-score: no signature model, and
    models 5 and 6 fall back to the clinical variables of models 1 and 3."""
    d, cols, t, e, _ = gbsg2
    X = d.X.assign(radscore=0.0)
    design = Design(X, {**d.groups, "radscore": ["radscore"]}, d.labels)
    six = develop_models(design, ["pnodes", "progrec"], ["tsize"], t, e, screen_p=None)
    assert six.radscore_constant
    assert "signature" not in six.models
    assert six.models["radiomics"].variables == six.models["clinical"].variables
    assert six.models["imaging"].variables == six.models["clinical_mri"].variables
    with_score = develop_models(Design(d.X.assign(radscore=d.X["pnodes"] * 0.1), design.groups, d.labels),
                                ["progrec"], ["tsize"], t, e, screen_p=None)
    assert not with_score.radscore_constant and with_score.models["signature"].variables == ["radscore"]


def test_screen_leaves_out_a_category_without_events():
    """A category with no events makes the univariable likelihood monotone: R's coxph
    would report an infinite coefficient and a huge LR chi-square; the screen gives the
    variable no test and says why, so it cannot enter the model."""
    rng = np.random.default_rng(2)
    n = 120
    grade = np.array(["G1"] * 20 + ["G2"] * 50 + ["G3"] * 50)
    t = rng.exponential(30, n)
    e = (rng.uniform(size=n) < 0.6).astype(int)
    e[grade == "G1"] = 0
    x = rng.normal(size=n)
    d = design_matrix(pd.DataFrame({"grade": grade, "x": x}), {"grade": ["G1", "G2", "G3"], "x": "numeric"})
    s = univariable_screen(d, ["grade", "x"], t, e).set_index("variable")
    assert np.isnan(s.loc["grade", "p"]) and "infinite coefficient" in s.loc["grade", "note"]
    assert np.isfinite(s.loc["x", "p"]) and s.loc["x", "note"] == ""
    six = develop_models(d.subset(d.X.index), ["grade", "x"], [], t, e, screen_p=1.0)
    assert "grade" not in six.models.get("clinical", type("m", (), {"variables": []})).variables


def _model_vars(**c_external):
    v = {"clinical": {"variables": "Age; Ki-67"}, "clinical_mri": {"variables": "Age; Ki-67"}}
    for k, c in c_external.items():
        v.setdefault(k, {}).update(c_external=f"{c:.3f}", c_external_ci="0.600-0.900",
                                   boot_delta_external="0.010", boot_p_external="0.400")
    return v


def test_results_text_follows_the_ordering_and_the_constant_radscore():
    from radsurv.manuscript.models import describe_models

    published = {"imaging": {"external": 0.795}}
    v = _model_vars(clinical=0.70, signature=0.65, radiomics=0.72, imaging=0.75, mri=0.60, clinical_mri=0.71)
    v["imaging"]["lr_p"] = "0.012"
    text = describe_models(v, published)
    assert "The traditional MRI model kept no variable" not in text and "MRI model kept no variable" in text
    assert "highest external C of the six, as in the study" in text and "improved the training fit" in text
    assert "0.650 (0.600-0.900) for the multi-modal radiomics signature" in text and "0.795" in text

    text = describe_models(_model_vars(clinical=0.80, imaging=0.75), published)
    assert "Unlike the study, the clinical model had a higher external C" in text
    # a tie (model 6 is model 3 when nothing is added) is not "unlike the study"
    assert "Unlike" not in describe_models(_model_vars(clinical_mri=0.75, imaging=0.75), published)

    v = _model_vars(clinical=0.85, clinical_mri=0.85, radiomics=0.85, imaging=0.85)
    v["radscore_constant"] = True
    v["imaging"]["lr_p"] = "–"
    v["oracle_c_external"] = "0.887"
    text = describe_models(v, published)
    assert "selected no feature" in text and "no radiomics signature model" in text
    assert "– (–)" not in text and "likelihood-ratio" not in text and "Unlike" not in text


def test_complete_case_sentence_counts_each_models_left_out_patients(gbsg2):
    from radsurv.manuscript.models import missing_data
    from radsurv.models.imputation import missing_values
    from radsurv.models.stage import missing_data_variables

    d, cols, t, e, _ = gbsg2
    X = d.X.assign(radscore=np.random.default_rng(3).normal(size=len(d.X)))
    groups = {**d.groups, "radscore": ["radscore"]}
    split = pd.Series("train", index=X.index)

    def text(six, design):
        v = missing_data_variables(six, missing_values(design, ["pnodes", "progrec", "tsize"], split),
                                   {"missing": "complete_case"})
        return missing_data({"models": {"missing": v}}, {}), v

    design = Design(X, groups, d.labels)
    six = develop_models(design, ["pnodes", "progrec"], ["tsize"], t, e, screen_p=None)
    assert text(six, design)[0] == "No patient missed a value of a candidate clinical or MRI variable.\n"
    X.loc[X.index[:7], "tsize"] = np.nan  # an MRI-like variable missing for 7 patients
    design = Design(X, groups, d.labels)
    six = develop_models(design, ["pnodes", "progrec"], ["tsize"], t, e, screen_p=None)
    sentence, v = text(six, design)
    left = {k: m.n_excluded_ for k, m in six.models.items()}
    assert left["clinical"] == 0 and left["mri"] == 7
    assert v["variables"] == [{"label": "tsize", "train": "7/686, 1%"}]
    assert "tsize (training 7/686, 1%)" in sentence and "complete values" in sentence
    assert "traditional MRI model 7" in sentence and "clinical model 0" not in sentence
    assert "imputed" not in sentence

def test_results_text_on_a_cohort_without_an_external_set():
    """Every fitted model's external C reads "–" (no external set): the text ranks nothing
    and does not fail (found by the cohort-shape sweep, shape no_external)."""
    from radsurv.manuscript.models import describe_models

    v = _model_vars(clinical=0.70, imaging=0.75)
    for k in ("clinical", "imaging"):
        v[k].update(c_external="–", c_external_ci="not estimable")
    text = describe_models(v, {"imaging": {"external": 0.795}})
    assert "highest external C" not in text and "Unlike the study" not in text
    assert "– (not estimable) for the clinical model" in text


def test_backward_aic_fits_every_model_as_a_frame_built_fit_to_the_last_bit():
    """The elimination slices one column-major matrix instead of building a frame per fit
    (radsurv.models.selection._Columns): each step's AIC is bit-equal to fit_cox on the
    frame of the remaining columns, with indicator (uint8) and float columns mixed and
    patients with a missing candidate left out first."""
    rng = np.random.default_rng(5)
    n = 160
    x = rng.standard_normal((n, 4))
    grade = rng.integers(0, 3, n)
    X = pd.DataFrame({"age": 50 + 10 * x[:, 0], "ki67": np.exp(x[:, 1]), "noise": x[:, 2],
                      "grade[G2]": (grade == 1).astype("uint8"), "grade[G3]": (grade == 2).astype("uint8"),
                      "size": 20 + 5 * x[:, 3]})
    X.loc[rng.choice(n, 12, replace=False), "ki67"] = np.nan
    groups = {"age": ["age"], "ki67": ["ki67"], "noise": ["noise"], "grade": ["grade[G2]", "grade[G3]"],
              "size": ["size"]}
    d = Design(X, groups, {c: c for c in X.columns})
    hazard = np.exp(0.03 * (X["age"] - 50) + 0.8 * (grade == 2) + 0.04 * (X["size"] - 20))
    t = rng.exponential(20 / hazard.to_numpy())
    e = (t < 30).astype(int)
    t = np.minimum(t, 30) + rng.integers(0, 3, n) * 0.0   # administrative censoring, some ties
    t = np.round(t, 1)
    r = backward_aic(d, list(groups), t, e)
    keep = X.notna().all(axis=1).to_numpy()
    tk, ek = t[keep], e[keep]
    cols = lambda vs: [c for v in vs for c in groups[v]]   # noqa: E731
    assert r.aic_start == fit_cox(X.loc[keep, cols(groups)], tk, ek, monotone="as_r").aic
    current = list(groups)
    for dropped, after in r.steps:
        current.remove(dropped)
        assert after == fit_cox(X.loc[keep, cols(current)], tk, ek, monotone="as_r").aic
    assert r.steps, "the noise variable is expected to go"


def test_backward_aic_sets_aside_a_candidate_aliased_with_earlier_ones_as_coxph_would():
    """ER and the molecular subtype both screened in, on patients among whom ER-negative is
    exactly HER2-enriched + triple-negative (a bootstrap resample of the paper build hit
    this): R's coxph would give the later column NA and step would go on with the rank as
    the degrees of freedom. The later candidate is set aside and named, and the
    elimination is, to the last bit, the one without it; in the other order the other
    one goes. A design of full rank sets nothing aside."""
    rng = np.random.default_rng(3)
    n = 120
    level = rng.integers(0, 3, n)
    age = rng.normal(50, 10, n)
    X = pd.DataFrame({"age": age, "er[negative]": (level > 0).astype(float),
                      "subtype[her2]": (level == 1).astype(float), "subtype[tn]": (level == 2).astype(float),
                      "noise": rng.standard_normal(n)})
    groups = {"age": ["age"], "er": ["er[negative]"], "subtype": ["subtype[her2]", "subtype[tn]"], "noise": ["noise"]}
    d = Design(X, groups, {c: c for c in X.columns})
    t = rng.exponential(50 / np.exp(0.04 * (age - 50) + 0.7 * (level == 2)), n)
    e = (t < 60).astype(int)
    t = np.minimum(t, 60)

    r = backward_aic(d, ["age", "er", "subtype", "noise"], t, e)
    assert [v for v, _ in r.aliased] == ["subtype"]
    assert "subtype[her2], subtype[tn]" in r.aliased[0][1] and "add 1 of 2" in r.aliased[0][1]
    assert "set aside as aliased" in r.title()
    without = backward_aic(d, ["age", "er", "noise"], t, e)
    assert (r.selected, r.steps, r.aic_start) == (without.selected, without.steps, without.aic_start)
    assert r.candidates == ["age", "er", "subtype", "noise"] and r.summary().loc[0, "variables"] == 3

    flipped = backward_aic(d, ["age", "subtype", "er", "noise"], t, e)
    assert [v for v, _ in flipped.aliased] == ["er"]
    alone = backward_aic(d, ["age", "subtype", "noise"], t, e)
    assert (flipped.selected, flipped.steps, flipped.aic_start) == (alone.selected, alone.steps, alone.aic_start)

    assert backward_aic(d, ["age", "subtype", "noise"], t, e).aliased == []

"""The validation's result objects and the public steps the notebook calls: the scored
inputs (counts, the final model's variables, the example patient), calibration and
decision curves that show themselves (summary numbers from closed forms and the functions
they wrap, the title in the HTML, the panel the figure publishes), and the nomogram's
calculator drawn and tabulated."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from radsurv.stages.readers import ModelOutputs  # noqa: E402
from radsurv.stats import kaplan_meier, net_benefit, smoothed_calibration  # noqa: E402
from radsurv.validation import (Calibration, DecisionCurves, PointsCalculator, ValidationInputs,  # noqa: E402
                                calibration_by_set, calibration_grid, decision_curves, example_patient,
                                final_model_nomogram, predicted_risk, risk_grid, validation_inputs)

from .test_calibration_decision import _truth  # noqa: E402  (exponential times: the true model is calibrated)

COLUMNS = {"clinical": {"ki67": "numeric", "er": ["positive", "negative"]},
           "mri": {"mri_tic": ["persistent", "washout"]}}
LABELS = {"ki67": "Ki-67, %", "er": "Oestrogen receptor", "mri_tic": "MRI time-intensity curve"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- the inputs

def _cohort(n=120, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    split = np.array(["train", "train", "internal", "external"])[np.arange(n) % 4]
    cohort = pd.DataFrame({"patient_id": ids, "split": split,
                           "dfs_time": rng.uniform(6, 90, n).round(1), "dfs_event": rng.integers(0, 2, n),
                           "ki67": rng.uniform(5, 60, n).round(), "er": rng.choice(["positive", "negative"], n),
                           "mri_tic": rng.choice(["persistent", "washout"], n)})
    radscores = pd.DataFrame({"multimodal": rng.normal(size=n)}, index=pd.Index(ids, name="patient_id"))
    return cohort, radscores


def _models(cohort, radscores, coef=None):
    """04_models' outputs of one model ("imaging": Rad-score, ER, Ki-67) consistent with the cohort."""
    d = cohort.set_index("patient_id")
    terms = {"radscore": radscores["multimodal"], "er[negative]": (d["er"] == "negative").astype(float),
             "ki67": d["ki67"]}
    coef = coef or {"radscore": 0.7, "er[negative]": 0.5, "ki67": 0.02}
    lp = sum(coef[k] * terms[k] for k in coef)
    scores = pd.DataFrame({"split": d["split"], "imaging": lp - lp[d["split"] == "train"].mean()})
    hr = pd.DataFrame({"model": "imaging", "term": list(coef), "coef": list(coef.values())})
    baseline = pd.DataFrame({"model": "imaging", "horizon": [36.0, 60.0], "s0": [0.9, 0.8]})
    return ModelOutputs(scores=scores, baseline=baseline, hazard_ratios=hr, selection=pd.DataFrame(),
                        discrimination=pd.DataFrame())


PROFILE = {"cohort": {"columns": COLUMNS, "labels": LABELS}, "time_unit": "months"}
PARAMS = {"horizons_months": [36, 60], "final_model": "imaging"}


def test_inputs_count_the_sets_and_order_the_final_models_variables():
    cohort, radscores = _cohort()
    inputs = validation_inputs(cohort, radscores, _models(cohort, radscores), PROFILE, PARAMS)
    assert isinstance(inputs, ValidationInputs)
    assert inputs.models == ("imaging",) and inputs.horizons == (36.0, 60.0)
    assert inputs.s0 == {("imaging", 36.0): 0.9, ("imaging", 60.0): 0.8}
    assert inputs.train.sum() == 60
    # the final model's variables in its fit order, a factor once
    assert inputs.final_variables() == ["radscore", "er", "ki67"]
    assert inputs.variable_labels()["er"] == "Oestrogen receptor"
    assert inputs.variable_labels()["radscore"] == "Multi-modal Rad-score"
    s = inputs.summary()
    assert s.columns.tolist() == ["set", "patients", "events", "median_follow_up_months", "scored_by_final_model"]
    assert s["set"].tolist() == ["Training", "Internal test", "External test"]
    assert s["patients"].tolist() == [60, 30, 30]
    train = cohort[cohort["split"] == "train"]
    assert s["events"].iloc[0] == int(train["dfs_event"].sum())
    assert s["median_follow_up_months"].iloc[0] == pytest.approx(train["dfs_time"].median())
    html = inputs._repr_html_()
    assert "120 patients scored by 1 models" in html and "P000" not in html and "P000" not in repr(inputs)


def test_inputs_refuse_stale_scores_and_keep_an_unfitted_final_model():
    cohort, radscores = _cohort()
    models = _models(cohort, radscores)
    stale = ModelOutputs(scores=models.scores.assign(imaging=models.scores["imaging"] * 1.01),
                         baseline=models.baseline, hazard_ratios=models.hazard_ratios, selection=pd.DataFrame(),
                         discrimination=pd.DataFrame())
    with pytest.raises(ValueError, match="scores of model 'imaging' do not follow"):
        validation_inputs(cohort, radscores, stale, PROFILE, PARAMS)
    # an unfitted final model depends on 04's selection (validate cannot predict it): not refused,
    # the stage degrades and says which key to set to which fitted model
    inputs = validation_inputs(cohort, radscores, models, PROFILE, {**PARAMS, "final_model": "clinical"})
    assert inputs.final == "clinical" and not inputs.final_fitted and inputs.models == ("imaging",)
    assert inputs.not_estimable == [
        "the final model, the clinical model, was not fitted by 04_models (no variable was selected for it), so its "
        "nomogram, its bootstrap-corrected calibration curve and its calibration and net benefit in the Results "
        "cannot be estimated (the fitted models are validated in the tables); to validate another model, set "
        "validation.final_model to one of: imaging"]
    assert inputs.summary()["scored_by_final_model"].tolist() == [0, 0, 0]
    assert "(not fitted)" in repr(inputs)
    assert validation_inputs(cohort, radscores, models, PROFILE, PARAMS).not_estimable == []


def test_example_patient_takes_medians_and_reference_levels():
    X = pd.DataFrame({"ki67": [10.0, 30.0, 20.0, 50.0], "radscore": [0.1, -0.3, 0.2, 0.5]})
    out = example_patient(X, ["radscore", "er", "ki67"], {"ki67": "numeric", "er": ["positive", "negative"]})
    assert out == {"radscore": pytest.approx(0.15), "er": "positive", "ki67": 25.0}


def test_final_model_nomogram_reproduces_the_written_model():
    cohort, radscores = _cohort(n=400, seed=2)
    models = _models(cohort, radscores)
    inputs = validation_inputs(cohort, radscores, models, PROFILE, PARAMS)
    # the written coefficients are not the refit's: refused
    with pytest.raises(ValueError, match="differs from 04_models' coefficients"):
        final_model_nomogram(inputs)
    from radsurv.stats import fit_cox

    train = inputs.train
    X = inputs.design.X.loc[train, ["radscore", "er[negative]", "ki67"]]
    fit = fit_cox(X, inputs.outcome["time"][train], inputs.outcome["event"][train])
    refit = _models(cohort, radscores, coef={k: float(fit.coef[k]) for k in X.columns})
    inputs = validation_inputs(cohort, radscores, refit, PROFILE, PARAMS)
    nom, calc = final_model_nomogram(inputs)
    assert calc.nomogram is nom
    assert nom.axis_names == ["Multi-modal Rad-score", "Oestrogen receptor", "Ki-67, %"]
    assert list(calc.coding) == ["radscore", "er", "ki67"]


# ---------------------------------------------------------------- calibration

def test_calibration_grid_is_the_apparent_curve_on_the_risk_grid():
    outcome, scores, s0 = _truth(n=900)
    tr = (outcome["split"] == "train").to_numpy()
    score = scores["true"].to_numpy().copy()
    score[np.flatnonzero(tr)[:3]] = np.nan  # unscored patients are left out
    t, e = outcome["time"].to_numpy()[tr], outcome["event"].to_numpy()[tr]
    grid, apparent = calibration_grid(t, e, score[tr], {36.0: s0[("true", 36.0)], 60.0: s0[("true", 60.0)]}, 20)
    assert list(grid) == [36.0, 60.0]
    ok = np.isfinite(score[tr])
    risk = predicted_risk(score[tr][ok], s0[("true", 60.0)])
    assert grid[60.0] == pytest.approx(risk_grid(risk, 20))
    ref = smoothed_calibration(t[ok], e[ok], risk, 60.0, knots=3).observed_at(grid[60.0])
    assert apparent[60.0] == pytest.approx(ref, abs=1e-12)
    # a constant score has no spread: that horizon is left out of both
    grid, apparent = calibration_grid(t, e, np.zeros(t.size), {36.0: 0.9}, 20)
    assert grid == {} and apparent == {}


@pytest.fixture(scope="module")
def calibration():
    outcome, scores, s0 = _truth(n=900)
    return calibration_by_set(outcome, scores, s0, ["true", "extreme"], [36.0, 60.0], min_events=5)


def test_calibration_summary_and_title(calibration):
    assert isinstance(calibration, Calibration)
    s = calibration.summary()
    assert s.columns.tolist() == ["model", "set", "horizon", "n", "events_by_horizon", "n_groups", "mean_predicted",
                                  "observed_km", "ici", "e50", "e90", "emax", "slope", "note"]
    assert len(s) == 12 and (s["note"] == "").all()
    only = calibration.summary(model="extreme")
    assert len(only) == 6 and set(only["model"]) == {"extreme"}
    # a model whose scores are twice too extreme: slope about 1/2 and a larger ICI
    assert only["slope"].to_numpy() == pytest.approx(0.5, abs=0.12)
    true = calibration.summary(model="true")
    assert (only["ici"].to_numpy() > true["ici"].to_numpy()).all()
    assert calibration.summary() is not calibration.table  # a copy
    assert calibration.title().startswith("Calibration of 2 models in 3 sets at 3, 5 years")
    assert "0 of 12 not estimable" in calibration.title()
    html = calibration._repr_html_()
    assert html.startswith("<p><strong>Calibration of 2 models") and "<table" in html


def test_calibration_plot_draws_the_published_panel(calibration):
    ax = calibration.plot(set="external", horizon=60.0, model="true")
    assert isinstance(ax, matplotlib.axes.Axes)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["Ideal", "Smoothed"]
    assert len(ax.containers) == 1  # the Kaplan-Meier points with their CIs
    g = calibration.grouped
    g = g[(g["model"] == "true") & (g["set"] == "external") & (g["horizon"] == 60.0)]
    points = ax.containers[0].lines[0]
    assert points.get_xdata() == pytest.approx(g["mean_predicted"].to_numpy())
    assert points.get_ydata() == pytest.approx(g["observed"].to_numpy())
    assert "External test, 5 years" in ax.get_title()
    # defaults: the last estimable set at its longest horizon
    assert "External test, 5 years" in calibration.plot(model="true").get_title()
    # the corrected curve is drawn on the training set only
    corrected = pd.DataFrame({"horizon": 60.0, "predicted": [0.1, 0.5], "corrected": [0.12, 0.45]})
    train = calibration.plot(set="train", horizon=60.0, model="true", corrected=corrected)
    assert "Bootstrap-corrected" in [line.get_label() for line in train.get_lines()]
    ext = calibration.plot(set="external", horizon=60.0, model="true", corrected=corrected)
    assert "Bootstrap-corrected" not in [line.get_label() for line in ext.get_lines()]


def test_calibration_plot_says_why_a_panel_is_not_estimable():
    outcome, scores, s0 = _truth(n=300)
    cal = calibration_by_set(outcome, scores, s0, ["true"], [36.0], min_events=10_000)
    assert "3 of 3 not estimable" in cal.title()
    ax = cal.plot(set="external", horizon=36.0)
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("not estimable:\n") and "events by the horizon" in t for t in texts)
    assert not ax.get_lines()


# ---------------------------------------------------------------- decision curves

@pytest.fixture(scope="module")
def decision():
    outcome, scores, s0 = _truth(n=900)
    th = np.round(np.arange(0, 0.51, 0.05), 10)
    return outcome, scores, s0, decision_curves(outcome, scores, s0, ["true", "extreme"], [36.0, 60.0], th)


def test_decision_summary_reads_the_curves_at_the_thresholds(decision):
    outcome, scores, s0, dca = decision
    assert isinstance(dca, DecisionCurves) and dca.models == ("true", "extreme")
    s = dca.summary()
    assert s.columns.tolist() == ["set", "horizon", "strategy", "n", "nb_at_0.1", "nb_at_0.2", "nb_at_0.3"]
    assert len(s) == 3 * 2 * 3  # sets x horizons x (two models, treat all)
    ext = (outcome["split"] == "external").to_numpy()
    ref = net_benefit(outcome["time"][ext], outcome["event"][ext],
                      predicted_risk(scores["true"][ext], s0[("true", 60.0)]), 60.0, [0.1, 0.2, 0.3])
    row = s[(s["set"] == "external") & (s["horizon"] == 60.0) & (s["strategy"] == "true")].iloc[0]
    assert row[["nb_at_0.1", "nb_at_0.2", "nb_at_0.3"]].to_numpy(float) == pytest.approx(ref["nb_model"].to_numpy())
    assert row["n"] == ext.sum()
    # treat all at threshold 0 is the Kaplan-Meier risk by the horizon
    s_all = kaplan_meier(outcome["time"][ext], outcome["event"][ext], [60.0], extend=True)["survival"].iloc[0]
    at0 = dca.summary(thresholds=[0.0, 0.33])
    all_row = at0[(at0["set"] == "external") & (at0["horizon"] == 60.0) & (at0["strategy"] == "all")].iloc[0]
    assert all_row["nb_at_0"] == pytest.approx(1 - s_all)
    assert np.isnan(all_row["nb_at_0.33"])  # not on the grid
    assert dca.title().startswith("Decision curves of 2 models in 3 sets at 3, 5 years, thresholds 0-0.5")
    assert "Decision curves of 2 models" in dca._repr_html_()
    assert dca.benefit_range("external", 60.0, "true") is not None


def test_decision_plot_draws_every_strategy(decision):
    *_, dca = decision
    ax = dca.plot(set="internal", horizon=36.0)
    assert isinstance(ax, matplotlib.axes.Axes)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["true", "extreme", "Treat all", "Treat none"]  # MODELS names the study's keys
    c = dca.curves
    true = c[(c["set"] == "internal") & (c["horizon"] == 36.0) & (c["strategy"] == "true")]
    assert ax.get_lines()[0].get_ydata() == pytest.approx(true["net_benefit"].to_numpy())
    assert ax.get_title() == "Internal test, 3 years"
    assert dca.plot().get_title() == "External test, 5 years"  # default: the last set, longest horizon


def test_empty_decision_curves_say_so():
    outcome, scores, s0 = _truth(n=90)
    none = decision_curves(outcome.assign(event=0), scores, s0, ["true"], [60.0], [0.1, 0.2])
    assert none.curves.empty and none.title() == "Decision curves: none estimable"
    ax = none.plot()
    assert [t.get_text() for t in ax.texts] == ["decision curves not estimable"]


# ---------------------------------------------------------------- the nomogram

def test_points_calculator_shows_the_nomogram():
    from radsurv.models import design_matrix
    from radsurv.validation import model_nomogram
    from radsurv.stats import fit_cox

    rng = np.random.default_rng(4)
    n = 300
    data = pd.DataFrame({"ki67": rng.uniform(5, 60, n).round(), "er": rng.choice(["positive", "negative"], n)})
    coding = {"ki67": "numeric", "er": ["positive", "negative"]}
    design = design_matrix(data, coding, LABELS)
    lp = 0.03 * data["ki67"] + 0.6 * (data["er"] == "negative")
    t, c = rng.exponential(80 * np.exp(-lp)), rng.uniform(30, 100, n)
    time, event = np.minimum(t, c), (t <= c).astype(int)
    fit = fit_cox(design.X[design.columns(["ki67", "er"])], time, event)
    nom, calc = model_nomogram(design, ["ki67", "er"], time, event, [36.0, 60.0], coding, LABELS, coef=fit.coef)
    s = calc.summary()
    assert s.columns.tolist() == ["axis", "value", "points"]
    assert len(s) == len(nom.axes) + len(nom.function_axes)
    er = s[s["axis"] == "Oestrogen receptor"]
    assert er["value"].tolist() == ["positive", "negative"]
    assert er["points"].to_numpy(float) == pytest.approx(nom.axes[nom.axes["predictor"] == "Oestrogen receptor"]
                                                         ["points"].to_numpy(float))
    dfs5 = s[s["axis"] == "5-year DFS"]
    assert dfs5["points"].to_numpy(float) == pytest.approx(
        nom.function_axes[nom.function_axes["axis"] == "5-year DFS"]["points"].to_numpy(float))
    assert calc.title() == "Nomogram of 2 variables (points 0-100), DFS at 3, 5 years"
    assert calc._repr_html_().startswith("<p><strong>Nomogram of 2 variables")
    ax = calc.plot(title="Clinical model")
    texts = [t.get_text() for t in ax.texts]
    for name in ("Points", "Ki-67, %", "Oestrogen receptor", "Total points", "3-year DFS", "5-year DFS"):
        assert name in texts
    assert ax.get_title() == "Nomogram of the clinical model"
    assert isinstance(calc, PointsCalculator)

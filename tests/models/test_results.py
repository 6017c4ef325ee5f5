"""The models' result objects and the computing functions the notebook calls: each shows
itself (summary, title in the HTML, plain text without patient ids, plot on an Axes) and
computes what radsurv.stats computes (cox.zph, td-ROC, Harrell's C), with every skipped
case recorded rather than dropped."""

from __future__ import annotations

from html import escape

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from radsurv.models import (MODELS, CoxModel, Design, SixModels, backward_aic, baseline_survival,  # noqa: E402
                            compare_with_published, compare_with_reference, design_matrix, develop_models,
                            evaluate_discrimination, fit_statistics, fit_table, model_comparisons,
                            model_discrimination, oracle_c, ph_tests, roc_horizons, screen_variables, td_roc_curves,
                            univariable_screen)
from radsurv.models.evaluation import ORACLE_MARK, PUBLISHED_MARK  # noqa: E402
from radsurv.stats import cox_zph, harrell_c, td_auc, td_roc_curve  # noqa: E402

from tests.models.test_models import synthetic  # noqa: E402
from tests.stats._ref import load_reference  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def built():
    design, outcome = synthetic()
    train = (outcome.split == "train").to_numpy()
    sub = design.subset(design.X.index[train])
    t, e = outcome.time[train], outcome.event[train]
    six = develop_models(sub, ["age", "n_stage", "grade"], ["mri_margin", "mri_noise"], t, e)
    return design, outcome, sub, t, e, six


def shows_itself(obj, title_part: str):
    """The contract of every result: HTML with the title, plain text = the title, no id."""
    html = obj._repr_html_()
    assert escape(obj.title()) in html and title_part in obj.title()
    text = repr(obj)
    assert text.splitlines()[0] == obj.title()
    assert "P0" not in text and "P0" not in html  # the synthetic patients are P000...P599
    assert isinstance(obj.summary(), pd.DataFrame)


def test_design_summary_is_the_coding_without_patients(built):
    design = built[0]
    s = design.summary()
    assert list(s.columns) == ["label", "coding", "mean", "missing"]
    assert s.loc[("n_stage", "n_stage[N2]"), "coding"] == "indicator"
    assert s.loc[("n_stage", "n_stage[N2]"), "mean"] == pytest.approx(design.X["n_stage[N2]"].mean())
    assert s.loc[("age", "age"), "coding"] == "numeric" and (s["missing"] == 0).all()
    shows_itself(design, "600 patients, 6 variables coded as 8 columns")


def test_screen_keeps_the_variables_below_the_threshold(built):
    _, _, sub, t, e, six = built
    screen = screen_variables(sub, ["age", "n_stage", "grade"], t, e, 0.05)
    pd.testing.assert_frame_equal(screen.table, univariable_screen(sub, ["age", "n_stage", "grade"], t, e))
    p = screen.table.set_index("variable")["p"]
    assert screen.kept == [v for v in ("age", "n_stage", "grade") if p[v] < 0.05] == ["age", "n_stage"]
    assert screen_variables(sub, ["age", "grade"], t, e, None).kept == ["age", "grade"]  # no screen
    s = screen.summary()
    assert list(s.columns) == ["label", "df", "n", "chisq", "p", "kept", "note"]
    assert s.loc["n_stage", "df"] == 2 and s["kept"].tolist() == [True, True, False]
    # develop_models runs the same screen
    pd.testing.assert_frame_equal(six.screens["clinical"], screen.table)
    shows_itself(screen, "2 of 3 candidates kept")
    ax = screen.plot()
    assert isinstance(ax, Axes) and len(ax.collections) == 1 and len(ax.collections[0].get_offsets()) == 3
    blue = matplotlib.colors.to_rgba("#0072B2")
    assert [tuple(c) == blue for c in ax.collections[0].get_facecolors()] == [True, True, False]  # kept in blue
    assert ax.lines[0].get_xdata()[0] == 0.05  # the threshold


def test_screen_without_a_test_says_so_on_the_plot():
    rng = np.random.default_rng(2)
    grade = np.array(["G1"] * 20 + ["G2"] * 50 + ["G3"] * 50)
    t, e = rng.exponential(30, 120), (rng.uniform(size=120) < 0.6).astype(int)
    e[grade == "G1"] = 0
    d = design_matrix(pd.DataFrame({"grade": grade, "x": rng.normal(size=120)}),
                      {"grade": ["G1", "G2", "G3"], "x": "numeric"})
    screen = screen_variables(d, ["grade", "x"], t, e, 1.0)
    assert screen.kept == ["x"] and "infinite coefficient" in screen.summary().loc["grade", "note"]
    ax = screen.plot()
    assert [x.get_text() for x in ax.texts] == ["no test"]


@pytest.fixture(scope="module")
def gbsg2():
    data, results = load_reference("cox")
    cols = [c for c in data.columns if c not in ("id", "time", "event")]
    d = Design(data[cols].astype(float), {c: [c] for c in cols}, {c: c.upper() for c in cols})
    return d, cols, data["time"].to_numpy(), data["event"].to_numpy(), results


def test_elimination_path_is_rs_step(gbsg2):
    d, cols, t, e, results = gbsg2
    path = backward_aic(d, cols, t, e)
    s = path.summary()
    assert list(s.columns) == ["removed", "label", "aic", "variables"] and list(s.index) == [0, 1, 2]
    assert s.loc[0, "aic"] == pytest.approx(results["efron"]["aic"], rel=1e-9)  # R: AIC(coxph(...))
    assert s["removed"].tolist() == ["", "age", "menostat_post"] and s.loc[1, "label"] == "AGE"
    assert s["variables"].tolist() == [len(cols), len(cols) - 1, len(cols) - 2]
    assert path.aic == s["aic"].iloc[-1] < path.aic_start and path.n == len(t) and path.unfitted == []
    shows_itself(path, f"{len(cols)} candidates, 2 removed, {len(cols) - 2} kept")
    ax = path.plot()
    assert isinstance(ax, Axes) and list(ax.lines[0].get_ydata()) == s["aic"].tolist()
    assert [a.get_text() for a in ax.texts] == ["AGE", "MENOSTAT_POST"]
    assert backward_aic(d, [], t, e).title() == "Backward elimination by AIC: no candidate"


def test_a_removal_that_cannot_be_fitted_is_recorded(gbsg2, monkeypatch):
    from radsurv.models import selection

    d, cols, t, e, _ = gbsg2
    real = selection._Columns.aic

    def failing(self, variables, time, event, ties):
        if "age" in cols and "age" not in variables and len(variables) == len(cols) - 1:
            raise ValueError("singular")
        return real(self, variables, time, event, ties)

    monkeypatch.setattr(selection._Columns, "aic", failing)
    path = backward_aic(d, cols, t, e)
    assert path.unfitted == [(1, "age", "singular")]
    assert path.steps[0][0] != "age" and "could not be fitted" in path.title()


def test_cox_model_and_six_models_show_their_hazard_ratios(built):
    design, outcome, sub, t, e, six = built
    model = six.models["clinical"]
    s = model.summary()
    f = model.fit_
    assert list(s.columns) == ["coef", "hr", "hr_lower", "hr_upper", "p"]
    np.testing.assert_allclose(s["hr"], np.exp(f.coef.to_numpy()))
    assert s.index[0] == design.labels[f.coef.index[0]]
    shows_itself(model, "Clinical model: 300 patients")
    assert "not fitted" in repr(CoxModel("clinical", ["age"]))
    hr = six.hazard_ratios()
    assert list(hr.columns) == ["model", "term", "label", "coef", "hr", "hr_lower", "hr_upper", "p"]
    assert len(hr) == sum(m.df for m in six.models.values())
    row = hr[(hr.model == "imaging") & (hr.term == "radscore")].iloc[0]
    fi = six.models["imaging"].fit_
    assert (row.coef, row.hr_lower, row.p) == (fi.coef["radscore"], fi.hr_lower["radscore"], fi.p["radscore"])
    summary = six.summary()
    assert summary.index.names == ["model", "label"] and list(summary.columns) == ["hr", "hr_lower", "hr_upper", "p"]
    assert summary.index.get_level_values(0).unique().tolist() == list(MODELS.values())
    shows_itself(six, "6 fitted")
    ax = six.plot()
    # one square and one CI line per covariate, the line at HR 1, a bold header per model
    assert len(ax.lines) == 2 * len(hr) + 1 and ax.get_xscale() == "log"
    assert sum(t.get_fontweight() == "bold" for t in ax.texts) == 6
    sel = six.selection_table()
    assert list(sel.columns) == ["variable", "df", "n", "chisq", "p", "note", "model", "selected"]
    assert sel.set_index(["model", "variable"]).loc[("clinical", "n_stage"), "selected"]


def test_six_models_say_which_model_is_missing(gbsg2):
    d, cols, t, e, _ = gbsg2
    design = Design(d.X.assign(radscore=0.0), {**d.groups, "radscore": ["radscore"]}, d.labels)
    six = develop_models(design, ["pnodes"], ["tsize"], t, e, screen_p=None)
    assert "not fitted: Multi-modal radiomics signature" in six.title()
    assert six.selections["clinical_mri"].candidates == ["pnodes", "tsize"]  # its path is kept too


def test_ph_tests_are_cox_zph_and_a_monotone_model_is_recorded(built):
    design, outcome, sub, t, e, six = built
    ph = ph_tests(six, sub, t, e)
    assert list(ph.tables) == list(six.models) and ph.skipped == {}
    m = six.models["imaging"]
    ref = cox_zph(sub.X[list(m.fit_.coef.index)], t.to_numpy(), e.to_numpy(), transform="km", fit=m.fit_)
    pd.testing.assert_frame_equal(ph.tables["imaging"], ref)
    table = ph.table()
    assert list(table.columns) == ["term", "chisq", "df", "p", "model"]
    assert ph.global_p()["imaging"] == ref.loc["GLOBAL", "p"]
    shows_itself(ph, "Proportional-hazards tests, global p")
    # A model whose coefficient may be infinite has no Schoenfeld test, and says so.
    rng = np.random.default_rng(2)
    grade = np.array(["G1"] * 20 + ["G2"] * 50 + ["G3"] * 50)
    tt, ee = rng.exponential(30, 120), (rng.uniform(size=120) < 0.6).astype(int)
    ee[grade == "G1"] = 0
    d = design_matrix(pd.DataFrame({"grade": grade}), {"grade": ["G1", "G2", "G3"]})
    with pytest.warns(RuntimeWarning):
        monotone = SixModels({"clinical": CoxModel("clinical", ["grade"]).fit(d, tt, ee)})
    ph = ph_tests(monotone, d, tt, ee)
    assert ph.tables == {} and "may be infinite" in ph.skipped["clinical"]
    assert ph.table().empty and "no test for clinical" in ph.title()
    assert ph.summary().loc[("Clinical model", ""), "note"] == ph.skipped["clinical"]
    assert "ph_global_p" not in fit_table(monotone, ph.tables)


def test_fit_statistics_join_the_lr_test_of_the_radscore(built):
    design, outcome, sub, t, e, six = built
    ph = ph_tests(six, sub, t, e)
    fit = fit_statistics(six, sub, ph)
    pd.testing.assert_frame_equal(fit.table, fit_table(six, ph.tables))
    s = fit.summary()
    assert s.loc["Multi-modal radiomics model", "lr_chisq"] == fit.lr.set_index("model").loc["radiomics", "chisq"]
    assert np.isnan(s.loc["Clinical model", "lr_p"]) and s.loc["Clinical model", "aic"] == six.models["clinical"].fit_.aic
    assert s.loc["Clinical model", "ph_global_p"] == ph.global_p()["clinical"]
    best = min(six.models, key=lambda k: six.models[k].fit_.aic)
    shows_itself(fit, MODELS[best])


def test_baseline_survival_at_zero_score_is_exp_of_minus_h0(built):
    six = built[-1]
    b = baseline_survival(six, [36.0]).set_index("model")
    m = six.models["clinical"]
    assert b.loc["clinical", "s0"] == pytest.approx(np.exp(-m.fit_.baseline_cumhaz([36.0])[0] * np.exp(m.center_)))


def test_discrimination_and_comparisons_are_the_tables_as_objects(built):
    design, outcome, _, _, _, six = built
    scores, keys = six.scores(design), list(six.models)
    disc = evaluate_discrimination(scores, outcome, keys, [36.0, 60.0], 60.0)
    pd.testing.assert_frame_equal(disc.table, model_discrimination(scores, outcome, keys, [36.0, 60.0], 60.0))
    s = disc.summary()
    assert list(s.columns) == ["n", "events", "harrell_c", "lower", "upper", "uno_c", "auc_36", "auc_60"]
    ext = (outcome.split == "external").to_numpy()
    assert s.loc[("Clinical model", "External test"), "harrell_c"] == harrell_c(
        outcome.time[ext], outcome.event[ext], scores.loc[ext, "clinical"]).c
    best = s.xs("External test", level="set")["harrell_c"].idxmax()
    shows_itself(disc, f"highest external Harrell's C: {best}")
    ax = disc.plot()
    # one CI line and one dot per model and set; the C = 0.5 line
    assert len(ax.lines) == 2 * 6 * 3 + 1 and [t.get_text() for t in ax.get_xticklabels()] == [
        "Training", "Internal test", "External test"]
    ax = disc.plot(reference={"Oracle": {"external": 0.9}})
    assert len([c for c in ax.collections if isinstance(c, LineCollection)]) == 1
    comp = compare_with_reference(scores, outcome, keys, "imaging", [36.0], n_boot=50, seed=4)
    pd.testing.assert_frame_equal(comp.table, model_comparisons(scores, outcome, keys, "imaging", [36.0], 50, 4))
    cs = comp.summary()
    assert cs.index.names == ["model", "set", "test", "horizon"] and "n_known" not in cs
    assert set(cs.index.get_level_values("test")) == {"IPCW td-AUC", "DeLong AUC", "Harrell's C, paired bootstrap"}
    shows_itself(comp, "multi-modal clinical imaging model")


def test_td_roc_curves_are_radsurv_stats_and_skips_are_recorded(built):
    design, outcome, _, _, _, six = built
    scores, keys = six.scores(design), ["clinical", "imaging"]
    disc = model_discrimination(scores, outcome, keys, [36.0], 60.0)
    ext = (outcome.split == "external").to_numpy()
    first_event = outcome.time[ext & (outcome.event == 1).to_numpy()].min()
    early = float(np.floor(first_event * 0.5 * 1000) / 1000)
    roc = td_roc_curves(scores, outcome, keys, [early, 36.0], disc, sets=("external",))
    pd.testing.assert_frame_equal(roc.curves[("external", 36.0)]["imaging"], td_roc_curve(
        outcome.time[ext], outcome.event[ext], scores.loc[ext, "imaging"], 36.0))
    curve = roc.curves[("external", 36.0)]["imaging"]
    area = np.trapezoid(curve["tpr"], curve["fpr"]) if hasattr(np, "trapezoid") else np.trapz(curve["tpr"], curve["fpr"])
    auc = td_auc(outcome.time[ext], outcome.event[ext], scores.loc[ext, "imaging"], [36.0]).auc.iloc[0]
    assert area == pytest.approx(auc, abs=1e-12) and roc.aucs[("external", 36.0)]["imaging"] == auc
    # no case before the first event: no curve, and the reason is kept
    assert roc.curves[("external", early)] == {} and len(roc.skipped) == 2
    assert roc.skipped[0]["model"] == "clinical" and "no cases or no controls" in roc.skipped[0]["reason"]
    s = roc.summary()
    assert list(s.columns) == ["auc", "thresholds", "note"] and len(s) == 4
    assert s.loc[("External test", early, "Clinical model"), "note"].startswith("t: no cases")
    shows_itself(roc, "2 curves in 2 panels; 2 not drawn")
    ax = roc.plot()  # the last panel: external, 36 months
    assert ax.get_title() == "External test, 3 years" and len(ax.lines) == 2 + 1  # two models, the diagonal
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"{MODELS['clinical']} {roc.aucs[('external', 36.0)]['clinical']:.2f}",
        f"{MODELS['imaging']} {auc:.2f}"]
    assert roc_horizons([12, 36, 60]) == [36.0, 60.0] and roc_horizons([12, 24]) == [24.0]


def test_oracle_c_and_the_published_comparison(built):
    design, outcome, _, _, _, six = built
    eta = pd.Series(np.random.default_rng(5).normal(size=len(outcome)), index=outcome.index)
    oracle = oracle_c(outcome, eta)
    internal = (outcome.split == "internal").to_numpy()
    assert oracle["internal"] == harrell_c(outcome.time[internal], outcome.event[internal], eta[internal]).c
    # the oracle follows the patients, not the order of eta
    assert oracle_c(outcome, eta.iloc[::-1]) == oracle and oracle_c(outcome, None) is None
    scores = six.scores(design)
    disc = evaluate_discrimination(scores, outcome, list(six.models), [36.0], 60.0)
    published = {"imaging": {"internal": None, "external": 0.795}}
    pub = compare_with_published(disc, oracle, published)
    assert list(pub.references) == [ORACLE_MARK, PUBLISHED_MARK]
    assert pub.references[PUBLISHED_MARK] == {"external": 0.795} and pub.oracle == oracle
    t = pub.summary()
    c = disc.summary()["harrell_c"]
    gain = oracle["external"] - c[("Clinical model", "External test")]
    assert t.loc["Multi-modal clinical imaging model", "recovery_external"] == pytest.approx(
        (c[("Multi-modal clinical imaging model", "External test")] - c[("Clinical model", "External test")]) / gain)
    shows_itself(pub, f"oracle C, external {oracle['external']:.3f}")
    ax = pub.plot()
    hl = [x for x in ax.collections if isinstance(x, LineCollection)]
    assert len(hl) == 3  # the oracle in the internal and external sets, the published value in the external
    none = compare_with_published(disc, None, {"imaging": {"internal": None, "external": None}})
    assert none.references == {} and "oracle_external" not in none.table and "no oracle" in none.title()


def test_figure_functions_draw_the_results_plots(built, tmp_path):
    from PIL import Image

    from radsurv.plots.models import c_index_figure, forest_figure, forest_size, td_roc_figure

    design, outcome, _, _, _, six = built
    scores, keys = six.scores(design), list(six.models)
    disc = evaluate_discrimination(scores, outcome, keys, [36.0, 60.0], 60.0)
    roc = td_roc_curves(scores, outcome, keys, [36.0, 60.0], disc.table)
    paths = [forest_figure(six, tmp_path / "f.png"), c_index_figure(compare_with_published(disc, None, {}),
                                                                    tmp_path / "c.png"),
             td_roc_figure(roc, tmp_path / "r.png")]
    assert all(p.is_file() for p in paths)
    assert forest_size(six.hazard_ratios())[1] == pytest.approx(0.8 + 0.22 * (len(six.hazard_ratios()) + 6))
    w, h = Image.open(paths[2]).size
    assert 0.8 < w / h < 1.25  # a 2 x 2 grid of square panels
    assert not any(isinstance(c, PathCollection) for c in disc.plot().collections)

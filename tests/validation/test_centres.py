"""Calibration per test set and centre, and recalibration-in-the-large (issue 27, item 3):
the rows, their numbers against the statistics on each centre's patients, the invariants
of the update, the stage's outputs and the paper's sentences."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from radsurv.manuscript.validation import describe_centres, describe_validation  # noqa: E402
from radsurv.stats import calibration_in_the_large, calibration_slope  # noqa: E402
from radsurv.validation import calibration_by_centre, predicted_risk  # noqa: E402
from radsurv.validation.centres import CENTRE_COLUMNS  # noqa: E402
from radsurv.validation.stage import centre_calibration_display, centre_variables  # noqa: E402

S0 = {36.0: 0.85, 60.0: 0.75}


def _twin(seed=0, shift=-1.2):
    """Training (centre 1), internal (centre 1) and an external set of centres A and B.

    The true hazard is the training baseline's; centre B's scores are shifted by ``shift``
    (a scanner effect on the score, not on the outcome), so the model under-predicts there
    and ranks as well as anywhere."""
    rng = np.random.default_rng(seed)
    sizes = {("train", "1"): 200, ("internal", "1"): 150, ("external", "A"): 200, ("external", "B"): 200,
             ("external", "C"): 40}
    rows = []
    for (split, centre), n in sizes.items():
        lp = rng.normal(size=n)
        h0 = -np.log(S0[60.0]) / 60   # exponential baseline: H0(60) = -log s0(60)
        T = rng.exponential(1 / (h0 * np.exp(lp)))
        C = rng.uniform(62, 120, n)
        n_events = 3 if centre == "C" else None
        df = pd.DataFrame({"split": split, "centre": centre, "time": np.minimum(T, C),
                           "event": (T <= C).astype(int), "lp": lp + (shift if centre == "B" else 0.0)})
        if n_events is not None:   # a small centre: only 3 events by any horizon
            df["event"] = 0
            df.loc[df.index[:n_events], ["time", "event"]] = [20.0, 1]
        rows.append(df)
    d = pd.concat(rows, ignore_index=True)
    d.index = [f"P{i:04d}" for i in range(len(d))]
    outcome = d[["split", "time", "event"]]
    scores = pd.DataFrame({"imaging": d["lp"], "clinical": 0.5 * d["lp"]})
    # s0 at 36 months consistent with the exponential baseline
    s0 = {(k, h): float(np.exp(np.log(S0[60.0]) * h / 60)) for k in scores for h in (36.0, 60.0)}
    return outcome, scores, s0, d["centre"]


@pytest.fixture(scope="module")
def result():
    outcome, scores, s0, centre = _twin()
    return calibration_by_centre(outcome, scores, s0, ["imaging", "clinical"], [36.0, 60.0], centre,
                                 min_events=5), (outcome, scores, s0, centre)


def test_rows_per_set_and_centre_named_by_the_label_only(result):
    res, (outcome, *_rest) = result
    t = res.summary()
    assert list(t.columns) == CENTRE_COLUMNS
    im = t[(t["model"] == "imaging") & (t["horizon"] == 60.0)]
    assert list(zip(im["set"], im["level"], im["centre"])) == [
        ("internal", "set", "1"), ("external", "set", "A, B, C"), ("external", "centre", "A"),
        ("external", "centre", "B"), ("external", "centre", "C")]
    assert len(t) == 2 * 2 * 5   # models x horizons x groups; the training set is not a validation
    shown = t.astype(str).to_numpy().ravel().tolist()
    assert not any(pid in cell for cell in shown for pid in outcome.index[:50])


def test_each_centre_is_the_statistic_on_its_own_patients(result):
    res, (outcome, scores, s0, centre) = result
    t = res.summary(model="imaging")
    for c in ("A", "B"):
        sel = (centre == c).to_numpy()
        o = outcome[sel]
        p = predicted_risk(scores.loc[sel, "imaging"], s0[("imaging", 60.0)])
        ref = calibration_in_the_large(o["time"], o["event"], p, 60.0)
        slope = calibration_slope(o["time"], o["event"], scores.loc[sel, "imaging"])
        row = t[(t["centre"] == c) & (t["horizon"] == 60.0)].iloc[0]
        assert row["oe"] == pytest.approx(ref.oe, rel=1e-12)
        assert (row["oe_lower"], row["oe_upper"]) == pytest.approx((ref.oe_lower, ref.oe_upper), rel=1e-12)
        assert row["observed_km"] == pytest.approx(ref.observed, rel=1e-12)
        assert row["mean_predicted"] == pytest.approx(p.mean(), rel=1e-12)
        assert row["slope"] == pytest.approx(slope.slope, rel=1e-10)
        assert row["n"] == sel.sum()


def test_a_shifted_centre_is_under_predicted_and_ranks_well(result):
    res, _ = result
    t = res.summary(model="imaging").set_index(["centre", "horizon"])
    a, b = t.loc[("A", 60.0)], t.loc[("B", 60.0)]
    assert a["oe_lower"] < 1 < a["oe_upper"]            # calibrated centre: CI around 1
    assert b["oe_lower"] > 1.5                            # scores shifted by -1.2: O/E about 2-3
    # the shift is a multiplication of the hazard by exp(-1.2): alpha estimates +1.2
    assert b["alpha_lower"] < 1.2 < b["alpha_upper"]
    assert b["slope_lower"] < 1 < b["slope_upper"]        # the ranking survives the shift


def test_recalibration_in_the_large_matches_observed_at_the_update_horizon(result):
    res, _ = result
    t = res.summary()
    ok = t[t["oe"].notna()]
    for (_m, _s, _c), g in ok.groupby(["model", "set", "centre"]):
        update = g[g["horizon"] == g["horizon"].max()].iloc[0]
        # one alpha per group, from its longest estimable horizon, applied at every horizon
        assert (g["recalibration_alpha"] == update["alpha"]).all()
        assert (g["recalibration_horizon"] == update["horizon"]).all()
        # sum of expected = KM-estimated events, exactly, where the update was estimated
        assert update["recalibrated_mean_predicted"] * update["n"] == pytest.approx(
            update["observed_km"] * update["n"], rel=1e-10)
    b = t[(t["model"] == "imaging") & (t["centre"] == "B") & (t["horizon"] == 60.0)].iloc[0]
    assert b["ici_recalibrated"] < b["ici"] / 2          # the update removes most of B's miscalibration
    # the other horizon is not forced: close, as the baseline is proportional in truth
    b36 = t[(t["model"] == "imaging") & (t["centre"] == "B") & (t["horizon"] == 36.0)].iloc[0]
    assert b36["recalibrated_mean_predicted"] != pytest.approx(b36["observed_km"], rel=1e-6)
    assert abs(b36["recalibrated_mean_predicted"] - b36["observed_km"]) < 0.05


def test_a_centre_with_few_events_says_why(result):
    res, _ = result
    c = res.summary(model="imaging")
    c = c[c["centre"] == "C"]
    assert c["oe"].isna().all() and c["recalibrated_mean_predicted"].isna().all()
    assert (c["note"] == "3 events by the horizon (at least 5 needed)").all()
    shown = centre_calibration_display(res.summary(), "imaging")
    row = shown[(shown["Centre"] == "C") & (shown["Horizon"] == "5 y")].iloc[0]
    assert row["O/E (95% CI)"] == "–" and row["Note"] == "not estimable: 3 events by the horizon (at least 5 needed)"


def test_paper_sentences_and_the_figure(result):
    res, _ = result
    v = centre_variables(res.summary(), "imaging", [36.0, 60.0])
    rows = v["centre_calibration_5y"]
    assert [r["centre"] for r in rows] == ["A", "B", "C"]
    b = rows[1]
    text = describe_centres(v)
    assert text.startswith("By 5 years its ratio of observed to expected risk of recurrence")
    assert f"{b['oe']} in centre B" in text and "(@tbl-calibration-centre); it could not be estimated in centre C: 3 events by the horizon" in text
    assert f"from {b['ici']} to {b['ici_recalibrated']} in centre B" in text
    assert "@tbl-calibration-centre" in text and "not a validation" in text
    ax = res.plot(model="imaging")
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Internal test (centre 1)", "External test (centres A, B, C)", "Centre A", "Centre B", "Centre C"]
    assert "not estimable: 3 events" in " ".join(t.get_text() for t in ax.texts)


def test_no_external_set_no_sentence():
    outcome, scores, s0, centre = _twin()
    internal_only = outcome["split"] != "external"
    res = calibration_by_centre(outcome[internal_only], scores[internal_only], s0, ["imaging"], [36.0, 60.0],
                                centre, min_events=5)
    assert set(res.summary()["set"]) == {"internal"}
    assert centre_variables(res.summary(), "imaging", [36.0, 60.0]) == {}
    v = {"final_model_key": "imaging", "final_model": "multi-modal clinical imaging model", "n_resamples": 2,
         "n_resamples_used": 2, "imaging": {"apparent_c": "0.8", "optimism": "0.05", "corrected_c": "0.75",
                                              "corrected_slope": "0.9"}}
    assert "centre" not in describe_validation(v)
    # one external centre: the set's row stands for it
    one = outcome["split"].ne("external") | centre.eq("A")
    res1 = calibration_by_centre(outcome[one], scores[one], s0, ["imaging"], [60.0], centre, min_events=5)
    v1 = centre_variables(res1.summary(), "imaging", [60.0])
    assert [r["centre"] for r in v1["centre_calibration_5y"]] == ["A"]


def test_the_stage_writes_the_table_the_csv_and_the_paper_variables(tmp_path, root):
    from radsurv.manuscript import render_text
    from radsurv.validation import validation_inputs

    from .test_degraded_validation import PROFILE, _bootstrap, _ctx, _published, _validate
    from .test_results import _cohort, _models

    cohort, radscores = _cohort(n=400, seed=2)
    ext = (cohort["split"] == "external").to_numpy()
    cohort["center"] = np.where(ext, np.where(np.arange(len(cohort)) % 8 == 3, "2", "3"), "1")
    from radsurv.stats import fit_cox

    params = {"horizons_months": [36, 60], "final_model": "imaging"}
    inputs = validation_inputs(cohort, radscores, _models(cohort, radscores), PROFILE, params)
    X = inputs.design.X.loc[inputs.train, ["radscore", "er[negative]", "ki67"]]
    fit = fit_cox(X, inputs.outcome["time"][inputs.train], inputs.outcome["event"][inputs.train])
    models = _models(cohort, radscores, coef={k: float(fit.coef[k]) for k in X.columns})
    inputs = validation_inputs(cohort, radscores, models, PROFILE, params)   # 04's model is the training fit
    ctx = _ctx(tmp_path, root, "imaging")
    calibration, decision, nom, calculator, example = _validate(inputs)
    centres = calibration_by_centre(inputs.outcome, inputs.scores, inputs.s0, inputs.models, inputs.horizons,
                                    cohort.set_index("patient_id")["center"], min_events=5)
    optimism = _bootstrap(inputs.models)
    from radsurv.validation.stage import write_validation_artefacts

    write_validation_artefacts(ctx, inputs, calibration, decision, calculator, example, optimism,
                               optimism.corrected_calibration({}, {}), optimism.selection_frequency({}),
                               centres=centres)
    doc = _published(ctx)["validation"]   # every declared output, nothing undeclared
    data = pd.read_csv(ctx.out_dir / "calibration_by_centre.csv", dtype={"centre": str})
    assert list(data.columns) == CENTRE_COLUMNS and set(data["centre"]) == {"1", "2, 3", "2", "3"}
    table = (ctx.out_dir / "calibration_by_centre.md").read_text(encoding="utf-8")
    assert "#tbl-calibration-centre" in table and "not a validation" in table and "| 2 " in table
    assert [r["centre"] for r in doc["centre_calibration_5y"]] == ["2", "3"]
    text = render_text("05_validation", "text-validation.md", {"validation": doc}, {})
    assert "(@tbl-calibration-centre)" in text and "centre 3" in text
    # a caller that does not pass it: the file keeps its header, the table says so
    write_validation_artefacts(ctx, inputs, calibration, decision, calculator, example, optimism,
                               optimism.corrected_calibration({}, {}), optimism.selection_frequency({}))
    assert pd.read_csv(ctx.out_dir / "calibration_by_centre.csv").columns.tolist() == CENTRE_COLUMNS
    assert "Calibration per centre was not computed." in (ctx.out_dir / "calibration_by_centre.md").read_text()
    assert "centre_calibration_5y" not in _published(ctx)["validation"]

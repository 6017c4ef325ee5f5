"""Calibration and decision curves of the models: closed forms and simulation truth
(predictions from the true model are calibrated; a model whose scores are twice too
extreme has a calibration slope of about 1/2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.stats import kaplan_meier, net_benefit
from radsurv.validation import benefit_range, calibration_by_set, decision_curves, predicted_risk, risk_grid


def test_predicted_risk_closed_form():
    assert predicted_risk([0.0, np.log(2)], 0.8).tolist() == pytest.approx([0.2, 1 - 0.64])
    with pytest.raises(ValueError, match="s0: baseline survival must be strictly between 0 and 1"):
        predicted_risk([0.0], 1.0)


def test_risk_grid_spans_the_middle_of_the_predictions():
    r = np.linspace(0.01, 0.99, 101)
    g = risk_grid(r, n=5, trim=0.1)
    assert g[0] == pytest.approx(np.quantile(r, 0.1)) and g[-1] == pytest.approx(np.quantile(r, 0.9))
    assert g.size == 5
    with pytest.raises(ValueError, match="no spread"):
        risk_grid(np.full(10, 0.3))


def _truth(n=4000, seed=3):
    """Exponential times with hazard h0 exp(lp): S(t | lp) = exp(-h0 t exp(lp)) exactly."""
    rng = np.random.default_rng(seed)
    lp = rng.normal(0, 0.8, n)
    h0 = 0.01
    t = rng.exponential(1 / (h0 * np.exp(lp)))
    c = rng.uniform(40, 120, n)
    split = np.array(["train", "internal", "external"])[np.arange(n) % 3]
    outcome = pd.DataFrame({"split": split, "time": np.minimum(t, c), "event": (t <= c).astype(int)})
    s0 = {(m, h): float(np.exp(-h0 * h)) for m in ("true", "extreme") for h in (36.0, 60.0)}
    return outcome, pd.DataFrame({"true": lp, "extreme": 2 * lp}), s0


def test_true_model_is_calibrated_and_an_extreme_one_is_not():
    outcome, scores, s0 = _truth()
    cal = calibration_by_set(outcome, scores, s0, ["true", "extreme"], [36.0, 60.0])
    s = cal.summary().set_index(["model", "set", "horizon"])
    for split in ("train", "internal", "external"):
        for h in (36.0, 60.0):
            true, extreme = s.loc[("true", split, h)], s.loc[("extreme", split, h)]
            assert true["note"] == ""
            # 1333 patients per set: ICI noise of about 0.01
            assert true["ici"] < 0.03 and true["e90"] < 0.06
            assert abs(true["slope"] - 1) < 0.15
            assert abs(extreme["slope"] - 0.5) < 0.08
            assert extreme["ici"] > 0.08 and extreme["ici"] > 4 * true["ici"]
    # grouped: the KM risk of each group is close to its mean prediction for the true model
    g = cal.grouped
    gt = g[(g["model"] == "true") & (g["set"] == "external") & (g["horizon"] == 60.0)]
    assert len(gt) == 4
    assert np.all(np.abs(gt["observed"] - gt["mean_predicted"]) < 0.05)
    assert (gt["observed_lower"] <= gt["mean_predicted"]).mean() >= 0.75


def test_not_estimable_is_reported_with_its_reason():
    outcome, scores, s0 = _truth(n=600)
    short = outcome.copy()
    ext = short["split"] == "external"
    short.loc[ext, "time"] = np.minimum(short.loc[ext, "time"], 30.0)
    cal = calibration_by_set(short, scores, {**s0, ("true", 130.0): 0.4}, ["true"], [36.0, 130.0])
    s = cal.summary().set_index(["set", "horizon"])
    assert "follow-up ends at 30.0 months" in s.loc[("external", 36.0), "note"]
    assert np.isnan(s.loc[("external", 36.0), "ici"])
    assert s.loc[("train", 36.0), "note"] == ""
    assert "follow-up ends" in s.loc[("train", 130.0), "note"]
    few = calibration_by_set(outcome, scores, s0, ["true"], [36.0], min_events=10_000).summary()
    assert few["note"].str.contains("events by the horizon").all()


def test_decision_curves_follow_net_benefit():
    outcome, scores, s0 = _truth(n=900)
    th = np.round(np.arange(0, 0.51, 0.05), 10)
    d = decision_curves(outcome, scores, s0, ["true", "extreme"], [60.0], th).curves
    ext = (outcome["split"] == "external").to_numpy()
    ref = net_benefit(outcome.time[ext], outcome.event[ext], predicted_risk(scores["true"][ext], s0[("true", 60.0)]),
                      60.0, th)
    got = d[(d["set"] == "external") & (d["strategy"] == "true")]
    assert got["net_benefit"].to_numpy() == pytest.approx(ref["nb_model"].to_numpy(), abs=1e-15)
    # treat all at threshold 0 is the KM risk by 60 months; treat none is 0
    s_all = kaplan_meier(outcome.time[ext], outcome.event[ext], [60.0], extend=True)["survival"].iloc[0]
    all0 = d[(d["set"] == "external") & (d["strategy"] == "all") & (d["threshold"] == 0)]["net_benefit"].iloc[0]
    assert all0 == pytest.approx(1 - s_all)
    assert (d[d["strategy"] == "none"]["net_benefit"] == 0).all()
    # about 45% recur by 60 months: treat-all is best at low thresholds, and the true
    # model beats both defaults from about there up
    rng = benefit_range(d, "external", 60.0, "true")
    assert rng is not None and rng[0] <= 0.3 and rng[1] == 0.5


def test_benefit_range_is_the_longest_run():
    th = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    rows = []
    for strategy, nb in (("m", [0.5, 0.1, 0.3, 0.3, 0.3, 0.0]), ("all", [0.2, 0.2, 0.1, 0.0, -0.1, -0.2]),
                         ("none", [0.0] * 6)):
        rows += [{"set": "external", "horizon": 60.0, "strategy": strategy, "threshold": t, "net_benefit": v}
                 for t, v in zip(th, nb)]
    d = pd.DataFrame(rows)
    assert benefit_range(d, "external", 60.0, "m") == (0.3, 0.5)
    assert benefit_range(d, "internal", 60.0, "m") is None

"""The validation stage's own functions: the guard against stale upstream scores, the
tables' rows and the Results paragraph's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.models import design_matrix
from radsurv.stages.readers import ModelOutputs
from radsurv.validation import check_scores
from radsurv.manuscript.validation import describe_validation
from radsurv.validation.stage import (calibration_display, decision_display, optimism_display, validation_variables)


def _models(scores, hr):
    return ModelOutputs(scores=scores, baseline=pd.DataFrame(), hazard_ratios=hr, selection=pd.DataFrame(),
                        discrimination=pd.DataFrame())


def test_check_scores_follows_the_coefficients():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"ki67": rng.uniform(5, 50, 30), "er": rng.choice(["positive", "negative"], 30)},
                        index=[f"P{i}" for i in range(30)])
    d = design_matrix(data, {"ki67": "numeric", "er": ["positive", "negative"]})
    hr = pd.DataFrame({"model": "clinical", "term": ["ki67", "er[negative]"], "coef": [0.03, 0.8]})
    lp = d.X["ki67"] * 0.03 + d.X["er[negative]"] * 0.8
    scores = pd.DataFrame({"split": "train", "clinical": lp - lp.mean()}, index=d.X.index)
    check_scores(_models(scores, hr), d)  # consistent: no error
    stale = scores.assign(clinical=scores["clinical"] * 1.01)
    with pytest.raises(ValueError, match="04_models' scores of model 'clinical' do not follow"):
        check_scores(_models(stale, hr), d)


def test_tables_and_paragraph_carry_the_numbers():
    opt = pd.DataFrame({"model": ["clinical", "signature", "imaging"], "n_resamples": [198, 198, 198],
                        "apparent_c": [0.70, 0.76, 0.80], "optimism": [0.01, 0.04, 0.05],
                        "corrected_c": [0.69, 0.72, 0.75], "apparent_slope": [1.0, 1.31, 0.9],
                        "corrected_slope": [0.95, 0.85, 0.80], "optimism_se": [0.002] * 3})
    shown = optimism_display(opt, 2, 200)
    assert shown["Corrected C"].tolist() == ["0.690", "0.720", "0.750"]
    assert shown["Apparent calibration slope"].tolist() == ["1.00", "1.31", "0.90"]
    assert shown["Resamples"].tolist() == ["198/200"] * 3
    cal = pd.DataFrame([
        {"model": "imaging", "set": "external", "horizon": 36.0, "n": 50, "events_by_horizon": 3, "n_groups": np.nan,
         "mean_predicted": np.nan, "observed_km": np.nan, "ici": np.nan, "e50": np.nan, "e90": np.nan,
         "emax": np.nan, "slope": np.nan, "note": "3 events by the horizon (at least 5 needed)"},
        {"model": "imaging", "set": "external", "horizon": 60.0, "n": 50, "events_by_horizon": 9, "n_groups": 2,
         "mean_predicted": 0.2, "observed_km": 0.22, "ici": 0.031, "e50": 0.02, "e90": 0.07, "emax": 0.1,
         "slope": 0.91, "note": ""},
        {"model": "imaging", "set": "train", "horizon": 60.0, "n": 100, "events_by_horizon": 20, "n_groups": 4,
         "mean_predicted": 0.2, "observed_km": 0.2, "ici": 0.01, "e50": 0.01, "e90": 0.02, "emax": 0.03,
         "slope": 1.0, "note": ""}])
    table = calibration_display(cal)
    assert len(table) == 2  # training is not a validation set
    assert table.iloc[0]["ICI"] == "–" and "3 events" in table.iloc[0]["Note"]
    assert table.iloc[1]["ICI"] == "0.031" and table.iloc[1]["Predicted / observed risk"] == "0.200 / 0.220"
    th = np.round(np.arange(0, 0.41, 0.05), 10)
    curves = pd.concat([pd.DataFrame({"set": "external", "horizon": 60.0, "strategy": s, "threshold": th,
                                      "net_benefit": nb, "n": 50})
                        for s, nb in (("imaging", 0.3 - th / 2), ("all", 0.22 - th), ("none", 0 * th))])
    dec = decision_display(curves, ["imaging"])
    assert dec.iloc[0]["NB at 20%"] == "0.200" and dec.iloc[1]["Strategy"] == "Treat all"
    params = {"final_model": "imaging", "horizons_months": [36.0, 60.0]}
    example = pd.DataFrame({"total_points": [88.4], "lp": [0.1], "3-year DFS": [0.9], "5-year DFS": [0.8]})
    v = validation_variables(opt, cal, curves, pd.DataFrame(), pd.DataFrame(), params, 198, 200, example)
    assert v["imaging"]["corrected_c"] == "0.750" and v["final_model"] == "multi-modal clinical imaging model"
    assert v["benefit_external_5y"] == "0%-40%"
    assert v["example"] == {"total_points": "88", "dfs_3y": "90.0%", "dfs_5y": "80.0%"}
    text = describe_validation(v)
    assert "Over 198 of 200 bootstrap resamples" in text and "corrected C of 0.750" in text
    assert "ICI 0.031 at 5 years" in text and "3 years" not in text.split("ICI")[1].split("(")[0]
    assert "0%-40% at 5 years" in text and "88 points" in text and "80.0% at 5 years" in text
    # a test set that cannot be scored: the paragraph ends with what was not estimated and why
    from radsurv.manuscript.validation import results

    v["not_estimable"] = ["the external test set has no event (20 patients, all censored): its C-indices, risk "
                          "groups, calibration and decision curves cannot be estimated"]
    assert results({"validation": v}, {}).endswith(" Not estimable on this cohort: the external test set has no event (20 patients, "
                                   "all censored): its C-indices, risk groups, calibration and decision curves cannot "
                                   "be estimated.\n")

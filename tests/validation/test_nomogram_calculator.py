"""The final model's nomogram and points calculator: the nomogram is rms's (the
statistics are matched to R in tests/stats/test_nomogram.py); here, that plain patient
values give the same points and DFS as the model, through the saved JSON too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.models import design_matrix
from radsurv.stats import fit_cox
from radsurv.validation import PointsCalculator, model_nomogram

CODING = {"ki67": "numeric", "grade": ["G1", "G2", "G3"], "er": ["positive", "negative"]}
LABELS = {"ki67": "Ki-67, %", "grade": "Grade", "er": "Oestrogen receptor", "radscore": "Multi-modal Rad-score"}


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(4)
    n = 300
    data = pd.DataFrame({"ki67": rng.uniform(5, 60, n).round(), "grade": rng.choice(["G1", "G2", "G3"], n),
                         "er": rng.choice(["positive", "negative"], n, p=[0.7, 0.3])})
    score = rng.normal(0, 1, n)
    design = design_matrix(data, CODING, LABELS, extra=pd.DataFrame({"radscore": score}))
    lp = 0.03 * data["ki67"] + 0.4 * (data["grade"] == "G3") - 0.3 * (data["grade"] == "G2") + 0.8 * score
    t = rng.exponential(80 * np.exp(-lp))
    c = rng.uniform(30, 100, n)
    time, event = np.minimum(t, c), (t <= c).astype(int)
    variables = ["radscore", "ki67", "grade", "er"]
    cols = design.columns(variables)
    fit = fit_cox(design.X[cols], time, event)
    nom, calc = model_nomogram(design, variables, time, event, [36.0, 60.0], CODING, LABELS, coef=fit.coef)
    return data, score, design, fit, nom, calc, time, event


def test_axes_are_variables_with_levels(model):
    data, score, design, fit, nom, calc, *_ = model
    assert nom.axis_names == ["Multi-modal Rad-score", "Ki-67, %", "Grade", "Oestrogen receptor"]
    grade = nom.axes[nom.axes["predictor"] == "Grade"].set_index("value")["points"]
    assert list(grade.index) == ["G1", "G2", "G3"]
    b2, b3 = fit.coef["grade[G2]"], fit.coef["grade[G3]"]
    low = min(0.0, b2, b3)
    assert grade.to_numpy() == pytest.approx(nom.points_per_unit_lp * (np.array([0.0, b2, b3]) - low))
    assert nom.axis_labels == ("3-year DFS", "5-year DFS")


def test_plain_values_give_the_models_prediction(model, tmp_path):
    data, score, design, fit, nom, calc, time, event = model
    patients = data.iloc[:25].assign(radscore=score[:25])
    out = calc(patients)
    # the linear predictor is the model's, centred as rms centres it
    cols = design.columns(["radscore", "ki67", "grade", "er"])
    lp = fit.predict(design.X[cols].iloc[:25]) - float(fit.means @ fit.coef)
    assert out["lp"].to_numpy() == pytest.approx(lp, abs=1e-10)
    # DFS = the Cox model's survival at the patient's covariates
    surv = fit.predict_survival(design.X[cols].iloc[:25], [36.0, 60.0])
    assert out["3-year DFS"].to_numpy() == pytest.approx(surv[:, 0], rel=1e-9)
    assert out["5-year DFS"].to_numpy() == pytest.approx(surv[:, 1], rel=1e-9)
    # through the JSON: identical
    path = tmp_path / "nomogram.json"
    calc.to_json(path)
    back = PointsCalculator.from_json(path)
    pd.testing.assert_frame_equal(back(patients), out)
    pd.testing.assert_frame_equal(back.nomogram.axes, nom.axes)
    pd.testing.assert_frame_equal(back.nomogram.function_axes, nom.function_axes)
    one = back({"ki67": 30, "grade": "G3", "er": "negative", "radscore": 0.5})
    assert one["total_points"].iloc[0] == pytest.approx(
        nom.points_per_unit_lp * (one["lp"].iloc[0] - nom.lp_at_zero), abs=1e-9)


def test_bad_patients_are_named(model):
    *_, calc, time, event = model
    with pytest.raises(ValueError, match=r"missing variable\(s\) \['er'\]"):
        calc({"ki67": 30, "grade": "G3", "radscore": 0.5})
    with pytest.raises(ValueError, match=r"column 'grade': value\(s\) \['G4'\]"):
        calc({"ki67": 30, "grade": "G4", "er": "negative", "radscore": 0.5})
    with pytest.raises(ValueError, match=r"missing value\(s\) of \['ki67'\]"):
        calc({"ki67": np.nan, "grade": "G1", "er": "negative", "radscore": 0.5})


def test_refit_must_match_the_written_model(model):
    data, score, design, fit, nom, calc, time, event = model
    with pytest.raises(ValueError, match="differs from 04_models' coefficients"):
        model_nomogram(design, ["radscore", "ki67", "grade", "er"], time, event, [36.0], CODING, LABELS,
                       coef=fit.coef * 1.01)

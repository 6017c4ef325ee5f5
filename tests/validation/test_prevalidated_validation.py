"""05 rebuilds 04's design with pre-validated training Rad-scores (issue 27, item 4):
check_scores and the nomogram's refit hold on that design only, and each optimism
resample weighs its own signature's pre-validated Rad-scores while the original training
patients are scored by the resample's final signature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.models.six_models import RADSCORE
from radsurv.signatures.development import (MULTIMODAL, available_signatures, develop_signatures,
                                            needed_for_models, prevalidated_scores)
from radsurv.stats import fit_cox, harrell_c
from radsurv.validation import development_data, final_model_nomogram, validation_inputs
from radsurv.validation.optimism import _develop, resample_once, resample_rows
from radsurv.seeds import STREAM_OPTIMISM

from .test_optimism import _cohort as _optimism_cohort
from .test_results import PARAMS, PROFILE, _cohort, _models


def _prevalidated(cohort, radscores, seed=3):
    train = cohort.set_index("patient_id").loc[radscores.index, "split"] == "train"
    rng = np.random.default_rng(seed)
    ids = radscores.index[train.to_numpy()]
    return pd.DataFrame({"multimodal": 0.7 * radscores.loc[ids, "multimodal"] + rng.normal(0, 0.5, len(ids))},
                        index=ids)


def test_check_scores_and_the_nomogram_hold_on_the_prevalidated_design_only():
    cohort, radscores = _cohort(n=400, seed=2)
    pv = _prevalidated(cohort, radscores)
    # 04's scores of the model fitted on the pre-validated design
    design_rs = radscores.assign(multimodal=radscores["multimodal"].where(~radscores.index.isin(pv.index),
                                                                          pv["multimodal"].reindex(radscores.index)))
    d = cohort.set_index("patient_id")
    train = (d["split"] == "train").to_numpy()
    X = pd.DataFrame({"radscore": design_rs["multimodal"], "er[negative]": (d["er"] == "negative").astype(float),
                      "ki67": d["ki67"]})
    fit = fit_cox(X[train], d["dfs_time"][train], d["dfs_event"][train])
    models = _models(cohort, design_rs, coef={k: float(fit.coef[k]) for k in X.columns})
    inputs = validation_inputs(cohort, radscores, models, PROFILE, PARAMS, prevalidated=pv)
    assert inputs.training_scores == "prevalidated"
    np.testing.assert_array_equal(inputs.design.X.loc[pv.index, RADSCORE], pv["multimodal"])
    test = ~radscores.index.isin(pv.index)
    np.testing.assert_array_equal(inputs.design.X.loc[test, RADSCORE], radscores.loc[test, "multimodal"])
    # validated as deployed: the training patients scored with the final signature's
    # Rad-score (04's score plus the coefficient times the change), the others as written
    shift = fit.coef["radscore"] * (radscores.loc[pv.index, "multimodal"] - pv["multimodal"])
    np.testing.assert_allclose(inputs.scores.loc[pv.index, "imaging"],
                               models.scores.loc[pv.index, "imaging"] + shift, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(inputs.scores.loc[test, "imaging"], models.scores.loc[test, "imaging"])
    lp = X.assign(radscore=radscores["multimodal"]).to_numpy(float) @ fit.coef[list(X.columns)].to_numpy(float)
    np.testing.assert_allclose(inputs.scores["imaging"] - lp, (inputs.scores["imaging"] - lp).mean(), atol=1e-9)
    nom, calc = final_model_nomogram(inputs)   # the refit reproduces 04's coefficients
    assert calc.nomogram is nom
    # without the pre-validated scores the rebuilt design is not 04's: refused, saying what to pass
    with pytest.raises(ValueError, match="do not follow.*pre-validated Rad-scores"):
        validation_inputs(cohort, radscores, models, PROFILE, PARAMS)


@pytest.fixture(scope="module")
def profile():
    from radsurv.config import load_profile

    p = load_profile("quick")
    return {**p, "signatures": {**p["signatures"], "n_folds": 5, "nlambda": 30, "n_jobs": 1}}


def test_each_resample_weighs_its_own_prevalidated_scores(profile):
    X, outcome, design = _optimism_cohort(4, 200, 6, 0.6)
    ways = {w: development_data(X, set(), design, ["ki67", "grade"], ["mri_tic"], outcome, profile, None, None,
                                training_scores=w) for w in ("prevalidated", "resubstitution")}
    with pytest.raises(ValueError, match="training_scores: expected one of"):
        development_data(X, set(), design, ["ki67"], [], outcome, profile, None, None, training_scores="cv")
    dev = ways["prevalidated"]
    b, seed = 2, 11
    rows = resample_rows(dev.time.size, seed, b)
    stream = [seed, STREAM_OPTIMISM, b]
    six, radscore, fitted_on = _develop(dev, rows, stream)
    # the resample's signature, developed independently: its pre-validated Rad-scores are
    # what the models were fitted on
    Xb = dev.features.iloc[rows].reset_index(drop=True)
    ob = pd.DataFrame({"split": "train", "time": dev.time[rows], "event": dev.event[rows]}, index=Xb.index)
    sp = dev.signature_params
    sigs = develop_signatures(Xb, ob, set(), sp, seed=stream, n_jobs=1,
                              only=needed_for_models(sp["multimodal"]["feeds_models"], available_signatures(Xb)),
                              groups=rows)
    np.testing.assert_array_equal(fitted_on, prevalidated_scores(sigs)[MULTIMODAL])
    own = radscore(rows)
    assert np.ptp(own) > 0 and not np.allclose(fitted_on, own)
    fit = fit_cox(pd.DataFrame({RADSCORE: fitted_on}), dev.time[rows], dev.event[rows])
    assert six.models["signature"].fit_.coef[RADSCORE] == pytest.approx(fit.coef[RADSCORE], rel=1e-9)
    # apparent and test measures as the deployed model scores anyone, with the resample's
    # final signature: apparent on the resample's patients, test on the original training
    # patients (never the pre-validated scores the weight was fitted on)
    out = pd.DataFrame(resample_once(dev, b, seed)["models"]).set_index("model")
    sign = np.sign(fit.coef[RADSCORE])
    assert out.loc["signature", "apparent_c"] == pytest.approx(
        harrell_c(dev.time[rows], dev.event[rows], sign * own).c, abs=1e-12)
    assert out.loc["signature", "apparent_c"] != pytest.approx(
        harrell_c(dev.time[rows], dev.event[rows], sign * fitted_on).c, abs=1e-6)
    assert out.loc["signature", "test_c"] == pytest.approx(
        harrell_c(dev.time, dev.event, sign * radscore(np.arange(dev.time.size))).c, abs=1e-12)
    # the apparent slope: the weight fitted on pre-validated scores, measured on the final ones
    slope = fit_cox(pd.DataFrame({"lp": fit.coef[RADSCORE] * own}), dev.time[rows], dev.event[rows],
                    monotone="as_r").coef["lp"]
    assert out.loc["signature", "apparent_slope"] == pytest.approx(float(slope), rel=1e-9)
    assert abs(out.loc["signature", "apparent_slope"] - 1) > 0.05
    # the study's way weighs the resample signature's own scores
    six_r, _, fitted_r = _develop(ways["resubstitution"], rows, stream)
    np.testing.assert_array_equal(fitted_r, own)
    assert six_r.models["signature"].fit_.coef[RADSCORE] != pytest.approx(fit.coef[RADSCORE], rel=1e-3)

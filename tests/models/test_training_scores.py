"""Models 4-6 developed on pre-validated training Rad-scores (issue 27, item 4): the
design's substitution (training rows from radscores_prevalidated.csv, test rows from
radscores.csv), today's design without it, a test patient's Rad-score reaching no
training fit, and the comparison with the study's resubstitution way against direct fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.manuscript.models import describe_models, training_scores_sentence
from radsurv.models import (cohort_design, compare_training_scores, design_matrix, develop_models, imputer_for,
                            training_radscore)
from radsurv.models.design import RADSCORE
from radsurv.models.stage import training_scores_display
from radsurv.stats import fit_cox, harrell_c

COLUMNS = {"clinical": {"age": "numeric", "n_stage": ["N0", "N1", "N2"], "grade": ["G1", "G2", "G3"]},
           "mri": {"mri_margin": ["smooth", "spiculated"], "mri_noise": "numeric"}}
LABELS = {"age": "Age", "n_stage": "N stage"}
CLINICAL, MRI = ["age", "n_stage", "grade"], ["mri_margin", "mri_noise"]


def _study(seed=0, n=600):
    """A cohort whose final Rad-score is the resubstitution score of a signal ``a`` (its
    training rows fitted to the outcomes: signal plus noise that is correlated with the
    training outcome), and a pre-validated score that is the signal with fresh noise."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    a = rng.normal(size=n)
    split = np.array(["train", "train", "internal", "external"])[np.arange(n) % 4]
    cohort = pd.DataFrame({
        "patient_id": ids, "split": split, "age": rng.normal(50, 10, n),
        "n_stage": np.array(["N0", "N1", "N2"])[np.minimum((a + rng.normal(size=n) + 1.2).astype(int).clip(0), 2)],
        "grade": np.array(["G1", "G2", "G3"])[rng.integers(0, 3, n)],
        "mri_margin": np.array(["smooth", "spiculated"])[(a + rng.normal(size=n) > 0.5).astype(int)],
        "mri_noise": rng.normal(size=n)})
    lp = 0.7 * a + 0.5 * (cohort["n_stage"] != "N0").to_numpy()
    t = rng.exponential(50 * np.exp(-lp))
    c = rng.uniform(20, 120, n)
    time, event = np.minimum(t, c), (t <= c).astype(int)
    final = 0.8 * a + 0.6 * rng.normal(size=n)
    train = split == "train"
    # the LASSO's optimism on training: its fit leans towards who had an early event
    final[train] += 0.6 * (event[train] - event[train].mean())
    radscores = pd.DataFrame({"split": split, "multimodal": final}, index=pd.Index(ids, name="patient_id"))
    pv = pd.DataFrame({"multimodal": 0.8 * a[train] + 0.6 * rng.normal(size=int(train.sum())),
                       "mri": rng.normal(size=int(train.sum()))}, index=pd.Index(np.array(ids)[train], name="patient_id"))
    outcome = pd.DataFrame({"split": split, "time": time, "event": event}, index=radscores.index)
    return cohort, radscores, pv, outcome


def _develop(design, outcome, imputer=None):
    train = (outcome["split"] == "train").to_numpy()
    sub = design.subset(design.X.index[train])
    return develop_models(sub, CLINICAL, MRI, outcome.loc[train, "time"], outcome.loc[train, "event"],
                          imputer=imputer)


def test_without_prevalidated_the_design_is_todays():
    cohort, radscores, _, _ = _study()
    design, clinical, mri = cohort_design(cohort, radscores, COLUMNS, LABELS)
    today = design_matrix(cohort.set_index("patient_id"), {**COLUMNS["clinical"], **COLUMNS["mri"]},
                          {**LABELS, RADSCORE: "Multi-modal Rad-score"},
                          extra=radscores[["multimodal"]].rename(columns={"multimodal": RADSCORE}))
    pd.testing.assert_frame_equal(design.X, today.X)
    assert design.groups == today.groups and design.labels == today.labels
    assert (clinical, mri) == (CLINICAL, MRI)


def test_training_rows_are_prevalidated_and_test_rows_the_final_signature():
    cohort, radscores, pv, _ = _study()
    design, _, _ = cohort_design(cohort, radscores, COLUMNS, LABELS, prevalidated=pv)
    plain, _, _ = cohort_design(cohort, radscores, COLUMNS, LABELS)
    train = (radscores["split"] == "train").to_numpy()
    ids = radscores.index
    np.testing.assert_array_equal(design.X.loc[ids[train], RADSCORE].to_numpy(), pv.loc[ids[train], "multimodal"])
    np.testing.assert_array_equal(design.X.loc[ids[~train], RADSCORE].to_numpy(),
                                  radscores.loc[ids[~train], "multimodal"])
    # nothing else changes: the clinical and MRI columns, the coding, the order of patients
    pd.testing.assert_frame_equal(design.X.drop(columns=RADSCORE), plain.X.drop(columns=RADSCORE))
    assert list(design.X.index) == list(ids)
    # the other columns of the file (other signatures) are not used
    assert not np.allclose(design.X.loc[ids[train], RADSCORE], pv.loc[ids[train], "mri"])


def test_a_constant_final_signature_is_kept():
    cohort, radscores, pv, _ = _study()
    flat = radscores.assign(multimodal=np.where(radscores["split"] == "train", 0.0, radscores["multimodal"]))
    s = training_radscore(flat, pv, (flat["split"] == "train").to_numpy())
    pd.testing.assert_series_equal(s, flat["multimodal"].rename(RADSCORE))


def test_bad_prevalidated_file_names_the_file_and_the_patient():
    cohort, radscores, pv, _ = _study()
    train = (radscores["split"] == "train").to_numpy()
    with pytest.raises(ValueError, match=r"radscores_prevalidated.csv: lacks 1 training patient\(s\), e.g. \['P000'\]"):
        training_radscore(radscores, pv.drop(index="P000"), train)
    with pytest.raises(ValueError, match=r"holds 1 patient\(s\) who are not training patients.*\['P002'\]"):
        training_radscore(radscores, pd.concat([pv, pv.iloc[:1].rename(index={"P000": "P002"})]), train)
    with pytest.raises(ValueError, match="no 'multimodal' column"):
        training_radscore(radscores, pv.drop(columns="multimodal"), train)
    with pytest.raises(ValueError, match=r"'multimodal' is missing for 1 training patient\(s\), e.g. \['P001'\]"):
        training_radscore(radscores, pv.assign(multimodal=pv["multimodal"].where(pv.index != "P001")), train)


@pytest.mark.parametrize("impute", [False, True])
def test_a_test_patients_radscore_changes_no_training_coefficient(impute):
    cohort, radscores, pv, outcome = _study()
    if impute:   # a missing Ki-67-like value: the imputer, fitted on training, sees the substituted column
        cohort.loc[cohort.index[::7], "age"] = np.nan
    poisoned = radscores.copy()
    test = poisoned["split"] != "train"
    poisoned.loc[test, "multimodal"] = 1e3 * np.arange(int(test.sum()))
    fits = []
    for rs in (radscores, poisoned):
        design, _, _ = cohort_design(cohort, rs, COLUMNS, LABELS, prevalidated=pv)
        imputer = imputer_for(design, [*CLINICAL, *MRI], {"missing": "auto", "imputation": {"m": 3, "max_iter": 3}},
                              seed=1) if impute else None
        fits.append(_develop(design, outcome, imputer))
        assert (fits[-1].imputer is not None) == impute
    assert list(fits[0].models) == list(fits[1].models) and "imaging" in fits[0].models
    for k in fits[0].models:
        pd.testing.assert_series_equal(fits[0].models[k].fit_.coef, fits[1].models[k].fit_.coef, check_exact=True)


@pytest.fixture(scope="module")
def both_ways():
    cohort, radscores, pv, outcome = _study()
    design, _, _ = cohort_design(cohort, radscores, COLUMNS, LABELS, prevalidated=pv)
    design_study, _, _ = cohort_design(cohort, radscores, COLUMNS, LABELS)
    six, study = _develop(design, outcome), _develop(design_study, outcome)
    comparison = compare_training_scores(six, study, six.scores(design), study.scores(design_study), outcome)
    return design, design_study, outcome, six, study, comparison


def test_each_row_is_a_direct_fit_on_its_design(both_ways):
    design, design_study, outcome, six, study, comparison = both_ways
    t = comparison.table.set_index(["way", "model"])
    assert list(t.index) == [("prevalidated", "radiomics"), ("prevalidated", "imaging"),
                             ("resubstitution", "radiomics"), ("resubstitution", "imaging")]
    train = (outcome["split"] == "train").to_numpy()
    for way, d in (("prevalidated", design), ("resubstitution", design_study)):
        for key in ("radiomics", "imaging"):
            cols = d.columns(six.models[key].variables)
            X = d.X.loc[train, cols]
            fit = fit_cox(X, outcome.loc[train, "time"].to_numpy(), outcome.loc[train, "event"].to_numpy())
            row = t.loc[(way, key)]
            assert row["coef"] == pytest.approx(fit.coef[RADSCORE], rel=1e-9)
            assert (row["hr_lower"], row["hr_upper"]) == pytest.approx(
                (fit.hr_lower[RADSCORE], fit.hr_upper[RADSCORE]), rel=1e-9)
            assert row["p"] == pytest.approx(fit.p[RADSCORE], rel=1e-9)
            # Harrell's C per set of the direct fit's linear predictor
            lp = d.X[cols].to_numpy() @ fit.coef[cols].to_numpy()
            for s in ("train", "internal", "external"):
                sel = (outcome["split"] == s).to_numpy()
                c = harrell_c(outcome.loc[sel, "time"].to_numpy(), outcome.loc[sel, "event"].to_numpy(), lp[sel])
                assert row[f"c_{s}"] == pytest.approx(c.c, abs=1e-12)
    # the study's way weighs the Rad-score on scores fitted to these outcomes: a larger HR
    # and training C than the pre-validated way, from the same variables
    assert study.models["imaging"].variables == six.models["imaging"].variables
    assert t.loc[("resubstitution", "imaging"), "hr"] > t.loc[("prevalidated", "imaging"), "hr"]
    assert t.loc[("resubstitution", "imaging"), "c_train"] > t.loc[("prevalidated", "imaging"), "c_train"]
    # the added-value test is the LR test of each way's nested models
    lr = study.likelihood_ratio_tests().set_index("model")
    assert t.loc[("resubstitution", "imaging"), "added_p"] == lr.loc["imaging", "p"]


def test_display_variables_and_results_sentence(both_ways):
    *_, comparison = both_ways
    shown = training_scores_display(comparison.table)
    assert shown["Training Rad-score"].tolist() == ["Pre-validated (primary)"] * 2 + [
        "Resubstitution (the study's way)"] * 2
    r = comparison.table.iloc[1]
    assert shown["Rad-score HR (95% CI)"].iloc[1].startswith(f"{r.hr:.2f}")
    v = comparison.variables()
    assert v["imaging"]["prevalidated"]["c_external"] == f"{r.c_external:.3f}"
    text = training_scores_sentence(v)
    rs = comparison.table.iloc[3]
    assert f"hazard ratio of {rs.hr:.2f} ({rs.hr_lower:.2f}-{rs.hr_upper:.2f}) against {r.hr:.2f}" in text
    assert "@tbl-radscore-training" in text and "multi-modal clinical imaging model" in text
    assert training_scores_sentence({}) == ""
    assert "pre-validated" in describe_models({"training_scores": v}, {})
    assert "pre-validated" not in describe_models({"training_scores": v, "radscore_constant": True}, {})

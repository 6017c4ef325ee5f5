"""Issue 27, item 4 in stage 06: the cross-validated X-tile split cuts the pre-validated
Rad-score, and the permutation null of the whole development also tests the X-tile split
of the training set (its maximally selected statistic against the permuted developments').

Real values throughout: the split is checked against the folds' cuts recomputed by hand,
the permutation p against ``(1 + #{null >= observed}) / (B + 1)``, the recorded statistic
against the permuted development's own training Rad-score and permuted outcomes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from radsurv.manuscript.sensitivity import describe_sensitivity, describe_sensitivity_methods
from radsurv.sensitivity.cutpoints import (NO_CV_SPLIT, cross_validated_groups, cutpoint_check, cutpoint_comparison,
                                           shrinkage)
from radsurv.sensitivity.permutation import (NULL_COLUMNS, XTILE, Permutation, PermutationNull, observed_xtile,
                                             permutation_once, xtile_summary)
from radsurv.sensitivity.stage import XTILE_P_COLUMN, cutpoint_display, sensitivity_variables
from radsurv.signatures.development import MULTIMODAL
from radsurv.signatures.risk_groups import RiskGroups, group_summary, xtile_statistic

from test_cutpoints import data as cut_data
from test_permutation import cohort
from test_sensitivity_stage import CUTS, NULL, PARAMS, SUMMARY


def _indexed():
    """test_cutpoints' cohort with patient identifiers, and a pre-validated score of the
    training patients that ranks them differently from the training score (the training
    score plus noise of twice its SD), stored in reverse order (aligned by patient)."""
    score, outcome = cut_data()
    ids = pd.Index([f"P{i:03d}" for i in range(len(score))], name="patient_id")
    score.index, outcome.index = ids, ids
    train = (outcome["split"] == "train").to_numpy()
    rng = np.random.default_rng(11)
    pv = pd.Series(score[train].to_numpy() + rng.normal(0, 2, train.sum()), index=ids[train])
    return score, outcome, pv.iloc[::-1]


def _fitted(score, outcome):
    train = (outcome["split"] == "train").to_numpy()
    return RiskGroups(n_permutations=0, n_bootstrap=0).fit(score[train], outcome.loc[train, "time"],
                                                           outcome.loc[train, "event"])


# -- the cross-validated X-tile on the pre-validated score --------------------------------
def test_without_a_prevalidated_score_the_comparison_is_todays():
    score, outcome, _ = _indexed()
    groups = _fitted(score, outcome)
    none = cutpoint_comparison(score, outcome, groups, 5, [7, 1])
    # today's cross-validated split: the folds' cuts of the training score itself
    tr = (outcome["split"] == "train").to_numpy()
    t, e = outcome.loc[tr, "time"].to_numpy(), outcome.loc[tr, "event"].to_numpy()
    expected = group_summary(t, e, cross_validated_groups(score[tr].to_numpy(), t, e, 5, [7, 1]))
    cv = none[(none["set"] == "train") & (none["split_by"] == "X-tile, cross-validated")].iloc[0]
    assert cv["hr"] == pytest.approx(expected["hr"], rel=1e-12) and cv["n_high"] == expected["n_high"]
    # the training score passed as its own "pre-validated" score is the same table, to the bit
    same = cutpoint_comparison(score, outcome, groups, 5, [7, 1], prevalidated=score[tr])
    pd.testing.assert_frame_equal(none, same)
    check = cutpoint_check(score, outcome, 0.1, 5, [7, 1])
    pd.testing.assert_frame_equal(check.comparison, none)
    assert check.score_cv == "training" and check.note == ""


def test_the_cross_validated_split_cuts_the_prevalidated_score_and_nothing_else_moves():
    score, outcome, pv = _indexed()
    groups = _fitted(score, outcome)
    none = cutpoint_comparison(score, outcome, groups, 5, [7, 1])
    got = cutpoint_comparison(score, outcome, groups, 5, [7, 1], prevalidated=pv)
    tr = (outcome["split"] == "train").to_numpy()
    t, e = outcome.loc[tr, "time"].to_numpy(), outcome.loc[tr, "event"].to_numpy()
    x_pv = pv.loc[outcome.index[tr]].to_numpy()      # by patient, not by position
    expected = group_summary(t, e, cross_validated_groups(x_pv, t, e, 5, [7, 1]))
    is_cv = (got["set"] == "train") & (got["split_by"] == "X-tile, cross-validated")
    row = got[is_cv].iloc[0]
    for col in ("n_low", "n_high", "events_low", "events_high", "hr", "hr_lower", "hr_upper", "logrank_p"):
        assert row[col] == pytest.approx(expected[col], rel=1e-12), col
    # the noisier score's out-of-fold split separates less than the training score's
    assert 1 < row["hr"] < none[is_cv].iloc[0]["hr"]
    # the X-tile cut, the median and the tertiles stay on the training Rad-score (03's)
    pd.testing.assert_frame_equal(got[~is_cv], none[~is_cv])
    check = cutpoint_check(score, outcome, 0.1, 5, [7, 1], prevalidated=pv)
    pd.testing.assert_frame_equal(check.comparison, got)
    assert check.score_cv == "pre-validated" and "pre-validated Rad-score" in check.title()
    assert check.shrinkage == pytest.approx(shrinkage(got)) and check.shrinkage < shrinkage(none)


def test_bad_prevalidated_scores_are_refused_naming_the_patient():
    score, outcome, pv = _indexed()
    groups = _fitted(score, outcome)
    with pytest.raises(ValueError, match=r"no pre-validated Rad-score for 1 training patients, e\.g\. \['P005'\]"):
        cutpoint_comparison(score, outcome, groups, 5, [7, 1], prevalidated=pv.drop("P005"))
    with pytest.raises(ValueError, match=r"not finite, e\.g\. \['P007'\].*radscores_prevalidated\.csv"):
        cutpoint_comparison(score, outcome, groups, 5, [7, 1], prevalidated=pv.where(pv.index != "P007"))
    # scores of test patients in the file are ignored: poisoned, they change nothing
    extra = pd.concat([pv, pd.Series(1e6, index=outcome.index[outcome["split"] != "train"])])
    pd.testing.assert_frame_equal(cutpoint_comparison(score, outcome, groups, 5, [7, 1], prevalidated=extra),
                                  cutpoint_comparison(score, outcome, groups, 5, [7, 1], prevalidated=pv))


def test_a_constant_prevalidated_score_forms_no_cross_validated_split():
    score, outcome, pv = _indexed()
    check = cutpoint_check(score, outcome, 0.1, 5, [7, 1], prevalidated=pv * 0.0)   # every fold fit kept nothing
    cv = check.comparison[check.comparison["split_by"] == "X-tile, cross-validated"].iloc[0]
    assert cv[["n_low", "n_high", "hr", "logrank_p"]].isna().all()
    assert check.note == NO_CV_SPLIT and np.isnan(check.shrinkage) and NO_CV_SPLIT in check.title()
    # the other splits are still reported; the table says "–" rather than "nan (nan)"
    assert np.isfinite(check.comparison[check.comparison["split_by"] == "median"]["hr"]).all()
    shown = cutpoint_display(check.comparison).iloc[1]
    assert list(shown)[2:] == ["–", "–", "–", "–"]
    v = sensitivity_variables(PARAMS, NULL, SUMMARY, check.comparison, check.shrinkage)
    assert v["cutpoint"]["train"]["xtile_cv"] == "–" and v["cutpoint"]["shrinkage"] == "–"
    text = describe_sensitivity(v)
    assert f"X-tile cut gave a hazard ratio of {v['cutpoint']['train']['xtile']} (@tbl-cutpoints)." in text
    assert "cross-validated version" not in text


# -- the X-tile statistic in the permutation null of the whole development ------------------
def test_xtile_summary_is_the_phipson_smyth_p():
    null = pd.DataFrame({XTILE: [1.0, 2.0, 3.0, np.nan, 2.5]})        # NaN: a failed permutation, left out
    got = xtile_summary(null, 2.5)
    assert got["p"] == pytest.approx((1 + 2) / (4 + 1)) and got["n_permutations"] == 4   # ties count
    assert got["null_mean"] == pytest.approx(2.125) and got["null_q95"] == pytest.approx(np.quantile([1, 2, 3, 2.5],
                                                                                                       0.95))
    assert xtile_summary(null, 9.0)["p"] == pytest.approx(1 / 5)           # never 0
    assert xtile_summary(null, 0.0)["p"] == 1.0                           # no feature kept: no split, no claim
    assert np.isnan(xtile_summary(null.iloc[:0], 2.0)["p"])                # no null
    assert np.isnan(xtile_summary(pd.DataFrame({"c_internal": [0.5]}), 2.0)["p"])   # an older table
    perm = PermutationNull(null=NULL.assign(**{XTILE: [1.0, 4.0, np.nan, 0.0]}), observed={}, n_permutations=4,
                           observed_xtile=3.0)
    assert perm.xtile()["p"] == pytest.approx(2 / 4)
    assert "training X-tile statistic 3.00, whole-development permutation p 0.5" in perm.title()
    # a permutation developed by hand matches the null's only with the same statistic
    row = {"permutation": 1, "c_internal": 0.5, "c_external": 0.6, "n_selected": 2, "failed": "", XTILE: 2.0}
    null1 = PermutationNull(null=pd.DataFrame([row]), observed={}, n_permutations=1)
    one = Permutation(b=1, n_train=10, n_moved=9, row={k: v for k, v in row.items() if k != "permutation"},
                      features=(), observed={})
    assert null1.matches(one) and not null1.matches(dataclasses.replace(one, row={**one.row, XTILE: 2.5}))


def test_the_observed_statistic_is_03s_maximally_selected_statistic():
    score, outcome, _ = _indexed()
    params = {"cutpoint": {"min_prop": 0.15}}
    tr = (outcome["split"] == "train").to_numpy()
    groups = RiskGroups(min_prop=0.15, max_prop=0.85, n_permutations=0, n_bootstrap=0).fit(
        score[tr], outcome.loc[tr, "time"], outcome.loc[tr, "event"])
    assert observed_xtile(score, outcome, params) == pytest.approx(groups.statistic_, rel=1e-12)
    assert observed_xtile(score * 0 + 2.0, outcome, params) == 0.0          # constant: nothing selected


@pytest.fixture(scope="module")
def sig_params(quick_profile):
    return quick_profile["signatures"]


def test_each_permutation_records_its_own_training_xtile_against_its_permuted_outcomes(sig_params):
    X, outcome = cohort(0.5, n=(120, 40, 40), p=10)
    out = permutation_once(X, outcome, set(), sig_params, 5, 1, keep_model=True)
    assert out["failed"] == "" and out["n_selected"] > 0
    train = (outcome["split"] == "train").to_numpy()
    x = out["model"].predict(X).to_numpy()[train]
    permuted = out["permuted"]
    mp = float(sig_params["cutpoint"]["min_prop"])
    expected = xtile_statistic(x, permuted["time"].to_numpy()[train], permuted["event"].to_numpy()[train], mp, 1 - mp)
    assert out[XTILE] == pytest.approx(expected, rel=1e-12) and expected > 0
    # against the real outcomes the same score gives another statistic: the null row is the permuted one
    real = xtile_statistic(x, outcome["time"].to_numpy()[train], outcome["event"].to_numpy()[train], mp, 1 - mp)
    assert abs(real - expected) > 1e-6
    assert NULL_COLUMNS[-1] == XTILE and NULL_COLUMNS[:5] == ["permutation", "c_internal", "c_external",
                                                               "n_selected", "failed"]
    # a failed development (two training events cannot fill the folds) records no statistic:
    # NaN, left out of the null as its C is
    few = outcome.assign(event=np.where(train, 0, outcome["event"]))
    few.loc[few.index[train][:2], "event"] = 1
    failed = permutation_once(X, few, set(), sig_params, 5, 1)
    assert "cannot fill" in failed["failed"] and np.isnan(failed[XTILE])


# -- the table, the variables and the paper -------------------------------------------------
def test_table_variables_and_paper_carry_the_xtile_permutation_p():
    cuts = cutpoint_display(CUTS, xtile_p=0.0196)
    assert list(cuts.columns)[-1] == XTILE_P_COLUMN
    assert list(cuts[XTILE_P_COLUMN]) == ["0.020", "–"]             # the training X-tile row only
    pd.testing.assert_frame_equal(cuts.drop(columns=XTILE_P_COLUMN), cutpoint_display(CUTS))   # else unchanged
    x = {"observed": 4.213, "null_mean": 2.5, "null_q95": 3.9, "n_permutations": 3, "p": 0.25}
    v = sensitivity_variables(PARAMS, NULL, SUMMARY, CUTS, 0.6667, xtile=x)
    assert v["permutation"]["xtile"] == {"observed": "4.21", "null_mean": "2.50", "null_q95": "3.90", "n": 3,
                                         "p": "0.250"}
    text = describe_sensitivity(v)
    assert ("The X-tile split of the training Rad-score had a maximally selected log-rank statistic of 4.21 against "
            "2.50 on average (95th percentile 3.90) for the signatures developed on permuted outcomes, a "
            "whole-development permutation p of 0.250 (@tbl-cutpoints)") in text
    assert "replaces the approximate Lausen-Schumacher and permutation p-values" in text
    # next to the permutation null's sentence, before the cut-point check's
    assert text.index("(@tbl-permutation, @fig-permutation)") < text.index("whole-development permutation p") \
        < text.index("shrinkage of the log hazard ratio")
    # not written without a split (constant Rad-score) or without a null
    assert "xtile" not in sensitivity_variables(PARAMS, NULL, SUMMARY, None, np.nan, radscore_constant=True,
                                                xtile={**x, "p": 1.0})["permutation"]
    assert "xtile" not in sensitivity_variables(PARAMS, NULL, SUMMARY, CUTS, 0.6667,
                                                xtile={**x, "p": np.nan, "n_permutations": 0})["permutation"]
    assert "X-tile split of the training" not in describe_sensitivity(
        sensitivity_variables(PARAMS, NULL, SUMMARY, CUTS, 0.6667))
    methods = describe_sensitivity_methods(PARAMS)
    assert "maximally selected log-rank statistic of its own training Rad-score" in methods
    assert "applied to the pre-validated Rad-score" in methods and "[@tibshirani2002]" in methods


def test_the_stage_writes_the_xtile_p_and_says_why_a_cross_validated_split_is_missing(tmp_path, root):
    """write_sensitivity_artefacts with a real cut-point check (its pre-validated score
    constant: no cross-validated split) and a fabricated null that recorded the X-tile
    statistic: every declared output, the table's column, the variables and their reason."""
    import yaml

    from radsurv.config import load_profile, stage_params
    from radsurv.pipeline.execute import check_outputs
    from radsurv.sensitivity.stage import write_sensitivity_artefacts
    from radsurv.stages import open_stage, stage_by_name, stage_declaration

    stage = stage_by_name("06_sensitivity")
    params = stage_params(load_profile("quick", root), stage.sections)
    params["sensitivity"]["permutation"]["n"] = 4
    params["sensitivity"]["harmonisation"]["run"] = False
    params["sensitivity"]["variants"]["run"] = False
    ctx = open_stage(stage_declaration(stage), "unused.yml", tmp_path, tmp_path / "06_sensitivity.partial", params)
    score, outcome, pv = _indexed()
    cutpoints = cutpoint_check(score, outcome, 0.1, 5, [7, 1], prevalidated=pv * 0.0)
    observed = {"internal": 0.7, "external": 0.6}
    stat = observed_xtile(score, outcome, {"cutpoint": {"min_prop": 0.1}})
    null = NULL.assign(**{XTILE: [stat + 1.0, 0.0, np.nan, stat]})    # one above, one tie, one failed
    perm = PermutationNull(null=null, observed=observed, n_permutations=4, observed_xtile=stat)
    v = write_sensitivity_artefacts(ctx, perm, cutpoints)
    assert check_outputs(stage, ctx.out_dir) == ([], [])
    doc = yaml.safe_load((ctx.out_dir / "variables.yml").read_text(encoding="utf-8"))["sensitivity"]
    assert doc == v
    assert doc["permutation"]["xtile"]["p"] == "0.750" and doc["permutation"]["xtile"]["n"] == 3   # (1 + 2) / 4
    assert doc["not_estimable"] == [NO_CV_SPLIT]
    table = (ctx.out_dir / "cutpoints_table.md").read_text(encoding="utf-8")
    assert f"| {XTILE_P_COLUMN} |" in table and "| 0.750 " in table and "(3 permutations)" in table
    assert "of the pre-validated Rad-score" in table
    written = pd.read_csv(ctx.out_dir / "permutation_null.csv")
    assert list(written.columns) == NULL_COLUMNS and written[XTILE].iloc[0] == pytest.approx(stat + 1.0)

"""The cut-point check: the cross-validated X-tile split assigns each patient by a cut
found without them, tertiles and median need no search, and the shrinkage is the ratio
of the log hazard ratios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.sensitivity.cutpoints import (CUT_COLUMNS, cross_validated_groups, cutpoint_comparison, shrinkage,
                                           tertile_summary)
from radsurv.signatures.risk_groups import RiskGroups, group_summary
from radsurv.signatures.signature import fold_ids
from radsurv.stats import fit_cox, logrank, optimal_cutpoint


def data(n=(120, 60, 60), seed=2):
    rng = np.random.default_rng(seed)
    n_all = sum(n)
    x = rng.normal(size=n_all)
    t_event = rng.exponential(50 * np.exp(-0.8 * x))
    t_cens = rng.uniform(10, 100, n_all)
    outcome = pd.DataFrame({"split": np.repeat(["train", "internal", "external"], n),
                            "time": np.minimum(t_event, t_cens), "event": (t_event <= t_cens).astype(int)})
    return pd.Series(x, index=outcome.index), outcome


def test_each_patient_is_assigned_by_a_cut_chosen_without_them():
    score, outcome = data()
    tr = outcome["split"] == "train"
    x, t, e = score[tr].to_numpy(), outcome.loc[tr, "time"].to_numpy(), outcome.loc[tr, "event"].to_numpy()
    groups = cross_validated_groups(x, t, e, 5, [7, 1])
    folds = fold_ids(e, 5, [7, 1])
    for k in np.unique(folds):
        held = folds == k
        cut = optimal_cutpoint(t[~held], e[~held], x[~held], 0.1, 0.9, logrank_grid=False).cutpoint
        assert list(groups[held]) == list(np.where(x[held] > cut, "high", "low"))
    # a patient's own outcome does not move their group: change it, and their group stays
    t2 = t.copy()
    t2[0] = t.max() * 3
    assert cross_validated_groups(x, t2, e, 5, [7, 1])[0] == groups[0]


def test_tertiles_hr_is_the_top_against_the_bottom_third():
    score, outcome = data()
    x, t, e = score.to_numpy(), outcome["time"].to_numpy(), outcome["event"].to_numpy()
    cuts = tuple(np.quantile(x, [1 / 3, 2 / 3]))
    got = tertile_summary(t, e, x, cuts)
    group = np.where(x > cuts[1], 2, np.where(x > cuts[0], 1, 0))
    outer = group != 1
    fit = fit_cox(pd.DataFrame({"top": (group[outer] == 2) * 1.0}), t[outer], e[outer])
    assert got["hr"] == pytest.approx(float(fit.hr["top"]), rel=1e-12)
    assert (got["n_low"], got["n_high"]) == (int((group == 0).sum()), int((group == 2).sum()))
    assert got["logrank_p"] == pytest.approx(logrank(t, e, group).p, rel=1e-12)   # across the three thirds
    assert got["hr"] > 1.5                                     # the simulated log HR 0.8 per SD
    # a middle third without events (monotone for a three-group Cox model) changes nothing here
    e2 = np.where(group == 1, 0, e)
    assert np.isfinite(tertile_summary(t, e2, x, cuts)["hr"])


def test_comparison_rows_and_the_shrinkage():
    score, outcome = data()
    tr = (outcome["split"] == "train").to_numpy()
    groups = RiskGroups(n_permutations=0, n_bootstrap=0).fit(score[tr], outcome.loc[tr, "time"],
                                                             outcome.loc[tr, "event"])
    comp = cutpoint_comparison(score, outcome, groups, 5, [7, 1])
    assert list(comp.columns) == CUT_COLUMNS
    assert list(zip(comp["set"], comp["split_by"])) == [
        ("train", "X-tile"), ("train", "X-tile, cross-validated"), ("train", "median"), ("train", "tertiles"),
        ("internal", "X-tile"), ("internal", "median"), ("internal", "tertiles"),
        ("external", "X-tile"), ("external", "median"), ("external", "tertiles")]
    # the X-tile rows are 03's rule: the frozen training cut applied to each set
    ext = (outcome["split"] == "external").to_numpy()
    expected = group_summary(outcome.loc[ext, "time"], outcome.loc[ext, "event"], groups.assign(score[ext]))
    row = comp[(comp["set"] == "external") & (comp["split_by"] == "X-tile")].iloc[0]
    assert row["hr"] == pytest.approx(expected["hr"], rel=1e-12) and row["cut"] == groups.cutpoint_
    med = comp[(comp["set"] == "train") & (comp["split_by"] == "median")].iloc[0]
    assert med["cut"] == pytest.approx(float(np.median(score[tr]))) and med["n_high"] == 60
    tr_rows = comp[comp["set"] == "train"].set_index("split_by")["hr"]
    assert shrinkage(comp) == pytest.approx(np.log(tr_rows["X-tile, cross-validated"]) / np.log(tr_rows["X-tile"]))


def test_shrinkage_closed_form_and_undefined_cases():
    comp = pd.DataFrame({"set": ["train", "train"], "split_by": ["X-tile", "X-tile, cross-validated"],
                         "hr": [4.0, 2.0]})
    assert shrinkage(comp) == pytest.approx(0.5)
    assert np.isnan(shrinkage(comp.assign(hr=[np.nan, 2.0])))
    assert np.isnan(shrinkage(comp.iloc[:1]))

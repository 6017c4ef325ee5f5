"""The build's own outcome draw among redraws of the twin's outcomes (issue 27, item 2):
the redrawn cohort changes the follow-up, events and split only; the percentile is the
mid-rank one; the summary, the share of draws the imaging model wins, the variables, the
paper's table and sentence follow the draws. That the own draw reproduces 03's and 04's
C-indices is checked on the quick build (tests/e2e) and by OutcomeDraws.run itself."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from radsurv.cohort.manifest import ManifestSpec, derive_split
from radsurv.cohort.twin import simulate_cohort
from radsurv.manuscript.sensitivity import describe_outcome_draws, describe_outcome_draws_methods
from radsurv.sensitivity.outcome_draws import DRAW_MEASURES, OutcomeDraws, percentile, redrawn_cohort
from radsurv.sensitivity.stage import outcome_draws_display, outcome_draws_variables


@pytest.fixture(scope="module")
def small(quick_profile):
    prof = copy.deepcopy(quick_profile)
    prof["cohort"]["twin"]["n_per_center"] = {1: 80, 2: 20, 3: 15}
    prof["cohort"]["split"]["n_train"] = 52
    twin = simulate_cohort(prof["cohort"]["twin"], int(prof["seed"]))
    data = twin.manifest.assign(center=twin.manifest["center"].astype(str))   # as the manifest reader types it
    spec = ManifestSpec.from_profile(prof)
    data["split"] = derive_split(data, spec, 52, int(prof["seed"]), prof["cohort"]["split"]["stratify"]).to_numpy()
    return prof, data, twin


def test_the_own_draw_is_the_builds_cohort(small):
    prof, data, twin = small
    own, eta = redrawn_cohort(data, prof, None)
    pd.testing.assert_frame_equal(own, data)
    assert np.array_equal(eta.to_numpy(), twin.truth["eta"].to_numpy())
    assert list(eta.index) == list(data["patient_id"])


def test_a_redraw_moves_the_outcomes_and_the_split_only(small):
    prof, data, twin = small
    other, eta = redrawn_cohort(data, prof, 3)
    moved = ["dfs_time", "dfs_event", "split"]
    pd.testing.assert_frame_equal(other.drop(columns=moved), data.drop(columns=moved))
    assert (other["dfs_time"] != data["dfs_time"]).mean() > 0.9
    assert np.array_equal(eta.to_numpy(), twin.truth["eta"].to_numpy())   # same patients, same true risk
    # the split is 00's rule on the new events: the external centres stay external, centre 1 is split
    assert (other["split"] == "external").sum() == (data["split"] == "external").sum()
    assert (other["split"] == "train").sum() == 52
    assert (other["split"] != data["split"]).any()
    # and the new outcomes are the simulator's for that seed
    again = simulate_cohort(prof["cohort"]["twin"], int(prof["seed"]), outcome_seed=3).manifest
    assert np.array_equal(other["dfs_time"].to_numpy(), again["dfs_time"].to_numpy())


def test_a_cohort_that_is_not_the_twins_is_refused(small):
    prof, data, _ = small
    stranger = data.assign(patient_id=data["patient_id"].str.replace("TW", "PT"))
    with pytest.raises(ValueError, match=r"115 patients \(first PT0001\) are not the twin's"):
        redrawn_cohort(stranger, prof, 1)


def test_percentile_is_the_mid_rank():
    draws = np.array([0.6, 0.7, 0.7, 0.8, np.nan])
    assert percentile(draws, 0.7) == pytest.approx(100 * (1 + 0.5 * 2) / 4)
    assert percentile(draws, 0.5) == 0.0 and percentile(draws, 0.9) == 100.0
    assert np.isnan(percentile(np.array([np.nan]), 0.7)) and np.isnan(percentile(draws, np.nan))


def _draws(n: int = 5) -> OutcomeDraws:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({k: rng.uniform(0.6, 0.8, n) for k in DRAW_MEASURES})
    table.insert(0, "outcome_seed", np.arange(1, n + 1))
    table["imaging_external"] = [0.9, 0.5, 0.9, 0.5, 0.9]     # the best in draws 1, 3, 5
    table["oracle_external"] = 0.85
    table["failed"] = ["", "", "", "", ""]
    failed = table.iloc[[0]].assign(outcome_seed=6, failed="ValueError: singular", **{k: np.nan for k in DRAW_MEASURES})
    own = {k: 0.7 for k in DRAW_MEASURES}
    return OutcomeDraws(draws=pd.concat([table, failed], ignore_index=True), own=own)


def test_summary_best_share_and_variables():
    d = _draws()
    assert len(d.developed) == 5 and d.n_failed == 1
    assert d.best_share() == pytest.approx(0.6)
    s = d.summary()
    assert list(s.index) == DRAW_MEASURES
    row = s.loc["imaging_external"]
    assert row["draws"] == 5 and row["mean"] == pytest.approx(0.74) and row["percentile"] == pytest.approx(40.0)
    assert s.loc["oracle_external", "percentile"] == 0.0 and s.loc["oracle_external", "sd"] == 0.0
    v = outcome_draws_variables(d)
    assert v["n"] == 6 and v["n_developed"] == 5 and v["n_failed"] == 1 and v["imaging_best_pct"] == "60"
    assert v["imaging_external"] == {"own": "0.700", "mean": "0.740", "percentile": "40"}
    shown = outcome_draws_display(d)
    assert len(shown) == 14 and list(shown.columns)[-1] == "Percentile of this build"
    imaging = shown[(shown["Model"] == "Multi-modal clinical imaging model") & (shown["Set"] == "External test")]
    assert imaging.iloc[0]["This build"] == "0.700" and imaging.iloc[0]["Percentile of this build"] == "40"
    ax = d.plot()
    assert len(ax.get_yticklabels()) == 7


def test_the_papers_sentences():
    v = outcome_draws_variables(_draws())
    text = describe_outcome_draws(v)
    assert text.startswith("Over 5 other draws of the simulated outcomes (1 more could not be developed), ")
    assert "the clinical imaging model's external C averaged 0.740 (this build 0.700, percentile 40)" in text
    assert "best of the six on the external set in 60% of the draws" in text
    assert text.endswith("(@tbl-outcome-draws, @fig-outcome-draws).")
    assert describe_outcome_draws({}) == ""
    assert "drawn 6 more times" in describe_outcome_draws_methods(v)

"""benchmarks/calibrate_signal.py redraws the twin's outcomes without touching its
patients (so that a build's images and features stay valid): its cohort must be the
simulator's, column for column, and another outcome seed must change the outcomes only."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

from radsurv.cohort.twin import simulate_cohort


def _script(root):
    spec = importlib.util.spec_from_file_location("calibrate_signal", root / "benchmarks" / "calibrate_signal.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scripts_cohort_is_the_simulators_and_a_new_outcome_seed_moves_only_the_outcome(paper_profile, root):
    twin_cfg = paper_profile["cohort"]["twin"]
    seed = int(paper_profile["seed"])
    script = _script(root)
    data, eta = script.twin_cohort(twin_cfg, seed)
    twin = simulate_cohort(twin_cfg, seed)
    expected = twin.manifest.assign(center=twin.manifest["center"].astype(str))
    pd.testing.assert_frame_equal(data, expected[data.columns])
    assert np.array_equal(eta, twin.truth["eta"].to_numpy())

    other, eta_other = script.twin_cohort(twin_cfg, seed, outcome_seed=seed + 1)
    outcome = ["dfs_time", "dfs_event"]
    pd.testing.assert_frame_equal(other.drop(columns=outcome), data.drop(columns=outcome))
    assert np.array_equal(eta_other, eta)        # same patients, same true risk
    assert (other["dfs_time"] != data["dfs_time"]).mean() > 0.9

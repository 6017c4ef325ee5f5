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


def test_the_share_of_draws_in_the_studys_bands(root):
    script = _script(root)
    table = pd.DataFrame({"log_hr_a": [0.7] * 4, "log_hr_b": [0.55] * 4,
                          "signature_internal": [0.734, 0.78, 0.70, 0.74],      # 0.78 is 0.046 away
                          "signature_external": [0.708, 0.70, 0.60, 0.747],
                          "imaging_external": [0.795, 0.80, 0.80, 0.70]})
    share = script.in_band(table).iloc[0]
    assert share.to_dict() == {"signature_internal": 0.75, "signature_external": 0.75, "imaging_external": 0.75,
                               "all": 0.25}

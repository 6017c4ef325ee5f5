"""benchmarks/calibrate_signal.py redraws the twin's outcomes without touching its
patients' images (so that a build's images and features stay valid): its cohort must be
the simulator's, column for column; another outcome seed must change the outcomes only;
and the parameters it lets ``--set`` change must leave what the images read untouched."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from radsurv.cohort.twin import simulate_cohort, simulate_outcome, simulate_patients

from tests._benchmarks import load_benchmark


def _script(root):
    return load_benchmark("calibrate_signal")


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
    # With the six models' external C: the share of draws in which the clinical imaging
    # model is the best (ties count, as >=), the study's ordering.
    others = {f"{m}_external": [0.70] * 4 for m in ("clinical", "mri", "radiomics")}
    others["clinical_mri_external"] = [0.79, 0.81, 0.70, 0.60]   # beats it in draw 2
    share = script.in_band(table.assign(**others)).iloc[0]       # the signature beats it in draw 4
    assert share["imaging_best"] == 0.5 and share["all"] == 0.25


#: What the image simulator reads of a patient (radsurv.cohort.stage passes these on).
IMAGE_INPUTS = ["center", "a_img", "b_img", "size_img", "mri_bpe"]


def test_set_changes_the_clinical_reading_and_hazard_but_never_what_the_images_read(paper_profile, root):
    script = _script(root)
    grid = script.parse_set(["clinical.n_a=0.25", "mri_reading.reader_noise_sd=1.2,1.6",
                             "hazard.log_hr.n_stage.N2=1.0"])
    assert grid == {"clinical.n_a": [0.25], "mri_reading.reader_noise_sd": [1.2, 1.6],
                    "hazard.log_hr.n_stage.N2": [1.0]}
    # a list-valued key (the curve's cuts) takes its items joined by ":"
    assert script.parse_set(["mri_reading.tic_cuts=-3.6:-0.28,-2.6:-0.2"]) == {
        "mri_reading.tic_cuts": [(-3.6, -0.28), (-2.6, -0.2)]}
    cuts_cfg = copy.deepcopy(paper_profile["cohort"]["twin"])
    script.apply_set(cuts_cfg, {"mri_reading.tic_cuts": (-3.6, -0.28)})
    assert cuts_cfg["mri_reading"]["tic_cuts"] == [-3.6, -0.28]
    with pytest.raises(SystemExit, match="leave the images unchanged"):
        script.parse_set(["latent.rho_ab=0.5"])          # a and b are what the images show
    with pytest.raises(SystemExit, match="expected section.key=value"):
        script.parse_set(["clinical.n_a"])

    seed = int(paper_profile["seed"])
    base_cfg = paper_profile["cohort"]["twin"]
    changed_cfg = copy.deepcopy(base_cfg)
    script.apply_set(changed_cfg, {"clinical.n_a": 0.25, "clinical.grade_noise_sd": 1.3,
                                   "mri_reading.reader_noise_sd": 1.6, "hazard.log_hr.n_stage.N2": 1.0})
    assert changed_cfg["hazard"]["log_hr"]["n_stage"] == {**base_cfg["hazard"]["log_hr"]["n_stage"], "N2": 1.0}
    with pytest.raises(KeyError, match="cohort.twin.clinical.n_c"):
        script.apply_set(copy.deepcopy(base_cfg), {"clinical.n_c": 1.0})

    base, changed = simulate_patients(base_cfg, seed), simulate_patients(changed_cfg, seed)
    pd.testing.assert_frame_equal(changed[IMAGE_INPUTS], base[IMAGE_INPUTS])
    # ...while the settings did act: nodal stage, grade and the MRI reading moved, and so
    # did the true risk (nodal stage and its log HR are in it).
    for col in ("n_stage", "grade", "mri_margin"):
        assert (changed[col] != base[col]).mean() > 0.05, col
    eta_base = simulate_outcome(base, base_cfg, seed)["eta"].to_numpy()
    eta_changed = simulate_outcome(changed, changed_cfg, seed)["eta"].to_numpy()
    assert not np.allclose(eta_changed, eta_base)


def test_issue_27_criteria_on_a_small_grid(root):
    """The calibration in expectation (issue 27, item 2) on two settings of four draws:
    the means within 0.02 of the study's, the imaging model best in >= 60% of the draws,
    the oracle at least 0.02 above it."""
    script = _script(root)
    base = {"signature_internal": [0.73, 0.74, 0.72, 0.75], "signature_external": [0.70, 0.71, 0.72, 0.70],
            "imaging_external": [0.80, 0.79, 0.78, 0.81], "oracle_external": [0.85] * 4,
            **{f"{m}_external": [0.70] * 4 for m in ("clinical", "mri", "radiomics")}}
    good = pd.DataFrame({"log_hr_h": [0.5] * 4, **base})
    good["clinical_mri_external"] = [0.79, 0.80, 0.77, 0.70]     # beats the imaging model in draw 2: 3 of 4
    bad = good.assign(log_hr_h=0.2, clinical_mri_external=[0.81, 0.80, 0.80, 0.70])   # 1 of 4
    out = script.criteria(pd.concat([good, bad], ignore_index=True))
    ok, not_ok = out.loc[0.5], out.loc[0.2]
    assert ok["imaging_best_share"] == 0.75 and not_ok["imaging_best_share"] == 0.25
    assert ok["signature_internal"] == pytest.approx(0.735) and ok["imaging_external"] == pytest.approx(0.795)
    assert ok["oracle_margin"] == pytest.approx(0.055)
    assert bool(ok["met"]) and not bool(not_ok["met"]) and bool(not_ok["signature_internal_ok"])
    # Monte Carlo standard errors: SD / sqrt(4) of 0.73, 0.74, 0.72, 0.75; sqrt(0.75 x 0.25 / 4)
    assert ok["signature_internal_se"] == pytest.approx(np.std([0.73, 0.74, 0.72, 0.75], ddof=1) / 2, rel=1e-12)
    assert ok["imaging_best_share_se"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4), rel=1e-12)
    # a mean 0.021 away from the study's fails its criterion
    shifted = good.assign(signature_external=good["signature_external"] + 0.0215)
    assert not bool(script.criteria(shifted).iloc[0]["signature_external_ok"])

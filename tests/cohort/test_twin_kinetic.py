"""The twin's kinetic trait v (issue 27): tumour angiogenesis, drawn from its own stream,
in the hazard and the truth, read by the radiologist's time-intensity curve and by
nothing else (no clinical variable, no other MRI-reading item, no image), and
independent of the hazard in the null profile."""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import pandas as pd
import pytest

from radsurv.cohort.twin import (CLINICAL_COLUMNS, MRI_COLUMNS, add_twin_images, simulate_cohort,
                                 simulate_patients, true_linear_predictor)
from radsurv.schema import ProfileSchemaError, validate_profile

from tests.cohort._traits import three_patient_images, without_traits

TIC_ORDER = {"persistent": 0, "plateau": 1, "washout": 2}


def _with_kinetic(twin: dict, log_hr: float = 0.5, tic_v: float = 1.0, signal: bool = True) -> dict:
    out = copy.deepcopy(twin)
    out["latent"]["v"] = True
    out["hazard"]["log_hr"]["v"] = log_hr
    out["mri_reading"]["tic_v"] = tic_v
    out["imaging_signal"] = signal
    return out


@pytest.fixture(scope="module")
def twins(paper_profile):
    plain = without_traits(paper_profile["cohort"]["twin"])
    return plain, _with_kinetic(plain), paper_profile["seed"]


def test_switched_off_nothing_is_drawn(twins):
    plain, _, seed = twins
    patients = simulate_patients(plain, seed)
    assert "v" not in patients and "v_img" not in patients
    assert plain["latent"].get("v", False) is False and plain["hazard"]["log_hr"].get("v") is None


def test_it_changes_the_time_intensity_curve_and_nothing_else(twins):
    """Its own stream: every other column is the twin's without it, value for value; the
    curve's category moves for some patients, towards washout with v."""
    plain, kinetic, seed = twins
    a, b = simulate_patients(plain, seed), simulate_patients(kinetic, seed)
    pd.testing.assert_frame_equal(a.drop(columns="mri_tic"), b.drop(columns=["v", "v_img", "mri_tic"]))
    assert np.array_equal(b["v"], b["v_img"])
    assert abs(b["v"].mean()) < 0.1 and 0.9 < b["v"].std() < 1.1
    moved = a["mri_tic"] != b["mri_tic"]
    assert 0.1 < moved.mean() < 0.6
    step = b["mri_tic"].map(TIC_ORDER) - a["mri_tic"].map(TIC_ORDER)
    # the same reader noise: a patient moves up the curve's categories iff v is positive
    assert ((step[moved] > 0) == (b.loc[moved, "v"] > 0)).all()


def test_only_the_time_intensity_curve_reads_it(twins):
    _, kinetic, seed = twins
    p = simulate_patients(kinetic, seed)
    bound = 4.0 / np.sqrt(len(p))
    for column in ["a", "b", "size_mm", *CLINICAL_COLUMNS, *MRI_COLUMNS]:
        x = p[column]
        x = x.map(TIC_ORDER) if column == "mri_tic" else (x.astype("category").cat.codes if x.dtype == object else x)
        rho = pd.Series(x).corr(p["v"], method="spearman")
        if column == "mri_tic":
            assert rho > 0.3, rho
        else:
            assert abs(rho) < bound, column


def test_hazard_carries_it(twins):
    _, kinetic, seed = twins
    p = simulate_patients(kinetic, seed)
    hz = kinetic["hazard"]
    without = copy.deepcopy(hz)
    without["log_hr"]["v"] = None
    diff = true_linear_predictor(p, hz) - true_linear_predictor(p, without)
    np.testing.assert_allclose(diff, 0.5 * p["v"].to_numpy(), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"latent\.v"):
        true_linear_predictor(p.drop(columns="v"), hz)
    cohort = simulate_cohort(kinetic, seed)
    assert {"v", "v_img"} <= set(cohort.truth.columns)
    assert "v" not in cohort.manifest and "v_img" not in cohort.manifest
    assert cohort.coefficients().loc["v", "log_hr"] == pytest.approx(0.5)
    events = cohort.manifest["dfs_event"].to_numpy(dtype=bool)
    assert cohort.truth.loc[events, "v"].mean() > cohort.truth["v"].mean() + 0.1


def test_with_the_image_only_trait_both_are_their_own(twins):
    """h and v together: each is the draw it is alone, and they are independent."""
    plain, kinetic, seed = twins
    both = copy.deepcopy(kinetic)
    both["latent"]["h"] = True
    both["hazard"]["log_hr"]["h"] = 0.8
    only_h = copy.deepcopy(plain)
    only_h["latent"]["h"] = True
    only_h["hazard"]["log_hr"]["h"] = 0.8
    p, pv, ph = simulate_patients(both, seed), simulate_patients(kinetic, seed), simulate_patients(only_h, seed)
    assert list(p.columns[7:11]) == ["h", "h_img", "v", "v_img"]
    assert np.array_equal(p["v"], pv["v"]) and np.array_equal(p["h"], ph["h"])
    assert np.array_equal(p["mri_tic"], pv["mri_tic"])
    assert abs(np.corrcoef(p["h"], p["v"])[0, 1]) < 4.0 / np.sqrt(len(p))


def test_null_profile_reader_sees_an_independent_trait(twins):
    plain, kinetic, seed = twins
    null = _with_kinetic(plain, signal=False)
    p = simulate_patients(null, seed)
    bound = 4.0 / np.sqrt(len(p))
    assert abs(np.corrcoef(p["v"], p["v_img"])[0, 1]) < bound
    assert np.array_equal(p["v"], simulate_patients(kinetic, seed)["v"])  # the hazard's trait is the same draw
    tic = p["mri_tic"].map(TIC_ORDER)
    assert tic.corr(p["v_img"], method="spearman") > 0.3
    assert abs(tic.corr(p["v"], method="spearman")) < bound


def test_profile_keys_must_agree(paper_profile):
    def invalid(edit, match):
        prof = copy.deepcopy(paper_profile)
        prof["cohort"]["twin"] = without_traits(prof["cohort"]["twin"])
        edit(prof["cohort"]["twin"])
        with pytest.raises(ProfileSchemaError, match=match):
            validate_profile(prof)

    invalid(lambda t: t["latent"].update(v=True), r"hazard\.log_hr\.v")
    invalid(lambda t: t["hazard"]["log_hr"].update(v=0.5), r"latent\.v")
    invalid(lambda t: t["mri_reading"].update(tic_v=1.0), r"mri_reading\.tic_v is 1 but latent\.v")
    validate_profile(paper_profile)   # the paper's twin draws both traits, its keys agreeing


def test_the_images_do_not_show_it(paper_profile, tmp_path):
    """Through add_twin_images: with v the images and masks are the same bytes as without."""
    plain = without_traits(paper_profile["cohort"]["twin"])
    off, _ = three_patient_images(paper_profile, plain, tmp_path / "off")
    on, _ = three_patient_images(paper_profile, _with_kinetic(plain, log_hr=1.5, tic_v=2.0), tmp_path / "on")
    assert len(off) == 3 * 2 * 3 + 2 * 3 and off == on

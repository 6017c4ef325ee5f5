"""The twin's image-only trait h (issue 27, item 1) in the cohort: drawn from its own
stream, in the hazard and the truth, seen by no clinical variable or MRI-reading item,
and independent of the hazard in the null profile."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from radsurv.cohort.twin import (CLINICAL_COLUMNS, MRI_COLUMNS, simulate_cohort, simulate_patients,
                                 true_linear_predictor)
from radsurv.schema import ProfileSchemaError, validate_profile

from tests.cohort._traits import three_patient_images, without_traits


def _with_trait(twin: dict, log_hr: float = 0.6, signal: bool = True) -> dict:
    out = copy.deepcopy(twin)
    out["latent"]["h"] = True
    out["hazard"]["log_hr"]["h"] = log_hr
    out["imaging_signal"] = signal
    return out


@pytest.fixture(scope="module")
def twins(paper_profile):
    plain = without_traits(paper_profile["cohort"]["twin"])
    return plain, _with_trait(plain), paper_profile["seed"]


def test_switched_off_nothing_is_drawn(twins):
    plain, _, seed = twins
    patients = simulate_patients(plain, seed)
    assert "h" not in patients and "h_img" not in patients
    assert plain["latent"]["h"] is False and plain["hazard"]["log_hr"]["h"] is None


def test_trait_changes_no_other_patient_value(twins):
    """Its own stream: every other column is the twin without it, value for value."""
    plain, traited, seed = twins
    a, b = simulate_patients(plain, seed), simulate_patients(traited, seed)
    pd.testing.assert_frame_equal(a, b.drop(columns=["h", "h_img"]))
    assert np.array_equal(b["h"], b["h_img"])
    assert abs(b["h"].mean()) < 0.1 and 0.9 < b["h"].std() < 1.1


def test_no_clinical_or_reading_item_sees_it(twins):
    """h is independent of a, b and of every recorded variable (they are the twin's
    without h, drawn before it): no rank correlation beyond chance in 643 patients."""
    _, traited, seed = twins
    p = simulate_patients(traited, seed)
    bound = 4.0 / np.sqrt(len(p))
    for column in ["a", "b", "size_mm", *CLINICAL_COLUMNS, *MRI_COLUMNS]:
        if column not in p:
            continue
        x = p[column]
        x = x.astype("category").cat.codes if x.dtype == object else x
        assert abs(pd.Series(x).corr(p["h"], method="spearman")) < bound, column


def test_hazard_carries_it(twins):
    _, traited, seed = twins
    p = simulate_patients(traited, seed)
    hz = traited["hazard"]
    without = copy.deepcopy(hz)
    without["log_hr"]["h"] = None
    diff = true_linear_predictor(p, hz) - true_linear_predictor(p, without)
    np.testing.assert_allclose(diff, 0.6 * p["h"].to_numpy(), rtol=0, atol=1e-12)
    cohort = simulate_cohort(traited, seed)
    assert {"h", "h_img"} <= set(cohort.truth.columns)
    assert "h" not in cohort.manifest and "h_img" not in cohort.manifest
    assert cohort.coefficients().loc["h", "log_hr"] == pytest.approx(0.6)
    # the events follow h: the recurrences' mean h is above the cohort's
    events = cohort.manifest["dfs_event"].to_numpy(dtype=bool)
    assert cohort.truth.loc[events, "h"].mean() > cohort.truth["h"].mean() + 0.15


def test_null_profile_images_see_an_independent_trait(twins):
    plain, _, seed = twins
    null = _with_trait(plain, signal=False)
    p = simulate_patients(null, seed)
    assert abs(np.corrcoef(p["h"], p["h_img"])[0, 1]) < 4.0 / np.sqrt(len(p))
    signal = simulate_patients(_with_trait(plain), seed)
    assert np.array_equal(p["h"], signal["h"])  # the hazard's trait is the same draw


def test_profile_keys_must_agree(paper_profile):
    prof = copy.deepcopy(paper_profile)
    prof["cohort"]["twin"] = without_traits(prof["cohort"]["twin"])
    prof["cohort"]["twin"]["latent"]["h"] = True
    with pytest.raises(ProfileSchemaError, match=r"hazard\.log_hr\.h"):
        validate_profile(prof)
    prof = copy.deepcopy(paper_profile)
    prof["cohort"]["twin"] = without_traits(prof["cohort"]["twin"])
    prof["cohort"]["twin"]["hazard"]["log_hr"]["h"] = 0.5
    with pytest.raises(ProfileSchemaError, match=r"latent\.h"):
        validate_profile(prof)


def test_images_show_the_trait_and_keep_the_masks(paper_profile, tmp_path):
    """Through add_twin_images: with the trait the cohort's and the development sets'
    images change and their true and reader masks do not; without it they are the
    images of the twin that has no trait (same bytes)."""
    from radsurv.imaging.cache import cohort_key

    imaging = paper_profile["imaging"]
    seed = paper_profile["seed"]
    plain = without_traits(paper_profile["cohort"]["twin"])
    off, cohort_off = three_patient_images(paper_profile, plain, tmp_path / "off")
    on, cohort_on = three_patient_images(paper_profile, _with_trait(plain), tmp_path / "on")
    assert off.keys() == on.keys() and len(off) == 3 * 2 * 3 + 2 * 3
    masks = [k for k in off if k.endswith(("_mask.nii.gz", "_reader.nii.gz"))]
    images = [k for k in off if k not in masks]
    assert masks and all(off[k] == on[k] for k in masks)
    assert images and all(off[k] != on[k] for k in images)
    # the image cache tells the two apart
    lat = cohort_on.truth[["patient_id", "center", "a_img", "b_img", "h_img", "size_img"]].rename(
        columns={"size_img": "size_mm"})
    assert cohort_key(lat, imaging["scanners"], seed) != cohort_key(lat.drop(columns="h_img"), imaging["scanners"], seed)

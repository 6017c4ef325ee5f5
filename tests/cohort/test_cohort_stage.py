"""The computing parts of the cohort stage: follow-up units, the summary numbers the
paper prints (checked against hand computations and lifelines), the validation
exclusions of the flow, and the texts that describe the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from radsurv.cohort.stage import (MONTHS_PER_DAY, cohort_summary, example_patients, imaging_statistics,
                                  median_follow_up, run_variables, to_months, twin_variables, input_exclusions)
from radsurv.manuscript.cohort import describe_data, describe_user_imaging


def test_to_months_days_and_months():
    assert MONTHS_PER_DAY == pytest.approx(12 / 365.25, rel=1e-15)
    np.testing.assert_array_equal(to_months(pd.Series([1.5, 12.0]), "months"), [1.5, 12.0])
    np.testing.assert_allclose(to_months(pd.Series([365.25, 730.5, 30.4375]), "days"), [12.0, 24.0, 1.0],
                               rtol=1e-15)
    with pytest.raises(ValueError, match="time_unit: expected 'months' or 'days', got 'weeks'"):
        to_months(pd.Series([1.0]), "weeks")


def test_median_follow_up_is_the_reverse_kaplan_meier_median():
    # Censoring is the event of the reverse KM: censored at 2 and 6, events at 4, 8, 10.
    time = np.array([2.0, 4.0, 6.0, 8.0, 10.0])
    event = np.array([0, 1, 0, 1, 1])
    # Reverse KM: S(2) = 4/5, S(6) = 4/5 * 2/3 = 0.533, S(10) = 0.533 (event at 10 is "censored"),
    # never <= 0.5 before the end -> NA ... unless a later censoring drops it: add one.
    assert np.isnan(median_follow_up(time, event))
    time = np.append(time, 12.0)
    event = np.append(event, 0)
    # S(12) = 0.533 * 0/1 = 0: the first time with S <= 0.5 is 12.
    assert median_follow_up(time, event) == 12.0
    # A larger cohort: agrees with lifelines' reverse KM median (continuous times, no ties).
    rng = np.random.default_rng(3)
    t, e = rng.exponential(40, 300), rng.integers(0, 2, 300)
    assert median_follow_up(t, e) == pytest.approx(KaplanMeierFitter().fit(t, 1 - e).median_survival_time_,
                                                   rel=1e-12)


def _cohort(rng, n=240, shift=0.0):
    split = np.array(["train", "internal", "external"])[np.arange(n) % 3]
    hazard = np.where(split == "external", np.exp(shift), 1.0)
    t_ev = rng.exponential(60 / hazard)
    t_c = rng.uniform(12, 96, n)
    return pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "center": np.where(split == "external", "2", "1"),
                         "split": split, "dfs_time": np.minimum(t_ev, t_c).round(2),
                         "dfs_event": (t_ev <= t_c).astype(int), "age": rng.normal(50, 10, n).round()})


def test_cohort_summary_numbers_against_independent_computations():
    rng = np.random.default_rng(11)
    data = _cohort(rng)
    time = data["dfs_time"].to_numpy()
    s = cohort_summary(data, time, [12.0, 36.0, 60.0])
    event = data["dfs_event"].to_numpy()
    assert s["n_total"] == 240 and s["n_events"] == int(event.sum()) and s["n_centres"] == 2
    assert s["event_rate_pct"] == f"{100 * event.mean():.1f}"
    assert s["age_mean"] == f"{data['age'].mean():.1f}" and s["age_sd"] == f"{data['age'].std():.1f}"
    for split in ("train", "internal", "external"):
        sel = (data["split"] == split).to_numpy()
        kmf = KaplanMeierFitter().fit(time[sel], event[sel])
        ci = kmf.confidence_interval_survival_function_
        for t, key in ((12.0, "dfs_1y"), (60.0, "dfs_5y")):
            assert s[split][key] == f"{100 * float(kmf.survival_function_at_times(t).iloc[0]):.1f}"
            lo, hi = ci[ci.index <= t].iloc[-1]
            assert s[split][key + "_ci"] == f"{100 * lo:.1f}-{100 * hi:.1f}"
        assert s[split]["n"] == int(sel.sum()) and s[split]["events"] == int(event[sel].sum())
    lr = multivariate_logrank_test(time, data["split"], event)
    assert s["logrank_sets_chisq"] == f"{lr.test_statistic:.2f}"
    assert s["logrank_sets_p"] == ("<0.001" if lr.p_value < 0.001 else f"{lr.p_value:.3f}")


@pytest.mark.parametrize("shift, words", [(0.0, "no clear difference between the sets"),
                                          (1.5, "a difference between the sets")])
def test_the_text_says_what_the_log_rank_test_found(shift, words):
    data = _cohort(np.random.default_rng(5), n=300, shift=shift)
    s = cohort_summary(data, data["dfs_time"].to_numpy(), [60.0])
    p = s["logrank_sets_p"]
    assert s["sets_comparison"] == words
    assert (p == "<0.001" or float(p) < 0.05) == (shift > 0)


def test_summary_of_a_cohort_without_age_or_an_empty_set():
    data = _cohort(np.random.default_rng(1), n=90).drop(columns="age")
    data = data[data["split"] != "internal"]
    s = cohort_summary(data, data["dfs_time"].to_numpy(), [12.0])
    assert s["age_mean"] == "NA" and s["internal"]["n"] == 0 and s["internal"]["event_rate_pct"] == "NA"
    assert (s["internal"]["dfs_1y"], s["internal"]["dfs_1y_ci"]) == ("–", "not estimable")  # references resolve


def test_validation_exclusions_name_rows_by_first_failing_column():
    excluded = pd.DataFrame({"row": [3, 5, 9], "patient_id": ["P1", None, "P1"],
                             "reason": ["dfs_time: negative; center: unknown", "patient_id: missing",
                                        "dfs_time: not a number"]})
    assert input_exclusions(excluded) == [("invalid dfs_time", ["row 3", "row 9"]),
                                               ("invalid patient_id", ["row 5"])]
    assert input_exclusions(excluded.iloc[:0]) == []


def test_twin_and_run_variables(paper_profile):
    v = twin_variables(paper_profile["cohort"]["twin"])
    assert v["hr_a"] == f"{np.exp(0.55):.2f}" == "1.73" and v["target_dfs_5y"] == "82" and v["cutoff"] == "2022-12-31"
    assert v["n_centre"] == {"1": 480, "2": 95, "3": 68} and v["imaging_signal"] == "yes"
    assert run_variables(paper_profile, True, 643)["data_source"] == "simulated digital twin"
    user = run_variables(paper_profile, False, 120)
    assert user["data_source"] == "user manifest" and user["subtitle"] == "A multi-centre cohort of 120 patients"


def test_describe_data_twin_and_user(quick_profile):
    summary = {"n_total": 230, "n_centres": 3, "n_excluded": 2, "train": {"n": 104}, "internal": {"n": 56},
               "external": {"n": 70}}
    twin = describe_data(quick_profile, True, summary)
    assert "simulated digital twin" in twin and "(104) and an internal test set (56)" in twin
    user = describe_data(quick_profile, False, summary)
    assert "simulat" not in user.lower() and "230 patients from 3 centres" in user and "2 patients were excluded" in user


def test_describe_data_names_the_twins_traits(quick_profile):
    """The Methods say which optional traits the twin draws, with their effects, and
    nothing about them when it draws none."""
    import copy

    summary = {"n_total": 230, "n_centres": 3, "n_excluded": 0, "train": {"n": 104}, "internal": {"n": 56},
               "external": {"n": 70}}
    assert "$h$" not in describe_data(quick_profile, True, summary)
    prof = copy.deepcopy(quick_profile)
    twin = prof["cohort"]["twin"]
    twin["latent"].update(h=True, v=True)
    twin["hazard"]["log_hr"].update(h=0.8, v=0.6)
    twin["mri_reading"]["tic_v"] = 1.2
    text = describe_data(prof, True, summary)
    assert "A third trait $h$" in text and "log hazard ratio 0.8 per SD" in text
    assert "A fourth trait $v$" in text and "log hazard ratio 0.6 per SD" in text and "(weight 1.2)" in text
    twin["latent"]["h"] = False
    assert "A third trait $v$" in describe_data(prof, True, summary)


def test_example_patients_per_centre_from_the_observed_outcome():
    data = pd.DataFrame({"patient_id": ["a", "b", "c", "d", "e", "f"],
                         "center": ["Hospital B", "Hospital B", "Hospital A", "Hospital A", "Hospital A", "10"],
                         "dfs_time": [5.0, 50.0, 3.0, 80.0, 7.0, 20.0], "dfs_event": [1, 0, 1, 0, 1, 0]})
    assert example_patients(data) == [("10", "low", "f"), ("Hospital A", "low", "d"), ("Hospital A", "high", "c"),
                                      ("Hospital B", "low", "b"), ("Hospital B", "high", "a")]


def test_imaging_statistics_are_printed_with_three_significant_digits():
    stats = pd.DataFrame({"center": ["1"], "modality": ["mri"], "n": [4], "spacing_x_mm": [0.8612],
                          "snr": [float("nan")], "lesion_volume_mm3": [1234.5]})
    shown = imaging_statistics(stats)
    assert list(shown.columns) == ["Centre", "Modality", "n", "Spacing x, mm", "SNR", "Lesion volume, mm³"]
    assert shown.iloc[0].tolist() == ["1", "MRI", 4, "0.861", "–", "1.23e+03"]


def test_describe_user_imaging_follows_the_cohort():
    base = {"n_us": 0, "n_mri": 60, "n_mask_us": 0, "n_mask_mri": 58, "n_dev_us": 0, "n_dev_mri": 0,
            "n_masks_resampled": 0, "mask_label": None}
    text = describe_user_imaging(base)
    assert text.startswith("The cohort has DCE-MRI volumes of 60 patients (58 with a lesion mask)")
    assert "The cohort has no ultrasound: the ultrasound signatures were not built" in text
    assert "resampled" not in text and "label" not in text and "development set" not in text
    text = describe_user_imaging({**base, "n_masks_resampled": 7, "mask_label": 2, "n_dev_mri": 40,
                                  "n_dev_excluded_mri": 3})
    assert "The masks of 7 patients were stored on a voxel grid other than their image's" in text
    assert "The lesion is label 2 of the supplied masks" in text
    assert "A segmentation-development set of 40 MRI images with masks and no outcome was supplied and checked in " \
           "the same way (3 left out by a check); none of its images belongs to a test-set patient." in text
    both = describe_user_imaging({**base, "n_us": 12, "n_mask_us": 12})
    assert "breast ultrasound images of 12 patients (12 with a lesion mask) and DCE-MRI volumes of 60" in both
    assert "has no" not in both


def test_describe_data_names_only_the_modalities_the_manifest_has(quick_profile):
    summary = {"n_total": 60, "n_centres": 2, "n_excluded": 0, "train": {"n": 27}, "internal": {"n": 15},
               "external": {"n": 18}}
    text = describe_data(quick_profile, False, summary, ("mri",))
    assert "and the paths of the MRI images." in text and "ultrasound" not in text
    assert "Patients of centre 1 form the development cohort" in text and "those of centres 2, 3 form" in text

"""The clinical digital twin: shape of the study, plausibility, determinism, truth."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from lifelines import CoxPHFitter, KaplanMeierFitter
from scipy import stats

from radsurv.cohort.twin import CLINICAL_COLUMNS, MRI_COLUMNS, TwinCohort, simulate_cohort
from radsurv.stats import harrell_c


@pytest.fixture(scope="module")
def twin(paper_profile):
    return simulate_cohort(paper_profile["cohort"]["twin"], paper_profile["seed"])


def test_shape_of_the_study(twin):
    m = twin.manifest
    assert len(m) == 643
    assert m["center"].value_counts().to_dict() == {1: 480, 2: 95, 3: 68}
    assert m["patient_id"].is_unique
    assert list(m.columns[:4]) == ["patient_id", "center", "dfs_time", "dfs_event"]
    assert set(CLINICAL_COLUMNS + MRI_COLUMNS) <= set(m.columns)
    assert "split" not in m.columns  # derived by the loader, as for a user's manifest


def test_plausible_ranges(twin, paper_profile):
    m = twin.manifest
    exp = paper_profile["cohort"]["expected"]
    assert exp["event_rate"][0] <= m["dfs_event"].mean() <= exp["event_rate"][1]
    assert exp["mean_age"][0] <= m["age"].mean() <= exp["mean_age"][1]
    s60 = KaplanMeierFitter().fit(m["dfs_time"], m["dfs_event"]).predict(60.0)
    assert exp["dfs_at_60_months"][0] <= s60 <= exp["dfs_at_60_months"][1]
    # Receptor and subtype mix of an operable breast-cancer cohort.
    assert 0.6 < (m["er"] == "positive").mean() < 0.85
    assert 0.12 < (m["her2"] == "positive").mean() < 0.32
    shares = m["subtype"].value_counts(normalize=True)
    assert 0.08 < shares["triple_negative"] < 0.25
    assert shares["luminal_b"] > shares["her2_enriched"]
    assert (m["dfs_time"] > 0).all() and m["dfs_time"].max() < 12 * 11


def test_administrative_censoring_is_respected(twin):
    t = twin.truth
    m = twin.manifest
    # Nobody is followed beyond the study cut-off, and events happen before censoring.
    assert (m["dfs_time"] <= t["admin_censor_time"] + 0.02).all()
    ev = m["dfs_event"] == 1
    # dfs_time is the event time rounded to the day, then to 2 decimals of a month:
    # at most half a day (0.0164 months) plus 0.005 away.
    bound = 0.5 / (365.25 / 12) + 0.005
    assert (m.loc[ev, "dfs_time"] - t.loc[ev, "event_time"]).abs().max() <= bound + 1e-12


def test_cox_recovers_the_true_coefficients(twin, paper_profile):
    """A Cox model on the true latent traits recovers the simulated log hazard ratios
    (within ~2.5 standard errors): the outcome model is what the parameters say."""
    m, t = twin.manifest, twin.truth
    beta = paper_profile["cohort"]["twin"]["hazard"]["log_hr"]
    df = pd.DataFrame({
        "a": t["a"], "b": t["b"], "log_size": np.log(t["size_mm"] / 22.0),
        "n1": (m["n_stage"] == "N1").astype(float), "n2": (m["n_stage"] == "N2").astype(float),
        "n3": (m["n_stage"] == "N3").astype(float), "time": m["dfs_time"], "event": m["dfs_event"],
    })
    fit = CoxPHFitter().fit(df, "time", "event")
    for name, true in [("a", beta["a"]), ("b", beta["b"])]:
        est, se = fit.params_[name], fit.standard_errors_[name]
        assert abs(est - true) < 2.5 * se, (name, est, true, se)


def test_latents_drive_clinical_variables(twin):
    m, t = twin.manifest, twin.truth
    grade_num = m["grade"].map({"G1": 1, "G2": 2, "G3": 3})
    # grade and Ki-67 miss values at random (cohort.twin.missing): on the observed ones
    assert stats.spearmanr(t["a"], grade_num, nan_policy="omit").statistic > 0.4
    assert stats.spearmanr(t["a"], m["ki67"], nan_policy="omit").statistic > 0.4
    assert stats.spearmanr(t["b"], (m["lvi"] == "yes").astype(int)).statistic > 0.2
    # The radiologist reads what the images show: margin follows a_img.
    margin = m["mri_margin"].map({"circumscribed": 0, "irregular": 1, "spiculated": 2})
    assert stats.spearmanr(t["a_img"], margin).statistic > 0.4


@pytest.fixture(scope="module")
def null_twin():
    from radsurv.config import load_profile

    null = load_profile("null")
    return null, simulate_cohort(null["cohort"]["twin"], null["seed"])


def _seen_in_the_images(twin, profile) -> dict[str, np.ndarray]:
    """Everything the images and their reader show: the imaging latents, the imaging
    size, the read size and each read MRI descriptor (coded in the profile's order)."""
    t, m = twin.truth, twin.manifest
    seen = {name: t[name].to_numpy() for name in ("a_img", "b_img", "size_img")}
    seen["mri_size_mm"] = m["mri_size_mm"].to_numpy()
    for name, levels in profile["cohort"]["columns"]["mri"].items():
        if name != "mri_size_mm":
            seen[name] = m[name].map({v: i for i, v in enumerate(levels)}).to_numpy(dtype=float)
    return seen


def _check_size_law(size, a, read_size, twin):
    """The size the images show follows the twin's law: log size = log median + a_effect a
    + log_sd z (clipped far out in the tails), and the reader's size is it times
    exp(size_log_sd z'). Bounds are 4 SE at n = 643: SE(mean log) = sd/sqrt(n) = 0.016,
    SE(sd log) = sd/sqrt(2n) = 0.011, SE(r) = (1 - r^2)/sqrt(n)."""
    sz, mr = twin["size"], twin["mri_reading"]
    n = len(size)
    log_size = np.log(size)
    sd = np.hypot(sz["log_sd"], sz["a_effect"])  # 0.409 on the paper twin
    assert abs(log_size.mean() - np.log(sz["median_mm"])) < 4 * sd / np.sqrt(n)
    assert abs(log_size.std() - sd) < 4 * sd / np.sqrt(2 * n)
    assert sz["min_mm"] <= size.min() and size.max() <= sz["max_mm"]
    r_a = sz["a_effect"] / sd  # 0.37: larger when aggressive
    assert abs(np.corrcoef(log_size, a)[0, 1] - r_a) < 4 * (1 - r_a**2) / np.sqrt(n)
    r_read = sd / np.hypot(sd, mr["size_log_sd"])  # 0.96
    assert abs(np.corrcoef(np.log(read_size), log_size)[0, 1] - r_read) < 4 * (1 - r_read**2) / np.sqrt(n)


def test_null_profile_images_are_independent_of_the_hazard(null_twin):
    """Under `null`, nothing the images or the reader show is related to the true linear
    predictor or to the observed DFS, the imaging size included (the true size enters
    the hazard: C 0.61 against DFS on this twin)."""
    null, tw = null_twin
    t, m = tw.truth, tw.manifest
    n = len(t)
    assert n == 643
    assert not np.allclose(t["a"], t["a_img"])
    # 4 SE of a Spearman correlation between independent variables: SE = 1/sqrt(n - 1).
    rho_max = 4 / np.sqrt(n - 1)  # 0.158
    # The imaging size is not the pathological size.
    assert abs(stats.spearmanr(t["size_img"], t["size_mm"]).statistic) < rho_max
    assert abs(stats.spearmanr(m["mri_size_mm"], t["size_mm"]).statistic) < rho_max
    seen = _seen_in_the_images(tw, null)
    assert len(seen) == 10
    for name, x in seen.items():
        rho = stats.spearmanr(x, t["eta"]).statistic
        assert abs(rho) < rho_max, (name, rho)
        # Harrell's C against the observed DFS: 0.5 within 4 SE. The SE of C under the
        # null with 643 patients and about 110 events is 0.023-0.029 (harrell_c's
        # infinitesimal-jackknife SE, as R's), so the bound is about 0.5 +/- 0.1; the
        # SE itself is bounded so that the band cannot widen unnoticed.
        c = harrell_c(m["dfs_time"], m["dfs_event"], x)
        assert c.se < 0.035, (name, c.se)
        assert abs(c.c - 0.5) < 4 * c.se, (name, c.c, c.se)


def test_null_profile_images_look_like_the_signal_twin(null_twin):
    """The null images are drawn from the same law as the signal twin's: the imaging size
    is log-normal with the twin's median and spread, driven by a_img as the true size is
    by a, and the reader's size follows what the images show."""
    null, tw = null_twin
    t, m = tw.truth, tw.manifest
    _check_size_law(t["size_img"].to_numpy(), t["a_img"].to_numpy(), m["mri_size_mm"].to_numpy(),
                    null["cohort"]["twin"])
    # The pathology is still the true size: T stage is cut from size_mm.
    expected_t = np.select([t["size_mm"] < 20.0, t["size_mm"] < 50.0], ["T1", "T2"], "T3")
    assert (m["t_stage"].to_numpy() == expected_t).all()


def test_paper_profile_images_show_the_true_tumour(twin, paper_profile):
    """Under `paper` the images see the hazard's latents and the true size, so what they
    show does carry prognostic signal (and the null bound above would catch it)."""
    t, m = twin.truth, twin.manifest
    assert np.array_equal(t["a_img"], t["a"]) and np.array_equal(t["b_img"], t["b"])
    assert np.array_equal(t["size_img"], t["size_mm"])
    assert stats.spearmanr(m["mri_size_mm"], t["size_mm"]).statistic > 0.9
    _check_size_law(t["size_mm"].to_numpy(), t["a"].to_numpy(), m["mri_size_mm"].to_numpy(),
                    paper_profile["cohort"]["twin"])
    rho_max = 4 / np.sqrt(len(t) - 1)
    assert stats.spearmanr(t["a_img"], t["eta"]).statistic > 0.4
    assert stats.spearmanr(t["size_img"], t["eta"]).statistic > rho_max
    assert stats.spearmanr(m["mri_size_mm"], t["eta"]).statistic > rho_max


def test_the_cohort_stage_draws_the_images_at_the_imaging_size(tmp_path, paper_profile):
    """add_twin_images hands the image simulator size_img, not the true size."""
    from radsurv.cohort.twin import add_twin_images

    truth = pd.DataFrame({"patient_id": ["TW1", "TW2"], "center": [1, 1], "a": [0.0, 0.0], "b": [0.0, 0.0],
                          "a_img": [0.0, 0.0], "b_img": [0.0, 0.0], "size_mm": [40.0, 10.0],
                          "size_img": [10.0, 40.0]})
    img = {**paper_profile["imaging"], "development": {"us": {"n": 0}, "mri": {"n": 0}, "centers": [1]}}
    twin = add_twin_images(TwinCohort(manifest=truth[["patient_id", "center"]], truth=truth), img, tmp_path,
                           seed=3, n_jobs=1)
    out = twin.truth
    assert twin.development == {} and list(twin.manifest.columns[-4:]) == ["us_image", "us_mask", "mri_image",
                                                                           "mri_mask"]
    for modality in ("us", "mri"):
        masks = [sitk.ReadImage(str(tmp_path / p)) for p in out[f"{modality}_true_mask"]]
        # Equivalent diameter of the true lesion (a disc in US, a ball in MRI), in mm.
        areas = [sitk.GetArrayFromImage(m).sum() * np.prod(m.GetSpacing()) for m in masks]
        dims = masks[0].GetDimension()
        diam = [2 * (a / np.pi) ** 0.5 if dims == 2 else (6 * a / np.pi) ** (1 / 3) for a in areas]
        assert diam[0] < 16.0 < 30.0 < diam[1], (modality, diam)


def test_same_seed_same_bytes_other_seed_other_data(paper_profile):
    twin = paper_profile["cohort"]["twin"]
    h = lambda df: hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()  # noqa: E731
    assert h(simulate_cohort(twin, 7).manifest) == h(simulate_cohort(twin, 7).manifest)
    assert h(simulate_cohort(twin, 7).manifest) != h(simulate_cohort(twin, 8).manifest)

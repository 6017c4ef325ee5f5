"""Harrell's optimism bootstrap repeating the whole development: simulation truth (pure
noise features: the signature's corrected C falls to about 0.5 while its apparent C is
above), determinism, the test sets never reached, and the corrected calibration curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.config import load_profile
from radsurv.models import design_matrix
from radsurv.models.six_models import RADSCORE
from radsurv.validation import (DevelopmentData, corrected_calibration, development_data, optimism_bootstrap,
                                optimism_summary, selection_frequency)

REGIONS = ("us_intra", "us_peri", "mri_intra", "mri_peri")


def _cohort(seed: int, n: int, p: int, signal: float):
    """``n`` patients, four regions of ``p`` features; ``signal`` scales the first
    feature of two regions in the true hazard. One clinical variable (ki67) carries
    signal, one categorical (grade) and one MRI descriptor carry none."""
    rng = np.random.default_rng(seed)
    idx = [f"P{i:03d}" for i in range(n)]
    X = pd.DataFrame({f"{r}__f{j}": rng.normal(size=n) for r in REGIONS for j in range(p)}, index=idx)
    clin = pd.DataFrame({"ki67": rng.normal(20, 8, n), "grade": rng.choice(["G1", "G2", "G3"], n),
                         "mri_tic": rng.choice(["persistent", "washout"], n)}, index=idx)
    lp = signal * (X["us_intra__f0"] + X["mri_peri__f0"]) + 0.05 * (clin["ki67"] - 20)
    t = rng.exponential(60 * np.exp(-lp))
    c = rng.uniform(24, 100, n)
    split = np.where(np.arange(n) < int(0.7 * n), "train", np.where(np.arange(n) % 2, "internal", "external"))
    outcome = pd.DataFrame({"split": split, "time": np.minimum(t, c), "event": (t <= c).astype(int)}, index=idx)
    coding = {"ki67": "numeric", "grade": ["G1", "G2", "G3"], "mri_tic": ["persistent", "washout"]}
    design = design_matrix(clin, coding, extra=pd.DataFrame({RADSCORE: np.zeros(n)}, index=idx))
    return X, outcome, design


@pytest.fixture(scope="module")
def profile():
    p = load_profile("quick")
    sig = {**p["signatures"], "n_folds": 5, "nlambda": 30, "n_jobs": 1}
    return {**p, "signatures": sig}


def _dev(profile, seed=1, n=200, p=6, signal=0.0, poison=None):
    X, outcome, design = _cohort(seed, n, p, signal)
    if poison is not None:
        test = (outcome["split"] != "train").to_numpy()
        X = X.copy()
        X.loc[test] = np.nan if poison == "nan" else 1e6
        design = design.subset(design.X.index)  # the design's test rows are poisoned too
        design.X.loc[test] = np.nan
    return development_data(X, set(), design, ["ki67", "grade"], ["mri_tic"], outcome, profile, None, None)


@pytest.fixture(scope="module")
def null_boot(profile):
    dev = _dev(profile)
    boot, _ = optimism_bootstrap(dev, 24, seed=5, n_jobs=1, progress=False)
    return dev, boot


def test_only_training_patients_enter(profile):
    dev = _dev(profile)
    assert isinstance(dev, DevelopmentData)
    assert dev.features.shape[0] == dev.time.size == dev.design.X.shape[0] == 140


def test_noise_signature_is_corrected_towards_chance(null_boot):
    """The features are pure noise: whatever LASSO finds is optimism. Every resample is
    developed (a LASSO that keeps nothing gives the null signature, not a failure); the
    signature's C on its own resample exceeds its C on the training set, and the
    corrected C of the original development is closer to 0.5 than its apparent C. With a
    signature fitted once and reused in every resample the optimism would be about 0."""
    from radsurv.stats import harrell_c
    from radsurv.validation.optimism import _develop

    dev, boot = null_boot
    assert (boot["failed"] == "").all()
    sig = boot[boot["model"] == "signature"]
    assert len(sig) == 24
    optimism = (sig["apparent_c"] - sig["test_c"]).mean()
    assert optimism > 0.03
    n = dev.time.size
    _, radscore, _ = _develop(dev, np.arange(n), 99)
    apparent = harrell_c(dev.time, dev.event, radscore(np.arange(n))).c
    assert apparent > 0.55  # the original development found noise
    summary = optimism_summary(boot, {"signature": apparent}, ["signature"])
    assert summary["optimism"].iloc[0] == pytest.approx(optimism, abs=1e-12)
    corrected = summary["corrected_c"].iloc[0]
    assert abs(corrected - 0.5) < abs(apparent - 0.5)
    assert abs(corrected - 0.5) < 0.04
    # the clinical model carries real signal (ki67): little optimism
    clin = boot[boot["model"] == "clinical"]
    assert abs((clin["apparent_c"] - clin["test_c"]).mean()) < 0.03


def test_result_does_not_depend_on_workers(profile, null_boot):
    dev, boot = null_boot
    again, _ = optimism_bootstrap(dev, 4, seed=5, n_jobs=2, progress=False)
    first = boot[boot["resample"] < 4].reset_index(drop=True)
    pd.testing.assert_frame_equal(again, first)


@pytest.mark.parametrize("poison", ["nan", "huge"])
def test_poisoned_test_sets_change_nothing(profile, null_boot, poison):
    dev, boot = null_boot
    boot_p, _ = optimism_bootstrap(_dev(profile, poison=poison), 4, seed=5, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(boot_p, boot[boot["resample"] < 4].reset_index(drop=True))


def test_selection_frequency_counts_resamples(null_boot):
    dev, boot = null_boot
    freq = selection_frequency(boot, {"ki67": "Ki-67"})
    ok = boot[(boot["failed"] == "") & (boot["model"] == "clinical")]
    n_ki67 = sum("ki67" in str(v).split(";") for v in ok["variables"])
    row = freq[(freq["model"] == "clinical") & (freq["variable"] == "ki67")]
    assert int(row["resamples"].iloc[0]) == n_ki67
    assert row["share"].iloc[0] == pytest.approx(n_ki67 / boot[boot["failed"] == ""]["resample"].nunique())
    assert row["label"].iloc[0] == "Ki-67"
    # ki67 carries the only clinical signal (HR 1.05 per %): selected in most resamples
    assert row["share"].iloc[0] > 0.6


def test_corrected_calibration_closed_form():
    grid = {36.0: np.array([0.1, 0.2, 0.3])}
    calib = pd.DataFrame({"resample": [0, 0, 0, 1, 1, 1], "horizon": 36.0, "predicted": [0.1, 0.2, 0.3] * 2,
                          "apparent": [0.12, 0.22, 0.35, 0.10, 0.20, 0.31],
                          "test": [0.10, 0.20, 0.30, 0.10, 0.18, 0.27]})
    out = corrected_calibration(calib, {36.0: np.array([0.11, 0.19, 0.33])}, grid)
    assert out["optimism"].tolist() == pytest.approx([0.01, 0.02, 0.045])
    assert out["corrected"].tolist() == pytest.approx([0.10, 0.17, 0.285])
    assert out["n_resamples"].tolist() == [2, 2, 2]


def test_interrupted_bootstrap_resumes_from_the_cache(profile, null_boot, tmp_path):
    """Finished resamples are cached: a rerun (or a larger n_resamples) computes only the
    missing ones and returns exactly the uninterrupted result; other data get another key."""
    from radsurv.validation import optimism as opt

    dev, boot = null_boot
    first, _ = optimism_bootstrap(dev, 2, seed=5, progress=False, cache_dir=tmp_path)
    (folder,) = list(tmp_path.iterdir())
    assert sorted(f.name for f in folder.iterdir()) == ["resample-00000.json", "resample-00001.json"]
    calls = []
    original = opt.resample_once
    try:
        # called as radsurv.compute calls a task: by keyword
        opt.resample_once = lambda dev, b, seed: calls.append(b) or original(dev, b, seed)
        more, _ = optimism_bootstrap(dev, 3, seed=5, n_jobs=1, progress=False, cache_dir=tmp_path)
    finally:
        opt.resample_once = original
    assert calls == [2]
    pd.testing.assert_frame_equal(more, boot[boot["resample"] < 3].reset_index(drop=True))
    other = _dev(profile, seed=2)
    assert opt._cache_key(other, 5) != opt._cache_key(dev, 5) != opt._cache_key(dev, 6)


def test_resample_rows_are_the_resamples_own_stream():
    from radsurv.seeds import STREAM_OPTIMISM
    from radsurv.validation import resample_rows

    rows = resample_rows(500, 7, 3)
    assert rows.tolist() == np.random.default_rng([7, STREAM_OPTIMISM, 3]).integers(0, 500, 500).tolist()
    assert rows.min() >= 0 and rows.max() < 500
    assert resample_rows(500, 7, 3).tolist() == rows.tolist() != resample_rows(500, 7, 4).tolist()
    # about 1 - 1/e of the patients are drawn at least once
    assert abs(np.unique(rows).size / 500 - (1 - np.exp(-1))) < 0.05


def test_one_resample_is_the_bootstraps_resample(null_boot):
    """The resample developed by hand runs the workers' code: its rows are the full
    bootstrap's rows of the same resample, and it describes its draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radsurv.validation import Resample, one_resample, resample_rows

    dev, boot = null_boot
    one = one_resample(dev, 2, seed=5)
    assert isinstance(one, Resample)
    mine = boot[boot["resample"] == 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(one.rows, mine[one.rows.columns], check_dtype=False)
    rows = resample_rows(140, 5, 2)
    assert (one.n, one.n_distinct, one.events) == (140, np.unique(rows).size, int(dev.event[rows].sum()))
    s = one.summary()
    assert s.columns.tolist() == ["model", "apparent_c", "test_c", "optimism", "apparent_slope", "test_slope",
                                  "variables"]
    assert s["model"].tolist() == ["clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"]
    assert s["optimism"].to_numpy() == pytest.approx((mine["apparent_c"] - mine["test_c"]).to_numpy())
    assert one.failed == ""
    assert one.title() == (f"Bootstrap resample 2: 140 draws from 140 training patients ({one.n_distinct} distinct, "
                           f"{one.events} events)")
    assert one._repr_html_().startswith("<p><strong>Bootstrap resample 2:") and repr(one) == one.title()
    ax = one.plot()
    apparent, test = [line for line in ax.get_lines() if line.get_label().startswith(("Apparent", "Test"))]
    assert apparent.get_xdata() == pytest.approx(s["apparent_c"].to_numpy())
    assert test.get_xdata() == pytest.approx(s["test_c"].to_numpy())
    plt.close("all")


def test_optimism_bootstrap_object(profile, null_boot, tmp_path):
    """The bootstrap as an object: its summary is optimism_summary's, it recognises the
    resample developed by hand (and not an altered one), its plot draws one box per model."""
    import matplotlib

    matplotlib.use("Agg")
    import dataclasses

    import matplotlib.pyplot as plt

    from radsurv.stats import fit_cox, harrell_c
    from radsurv.validation import OptimismBootstrap, one_resample, training_measures

    dev, boot = null_boot
    keys = ["clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"]
    # apparent measures: Harrell's C and the Cox slope of each score on the training rows only
    rng = np.random.default_rng(4)
    n = dev.time.size
    outcome = pd.DataFrame({"split": ["train"] * n + ["external"] * 30,
                            "time": np.r_[dev.time, rng.uniform(1, 60, 30)],
                            "event": np.r_[dev.event, np.ones(30, int)]})
    scores = pd.DataFrame({k: rng.normal(size=n + 30) for k in keys})
    scores["mri"] = 0.0   # a constant score: C 0.5, no slope
    apparent, slope = training_measures(outcome, scores, keys)
    assert apparent["clinical"] == pytest.approx(harrell_c(dev.time, dev.event, scores["clinical"][:n].to_numpy()).c,
                                                 abs=1e-12)
    assert slope["signature"] == pytest.approx(float(fit_cox(scores[["signature"]][:n], dev.time,
                                                             dev.event).coef["signature"]), abs=1e-12)
    assert apparent["mri"] == 0.5 and np.isnan(slope["mri"])
    opt = OptimismBootstrap.run(dev, apparent, 3, seed=5, progress=False, cache_dir=tmp_path, apparent_slope=slope)
    pd.testing.assert_frame_equal(opt.resamples, boot[boot["resample"] < 3].reset_index(drop=True))
    pd.testing.assert_frame_equal(opt.summary(), optimism_summary(opt.resamples, apparent, list(apparent), slope))
    assert opt.summary().columns.tolist() == ["model", "n_resamples", "apparent_c", "optimism", "corrected_c",
                                              "apparent_slope", "corrected_slope", "optimism_se"]
    # corrected slope = apparent slope x mean(test / apparent slope of the resamples); with
    # every resample's apparent slope 1 (a complete-case Cox fit on its own scores), Harrell's
    # 1 - mean(1 - test slope)
    r = opt.resamples[opt.resamples["model"] == "clinical"]
    np.testing.assert_allclose(r["apparent_slope"], 1.0, atol=1e-6)
    assert opt.summary().set_index("model").loc["clinical", "corrected_slope"] == pytest.approx(
        slope["clinical"] * (r["test_slope"] / r["apparent_slope"]).mean(), abs=1e-12)
    assert opt.summary().set_index("model").loc["clinical", "corrected_slope"] == pytest.approx(
        slope["clinical"] * (1 - (1 - r["test_slope"]).mean()), abs=1e-5)
    # a scale: resamples whose slopes are both k times larger shrink as much
    scaled = opt.resamples.assign(apparent_slope=opt.resamples["apparent_slope"] * 7,
                                  test_slope=opt.resamples["test_slope"] * 7)
    pd.testing.assert_series_equal(optimism_summary(scaled, apparent, list(apparent), slope)["corrected_slope"],
                                   opt.summary()["corrected_slope"], rtol=1e-12)
    assert opt.n_failed == 0 and opt.failures.empty
    assert opt.title() == ("Optimism bootstrap: 3 resamples of the training set, each repeating the whole "
                           "development (Harrell et al. 1996)")
    assert "Optimism bootstrap: 3 resamples" in opt._repr_html_()
    one = one_resample(dev, 1, seed=5)
    assert opt.matches(one)
    altered = dataclasses.replace(one, rows=one.rows.assign(test_c=one.rows["test_c"] + 1e-6))
    assert not opt.matches(altered)
    other = dataclasses.replace(one, rows=one.rows.assign(variables="ki67"))
    assert not opt.matches(other)
    # the same cache, read back: the same result
    again = OptimismBootstrap.run(dev, apparent, 3, seed=5, progress=False, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again.resamples, opt.resamples)
    assert opt.selection_frequency({"ki67": "Ki-67"}).equals(selection_frequency(opt.resamples, {"ki67": "Ki-67"}))
    ax = opt.plot()
    assert len(ax.get_yticklabels()) == 6
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "Clinical model"
    means = [line for line in ax.get_lines() if line.get_marker() == "D" and len(line.get_xdata())]
    sig = opt.resamples[opt.resamples["model"] == "signature"]
    assert means[3].get_xdata()[0] == pytest.approx((sig["apparent_c"] - sig["test_c"]).mean())
    plt.close("all")
    failed = OptimismBootstrap(resamples=pd.concat([opt.resamples, pd.DataFrame(
        [{"resample": 3, "model": None, "failed": "ValueError: no event in a fold"}])], ignore_index=True),
        calibration=opt.calibration, apparent=apparent, models=tuple(apparent), n_resamples=4)
    assert failed.n_failed == 1 and "1 not developed and left out" in failed.title()

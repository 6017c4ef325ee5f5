"""The clinical digital twin: shape of the study, plausibility, determinism, truth."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from scipy import stats

from radsurv.cohort.twin import CLINICAL_COLUMNS, MRI_COLUMNS, simulate_cohort


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
    assert np.allclose(m.loc[ev, "dfs_time"], t.loc[ev, "event_time"], atol=0.02)


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
    assert stats.spearmanr(t["a"], grade_num).statistic > 0.4
    assert stats.spearmanr(t["a"], m["ki67"]).statistic > 0.4
    assert stats.spearmanr(t["b"], (m["lvi"] == "yes").astype(int)).statistic > 0.2
    # The radiologist reads what the images show: margin follows a_img.
    margin = m["mri_margin"].map({"circumscribed": 0, "irregular": 1, "spiculated": 2})
    assert stats.spearmanr(t["a_img"], margin).statistic > 0.4


def test_null_profile_images_are_independent_of_the_hazard():
    from radsurv.config import load_profile

    null = load_profile("null")
    tw = simulate_cohort(null["cohort"]["twin"], null["seed"])
    t = tw.truth
    assert not np.allclose(t["a"], t["a_img"])
    rho_a = stats.spearmanr(t["a_img"], t["eta"])
    rho_b = stats.spearmanr(t["b_img"], t["eta"])
    assert abs(rho_a.statistic) < 0.1 and abs(rho_b.statistic) < 0.1
    # ...while in the paper profile the imaging latents are the hazard's latents.
    paper = load_profile("paper")
    tp = simulate_cohort(paper["cohort"]["twin"], paper["seed"]).truth
    assert stats.spearmanr(tp["a_img"], tp["eta"]).statistic > 0.4


def test_same_seed_same_bytes_other_seed_other_data(paper_profile):
    twin = paper_profile["cohort"]["twin"]
    h = lambda df: hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()  # noqa: E731
    assert h(simulate_cohort(twin, 7).manifest) == h(simulate_cohort(twin, 7).manifest)
    assert h(simulate_cohort(twin, 7).manifest) != h(simulate_cohort(twin, 8).manifest)

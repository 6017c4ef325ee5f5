"""benchmarks/latent_visibility.py on a build made by hand: a feature built from h with a
known rank correlation at each centre and a known shift at centre 2, and one built from a.
The script must find them, report their rho per centre and the shift in centre-1 SDs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests._benchmarks import load_benchmark


def _script(root):
    return load_benchmark("latent_visibility")


def test_latent_visibility_finds_each_latents_feature_its_rho_per_centre_and_the_centre_shift(tmp_path, root):
    lv = _script(root)
    rng = np.random.default_rng(0)
    n = 400
    centre = np.repeat([1, 2], n // 2)
    a, b, h = rng.standard_normal((3, n))
    ids = [f"P{i:04d}" for i in range(n)]
    truth = pd.DataFrame({"patient_id": ids, "center": centre, "a_img": a, "b_img": b, "h_img": h})
    (tmp_path / "00_cohort").mkdir()
    (tmp_path / "02_features").mkdir()
    truth.to_parquet(tmp_path / "00_cohort" / "truth.parquet")
    # f_h follows h exactly at centre 1 (rank rho 1), not at all at centre 2 (h replaced by
    # noise there), and sits 1 centre-1 SD higher at centre 2; f_a is a monotone map of a.
    f_h = np.where(centre == 1, h, rng.standard_normal(n))
    f_h = f_h + np.where(centre == 2, 1.0 * f_h[centre == 1].std(ddof=1), 0.0)
    X = pd.DataFrame({"f_h": f_h, "f_a": np.exp(a), "noise": rng.standard_normal(n), "flat": 1.0}, index=ids)
    X.to_parquet(tmp_path / "02_features" / "matrix_mri_intra.parquet")
    pd.DataFrame(columns=["modality", "region", "feature", "icc", "flag"]).to_csv(tmp_path / "02_features" / "icc.csv")
    pd.DataFrame(columns=["patient_id"]).to_csv(tmp_path / "02_features" / "excluded.csv", index=False)
    best, effect = lv.visibility(tmp_path, top=1)
    by = best.set_index("latent")
    assert by.loc["h_img", "feature"] == "f_h" and by.loc["a_img", "feature"] == "f_a"
    assert by.loc["h_img", "rho_c1"] == 1.0 and abs(by.loc["h_img", "rho_c2"]) < 0.2
    assert by.loc["a_img", "rho_c1"] == by.loc["a_img", "rho_c2"] == 1.0
    # f_h's centre-2 mean is 1 SD up, plus the mean of noise against h's centre-1 mean
    expect = (f_h[centre == 2].mean() - f_h[centre == 1].mean()) / f_h[centre == 1].std(ddof=1)
    assert np.isclose(by.loc["h_img", "shift_c2"], expect) and 0.7 < expect < 1.3
    assert effect["matrix"].tolist() == ["mri_intra"] and effect["centre"].tolist() == [2]
    assert effect["patients"].tolist() == [200]   # the constant feature is left out, not a NaN SMD
    assert 0.0 < effect["median_abs_smd"].iloc[0] < 1.2

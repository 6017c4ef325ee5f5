"""Reference-batch ComBat: the training set is its fixed point, the external centres are
mapped onto it from their own features, the internal test set takes no part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.sensitivity.harmonisation import REFERENCE, batches_for, centre_effects, combat_harmonise


def _cohort(seed: int = 0, n: tuple[int, int, int, int] = (80, 40, 50, 45), p: int = 30, shift: bool = True):
    """Training, internal test and two external centres; the external centres' features
    are the training distribution moved and scaled per feature (known truth)."""
    rng = np.random.default_rng(seed)
    mu, sd = rng.normal(10, 3, p), rng.uniform(0.5, 2.0, p)
    frames, split, centre = [], [], []
    for k, (size, s, c) in enumerate(zip(n, ["train", "internal", "external", "external"], ["1", "1", "2", "3"])):
        z = rng.normal(size=(size, p))
        loc, scale = (rng.normal(0, 2, p), rng.uniform(0.5, 2.0, p)) if (shift and k >= 2) else (0.0, 1.0)
        frames.append(mu + loc + sd * scale * z)
        split += [s] * size
        centre += [c] * size
    ids = [f"P{i:03d}" for i in range(sum(n))]
    cols = [f"mri_intra__f{j}" for j in range(p // 2)] + [f"us_peri__f{j}" for j in range(p - p // 2)]
    X = pd.DataFrame(np.vstack(frames), index=ids, columns=cols)
    return X, pd.Series(split, index=ids), pd.Series(centre, index=ids)


def test_batches_training_reference_external_centres_internal_untouched():
    _, split, centre = _cohort()
    b = batches_for(split, centre)
    assert set(b[split == "train"]) == {REFERENCE}
    assert b[split == "internal"].isna().all()
    assert set(b[split == "external"]) == {"centre 2", "centre 3"}


def test_reference_unchanged_and_external_centres_mapped_onto_it():
    X, split, centre = _cohort()
    res = combat_harmonise(X, batches_for(split, centre))
    H = res.features
    train = (split == "train").to_numpy()
    assert np.array_equal(H[train].to_numpy(), X[train].to_numpy())
    assert np.array_equal(H[(split == "internal").to_numpy()].to_numpy(), X[(split == "internal").to_numpy()].to_numpy())
    ref_mean, ref_sd = X[train].mean(), X[train].std()
    for c in ("2", "3"):
        rows = (centre == c).to_numpy()
        before = ((X[rows].mean() - ref_mean) / ref_sd).abs()
        after = ((H[rows].mean() - ref_mean) / ref_sd).abs()
        assert before.median() > 0.5 and after.max() < 0.1, (before.median(), after.max())
        # scales matched on the whole; ComBat's empirical-Bayes prior shrinks each feature's
        # scale towards the others', so a single feature can stay off by a third
        ratio = H[rows].std() / ref_sd
        raw_ratio = X[rows].std() / ref_sd
        assert abs(np.log(ratio)).median() < 0.1 < abs(np.log(raw_ratio)).median()
        assert ratio.between(0.6, 1.6).all()
        # ComBat is affine per feature within a batch, with a positive slope: ranks are kept
        for col in X.columns:
            slope, intercept = np.polyfit(X.loc[rows, col], H.loc[rows, col], 1)
            assert slope > 0
            np.testing.assert_allclose(H.loc[rows, col], intercept + slope * X.loc[rows, col], atol=1e-8)
    assert list(res.blocks["block"]) == ["mri_intra", "us_peri"]
    assert res.blocks["n_harmonised"].tolist() == [15, 15] and res.blocks["n_constant"].sum() == 0


def test_poisoned_internal_test_features_change_nothing():
    """The internal test set takes no part: garbage there leaves the external centres'
    harmonised features bit for bit the same."""
    X, split, centre = _cohort(seed=3)
    b = batches_for(split, centre)
    clean = combat_harmonise(X, b).features
    poisoned = X.copy()
    internal = (split == "internal").to_numpy()
    poisoned.loc[internal] = 1e9
    poisoned.iloc[np.flatnonzero(internal)[0], 0] = np.nan
    dirty = combat_harmonise(poisoned, b).features
    ext = (split == "external").to_numpy()
    assert np.array_equal(dirty[ext].to_numpy(), clean[ext].to_numpy())
    assert np.array_equal(dirty[internal].to_numpy(), poisoned[internal].to_numpy(), equal_nan=True)


def test_a_feature_constant_in_a_centre_is_left_as_extracted():
    X, split, centre = _cohort(seed=5)
    X.loc[(centre == "3").to_numpy(), "us_peri__f0"] = 4.0
    res = combat_harmonise(X, batches_for(split, centre))
    assert res.blocks.set_index("block").loc["us_peri", "n_constant"] == 1
    assert np.array_equal(res.features["us_peri__f0"].to_numpy(), X["us_peri__f0"].to_numpy())


def test_errors_name_the_batch():
    X, split, centre = _cohort()
    b = batches_for(split, centre)
    b.iloc[np.flatnonzero((centre == "3").to_numpy())[1:]] = None
    with pytest.raises(ValueError, match="centre 3"):
        combat_harmonise(X, b)
    with pytest.raises(ValueError, match="reference"):
        combat_harmonise(X, pd.Series("centre 2", index=X.index))


def test_centre_effects_found_where_simulated_and_removed_by_combat():
    X, split, centre = _cohort(seed=7)
    b = batches_for(split, centre)
    before = centre_effects(X, b).set_index("block")
    after = centre_effects(combat_harmonise(X, b).features, b).set_index("block")
    assert (before["n_features"] == [15, 15]).all()
    assert (before["pct_differ"] > 80).all()
    assert (after["pct_differ"] < 20).all()
    same, split0, centre0 = _cohort(seed=7, shift=False)
    none = centre_effects(same, batches_for(split0, centre0))
    assert (none["n_differ"] <= 2).all()  # BH at 5%: no simulated centre effect


def test_features_identical_in_every_patient_are_left_as_extracted():
    """Identical images (cohort shape identical_images): a feature with one value in every
    patient has an SD of 1e-17 rather than 0 (pandas' mean is rounded: 0.1 in 80 patients),
    so it was handed to ComBat (which, on that shape's features, returned non-finite values
    and stopped 06); it is constant, left as extracted, and the block's other features are
    harmonised as before."""
    X, split, centre = _cohort(seed=5)
    b = batches_for(split, centre)
    before = combat_harmonise(X, b).features
    assert X["us_peri__f0"].std() > 0 and pd.Series([0.1] * 80).std() > 0     # the rounding this is about
    X["us_peri__f0"], X["us_peri__f1"] = 0.1, 123.456
    res = combat_harmonise(X, b)
    assert res.blocks.set_index("block").loc["us_peri", ["n_harmonised", "n_constant"]].tolist() == [13, 2]
    assert (res.features["us_peri__f0"] == 0.1).all() and (res.features["us_peri__f1"] == 123.456).all()
    rest = [c for c in X.columns if c not in ("us_peri__f0", "us_peri__f1")]
    assert np.isfinite(res.features[rest].to_numpy()).all()
    # the other block is untouched by the change
    mri = [c for c in X.columns if c.startswith("mri_intra")]
    assert np.array_equal(res.features[mri].to_numpy(), before[mri].to_numpy())

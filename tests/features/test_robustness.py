"""Tests for radsurv.features.robustness: ICC vs R irr, table, perturbation, figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.features.robustness import icc_single, icc_table, perturb_mask

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "icc"


FORMS = [("ICC(2,1)", "twoway_agreement_single"), ("ICC(3,1)", "twoway_consistency_single"),
         ("ICC(1,1)", "oneway_single")]


@pytest.mark.parametrize("form,key", FORMS)
def test_icc_matches_r_irr(form, key):
    ratings = pd.read_csv(REFERENCE / "data.csv", index_col="subject")
    ref = json.loads((REFERENCE / "results.json").read_text())["irr"][key]
    icc, lower, upper = icc_single(ratings, form)
    # README tolerance for icc: 1e-9 relative (measured ~1e-15)
    assert icc == pytest.approx(ref["value"], rel=1e-9)
    assert lower == pytest.approx(ref["lower"], rel=1e-9)
    assert upper == pytest.approx(ref["upper"], rel=1e-9)
    # the table gives the same numbers from the tidy layout
    tidy = ratings.rename_axis("patient").reset_index().melt(id_vars="patient", var_name="mask_source")
    tidy = tidy.assign(modality="MRI", region="intra", feature="f")
    row = icc_table(tidy, sources=("rater1", "rater2"), form=form).iloc[0]
    assert (row["icc"], row["lower"], row["upper"]) == (icc, lower, upper)


def test_icc_single_drops_incomplete_rows_and_rejects_unknown_forms():
    ratings = pd.read_csv(REFERENCE / "data.csv", index_col="subject")
    holey = ratings.copy()
    holey.iloc[[3, 8], 0] = np.nan
    assert icc_single(holey) == icc_single(ratings.drop(index=ratings.index[[3, 8]]))
    assert all(np.isnan(icc_single(ratings.iloc[:2])))  # fewer than 3 subjects
    assert all(np.isfinite(icc_single(ratings.iloc[:3])))
    with pytest.raises(ValueError, match="form must be one of"):
        icc_single(ratings, "ICC(A,1)")
    with pytest.raises(ValueError, match="form must be one of"):
        icc_table(_tidy(np.random.default_rng(0)), form="ICC(2,k)")


def _tidy(rng: np.random.Generator, n: int = 30) -> pd.DataFrame:
    truth = rng.normal(10, 3, n)
    rows = []
    for i, t in enumerate(truth):
        for source, noise in (("auto", 0.3), ("reader", 0.3)):
            rows.append((f"P{i}", "MRI", "intra", source, "stable", t + rng.normal(0, noise)))
            rows.append((f"P{i}", "MRI", "intra", source, "noisy", rng.normal(0, 3)))
            rows.append((f"P{i}", "MRI", "intra", source, "constant", 1.0))
    return pd.DataFrame(rows, columns=["patient", "modality", "region", "mask_source", "feature", "value"])


def test_icc_table_flags_unreliable_features():
    table = icc_table(_tidy(np.random.default_rng(0)), sources=("auto", "reader"))
    assert list(table.columns) == ["modality", "region", "feature", "icc", "lower", "upper",
                                   "flag_below_threshold"]
    by_feature = table.set_index("feature")
    assert by_feature.loc["stable", "icc"] > 0.9 and not by_feature.loc["stable", "flag_below_threshold"]
    assert by_feature.loc["stable", "lower"] < by_feature.loc["stable", "icc"] < by_feature.loc["stable", "upper"]
    assert by_feature.loc["noisy", "flag_below_threshold"]
    assert np.isnan(by_feature.loc["constant", "icc"]) and by_feature.loc["constant", "flag_below_threshold"]
    with pytest.raises(ValueError, match="not in the feature table"):
        icc_table(_tidy(np.random.default_rng(1)), sources=("auto", "true"))


def _disc(radius: float = 8.0) -> sitk.Image:
    yy, xx = np.mgrid[:40, :40]
    mask = sitk.GetImageFromArray(((yy - 20) ** 2 + (xx - 20) ** 2 <= radius**2).astype(np.uint8))
    mask.SetSpacing((0.5, 0.5))
    return mask


def test_perturb_mask_kinds():
    mask = _disc()
    area = sitk.GetArrayViewFromImage(mask).sum()
    rng = np.random.default_rng(0)
    eroded = sitk.GetArrayFromImage(perturb_mask(mask, rng, "erode")).sum()
    dilated = sitk.GetArrayFromImage(perturb_mask(mask, rng, "dilate")).sum()
    assert eroded < area < dilated
    jittered = perturb_mask(mask, rng, "jitter")
    jittered_arr = sitk.GetArrayFromImage(jittered)
    assert jittered.GetSpacing() == mask.GetSpacing()
    assert 0.7 * area < jittered_arr.sum() < 1.3 * area
    assert (jittered_arr != sitk.GetArrayViewFromImage(mask)).any()
    # reproducible from the seed
    a = perturb_mask(mask, np.random.default_rng(5), "random")
    b = perturb_mask(mask, np.random.default_rng(5), "random")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
    with pytest.raises(ValueError, match="empty mask"):
        perturb_mask(sitk.Image(10, 10, sitk.sitkUInt8), rng)
    with pytest.raises(ValueError, match="kind"):
        perturb_mask(mask, rng, "shrink")


def test_jitter_amplitude_is_in_physical_units_and_sub_voxel_jitters_move_the_contour():
    """A jitter of half a voxel's size still moves the contour, and the mean absolute
    change in radius grows with the amplitude (about sqrt(2/pi) x SD for a Gaussian field)."""
    size, spacing = 96, 0.5
    yy, xx = np.mgrid[:size, :size]
    disc = (((yy - size / 2) * spacing) ** 2 + ((xx - size / 2) * spacing) ** 2) <= 12.0 ** 2
    mask = sitk.GetImageFromArray(disc.astype(np.uint8))
    mask.SetSpacing((spacing, spacing))
    changed = []
    for amplitude_mm in (0.25, 1.0):
        out = perturb_mask(mask, np.random.default_rng(3), "jitter", jitter_voxels=amplitude_mm / spacing,
                           smoothness_voxels=4.0)
        arr = sitk.GetArrayFromImage(out).astype(bool)
        changed.append((arr ^ disc).sum())
    assert changed[0] > 0
    # Pixels that change per unit contour length ~ mean |displacement| / spacing.
    perimeter_px = 2 * np.pi * 12.0 / spacing
    assert 0.5 < changed[1] / perimeter_px / (1.0 / spacing * np.sqrt(2 / np.pi)) < 1.5


def _random_tidy(rng: np.random.Generator, n_patients: int = 25, n_features: int = 30,
                 sources=("auto", "reader", "perturbed-1")) -> pd.DataFrame:
    """Features with noise of varied size, missing values and rows, constant and
    exactly reproduced features, one feature measured on 2 patients only."""
    rows = []
    for f in range(n_features):
        truth = rng.normal(10, 3, n_patients) * 10.0 ** rng.uniform(-2, 3)
        noise = rng.uniform(0.05, 2) * truth.std()
        for i, t in enumerate(truth):
            if f == 3 and i > 1:
                continue
            for s, source in enumerate(sources):
                if f == 4 and rng.random() < 0.15:
                    continue  # missing row
                v = {0: 2.0, 1: t}.get(f, t + s * 0.1 * noise + rng.normal(0, noise))
                if f == 5 and rng.random() < 0.15:
                    v = np.nan
                rows.append((f"P{i:02d}", ("MRI", "US")[f % 2], ("intra", "peri")[f // 2 % 2], source,
                             f"feature{f}", v))
    tidy = pd.DataFrame(rows, columns=["patient", "modality", "region", "mask_source", "feature", "value"])
    return tidy.sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize("form", ["ICC(2,1)", "ICC(3,1)", "ICC(1,1)"])
@pytest.mark.parametrize("sources", [("auto", "reader"), ("auto", "reader", "perturbed-1")])
def test_icc_table_equals_icc_single_per_feature(form, sources):
    """The vectorised table equals the per-feature function bit for bit, with the
    feature order of the old groupby loop and its NaN rules."""
    tidy = _random_tidy(np.random.default_rng(1))
    table = icc_table(tidy, sources=sources, form=form)
    selected = tidy[tidy["mask_source"].isin(sources)]
    expected_order = [key for key, _ in selected.groupby(["modality", "region", "feature"], sort=False)]
    assert list(zip(table["modality"], table["region"], table["feature"])) == expected_order
    for (modality, region, feature), group in selected.groupby(["modality", "region", "feature"], sort=False):
        ratings = group.pivot(index="patient", columns="mask_source", values="value").reindex(columns=list(sources))
        row = table[(table["modality"] == modality) & (table["region"] == region) & (table["feature"] == feature)]
        got = row[["icc", "lower", "upper"]].to_numpy()[0]
        np.testing.assert_array_equal(got, icc_single(ratings, form), err_msg=feature)
        assert row["flag_below_threshold"].item() == (not (np.isfinite(got[0]) and got[0] >= 0.75))
    by = table.set_index("feature")
    assert np.isnan(by.loc["feature0", ["icc", "lower", "upper"]].astype(float)).all()  # constant
    assert np.isnan(by.loc["feature3", ["icc", "lower", "upper"]].astype(float)).all()  # 2 patients
    assert by.loc["feature0", "flag_below_threshold"] and by.loc["feature3", "flag_below_threshold"]
    # exactly reproduced: ICC 1 with the limiting interval [1, 1], not flagged
    assert by.loc["feature1", ["icc", "lower", "upper"]].tolist() == [1.0, 1.0, 1.0]
    assert not by.loc["feature1", "flag_below_threshold"]
    assert np.isfinite(by.loc[["feature4", "feature5"], "icc"].astype(float)).all()


def test_icc_table_values_against_pingouin():
    """pingouin (per feature, as the old implementation) as an independent check:
    values of the three forms at 1e-12, intervals at 1e-10."""
    import pingouin as pg  # pinned: imported plainly
    import warnings

    tidy = _random_tidy(np.random.default_rng(2), n_features=12)
    sources = ("auto", "reader", "perturbed-1")
    saved = dict(pg.options)
    pg.options["round"] = None
    pg.options["round.column.CI95"] = None
    try:
        for form, label in [("ICC(2,1)", "ICC(A,1)"), ("ICC(3,1)", "ICC(C,1)"), ("ICC(1,1)", "ICC(1,1)")]:
            table = icc_table(tidy, sources=sources, form=form).set_index("feature")
            for feature in ["feature2", "feature4", "feature5", "feature7", "feature10"]:
                long = tidy[tidy["feature"] == feature]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = pg.intraclass_corr(long, targets="patient", raters="mask_source", ratings="value",
                                             nan_policy="omit").set_index("Type").loc[label]
                assert table.loc[feature, "icc"] == pytest.approx(ref["ICC"], rel=1e-12), (form, feature)
                assert [table.loc[feature, "lower"], table.loc[feature, "upper"]] == pytest.approx(
                    list(ref["CI95"]), rel=1e-10), (form, feature)
    finally:
        pg.options.clear()
        pg.options.update(saved)


def test_icc_table_rejects_duplicates_and_drops_incomplete_patients():
    tidy = _tidy(np.random.default_rng(0))
    with pytest.raises(ValueError, match="more than one value"):
        icc_table(pd.concat([tidy, tidy.iloc[:1]]))
    with pytest.raises(ValueError, match="at least two mask sources"):
        icc_table(tidy, sources=("auto",))
    # a patient missing from one source only loses that patient for that feature
    partial = tidy[~((tidy["patient"] == "P0") & (tidy["mask_source"] == "reader"))]
    without = tidy[tidy["patient"] != "P0"]
    pd.testing.assert_frame_equal(icc_table(partial), icc_table(without))


# --------------------------------------------------------------------------- the stage's Robustness


def _sources_tidy(rng: np.random.Generator, n: int = 20, reader: bool = True) -> pd.DataFrame:
    rows = []
    for p in range(n):
        base = rng.normal(size=3)
        sources = (("auto", 0.0), ("reader", 0.05), ("perturbed1", 0.02), ("perturbed2", 0.02))
        for source, noise in sources if reader else [s for s in sources if s[0] != "reader"]:
            for f, value in enumerate(base + noise * rng.normal(size=3)):
                if f == 2 and source == "reader":   # the reader disagrees on feature 2
                    value = rng.normal()
                rows.append((f"P{p}", "us", "intra", source, f"original_firstorder_F{f}", value))
                rows.append((f"P{p}", "mri", "peri", source, f"original_glcm_F{f}", value * 2))
    return pd.DataFrame(rows, columns=["patient", "modality", "region", "mask_source", "feature", "value"])


def test_robustness_summary_title_and_the_published_figure():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import PolyCollection

    from radsurv.features.robustness import segmentation_robustness

    tidy = _sources_tidy(np.random.default_rng(0))
    params = {"icc": {"form": "ICC(2,1)", "threshold": 0.75}}
    subset = [f"P{p}" for p in range(15)]
    r = segmentation_robustness(tidy, subset, params)
    assert (r.n_subset, r.n_perturbations, r.form, r.threshold) == (15, 2, "ICC(2,1)", 0.75)
    assert r.has_reader and r.shown == "reader"
    # the ICCs are those of icc_table on the subset
    sub = tidy[tidy.patient.isin(subset)]
    ref = icc_table(sub, sources=("auto", "reader")).set_index(["modality", "feature"])["icc"]
    assert np.allclose(r.table.set_index(["modality", "feature"])["icc_reader"].loc[ref.index], ref)
    s = r.summary()
    assert list(s.columns) == ["modality", "region", "features", "median_icc_reader", "median_icc_perturbation",
                               "robust", "share_robust"]
    assert s[["modality", "region"]].values.tolist() == [["US", "intra"], ["MRI", "peri"]]   # MODALITIES order
    us = r.table[r.table.modality == "us"]
    assert s.loc[0, "median_icc_reader"] == us["icc_reader"].median()
    assert s["robust"].tolist() == [2, 2] and s["share_robust"].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert r.title() == ("Segmentation robustness, ICC(2,1) in 15 training patients: 4 of 6 features robust "
                         "(ICC ≥ 0.75 in both comparisons)") == repr(r)
    assert r.title() in r._repr_html_()
    ax = r.plot()
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2    # one violin per region
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["MRI peri", "US intra"]
    assert ax.get_xticklabels()[1].get_text().split("\n")[1] == "67% >= 0.75"
    assert any(line.get_ydata()[0] == 0.75 for line in ax.get_lines() if line.get_linestyle() == "--")
    assert ax.figure.get_dpi() == 150 and tuple(ax.figure.get_size_inches()) == (4.6, 3.6)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_robustness_without_a_second_delineation_shows_the_perturbations():
    import matplotlib

    matplotlib.use("Agg")
    from radsurv.features.robustness import segmentation_robustness

    tidy = _sources_tidy(np.random.default_rng(1), reader=False)
    r = segmentation_robustness(tidy, [f"P{p}" for p in range(20)], {"icc": {"form": "ICC(2,1)", "threshold": 0.75}})
    assert not r.has_reader and r.shown == "perturbation"
    assert r.summary()["median_icc_reader"].isna().all() and (r.summary()["median_icc_perturbation"] > 0.95).all()
    assert "in the comparison made" in r.title()
    assert r.plot_table()["icc"].equals(r.table["icc_perturbation"])
    assert set(r.plot_table()["modality"]) == {"US", "MRI"}
    import matplotlib.pyplot as plt

    plt.close("all")


def test_the_icc_figure_keeps_its_look_whatever_style_was_applied():
    """The published ICC figure has matplotlib's default look; a cell that drew a styled
    figure first (apply_style) must not change it."""
    import matplotlib

    matplotlib.use("Agg")
    from radsurv.plots.features import icc_axes
    from radsurv.plots.style import apply_style, plt

    with plt.rc_context():
        apply_style()
        ax = icc_axes(4)
        assert not plt.rcParams["axes.spines.top"]   # the style is on ...
        assert ax.spines["top"].get_visible() and ax.spines["right"].get_visible()   # ... not in the figure
        assert tuple(ax.figure.get_size_inches()) == (7.6, 3.6) and ax.figure.get_dpi() == 150
    plt.close("all")

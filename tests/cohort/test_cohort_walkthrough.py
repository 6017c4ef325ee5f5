"""The result objects and public steps the cohort notebook walks through: the twin
(its true survival against the closed form and its calibration target), the input
contract's report, the loaded cohort, Table 1, the sets (against R survival, GBSG2),
the images, and a user's inputs."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from radsurv.cohort.images import CohortImaging, example_cases
from radsurv.cohort.manifest import LoadedCohort, ManifestSpec, Problem, InputReport, load_cohort, \
    check_manifest
from radsurv.cohort.sets import CohortSets, cohort_summary, describe_sets
from radsurv.cohort.stage import (ManifestSource, PreparedInputs, describe_images, prepare_inputs,
                                  input_exclusions)
from radsurv.cohort.table1 import TEST_REASONS, BaselineTable, baseline_characteristics
from radsurv.cohort.twin import TwinCohort, add_twin_images, simulate_cohort, true_survival
from radsurv.exceptions import StageError
from radsurv.plots.imaging import image_statistics_table
from radsurv.plots.style import SET_COLORS

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "km_logrank"


# ------------------------------------------------------------------ the twin
@pytest.fixture(scope="module")
def twin(quick_profile):
    return simulate_cohort(quick_profile["cohort"]["twin"], 5)


def test_true_survival_is_the_weibull_closed_form():
    t = np.array([0.0, 12.0, 60.0])
    # one patient at eta = 0: exp(-(t / scale)^shape)
    np.testing.assert_allclose(true_survival([0.0], 100.0, 1.5, t), np.exp(-(t / 100.0) ** 1.5), rtol=1e-15)
    # the mean over patients, not the survival of the mean patient
    two = true_survival([np.log(2.0), np.log(0.5)], 50.0, 1.0, t)
    np.testing.assert_allclose(two, 0.5 * (np.exp(-2 * t / 50.0) + np.exp(-0.5 * t / 50.0)), rtol=1e-15)
    assert two[2] > np.exp(-t[2] / 50.0 * 1.25)


def test_the_twins_true_survival_meets_its_5_year_target(twin, quick_profile):
    """The Weibull scale is solved so that the cohort's mean S(60) is the stated target."""
    hz = quick_profile["cohort"]["twin"]["hazard"]
    s60 = true_survival(twin.truth["eta"], twin.truth["weibull_scale"].iloc[0], hz["weibull_shape"], [60.0])
    assert s60[0] == pytest.approx(hz["target_dfs_at_60_months"], abs=1e-9)


def test_twin_summary_coefficients_and_title(twin, quick_profile):
    hz = quick_profile["cohort"]["twin"]["hazard"]
    s = twin.summary()
    assert list(s.columns) == ["patients", "events", "event_rate", "centre_log_hr", "true_lp_mean", "true_lp_sd"]
    assert list(s.index) == ["1", "2", "3"] and s["patients"].tolist() == [160, 40, 30]
    m, t = twin.manifest, twin.truth
    for c in (1, 2, 3):
        sel = (m["center"] == c).to_numpy()
        assert s.loc[str(c), "events"] == m.loc[sel, "dfs_event"].sum()
        assert s.loc[str(c), "true_lp_mean"] == pytest.approx(t.loc[sel, "eta"].mean(), rel=1e-12)
        assert s.loc[str(c), "centre_log_hr"] == float({int(k): v for k, v in hz["center_log_hr"].items()}[c])
    np.testing.assert_allclose(s["event_rate"], s["events"] / s["patients"])
    co = twin.coefficients()
    assert co.loc["a", "log_hr"] == hz["log_hr"]["a"]
    assert co.loc["n_stage N3", "log_hr"] == hz["log_hr"]["n_stage"]["N3"]
    np.testing.assert_allclose(co["hr"], np.exp(co["log_hr"]))
    n, e = len(m), int(m["dfs_event"].sum())
    assert twin.title().startswith(f"Digital twin: {n} patients in 3 centres, {e} DFS events")
    assert "shape 1.1" in twin.title() and "5-year DFS of 82%" in twin.title()
    assert twin.title() in twin._repr_html_() and repr(twin) == twin.title()
    assert not any(pid in twin._repr_html_() for pid in m["patient_id"])
    tertile = twin.tertiles()
    assert tertile.value_counts().to_dict() == {"low": 77, "middle": 76, "high": 77}
    assert t.loc[tertile == "high", "eta"].min() > t.loc[tertile == "low", "eta"].max()


def test_twin_plot_draws_true_and_observed_curves_per_tertile(twin):
    ax = twin.plot()
    assert isinstance(ax, Axes)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [f"{g} tertile: {k}" for g in ("low", "middle", "high") for k in ("true", "observed (KM)")]
    true = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    # the high-risk tertile's true survival is lowest at every time after 0
    assert (true["high tertile: true"][1:] < true["middle tertile: true"][1:]).all()
    assert (true["middle tertile: true"][1:] < true["low tertile: true"][1:]).all()


def test_a_twin_without_parameters_shows_no_model():
    bare = TwinCohort(manifest=pd.DataFrame({"patient_id": ["a"], "center": [1], "dfs_event": [0]}),
                      truth=pd.DataFrame({"patient_id": ["a"], "eta": [0.0]}))
    assert bare.coefficients().empty and "Weibull" not in bare.title()
    with pytest.raises(ValueError, match="parameters are needed"):
        bare.plot()


def test_add_twin_images_writes_the_development_sets_it_is_asked_for(tmp_path, quick_profile):
    small = {**quick_profile["cohort"]["twin"], "n_per_center": {1: 2, 2: 1, 3: 1}}
    twin = simulate_cohort(small, 3)
    img = {**quick_profile["imaging"], "development": {"us": {"n": 2}, "mri": {"n": 0}, "centers": [1]}}
    out = add_twin_images(twin, img, tmp_path, seed=3, n_jobs=1)
    assert list(out.development) == ["us"] and len(out.development["us"]) == 2
    assert all((tmp_path / p).is_file() for p in out.development["us"]["image"])
    assert out.manifest["us_mask"].str.endswith("_reader.nii.gz").all()
    assert out.truth["mri_true_mask"].str.endswith("_mask.nii.gz").all()
    assert out.params is twin.params and twin.development == {}


# ------------------------------------------------------------------ the input contract
def _manifest():
    return pd.DataFrame({"patient_id": ["p1", "p2", "p3", "p3", "p5", "p6", "p7", "p8"],
                         "center": ["1", "1", "9", "1", "1", "1", "2", "2"],
                         "dfs_time": ["10", "-3", "5", "7", "8", "9", "11", "12"],
                         "dfs_event": ["1", "0", "1", "1", "0", "1", "0", "1"]})


def test_validation_report_counts_problems_by_column_and_matches_the_flow():
    spec = ManifestSpec(columns={}, internal_centers=("1",), external_centers=("2",))
    df = _manifest()
    report = check_manifest(df, spec)
    s = report.summary()
    assert list(s.columns) == ["problems", "rows", "first_in_row"]
    # row 4 repeats p3 (patient_id), row 3 has an unknown centre, row 2 a negative time
    assert s.to_dict("index") == {"patient_id": {"problems": 1, "rows": 1, "first_in_row": 1},
                                  "center": {"problems": 1, "rows": 1, "first_in_row": 1},
                                  "dfs_time": {"problems": 1, "rows": 1, "first_in_row": 1}}
    assert report.title() == "Input contract: 8 rows checked, 3 problem(s) in 3 row(s); 0 mask(s) to resample " \
                             "onto their image's grid"
    assert html.escape(report.title()) in report._repr_html_() and "p3" not in report._repr_html_()
    loaded = load_cohort(df, spec, source="m.csv", seed=1, split_params={"n_train": 2, "stratify": None},
                         on_invalid="exclude", report=report)
    flow = {reason: len(rows) for reason, rows in input_exclusions(loaded.excluded)}
    assert flow == loaded.exclusions()["rows"].to_dict() == {f"invalid {c}": n for c, n in s["first_in_row"].items()}


def test_validation_report_first_failing_column_and_notes():
    rep = InputReport(n_rows=5, problems=[Problem(2, "a", "dfs_time", "x"), Problem(2, "a", "center", "y"),
                                               Problem(4, "b", "center", "z"), Problem(None, None, "age", "missing")],
                           notes=[Problem(1, "c", "mri_mask", "resampled"), Problem(1, "c", "us_mask", "resampled")])
    s = rep.summary()
    assert s.loc["dfs_time"].tolist() == [1, 1, 1] and s.loc["center"].tolist() == [2, 2, 1]
    assert s.loc["age"].tolist() == [1, 0, 0]
    assert s.iloc[-1].tolist() == [0, 1, 0] and s.index[-1].startswith("notes")
    assert "4 problem(s) in 2 row(s); 2 mask(s) to resample" in rep.title()
    assert InputReport(n_rows=3).summary().empty and "no problem" in InputReport(n_rows=3).title()


def test_loaded_cohort_summary_by_set():
    data = pd.DataFrame({"patient_id": list("abcdefg"), "center": ["1", "1", "1", "1", "2", "3", "3"],
                         "split": ["train", "train", "train", "internal", "external", "external", "external"],
                         "dfs_event": [1, 0, 1, 0, 1, 1, 0]})
    excluded = pd.DataFrame({"row": [3, 8], "patient_id": ["x", None], "reason": ["center: unknown", "dfs_time: -1"]})
    loaded = LoadedCohort(data=data, excluded=excluded, source="m.csv")
    s = loaded.summary()
    assert list(s.index) == ["Training", "Internal test", "External test", "Overall"]
    assert s["patients"].tolist() == [3, 1, 3, 7] and s["events"].tolist() == [2, 0, 2, 4]
    np.testing.assert_allclose(s["event_rate"], [2 / 3, 0, 2 / 3, 4 / 7])
    assert s["centres"].tolist() == ["1", "1", "2, 3", "1, 2, 3"]
    assert loaded.exclusions()["rows"].to_dict() == {"invalid center": 1, "invalid dfs_time": 1}
    assert loaded.title() == "Cohort: 7 patients analysed from 3 centres, 4 DFS events; 2 row(s) excluded"
    assert "Cohort: 7 patients" in loaded._repr_html_() and "<td>x</td>" not in loaded._repr_html_()


# ------------------------------------------------------------------ Table 1
def test_baseline_table_shows_its_tests(quick_profile):
    rng = np.random.default_rng(2)
    n = 150
    data = pd.DataFrame({"split": np.array(["train", "internal", "external"])[np.arange(n) % 3],
                         "age": rng.normal(50, 10, n), "ki67": rng.exponential(20, n),
                         "er": pd.Categorical(rng.choice(["positive", "negative"], n))})
    columns = {"age": "numeric", "ki67": "numeric", "er": ["positive", "negative"]}
    t1 = baseline_characteristics(data, columns, {"age": "Age", "ki67": "Ki-67", "er": "ER"})
    assert isinstance(t1, BaselineTable)
    assert t1.summary().equals(t1.table) and list(t1.table.columns[-2:]) == ["P-value", "Test"]
    tests = t1.tests()
    assert list(tests.columns) == ["P-value", "Test", "why"]
    assert tests["Test"].tolist() == ["One-way ANOVA", "Kruskal-Wallis", "Chi-squared"]
    assert tests["why"].tolist() == [TEST_REASONS[t] for t in tests["Test"]]
    assert tests.index[0].startswith("Age") and tests.index[1].startswith("Ki-67")
    p = pd.to_numeric(tests["P-value"].str.lstrip("<"))
    assert t1.title() == (f"Table 1: 150 patients by set; 3 characteristic(s) compared across the sets, "
                          f"{int((p < 0.05).sum())} with p < 0.05")
    assert html.escape(t1.title()) in t1._repr_html_()


# ------------------------------------------------------------------ the sets
@pytest.fixture(scope="module")
def gbsg2_sets():
    data = pd.read_csv(REFERENCE / "data.csv")
    r = json.loads((REFERENCE / "results.json").read_text(encoding="utf-8"))
    split = data["group3"].map({"I": "train", "II": "internal", "III": "external"})
    cohort = pd.DataFrame({"patient_id": data["id"].astype(str), "center": "1", "split": split,
                           "dfs_time": data["time"].astype(float), "dfs_event": data["event"]})
    return describe_sets(cohort, "months", r["times"]), r, cohort


def test_sets_against_r_survival(gbsg2_sets):
    """GBSG2's grades as the three sets (time in days read as months: the numbers do not
    care): DFS at the landmarks and the 3-group log-rank test as R's survival gives them."""
    sets, r, cohort = gbsg2_sets
    s = sets.summary()
    assert list(s.index) == ["Training", "Internal test", "External test"]
    keys = [f"dfs_{int(round(t / 12))}y" for t in r["times"]]
    assert list(s.columns) == ["patients", "events", "event_rate_pct", "median_followup_months",
                               *[c for k in keys for c in (f"{k}_pct", f"{k}_ci")]]
    assert s["patients"].tolist() == r["logrank_3group"]["n"]
    assert s["events"].tolist() == r["logrank_3group"]["observed"]
    for label, grade in zip(s.index, ("I", "II", "III")):
        at = r["km"]["group3"][grade]["conf_type_log-log"]["at_times"]
        for k, surv, lo, hi in zip(keys, at["surv"], at["lower"], at["upper"]):
            assert s.loc[label, f"{k}_pct"] == float(f"{100 * surv:.1f}")
            lo, hi = (1.0, 1.0) if lo is None else (lo, hi)
            assert s.loc[label, f"{k}_ci"] == f"{100 * lo:.1f}-{100 * hi:.1f}"
    assert sets.numbers["logrank_sets_chisq"] == f"{r['logrank_3group']['chisq']:.2f}"
    assert sets.title().endswith(f"chi-square {r['logrank_3group']['chisq']:.2f}, p < 0.001")
    assert sets.numbers == cohort_summary(cohort, cohort["dfs_time"].to_numpy(), [float(t) for t in r["times"]])
    assert html.escape(sets.title()) in sets._repr_html_()


def test_sets_in_days_are_reported_in_months():
    data = pd.DataFrame({"patient_id": list("abcdef"), "center": "1",
                         "split": ["train", "train", "internal", "internal", "external", "external"],
                         "dfs_time": [365.25, 730.5, 182.625, 1461.0, 913.125, 365.25],
                         "dfs_event": [1, 0, 1, 0, 0, 1]})
    sets = describe_sets(data, "days", [12])
    np.testing.assert_allclose(sets.time, [12.0, 24.0, 6.0, 48.0, 30.0, 12.0], rtol=1e-15)
    assert sets.summary().loc["Training", "dfs_1y_pct"] == 50.0


def test_sets_plot_is_the_papers_figure(gbsg2_sets):
    sets, _, _ = gbsg2_sets
    ax = sets.plot()
    fig = ax.figure
    assert len(fig.axes) == 2  # the curves over the numbers at risk
    risk = [t for t in fig.axes[1].texts if (t.get_gid() or "").startswith("at-risk|")]
    assert {t.get_gid().split("|")[1] for t in risk} == {"train", "internal", "external"}
    assert [t.get_text() for t in ax.texts] == [sets.annotation]
    steps = [line for line in ax.get_lines() if line.get_linestyle() == "-"]  # beside the censoring ticks
    assert [line.get_color() for line in steps] == [SET_COLORS[s] for s in ("train", "internal", "external")]
    import matplotlib.pyplot as plt

    _, own = plt.subplots()
    assert sets.plot(ax=own) is own and len(own.figure.axes) == 1


# ------------------------------------------------------------------ the images
def _write(array, spacing, path):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return path.name


@pytest.fixture()
def user_cohort(tmp_path):
    """Four patients in two centres with a 2D US and a 3D MRI each (files relative to tmp_path)."""
    rows = []
    yy, xx = np.mgrid[:40, :40]
    disc = ((yy - 20) ** 2 + (xx - 20) ** 2 <= 36).astype(np.uint8)
    for i, (center, event, time) in enumerate([("A", 1, 5.0), ("A", 0, 50.0), ("B", 0, 30.0), ("B", 1, 9.0)]):
        us = (100 + 10 * i + np.random.default_rng(i).normal(0, 5, (40, 40))).astype(np.float32)
        mri = np.stack([us * (1 + 0.1 * k) for k in range(6)])
        rows.append({"patient_id": f"HN{i}", "center": center, "dfs_time": time, "dfs_event": event,
                     "split": ["train", "internal", "external", "external"][i],
                     "us_image": _write(us, (0.5, 0.5), tmp_path / f"us{i}.nii.gz"),
                     "us_mask": _write(disc, (0.5, 0.5), tmp_path / f"usm{i}.nii.gz"),
                     "mri_image": _write(mri, (1.0, 1.0, 2.0), tmp_path / f"mri{i}.nii.gz"),
                     "mri_mask": _write(np.stack([disc] * 6), (1.0, 1.0, 2.0), tmp_path / f"mrim{i}.nii.gz")})
    return pd.DataFrame(rows), tmp_path


def test_describe_images_of_a_users_cohort(user_cohort, quick_profile):
    data, root = user_cohort
    loaded = LoadedCohort(data=data, excluded=pd.DataFrame(columns=["row", "patient_id", "reason"]), source="m.csv")
    source = ManifestSource(path=root / "manifest.csv", simulated=False)
    profile = {**quick_profile, "imaging": {**quick_profile["imaging"],
                                            "development": {"us": {"manifest": None}, "mri": {"manifest": None}}}}
    inputs = prepare_inputs(profile, loaded, source, root / "out")
    assert inputs.masks.empty and inputs.development == {} and inputs.devset_excluded == {}
    imaging = describe_images(profile, loaded, source, inputs, root / "out")
    assert isinstance(imaging, CohortImaging)
    assert imaging.variables == {"n_us": 4, "n_mri": 4, "n_dev_us": 0, "n_dev_excluded_us": 0, "n_mask_us": 4,
                                 "n_dev_mri": 0, "n_dev_excluded_mri": 0, "n_mask_mri": 4, "n_masks_resampled": 0,
                                 "mask_label": quick_profile["imaging"]["mask_label"]}
    s = imaging.summary()
    assert list(s.index) == [("A", "us"), ("A", "mri"), ("B", "us"), ("B", "mri")]
    assert s.loc[("A", "us"), "n"] == 2
    # a disc of 113 pixels of 0.25 mm², and 6 slices of it at 0.5 mm³ a voxel
    assert s.loc[("A", "us"), "lesion_area_mm2"] == pytest.approx(disc_pixels() * 0.25)
    assert s.loc[("B", "mri"), "lesion_volume_mm3"] == pytest.approx(6 * disc_pixels() * 2.0)
    assert s.loc[("A", "us"), "intensity_mean"] == pytest.approx(105, abs=1)
    assert imaging.title() == "Images: 4 US and 4 MRI studies" and imaging.title() in imaging._repr_html_()
    assert not any(pid in imaging._repr_html_() for pid in data["patient_id"])
    assert imaging.statistics.equals(image_statistics_table(data, root=root))
    assert [(c["center"], c["risk"]) for c in imaging.cases] == [("A", "low"), ("A", "high"), ("B", "low"),
                                                                 ("B", "high")]


def disc_pixels() -> int:
    yy, xx = np.mgrid[:40, :40]
    return int(((yy - 20) ** 2 + (xx - 20) ** 2 <= 36).sum())


def test_cohort_imaging_plots(user_cohort):
    data, root = user_cohort
    imaging = CohortImaging(statistics=image_statistics_table(data, root=root), cases=example_cases(data), root=root,
                            variables={"n_us": 4, "n_mri": 4, "reader_dice_us": "0.85",
                                       "reader_dice_us_iqr": "0.8-0.9"})
    assert imaging.title().endswith("median Dice US 0.85 (IQR 0.8-0.9)")
    ax = imaging.plot(statistic="snr")
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 4 and [t.get_text() for t in ax.get_xticklabels()] == ["Centre A", "Centre B"]
    stats = imaging.statistics.set_index(["center", "modality"])["snr"]
    assert sorted(b.get_height() for b in bars) == pytest.approx(sorted(stats))
    grid = imaging.plot_examples()
    assert grid.shape == (8,) and grid[0].get_title() == "Centre A · low risk · US"
    assert grid[7].get_title() == "Centre B · high risk · DCE-MRI"
    one = imaging.plot_case(1)
    assert [a.get_title() for a in one] == ["Centre A · high risk · US", "Centre A · high risk · DCE-MRI"]
    assert all(a.images for a in one)  # an image drawn in each panel, titled without the patient


def test_a_cohort_without_images_has_no_imaging(quick_profile, tmp_path):
    data = pd.DataFrame({"patient_id": ["a"], "center": ["1"], "dfs_time": [3.0], "dfs_event": [1], "split": ["train"]})
    loaded = LoadedCohort(data=data, excluded=pd.DataFrame(columns=["row", "patient_id", "reason"]), source="m")
    inputs = PreparedInputs(masks=pd.DataFrame(columns=["patient_id", "modality", "mask", "supplied", "action"]))
    assert describe_images(quick_profile, loaded, ManifestSource(tmp_path / "m.csv", False), inputs, tmp_path) is None


def test_the_twin_takes_no_development_manifest(quick_profile, tmp_path):
    data = pd.DataFrame({"patient_id": ["a"], "center": ["1"], "dfs_time": [3.0], "dfs_event": [1], "split": ["train"]})
    loaded = LoadedCohort(data=data, excluded=pd.DataFrame(columns=["row", "patient_id", "reason"]), source="m")
    profile = {**quick_profile, "imaging": {**quick_profile["imaging"], "development": {
        "us": {"manifest": "dev.csv"}, "mri": {"manifest": None}}}}
    with pytest.raises(StageError, match="imaging.development.us.manifest is for a user's cohort"):
        prepare_inputs(profile, loaded, ManifestSource(tmp_path / "m.csv", True), tmp_path)
    twin = TwinCohort(manifest=data, truth=data, development={"mri": pd.DataFrame({"image": ["x"]})})
    plain = {**quick_profile, "imaging": {**quick_profile["imaging"], "development": {
        "us": {"manifest": None}, "mri": {"manifest": None}}}}
    inputs = prepare_inputs(plain, loaded, ManifestSource(tmp_path / "m.csv", True), tmp_path, twin=twin)
    assert list(inputs.development) == ["mri"] and inputs.devset_excluded == {}

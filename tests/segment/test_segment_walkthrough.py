"""The notebook's walkthrough of segmentation: the development sets, the training
history, the held-out agreement, one case step by step, the failures by kind, the
failure policy as a step of its own, and the example figure, each a result that shows
itself (summary, title, plot)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import SimpleITK as sitk  # noqa: E402

from radsurv.segment.agreement import (FALLBACK_REASON, FALLBACK_REASONS, NO_SEGMENTATION, Overlays,  # noqa: E402
                                       PolicyOutcome, SegmentationAgreement, SegmentationFailures,
                                       agreement_metrics, agreement_table, segmentation_table)
from radsurv.segment.baseline import BaselineSegmenter  # noqa: E402
from radsurv.segment.devsets import Devsets, UNetTraining, weights_origin  # noqa: E402
from radsurv.segment.inference import FAILED, apply_failure_policy, segment_cohort  # noqa: E402
from radsurv.segment.steps import STEPS, ExampleCase, example_case, segmentation_steps  # noqa: E402
from radsurv.stages.readers import CohortOutputs  # noqa: E402

from ._segment_synth import disc_case, make_image  # noqa: E402
from .test_segment_stage import _metrics as _stage_metrics  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def cohort_outputs(data: pd.DataFrame, devsets=None) -> CohortOutputs:
    return CohortOutputs(Path("."), data, pd.DataFrame(), Path("."), False,
                         {"internal": ["1"], "external": ["2"]}, devsets or {})


# --------------------------------------------------------------------------- the failure policy as its own step


def _policy_cases(tmp_path):
    """P1 found, P2 nothing found (reader usable), P3 at the border (no reader), P4 nothing
    found and the reader's lesion at the border too."""
    good, good_mask = disc_case(1, n=240, spacing=0.15, bright=False, radius_px=(30, 36))
    blank = make_image(np.full((240, 240), 128, np.uint8), (0.15, 0.15))
    a = sitk.GetArrayFromImage(good)
    border_img = make_image(np.ascontiguousarray(a[:, 100:]), (0.15, 0.15))
    reader_at_border = make_image(np.ascontiguousarray(sitk.GetArrayFromImage(good_mask)[:, 100:]), (0.15, 0.15))
    blank_small = make_image(np.full((240, 140), 128, np.uint8), (0.15, 0.15))
    paths = {}
    for name, img in (("good_mask", good_mask), ("reader_border", reader_at_border)):
        paths[name] = str(tmp_path / f"{name}.nii.gz")
        sitk.WriteImage(img, paths[name])
    return [
        {"patient_id": "P1", "image": good, "reader_mask": paths["good_mask"]},
        {"patient_id": "P2", "image": blank, "reader_mask": paths["good_mask"]},
        {"patient_id": "P3", "image": border_img, "reader_mask": None},
        {"patient_id": "P4", "image": blank_small, "reader_mask": paths["reader_border"]},
    ]


@pytest.mark.parametrize("policy", ["reader", "exclude"])
def test_the_policy_applied_afterwards_gives_the_same_table_as_in_one_go(tmp_path, policy):
    cases = _policy_cases(tmp_path)
    seg = BaselineSegmenter("us")
    at_once = segment_cohort(cases, seg, tmp_path / "a", progress=False, policy=policy, border_margin_mm=5.0)
    checked = segment_cohort(cases, seg, tmp_path / "a", progress=False, policy=None, border_margin_mm=5.0)
    # before the policy: the failed masks wait, with the check's explanation
    assert list(checked["source"]) == ["auto", FAILED, FAILED, FAILED]
    assert list(checked["flag"]) == ["ok", "empty", "border", "empty"]
    assert checked.loc[2, "detail"].startswith("lesion within the 5 mm peri-tumoral ring") and checked["mask"][1:].isna().all()
    readers = {c["patient_id"]: c["reader_mask"] for c in cases}
    resolved = apply_failure_policy(checked, readers, policy, 5.0)
    pd.testing.assert_frame_equal(resolved, at_once)
    if policy == "reader":
        assert list(resolved["source"]) == ["auto", "reader", "excluded", "excluded"]
        assert "reader mask also failed" in resolved.loc[3, "reason"]
    else:
        assert list(resolved["source"]) == ["auto", "excluded", "excluded", "excluded"]
    # a table without failed rows (the cohort's own masks) passes unchanged
    own = pd.DataFrame({"patient_id": ["A"], "mask": ["m.nii"], "source": ["user"], "flag": [None]})
    pd.testing.assert_frame_equal(apply_failure_policy(own, {}, policy), own)


# --------------------------------------------------------------------------- development sets and training


def _dev_frame(tmp_path, n=10, reader=True):
    rows = []
    for i in range(n):
        img, mask = disc_case(i, n=48, spacing=0.2)
        ip, mp = tmp_path / f"D{i}_img.nii.gz", tmp_path / f"D{i}_mask.nii.gz"
        sitk.WriteImage(img, str(ip))
        sitk.WriteImage(mask, str(mp))
        rows.append({"patient_id": f"D{i}", "image": str(ip), "mask": str(mp), "reader_mask": str(mp) if reader else None})
    return pd.DataFrame(rows)


def test_development_sets_count_and_draw_one_image_without_its_name(tmp_path):
    from radsurv.segment.stage import describe_devsets, modality_split

    dev = _dev_frame(tmp_path)
    params = {"use_supplied_masks": False, "dev_test_fraction": 0.2, "us": {"unet": {}}, "development_labels": "reader"}
    sets = describe_devsets(cohort_outputs(pd.DataFrame({"us_image": ["x"]}), {"us": dev}), params, seed=3)
    assert sets.modalities == ["us"] and sets["us"].labels == "reader_mask" and sets["us"].source == "devset"
    t = sets.summary()
    assert list(t.columns) == ["modality", "source", "patients", "to train", "held out", "learns from"]
    assert t.iloc[0].tolist() == ["US", "development set", 10, 8, 2, "the reader's delineations"]
    assert sets.title() == "Segmentation-development sets: US 10 patients (8 to train, 2 held out)"
    html = sets._repr_html_()
    assert sets.title() in html and "D0" not in html and "D1" not in html
    ax = sets.plot(modality="us")
    assert len(ax.images) == 1 and len(ax.collections) >= 1 and "D" not in ax.get_title()
    assert ax.get_title().startswith("US, a training image\n48 × 48 voxels of 0.2 × 0.2 mm")
    # the truth as labels: development_labels: truth
    assert modality_split(cohort_outputs(pd.DataFrame(), {"us": dev}), "us",
                          {**params, "development_labels": "truth"}, 3).labels == "mask"
    # supplied weights: nothing trained, all held out, and the figure shows a held-out image
    w = modality_split(cohort_outputs(pd.DataFrame(), {"us": dev}), "us", {**params, "us": {"weights": "w.pt"}}, 3)
    assert (w.source, len(w.train), len(w.test), w.labels) == ("weights", 0, 10, None)
    shown = Devsets({"us": w}, 0.2)
    assert shown.plot().get_title().startswith("US, a held-out image")
    # the cohort's own masks: nothing is developed
    none = describe_devsets(cohort_outputs(pd.DataFrame()), {**params, "use_supplied_masks": True}, 3)
    assert none.modalities == [] and none.summary().empty and "use_supplied_masks" in none.title()
    assert none._repr_html_().startswith("<p><strong>No segmentation-development set") and "<table" not in none._repr_html_()


def _model(history, best_epoch, cache, fit_info=None):
    return SimpleNamespace(history_=history, best_epoch_=best_epoch, cache_=cache,
                           fit_info_=fit_info or {"n_train": 38, "n_val": 10, "seconds": 5.5})


def test_training_history_summary_title_and_curve():
    hist = [{"epoch": 1, "loss": 1.3, "val_dice": None, "seconds": 1.0},
            {"epoch": 2, "loss": 1.0, "val_dice": 0.4, "seconds": 1.0},
            {"epoch": 3, "loss": 0.9, "val_dice": None, "seconds": 1.0},
            {"epoch": 4, "loss": 0.8, "val_dice": 0.6, "seconds": 1.0},
            {"epoch": 5, "loss": 0.7, "val_dice": 0.55, "seconds": 1.0}]
    unets = UNetTraining({"us": _model(hist, 4, {"loaded": True, "key": "k"}),
                          "mri": _model([], 10, {"loaded": True, "supplied": True, "path": "w.pt"})})
    h = unets.history("us")
    assert list(h.columns) == ["epoch", "loss", "val_dice"] and len(h) == 5 and h["val_dice"].isna().sum() == 2
    t = unets.summary()
    us, mri = t.iloc[0], t.iloc[1]
    assert (us["weights"], us["history"], us["epochs"], us["best epoch"], us["best validation Dice"]) == \
        ("cached", "recorded", 5, 4, 0.6)
    assert us["training images"] == 38 and us["network"] == "2D U-Net" and mri["network"] == "3D U-Net"
    assert mri["history"] == "not recorded" and np.isnan(mri["best validation Dice"])
    assert unets.title() == ("U-Net training: US: best validation Dice 0.600 at epoch 4 of 5 (from the cache); "
                             "MRI: history not recorded (supplied weights)")
    assert unets.title() in unets._repr_html_()
    ax = unets.plot(modality="us")
    twin = [a for a in ax.figure.axes if a is not ax][0]
    assert list(ax.lines[0].get_ydata()) == [1.3, 1.0, 0.9, 0.8, 0.7]
    assert list(twin.lines[0].get_xdata()) == [2.0, 4.0, 5.0]           # only the validated epochs
    assert list(ax.lines[1].get_xdata()) == [4, 4]                     # the kept epoch, dashed
    # an entry without a history (a user's file, an old cache entry) says so instead of failing
    ax = unets.plot(modality="mri")
    assert [t.get_text() for t in ax.texts] == ["MRI U-Net: history not recorded"]
    assert weights_origin(_model([], 1, {"loaded": False})) == "trained"
    assert UNetTraining({}).title() == "No U-Net: the cohort's own masks are analysed"


def test_a_saved_network_keeps_its_history(tmp_path):
    from radsurv.segment.unet import UNetSegmenter

    seg = UNetSegmenter("us", device="cpu", spacing_mm=(0.3, 0.3), patch=(48, 48), channels=(8, 16, 32), strides=(2, 2))
    seg.model_ = seg._build()
    seg.history_ = [{"epoch": 1, "loss": 0.9, "val_dice": 0.5, "seconds": 0.1}]
    seg.best_epoch_, seg.fit_info_ = 1, {"n_train": 3, "n_val": 1}
    loaded = UNetSegmenter.load(seg.save(tmp_path / "u.pt"))
    loaded.cache_ = {"loaded": True}
    assert UNetTraining({"us": loaded}).summary().iloc[0]["best validation Dice"] == 0.5


def test_stage_helpers_for_the_training_cell():
    from radsurv.segment.stage import step_note, training_infos

    assert step_note(_model([], 1, {"loaded": True})) == " (cached)"
    assert step_note(_model([], 1, {"loaded": True, "supplied": True})) == " (supplied weights)"
    assert step_note(_model([], 1, {"loaded": False})) == ""
    data = pd.DataFrame({"patient_id": ["a"], "us_image": ["i"], "mri_image": [None]})
    assert training_infos(cohort_outputs(data), Devsets({}, 0.2), {}) == {
        "us": {"n_train": 0, "n_test": 0, "loaded": False}}


# --------------------------------------------------------------------------- agreement and failures


def _metrics():
    # the stage tests' rows, with what failure_kinds reads
    return _stage_metrics().assign(volume_pred=1.0, sensitivity=0.9, precision=0.9)


def test_agreement_shows_the_papers_table_and_boxes():
    m = _metrics()
    agreement = SegmentationAgreement(m, "truth")
    pd.testing.assert_frame_equal(agreement.summary(), segmentation_table(m))
    assert agreement.title() == ("Agreement with the true masks, median Dice on the external test set: "
                                 "US U-Net 0.86, Baseline (SimpleITK) 0.66, Reader 0.81; "
                                 "MRI U-Net 0.86, Baseline (SimpleITK) 0.66, Reader 0.81")
    assert agreement.title() in agreement._repr_html_() and "devtest0" not in agreement._repr_html_()
    ax = agreement.plot(metric="dice", modality="mri")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Development test", "Training", "External test"]
    assert len(ax.patches) == 3 * 3                              # a box per set and method
    medians = [line.get_ydata()[0] for line in ax.lines if len(line.get_xdata()) == 2 and
               line.get_ydata()[0] == line.get_ydata()[1]]
    assert 0.86 in [round(v, 2) for v in medians] and 0.66 in [round(v, 2) for v in medians]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["U-Net", "Baseline (SimpleITK)", "Reader"]
    empty = SegmentationAgreement.from_frames({}, "reader")
    assert empty.metrics.empty and empty.summary().iloc[0, 0] == NO_SEGMENTATION
    assert "<table" not in empty._repr_html_() and "no automatic mask was scored" in empty._repr_html_()


def test_agreement_metrics_keep_the_stages_order_and_classify_failures():
    m = _metrics()
    dev = {k: m[(m.modality == k) & (m.set == "devtest")] for k in ("us", "mri")}
    coh = {k: m[(m.modality == k) & (m.set != "devtest")] for k in ("us", "mri")}
    out = agreement_metrics(dev, coh, failure_dice=0.8)
    order = list(zip(out["modality"], out["set"] == "devtest"))
    # per modality: the held-out rows, then the cohort's
    assert order[0] == ("us", True) and order[15] == ("us", False) and order[45] == ("mri", True)
    assert list(out.columns)[-1] == "failure"
    # Dice below 0.8 with sensitivity = precision: a mask short of the lesion ("missed_part")
    assert set(out.loc[out["dice"] < 0.8, "failure"]) == {"missed_part"} and set(out.loc[out["dice"] >= 0.8, "failure"]) == {""}
    assert agreement_metrics({}, {}, 0.7).empty
    assert agreement_table(pd.DataFrame()).iloc[0, 0] == NO_SEGMENTATION


def test_failures_count_the_checks_and_the_dice_kinds_per_set():
    m = pd.DataFrame({
        "case_id": ["d1", "d2", "E1", "E2", "E3", "T1"], "modality": "us", "method": "unet",
        "set": ["devtest", "devtest", "external", "external", "external", "train"],
        "dice": [0.9, 0.5, 0.0, 0.6, 0.95, 0.8],
        "failure": ["", "leak", "none", "missed_part", "", ""]})
    table = pd.DataFrame({"patient_id": ["E1", "E2", "E3", "T1"], "flag": ["empty", "ok", "border", "ok"]})
    f = SegmentationFailures(m, {"us": table}, 0.7)
    t = f.summary().set_index("set")
    assert np.isnan(t.loc["Development test", "check: empty"]) and t.loc["Development test", "leaked beyond the lesion"] == 1
    ext = t.loc["External test"]
    assert (ext["n"], ext["check: empty"], ext["check: border"], ext["Dice < 0.70"]) == (3, 1, 1, 2)
    assert (ext["found no lesion"], ext["missed part of the lesion"], ext["leaked beyond the lesion"]) == (1, 1, 0)
    assert f.title() == ("U-Net failures in the cohort: 2 of 4 masks caught by the checks (empty or at the border), "
                         "2 with a Dice below 0.70")
    ax = f.plot()
    assert len(ax.patches) == 3 * 6          # three sets, two check kinds and four Dice kinds each
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == pytest.approx(1 + 1 + 1 + 1 + 1)   # devtest leak; external: empty, border, none, missed
    none = SegmentationFailures(pd.DataFrame(), {}, 0.7)
    assert none.summary().empty and none.title() == "Segmentation failures: no automatic mask was made"


def test_policy_outcome_summary_and_the_flow_events_in_order():
    us = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"], "modality": "us",
                       "source": ["auto", "reader", "reader", "excluded"], "flag": ["ok", "empty", "border", "border"],
                       "reason": ["ok", "r", "r", "no reader"]})
    mri = pd.DataFrame({"patient_id": ["P1", "P2"], "modality": "mri", "source": ["auto", "excluded"],
                        "flag": ["ok", "empty"], "reason": ["ok", "x"]})
    out = PolicyOutcome({"us": us, "mri": mri}, "reader")
    assert out.title() == "Failure policy 'reader': 2 masks replaced by the reader's, 2 patients excluded"
    s = out.summary().set_index("modality")
    assert s.loc["US"].tolist() == [4, 1, 1, 1, 0, 1] and s.loc["MRI"].tolist() == [2, 1, 0, 0, 0, 1]
    assert list(out.excluded()["patient_id"]) == ["P4", "P2"]
    events = out.flow_events()
    assert events[:2] == [("excluded", "no usable US mask", ["P4"], "us"), ("excluded", "no usable MRI mask", ["P2"], "mri")]
    assert events[2:5] == [("fallback", FALLBACK_REASONS["empty"], ["P2"], "us"),
                           ("fallback", FALLBACK_REASONS["border"], ["P3"], "us"), ("fallback", FALLBACK_REASON, [], "us")]
    assert "P1" not in out._repr_html_() and "P4" not in out._repr_html_()


# --------------------------------------------------------------------------- one case step by step


class _FixedProbability:
    """A 'network' whose probability map is given: a 6 x 6 lesion with a 2 x 2 hole of low
    probability, and a 2 x 2 speck apart from it."""

    modality = "us"
    params = {"threshold": 0.5, "component": "largest"}

    def predict_proba(self, image):
        p = np.full((30, 30), 0.2, np.float32)
        p[10:16, 10:16] = 0.9
        p[12:14, 12:14] = 0.1
        p[22:24, 4:6] = 0.8
        out = sitk.GetImageFromArray(p)
        out.CopyInformation(image)
        return out


def test_each_step_in_closed_form(tmp_path):
    from radsurv.segment._common import binary_image
    from radsurv.segment.postprocess import postprocess

    image = make_image(np.zeros((30, 30), np.uint8), (1.0, 1.0))
    ref = np.zeros((30, 30), np.uint8)
    ref[10:16, 10:16] = 1
    reference = make_image(ref, (1.0, 1.0))
    model = _FixedProbability()
    steps = segmentation_steps(model, image, reference, border_margin_mm=2.0)
    t = steps.summary().set_index("step")
    assert list(t.index) == list(STEPS)
    assert t.loc["threshold", "lesion voxels"] == 36 and t.loc["threshold", "components"] == 2
    assert t.loc["threshold", "dice"] == pytest.approx(2 * 32 / (36 + 36))      # 0.889
    assert t.loc["one lesion", "lesion voxels"] == 32 and t.loc["one lesion", "components"] == 1
    assert t.loc["one lesion", "dice"] == pytest.approx(2 * 32 / (32 + 36))     # 0.941
    assert t.loc["holes filled", "dice"] == 1.0 and np.isnan(t.loc["probability", "dice"])
    # the final mask is what predict's post-processing makes of the same probabilities
    expected = postprocess(binary_image(sitk.GetArrayFromImage(model.predict_proba(image)) >= 0.5, image))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(steps.final), sitk.GetArrayFromImage(expected))
    assert steps.flag.ok and steps.title() == (
        "One US image step by step: Dice against the true mask after threshold 0.889, one lesion 0.941, "
        "holes filled 1.000; the final mask passed the checks")
    assert steps.title() in steps._repr_html_()
    # the full run's mask, read back from disk, is recognised (and another one is not)
    sitk.WriteImage(steps.final, str(tmp_path / "auto.nii.gz"))
    assert steps.same_as(str(tmp_path / "auto.nii.gz")) and not steps.same_as(steps.masks["threshold"])
    assert not steps.same_as(None)
    ax = steps.plot(step="probability")
    assert len(ax.images) == 2 and len(ax.figure.axes) == 2       # image, probability layer; its colour bar
    ax = steps.plot(step="one lesion")
    assert ax.get_title() == "one lesion: Dice 0.941" and len(ax.images) == 2 and ax.collections


def test_the_steps_of_a_real_network_end_in_its_prediction():
    import torch

    from radsurv.segment.unet import UNetSegmenter

    torch.manual_seed(0)
    seg = UNetSegmenter("us", device="cpu", spacing_mm=(0.3, 0.3), patch=(48, 48), channels=(8, 16, 32),
                        strides=(2, 2), threshold=0.45)
    seg.model_ = seg._build()
    img, mask = disc_case(2)
    steps = segmentation_steps(seg, img, mask)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(steps.final), sitk.GetArrayFromImage(seg.predict(img)))
    assert steps.threshold == 0.45 and steps.summary().loc[1, "rule"] == "probability ≥ 0.45"


def test_the_example_case_is_a_test_patient_never_named():
    data = pd.DataFrame({"patient_id": ["T1", "I1", "E1", "E2"], "split": ["train", "internal", "external", "external"],
                         "us_image": ["t", "i", None, "e2"], "us_mask": ["rt", "ri", None, "re2"]})
    truth = pd.DataFrame({"patient_id": ["T1", "I1", "E1", "E2"], "us_true_mask": ["tt", "ti", None, "te2"]})
    case = example_case(data, truth, "us")
    assert (case.patient_id, case.set, case.image, case.reference, case.reference_kind) == ("E2", "external", "e2",
                                                                                           "te2", "true")
    assert "E2" not in repr(case) and repr(case) == "the first external test-set patient with an US image"
    assert example_case(data, None, "us").reference == "re2"
    assert example_case(data.assign(split="internal"), None, "us").patient_id == "T1"
    assert example_case(data.assign(us_image=None), None, "us") is None
    table = pd.DataFrame({"patient_id": ["E2", "T1"], "auto_mask": ["masks/E2.nii.gz", None]})
    assert case.auto_mask(table) == "masks/E2.nii.gz"
    assert ExampleCase("T1", "us", "train", "t", None, "reader").auto_mask(table) is None


# --------------------------------------------------------------------------- the example figure


def test_overlays_layout_summary_and_panels():
    us, us_mask = disc_case(1, n=120, spacing=0.15, bright=False, radius_px=(20, 24))
    examples = [{"image": us, "true": us_mask, "unet": us_mask, "title": "US, external test, U-Net Dice 0.90",
                 "modality": "us"},
                {"image": us, "reader": us_mask, "title": "US, external test, Dice 0.10:\nleaked beyond the lesion",
                 "modality": "us"},
                {"image": us, "true": us_mask, "title": "MRI-like", "modality": "mri"}]
    o = Overlays(examples)
    panels, ncol = o.layout()
    assert ncol == 2 and panels[3] is None and panels[2]["title"] == "MRI-like"
    t = o.summary()
    assert list(t.columns) == ["panel", "modality", "title", "contours"]
    assert t.loc[1, "title"] == "US, external test, Dice 0.10: leaked beyond the lesion"
    assert t.loc[0, "contours"] == "Truth, U-Net" and o.title() == "Overlay examples: 3 panels (US 2, MRI 1)"
    ax = o.plot(panel=1)
    assert len(ax.images) == 1 and ax.get_legend().get_texts()[0].get_text() == "Reader"
    fig = o.figure()
    assert len(fig.axes) == 4 and not fig.axes[3].images        # the padding panel stays empty
    assert Overlays([]).title() == "Overlay examples: no panel"
    with pytest.raises(ValueError, match="no example"):
        Overlays([]).figure()

"""The computing parts of the segmentation stage: the development split, where the
U-Net learns from (a development set, or training masks only), the table, the
variables and the example cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radsurv.segment.stage import (devset_split, median_dice, overlay_examples, segmentation_table,
                                   segmentation_variables, training_data)
from radsurv.stages.readers import CohortOutputs


def cohort_outputs(data: pd.DataFrame, devsets=None) -> CohortOutputs:
    return CohortOutputs(Path("."), data, pd.DataFrame(), Path("."), False,
                         {"internal": ["1"], "external": ["2"]}, devsets or {})


def test_development_split_is_seeded_disjoint_and_sized():
    dev = pd.DataFrame({"patient_id": [f"D{i}" for i in range(50)]})
    train, test = devset_split(dev, 0.2, seed=7)
    again, _ = devset_split(dev, 0.2, seed=7)
    other, _ = devset_split(dev, 0.2, seed=8)
    assert len(test) == 10 and len(train) == 40
    assert set(train.patient_id).isdisjoint(test.patient_id) and set(train.patient_id) | set(test.patient_id) == set(
        dev.patient_id)
    assert train.equals(again) and not train.equals(other)
    # The rows keep their order inside each part.
    assert list(train.patient_id) == sorted(train.patient_id, key=lambda p: int(p[1:]))


def test_a_development_set_is_used_when_there_is_one():
    dev = pd.DataFrame({"patient_id": ["D1"], "image": ["i"], "mask": ["m"], "reader_mask": ["r"]})
    assert training_data(cohort_outputs(pd.DataFrame(), {"us": dev}), "us") is dev


def test_without_a_development_set_only_training_masks_are_used():
    """A user's cohort without a development set: the U-Net learns from the training
    set's supplied masks, never from the test sets'."""
    n = 33
    split = np.array(["train", "internal", "external"])[np.arange(n) % 3]
    data = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "split": split,
                         "mri_image": [f"/img/{i}.nii" for i in range(n)],
                         "mri_mask": [f"/mask/{i}.nii" if i != 0 else None for i in range(n)]})
    d = training_data(cohort_outputs(data), "mri")
    expected = data[(data.split == "train") & data.mri_mask.notna()]
    assert list(d.columns) == ["patient_id", "image", "mask", "reader_mask"]
    assert list(d.patient_id) == list(expected.patient_id) and len(d) == 10
    assert (d["mask"] == d["reader_mask"]).all()
    assert not set(d.patient_id) & set(data.loc[data.split != "train", "patient_id"])
    with pytest.raises(ValueError, match="only 9 training patients with a mask"):
        training_data(cohort_outputs(data.assign(mri_mask=data.mri_mask.where(data.index != 3))), "mri")


def _metrics() -> pd.DataFrame:
    rows = []
    for modality in ("us", "mri"):
        for method, base in (("unet", 0.9), ("baseline", 0.7), ("reader", 0.85)):
            for s in ("devtest", "train", "external"):
                for i in range(5):
                    rows.append({"case_id": f"{s}{i}", "modality": modality, "method": method, "set": s,
                                 "dice": base - 0.02 * i, "hd95_mm": 1.0 + i, "rel_volume_diff": 0.1 * i})
    return pd.DataFrame(rows)


def test_overlay_examples_add_a_typical_failure_of_the_two_commonest_kinds():
    """After the percentile cases, the median case of each of the two commonest failure
    kinds: from the external set, else from the internal test set; an empty mask
    (nothing to draw) gets no panel."""
    ids = [f"E{i}" for i in range(11)] + ["I0", "I1"]
    failure = ["leak", "leak", "leak", "none", "none", "none", "none", "", "", "", ""] + ["missed_part", "elsewhere"]
    metrics = pd.DataFrame({"case_id": ids, "modality": "us", "method": "unet",
                            "set": ["external"] * 11 + ["internal"] * 2,
                            "dice": list(np.linspace(0.1, 1.0, 11)) + [0.6, 0.0], "failure": failure})
    data = pd.DataFrame({"patient_id": ids, "us_image": [f"img{p}" for p in ids], "us_mask": "r"})
    table = pd.DataFrame({"patient_id": ids, "auto_mask": "a", "baseline_mask": None})
    ex = overlay_examples(cohort_outputs(data), None, {"us": table}, metrics)
    assert [e["image"] for e in ex][3:] == ["imgE1", "imgI0"]
    assert ex[3]["title"] == "US, external test, Dice 0.19:\nleaked beyond the lesion"
    assert ex[4]["title"] == "US, internal test, Dice 0.60:\nmissed part of the lesion"
    assert all(e["modality"] == "us" for e in ex)
    assert len(overlay_examples(cohort_outputs(data), None, {"us": table}, metrics, n_failures=0)) == 3


def test_failure_counts_and_the_sentence_on_them():
    from radsurv.manuscript.segmentation import describe_failures
    from radsurv.segment.stage import failure_counts

    m = _metrics()
    m["failure"] = ""
    ext_us = (m.modality == "us") & (m.method == "unet") & (m.set == "external")
    m.loc[ext_us, "failure"] = ["leak", "leak", "missed_part", "", ""]
    m.loc[(m.method == "reader") & (m.set == "external"), "failure"] = "leak"  # not the U-Net's: not counted
    f = failure_counts(m, "us")
    assert f == {"n": 5, "failed": 3, "none": 0, "elsewhere": 0, "missed_part": 1, "leak": 2}
    assert failure_counts(m, "mri")["failed"] == 0
    tables = {mod: pd.DataFrame({"patient_id": ["a"], "modality": mod, "source": "auto"}) for mod in ("us", "mri")}
    v = segmentation_variables(tables, m, {}, "truth", "reader", n_patients=1, failure_dice=0.75)
    assert v["failure_dice"] == "0.75" and v["us"]["failures_external"] == f
    assert describe_failures(v, ["us", "mri"]) == (
        "The U-Net's mask agreed with the true mask at a Dice below 0.75 (segmentation.failure_dice) in 3 of 5 "
        "ultrasound images (1 missed part of the lesion, 2 leaked beyond the lesion) and 0 of 5 MRI images of the "
        "external test set. ")


def test_segmentation_table_and_median_dice():
    m = _metrics()
    assert median_dice(m, "us", "unet", "external") == pytest.approx(0.86)
    assert np.isnan(median_dice(m, "us", "unet", "internal"))
    t = segmentation_table(m)
    assert list(t.columns[:4]) == ["Modality", "Set", "Method", "n"]
    first = t.iloc[0]
    assert (first["Modality"], first["Set"], first["Method"]) == ("US", "Development test", "U-Net")
    assert first["Dice"] == "0.86 [0.84, 0.88]" and first["HD95, mm"] == "3.00 [2.00, 4.00]"
    assert len(t) == 2 * 3 * 3 and "Internal test" not in set(t["Set"])


def test_segmentation_variables_count_fallbacks_and_exclusions():
    tables = {"us": pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "modality": "us",
                                  "source": ["auto", "reader", "excluded"]}),
              "mri": pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "modality": "mri",
                                   "source": ["reader", "reader", "auto"]})}
    training = {"us": {"n_train": 40, "n_test": 10}, "mri": {"n_train": 20, "n_test": 5}}
    v = segmentation_variables(tables, _metrics(), training, "truth", "reader", n_patients=3)
    assert (v["n_excluded"], v["n_analysed"], v["reference"], v["policy"]) == (1, 2, "truth", "reader")
    assert (v["us"]["n_fallback"], v["us"]["n_excluded"], v["mri"]["n_fallback"]) == (1, 1, 2)
    assert v["us"]["unet"]["dice_external"] == "0.86" and v["mri"]["reader"]["dice_devtest"] == "0.81"
    # a set with no case reads "–" (the paper's reference still resolves)
    assert v["us"]["unet"]["dice_internal"] == "–"
    # a modality the cohort lacks (an MRI-only cohort) has every entry, unmeasured
    mri_only = segmentation_variables({"mri": tables["mri"]}, _metrics().query("modality == 'mri'"),
                                      {"mri": training["mri"]}, "reader", "reader", n_patients=3)
    assert mri_only["us"]["n_dev_train"] == 0 and mri_only["us"]["unet"]["dice_external"] == "–"
    assert mri_only["mri"]["n_fallback"] == 2


def test_overlay_examples_take_the_10th_50th_and_90th_percentile_of_the_external_set():
    ids = [f"E{i}" for i in range(11)]
    metrics = pd.DataFrame({"case_id": ids, "modality": "us", "method": "unet", "set": "external",
                            "dice": np.linspace(0.5, 1.0, 11)})
    data = pd.DataFrame({"patient_id": ids, "us_image": [f"img{i}" for i in range(11)],
                         "us_mask": [f"reader{i}" for i in range(11)]})
    table = pd.DataFrame({"patient_id": ids, "auto_mask": [f"auto{i}" for i in range(11)], "baseline_mask": None})
    truth = pd.DataFrame({"patient_id": ids, "us_true_mask": [f"true{i}" for i in range(11)]})
    ex = overlay_examples(cohort_outputs(data), truth, {"us": table}, metrics)
    assert [e["image"] for e in ex] == ["img1", "img5", "img9"]
    assert ex[0]["title"] == "US, external test, U-Net Dice 0.55" and ex[1]["true"] == "true5"
    assert "baseline" not in ex[0] and ex[2]["unet"] == "auto9"
    assert "true" not in overlay_examples(cohort_outputs(data), None, {"us": table}, metrics)[0]


# --------------------------------------------------------------------------- a user's weights, the texts


@pytest.fixture
def saved_us_unet(tmp_path):
    """A (randomly initialised) 2D U-Net written as radsurv writes trained weights."""
    import torch

    from radsurv.segment.unet import UNetSegmenter

    torch.manual_seed(0)
    seg = UNetSegmenter("us", device="cpu", spacing_mm=(0.3, 0.3), patch=(48, 48), channels=(8, 16, 32),
                        strides=(2, 2))
    seg.model_ = seg._build()
    seg.history_, seg.best_epoch_, seg.fit_info_ = [], 0, {"n_train": 0, "n_val": 0}
    return seg, seg.save(tmp_path / "weights" / "unet_us_mine.pt")


def test_supplied_weights_are_loaded_and_nothing_is_trained(saved_us_unet, monkeypatch):
    import SimpleITK as sitk

    from radsurv.segment import stage, unet

    from ._segment_synth import disc_case

    seg, path = saved_us_unet
    monkeypatch.setattr(unet, "train_or_load", lambda *a, **k: pytest.fail("trained although weights were given"))
    dev = pd.DataFrame({"patient_id": ["D1", "D2", "D3"], "image": ["i1", "i2", "i3"], "mask": ["m1", "m2", "m3"],
                        "reader_mask": [None] * 3})
    params = {"dev_test_fraction": 0.2, "us": {"unet": {}, "weights": str(path)}}
    split = stage.modality_split(cohort_outputs(pd.DataFrame(), {"us": dev}), "us", params, 1)
    model, train, test = stage.fit_unet(split, params, 1, Path(".")), split.train, split.test
    assert train.empty and list(test["patient_id"]) == ["D1", "D2", "D3"]   # all of it evaluates, none trains
    img = disc_case(3)[0]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(model.predict_proba(img)),
                                  sitk.GetArrayFromImage(seg.predict_proba(img)))
    info = stage.training_info(cohort_outputs(pd.DataFrame(), {"us": dev}), "us", model, train, test)
    assert info == {"n_train": 0, "n_test": 3, "loaded": True, "source": "weights", "weights": "unet_us_mine.pt"}
    # without a development set nothing is held out: the cohort's sets evaluate it
    split = stage.modality_split(cohort_outputs(pd.DataFrame()), "us", params, 1)
    model, train, test = stage.fit_unet(split, params, 1, Path(".")), split.train, split.test
    assert train.empty and test.empty


def test_unusable_weights_are_refused_by_key(saved_us_unet, tmp_path):
    from radsurv.exceptions import StageError
    from radsurv.segment.stage import load_weights

    _, path = saved_us_unet
    with pytest.raises(StageError, match=r"segmentation.mri.weights: .*unet_us_mine.pt holds a U-Net for US, not MRI"):
        load_weights(path, "mri")
    with pytest.raises(StageError, match=r"segmentation.us.weights: .*absent.pt does not exist"):
        load_weights(tmp_path / "absent.pt", "us")
    import torch

    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(StageError, match=r"other.pt is not a radsurv U-Net file"):
        load_weights(tmp_path / "other.pt", "us")


SEG_PARAMS = {"use_supplied_masks": False, "policy": "reader", "failure_dice": 0.7}


def test_segmentation_methods_say_what_each_network_learned_from():
    from radsurv.manuscript.segmentation import describe_segmentation

    twin = describe_segmentation(SEG_PARAMS, ["us", "mri"], {
        "us": {"n_train": 496, "n_test": 124, "source": "devset", "weights": None},
        "mri": {"n_train": 199, "n_test": 50, "source": "devset", "weights": None}}, "truth")
    assert "a 2D network for ultrasound and a 3D network for MRI" in twin
    assert ("The ultrasound and MRI networks were trained on the segmentation-development set (496 ultrasound and "
            "199 MRI patients with images and masks but no outcome)") in twin
    assert "A held-out part of the development set (124 ultrasound patients and 50 MRI patients)" in twin
    assert "with the true masks" in twin and "and for the reader" in twin
    assert "An automatic mask with a Dice below 0.70 counted as a failure, of one of four kinds" in twin
    assert "the peri-tumoral ring needs, was replaced by the reader's mask (segmentation.policy: reader)" in twin

    user = describe_segmentation({**SEG_PARAMS, "policy": "exclude"}, ["mri"], {
        "mri": {"n_train": 0, "n_test": 0, "source": "weights", "weights": "unet_mri_x.pt"}}, "reader")
    assert "ultrasound" not in user and "a 3D network for MRI." in user
    assert "The MRI network's trained weights were supplied (`unet_mri_x.pt`, segmentation.mri.weights)" in user
    assert "Training used" not in user                           # nothing was trained here
    assert user.count("Every set of the survival cohort measured agreement with the reader's masks") == 1
    assert "for the reader" not in user and "excluded the patient (segmentation.policy: exclude)" in user

    own = describe_segmentation(SEG_PARAMS, ["mri"], {"mri": {"n_train": 30, "n_test": 8, "source": "training",
                                                              "weights": None}}, "reader")
    assert "trained on the supplied masks of 30 training-set patients" in own and "(8 MRI patients)" in own

    supplied = describe_segmentation({**SEG_PARAMS, "use_supplied_masks": True}, ["mri"], {}, "reader")
    assert supplied.startswith("In this cohort the analysis used the lesion masks supplied with the images")
    assert "U-Net" not in supplied and "network" not in supplied


def test_segmentation_results_for_the_twin_a_user_and_supplied_masks():
    from radsurv.manuscript.segmentation import describe_segmentation_results

    tables = {m: pd.DataFrame({"patient_id": ["a", "b", "c"], "modality": m,
                               "source": ["auto", "reader", "excluded" if m == "mri" else "auto"]})
              for m in ("us", "mri")}
    v = segmentation_variables(tables, _metrics(), {}, "truth", "reader", n_patients=3)
    text = describe_segmentation_results(v, ["us", "mri"], False)
    assert text.startswith("On the external test set the U-Net reached a median Dice against the true masks of "
                           "0.86 for ultrasound (reader 0.81, classical segmenter 0.66) and 0.86 for MRI")
    assert "failed the checks in 1 ultrasound and 2 MRI images; 1 ultrasound and 1 MRI images fell back" in text
    assert "and 1 patient was excluded" in text
    us_only = segmentation_variables({"us": tables["us"]}, _metrics().query("modality == 'us'"), {}, "truth",
                                     "reader", n_patients=3)
    assert "failed the checks in 1 ultrasound images, which fell back to the reader's mask, and 0 patients were " \
           "excluded" in describe_segmentation_results(us_only, ["us"], False)
    mri_only = segmentation_variables({"mri": tables["mri"]}, _metrics().query("modality == 'mri' and method != 'reader'"),
                                      {}, "reader", "reader", n_patients=3)
    text = describe_segmentation_results(mri_only, ["mri"], False)
    assert "against the reader's masks of 0.86 for MRI (classical segmenter 0.66)" in text and "ultrasound" not in text
    supplied = describe_segmentation_results({**mri_only, "n_excluded": 0}, ["mri"], True)
    assert supplied.startswith("No automatic segmentation was run") and "0 patients were excluded" in supplied


def test_the_twins_dice_beside_the_benchmarks_it_was_calibrated_to():
    from radsurv.schema import SegmentationBenchmarks
    from radsurv.manuscript.segmentation import describe_segmentation_results

    benchmarks = SegmentationBenchmarks().model_dump()
    tables = {m: pd.DataFrame({"patient_id": ["a", "b", "c"], "modality": m, "source": "auto"}) for m in ("us", "mri")}
    v = segmentation_variables(tables, _metrics(), {}, "truth", "reader", n_patients=3)
    text = describe_segmentation_results(v, ["us", "mri"], False, benchmarks)
    assert ("the U-Net's median external Dice was 0.86 for ultrasound against 0.78-0.88 for breast ultrasound "
            "(BUS-Set") in text
    assert "[@thomas2023]" in text and "[@hirsch2022]" in text and "0.72-0.86 for breast DCE-MRI" in text
    assert "the simulated reader's was 0.81 and" in text and "within the 0.80-0.90 reported between radiologists" in text
    assert text.endswith(".\n") and text.count("\n") == 1
    # a user's cohort has no truth: no benchmark sentence
    user = segmentation_variables(tables, _metrics().query("method != 'reader'"), {}, "reader", "reader", n_patients=3)
    assert "BUS-Set" not in describe_segmentation_results(user, ["us", "mri"], False, benchmarks)

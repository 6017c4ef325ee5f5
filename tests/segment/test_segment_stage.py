"""The computing parts of the segmentation stage: the development split, where the
U-Net learns from (a development set, or training masks only), the table, the
variables and the example cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radsurv.segment.stage import (development_split, median_dice, overlay_examples, segmentation_table,
                                   segmentation_variables, training_data)
from radsurv.stages.readers import CohortOutputs


def cohort_outputs(data: pd.DataFrame, devsets=None) -> CohortOutputs:
    return CohortOutputs(Path("."), data, pd.DataFrame(), Path("."), False,
                         {"internal": ["1"], "external": ["2"]}, devsets or {})


def test_development_split_is_seeded_disjoint_and_sized():
    dev = pd.DataFrame({"patient_id": [f"D{i}" for i in range(50)]})
    train, test = development_split(dev, 0.2, seed=7)
    again, _ = development_split(dev, 0.2, seed=7)
    other, _ = development_split(dev, 0.2, seed=8)
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

"""The patient flow: events across stages, each patient counted once, fallbacks as notes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from radsurv.stages.flow import FlowEvent, PatientFlow, draw_flow


def test_a_patient_is_counted_once_under_the_first_reason():
    flow = PatientFlow()
    flow.exclude("00_cohort", "invalid dfs_time", ["row 4", "row 9"])
    flow.exclude("01_segmentation", "no usable US mask", ["P1", "P2"], modality="us")
    flow.exclude("01_segmentation", "no usable MRI mask", ["P2", "P3"], modality="mri")
    flow.exclude("02_features", "radiomics failed", ["P3"])
    assert flow.exclusion_counts() == [("invalid dfs_time", 2), ("no usable US mask", 2), ("no usable MRI mask", 1)]
    assert flow.excluded_ids() == {"row 4", "row 9", "P1", "P2", "P3"}


def test_nothing_is_recorded_for_no_patients_and_ids_are_sorted_unique():
    flow = PatientFlow()
    flow.exclude("s", "none", [])
    flow.fallback("s", "reader", ["B", "A", "B"], modality="us")
    assert flow.events == [FlowEvent("s", "fallback", "reader", ("A", "B"), "us")]
    with pytest.raises(ValueError, match="kind"):
        FlowEvent("s", "dropped", "x", ("A",))


def test_fallback_notes_count_per_modality_in_study_order():
    flow = PatientFlow()
    flow.fallback("01", "Replaced by the reader's", ["P9"], modality="mri")
    flow.fallback("01", "Replaced by the reader's", ["P1", "P2"], modality="us")
    assert flow.notes() == ["Replaced by the reader's: US n = 2, MRI n = 1"]


def test_save_and_read_keep_every_upstream_event_once_in_pipeline_order(tmp_path):
    a = PatientFlow()
    a.exclude("00_cohort", "invalid center", ["row 3"])
    (tmp_path / "00_cohort").mkdir()
    a.save(tmp_path / "00_cohort", "00_cohort")
    b = PatientFlow.read(tmp_path, ["00_cohort"])
    b.exclude("01_segmentation", "no usable US mask", ["P1"], modality="us")
    (tmp_path / "01_segmentation").mkdir()
    b.save(tmp_path / "01_segmentation", "01_segmentation")
    # 02 reads both upstream files: 00's event appears in each, but once in the flow.
    c = PatientFlow.read(tmp_path, ["01_segmentation", "00_cohort"])
    assert [e.stage for e in c.events] == ["00_cohort", "01_segmentation"]
    saved = json.loads((tmp_path / "01_segmentation" / "flow.json").read_text(encoding="utf-8"))
    assert saved["stage"] == "01_segmentation" and len(saved["events"]) == 2
    assert PatientFlow.read(tmp_path, ["missing_stage"]).events == []


def test_draw_flow_counts_the_patients_left_in_each_set(tmp_path, monkeypatch):
    seen = {}

    def fake_figure(path, **kwargs):
        seen.update(kwargs)
        return path

    monkeypatch.setattr("radsurv.plots.flow.flow_figure", fake_figure)
    cohort = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4", "P5"], "center": ["1", "1", "1", "2", "3"],
                           "split": ["train", "train", "internal", "external", "external"]})
    flow = PatientFlow()
    flow.exclude("00_cohort", "invalid center", ["row 7"])       # not in the cohort: counted, removes nobody
    flow.exclude("01_segmentation", "no usable US mask", ["P2", "P5"], modality="us")
    flow.fallback("01_segmentation", "Reader's mask", ["P1"], modality="mri")
    draw_flow(flow, cohort, {"internal": [1], "external": [2, 3]}, tmp_path / "fig-flow.png", simulated=False)
    assert (seen["n_train"], seen["n_internal"], seen["n_external"]) == (1, 1, 1)
    assert (seen["n_internal_centres"], seen["n_external_centres"]) == (2, 1)
    assert seen["exclusions"] == [("invalid center", 1), ("no usable US mask", 2)]
    assert seen["notes"] == ["Reader's mask: MRI n = 1"]
    assert seen["internal_label"] == "Centre 1 (internal)" and seen["external_label"] == "Centres 2, 3 (external)"
    assert seen["source_label"] == "Patients in the manifest"

"""The reporting checklists: TRIPOD+AI complete and pointing only at what the paper has,
CLEAR answers written from the parameter files' values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from radsurv.config import load_profile
from radsurv.pipeline.publish import CLEAR_TABLE, TRIPOD_TABLE, write_checklists
from radsurv.report.checklist import (
    PYRADIOMICS_DEFAULTS,
    ChecklistItem,
    checklist_table,
    clear_checklist,
    coverage,
    tripod_ai_checklist,
)

#: TRIPOD+AI's items and sub-items in the statement's order (Collins et al., BMJ 2024, Box 1).
TRIPOD_AI_IDS = ["1", "2", "3a", "3b", "3c", "4", "5a", "5b", "6a", "6b", "6c", "7", "8a", "8b", "8c", "9a", "9b",
                 "9c", "10", "11", "12a", "12b", "12c", "12d", "12e", "12f", "12g", "13", "14", "15", "16", "17",
                 "18a", "18b", "18c", "18d", "18e", "18f", "19", "20a", "20b", "20c", "21", "22", "23a", "23b", "24",
                 "25", "26", "27a", "27b", "27c"]

#: Items no software can answer: every run leaves them to the authors.
ALWAYS_AUTHORS = {"3c", "14", "18a", "18b", "18d", "19"}


def test_tripod_ai_has_every_item_in_order():
    items = tripod_ai_checklist(own_cohort=False)
    assert [it.id for it in items] == TRIPOD_AI_IDS
    assert len({re.match(r"\d+", it.id).group() for it in items}) == 27
    assert all(it.topic and it.asks and it.note for it in items)


def test_what_the_simulation_answers_becomes_the_authors_for_a_real_cohort():
    twin = {it.id: it for it in tripod_ai_checklist(own_cohort=False)}
    own = {it.id: it for it in tripod_ai_checklist(own_cohort=True)}
    for item in ("17", "8b", "8c"):
        assert twin[item].status == "not_applicable" and own[item].status == "authors", item
    for item in ("5b", "9c", "18e"):
        assert twin[item].status == "reported" and own[item].status == "authors", item
    assert {i for i, it in twin.items() if it.status == "authors"} == ALWAYS_AUTHORS
    assert ALWAYS_AUTHORS <= {i for i, it in own.items() if it.status == "authors"}
    c_twin, c_own = coverage(twin.values()), coverage(own.values())
    assert c_twin["total"] == c_own["total"] == 52
    assert sum(c_twin[k] for k in ("reported", "partly", "not_applicable", "authors")) == 52
    assert c_own["authors"] == c_twin["authors"] + 6


def test_the_checklist_points_only_at_what_the_paper_has(root):
    """Every section and figure it names is a label of index.qmd, and every table one
    that a stage writes (``label="..."`` in the library; the manuscript check of every
    build then resolves each of them in the rendered paper)."""
    qmd = (root / "index.qmd").read_text(encoding="utf-8")
    labels = set(re.findall(r"\{#((?:sec|fig)-[A-Za-z0-9_-]+)", qmd))
    written = set()
    for path in (root / "src" / "radsurv").rglob("*.py"):
        written |= {f"tbl-{x}" for x in re.findall(r"\blabel=\"([a-z0-9-]+)\"", path.read_text(encoding="utf-8"))}
    cited_tables = written
    for own in (False, True):
        for it in tripod_ai_checklist(own_cohort=own):
            for ref in it.where:
                if ref in ("Title", "Abstract"):
                    continue
                assert ref.startswith("@"), (it.id, ref)
                key = ref[1:]
                assert key in (cited_tables if key.startswith("tbl-") else labels), (it.id, ref)
    assert "{{< include tables/run/tripod_ai_checklist.md >}}" in qmd
    assert "{{< include tables/run/clear_checklist.md >}}" in qmd


def test_an_item_reported_must_say_where():
    with pytest.raises(ValueError, match="names no place"):
        ChecklistItem("7", "Methods", "Data preparation", "x", "reported", ())
    with pytest.raises(ValueError, match="status"):
        ChecklistItem("7", "Methods", "Data preparation", "x", "done", ("@sec-data",))


VARIABLES = {"segmentation": {"mri": {"n_dev_train": 24, "n_dev_test": 6, "n_fallback": 3}},
             "features": {"ibsi": {"n_pass": 105, "n_mapped": 105}, "n_per_region": 120, "n_total": 480,
                          "icc_form": "ICC(2,1)", "n_subset": 30, "robustness_sources": "with the reader's masks",
                          "icc_threshold": "0.75", "flag_rule": "in either comparison", "n_flagged": 44}}


def _clear(settings, own=False, **features):
    feats = {"ring_width_mm": 3.0, "air_threshold": {"mri": -50.0}, "params": {"mri": "p/mri.yaml"}, **features}
    seg = {"policy": "exclude", "mri": {"unet": {"epochs": 7}}}
    return {it.id: it for it in clear_checklist(settings, segmentation=seg, features=feats, variables=VARIABLES,
                                                extractor="PyRadiomics (x 1.0)", own_cohort=own)}


def test_clear_states_the_values_of_the_parameter_file():
    settings = {"mri": {"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.5]}, "Wavelet": {"level": 2}},
                        "featureClass": {"shape": None, "glcm": ["Contrast", "Idm"]},
                        "setting": {"normalize": True, "normalizeScale": 100, "removeOutliers": 3, "binCount": 32,
                                    "resampledPixelSpacing": [1, 1, 2], "interpolator": "sitkLinear"}}}
    items = _clear(settings)
    assert [i for i in items] == ["19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "31"]
    assert items["21"].note == ("MRI: z-score normalisation of the whole image, scaled by 100, values beyond 3 SD "
                                "clipped; peri-tumoral ring 3 mm grown outward in physical units, voxels at or below "
                                "-50 (MRI) dropped as air")
    assert items["22"].note == "MRI: resampled to 1 x 1 x 2 mm (sitkLinear for the image, nearest neighbour for the mask)"
    assert items["23"].note == "MRI: fixed bin number, 32 bins"
    assert items["24"].note == ("MRI: original, Laplacian of Gaussian (sigma 1, 2.5 mm), undecimated wavelet (coif1, "
                                "2 levels, all sub-bands)")
    assert items["26"].note.startswith("MRI: 3D shape, GLCM (2 named features)")
    assert items["27"].note == "120 per region and modality, 480 in all"
    assert "24 development images (7 epochs), evaluated on 6 held out" in items["19"].note
    assert "3 failed masks replaced as the policy 'exclude' says" in items["19"].note
    assert "ICC(2,1) in 30 training patients" in items["31"].note and "(44)" in items["31"].note
    assert items["20"].status == "reported" and _clear(settings, own=True)["20"].status == "authors"


def test_clear_fills_pyradiomics_defaults_for_what_a_file_omits():
    items = _clear({"us": {"imageType": {"Original": {}}, "featureClass": {"firstorder": None}, "setting": {}},
                    "mri": {"imageType": {"Original": {}}, "featureClass": {"firstorder": None}, "setting": {}}})
    assert PYRADIOMICS_DEFAULTS["binWidth"] == 25
    assert items["23"].note == "both modalities: fixed bin width 25"
    assert items["22"].note == "both modalities: native spacing, no resampling"
    assert items["21"].note.startswith("both modalities: no intensity normalisation")


def test_supplied_masks_are_the_segmentation_strategy():
    seg = {"use_supplied_masks": True}
    items = clear_checklist({"mri": {"setting": {}}}, segmentation=seg, features={"ring_width_mm": 5.0, "params": {}},
                            variables=VARIABLES, extractor="x", own_cohort=True)
    assert items[0].note == "the masks supplied with the cohort were the analysis masks; no network was trained or run"


def test_write_checklists_for_an_mri_only_cohort(tmp_path, root):
    (tmp_path / "requirements.lock").write_text("pyradiomics-bhklab==3.1.4\n", encoding="utf-8")
    profile = load_profile("quick", root)
    profile["features"]["params"] = {m: str(root / p) for m, p in profile["features"]["params"].items()}
    profile["cohort"]["source"] = "manifest"
    variables = {"imaging": {"n_us": 0, "n_mri": 12}, **VARIABLES}
    out = write_checklists(tmp_path, profile, variables)["checklist"]
    assert out["tripod_n"] == 52 and out["clear_n"] == 11 and out["clear_authors"] == 1
    assert out["tripod_authors"] == len(ALWAYS_AUTHORS) + 6
    clear = (tmp_path / "tables" / CLEAR_TABLE).read_text(encoding="utf-8")
    assert "US:" not in clear and "MRI: " in clear and "pyradiomics-bhklab 3.1.4" in clear
    assert clear.rstrip().endswith("{#tbl-clear}")
    tripod = (tmp_path / "tables" / TRIPOD_TABLE).read_text(encoding="utf-8")
    assert len(re.findall(r"\|\s*For the authors\s*\|", tripod)) == out["tripod_authors"]
    assert tripod.rstrip().endswith("{#tbl-tripod-ai}")


def test_table_columns():
    df = checklist_table(tripod_ai_checklist(own_cohort=False))
    assert list(df.columns) == ["Item", "Topic", "Asks for", "Status", "Where", "Note"]
    assert (df.loc[df.Status == "For the authors", "Where"] == "–").all()

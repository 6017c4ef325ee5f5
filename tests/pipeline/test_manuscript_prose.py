"""The paper's prose has one home, radsurv.manuscript, rendered from the stages'
variables when the paper is published (issue 26, item 3): editing a sentence re-runs no
stage, only the publishing step; the texts declared ``rendered`` are written by
publishing and refused from a stage."""

from __future__ import annotations

import hashlib
import shutil

import pandas as pd
import pytest
import yaml

from radsurv.config import load_profile, stage_params
from radsurv.manuscript import TEXTS, render_text
from radsurv.pipeline import deps
from radsurv.pipeline.execute import check_outputs
from radsurv.report.variables import write_variables
from radsurv.stages import STAGES, open_stage, stage_by_name, stage_declaration


def _digest(paths) -> dict[str, str]:
    return {p.name if p.parent.name == "radsurv" else f"{p.parent.name}/{p.name}":
            hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_editing_a_sentence_of_a_results_paragraph_re_runs_no_stage(tmp_path, monkeypatch, root):
    """A stage is stale when a library file it can execute changes (with its notebook,
    the lock, its upstream stamps and its parameter files, which no wording edit
    touches). Edited in a copy of the package, a sentence of 03's Results paragraph
    changes the files of no stage and changes those of the publishing step."""
    pkg = tmp_path / "radsurv"
    shutil.copytree(root / "src" / "radsurv", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(deps, "_package_dir", lambda: pkg)
    deps._closure.cache_clear()

    def inputs():
        deps._closure.cache_clear()
        deps._is_hub.cache_clear()
        stages = {s.name: _digest(deps.library_files(root / s.notebook)) for s in STAGES}
        return stages, _digest(deps.module_files("radsurv.pipeline.publish"))

    stages_before, paper_before = inputs()
    assert all(not any(k.startswith("manuscript/") for k in files) for files in stages_before.values())
    prose = pkg / "manuscript" / "signatures.py"
    text = prose.read_text(encoding="utf-8")
    assert "reached a C-index of" in text
    prose.write_text(text.replace("reached a C-index of", "scored a C-index of"), encoding="utf-8")
    stages_after, paper_after = inputs()
    assert stages_after == stages_before
    assert paper_after["manuscript/signatures.py"] != paper_before["manuscript/signatures.py"]
    assert {k for k in paper_after if paper_after[k] != paper_before[k]} == {"manuscript/signatures.py"}


def test_every_rendered_text_has_one_function_and_no_other():
    declared = {(s.name, a.name) for s in STAGES for a in s.outputs if a.rendered}
    assert declared == set(TEXTS)
    # one home for the paper's prose: no stage writes a paragraph itself
    assert declared == {(s.name, a.name) for s in STAGES for a in s.artefacts("text")}
    assert {("03_signatures", "text-signatures.md"), ("03_signatures", "text-signature-methods.md")} <= declared
    assert {("00_cohort", "text-data.md"), ("00_cohort", "text-imaging.md"), ("01_segmentation", "text-segmentation.md"),
            ("01_segmentation", "text-seg-results.md"), ("04_models", "text-models.md")} <= declared
    with pytest.raises(KeyError, match="no function for it"):
        render_text("03_signatures", "text-none.md", {}, {})


def test_a_stage_may_not_write_a_rendered_text(tmp_path, root):
    stage = stage_by_name("03_signatures")
    params = stage_params(load_profile("quick", root), stage.sections)
    ctx = open_stage(stage_declaration(stage), "unused.yml", tmp_path, tmp_path / "03_signatures.partial", params)
    with pytest.raises(ValueError, match="written when the paper is published"):
        ctx.write_text("text-signatures.md", "a paragraph")
    # written by hand anyway, the runner refuses the stage's output
    (ctx.out_dir / "text-signatures.md").write_text("a paragraph")
    missing, undeclared = check_outputs(stage, ctx.out_dir)
    assert "text-signatures.md" in undeclared and "text-signatures.md" not in missing


def test_the_methods_paragraph_follows_the_signatures_the_variables_name():
    both = {"signatures": {n: {} for n in ("us_intra", "us_peri", "mri_intra", "mri_peri", "us", "mri",
                                           "multimodal_union", "multimodal")} | {"multimodal_rule": "auto"}}
    text = render_text("03_signatures", "text-signature-methods.md", both, {})
    assert text.startswith("Seven signatures were developed on the training set only: one per region")
    mri = {"signatures": {"mri_intra": {}, "mri_peri": {}, "mri": {}, "multimodal": {}, "multimodal_rule": "auto"}}
    text = render_text("03_signatures", "text-signature-methods.md", mri, {})
    assert text.startswith("Three signatures") and "no ultrasound, so no multi-modal signature" in text


def _written(tmp_path, variables):
    """The variables as publishing reads them: written by the stage, read back typed."""
    return yaml.safe_load(write_variables(variables, tmp_path / "variables.yml").read_text(encoding="utf-8"))


SUMMARY = {"n_total": 60, "n_centres": 2, "n_excluded": 1, "train": {"n": 27}, "internal": {"n": 15},
           "external": {"n": 18}}


def test_the_data_and_imaging_paragraphs_of_a_users_mri_only_cohort(tmp_path, quick_profile):
    from radsurv.manuscript.cohort import describe_data, describe_user_imaging

    imaging = {"n_us": 0, "n_mri": 60, "n_mask_us": 0, "n_mask_mri": 60, "n_dev_us": 0, "n_dev_mri": 0,
               "n_dev_excluded_us": 0, "n_dev_excluded_mri": 0, "n_masks_resampled": 5, "mask_label": 1}
    v = _written(tmp_path, {"cohort": {**SUMMARY, "simulated": False}, "imaging": imaging})
    data = render_text("00_cohort", "text-data.md", v, quick_profile)
    assert data == describe_data(quick_profile, False, SUMMARY, ("mri",))
    assert "and the paths of the MRI images." in data and "simulat" not in data.lower()
    text = render_text("00_cohort", "text-imaging.md", v, quick_profile)
    assert text == describe_user_imaging(imaging)
    assert text.startswith("The cohort has DCE-MRI volumes of 60 patients") and "The lesion is label 1" in text
    # without images: no image paths in the data paragraph, and the images' says so
    v = _written(tmp_path, {"cohort": {**SUMMARY, "simulated": False}})
    assert "paths of the" not in render_text("00_cohort", "text-data.md", v, quick_profile)
    assert render_text("00_cohort", "text-imaging.md", v, quick_profile) == "The cohort has no images.\n"


def test_the_data_paragraph_of_the_null_twin(tmp_path, root):
    from radsurv.manuscript.cohort import describe_data

    null = load_profile("null", root)
    v = _written(tmp_path, {"cohort": {**SUMMARY, "simulated": True}})
    text = render_text("00_cohort", "text-data.md", v, null)
    assert text == describe_data(null, True, SUMMARY) and "In this `null` profile" in text


def test_the_segmentation_paragraphs_of_supplied_masks_and_of_supplied_weights(tmp_path):
    from radsurv.manuscript.segmentation import SUPPLIED_NOTE, describe_segmentation
    from radsurv.segment.stage import METRIC_COLUMNS, segmentation_variables

    # a user's MRI-only cohort analysed with its own masks (segmentation.use_supplied_masks)
    tables = {"mri": pd.DataFrame({"patient_id": ["a", "b", "c"], "modality": "mri",
                                   "source": ["user", "user", "excluded"]})}
    training = {"mri": {"n_train": 0, "n_test": 0, "loaded": False}}
    v = segmentation_variables(tables, pd.DataFrame(columns=METRIC_COLUMNS), training, "reader", "reader", 3)
    v = _written(tmp_path, {"segmentation": {**v, "modalities": ["mri"]}})
    profile = {"segmentation": {"use_supplied_masks": True, "benchmarks": None}}
    methods = render_text("01_segmentation", "text-segmentation.md", v, profile)
    assert methods.startswith(SUPPLIED_NOTE) and "U-Net" not in methods
    results = render_text("01_segmentation", "text-seg-results.md", v, profile)
    assert results.startswith("No automatic segmentation was run") and "1 patient was excluded" in results
    # a supplied U-Net for ultrasound, one trained on the development set for MRI
    training = {"us": {"n_train": 0, "n_test": 0, "loaded": True, "source": "weights", "weights": "unet_us_x.pt"},
                "mri": {"n_train": 24, "n_test": 6, "loaded": False, "source": "devset", "weights": None}}
    tables = {m: pd.DataFrame({"patient_id": ["a"], "modality": m, "source": "auto"}) for m in ("us", "mri")}
    v = segmentation_variables(tables, pd.DataFrame(columns=METRIC_COLUMNS), training, "truth", "exclude", 1, 0.75)
    v = _written(tmp_path, {"segmentation": {**v, "modalities": ["us", "mri"]}})
    text = render_text("01_segmentation", "text-segmentation.md", v, {"segmentation": {"use_supplied_masks": False}})
    params = {"use_supplied_masks": False, "policy": "exclude", "failure_dice": 0.75}
    assert text == describe_segmentation(params, ["us", "mri"], training, "truth")
    assert "trained weights were supplied (`unet_us_x.pt`" in text and "(24 MRI patients" in text


def test_the_models_paragraph_leaves_out_the_models_not_fitted(tmp_path):
    from radsurv.manuscript.models import describe_models
    from radsurv.models.stage import complete_model_variables

    fitted = {"clinical": {"variables": "Age", "c_external": "0.650", "c_external_ci": "0.500-0.800"},
              "imaging": {"variables": "Age; Rad-score", "c_external": "0.700", "c_external_ci": "0.550-0.850",
                          "lr_p": "0.030", "recovery_external_pct": "40"},
              "radscore_constant": False}
    published = {"imaging": {"external": 0.795}}
    before = describe_models(fitted, published)
    v = _written(tmp_path, {"models": complete_model_variables(
        {k: dict(e) if isinstance(e, dict) else e for k, e in fitted.items()}, None)})
    assert v["models"]["mri"]["fitted"] is False and v["models"]["mri"]["c_external"] == "–"
    text = render_text("04_models", "text-models.md", v, {"models": {"published_c": published}})
    assert text == before and "no variable selected" not in text and "true linear predictor" not in text
    # the twin's oracle, as the stage formats it
    v = _written(tmp_path, {"models": complete_model_variables(
        {k: dict(e) if isinstance(e, dict) else e for k, e in fitted.items()}, {"external": 0.8714})})
    text = render_text("04_models", "text-models.md", v, {"models": {"published_c": published}})
    assert "The true linear predictor of the simulation reaches 0.871 on the external set; the clinical imaging " \
           "model recovers 40% of its gain" in text

"""The paper's prose has one home, radsurv.manuscript, rendered from the stages'
variables when the paper is published (issue 26, item 3): editing a sentence re-runs no
stage, only the publishing step; the texts declared ``rendered`` are written by
publishing and refused from a stage."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from radsurv.config import load_profile, stage_params
from radsurv.manuscript import TEXTS, render_text
from radsurv.pipeline import deps
from radsurv.pipeline.execute import check_outputs
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
    assert {("03_signatures", "text-signatures.md"), ("03_signatures", "text-signature-methods.md")} <= declared
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

"""open_stage and the StageContext: parameters, declared paths, writers, timing."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import yaml

from radsurv.config import load_profile, stage_params
from radsurv.stages import Artefact, Stage, open_stage, provenance, resolve_n_jobs, stage_declaration
from radsurv.stages.timing import timed

STAGE = Stage("50_demo", "Demo", ("features",), outputs=(
    Artefact("data.csv", "data", "a table"),
    Artefact("rois/", "data", "a folder"),
    Artefact("demo.md", "table", "a table"),
    Artefact("text-demo.md", "text", "a text"),
    Artefact("fig-demo.png", "figure", "a figure"),
), variables=("demo",))


@pytest.fixture()
def ctx(tmp_path, root):
    params = stage_params(load_profile("quick", root), STAGE.sections)
    return open_stage(stage_declaration(STAGE), "unused.yml", tmp_path, tmp_path / "50_demo.partial", params)


def test_open_stage_from_the_injected_declaration_and_params(ctx, tmp_path):
    assert ctx.stage == STAGE and ctx.out_dir.is_dir()
    assert set(ctx.profile) == {"profile", "seed", "time_unit", "n_jobs", "features"}
    assert ctx.params["ring_width_mm"] == 5.0 and ctx.seed == 20240611
    assert ctx.provenance == "[`notebooks/50_demo.ipynb`](executed/50_demo-preview.html), profile `quick`"


def test_open_stage_by_name_reads_the_profile(tmp_path, root, monkeypatch):
    monkeypatch.chdir(root)
    ctx = open_stage("02_features", "quick", tmp_path, tmp_path / "out")
    assert ctx.stage.name == "02_features" and ctx.params["icc"]["threshold"] == 0.75
    with pytest.raises(KeyError, match="unknown stage '99_none'"):
        open_stage("99_none", "quick", tmp_path, tmp_path / "out")


def test_paths_of_declared_artefacts_only(ctx):
    assert ctx.path("data.csv") == ctx.out_dir / "data.csv"
    assert ctx.path("rois/us/P1_auto_intra.nii.gz").parent.is_dir()
    with pytest.raises(KeyError, match=r"does not declare 'other.csv'.*registry.py"):
        ctx.path("other.csv")


def test_write_table_adds_the_provenance_and_checks_the_kind(ctx):
    ctx.write_table(pd.DataFrame({"a": [1]}), "demo.md", caption="A demo.", label="demo")
    text = ctx.path("demo.md").read_text(encoding="utf-8")
    assert text.endswith(f": A demo. Source: {ctx.provenance}. {{#tbl-demo}}\n")
    with pytest.raises(ValueError, match="declared as text, not as a table"):
        ctx.write_table(pd.DataFrame({"a": [1]}), "text-demo.md", caption="x", label="x")


def test_write_variables_declared_keys_plus_provenance(ctx):
    ctx.write_variables({"demo": {"n": "3"}})
    data = yaml.safe_load(ctx.path("demo.md").parent.joinpath("variables.yml").read_text(encoding="utf-8"))
    assert data == {"demo": {"n": "3"}, "provenance": {"50_demo": ctx.provenance}}
    with pytest.raises(KeyError, match=r"undeclared variables \['cohort'\]"):
        ctx.write_variables({"cohort": {"n": 1}})


def test_timed_records_each_step_even_when_it_raises(tmp_path, capsys):
    with timed(tmp_path, "first"):
        pass
    with pytest.raises(RuntimeError):
        with timed(tmp_path, "second") as step:
            step.step = "second (renamed)"
            raise RuntimeError("boom")
    steps = json.loads((tmp_path / "steps.json").read_text(encoding="utf-8"))
    assert set(steps) == {"first", "second (renamed)"} and all(v >= 0 for v in steps.values())
    import re

    # the step is reported with its measured time, whatever it was on this machine
    assert re.search(r"first: \d+\.\d s", capsys.readouterr().out)


def test_resolve_n_jobs():
    cores = max(1, os.cpu_count() or 1)
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-1) == cores and resolve_n_jobs(0) == cores
    assert resolve_n_jobs(None, 2) == 2 and resolve_n_jobs(None, None) == cores


def test_provenance_line():
    assert provenance("03_signatures", "paper") == (
        "[`notebooks/03_signatures.ipynb`](executed/03_signatures-preview.html), profile `paper`")

"""open_stage and the StageContext: parameters, declared paths, writers, timing."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import yaml

from radsurv.config import load_profile, stage_params
from radsurv.exceptions import ProfileError
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
    assert set(ctx.profile) == {"profile", "seed", "time_unit", "compute", "features"}
    assert ctx.params["ring_width_mm"] == 5.0 and ctx.seed == 20240611
    assert ctx.provenance == "[`notebooks/50_demo.ipynb`](executed/50_demo-preview.html), profile `quick`"


def _upstream_built(build, stage="02_features"):
    from radsurv.stages import stage_by_name

    for name in stage_by_name(stage).upstream:
        (build / name).mkdir(parents=True, exist_ok=True)


def test_open_stage_by_name_reads_the_profile(tmp_path, root, monkeypatch):
    monkeypatch.chdir(root)
    _upstream_built(tmp_path)
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


def test_write_data_writes_ten_significant_digits_and_checks_the_kind(ctx):
    frame = pd.DataFrame({"patient": ["P1", "P2"], "x": [1 / 3, 2.0e-12], "n": [1, 2]})
    ctx.write_data(frame, "data.csv")
    assert ctx.path("data.csv").read_bytes() == b"patient,x,n\nP1,0.3333333333,1\nP2,2e-12,2\n"
    ctx.write_data(frame, "data.csv", float_format=None)  # pandas' shortest round trip
    assert ctx.path("data.csv").read_bytes() == b"patient,x,n\nP1,0.3333333333333333,1\nP2,2e-12,2\n"
    with pytest.raises(ValueError, match="'demo.md' is declared as table; write_data writes .csv"):
        ctx.write_data(frame, "demo.md")
    with pytest.raises(KeyError, match="does not declare 'other.csv'"):
        ctx.write_data(frame, "other.csv")


def test_write_figure_strips_the_software_stamp_and_checks_the_kind(ctx):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = ctx.write_figure(fig, "fig-demo.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and b"Software" not in data and b"matplotlib" not in data
    assert not plt.fignum_exists(fig.number)  # closed
    with pytest.raises(ValueError, match="declared as data, not as a figure"):
        ctx.write_figure(plt.figure(), "data.csv")


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


def test_the_compute_setting_reaches_the_stage(tmp_path, root):
    """``compute`` is global: every stage sees it. A section's own n_jobs, when set, wins
    over compute.n_jobs; null falls back to it; the scheduler comes as given."""
    profile = load_profile("quick", root, overrides={"compute.n_jobs": 3, "compute.scheduler": "tcp://sched:8786"})
    validation = Stage("50_demo", "Demo", ("validation",))
    ctx = open_stage(stage_declaration(validation), "unused.yml", tmp_path, tmp_path / "a",
                     stage_params(profile, validation.sections))
    assert ctx.params["n_jobs"] is None
    assert ctx.compute == {"n_jobs": 3, "scheduler": "tcp://sched:8786"}
    # 01-03 too: their sections' n_jobs are null, so compute.n_jobs reaches them
    for section in ("segmentation", "features", "signatures"):
        stage = Stage("50_demo", "Demo", (section,))
        ctx = open_stage(stage_declaration(stage), "unused.yml", tmp_path, tmp_path / section,
                         stage_params(profile, stage.sections))
        assert ctx.compute == {"n_jobs": 3, "scheduler": "tcp://sched:8786"}, section
    # a section that sets its own n_jobs keeps it for its stage
    profile = load_profile("quick", root, overrides={"compute.n_jobs": 3, "features.n_jobs": -1})
    features = Stage("50_demo", "Demo", ("features",))
    ctx = open_stage(stage_declaration(features), "unused.yml", tmp_path, tmp_path / "own",
                     stage_params(profile, features.sections))
    assert ctx.n_jobs == max(1, os.cpu_count() or 1) and ctx.scheduler is None


def test_provenance_line():
    assert provenance("03_signatures", "paper") == (
        "[`notebooks/03_signatures.ipynb`](executed/03_signatures-preview.html), profile `paper`")


# -- hand runs (Jupyter, Binder) -------------------------------------------------------------


def test_hand_run_from_the_notebooks_folder_writes_to_explore(tmp_path, root, monkeypatch, capsys):
    """Opened from notebooks/ with the parameters cell's defaults (build_dir and out_dir
    None), a stage finds the project, reads build/<profile>/ and writes to
    build/<profile>/explore/<stage>/, emptied first."""
    monkeypatch.chdir(root / "notebooks")
    build = tmp_path / "build" / "quick"
    _upstream_built(build)
    stale = build / "explore" / "02_features" / "stale.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier hand run")
    ctx = open_stage("02_features", "quick", build, None)
    assert ctx.hand_run and ctx.build_dir == build and ctx.out_dir == build / "explore" / "02_features"
    assert ctx.out_dir.is_dir() and not stale.exists()
    assert ctx.params["ring_width_mm"] == 5.0
    assert "hand run: reads" in capsys.readouterr().out
    # a path relative to the project root works from notebooks/ too (it did not: issue 26)
    assert open_stage("02_features", "params/quick.yml", build, None).profile["profile"] == "quick"


def test_hand_run_default_build_is_the_projects(tmp_path, root, monkeypatch):
    """With build_dir None the hand run reads the project's build/<profile>/; an
    upstream stage that is not built is named with the command that builds it."""
    monkeypatch.chdir(root / "notebooks")
    if (root / "build" / "quick" / "00_cohort").is_dir():
        pytest.skip("the checkout has a quick build")
    with pytest.raises(FileNotFoundError, match=r"reads 00_cohort.*radsurv run --profile quick --stage 03_signatures"):
        open_stage("03_signatures", "quick")


def test_try_it_changes_a_hand_run_only(tmp_path, root, monkeypatch):
    monkeypatch.chdir(root / "notebooks")
    _upstream_built(tmp_path)
    ctx = open_stage("02_features", "quick", tmp_path, None, try_it={"features.ring_width_mm": 3.0,
                                                                     "features.icc.threshold": None})
    assert ctx.params["ring_width_mm"] == 3.0 and ctx.params["icc"]["threshold"] == 0.75
    # validated like the profile's own keys: the key and the problem are named
    with pytest.raises(ProfileError, match=r"features.ring_width_mm"):
        open_stage("02_features", "quick", tmp_path, None, try_it={"features.ring_width_mm": -1})
    with pytest.raises(ProfileError, match=r"ring_widht_mm"):
        open_stage("02_features", "quick", tmp_path, None, try_it={"features.ring_widht_mm": 3.0})
    # only the stage's own sections (a change elsewhere would not be this stage's to make)
    with pytest.raises(ValueError, match=r"'signatures.lambda_rule' is not in stage 02_features"):
        open_stage("02_features", "quick", tmp_path, None, try_it={"signatures.lambda_rule": "lambda_1se"})
    # under the pipeline (params injected) the profile rules
    params = stage_params(load_profile("quick", root), ("features",))
    with pytest.raises(ValueError, match="apply to hand runs only"):
        open_stage("02_features", "quick", tmp_path, tmp_path / "02_features.partial", params,
                   try_it={"features.ring_width_mm": 3.0})
    ctx = open_stage("02_features", "quick", tmp_path, tmp_path / "02_features.partial", params,
                     try_it={"features.ring_width_mm": None})
    assert not ctx.hand_run and ctx.params["ring_width_mm"] == 5.0


@pytest.mark.parametrize("folder", ["02_features", "02_features.partial", "03_signatures", "00_cohort/sub"])
def test_hand_run_never_writes_into_a_pipeline_folder(tmp_path, root, monkeypatch, folder):
    monkeypatch.chdir(root)
    _upstream_built(tmp_path)
    with pytest.raises(ValueError, match="may not write into the pipeline's folder"):
        open_stage("02_features", "quick", tmp_path, tmp_path / folder)
    assert not (tmp_path / "02_features").exists() and not (tmp_path / "02_features.partial").exists()


def test_every_notebooks_try_it_example_is_a_valid_change(root):
    """The value each notebook suggests in its "Try it" comment passes the profile's
    schema and differs from the quick profile's own."""
    import ast
    import re

    from radsurv.stages import STAGES

    quick = load_profile("quick", root)
    for stage in STAGES:
        nb = json.loads((root / stage.notebook).read_text(encoding="utf-8"))
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        name, example = re.search(r"^(\w+) = None  # e\.g\. (.+?): ", code[0], re.M).groups()
        key = re.search(rf'"([\w.]+)": {name}\b', code[1]).group(1)
        value = ast.literal_eval(example)
        changed = load_profile("quick", root, overrides={key: value})
        node_new, node_old = changed, quick
        for part in key.split("."):
            node_new, node_old = node_new[part], node_old[part]
        assert node_new == value and node_old != value, (stage.name, key)

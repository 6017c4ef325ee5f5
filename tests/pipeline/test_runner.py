"""The pipeline runner on tiny stand-in stages: content-based staleness, downstream
re-runs, failures that name the notebook and cell, and resumption."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat as nbf
import pytest
import yaml

from radsurv.pipeline import runner, stages
from radsurv.pipeline.stages import Stage


def _notebook(path: Path, body: str) -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb.cells = [
        nbf.v4.new_code_cell('profile_path = ""\nbuild_dir = ""\nout_dir = ""', metadata={"tags": ["parameters"]}),
        nbf.v4.new_code_cell("from pathlib import Path\nimport yaml\n"
                             "p = yaml.safe_load(open(profile_path))\nout = Path(out_dir)"),
        nbf.v4.new_code_cell(body),
    ]
    nbf.write(nb, str(path))


@pytest.fixture()
def project(tmp_path, monkeypatch, root):
    """A project with three stages: a -> b, and c independent."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    shutil.copy(root / "requirements.lock", tmp_path / "requirements.lock")
    _notebook(tmp_path / "notebooks" / "a.ipynb", "(out / 'a.txt').write_text(str(p['sa']['value']))")
    _notebook(tmp_path / "notebooks" / "b.ipynb",
              "a = (Path(build_dir) / 'a' / 'a.txt').read_text()\n(out / 'b.txt').write_text(a + str(p['sb']['value']))")
    _notebook(tmp_path / "notebooks" / "c.ipynb", "(out / 'c.txt').write_text(str(p['sc']['value']))")
    (tmp_path / "params" / "t.yml").write_text(yaml.safe_dump(
        {"seed": 1, "cohort": {"source": "twin"}, "sa": {"value": 1}, "sb": {"value": 2}, "sc": {"value": 3}}))
    fake = (
        Stage("a", "notebooks/a.ipynb", ("sa",)),
        Stage("b", "notebooks/b.ipynb", ("sb",), upstream=("a",)),
        Stage("c", "notebooks/c.ipynb", ("sc",)),
    )
    monkeypatch.setattr(runner, "STAGES", fake)
    monkeypatch.setattr(runner, "STAGE_BY_NAME", {s.name: s for s in fake})
    return tmp_path


def run(project: Path, **kw):
    return runner.run_pipeline("t", root=project, render=False, **kw)


def set_param(project: Path, section: str, value) -> None:
    path = project / "params" / "t.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data[section]["value"] = value
    path.write_text(yaml.safe_dump(data))


def test_staleness_is_by_content_and_flows_downstream(project):
    first = run(project)
    assert first.exit_code == 0 and sorted(first.executed) == ["a", "b", "c"]
    assert (project / "build/t/b/b.txt").read_text(encoding="utf-8") == "12"
    timings = json.loads((project / "build/t/timings.json").read_text(encoding="utf-8"))["stages"]
    assert set(timings) == {"a", "b", "c"} and all(v["wall_s"] > 0 for v in timings.values())

    again = run(project)
    assert again.executed == [] and again.wall_s < 15

    # A parameter of stage a re-runs a and b (downstream), not c.
    set_param(project, "sa", 5)
    r = run(project)
    assert r.executed == ["a", "b"]
    assert (project / "build/t/b/b.txt").read_text(encoding="utf-8") == "52"

    # A parameter of b re-runs only b.
    set_param(project, "sb", 7)
    assert run(project).executed == ["b"]

    # Editing a notebook re-runs it (content, not timestamps: touching alone does not).
    nb = project / "notebooks/c.ipynb"
    nb.touch()
    assert run(project).executed == []
    data = json.loads(nb.read_text(encoding="utf-8"))
    data["cells"][2]["source"] = "(out / 'c.txt').write_text('changed')"
    nb.write_text(json.dumps(data))
    assert run(project).executed == ["c"]

    # The lock file is an input of every stage.
    with open(project / "requirements.lock", "a") as fh:
        fh.write("# touched\n")
    assert sorted(run(project).executed) == ["a", "b", "c"]


def test_failure_names_notebook_and_cell_and_keeps_earlier_outputs(project):
    assert run(project).exit_code == 0
    before = (project / "build/t/a/a.txt").read_text(encoding="utf-8")
    _notebook(project / "notebooks/b.ipynb", "raise ValueError('broken on purpose')")
    set_param(project, "sa", 9)  # a re-runs fine, then b fails
    r = run(project)
    assert r.exit_code != 0
    f = r.failure
    assert f is not None and f.stage == "b" and f.notebook == "notebooks/b.ipynb" and f.cell == 3
    assert "ValueError: broken on purpose" in str(f) and "cell 3" in str(f)
    assert (project / "build/t/a/a.txt").read_text(encoding="utf-8") == "9" != before
    # b's previous outputs are still in place; the failed attempt is kept apart.
    assert (project / "build/t/b/b.txt").read_text(encoding="utf-8") == "12"
    assert (project / "build/t/b.partial/b.ipynb").exists()
    # Fix and resume: only b runs.
    _notebook(project / "notebooks/b.ipynb",
              "a = (Path(build_dir) / 'a' / 'a.txt').read_text()\n(out / 'b.txt').write_text(a + 'ok')")
    r = run(project)
    assert r.executed == ["b"] and (project / "build/t/b/b.txt").read_text(encoding="utf-8") == "9ok"
    assert not (project / "build/t/b.partial").exists()


def test_single_stage_selection_runs_its_upstream(project):
    r = run(project, stages=["b"])
    assert r.executed == ["a", "b"]


def test_unknown_stage(project):
    with pytest.raises(ValueError, match="unknown stage 'zz'"):
        run(project, stages=["zz"])


def test_force_reruns_only_the_named_stage(project):
    assert run(project).exit_code == 0
    forced = run(project, force=True, stages=["b"])
    assert forced.exit_code == 0 and forced.executed == ["b"]
    # ...and the next plain run has nothing to do (same inputs, same stamp).
    assert run(project).executed == []
    # Forcing an upstream stage whose outputs do not change leaves b alone.
    forced = run(project, force=True, stages=["a"])
    assert forced.executed == ["a"]
    assert run(project).executed == []

"""The pipeline runner on tiny stand-in stages: content-based staleness, downstream
re-runs, failures that name the notebook and cell, resumption, and declared outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from radsurv.exceptions import InputError, StageOutputsError
from radsurv.pipeline import runner
from radsurv.stages import Artefact, Stage

A_BODY = "(out / 'a.txt').write_text(str(p['sa']['value']))"
B_BODY = "a = (Path(build_dir) / 'a' / 'a.txt').read_text()\n(out / 'b.txt').write_text(a + str(p['sb']['value']))"
C_BODY = "(out / 'c.txt').write_text(str(p['sc']['value']))"


@pytest.fixture()
def toy(toy_project):
    """Three stages: a -> b, and c independent, each reading its own section."""
    toy_project.add_sections("sa", "sb", "sc")
    for name, body in (("a", A_BODY), ("b", B_BODY), ("c", C_BODY)):
        toy_project.notebook(name, body)
    toy_project.profile(sa={"value": 1}, sb={"value": 2}, sc={"value": 3})
    toy_project.use_stages(
        Stage("a", "stage a", ("sa",), outputs=(Artefact("a.txt", "data", "a's value"),)),
        Stage("b", "stage b", ("sb",), upstream=("a",), outputs=(Artefact("b.txt", "data", "a and b"),)),
        Stage("c", "stage c", ("sc",), outputs=(Artefact("c.txt", "data", "c's value"),)),
    )
    return toy_project


@pytest.fixture()
def project(toy):
    return toy.root


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
    assert again.exit_code == 0 and again.executed == []

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


def test_where_the_loops_run_is_not_a_stage_input(toy, project):
    """``compute`` (workers, scheduler) reaches every stage but is none of its inputs: the
    results do not depend on it, so changing it in the file, by override (``radsurv run
    --scheduler``) or through the former top-level n_jobs leaves finished stages up to
    date; a real parameter still re-runs its stage."""
    toy.notebook("c", "(out / 'c.txt').write_text(f\"{p['sc']['value']} {ctx.scheduler} {ctx.n_jobs}\")")
    first = run(project, overrides={"compute.scheduler": "tcp://sched:8786", "compute.n_jobs": 2})
    assert first.exit_code == 0 and sorted(first.executed) == ["a", "b", "c"]
    assert (project / "build/t/c/c.txt").read_text(encoding="utf-8") == "3 tcp://sched:8786 2"   # the override arrived

    path = project / "params" / "t.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**data, "compute": {"n_jobs": 1, "scheduler": "tcp://other:8786"}}))
    assert run(project).executed == []
    assert run(project, overrides={"compute.scheduler": None, "compute.n_jobs": 3}).executed == []
    path.write_text(yaml.safe_dump({**data, "n_jobs": 4}))   # an older profile's name of compute.n_jobs
    assert run(project).executed == []

    set_param(project, "sc", 4)
    r = run(project)
    assert r.executed == ["c"] and (project / "build/t/c/c.txt").read_text(encoding="utf-8") == "4 None 4"


def test_a_stage_sees_only_its_own_sections(toy, project):
    """The runner injects the global keys and the stage's sections: a stage that reads a
    section it does not declare (whose changes would not re-run it) fails."""
    toy.notebook("c", "(out / 'c.txt').write_text(str(p['sa']['value']))")
    r = run(project, stages=["c"])
    assert r.exit_code != 0 and r.failure.stage == "c" and "KeyError: 'sa'" in str(r.failure)
    executed = json.loads((project / "build/t/c.partial/c.ipynb").read_text(encoding="utf-8"))
    injected = next(c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    text = "".join(injected["source"])
    params = text[text.index("params = "):].splitlines()[0]
    assert '"sc": {"value": 3}' in params and '"sa"' not in params and '"seed": 1' in params


def test_failure_names_notebook_and_cell_and_keeps_earlier_outputs(toy, project):
    assert run(project).exit_code == 0
    before = (project / "build/t/a/a.txt").read_text(encoding="utf-8")
    toy.notebook("b", "raise ValueError('broken on purpose')")
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
    toy.notebook("b", "a = (Path(build_dir) / 'a' / 'a.txt').read_text()\n(out / 'b.txt').write_text(a + 'ok')")
    r = run(project)
    assert r.executed == ["b"] and (project / "build/t/b/b.txt").read_text(encoding="utf-8") == "9ok"
    assert not (project / "build/t/b.partial").exists()


def test_a_stage_missing_a_declared_output_fails_and_keeps_the_old_outputs(toy, project):
    assert run(project).exit_code == 0
    toy.notebook("c", "(out / 'other.txt').write_text('x')")
    r = run(project, stages=["c"])
    assert isinstance(r.failure, StageOutputsError)
    assert r.failure.missing == ["c.txt"] and "did not write its declared output(s) c.txt" in str(r.failure)
    assert (project / "build/t/c/c.txt").read_text(encoding="utf-8") == "3"
    assert (project / "build/t/c.partial/other.txt").is_file()


def test_an_undeclared_figure_or_variable_is_refused(toy, project):
    toy.notebook("c", "(out / 'c.txt').write_text('3')\n(out / 'fig-extra.png').write_bytes(b'png')\n"
                      "(out / 'variables.yml').write_text('stray: 1\\n')")
    r = run(project, stages=["c"])
    assert isinstance(r.failure, StageOutputsError)
    assert r.failure.undeclared == ["fig-extra.png", "variables.yml key 'stray'"]
    assert not (project / "build/t/c").exists()


def test_single_stage_selection_runs_its_upstream(project):
    r = run(project, stages=["b"])
    assert r.executed == ["a", "b"]


def test_unknown_stage(project):
    with pytest.raises(InputError, match="unknown stage 'zz'"):
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


def test_print_report_says_what_ran_before_a_failure(toy, project, capsys):
    toy.notebook("b", "raise ValueError('broken on purpose')")
    r = run(project, stages=["b"])
    runner.print_report(r)
    out = capsys.readouterr().out
    assert "stages run before the failure: a" in out and "stage b failed" in out
    assert "everything up to date" not in out


def test_command_line_exit_codes(toy, project, capsys, monkeypatch):
    """0 when the run succeeds, 1 when a stage fails (named with its cell), 2 for bad input."""
    from radsurv.cli import main

    monkeypatch.chdir(project)
    assert main(["run", "--profile", "t", "--no-render"]) == 0
    assert "stages run: a, b, c" in capsys.readouterr().out
    toy.notebook("c", "raise RuntimeError('stage c is broken')")
    set_param(project, "sc", 4)
    assert main(["run", "--profile", "t", "--no-render"]) == 1
    out = capsys.readouterr().out
    assert ("error: stage c failed in notebooks/c.ipynb, code cell 3 (`raise RuntimeError('stage c is broken')`): "
            "RuntimeError: stage c is broken") in out
    assert main(["run", "--profile", "t", "--stage", "zz"]) == 2
    assert "unknown stage 'zz'" in capsys.readouterr().err


def test_doit_does_not_print_its_own_line_for_a_stage_radsurv_reports():
    # "TaskFailed - taskid:c / Python Task failed: ... returned False", printed above
    # radsurv's error, read as the error; a task that raised is still printed.
    import io

    from doit.exceptions import TaskError, TaskFailed
    from doit.task import Task

    stream = io.StringIO()
    reporter = runner._Reporter(stream, {})
    task = Task("c", [lambda: False])
    reporter.add_failure(task, TaskFailed("Python Task failed: returned False"))
    assert stream.getvalue() == "" and len(reporter.failures) == 1
    reporter.add_failure(task, TaskError("boom"))
    assert "TaskError - taskid:c" in stream.getvalue() and "boom" in stream.getvalue()


def test_registering_another_stage_reruns_nothing_but_changing_ones_declaration_does(toy, project):
    """The registry and the schema are not file dependencies of the stages: a stage
    depends on its own declaration and validated parameters, which are hashed."""
    assert run(project).exit_code == 0
    stages = list(runner.STAGES)
    # A new stage registered after the others (and the schema extended for it).
    toy.add_sections("sd")
    toy.notebook("d", "(out / 'd.txt').write_text('d')")
    toy.use_stages(*stages, Stage("d", "stage d", ("sd",), outputs=(Artefact("d.txt", "data", "d"),)))
    assert run(project).executed == ["d"]
    # Declaring one more output of c re-runs c (and it must write it).
    c = stages[2]
    toy.use_stages(stages[0], stages[1], Stage("c", "stage c", ("sc",), outputs=(
        *c.outputs, Artefact("c2.txt", "data", "more"))), runner.STAGES[-1])
    r = run(project)
    assert r.executed == [] and r.failure is not None and r.failure.missing == ["c2.txt"]


def test_progress_inside_a_stage_reaches_the_console(toy, project, capfd):
    """A bar of radsurv.progress inside a stage's cell is written to the kernel's own
    stderr: the console of the run shows it (and the executed notebook keeps a copy)."""
    toy.notebook("a", "from radsurv.progress import tqdm\nfor _ in tqdm(range(3), desc='toy-progress'):\n    pass\n"
                      + A_BODY)
    assert run(project, stages=["a"]).exit_code == 0
    captured = capfd.readouterr()
    assert "toy-progress: 100%" in captured.err and "3/3" in captured.err


def test_progress_stream_outside_and_inside_a_kernel(monkeypatch):
    import io
    import sys

    from radsurv.progress import progress_stream

    import IPython

    assert progress_stream() is sys.stderr
    monkeypatch.setitem(sys.modules, "ipykernel", sys)         # imported (a test session that ran papermill)
    monkeypatch.setattr(sys, "stderr", io.StringIO())          # captured, as by pytest
    assert progress_stream() is sys.stderr                     # no kernel runs here: the capture keeps it

    class Shell:                                               # a running kernel's shell
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    assert progress_stream() is sys.__stderr__                 # the kernel's own stderr: the run's console


def test_stage_kernels_start_without_the_transport_warning(project, capfd):
    """ipykernel warns at every start over unencrypted TCP; the stages' kernels are
    started with CurveZMQ keys, so the console shows no such line (pyzmq has Curve)."""
    import zmq

    assert zmq.has("curve")
    assert run(project, stages=["a"]).exit_code == 0
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out

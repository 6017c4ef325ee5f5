"""The command line reads as a command line: plain help, examples, a version."""

from __future__ import annotations

import importlib.metadata

import pytest

from radsurv.cli import main


def test_help_is_plain_text_with_examples(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":func:" not in out  # no reStructuredText
    assert "radsurv run --profile quick" in out and "radsurv validate my_cohort.csv" in out
    assert "exit status: 0 success, 1 a stage or the render failed, 2 bad input" in out
    for command in ("run", "validate", "render", "prerender"):
        assert f"\n    {command} " in out or f"\n    {command}\n" in out


def test_version_is_the_installed_distribution(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"radsurv {importlib.metadata.version('radsurv')}\n"


def test_a_missing_command_names_the_choices(capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2
    assert "the following arguments are required: command" in capsys.readouterr().err


def test_run_scheduler_sets_the_profiles_compute_scheduler(monkeypatch, tmp_path, capsys):
    """``radsurv run --scheduler ADDRESS`` runs with the profile's compute.scheduler set to
    the address (an override: the file is untouched); an address that is not one exits 2
    before any work, naming the key; without the option the profile's own setting holds."""
    from radsurv.cli import build_parser
    from radsurv.config import load_profile
    from radsurv.pipeline import runner

    args = build_parser().parse_args(["run", "--profile", "quick", "--scheduler", "tcp://10.0.0.5:8786"])
    assert args.scheduler == "tcp://10.0.0.5:8786" and args.profile == "quick"
    assert build_parser().parse_args(["run"]).scheduler is None

    loaded = []

    def fake_run_pipeline(profile, *, overrides=None, **kw):   # what run_pipeline does first
        loaded.append(load_profile(profile, overrides=overrides))
        return runner.RunReport(profile=loaded[-1]["profile"], build_dir=tmp_path)

    monkeypatch.setattr(runner, "run_pipeline", fake_run_pipeline)
    assert main(["run", "--profile", "quick", "--no-render", "--scheduler", "tcp://10.0.0.5:8786"]) == 0
    assert loaded[-1]["compute"] == {"n_jobs": -1, "scheduler": "tcp://10.0.0.5:8786"}
    assert main(["run", "--profile", "quick", "--no-render"]) == 0
    assert loaded[-1]["compute"]["scheduler"] is None
    capsys.readouterr()
    assert main(["run", "--profile", "quick", "--no-render", "--scheduler", "tcp://a b"]) == 2
    err = capsys.readouterr().err
    assert "compute.scheduler: expected a Dask scheduler address" in err and "nothing was run" in err


def test_format_chooses_the_papers_formats(monkeypatch, tmp_path, capsys):
    """``--format`` of ``run`` and ``render``: the formats in their order, all three by
    default, an unknown one refused by the parser; ``run`` hands them to the pipeline and
    prints where each format and the bundle are."""
    from pathlib import Path

    import pytest

    from radsurv.cli import build_parser
    from radsurv.pipeline import runner

    parser = build_parser()
    assert parser.parse_args(["render"]).format == ("html", "docx", "pdf")
    assert parser.parse_args(["render", "--format", "pdf,html"]).format == ("html", "pdf")
    assert parser.parse_args(["run", "--format", "docx"]).format == ("docx",)
    with pytest.raises(SystemExit):
        parser.parse_args(["render", "--format", "html,odt"])
    assert "formats must be among html, docx, pdf" in capsys.readouterr().err

    seen = []

    def fake_run_pipeline(profile, *, formats=None, **kw):
        seen.append(formats)
        paper = tmp_path / "paper"
        return runner.RunReport(profile="quick", build_dir=tmp_path, renderer="preview", paper=paper / "index.pdf",
                                outputs={"pdf": paper / "index.pdf", "bundle": paper / "submission.zip"})

    monkeypatch.setattr(runner, "run_pipeline", fake_run_pipeline)
    assert main(["run", "--profile", "quick", "--format", "pdf"]) == 0
    out = capsys.readouterr().out
    assert seen == [("pdf",)]
    assert f"renderer: preview; paper: {Path(tmp_path / 'paper' / 'index.pdf')}" in out
    assert f"  bundle: {tmp_path / 'paper' / 'submission.zip'}" in out and "  pdf:" not in out

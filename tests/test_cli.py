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

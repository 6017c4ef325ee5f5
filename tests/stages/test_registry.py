"""The stage registry: consistent, documented, and the manuscript project agrees with it."""

from __future__ import annotations

import re

import pytest
import yaml

from radsurv.stages import STAGES, Artefact, Stage, check_registry


def test_the_study_registry_is_consistent():
    assert check_registry() == []
    assert [s.name for s in STAGES] == sorted(s.name for s in STAGES)
    for s in STAGES:
        assert re.fullmatch(r"\d\d_[a-z]+", s.name)


def test_registry_problems_are_named():
    bad = (
        Stage("01_b", "b", ("nosuch",), upstream=("00_a",), variables=("x",)),
        Stage("00_a", "a", ("cohort",), variables=("x", "provenance"),
              outputs=(Artefact("t.csv", "data", "x"), Artefact("t.csv", "data", "y"))),
    )
    problems = check_registry(bad)
    assert "stage '01_b': upstream '00_a' is not registered before it" in problems
    assert any("unknown profile section 'nosuch'" in p for p in problems)
    assert "stages '01_b' and '00_a' both declare the variables 'x'" in problems
    assert "stage '00_a': 'provenance' variables are written by the stage kit" in problems
    assert "stage '00_a': artefact 't.csv' is declared twice" in problems


@pytest.mark.parametrize("name, kind, message", [
    ("flow.png", "figure", "fig-<label>.png"),
    ("table.csv", "table", "markdown"),
    ("sub/fig-x.png", "figure", "top of the stage folder"),
    ("x", "blob", "kind must be"),
])
def test_artefact_names_follow_the_conventions(name, kind, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Artefact(name, kind, "x")


def test_quarto_lists_the_executed_notebook_of_every_stage(root):
    quarto = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))
    listed = [(n["notebook"], n["title"]) for n in quarto["manuscript"]["notebooks"]]
    assert listed == [(f"executed/{s.name}.ipynb", f"{s.name[:2]} · {s.title}") for s in STAGES]
    for s in STAGES:
        assert (root / s.notebook).is_file()


def test_readme_lists_every_declared_output(root):
    text = (root / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## What each stage writes"):]
    table = table[:table.index("\n## ", 5)]
    for s in STAGES:
        for a in s.outputs:
            assert f"`{s.name}/{a.name}`" in table or f"{a.name}`" in table, f"README lacks {s.name}/{a.name}"


def test_every_figure_caption_names_its_own_stage(root):
    """A figure from figures/<stage>/ says "Source: {{< var provenance.<stage> >}}"."""
    qmd = (root / "index.qmd").read_text(encoding="utf-8")
    figures = re.findall(r"!\[(.*?)\]\(figures/([^/]+)/(fig-[^)]+\.png)\)", qmd, re.S)
    assert figures
    declared = {(s.name, a.name) for s in STAGES for a in s.artefacts("figure")}
    for caption, stage, name in figures:
        assert (stage, name) in declared, f"figures/{stage}/{name} is not declared by {stage}"
        assert f"Source: {{{{< var provenance.{stage} >}}}}." in caption, name
    from radsurv.pipeline.publish import CLEAR_TABLE, TRIPOD_TABLE
    from radsurv.report.run_tables import COST_TABLE, SOFTWARE_TABLE

    run_tables = {tuple(t.split("/")) for t in (COST_TABLE, SOFTWARE_TABLE, TRIPOD_TABLE, CLEAR_TABLE)}   # written by publish
    for stage, name in re.findall(r"\{\{< include tables/([^/]+)/([^ ]+) >\}\}", qmd):
        assert (stage, name) in {(s.name, a.name) for s in STAGES for a in s.artefacts("table")} | run_tables, name

"""docs/adding-a-stage.md, followed for a toy stage: registered with its outputs, a
profile section in the schema, a notebook on the stage kit, the patient flow, and the
manuscript; run through the runner, published and rendered to the preview."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from radsurv.pipeline import runner
from radsurv.stages import Artefact, Stage, check_registry

TOY_BODY = '''
import numpy as np
import pandas as pd
from radsurv.plots.style import plt, save_figure

with ctx.timed("toy work"):
    values = np.arange(ctx.params["value"])
    pd.DataFrame({"value": values}).to_csv(ctx.path("toy.csv"), index=False)
fig, ax = plt.subplots()
ax.plot(values)
save_figure(fig, ctx.path("fig-toy.png"))
ctx.write_table(pd.DataFrame({"n": [len(values)]}), "toy_table.md", caption="A toy table.", label="toy")
ctx.write_text("text-toy.md", f"The toy stage counted {len(values)} values.\\n")
cohort = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "center": ["1", "1", "2"],
                       "split": ["train", "internal", "external"]})
ctx.exclude("toy exclusion", ["P3"])
ctx.save_flow(cohort, {"internal": ["1"], "external": ["2"]}, simulated=True)
ctx.write_variables({"toy": {"n": str(len(values))}})
'''

INDEX = """---
title: "Toy"
---

# Results {#sec-results}

The toy stage counted {{< var toy.n >}} values (@tbl-toy, @fig-toy).

{{< include texts/90_toy/text-toy.md >}}

{{< include tables/90_toy/toy_table.md >}}

![A toy figure. Source: {{< var provenance.90_toy >}}.](figures/90_toy/fig-toy.png){#fig-toy}
"""

TOY = Stage(
    "90_toy",
    title="Toy: a stage written by the how-to",
    sections=("toy",),
    outputs=(
        Artefact("toy.csv", "data", "the toy values"),
        Artefact("flow.json", "data", "patient flow"),
        Artefact("fig-toy.png", "figure", "the toy values"),
        Artefact("fig-flow.png", "figure", "the patient flow"),
        Artefact("toy_table.md", "table", "how many values"),
        Artefact("text-toy.md", "text", "one sentence"),
    ),
    variables=("toy",),
)


@pytest.fixture()
def toy(toy_project):
    toy_project.use_stages(TOY)                  # step 1: register
    toy_project.add_sections("toy")              # step 2: a profile section in the schema
    toy_project.notebook("90_toy", TOY_BODY)     # steps 3-5: library calls, notebook, flow
    toy_project.profile(toy={"value": 4})
    proj = toy_project.root
    (proj / "index.qmd").write_text(INDEX, encoding="utf-8")                   # step 6: the manuscript
    (proj / "_quarto.yml").write_text(yaml.safe_dump({"project": {"type": "manuscript"}, "number-sections": True}))
    (proj / "references.bib").write_text("", encoding="utf-8")
    return proj


def test_the_toy_registry_is_consistent(toy):
    assert check_registry((TOY,)) == []


def test_a_stage_written_by_the_how_to_runs_publishes_and_renders(toy):
    report = runner.run_pipeline("t", root=toy, renderer="preview")
    assert report.exit_code == 0, report.failure
    assert report.executed == ["90_toy"] and report.renderer == "preview"
    # Published, namespaced by stage.
    assert (toy / "figures/90_toy/fig-toy.png").is_file() and (toy / "figures/90_toy/fig-flow.png").is_file()
    table = (toy / "tables/90_toy/toy_table.md").read_text(encoding="utf-8")
    assert "| 4   |" in table
    assert "Source: [`notebooks/90_toy.ipynb`](executed/90_toy-preview.html), profile `t`." in table
    variables = yaml.safe_load((toy / "_variables.yml").read_text(encoding="utf-8"))
    assert variables["toy"] == {"n": "4"}
    assert variables["provenance"]["90_toy"] == "[`notebooks/90_toy.ipynb`](executed/90_toy-preview.html), profile `t`"
    assert (toy / "executed/90_toy.ipynb").is_file()
    # Timed steps and the flow.
    timings = json.loads((toy / "build/t/timings.json").read_text(encoding="utf-8"))
    assert set(timings["stages"]["90_toy"]["steps_s"]) == {"toy work"}
    flow = json.loads((toy / "build/t/90_toy/flow.json").read_text(encoding="utf-8"))
    assert flow["events"] == [{"stage": "90_toy", "kind": "excluded", "reason": "toy exclusion",
                               "patients": ["P3"], "modality": None}]
    # The preview shows the number, the table, the figure and the text, and links the
    # caption to the executed notebook rendered beside it.
    html = report.paper.read_text(encoding="utf-8")
    assert "The toy stage counted 4 values" in html
    assert 'id="tbl-toy"' in html and 'id="fig-toy"' in html
    assert re.search(r'<a href="executed/90_toy-preview.html"><code>notebooks/90_toy.ipynb</code></a>', html)
    page = report.paper.parent / "executed" / "90_toy-preview.html"
    assert page.is_file() and "toy work" in page.read_text(encoding="utf-8")


def test_a_misspelt_key_of_the_new_section_fails_before_any_work(toy):
    path = toy / "params" / "t.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["toy"] = {"valeu": 4}
    path.write_text(yaml.safe_dump(data))
    from radsurv.exceptions import ProfileError

    with pytest.raises(ProfileError, match=r"toy\.valeu: unknown key; did you mean 'toy\.value'\?"):
        runner.run_pipeline("t", root=toy, renderer="preview")
    assert not (toy / "build").exists()


def test_quarto_prerender_runs_what_is_stale_and_publishes(toy, monkeypatch, capsys):
    """`quarto render` runs `radsurv prerender` first (_quarto.yml): on a fresh clone it
    builds and publishes the profile of $RADSURV_PROFILE; a second call runs nothing; and
    inside `radsurv run`'s own Quarto render it does nothing at all."""
    from radsurv.pipeline.prerender import prerender

    monkeypatch.chdir(toy)
    monkeypatch.setenv("RADSURV_PROFILE", "t")
    monkeypatch.delenv("RADSURV_PRERENDER", raising=False)
    assert prerender(root=toy) == 0
    out = capsys.readouterr().out
    assert "stages run: 90_toy" in out and "published profile t" in out
    assert yaml.safe_load((toy / "_variables.yml").read_text(encoding="utf-8"))["toy"] == {"n": "4"}
    assert (toy / "tables/90_toy/toy_table.md").is_file() and not (toy / "build/t/paper").exists()

    (toy / "tables/90_toy/toy_table.md").unlink()     # published files are restored from the build
    assert prerender(root=toy) == 0
    assert "everything up to date" in capsys.readouterr().out
    assert (toy / "tables/90_toy/toy_table.md").is_file()

    (toy / "_variables.yml").unlink()
    monkeypatch.setenv("RADSURV_PRERENDER", "skip")
    assert prerender(root=toy) == 0
    assert "nothing to do" in capsys.readouterr().out and not (toy / "_variables.yml").exists()


def test_quarto_prerender_stops_quarto_on_a_broken_manuscript_or_profile(toy, monkeypatch, capsys):
    from radsurv.pipeline.prerender import prerender

    monkeypatch.chdir(toy)
    monkeypatch.delenv("RADSURV_PRERENDER", raising=False)
    (toy / "index.qmd").write_text(INDEX + "\nAnd {{< var toy.missing >}}.\n", encoding="utf-8")
    assert prerender("t", root=toy) == 1
    assert "unresolved variable 'toy.missing'" in capsys.readouterr().err
    assert prerender("no_such_profile", root=toy) == 2
    from radsurv.cli import main

    assert main(["prerender", "--profile", "no_such_profile"]) == 2   # the command _quarto.yml runs


def test_radsurv_render_of_an_existing_build(toy, monkeypatch, capsys):
    """`radsurv render` publishes a finished build and renders it (exit 0), and stops with
    exit 1 and the unresolved item when the manuscript does not resolve."""
    from radsurv.cli import main

    monkeypatch.chdir(toy)
    assert runner.run_pipeline("t", root=toy, render=False).exit_code == 0
    assert main(["render", "--profile", "t", "--renderer", "preview"]) == 0
    out = capsys.readouterr().out
    assert "renderer: preview" in out and (toy / "build/t/paper/index.html").is_file()
    html = (toy / "build/t/paper/index.html").read_text(encoding="utf-8")
    assert "The toy stage counted 4 values" in html
    (toy / "index.qmd").write_text(INDEX.replace("toy.n", "toy.m"), encoding="utf-8")
    assert main(["render", "--profile", "t", "--renderer", "preview"]) == 1
    assert "unresolved variable 'toy.m'" in capsys.readouterr().err

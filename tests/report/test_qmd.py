"""radsurv.report.qmd: includes, variables, cross-references and citations resolve, or are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from radsurv.report import check_manuscript, load_variables, resolve_includes
from radsurv.report.qmd import (
    collect_labels,
    load_manuscript,
    lookup_variable,
    number_crossrefs,
    parse_markdown,
    section_numbers,
    stringify,
)

from ._manuscript import INDEX_QMD, TABLE1_MD, make_manuscript

def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_manuscript(tmp_path / "paper")


def test_clean_manuscript_has_no_problems(project: Path) -> None:
    assert check_manuscript(project) == []


def test_includes_expand_recursively_and_remember_origins(project: Path) -> None:
    source, problems = resolve_includes(project / "index.qmd", project)
    assert problems == []
    i = next(i for i, line in enumerate(source.lines) if line.startswith("Table note"))
    assert source.origins[i] == (project / "tables" / "table1-note.md", 1)
    assert not any("include" in line for line in source.lines)


def test_missing_variable_in_included_file_names_file_and_line(project: Path) -> None:
    table = project / "tables" / "table1.md"
    table.write_text(TABLE1_MD.replace("cohort.event_rate", "cohort.no_such_key"), encoding="utf-8")
    problems = check_manuscript(project)
    line = _line_of(table, "no_such_key")
    assert problems == [f"tables/table1.md:{line}: unresolved variable 'cohort.no_such_key'"]


def test_missing_variable_in_abstract_points_at_front_matter(project: Path) -> None:
    qmd = project / "index.qmd"
    qmd.write_text(INDEX_QMD.replace("run.profile", "run.nope"), encoding="utf-8")
    line = _line_of(qmd, "run.nope")
    assert check_manuscript(project) == [f"index.qmd:{line}: unresolved variable 'run.nope'"]


def test_missing_include_is_an_error(project: Path) -> None:
    qmd = project / "index.qmd"
    qmd.write_text(INDEX_QMD.replace("tables/table1.md", "tables/table9.md"), encoding="utf-8")
    problems = check_manuscript(project)
    line = _line_of(qmd, "table9")
    # The include, and @tbl-table1 that the included table would have defined (sorted by line).
    assert len(problems) == 2
    assert problems[1].startswith(f"index.qmd:{line}: unresolved include 'tables/table9.md': file "
                                  "tables/table9.md not found")
    assert problems[0].startswith(f"index.qmd:{_line_of(qmd, '(@tbl-table1)')}: unresolved cross-reference "
                                  "'@tbl-table1'")


def test_nested_include_relative_to_including_file_explains_quarto_rule(project: Path) -> None:
    table = project / "tables" / "table1.md"
    table.write_text(TABLE1_MD.replace("tables/table1-note.md", "table1-note.md"), encoding="utf-8")
    (problem,) = check_manuscript(project)
    assert problem.startswith(f"tables/table1.md:{_line_of(table, 'table1-note')}: unresolved include")
    assert "'/tables/table1-note.md'" in problem


def test_include_cycle_and_inline_include(project: Path) -> None:
    (project / "tables" / "table1-note.md").write_text("{{< include tables/table1.md >}}\n", encoding="utf-8")
    qmd = project / "index.qmd"
    qmd.write_text(INDEX_QMD.replace("Nothing else.", "See {{< include tables/x.md >}} here."), encoding="utf-8")
    problems = check_manuscript(project)
    assert "tables/table1-note.md:1: include cycle: 'tables/table1.md' includes itself" in problems
    assert any(p.startswith(f"index.qmd:{_line_of(qmd, 'See {{<')}: include shortcode must stand alone")
               for p in problems)


def test_unknown_cross_reference_and_citation(project: Path) -> None:
    qmd = project / "index.qmd"
    text = INDEX_QMD.replace("the curves in @fig-km.", "the curves in @fig-nope [@nobody2020].")
    qmd.write_text(text, encoding="utf-8")
    line = _line_of(qmd, "@fig-nope")
    assert check_manuscript(project) == [
        f"index.qmd:{line}: unresolved cross-reference '@fig-nope': no element has the label #fig-nope",
        f"index.qmd:{line}: unresolved citation '@nobody2020': key not in references.bib",
    ]


def test_missing_bibliography_image_and_duplicate_label(project: Path) -> None:
    (project / "references.bib").unlink()
    (project / "figures" / "fig-flow.png").unlink()
    qmd = project / "index.qmd"
    qmd.write_text(INDEX_QMD.replace("Nothing else.", "## Again {#sec-methods}"), encoding="utf-8")
    problems = check_manuscript(project)
    assert "index.qmd: bibliography references.bib not found" in problems
    assert f"index.qmd:{_line_of(qmd, 'fig-flow.png')}: image 'figures/fig-flow.png' not found" in problems
    assert f"index.qmd:{_line_of(qmd, 'Again')}: cross-reference label 'sec-methods' defined more than once" \
        in problems


def test_unsupported_shortcode_and_missing_variables_file(project: Path) -> None:
    (project / "_variables.yml").unlink()
    qmd = project / "index.qmd"
    qmd.write_text(INDEX_QMD.replace("Nothing else.", "{{< video https://example.org/v.mp4 >}}"), encoding="utf-8")
    problems = check_manuscript(project)
    assert any("unsupported shortcode 'video'" in p for p in problems)
    assert any("unresolved variable 'cohort.n_total' (_variables.yml not found)" in p for p in problems)


def test_variables_lookup(tmp_path: Path) -> None:
    path = tmp_path / "_variables.yml"
    path.write_text("a:\n  b:\n    c: 0.70\n  flag: true\n  n: 3\n  'x.y': dotted\n", encoding="utf-8")
    variables = load_variables(path)
    assert lookup_variable(variables, "a.b.c") == "0.7"  # YAML reads 0.70 as a float, as Quarto does
    assert lookup_variable(variables, "a.flag") == "true"
    assert lookup_variable(variables, "a.n") == "3"
    assert lookup_variable(variables, "a.x\\.y") == "dotted"
    for bad in ("a.b", "a.zz", "zz"):
        with pytest.raises(KeyError):
            lookup_variable(variables, bad)


def test_substitution_keeps_escaped_shortcodes(project: Path) -> None:
    m = load_manuscript(project)
    assert any("{{< var cohort.n_total >}} is how it is written" in line for line in m.body.lines)
    assert m.metadata["abstract"].strip() == "We studied 480 patients (profile quick)."


def test_section_numbers_follow_quarto() -> None:
    only_h2 = parse_markdown("## A\n\n### A1\n\n## B {.unnumbered}\n\n## C\n")
    assert section_numbers(only_h2["blocks"]) == ["1", "1.1", None, "2"]
    with_h1 = parse_markdown("# A\n\n## A1\n\n# B\n\n### B0-1\n")
    assert section_numbers(with_h1["blocks"]) == ["1", "1.1", "2", "2.0.1"]


def test_number_crossrefs_prefixes_captions_and_links() -> None:
    doc = parse_markdown(
        "## Intro {#sec-intro}\n\n![A.](a.png){#fig-a}\n\n![B.](b.png){#fig-b}\n\n"
        "$$ x = 1 $$ {#eq-one}\n\n"
        "See @fig-b, [Fig. -@fig-a], -@fig-b, @Fig-a, @eq-one and [@sec-intro; @smith2020].\n"
    )
    labels, duplicates = collect_labels(doc)
    assert duplicates == []
    assert {k: (v.kind, v.number) for k, v in labels.items()} == {
        "sec-intro": ("sec", "1"), "fig-a": ("fig", "1"), "fig-b": ("fig", "2"), "eq-one": ("eq", "1")}
    number_crossrefs(doc, number_sections=False, labels=labels)
    figures = [el for el in doc["blocks"] if el["t"] == "Figure"]
    assert [stringify(f["c"][1][1]) for f in figures] == ["Figure 1: A.", "Figure 2: B."]
    text = stringify(doc["blocks"][-1])
    assert text == "See Figure 2, Fig. 1, 2, Figure 1, Equation 1 and Section 1, @smith2020."
    assert stringify(doc["blocks"][3]).endswith("(1)")
    cites = [el for el in _elements(doc) if el["t"] == "Cite"]
    assert [c["c"][0][0]["citationId"] for c in cites] == ["smith2020"]


def _elements(doc: dict) -> list[dict]:
    from radsurv.report.qmd import iter_elements

    return list(iter_elements(doc["blocks"]))


def test_crossref_options_and_unnumbered_section() -> None:
    from radsurv.report.qmd import CrossrefStyle

    doc = parse_markdown("## Extra {#sec-extra .unnumbered}\n\n![A.](a.png){#fig-a}\n\nSee @fig-a and @sec-extra.\n")
    style = CrossrefStyle.from_options({"fig-prefix": "fig.", "fig-title": "Fig", "title-delim": "."})
    number_crossrefs(doc, style=style)
    figure = next(el for el in doc["blocks"] if el["t"] == "Figure")
    assert stringify(figure["c"][1][1]) == "Fig 1. A."
    assert stringify(doc["blocks"][-1]) == "See fig. 1 and Extra."
    assert stringify(doc["blocks"][0]) == "Extra"  # unnumbered: no number added


def test_cross_reference_in_the_front_matter_is_reported(project: Path) -> None:
    # Quarto resolves cross-references only in the body: the abstract would show "?@fig-km".
    qmd = project / "index.qmd"
    qmd.write_text(INDEX_QMD.replace("patients (profile", "patients (@fig-km; profile"), encoding="utf-8")
    line = _line_of(qmd, "(@fig-km; profile")
    assert check_manuscript(project) == [
        f"index.qmd:{line}: cross-reference '@fig-km' in the front matter: Quarto resolves cross-references "
        "only in the body (name the table or figure instead)"]
    # an e-mail address or a citation there is not a cross-reference
    qmd.write_text(INDEX_QMD.replace("patients (profile", "patients (a@b-c.org, [@lambin2017]; profile"),
                   encoding="utf-8")
    assert check_manuscript(project) == []

"""radsurv.report.documents: the tiny manuscript as DOCX and PDF, opened as a reader would
(python-docx, PyMuPDF), the same bytes twice, and the submission bundle."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from radsurv.report import ManuscriptError, render_manuscript
from radsurv.report.documents import (
    FORMATS,
    PDF_FONTS,
    BundleFile,
    document_ast,
    document_epoch,
    manuscript_files,
    parse_formats,
    reference_docx,
    render_docx,
    render_pdf,
    typst_source,
    write_bundle,
)
from radsurv.report.qmd import load_manuscript

from .._documents import docx_facts, docx_problems, pdf_facts, pdf_problems
from ._manuscript import INDEX_QMD, QUARTO_YML, make_manuscript

ROOT = Path(__file__).resolve().parents[2]
CSL = "american-medical-association-brackets.csl"
#: The fixture's callout shows an escaped shortcode on purpose.
LITERAL = ["{{< var cohort.n_total >}}"]

#: A table long enough to break across pages (its header row repeats).
LONG_TABLE = "\n".join(["| Row | Value |", "| --- | --- |", *[f"| row {i} | {i * 7} |" for i in range(1, 121)], "",
                        ": A long table of {{< var cohort.n_total >}} values. {#tbl-long}", ""])

INDEX = (INDEX_QMD
         .replace("keywords: [radiomics, survival]\n",
                  "keywords: [radiomics, survival]\ndata-source: \"simulated digital twin\"\n")
         .replace("Nothing else.\n", "The long table is @tbl-long.\n\n{{< include tables/long.md >}}\n"))


def _project(root: Path, index: str = INDEX) -> Path:
    make_manuscript(root, index_qmd=index, tables__long_md=LONG_TABLE,
                    **{"_quarto.yml": QUARTO_YML + f"csl: {CSL}\n"})
    shutil.copy(ROOT / CSL, root / CSL)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _project(tmp_path_factory.mktemp("documents"))


@pytest.fixture(scope="module")
def rendered(project: Path) -> dict[str, Path]:
    m = load_manuscript(project)
    out = project / "out"
    return {"docx": render_docx(m, out / "index.docx"), "pdf": render_pdf(m, out / "index.pdf")}


def test_docx_has_every_figure_table_and_reference(rendered: dict[str, Path]) -> None:
    facts = docx_facts(rendered["docx"])
    assert docx_problems(facts, n_figures=2, n_tables=2, allowed=LITERAL) == []
    assert facts.figure_captions[0].startswith("Figure 1: Kaplan-Meier curve of 480 patients.")
    assert facts.table_captions == ["Table 1: Baseline characteristics of the 480 patients.",
                                    "Table 2: A long table of 480 values."]
    assert facts.tables_after_caption == [3, 121]
    assert {"fig-km", "fig-flow", "tbl-table1", "tbl-long", "sec-methods"} <= facts.anchors
    text = facts.text
    assert "the curves in Figure 1." in text and "panel 1 the curves Figure 1, Figure 2" in text
    assert "(Table 1)" in text and "Section 2" in text


def test_docx_title_page_numbered_citations_pages(rendered: dict[str, Path]) -> None:
    facts = docx_facts(rendered["docx"])
    styles = dict(facts.styles[:10])
    assert styles["Title"] == "Radiomics for disease-free survival" and styles["Subtitle"] == "A digital-twin study"
    assert ("Data Source", "Data: simulated digital twin") in facts.styles
    # the body, and the supplement, start on a page of their own
    assert facts.page_breaks_before[:1] == ["1 Introduction"] and "4 Supplementary material" in facts.page_breaks_before
    # AMA: numbered in order of citation, in brackets (a narrative citation too)
    assert "Radiomics [1] needs external validation as argued by [2]." in facts.text
    refs = [t for s, t in facts.styles if s == "Bibliography"]
    assert re.match(r"1\.\s+Lambin P, Leijenaar RTH\. Radiomics", refs[0]) and re.match(r"2\.\s+Harrell FE", refs[1])
    assert re.search(r"PAGE .* of .*NUMPAGES", facts.footer) and abs(facts.page_width_cm - 21.0) < 0.05


def test_pdf_pages_figures_tables_and_fonts(project: Path, rendered: dict[str, Path]) -> None:
    import typst

    # the template and the document compile without a warning (no missing font or glyph)
    _, warnings = typst.compile_with_warnings(typst_source(load_manuscript(project)).encode(), root=str(project),
                                              font_paths=[], ignore_system_fonts=True)
    assert [w.message for w in warnings] == []
    facts = pdf_facts(rendered["pdf"])
    assert pdf_problems(facts, n_figures=2, n_tables=2, allowed=LITERAL) == []
    title = facts.texts[0]
    assert "Radiomics for disease-free survival" in title and "Data: simulated digital twin" in title
    assert "Keywords: radiomics; survival" in title and "1 / " in title
    assert facts.texts[1].lstrip().startswith("Abstract") and "We studied 480 patients" in facts.texts[1]
    assert all(f"{i + 1} / {facts.n_pages}" in t for i, t in enumerate(facts.texts))
    # the supplement opens a page; the long table runs over several, its header repeated
    supplement = next(i for i, t in enumerate(facts.texts) if "4 Supplementary material" in t)
    assert facts.texts[supplement].lstrip().startswith("4 Supplementary material")
    long_pages = [i for i, t in enumerate(facts.texts) if re.search(r"\brow \d+\b", t)]
    assert len(long_pages) >= 2 and all(re.search(r"(?m)^Row$", facts.texts[i]) for i in long_pages)
    assert "row 120" in facts.text
    assert "Radiomics [1] needs external validation as argued by [2]." in facts.text.replace("\n", " ")
    assert facts.internal_links >= 8
    # only typst's embedded fonts, all embedded; the metadata from the front matter
    assert {re.sub(r"^[A-Z]{6}\+", "", name).split("-")[0] for name, _ in facts.fonts} <= {
        f.replace(" ", "") for f in PDF_FONTS}
    assert facts.metadata["title"] == "Radiomics for disease-free survival"
    assert facts.metadata["author"] == "Ada Lovelace, Alan Turing"
    assert facts.metadata["creationDate"].startswith("D:20240611")


def test_same_sources_same_bytes(project: Path, rendered: dict[str, Path], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    m = load_manuscript(project)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert render_docx(m, tmp_path / "a.docx").read_bytes() == rendered["docx"].read_bytes()
    assert render_pdf(m, tmp_path / "a.pdf").read_bytes() == rendered["pdf"].read_bytes()
    assert document_epoch(m) == 1718064000   # 2024-06-11, the front matter's date
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert document_epoch(m) == 1700000000
    with zipfile.ZipFile(render_docx(m, tmp_path / "b.docx")) as zf:
        assert {i.date_time[:3] for i in zf.infolist()} == {(2023, 11, 14)}


def test_missing_image_is_caught_in_docx_and_pdf(project: Path, rendered: dict[str, Path], tmp_path: Path) -> None:
    """Mutations: the checks of a reader fail on a figure without its image."""
    import docx
    import typst

    d = docx.Document(str(rendered["docx"]))
    blip = d.element.body.xpath(".//a:blip")[0]
    drawing = next(a for a in blip.iterancestors() if a.tag.endswith("}drawing"))
    drawing.getparent().remove(drawing)
    d.save(str(tmp_path / "cut.docx"))
    problems = docx_problems(docx_facts(tmp_path / "cut.docx"), n_figures=2, n_tables=2, allowed=LITERAL)
    assert any("no embedded image above 'Figure 1" in p for p in problems), problems

    source = typst_source(load_manuscript(project))
    cut = re.sub(r'image\("/figures/fig-km.png"[^)]*\)', "[]", source)
    assert cut != source
    (tmp_path / "cut.pdf").write_bytes(typst.compile(cut.encode(), root=str(project), ignore_system_fonts=True))
    problems = pdf_problems(pdf_facts(tmp_path / "cut.pdf"), n_figures=2, n_tables=2, allowed=LITERAL)
    assert any(re.search(r"captions of Figure 1, 2 but shows 1 images", p) for p in problems), problems


def test_unresolved_reference_is_refused_and_would_be_caught(tmp_path: Path) -> None:
    """A broken cross-reference stops the render; forced through, the checks see it."""
    project = _project(tmp_path, INDEX.replace("the curves in @fig-km", "the curves in @fig-nope"))
    m = load_manuscript(project)
    with pytest.raises(ManuscriptError, match="fig-nope"):
        render_pdf(m, tmp_path / "x.pdf")
    with pytest.raises(ManuscriptError, match="fig-nope"):
        render_docx(m, tmp_path / "x.docx")
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "x.docx").exists()
    from radsurv.report.documents import _run_pandoc
    from radsurv.report.preview import source_arguments

    forced = tmp_path / "forced.docx"
    _run_pandoc(document_ast(m, "docx"), "docx", ["--citeproc", *source_arguments(m)], 0, forced)
    problems = docx_problems(docx_facts(forced), n_figures=2, n_tables=2, allowed=LITERAL)
    assert any("unresolved" in p and "fig-nope" in p for p in problems), problems


def test_render_manuscript_formats(project: Path, tmp_path: Path) -> None:
    result = render_manuscript(project, tmp_path / "out", renderer="preview", formats="pdf,docx")
    assert result.renderer == "preview" and list(result.outputs) == ["docx", "pdf"]
    assert result.output == tmp_path / "out" / "index.docx" and not (tmp_path / "out" / "index.html").exists()
    result = render_manuscript(project, tmp_path / "all", renderer="preview")
    assert list(result.outputs) == list(FORMATS) and result.output.name == "index.html"
    assert all(p.is_file() for p in result.outputs.values())
    with pytest.raises(ValueError, match="formats"):
        render_manuscript(project, tmp_path / "x", renderer="preview", formats="html,rtf")


def test_parse_formats() -> None:
    assert parse_formats(None) == parse_formats("all") == FORMATS == ("html", "docx", "pdf")
    assert parse_formats("pdf, HTML") == ("html", "pdf") and parse_formats(["docx"]) == ("docx",)
    for bad in ("", "odt", "html,,tex"):
        with pytest.raises(ValueError):
            parse_formats(bad)


def test_reference_docx_pages(tmp_path: Path) -> None:
    import docx

    d = docx.Document(str(reference_docx(tmp_path / "ref.docx")))
    section = d.sections[-1]
    assert abs(section.page_width.cm - 21.0) < 0.05 and abs(section.page_height.cm - 29.7) < 0.05
    assert "PAGE" in section.footer._element.xml and "NUMPAGES" in section.footer._element.xml
    assert {"Data Source", "Callout"} <= {s.name for s in d.styles}
    assert reference_docx(tmp_path / "again.docx").read_bytes() == (tmp_path / "ref.docx").read_bytes()


def test_bundle_is_deterministic_and_listed(project: Path, rendered: dict[str, Path], tmp_path: Path) -> None:
    m = load_manuscript(project)
    files = [BundleFile(path, path.name, f"article ({fmt})") for fmt, path in rendered.items()]
    files += manuscript_files(m)
    assert [(f.arcname, f.role) for f in manuscript_files(m)] == [
        ("figures/fig-flow.png", "figure"), ("figures/fig-km.png", "figure"), ("tables/long.md", "table"),
        ("tables/table1-note.md", "table"), ("tables/table1.md", "table")]
    one = write_bundle(tmp_path / "one.zip", files, title="T", epoch=document_epoch(m), info={"profile": "x"})
    two = write_bundle(tmp_path / "two.zip", list(reversed(files)), title="T", epoch=document_epoch(m),
                       info={"profile": "x"})
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as zf:
        names = zf.namelist()
        assert names == sorted(names) and "manifest.json" in names
        assert {i.date_time for i in zf.infolist()} == {(2024, 6, 11, 0, 0, 0)}
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["profile"] == "x" and len(manifest["files"]) == len(names) - 1
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
    with pytest.raises(ValueError, match="same path"):
        write_bundle(tmp_path / "dup.zip", files + files[:1])

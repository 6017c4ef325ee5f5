"""Open the manuscript's DOCX and PDF as a reader would, for the report and end-to-end tests.

The DOCX through python-docx (every figure an embedded image under its caption, every
table a Word table with rows, every cross-reference a link to a bookmark that exists);
the PDF through PyMuPDF (its pages drawn to pixels: none blank, an image on the page of
every figure's caption; its text; its links; its fonts). Each ``*_problems`` function
returns what a reader would complain about, so a test asserts that the list is empty and
a mutation test that it names the fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

__all__ = ["DocxFacts", "PdfFacts", "UNRESOLVED", "docx_facts", "docx_problems", "pdf_facts", "pdf_problems",
           "unresolved"]

#: What an unresolved item leaves in the text: a cross-reference or citation key
#: ("@fig-x", Quarto's "?@fig-x", citeproc's "fig-x?"), a shortcode, "??".
UNRESOLVED = re.compile(r"\?\?|\?@|@(?:fig|tbl|sec|eq)-|\b(?:fig|tbl|sec|eq)-[\w-]+\?|\{\{<|\{\{&lt;")

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def unresolved(text: str, allowed: Sequence[str] = ()) -> list[str]:
    """The unresolved items of a text (each with a little context), ``allowed`` strings removed first."""
    for a in allowed:
        text = text.replace(a, "")
    return [text[max(0, m.start() - 30):m.end() + 30] for m in UNRESOLVED.finditer(text)]


# --------------------------------------------------------------------------- DOCX


@dataclass
class DocxFacts:
    """What a reader of the DOCX sees."""

    text: str
    styles: list[tuple[str, str]]          # (style, text) of every body paragraph, in order
    figure_captions: list[str]             # "Figure N: ..." captions, in order
    figures_with_image: list[str]          # of those, the ones under an embedded image
    table_captions: list[str]              # "Table N: ..." captions, in order
    tables_after_caption: list[int]        # rows of the table after each table caption (0: none)
    n_tables: int
    n_images: int
    anchors: set[str]                      # internal links' targets
    bookmarks: set[str]
    footer: str                            # the footer's text and fields
    page_width_cm: float
    page_breaks_before: list[str] = field(default_factory=list)  # headings that start a page


def docx_facts(path: Path) -> DocxFacts:
    """Read a DOCX with python-docx."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = docx.Document(str(path))
    body = d.element.body
    items = []
    for child in body.iterchildren():
        if child.tag == f"{{{_W}}}p":
            items.append(Paragraph(child, d))
        elif child.tag == f"{{{_W}}}tbl":
            items.append(Table(child, d))
        elif child.tag == f"{{{_W}}}sdt" or child.tag == f"{{{_W}}}customXml":
            items += [Paragraph(p, d) for p in child.iter(f"{{{_W}}}p")]
    styles, fig_caps, figs_ok, tbl_caps, tbl_rows, breaks = [], [], [], [], [], []
    texts = []
    n_images = 0
    previous = None
    page_break_pending = False
    for i, item in enumerate(items):
        if isinstance(item, Table):
            cells = [c.text for row in item.rows for c in row.cells]
            texts.append(" | ".join(cells))
            previous = item
            continue
        text = item.text
        style = item.style.name if item.style is not None else ""
        styles.append((style, text))
        texts.append(text)
        blips = item._p.xpath(".//a:blip/@r:embed")
        embedded = [rid for rid in blips if rid in d.part.related_parts and len(d.part.related_parts[rid].blob) > 0]
        n_images += len(embedded)
        if style.startswith("Heading") and page_break_pending:
            breaks.append(text)
        page_break_pending = bool(item._p.xpath('.//w:br[@w:type="page"]')) or (
            page_break_pending and not text.strip())
        if re.match(r"^Figure \d+[:.]", text):
            fig_caps.append(text)
            prev_embeds = previous._p.xpath(".//a:blip/@r:embed") if isinstance(previous, Paragraph) else []
            if any(rid in d.part.related_parts and len(d.part.related_parts[rid].blob) > 0 for rid in prev_embeds):
                figs_ok.append(text)
        if re.match(r"^Table \d+[:.]", text):
            tbl_caps.append(text)
            nxt = items[i + 1] if i + 1 < len(items) else None
            tbl_rows.append(len(nxt.rows) if isinstance(nxt, Table) else 0)
        previous = item
    anchors = set(body.xpath(".//w:hyperlink/@w:anchor"))
    bookmarks = set(body.xpath(".//w:bookmarkStart/@w:name"))
    section = d.sections[-1]
    footer_xml = section.footer._element.xml if section.footer is not None else ""
    footer = " ".join(a or b for a, b in re.findall(r'w:instr="([^"]*)"|<w:t[^>]*>([^<]*)</w:t>', footer_xml))
    return DocxFacts("\n".join(texts), styles, fig_caps, figs_ok, tbl_caps, tbl_rows, len(d.tables), n_images,
                     anchors, bookmarks, footer, section.page_width.cm if section.page_width else 0.0, breaks)


def docx_problems(facts: DocxFacts, n_figures: int, n_tables: int, allowed: Sequence[str] = ()) -> list[str]:
    """What is wrong with a DOCX that should show ``n_figures`` figures and ``n_tables`` tables."""
    problems = []
    numbers = [int(re.match(r"Figure (\d+)", c).group(1)) for c in facts.figure_captions]
    if numbers != list(range(1, n_figures + 1)):
        problems.append(f"figure captions numbered {numbers}, expected 1..{n_figures}")
    for caption in facts.figure_captions:
        if caption not in facts.figures_with_image:
            problems.append(f"no embedded image above '{caption[:40]}'")
    if facts.n_images < n_figures:
        problems.append(f"{facts.n_images} embedded images for {n_figures} figures")
    numbers = [int(re.match(r"Table (\d+)", c).group(1)) for c in facts.table_captions]
    if numbers != list(range(1, n_tables + 1)):
        problems.append(f"table captions numbered {numbers}, expected 1..{n_tables}")
    for caption, rows in zip(facts.table_captions, facts.tables_after_caption):
        if rows < 2:
            problems.append(f"'{caption[:40]}' is not followed by a table with a header and rows ({rows} rows)")
    if facts.n_tables < n_tables:
        problems.append(f"{facts.n_tables} tables for {n_tables} table captions")
    missing = sorted(facts.anchors - facts.bookmarks)
    if missing:
        problems.append(f"links to bookmarks that do not exist: {missing[:5]}")
    problems += [f"unresolved: ...{u}..." for u in unresolved(facts.text, allowed)]
    if "PAGE" not in facts.footer:
        problems.append(f"no page number in the footer ({facts.footer!r})")
    return problems


# --------------------------------------------------------------------------- PDF


@dataclass
class PdfFacts:
    """What a reader of the PDF sees."""

    n_pages: int
    texts: list[str]                       # per page
    images: list[int]                      # images drawn on each page
    ink: list[float]                       # share of non-white pixels of each page above its footer (40 dpi)
    internal_links: int
    broken_links: int                      # internal links without a target page
    fonts: set[tuple[str, bool]]           # (base font, embedded)
    metadata: dict
    figure_pages: dict[int, int] = field(default_factory=dict)   # figure number -> page (0-based)
    table_pages: dict[int, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def pdf_facts(path: Path, dpi: int = 40) -> PdfFacts:
    """Read a PDF with PyMuPDF, drawing every page at ``dpi`` (grey) to measure its ink
    above the bottom 2 cm (where the page number is: a page with only its number is blank)."""
    import numpy as np
    import pymupdf

    doc = pymupdf.open(str(path))
    texts, images, ink, fonts = [], [], [], set()
    internal = broken = 0
    fig_pages: dict[int, int] = {}
    tbl_pages: dict[int, int] = {}
    for page in doc:
        text = page.get_text()
        texts.append(text)
        images.append(len(page.get_image_info()))
        body = pymupdf.Rect(page.rect.x0, page.rect.y0, page.rect.x1, page.rect.y1 - 2 / 2.54 * 72)
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, clip=body)
        grey = np.frombuffer(pix.samples, dtype=np.uint8)
        ink.append(float((grey < 200).mean()))
        for link in page.get_links():
            if link["kind"] in (pymupdf.LINK_GOTO, pymupdf.LINK_NAMED):
                internal += 1
                if link.get("page", -1) < 0 and not link.get("nameddest") and not link.get("name"):
                    broken += 1
        for font in page.get_fonts(full=True):
            fonts.add((font[3], font[1] != "n/a"))
        for m in re.finditer(r"(?m)^Figure (\d+):", text):
            fig_pages.setdefault(int(m.group(1)), page.number)
        for m in re.finditer(r"(?m)^Table (\d+):", text):
            tbl_pages.setdefault(int(m.group(1)), page.number)
    return PdfFacts(doc.page_count, texts, images, ink, internal, broken, fonts, dict(doc.metadata),
                    fig_pages, tbl_pages)


def pdf_problems(facts: PdfFacts, n_figures: int, n_tables: int, allowed: Sequence[str] = ()) -> list[str]:
    """What is wrong with a PDF that should show ``n_figures`` figures and ``n_tables`` tables."""
    problems = []
    for i, share in enumerate(facts.ink):
        if share < 0.0005:
            problems.append(f"page {i + 1} is blank ({share:.4f} of it inked)")
    if sorted(facts.figure_pages) != list(range(1, n_figures + 1)):
        problems.append(f"figure captions found {sorted(facts.figure_pages)}, expected 1..{n_figures}")
    for page in sorted(set(facts.figure_pages.values())):
        numbers = [n for n, p in sorted(facts.figure_pages.items()) if p == page]
        if facts.images[page] < len(numbers):
            problems.append(f"page {page + 1} holds the captions of Figure {', '.join(map(str, numbers))} but shows "
                            f"{facts.images[page]} images")
    if sorted(facts.table_pages) != list(range(1, n_tables + 1)):
        problems.append(f"table captions found {sorted(facts.table_pages)}, expected 1..{n_tables}")
    if facts.broken_links:
        problems.append(f"{facts.broken_links} internal links lead nowhere")
    not_embedded = sorted(name for name, embedded in facts.fonts if not embedded)
    if not_embedded:
        problems.append(f"fonts not embedded: {not_embedded}")
    problems += [f"unresolved: ...{u}..." for u in unresolved(facts.text, allowed)]
    return problems

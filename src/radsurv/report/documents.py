"""The manuscript as DOCX and PDF beside the HTML preview, and the submission bundle.

Without Quarto, :mod:`radsurv.report.preview` renders ``index.qmd`` to HTML through
pandoc. This module renders the same document (the same includes, variables, numbered
figures, tables and sections, cross-references and citations) to the formats journals
and reviewers take:

* **DOCX** through pandoc's docx writer, with a reference document made from pandoc's own
  (A4 pages, "Page N of M" in the footer): figures are embedded images with their
  "Figure N:" captions, tables are Word tables, cross-references are links to bookmarks.
* **PDF** through pandoc's Typst writer (the template ``templates/paper.typst``: a title
  page, page numbers, long tables that break across pages and repeat their header),
  compiled by the ``typst`` wheel with the fonts embedded in Typst only (Libertinus Serif,
  New Computer Modern Math, DejaVu Sans Mono): system fonts are ignored, so the PDF is the
  same on every machine. No LaTeX, nothing downloaded.
* **The submission bundle** (:func:`write_bundle`): one zip of the article in every
  format, its figures, tables and supplementary notebooks, and a manifest naming each
  file's role and SHA-256.

The supplement (a level-1 section whose label starts with ``sec-supp`` or ``sec-appendix``,
or with the class ``.appendix``) starts on a new page; ``{{< pagebreak >}}`` breaks the
page in both formats.

Reproducible: the DOCX's and the PDF's timestamps are the document's date
(``SOURCE_DATE_EPOCH`` when set, as for the preview; ``date: last-modified`` is the
``.qmd``'s modification date), so the same inputs give the same bytes, and the bundle's
zip has fixed entry times and sorted entries.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import unquote

import pypandoc

from ..exceptions import ManuscriptError, RenderError
from .preview import (
    _author_name,
    _resolve_date,
    build_document,
    copy_manuscript,
    pandoc_metadata,
    source_arguments,
)
from .qmd import Manuscript, iter_elements, manuscript_problems, parse_metadata, stringify

__all__ = ["BUNDLE_NAME", "BundleFile", "document_ast", "document_epoch", "FORMATS", "MANIFEST_NAME",
           "manuscript_files", "parse_formats", "PDF_FONTS", "reference_docx", "render_docx", "render_pdf",
           "typst_source", "write_bundle"]

#: The formats of the manuscript without Quarto, in the order they are rendered.
FORMATS = ("html", "docx", "pdf")

#: The fonts the PDF uses, all embedded in the typst wheel (``typst.Fonts``).
PDF_FONTS = ("Libertinus Serif", "New Computer Modern Math", "DejaVu Sans Mono")

BUNDLE_NAME = "submission.zip"
#: Files stored as they are in the bundle (already compressed).
_COMPRESSED = frozenset({".png", ".jpg", ".jpeg", ".gif", ".pdf", ".docx", ".zip", ".gz"})
MANIFEST_NAME = "manifest.json"

#: Zip entries cannot be dated before 1980; a document without a usable date gets this.
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z

#: A page break in each raw format pandoc writes (the DOCX's OpenXML, Typst).
_PAGE_BREAK = {
    "openxml": '<w:p><w:r><w:br w:type="page"/></w:r></w:p>',
    "typst": "#pagebreak(weak: true)",
}


def _template(name: str) -> Path:
    return Path(str(resources.files("radsurv.report") / "templates" / name))


def parse_formats(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The formats asked for ("html,docx,pdf", or a sequence), in :data:`FORMATS` order.

    Parameters
    ----------
    value : str, sequence of str or None
        Comma-separated or a sequence; None or "all" for every format.

    Returns
    -------
    tuple of str

    Raises
    ------
    ValueError
        For an unknown or empty selection.
    """
    if value is None:
        return FORMATS
    items = value.split(",") if isinstance(value, str) else list(value)
    names = {str(v).strip().lower() for v in items if str(v).strip()}
    if names == {"all"}:
        return FORMATS
    unknown = sorted(names - set(FORMATS))
    if unknown or not names:
        raise ValueError(f"formats must be among {', '.join(FORMATS)} (comma-separated), not {value!r}")
    return tuple(f for f in FORMATS if f in names)


# --------------------------------------------------------------------------- dates


def _document_date(m: Manuscript) -> _dt.date | None:
    """The document's date as the title shows it (``today``/``last-modified`` resolved)."""
    value = m.metadata.get("date")
    if value is None:
        return None
    text = _resolve_date(value, m.qmd_path)
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text.strip())
    if not match:
        return None
    try:
        return _dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def document_epoch(m: Manuscript) -> int:
    """The timestamp written into the DOCX, the PDF and the bundle (UNIX seconds).

    ``SOURCE_DATE_EPOCH`` when set; otherwise midnight (UTC) of the document's date; 1980-01-01
    for a document without an ISO date. Never the time of the render, so two renders of
    the same sources give the same bytes.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return max(int(epoch), _ZIP_EPOCH)
    date = _document_date(m)
    if date is None:
        return _ZIP_EPOCH
    stamp = int(_dt.datetime(date.year, date.month, date.day, tzinfo=_dt.timezone.utc).timestamp())
    return max(stamp, _ZIP_EPOCH)


# --------------------------------------------------------------------------- the AST per format


def _raw(fmt: str, text: str) -> dict[str, Any]:
    return {"t": "RawBlock", "c": [fmt, text]}


def _is_supplement(header: dict[str, Any], top: int) -> bool:
    """A heading that opens the supplement: ``.appendix``, or a top-level heading labelled
    ``sec-supp...``/``sec-appendix...``."""
    level, (ident, classes, _), _ = header["c"]
    return "appendix" in classes or (level == top and ident.startswith(("sec-supp", "sec-appendix")))


def _is_page_break(block: dict[str, Any]) -> bool:
    """The preview's ``{{< pagebreak >}}`` (an HTML div with ``page-break-after``)."""
    if block["t"] == "RawBlock" and block["c"][0] == "html":
        return "page-break-after" in block["c"][1] and "<div" in block["c"][1]
    if block["t"] == "Div":
        return any(k == "style" and "page-break-after" in v for k, v in block["c"][0][2]) and not block["c"][1]
    return False


def _callout_parts(div: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """(title, body blocks) of a callout resolved by :func:`radsurv.report.qmd.resolve_callouts`."""
    content = div["c"][1]
    if "callout" not in div["c"][0][1] or len(content) != 2:
        return None
    title, body = content
    if "callout-title" not in title["c"][0][1] or "callout-body" not in body["c"][0][1]:
        return None
    return stringify(title["c"][1]), body["c"][1]


def _typst_string(text: str) -> str:
    """A Typst string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _transform_blocks(blocks: list[dict[str, Any]], raw_fmt: str, top: int) -> list[dict[str, Any]]:
    """Page breaks before the supplement and for ``{{< pagebreak >}}``; callouts as boxes
    (Typst: the template's ``callout``; DOCX: the reference document's "Callout" style).
    ``raw_fmt``: "openxml" or "typst"; ``top``: the document's top heading level."""
    out: list[dict[str, Any]] = []
    for block in blocks:
        t = block["t"]
        if t == "Header" and _is_supplement(block, top):
            out += [_raw(raw_fmt, _PAGE_BREAK[raw_fmt]), block]
        elif _is_page_break(block):
            out.append(_raw(raw_fmt, _PAGE_BREAK[raw_fmt]))
        elif t == "Div":
            parts = _callout_parts(block)
            if parts is not None and raw_fmt == "typst":
                title, body = parts
                out += [_raw("typst", f"#callout(title: {_typst_string(title)})["),
                        *_transform_blocks(body, raw_fmt, top), _raw("typst", "]")]
                continue
            if parts is not None:
                block["c"][0][2] = [a for a in block["c"][0][2] if a[0] != "custom-style"] + [["custom-style",
                                                                                                 "Callout"]]
            block["c"][1] = _transform_blocks(block["c"][1], raw_fmt, top)
            out.append(block)
        else:
            out.append(block)
    return out


#: The text width of the PDF's and DOCX's pages in characters of a table's type (8.5 pt
#: on 16.4 cm; Word's 10 pt on 16 cm is close), for :func:`_content_sized_columns`.
_TABLE_WIDTH_CHARS = 105


def _rows(table: dict[str, Any]) -> list[list[str]]:
    """The text of every cell of a pandoc Table, row by row (head, bodies, foot)."""
    _, _, _, head, bodies, foot = table["c"]
    rows = list(head[1])
    for body in bodies:
        rows += body[2] + body[3]
    rows += foot[1]
    return [[stringify(cell[4]) for cell in row[1]] for row in rows]


def _content_sized_columns(doc: dict[str, Any]) -> None:
    """Column widths from the cells' text, as a browser lays out a table.

    A pipe table wider than 72 characters gets relative widths from the dashes of its
    separator line (pandoc), which the HTML preview's browser treats as hints but Word and
    Typst as fixed. Instead: a table whose longest cells fit the page keeps automatic
    widths (compact); a wider one takes the page's width, each column at least its
    longest word and the rest shared in proportion to how much more its longest cell needs.
    """
    for el in iter_elements(doc["blocks"]):
        if el["t"] != "Table":
            continue
        colspecs = el["c"][2]
        rows = [r for r in _rows(el) if len(r) == len(colspecs)]
        if not rows:
            continue
        pad = 2
        longest = [max(len(r[i]) for r in rows) + pad for i in range(len(colspecs))]
        word = [max((len(w) for r in rows for w in r[i].split()), default=0) + pad for i in range(len(colspecs))]
        if sum(longest) <= _TABLE_WIDTH_CHARS:
            widths = None
        elif sum(word) >= _TABLE_WIDTH_CHARS:
            widths = [w / sum(word) for w in word]
        else:
            spare = _TABLE_WIDTH_CHARS - sum(word)
            extra = [lo - w for lo, w in zip(longest, word)]
            widths = [(w + spare * e / sum(extra)) / _TABLE_WIDTH_CHARS for w, e in zip(word, extra)]
        el["c"][2] = [[align, {"t": "ColWidthDefault"} if widths is None else {"t": "ColWidth", "c": round(w, 4)}]
                      for (align, _), w in zip(colspecs, widths or [None] * len(colspecs))]


def _image_file(m: Manuscript, target: str) -> Path | None:
    """The local file of an image: from the main document's folder, then the project root."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
        return None
    local = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if local.startswith("/"):
        candidates = [m.project_root / local.lstrip("/")]
    else:
        candidates = [m.qmd_path.parent / local, m.project_root / local]
    return next((p for p in candidates if p.is_file()), None)


def _root_relative_images(doc: dict[str, Any], m: Manuscript) -> None:
    """Image paths as Typst reads them: ``/path`` from the project root (the compile root)."""
    root = m.project_root.resolve()
    for el in iter_elements(doc["blocks"]):
        if el["t"] != "Image":
            continue
        path = _image_file(m, el["c"][2][0])
        if path is None:
            continue
        try:
            el["c"][2][0] = "/" + path.resolve().relative_to(root).as_posix()
        except ValueError:
            raise RenderError(f"image {el['c'][2][0]} lies outside the project root {root}: Typst cannot "
                              "read it") from None


def _metadata(m: Manuscript, fmt: str) -> dict[str, Any]:
    """Pandoc's metadata for the DOCX or PDF title page (the preview's, plus ``data-source``).

    The PDF's title page lists the keywords itself; the DOCX shows them after the abstract,
    as the preview does.
    """
    source = dict(m.metadata)
    keywords = source.pop("keywords", None) if fmt == "pdf" else None
    meta = pandoc_metadata(source, m.qmd_path)
    extra: dict[str, Any] = {}
    if keywords:
        extra["keywords"] = [str(w) for w in (keywords if isinstance(keywords, list) else [keywords])]
    if m.metadata.get("data-source"):
        extra["data-source"] = str(m.metadata["data-source"])
    if extra:
        meta.update(parse_metadata(extra))
    return meta


def _docx_title_page(doc: dict[str, Any], m: Manuscript) -> None:
    """End the DOCX's title page (pandoc's title, subtitle, authors, date, abstract) with the
    data the paper is about, then a page break."""
    head: list[dict[str, Any]] = []
    if m.metadata.get("data-source"):
        data = parse_metadata({"x": str(m.metadata["data-source"])})["x"]
        inlines = data["c"] if data["t"] == "MetaInlines" else [{"t": "Str", "c": stringify(data)}]
        head.append({"t": "Div", "c": [["", [], [["custom-style", "Data Source"]]], [
            {"t": "Para", "c": [{"t": "Strong", "c": [{"t": "Str", "c": "Data:"}]}, {"t": "Space"}, *inlines]}]]})
    head.append(_raw("openxml", _PAGE_BREAK["openxml"]))
    doc["blocks"][:0] = head


def document_ast(m: Manuscript, fmt: str) -> dict[str, Any]:
    """The pandoc AST of the DOCX (``fmt="docx"``) or the PDF (``"pdf"``): the preview's
    numbered document with the format's title page, page breaks and callouts.

    ``m`` is not modified.
    """
    if fmt not in ("docx", "pdf"):
        raise ValueError(f"fmt must be 'docx' or 'pdf', not {fmt!r}")
    mm = copy_manuscript(m)
    doc = build_document(mm)
    levels = [el["c"][0] for el in iter_elements(doc["blocks"]) if el["t"] == "Header"]
    doc["blocks"] = _transform_blocks(doc["blocks"], "openxml" if fmt == "docx" else "typst", min(levels, default=1))
    _content_sized_columns(doc)
    if fmt == "docx":
        _docx_title_page(doc, mm)
    else:
        _root_relative_images(doc, mm)
    doc["meta"] = _metadata(mm, fmt)
    return doc


def _run_pandoc(doc: Mapping[str, Any], to: str, args: Sequence[str], epoch: int, output: Path | None = None) -> str:
    """Run the wheel's pandoc on a JSON AST (``SOURCE_DATE_EPOCH`` fixed, for the DOCX's dates)."""
    cmd = [pypandoc.get_pandoc_path(), "--from=json", f"--to={to}", *args]
    if output is not None:
        cmd += ["--output", str(output)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    proc = subprocess.run(cmd, input=json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8"),
                          capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise RenderError(f"pandoc --to={to} failed (exit code {proc.returncode}):\n"
                          f"{proc.stderr.decode('utf-8', 'replace')[-4000:]}")
    return proc.stdout.decode("utf-8")


def _checked(m: Manuscript) -> None:
    problems = manuscript_problems(m)
    if problems:
        raise ManuscriptError([str(p) for p in problems])


# --------------------------------------------------------------------------- DOCX

_FOOTER_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:ftr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<w:p><w:pPr><w:jc w:val="center"/></w:pPr>'
    '<w:r><w:t xml:space="preserve">Page </w:t></w:r>'
    '<w:fldSimple w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple>'
    '<w:r><w:t xml:space="preserve"> of </w:t></w:r>'
    '<w:fldSimple w:instr=" NUMPAGES "><w:r><w:t>1</w:t></w:r></w:fldSimple>'
    "</w:p></w:ftr>"
)
_FOOTER_REL = ('<Relationship Id="rIdRadsurvFooter" '
               'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" '
               'Target="footer1.xml" />')
_FOOTER_TYPE = ('<Override PartName="/word/footer1.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml" />')
#: A4, 2.5 cm margins, the footer on every page.
_SECTION = ('<w:sectPr><w:footerReference w:type="default" r:id="rIdRadsurvFooter" />'
            '<w:pgSz w:w="11906" w:h="16838" />'
            '<w:pgMar w:top="1418" w:right="1418" w:bottom="1418" w:left="1418" w:header="709" w:footer="709" '
            'w:gutter="0" /></w:sectPr>')
#: Styles the DOCX's paragraphs name (``custom-style``): the title page's data line, callouts.
_DATA_STYLE = ('<w:style w:type="paragraph" w:customStyle="1" w:styleId="DataSource">'
               '<w:name w:val="Data Source" /><w:basedOn w:val="Normal" /><w:qFormat />'
               '<w:pPr><w:jc w:val="center" /><w:spacing w:before="480" w:after="240" />'
               '<w:pBdr><w:top w:val="single" w:sz="8" w:space="4" w:color="9A3412" />'
               '<w:left w:val="single" w:sz="8" w:space="4" w:color="9A3412" />'
               '<w:bottom w:val="single" w:sz="8" w:space="4" w:color="9A3412" />'
               '<w:right w:val="single" w:sz="8" w:space="4" w:color="9A3412" /></w:pBdr></w:pPr></w:style>'
               '<w:style w:type="paragraph" w:customStyle="1" w:styleId="Callout">'
               '<w:name w:val="Callout" /><w:basedOn w:val="BodyText" /><w:qFormat />'
               '<w:pPr><w:shd w:val="clear" w:color="auto" w:fill="F2F2F2" /><w:ind w:left="170" w:right="170" />'
               '<w:pBdr><w:left w:val="single" w:sz="18" w:space="6" w:color="1F4E79" /></w:pBdr></w:pPr></w:style>')


def reference_docx(path: Path, epoch: int = _ZIP_EPOCH) -> Path:
    """Write the reference document of the DOCX: pandoc's own (its styles), with A4 pages,
    2.5 cm margins, "Page N of M" in the footer and the title page's "Data Source" style.

    Made from the running pandoc's default each time (nothing binary in the repository),
    with fixed zip entry times (pandoc keeps them for the parts it copies into the DOCX).

    Parameters
    ----------
    path : Path
        The ``.docx`` to write.
    epoch : int
        The entries' modification time (UNIX seconds; :func:`document_epoch`).

    Returns
    -------
    Path
        ``path``.
    """
    proc = subprocess.run([pypandoc.get_pandoc_path(), "--print-default-data-file", "reference.docx"],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RenderError(f"pandoc cannot print its reference.docx: {proc.stderr.decode('utf-8', 'replace')}")
    src = zipfile.ZipFile(io.BytesIO(proc.stdout))
    parts = {info.filename: src.read(info) for info in src.infolist()}
    document = parts["word/document.xml"].decode("utf-8")
    document = re.sub(r"<w:sectPr\b.*?</w:sectPr>", "", document, flags=re.S)
    if 'xmlns:r="' not in document.split(">", 2)[1]:
        document = document.replace("<w:document ", '<w:document xmlns:r="http://schemas.openxmlformats.org/'
                                                    'officeDocument/2006/relationships" ', 1)
    parts["word/document.xml"] = document.replace("</w:body>", _SECTION + "</w:body>").encode("utf-8")
    rels = parts["word/_rels/document.xml.rels"].decode("utf-8")
    parts["word/_rels/document.xml.rels"] = rels.replace("</Relationships>", _FOOTER_REL + "</Relationships>"
                                                         ).encode("utf-8")
    types = parts["[Content_Types].xml"].decode("utf-8")
    parts["[Content_Types].xml"] = types.replace("</Types>", _FOOTER_TYPE + "</Types>").encode("utf-8")
    styles = parts["word/styles.xml"].decode("utf-8")
    parts["word/styles.xml"] = styles.replace("</w:styles>", _DATA_STYLE + "</w:styles>").encode("utf-8")
    parts["word/footer1.xml"] = _FOOTER_XML.encode("utf-8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as out:
        for name in sorted(parts):
            out.writestr(_zip_info(name, epoch), parts[name], compress_type=zipfile.ZIP_DEFLATED)
    return path


def render_docx(m: Manuscript, output: Path, *, check: bool = True) -> Path:
    """Render a loaded manuscript to DOCX.

    Parameters
    ----------
    m : Manuscript
        From :func:`radsurv.report.qmd.load_manuscript` (not modified).
    output : Path
        The ``.docx`` to write (its folder is created).
    check : bool
        Check that everything resolves first (False: the caller has just checked ``m``).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    radsurv.exceptions.ManuscriptError
        When an include, variable, cross-reference, citation or image does not resolve.
    radsurv.exceptions.RenderError
        When pandoc fails.
    """
    if check:
        _checked(m)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="radsurv-docx-") as tmp:
        epoch = document_epoch(m)
        reference = reference_docx(Path(tmp) / "reference.docx", epoch)
        args = ["--quiet", "--citeproc", "--wrap=none", f"--reference-doc={reference}",
                "--metadata=link-citations:true", *source_arguments(m)]
        _run_pandoc(document_ast(m, "docx"), "docx", args, epoch, output)
    return output


# --------------------------------------------------------------------------- PDF


def typst_source(m: Manuscript) -> str:
    """The Typst document of the PDF (``templates/paper.typst`` filled by pandoc).

    Image paths are ``/path`` from the project root, which the compile takes as root.
    """
    date = _document_date(m)
    authors = [_author_name(a.get("name", "")) if isinstance(a, Mapping) else str(a)
               for a in _as_list(m.metadata.get("author"))]
    keywords = [str(k) for k in _as_list(m.metadata.get("keywords"))]
    args = ["--quiet", "--citeproc", "--wrap=none", "--standalone", f"--template={_template('paper.typst')}",
            "--metadata=link-citations:true",
            f"--variable=document-authors:{_typst_array(authors)}",
            f"--variable=document-keywords:{_typst_array(keywords)}",
            *source_arguments(m)]
    if date is not None:
        args.append(f"--variable=document-date:datetime(year: {date.year}, month: {date.month}, day: {date.day})")
    return _run_pandoc(document_ast(m, "pdf"), "typst", args, document_epoch(m))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _typst_array(items: Sequence[str]) -> str:
    return "(" + "".join(_typst_string(i) + ", " for i in items) + ")"


def render_pdf(m: Manuscript, output: Path, *, check: bool = True) -> Path:
    """Render a loaded manuscript to PDF: pandoc's Typst writer, compiled by the typst wheel.

    Only the fonts embedded in Typst (:data:`PDF_FONTS`) are used, system fonts are ignored;
    the PDF's creation date is :func:`document_epoch`.

    Parameters
    ----------
    m : Manuscript
        From :func:`radsurv.report.qmd.load_manuscript` (not modified).
    output : Path
        The ``.pdf`` to write (its folder is created).
    check : bool
        Check that everything resolves first (False: the caller has just checked ``m``).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    radsurv.exceptions.ManuscriptError
        When an include, variable, cross-reference, citation or image does not resolve.
    radsurv.exceptions.RenderError
        When pandoc or Typst fails (Typst's message, with the line of the Typst source).
    """
    import typst

    if check:
        _checked(m)
    source = typst_source(m)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        pdf = typst.compile(source.encode("utf-8"), root=str(m.project_root.resolve()), font_paths=[],
                            ignore_system_fonts=True, format="pdf", timestamp=document_epoch(m))
    except typst.TypstError as exc:
        raise RenderError(f"typst could not compile the PDF: {exc.message}\n{exc.diagnostic}".rstrip()) from exc
    except RuntimeError as exc:
        raise RenderError(f"typst could not compile the PDF: {exc}") from exc
    output.write_bytes(pdf)
    return output


# --------------------------------------------------------------------------- the bundle


@dataclass(frozen=True)
class BundleFile:
    """One file of the submission bundle: where it lies, its path in the zip, its role."""

    source: Path
    arcname: str
    role: str


def _zip_info(name: str, epoch: int) -> zipfile.ZipInfo:
    stamp = _dt.datetime.fromtimestamp(max(epoch, _ZIP_EPOCH), tz=_dt.timezone.utc)
    info = zipfile.ZipInfo(name, date_time=(stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute,
                                            stamp.second))
    info.create_system = 3  # unix, whatever the machine
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def manuscript_files(m: Manuscript) -> list[BundleFile]:
    """The figures (every image the manuscript shows) and tables (every included file under
    a ``tables/`` folder) of a manuscript, with their paths from the project root."""
    root = m.project_root.resolve()
    files: dict[str, BundleFile] = {}
    for el in iter_elements(m.doc["blocks"]):
        if el["t"] == "Image":
            path = _image_file(m, el["c"][2][0])
            if path is not None:
                rel = _relative(path, root)
                if rel:
                    files.setdefault(rel, BundleFile(path, rel, "figure"))
    for origin, _ in m.body.origins:
        rel = _relative(Path(origin), root)
        if rel and rel.split("/", 1)[0] == "tables":
            files.setdefault(rel, BundleFile(Path(origin), rel, "table"))
    return sorted(files.values(), key=lambda f: f.arcname)


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def write_bundle(output: Path, files: Sequence[BundleFile], *, title: str = "", epoch: int = _ZIP_EPOCH,
                 info: Mapping[str, Any] | None = None) -> Path:
    """Write the submission bundle: the files and ``manifest.json``, in a deterministic zip.

    Parameters
    ----------
    output : Path
        The zip to write (its folder is created).
    files : sequence of BundleFile
        What goes in, each at its ``arcname`` with its ``role`` ("article", "figure",
        "table", "supplementary notebook"...). Two files may not share an ``arcname``.
    title : str
        The manuscript's title, for the manifest.
    epoch : int
        The entries' modification time (UNIX seconds; :func:`document_epoch`).
    info : mapping, optional
        More fields for the manifest (the profile, the renderer...).

    Returns
    -------
    Path
        ``output``. The manifest lists every other file of the zip with its role, size and
        SHA-256; entries are sorted, dated ``epoch`` and written with fixed permissions, so
        the same files give the same zip bytes.
    """
    names = [f.arcname for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or MANIFEST_NAME in names:
        raise ValueError(f"two files of the bundle at the same path: {', '.join(duplicates or [MANIFEST_NAME])}")
    contents = {f.arcname: Path(f.source).read_bytes() for f in files}
    manifest = {
        "title": title,
        **dict(info or {}),
        "files": [{"path": f.arcname, "role": f.role, "bytes": len(contents[f.arcname]),
                   "sha256": hashlib.sha256(contents[f.arcname]).hexdigest()}
                  for f in sorted(files, key=lambda f: f.arcname)],
    }
    contents[MANIFEST_NAME] = (json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=False) + "\n").encode()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(contents):
            info = _zip_info(name, epoch)
            if Path(name).suffix.lower() in _COMPRESSED:
                info.compress_type = zipfile.ZIP_STORED   # deflating them again gains nothing
            zf.writestr(info, contents[name], compresslevel=6)
    tmp.replace(output)
    return output

"""Render the manuscript to one self-contained HTML file with pandoc, where Quarto is absent.

The preview is what Quarto would show, minus its theme: includes and variables resolved,
figures, tables and sections numbered, cross-references linked, citations formatted by
citeproc (pandoc's default Chicago author-date style, or the ``csl`` the document names),
callouts as boxes, a table of contents and a title block with authors and abstract.
Figures are embedded as ``data:`` URIs so the file can be mailed around.

The same inputs give the same bytes: nothing depends on the machine or the folder. The
one input outside the sources is a date keyword in the front matter (``today``, ``now``,
``last-modified``): ``SOURCE_DATE_EPOCH`` fixes it when set (the reproducible-builds
convention); otherwise it is the current date, or the file's modification date for
``last-modified`` (as in Quarto).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import pypandoc

from ..exceptions import ManuscriptError
from .qmd import (
    CrossrefStyle,
    Manuscript,
    bibliography_paths,
    collect_labels,
    iter_elements,
    load_manuscript,
    manuscript_problems,
    number_crossrefs,
    parse_metadata,
)

__all__ = ["build_document", "copy_manuscript", "format_authors", "pandoc_arguments", "pandoc_metadata",
           "PANDOC_METADATA_KEYS", "render_notebook_preview", "render_preview", "source_arguments", "TOC_DEPTH"]

#: Front-matter keys handed to pandoc; Quarto-only keys (format, execute, crossref...)
#: are dropped so pandoc's template cannot pick them up as variables.
PANDOC_METADATA_KEYS = ("title", "subtitle", "author", "date", "abstract", "keywords", "lang",
                        "reference-section-title", "link-citations", "nocite", "abstract-title")

TOC_DEPTH = 3

_DATE_KEYWORDS = ("today", "now", "last-modified")


def _css_path() -> Path:
    return Path(str(resources.files("radsurv.report") / "preview.css"))


def render_preview(project_root: Path, output_html: Path, *, qmd: str = "index.qmd",
                   variables: str = "_variables.yml", manuscript: Manuscript | None = None,
                   check: bool = True) -> Path:
    """Render ``index.qmd`` to a self-contained HTML preview.

    Parameters
    ----------
    project_root : Path
        The Quarto project root (``_quarto.yml``, ``_variables.yml``, ``references.bib``).
    output_html : Path
        The HTML file to write (its folder is created).
    qmd, variables : str
        The manuscript and the variables file, relative to the root.
    manuscript : Manuscript, optional
        The manuscript already loaded (:func:`radsurv.report.qmd.load_manuscript`) by a
        caller that renders it to several formats; it is not modified.
    check : bool
        Check that everything resolves first (False: the caller has just checked ``manuscript``).

    Returns
    -------
    Path
        ``output_html``.

    Raises
    ------
    radsurv.exceptions.ManuscriptError
        Before anything is written, when an include, variable, cross-reference, citation
        key or image does not resolve; the message lists every problem.
    RuntimeError
        When pandoc fails.
    """
    root = Path(project_root).resolve()
    output_html = Path(output_html)
    m = load_manuscript(root, qmd, variables) if manuscript is None else copy_manuscript(manuscript)
    problems = manuscript_problems(m) if check or manuscript is None else []
    if problems:
        raise ManuscriptError([str(p) for p in problems])
    doc = build_document(m)
    output_html.parent.mkdir(parents=True, exist_ok=True)
    pypandoc.convert_text(json.dumps(doc, ensure_ascii=False, sort_keys=True), "html5", format="json",
                          extra_args=pandoc_arguments(m), outputfile=str(output_html))
    return output_html


def render_notebook_preview(notebook: Path, output_html: Path, title: str | None = None) -> Path:
    """Render an executed notebook (with its outputs) to one self-contained HTML page.

    The preview's counterpart of Quarto's notebook view: markdown, code and outputs
    (text, tables, figures embedded as ``data:`` URIs), through pandoc's ``ipynb`` reader.

    Parameters
    ----------
    notebook : Path
        The executed ``.ipynb``.
    output_html : Path
        The page to write (its folder is created).
    title : str, optional
        The page title (default: the notebook's file name).

    Returns
    -------
    Path
        ``output_html``.
    """
    output_html = Path(output_html)
    output_html.parent.mkdir(parents=True, exist_ok=True)
    args = ["--quiet", "--standalone", "--embed-resources", "--wrap=none",
            f"--metadata=title:{title or Path(notebook).name}"]
    if _css_path().is_file():
        args.append(f"--css={_css_path()}")
    pypandoc.convert_file(str(notebook), "html5", format="ipynb", extra_args=args, outputfile=str(output_html))
    return output_html


def copy_manuscript(m: Manuscript) -> Manuscript:
    """A copy whose AST can be numbered (:func:`build_document` changes ``m.doc`` in place)."""
    return dataclasses.replace(m, doc=copy.deepcopy(m.doc))


def build_document(m: Manuscript) -> dict[str, Any]:
    """The pandoc AST to render: numbered, cross-referenced, with the preview's metadata.

    Numbers ``m.doc`` in place (render a :func:`copy_manuscript` to keep the original)."""
    doc = m.doc
    labels, _ = collect_labels(doc)
    style = CrossrefStyle.from_options(m.option("crossref"))
    number_crossrefs(doc, number_sections=bool(m.option("number-sections", False)), labels=labels, style=style)
    doc["meta"] = pandoc_metadata(m.metadata, m.qmd_path)
    return doc


def pandoc_arguments(m: Manuscript) -> list[str]:
    """Pandoc's command line for the preview (sorted inputs, nothing machine-dependent in the output)."""
    args = [
        # --wrap=none keeps "Figure 1" on one line (greppable); --quiet keeps pandoc silent.
        "--quiet", "--standalone", "--embed-resources", "--wrap=none", "--citeproc",
        "--toc", f"--toc-depth={_toc_depth(m)}",
        "--section-divs",
        *source_arguments(m)[:1],
        "--metadata=link-citations:true", "--metadata=toc-title:Contents",
    ]
    if _css_path().is_file():  # absent only from an install that dropped the package data
        args.append(f"--css={_css_path()}")
    return args + source_arguments(m)[1:]


def source_arguments(m: Manuscript) -> list[str]:
    """Pandoc's arguments that every output of the manuscript shares (HTML, DOCX, PDF):
    where images are found, then the bibliography, the citation style (the ``csl`` the
    document or ``_quarto.yml`` names; pandoc's Chicago author-date otherwise) and the
    references' title."""
    base = m.qmd_path.parent.resolve()
    # Images resolve from the main document's folder (Quarto), then the project root.
    args = [f"--resource-path={os.pathsep.join(dict.fromkeys([str(base), str(m.project_root.resolve())]))}"]
    if not _has_refs_div(m.doc):
        # Without a ::: {#refs} div citeproc appends the list untitled; Quarto titles it.
        args.append("--metadata=reference-section-title:References")
    for bib in bibliography_paths(m.metadata, m.project_config, base):
        args.append(f"--bibliography={bib.resolve()}")
    csl = m.option("csl")
    if csl and (base / str(csl)).is_file():
        args.append(f"--csl={(base / str(csl)).resolve()}")
    return args


def _toc_depth(m: Manuscript) -> int:
    value = m.option("toc-depth", TOC_DEPTH)
    return value if isinstance(value, int) and 1 <= value <= 6 else TOC_DEPTH


def _has_refs_div(doc: dict[str, Any]) -> bool:
    return any(el["t"] == "Div" and el["c"][0][0] == "refs" for el in iter_elements(doc["blocks"]))


# --------------------------------------------------------------------------- metadata


def pandoc_metadata(metadata: Mapping[str, Any], source: Path | None = None) -> dict[str, Any]:
    """Pandoc metadata for the title block, from Quarto front matter (already substituted).

    Parameters
    ----------
    metadata : mapping
        The front matter.
    source : Path, optional
        The ``.qmd`` file, whose modification date ``date: last-modified`` stands for.

    Returns
    -------
    dict
        Pandoc's JSON ``meta``: the keys of :data:`PANDOC_METADATA_KEYS`, Quarto's author
        schema flattened to "Name (Affiliation; ...)", the keywords shown after the
        abstract, and ``date: today`` made reproducible.
    """
    meta: dict[str, Any] = {k: metadata[k] for k in PANDOC_METADATA_KEYS if k in metadata}
    if "author" in meta:
        meta["author"] = format_authors(metadata.get("author"), metadata.get("affiliations"))
    if "date" in meta:
        meta["date"] = _resolve_date(meta["date"], source)
    keywords = metadata.get("keywords")
    if keywords:
        words = keywords if isinstance(keywords, list) else [keywords]
        meta["keywords"] = [str(w) for w in words]
        line = "**Keywords:** " + "; ".join(str(w) for w in words)
        meta["abstract"] = (str(meta["abstract"]).rstrip() + "\n\n" + line) if meta.get("abstract") else line
    meta.setdefault("lang", "en")
    return parse_metadata(meta)


def format_authors(authors: Any, affiliations: Any = None) -> list[str]:
    """Quarto's author schema as markdown lines: "Name ([Affiliation; ...]{.affiliation})".

    Parameters
    ----------
    authors : str, list of str or list of mapping
        ``author`` as Quarto accepts it (``name`` a string or ``{given, family, literal}``;
        ``affiliations`` strings, ``{name: ...}`` or ``{ref: id}``).
    affiliations : list of mapping, optional
        The top-level ``affiliations`` (``id``, ``name``) that authors may refer to.

    Returns
    -------
    list of str
    """
    if authors is None:
        return []
    by_id = {str(a.get("id")): a for a in (affiliations or []) if isinstance(a, Mapping) and "id" in a}
    out = []
    for author in authors if isinstance(authors, list) else [authors]:
        if not isinstance(author, Mapping):
            out.append(_escape(str(author)))
            continue
        name = _escape(_author_name(author.get("name", "")))
        affs = [_affiliation_name(a, by_id) for a in _as_list(author.get("affiliations", author.get("affiliation")))]
        affs = [_escape(a) for a in affs if a]
        out.append(f"{name} ([{'; '.join(affs)}]{{.affiliation}})" if affs else name)
    return out


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _author_name(name: Any) -> str:
    if isinstance(name, Mapping):
        if name.get("literal"):
            return str(name["literal"])
        return " ".join(str(name[k]) for k in ("given", "dropping-particle", "non-dropping-particle", "family")
                        if name.get(k))
    return str(name)


def _affiliation_name(aff: Any, by_id: Mapping[str, Mapping]) -> str:
    if isinstance(aff, Mapping):
        if "ref" in aff:
            aff = by_id.get(str(aff["ref"]), {"name": aff["ref"]})
        return str(aff.get("name", ""))
    return str(by_id.get(str(aff), {}).get("name", aff))


def _escape(text: str) -> str:
    """Escape the markdown specials that could appear in a name (pandoc parses metadata)."""
    return re.sub(r"([\\`*_\[\]{}<>#|@$^~])", r"\\\1", text)


def _resolve_date(value: Any, source: Path | None = None) -> str:
    """Quarto's date keywords as dates; ``SOURCE_DATE_EPOCH`` (when set) fixes them all.

    ``last-modified`` is the source file's modification date (as in Quarto), ``today``
    and ``now`` the current date; other dates are shown as written.
    """
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    keyword = str(value).strip()
    if keyword not in _DATE_KEYWORDS:
        return str(value)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        stamp = int(epoch)
    elif keyword == "last-modified" and source is not None and source.is_file():
        stamp = int(source.stat().st_mtime)
    else:
        return _dt.date.today().isoformat()
    return _dt.datetime.fromtimestamp(stamp, tz=_dt.timezone.utc).date().isoformat()

"""Render the manuscript: with Quarto where it is installed, else the pandoc preview
(HTML) and its DOCX and PDF (:mod:`radsurv.report.documents`).

``render_manuscript`` prints nothing; the caller reports "renderer: ..., paper: ...".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from ..exceptions import ManuscriptError, RenderError
from .documents import FORMATS, parse_formats, render_docx, render_pdf
from .preview import render_preview
from .qmd import Manuscript, load_manuscript, manuscript_problems

__all__ = ["FORMATS", "MANUSCRIPT_OUTPUT_DIR", "RENDERERS", "RenderError", "RenderResult", "find_quarto",
           "quarto_output_path", "render_manuscript"]

RENDERERS = ("auto", "quarto", "preview")

#: Where a Quarto manuscript project writes its HTML unless ``project.output-dir`` says otherwise.
MANUSCRIPT_OUTPUT_DIR = "_manuscript"

#: The last characters of Quarto's output quoted in an error.
_ERROR_TAIL = 4000


@dataclass(frozen=True)
class RenderResult:
    """Which renderer ran ("quarto" or "preview"), the paper (the HTML, or the first format
    written when HTML was not asked for) and every format written (``{"html": path, ...}``)."""

    renderer: str
    output: Path
    outputs: Mapping[str, Path] = field(default_factory=dict)


def find_quarto() -> str | None:
    """The Quarto executable: ``$QUARTO_PATH`` when it names one, else ``quarto`` on ``PATH``.

    Returns
    -------
    str or None
        The path, or None when Quarto is not installed.
    """
    env = os.environ.get("QUARTO_PATH")
    if env:
        candidate = Path(env)
        # QUARTO_PATH may name the binary or the installation folder (as RStudio sets it).
        for path in (candidate, candidate / "bin" / "quarto", candidate / "quarto"):
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return shutil.which("quarto")


def render_manuscript(project_root: Path, output_dir: Path, renderer: str = "auto",
                      formats: str | Iterable[str] | None = FORMATS, *,
                      manuscript: Manuscript | None = None, check: bool = True) -> RenderResult:
    """Render the manuscript of ``project_root``.

    Parameters
    ----------
    project_root : Path
        The Quarto manuscript project.
    output_dir : Path
        Where the preview writes ``index.html``, ``index.docx`` and ``index.pdf`` (Quarto
        writes to its own output folder, ``_manuscript/`` by default).
    renderer : {"auto", "quarto", "preview"}
        "auto" uses Quarto when :func:`find_quarto` finds it, the preview otherwise.
    formats : str or sequence of str
        Without Quarto, the formats to write among "html", "docx" and "pdf" (default all;
        "html,pdf" or a sequence). Quarto renders the formats ``_quarto.yml`` names.
    manuscript : Manuscript, optional
        Without Quarto, the manuscript already loaded from ``project_root`` (not modified).
    check : bool
        Without Quarto, check that everything resolves before writing (False: the caller
        has just checked ``manuscript``).

    Returns
    -------
    RenderResult

    Raises
    ------
    ValueError
        For an unknown renderer or format.
    RenderError
        When "quarto" is asked for but not installed, or ``quarto render`` fails.
    radsurv.report.qmd.ManuscriptError
        When the preview finds unresolved items.
    """
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, not {renderer!r}")
    wanted = parse_formats(formats)
    root = Path(project_root)
    quarto = find_quarto() if renderer in ("auto", "quarto") else None
    if renderer == "quarto" and quarto is None:
        raise RenderError("renderer 'quarto' was requested but Quarto is not installed: no 'quarto' on PATH and "
                          "QUARTO_PATH unset or not an executable; install Quarto (https://quarto.org) or use "
                          "renderer='preview'")
    if quarto is not None:
        html = _render_with_quarto(quarto, root)
        return RenderResult("quarto", html, {"html": html})
    return RenderResult("preview", *_render_without_quarto(root, Path(output_dir), wanted, manuscript, check))


def _render_without_quarto(root: Path, output_dir: Path, formats: tuple[str, ...],
                           m: Manuscript | None = None, check: bool = True) -> tuple[Path, dict[str, Path]]:
    """The preview's formats from one reading of the manuscript (checked once, before any
    is written; ``check=False``: by the caller)."""
    m = load_manuscript(root.resolve()) if m is None else m
    problems = manuscript_problems(m) if check else []
    if problems:
        raise ManuscriptError([str(p) for p in problems])
    writers = {"html": lambda path: render_preview(root, path, manuscript=m, check=False),
               "docx": lambda path: render_docx(m, path, check=False),
               "pdf": lambda path: render_pdf(m, path, check=False)}
    outputs = {fmt: writers[fmt](output_dir / f"index.{fmt}") for fmt in formats}
    return next(iter(outputs.values())), outputs


def _render_with_quarto(quarto: str, root: Path) -> Path:
    """Run ``quarto render`` in the project root and return the article's HTML."""
    # radsurv run has just published: the project's pre-render step (`radsurv prerender`)
    # must not run the pipeline again inside its render, and must be found on PATH even
    # when the environment is not activated (radsurv was started as .venv/bin/radsurv)
    env = {**os.environ, "RADSURV_PRERENDER": "skip",
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.run([quarto, "render"], cwd=root, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-_ERROR_TAIL:]
        raise RenderError(f"quarto render failed in {root} (exit code {proc.returncode}):\n{tail}")
    output = quarto_output_path(root)
    # A manuscript project may also land its article on index.html whatever its name.
    for candidate in (output, output.parent / "index.html"):
        if candidate.is_file():
            return candidate
    raise RenderError(f"quarto render succeeded but {output} was not written")


def quarto_output_path(root: Path) -> Path:
    """The HTML a manuscript project renders its article to (``_manuscript/index.html`` by default)."""
    config_path = Path(root) / "_quarto.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    config = config if isinstance(config, dict) else {}
    project = config.get("project") or {}
    out_dir = project.get("output-dir") or MANUSCRIPT_OUTPUT_DIR
    article = (config.get("manuscript") or {}).get("article") or "index.qmd"
    return Path(root) / out_dir / (Path(article).with_suffix(".html").name)

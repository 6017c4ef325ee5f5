"""Render the manuscript: with Quarto where it is installed, else the pandoc preview.

``render_manuscript`` prints nothing; the caller reports "renderer: ..., paper: ...".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..exceptions import RenderError
from .preview import render_preview

__all__ = ["MANUSCRIPT_OUTPUT_DIR", "RENDERERS", "RenderError", "RenderResult", "find_quarto", "quarto_output_path",
           "render_manuscript"]

RENDERERS = ("auto", "quarto", "preview")

#: Where a Quarto manuscript project writes its HTML unless ``project.output-dir`` says otherwise.
MANUSCRIPT_OUTPUT_DIR = "_manuscript"

#: The last characters of Quarto's output quoted in an error.
_ERROR_TAIL = 4000


@dataclass(frozen=True)
class RenderResult:
    """Which renderer ran ("quarto" or "preview") and the HTML it wrote."""

    renderer: str
    output: Path


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


def render_manuscript(project_root: Path, output_dir: Path, renderer: str = "auto") -> RenderResult:
    """Render the manuscript of ``project_root``.

    Parameters
    ----------
    project_root : Path
        The Quarto manuscript project.
    output_dir : Path
        Where the preview writes ``index.html`` (Quarto writes to its own output folder,
        ``_manuscript/`` by default).
    renderer : {"auto", "quarto", "preview"}
        "auto" uses Quarto when :func:`find_quarto` finds it, the preview otherwise.

    Returns
    -------
    RenderResult

    Raises
    ------
    ValueError
        For an unknown renderer.
    RenderError
        When "quarto" is asked for but not installed, or ``quarto render`` fails.
    radsurv.report.qmd.ManuscriptError
        When the preview finds unresolved items.
    """
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, not {renderer!r}")
    root = Path(project_root)
    quarto = find_quarto() if renderer in ("auto", "quarto") else None
    if renderer == "quarto" and quarto is None:
        raise RenderError("renderer 'quarto' was requested but Quarto is not installed: no 'quarto' on PATH and "
                          "QUARTO_PATH unset or not an executable; install Quarto (https://quarto.org) or use "
                          "renderer='preview'")
    if quarto is not None:
        return RenderResult("quarto", _render_with_quarto(quarto, root))
    output = render_preview(root, Path(output_dir) / "index.html")
    return RenderResult("preview", output)


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

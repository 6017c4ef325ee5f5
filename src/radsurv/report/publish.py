"""Publish one profile's artefacts where the manuscript reads them, then render.

``index.qmd`` reads fixed paths at the project root: ``_variables.yml`` (merged from
every stage's ``variables.yml``), ``figures/fig-*.png`` and ``tables/*.md``. These are
copies of ``build/<profile>/<stage>/`` (git-ignored), so the paper always shows the
profile that was published last, and says which in its front matter.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from ..pipeline.stages import STAGES
from .qmd import check_manuscript
from .render import RenderResult, render_manuscript
from .variables import merge_variables, write_variables

VARIABLES = "_variables.yml"


class ManuscriptError(RuntimeError):
    """The manuscript does not resolve against the published artefacts."""


def published_profile(root: Path) -> str | None:
    """The profile whose artefacts are currently published at the project root."""
    path = Path(root) / VARIABLES
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return None
    return (data.get("run") or {}).get("profile")


def publish(root: Path, build_dir: Path) -> dict:
    """Copy figures and tables of every finished stage to the root and merge the variables.

    Returns the merged variables.
    """
    root, build_dir = Path(root), Path(build_dir)
    fig_dir, tbl_dir = root / "figures", root / "tables"
    fig_dir.mkdir(exist_ok=True)
    tbl_dir.mkdir(exist_ok=True)
    # Remove what an earlier publication left, so a figure of another profile can
    # never be shown by mistake.
    for old in list(fig_dir.glob("fig-*.png")) + list(tbl_dir.glob("*.md")):
        old.unlink()
    layers = []
    for stage in STAGES:
        sdir = build_dir / stage.name
        if not sdir.is_dir():
            continue
        for fig in sorted(sdir.glob("fig-*.png")):
            shutil.copy2(fig, fig_dir / fig.name)
        for tbl in sorted(sdir.glob("*.md")):
            shutil.copy2(tbl, tbl_dir / tbl.name)
        var_file = sdir / "variables.yml"
        if var_file.is_file():
            layers.append(yaml.safe_load(var_file.read_text(encoding="utf-8")) or {})
    merged = merge_variables(layers)
    write_variables(merged, root / VARIABLES)
    return merged


def publish_and_render(root: Path, build_dir: Path, profile: str, out_dir: Path, renderer: str = "auto") -> RenderResult:
    """Publish ``build_dir``'s artefacts, check that the manuscript resolves, render it."""
    publish(root, build_dir)
    problems = check_manuscript(Path(root))
    if problems:
        raise ManuscriptError("the manuscript does not resolve:\n" + "\n".join(f"  - {p}" for p in problems))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = render_manuscript(Path(root), out_dir, renderer=renderer)
    (out_dir / ".rendered").write_text(
        json.dumps({"profile": profile, "renderer": result.renderer, "output": str(result.output)}, indent=1) + "\n"
    )
    return result


def last_render(out_dir: Path) -> dict | None:
    path = Path(out_dir) / ".rendered"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

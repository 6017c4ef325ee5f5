"""A copy of the project's inputs in a temporary folder, for the end-to-end runs."""

from __future__ import annotations

import shutil
from pathlib import Path

#: The files a run reads besides the notebooks and the profiles (the citation style: ``_quarto.yml``'s ``csl``).
PROJECT_FILES = ("requirements.lock", "index.qmd", "_quarto.yml", "references.bib",
                 "american-medical-association-brackets.csl")


def copy_project(root: Path, dest: Path) -> Path:
    """Copy the notebooks, the profiles and :data:`PROJECT_FILES` from ``root`` into ``dest``."""
    for name in ("notebooks", "params"):
        shutil.copytree(root / name, dest / name)
    for name in PROJECT_FILES:
        shutil.copy(root / name, dest / name)
    return dest

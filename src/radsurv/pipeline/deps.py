"""Which library files a notebook depends on: its ``radsurv`` imports, followed
through the package's own imports (static analysis with ``ast``, nothing is run).

A stage is re-run when any of these files changes, so editing a function a
notebook calls re-runs that notebook, and editing an unrelated module does not.
"""

from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path

__all__ = ["library_files", "module_files", "notebook_imports", "PACKAGE"]

PACKAGE = "radsurv"


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def _module_file(module: str, pkg_dir: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = pkg_dir.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports_of_source(source: str, current_module: str, is_package: bool) -> set[str]:
    """Absolute names of the radsurv modules a source imports (relative imports resolved)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    pkg_parts = current_module.split(".") if is_package else current_module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1] if node.level > 1 else pkg_parts
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != PACKAGE:
                continue
            found.add(mod)
            # `from radsurv.stats import harrell_c` may name submodules as well.
            for alias in node.names:
                found.add(f"{mod}.{alias.name}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_module":
            # Lazy exports (radsurv.stats.__getattr__): import_module(f"{__name__}.x") is not
            # resolvable statically, so a package with lazy exports depends on all its modules.
            found.add(f"{current_module}.*" if is_package else f"{'.'.join(pkg_parts)}.*")
    return found


def _expand(name: str, pkg_dir: Path) -> list[str]:
    if name.endswith(".*"):
        pkg = name[:-2]
        folder = pkg_dir.joinpath(*pkg.split(".")[1:])
        return [f"{pkg}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]
    return [name]


@lru_cache(maxsize=None)
def _closure(roots: tuple[str, ...], pkg_dir: Path) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    todo = [m for r in roots for m in _expand(r, pkg_dir)]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = _module_file(mod, pkg_dir)
        if path is None:
            continue
        seen[mod] = path
        # Importing a.b.c runs a/__init__ and a/b/__init__ too.
        parts = mod.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        is_pkg = path.name == "__init__.py"
        for dep in _imports_of_source(path.read_text(encoding="utf-8"), mod, is_pkg):
            todo.extend(_expand(dep, pkg_dir))
    return tuple(sorted(set(seen.values())))


def notebook_imports(notebook: Path) -> set[str]:
    """radsurv modules imported by the code cells of a notebook."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found: set[str] = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", []))
        # Drop IPython magics so the cell parses as Python.
        src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        found |= _imports_of_source(src, "__notebook__", False)
    return found


def library_files(notebook: Path) -> list[Path]:
    """Every radsurv source file the notebook can execute, directly or through imports."""
    roots = tuple(sorted(notebook_imports(notebook) | {PACKAGE}))
    return list(_closure(roots, _package_dir()))


def module_files(*modules: str) -> list[Path]:
    """Source files of the given radsurv modules and their own imports."""
    return list(_closure(tuple(sorted(set(modules) | {PACKAGE})), _package_dir()))

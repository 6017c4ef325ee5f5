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
    """Absolute names of the radsurv modules a source imports (relative imports resolved).

    ``from radsurv.stats import harrell_c`` may name submodules as well, so each imported
    name is added under its module; a lazy ``import_module`` export stands for the whole
    package (``radsurv.stats.*``)."""
    found: set[str] = set()
    for mod, names in _import_statements(source, current_module, is_package):
        found.add(mod)
        found.update(f"{mod}.{name}" for name in names or ())
    return found


def _expand(name: str, pkg_dir: Path) -> list[str]:
    if name.endswith(".*"):
        pkg = name[:-2]
        folder = pkg_dir.joinpath(*pkg.split(".")[1:])
        return [f"{pkg}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]
    return [name]


def _import_statements(source: str, current_module: str, is_package: bool) -> list[tuple[str, frozenset | None]]:
    """The radsurv imports of a source as (module, names): names for ``from m import a, b``,
    None for ``import m`` (and for lazy ``import_module`` exports: the whole package)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    out: list[tuple[str, frozenset | None]] = []
    pkg_parts = current_module.split(".") if is_package else current_module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1] if node.level > 1 else pkg_parts
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] == PACKAGE:
                out.append((mod, frozenset(a.name for a in node.names)))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_module":
            out.append((f"{current_module}.*" if is_package else f"{'.'.join(pkg_parts)}.*", None))
    return out


def _reexports(init: Path, package: str) -> dict[str, str]:
    """Which submodule defines each name a package's ``__init__`` imports from its own modules."""
    table: dict[str, str] = {}
    for mod, names in _import_statements(init.read_text(encoding="utf-8"), package, True):
        if names is not None and mod.startswith(package + "."):
            for name in names:
                table[name] = mod
    return table


@lru_cache(maxsize=None)
def _is_hub(init: Path) -> bool:
    """A package ``__init__`` that only documents, imports and lists its names: it has no
    behaviour of its own, so what it re-exports is tracked through the submodules."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id in ("__all__", "__version__")
                                                for t in node.targets):
            continue
        return False
    return True


@lru_cache(maxsize=None)
def _closure(roots: tuple[tuple[str, frozenset | None], ...], pkg_dir: Path) -> tuple[Path, ...]:
    """The source files a set of imports can execute, as precisely as is sound.

    ``from pkg import a, b`` where ``pkg`` is a package whose ``__init__`` re-exports
    ``a`` and ``b`` from its submodules depends on the ``__init__`` file and on those
    submodules only, not on every module the ``__init__`` imports: a change in
    ``radsurv.stats.lasso_cox`` cannot change what ``from radsurv.stats import
    kaplan_meier`` computes. Parent packages' ``__init__`` files (executed on import)
    count as files unless they are hubs (:func:`_is_hub`); what they import counts only
    when it is imported explicitly.
    """
    files: set[Path] = set()
    followed: set[str] = set()
    todo: list[tuple[str, frozenset | None]] = []
    for mod, names in roots:
        todo += [(m, names) for m in _expand(mod, pkg_dir)]
    while todo:
        mod, names = todo.pop()
        path = _module_file(mod, pkg_dir)
        if path is None:
            continue
        parts = mod.split(".")
        for i in range(1, len(parts)):  # parents' __init__ run on import
            parent = _module_file(".".join(parts[:i]), pkg_dir)
            if parent is not None and not _is_hub(parent):
                files.add(parent)
        is_pkg = path.name == "__init__.py"
        if not (is_pkg and names is not None and _is_hub(path)):
            files.add(path)
        if is_pkg and names is not None:
            table = _reexports(path, mod)
            for name in names:
                sub = f"{mod}.{name}"
                if _module_file(sub, pkg_dir) is not None:
                    todo.append((sub, None))
                elif name in table:
                    todo.append((table[name], None))
                elif mod not in followed:  # not resolvable: every import of the package
                    todo.append((mod, None))
            continue
        if mod in followed:
            continue
        followed.add(mod)
        for dep, dep_names in _import_statements(path.read_text(encoding="utf-8"), mod, is_pkg):
            todo += [(m, dep_names) for m in _expand(dep, pkg_dir)]
    return tuple(sorted(files))


def _notebook_statements(notebook: Path) -> list[tuple[str, frozenset | None]]:
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found: list[tuple[str, frozenset | None]] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", []))
        # Drop IPython magics so the cell parses as Python.
        src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        found += _import_statements(src, "__notebook__", False)
    return found


def notebook_imports(notebook: Path) -> set[str]:
    """radsurv modules imported by the code cells of a notebook."""
    return {mod for mod, _ in _notebook_statements(notebook)}


def _roots(statements) -> tuple[tuple[str, frozenset | None], ...]:
    return tuple(sorted(set(statements) | {(PACKAGE, None)}, key=lambda x: (x[0], sorted(x[1] or []))))


def library_files(notebook: Path) -> list[Path]:
    """Every radsurv source file the notebook can execute, directly or through imports."""
    return list(_closure(_roots(_notebook_statements(notebook)), _package_dir()))


def module_files(*modules: str) -> list[Path]:
    """Source files of the given radsurv modules and their own imports."""
    return list(_closure(_roots((m, None) for m in modules), _package_dir()))

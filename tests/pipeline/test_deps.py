"""Library-code dependencies of a notebook, found statically."""

from __future__ import annotations

from radsurv.pipeline.deps import _imports_of_source, library_files, notebook_imports


def test_cohort_notebook_depends_on_what_it_imports(root):
    nb = root / "notebooks/00_cohort.ipynb"
    names = {p.relative_to(root / "src/radsurv").as_posix() for p in library_files(nb)}
    assert {"config.py", "cohort/stage.py", "cohort/twin.py", "cohort/manifest.py", "plots/km.py"} <= names
    # Modules the stage never imports are not dependencies (editing them re-runs nothing).
    assert "pipeline/runner.py" not in names and "cli.py" not in names
    assert "radsurv.cohort.stage" in notebook_imports(nb)


def test_relative_imports_are_resolved():
    src = "from ..plots.km import km_figure\nfrom . import twin\nimport radsurv.config\nimport numpy"
    found = _imports_of_source(src, "radsurv.cohort.stage", is_package=False)
    assert {"radsurv.plots.km", "radsurv.cohort", "radsurv.cohort.twin", "radsurv.config"} <= found
    assert not any(f.startswith("numpy") for f in found)


def test_parameter_files_named_in_a_section_are_dependencies(tmp_path):
    """A stage is stale when a parameter file its section names (e.g. a PyRadiomics
    YAML file) changes, not only when the name changes."""
    from radsurv.pipeline.runner import _referenced_files

    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "radiomics_us.yaml").write_text("setting: {}\n")
    section = {"features": {"params": {"us": "params/radiomics_us.yaml", "mri": "params/missing.yaml"},
                            "ring_mm": 5.0, "notes": ["params/radiomics_us.yaml"]}}
    found = _referenced_files(section, tmp_path)
    assert found == [tmp_path / "params" / "radiomics_us.yaml"] * 2


def test_names_imported_from_a_hub_package_depend_on_their_defining_modules_only(root):
    """`from radsurv.stats import kaplan_meier` depends on stats/survival_curves.py, not on
    stats/lasso_cox.py: editing the LASSO does not re-run the cohort stage."""
    deps = {p.relative_to(root / "src/radsurv").as_posix() for p in library_files(root / "notebooks/00_cohort.ipynb")}
    assert {"stats/survival_curves.py", "stats/_checks.py"} <= deps
    assert "stats/lasso_cox.py" not in deps and "stats/cox.py" not in deps
    # A hub __init__ (docstring, imports, __all__) is not a dependency itself.
    assert "stats/__init__.py" not in deps and "stages/__init__.py" not in deps


def test_a_package_with_behaviour_of_its_own_is_followed(tmp_path, monkeypatch):
    """An __init__ that does more than re-export (here a lazy __getattr__) is a file
    dependency, and a name it does not re-export makes every import of it count."""
    from radsurv.pipeline import deps

    pkg = tmp_path / "radsurv"
    (pkg / "hub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Root."""\n')
    (pkg / "hub" / "__init__.py").write_text("from .a import fa\nfrom .b import fb\n__all__ = ['fa', 'fb']\n")
    (pkg / "hub" / "a.py").write_text("def fa(): return 1\n")
    (pkg / "hub" / "b.py").write_text("def fb(): return 2\n")
    (pkg / "lazy").mkdir()
    (pkg / "lazy" / "__init__.py").write_text("from .a import fa\n\ndef __getattr__(name):\n    return 3\n")
    (pkg / "lazy" / "a.py").write_text("def fa(): return 1\n")
    (pkg / "lazy" / "c.py").write_text("def fc(): return 4\n")
    files = lambda *roots: {p.relative_to(pkg).as_posix() for p in deps._closure(roots, pkg)}  # noqa: E731
    assert files(("radsurv.hub", frozenset({"fa"}))) == {"hub/a.py"}
    assert files(("radsurv.hub", None)) == {"hub/__init__.py", "hub/a.py", "hub/b.py"}
    assert files(("radsurv.lazy", frozenset({"fa"}))) == {"lazy/__init__.py", "lazy/a.py"}
    assert files(("radsurv.lazy", frozenset({"unknown"}))) == {"lazy/__init__.py", "lazy/a.py"}

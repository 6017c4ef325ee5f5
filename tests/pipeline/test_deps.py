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

"""The run-level tables of the manuscript: computational cost from timings.json and
software versions from the lock file."""

from __future__ import annotations

import platform

import pytest

from radsurv.report.run_tables import cost_table, software_table, write_run_tables

TIMINGS = {"stages": {
    "00_cohort": {"wall_s": 194.41, "peak_rss_mb": 1251.9, "cpus": 2,
                  "steps_s": {"tables": 27.28, "twin images": 145.27, "validation": 16.24}},
    "02_features": {"wall_s": 43.5, "peak_rss_mb": 2543.0, "cpus": 2, "steps_s": {"extraction": 5.91}},
    "99_not_registered": {"wall_s": 1000.0, "peak_rss_mb": 1.0},
}}
TITLES = {"00_cohort": "Cohort", "01_segmentation": "Segmentation", "02_features": "Radiomic features"}


def test_cost_table_rows_totals_and_units():
    t = cost_table(TIMINGS, TITLES).set_index("Stage")
    # registered stages in registry order; a stage that did not run has no row; others ignored
    assert list(t.index) == ["00 Cohort", "02 Radiomic features", "All stages"]
    assert t.loc["00 Cohort", "Wall time"] == "3.2 min" and t.loc["02 Radiomic features", "Wall time"] == "44 s"
    assert t.loc["All stages", "Wall time"] == f"{(194.41 + 43.5) / 60:.1f} min"
    assert t.loc["All stages", "Peak memory (GB)"] == "2.5" and t.loc["00 Cohort", "Peak memory (GB)"] == "1.2"
    # the two longest steps, longest first
    assert t.loc["00 Cohort", "Longest steps"] == "twin images (2.4 min); tables (27 s)"
    assert t.loc["00 Cohort", "Cores"] == "2"


def test_software_versions_come_from_the_lock(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.4.6\nPyRadiomics_bhklab == 3.1.4  # comment\nother==1\n", encoding="utf-8")
    t = software_table(lock, [("Arrays", "numpy"), ("Features", "pyradiomics-bhklab")])
    assert t.to_dict("records") == [
        {"Role": "Language", "Package": "Python", "Version": platform.python_version()},
        {"Role": "Arrays", "Package": "numpy", "Version": "2.4.6"},
        {"Role": "Features", "Package": "pyradiomics-bhklab", "Version": "3.1.4"}]
    with pytest.raises(KeyError, match="torch is not pinned"):
        software_table(lock, [("Networks", "torch")])


def test_the_project_lock_pins_every_named_package(root, tmp_path):
    build = tmp_path / "build" / "p"
    build.mkdir(parents=True)
    (build / "timings.json").write_text('{"stages": {}}', encoding="utf-8")
    (tmp_path / "requirements.lock").write_text((root / "requirements.lock").read_text(encoding="utf-8"))
    cost, soft = write_run_tables(tmp_path, build, TITLES, "p")
    assert cost.name == "cost_table.md" and "{#tbl-cost}" in cost.read_text(encoding="utf-8")
    text = soft.read_text(encoding="utf-8")
    assert "| torch " in text and "{#tbl-software}" in text

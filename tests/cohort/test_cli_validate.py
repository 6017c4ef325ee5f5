"""`radsurv validate` and `radsurv run` on a user's manifest: errors before any work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from radsurv.cli import main
from radsurv.cohort.twin import simulate_cohort


@pytest.fixture()
def user_project(tmp_path, root, quick_profile):
    """A copy of the project skeleton plus a user profile pointing at a twin-made manifest."""
    for name in ("notebooks", "params"):
        shutil.copytree(root / name, tmp_path / name)
    for name in ("requirements.lock", "index.qmd", "_quarto.yml", "references.bib"):
        shutil.copy(root / name, tmp_path / name)
    study = tmp_path / "study"
    study.mkdir()
    manifest = simulate_cohort(quick_profile["cohort"]["twin"], 11).manifest
    manifest.to_csv(study / "manifest.csv", index=False)
    (study / "mystudy.yml").write_text(yaml.safe_dump(
        {"extends": "quick", "cohort": {"source": "manifest", "manifest": "manifest.csv"}}))
    return tmp_path, study


def test_validate_ok(user_project, capsys, monkeypatch):
    proj, study = user_project
    monkeypatch.chdir(proj)
    assert main(["validate", str(study / "manifest.csv"), "--params", str(study / "mystudy.yml")]) == 0
    assert "230 patients, no problems found" in capsys.readouterr().out


def test_validate_reports_every_problem(user_project, capsys, monkeypatch):
    proj, study = user_project
    monkeypatch.chdir(proj)
    df = pd.read_csv(study / "manifest.csv", dtype=str)
    df.loc[4, "dfs_event"] = "2"
    df.loc[9, "dfs_time"] = "-3"
    df.loc[11, "patient_id"] = df.loc[0, "patient_id"]
    df.to_csv(study / "manifest.csv", index=False)
    assert main(["validate", str(study / "manifest.csv"), "--params", str(study / "mystudy.yml")]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    assert "row 5" in err and "column 'dfs_event'" in err
    assert "row 10" in err and "negative follow-up time" in err
    assert "row 12" in err and "duplicate identifier (first seen in row 1)" in err


def test_failed_validation_leaves_build_untouched(user_project, capsys, monkeypatch):
    proj, study = user_project
    monkeypatch.chdir(proj)
    # An earlier build exists; a run on a broken manifest must not touch it.
    marker = proj / "build" / "mystudy" / "00_cohort" / "cohort.csv"
    marker.parent.mkdir(parents=True)
    marker.write_text("previous result\n")
    before = sorted((p.relative_to(proj), p.stat().st_mtime_ns) for p in (proj / "build").rglob("*"))
    df = pd.read_csv(study / "manifest.csv", dtype=str)
    df.loc[2, "center"] = "99"
    df.to_csv(study / "manifest.csv", index=False)
    assert main(["run", "--params", str(study / "mystudy.yml")]) == 2
    err = capsys.readouterr().err
    assert "row 3" in err and "unknown centre '99'" in err and "build/ is unchanged" in err
    after = sorted((p.relative_to(proj), p.stat().st_mtime_ns) for p in (proj / "build").rglob("*"))
    assert after == before
    assert marker.read_text(encoding="utf-8") == "previous result\n"


def test_validate_applies_the_image_checks_of_the_run(user_project, capsys, monkeypatch):
    """A truncated image file passes a file-exists check but not the run's image checks;
    validate reports it with the row, patient, column and file."""
    proj, study = user_project
    monkeypatch.chdir(proj)
    df = pd.read_csv(study / "manifest.csv", dtype=str)
    (study / "img").mkdir()
    (study / "img" / "broken.nii.gz").write_bytes(b"not an image")
    df["mri_image"] = None
    df.loc[6, "mri_image"] = "img/broken.nii.gz"
    df.to_csv(study / "manifest.csv", index=False)
    assert main(["validate", str(study / "manifest.csv"), "--params", str(study / "mystudy.yml")]) == 2
    err = capsys.readouterr().err
    assert f"row 7, patient '{df.loc[6, 'patient_id']}', column 'mri_image': img/broken.nii.gz" in err
    assert "1 problem in the manifest" in err and "the run would stop here" in err


def test_validate_with_exclusion_lists_the_rows_and_passes(user_project, capsys, monkeypatch):
    proj, study = user_project
    monkeypatch.chdir(proj)
    df = pd.read_csv(study / "manifest.csv", dtype=str)
    df.loc[4, "dfs_event"] = "2"
    df.to_csv(study / "manifest.csv", index=False)
    profile = yaml.safe_load((study / "mystudy.yml").read_text(encoding="utf-8"))
    profile["cohort"]["on_invalid"] = "exclude"
    (study / "mystudy.yml").write_text(yaml.safe_dump(profile))
    assert main(["validate", str(study / "manifest.csv"), "--params", str(study / "mystudy.yml")]) == 0
    err = capsys.readouterr().err
    assert "row 5" in err and "the run drops these 1 rows" in err


@pytest.mark.parametrize("argv, message", [
    (["validate", "missing.csv", "--profile", "quick"], "missing.csv: 1 problem in the manifest"),
    (["validate", "x.csv", "--profile", "nosuch"], "unknown profile 'nosuch'"),
    (["run", "--profile", "nosuch"], "unknown profile 'nosuch'"),
    (["render", "--profile", "nosuch"], "unknown profile 'nosuch'"),
])
def test_bad_input_exits_2_with_the_reason(user_project, capsys, monkeypatch, argv, message):
    proj, _ = user_project
    monkeypatch.chdir(proj)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_render_without_a_build_exits_2(user_project, capsys, monkeypatch):
    proj, _ = user_project
    monkeypatch.chdir(proj)
    assert main(["render", "--profile", "quick"]) == 2
    assert "build/quick does not exist: run `radsurv run --profile quick` first" in capsys.readouterr().err

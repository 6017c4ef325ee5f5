"""`radsurv validate` predicts the run (issue 28, item 1) on a small own cohort.

A 24-patient MRI-only cohort (:mod:`tests.e2e.foreign_cohort`) with the README's profile:
validate refuses with the profile key and a value that works, ``radsurv run`` refuses with
the same message before any work (build/ untouched), and following the suggestions until
validate passes gives a profile the run accepts. The cohort stage's own outcomes (what
stages 03-06 read) give the verdicts that validate printed.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from radsurv.cli import main as cli
from radsurv.cohort.manifest import cohort_outcomes
from radsurv.config import load_profile
from radsurv.exceptions import PreconditionError
from radsurv.pipeline.runner import run_pipeline
from radsurv.preconditions import check_all
from radsurv.sensitivity.harmonisation import harmonisation_batches

from ..test_profiles import readme_recipe
from .._project import copy_project
from .foreign_cohort import write_foreign_cohort

pytestmark = pytest.mark.slow

N = 24


def _profile(root, n_folds: int, cut_folds: int) -> str:
    text, _ = readme_recipe(root)
    text = text.replace("extends: paper", "extends: quick").replace("cohort:\n", "cohort:\n  min_train_events: 3\n", 1)
    return text + f"signatures: {{n_folds: {n_folds}}}\nsensitivity: {{cutpoint: {{n_folds: {cut_folds}}}}}\n"


def test_validate_refuses_as_the_run_does_and_its_suggestions_work(root, tmp_path, monkeypatch, capsys):
    proj = copy_project(root, tmp_path / "proj")
    folder = proj / "study"
    write_foreign_cohort(folder, n=N)
    monkeypatch.chdir(folder)
    n_folds, cut_folds, steps = 10, 10, []
    for _ in range(4):
        (folder / "mystudy.yml").write_text(_profile(root, n_folds, cut_folds), encoding="utf-8")
        code = cli(["validate", "manifest.csv", "--params", "mystudy.yml"])
        out = capsys.readouterr()
        if code == 0:
            break
        assert code == 2
        errors = re.findall(r"^error: (.*)$", out.err, re.M)
        keys = re.findall(r"^  profile key: (\S+); a value that works: (\d+)$", out.err, re.M)
        assert errors and len(keys) == len(errors), out.err
        steps.append(errors[0])
        # the run refuses with the same first message, before any work
        with pytest.raises(PreconditionError) as refused:
            run_pipeline(folder / "mystudy.yml", root=proj, render=False)
        assert str(refused.value).startswith(errors[0])
        assert not (proj / "build" / "mystudy").exists()
        for key, value in keys:
            if key == "signatures.n_folds":
                n_folds = int(value)
            elif key == "sensitivity.cutpoint.n_folds":
                cut_folds = int(value)
    else:
        pytest.fail(f"validate's suggestions did not converge: {steps}")
    assert code == 0 and f"{N} patients, no problems found" in out.out
    # the first refusal is the issue's: too few training events for signatures.n_folds
    assert re.fullmatch(r"03_signatures: (\d+) training events cannot fill 10 cross-validation folds; set "
                        r"signatures.n_folds to \1 or fewer \(at least 3\)", steps[0]), steps
    # what the cohort stage hands to stages 03-06 gives the verdicts validate printed
    report = run_pipeline(folder / "mystudy.yml", root=proj, stages=["00_cohort"], render=False)
    assert report.exit_code == 0, report.failure
    data = pd.read_csv(proj / "build/mystudy/00_cohort/cohort.csv", dtype={"patient_id": str, "center": str})
    outcome = cohort_outcomes(data, pd.Index(data["patient_id"]), "days")
    profile = load_profile(folder / "mystudy.yml", proj)
    verdicts = check_all(outcome, profile, harmonisation_batches(outcome, data))
    assert not [v for v in verdicts if v.refuses]
    printed = re.findall(r"^note: (.*?)(?:; the paper will say so)?$", out.out, re.M)
    assert printed == [str(v) for v in verdicts]

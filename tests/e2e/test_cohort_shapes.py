"""The cohort-shape fuzz test (issue 28, item 3): validate's verdict agrees with the run's.

Every shape of :mod:`tests.e2e.cohort_shapes` (small MRI-only own cohorts, edited as a
pilot cohort would differ) goes through ``radsurv validate``: it either refuses, naming the
profile key (with a value that works, or saying that none does) or the row, patient and
column, or passes. Every refused shape's run refuses with validate's first message before
any work (build/ untouched). The passing shapes are run to the rendered preview by
``benchmarks/fuzz_cohort_shapes.py`` (minutes each; make test cannot pay for them): on
2026-12-06/07 every one of the 19 reached the preview: baseline, train_events_5,
train_events_20, internal_events_0, _1 and _5, external_events_0 and _1, no_external,
one_clinical_column, no_clinical_column, single_level_observed, single_level_declared,
column_all_missing, identical_images, tiny_lesion_some, mask_at_border, tied_times and
short_followup.

Counts (checked below): 28 shapes, 9 refused by validate, 19 passed; the refused 9 refused
by the run too (tiny_lesion_all: every lesion too small for the extraction settings, named
with the parameter file's settings; constant_intensity: every image constant, which
PyRadiomics' normalisation cannot divide; tiny_lesion_some passes with a note naming the
three).
"""

from __future__ import annotations

import re
import shutil
import sys

import pytest

from radsurv.exceptions import InputError
from radsurv.pipeline.runner import run_pipeline

from .._project import copy_project
from .cohort_shapes import BY_NAME, SHAPES

pytestmark = pytest.mark.slow

#: Validate's verdicts on the grid: a change in a verdict must be seen (and the counts in
#: the docstring updated).
N_SHAPES, N_REFUSED = 28, 9
#: The passing shapes CI runs to the preview: none, as make test's budget is spent (the
#: own-cohort file runs a 44-patient cohort of the same generator to the preview);
#: ``benchmarks/fuzz_cohort_shapes.py`` runs every passing shape.
RUN: tuple[str, ...] = ()


def _bench():
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import fuzz_cohort_shapes
    finally:
        sys.path.pop(0)
    return fuzz_cohort_shapes


@pytest.fixture(scope="module")
def shapes(tmp_path_factory, root):
    """Every shape written into its own copy of the project, and validate's output on it."""
    bench = _bench()
    base = tmp_path_factory.mktemp("shapes")
    out = {}
    for shape in SHAPES:
        proj = copy_project(root, base / shape.name)
        profile = shape.write(proj / "study")
        out[shape.name] = (proj, profile, *bench.validate(profile))
    yield out
    shutil.rmtree(base, ignore_errors=True)


def test_validate_refuses_with_a_named_key_or_row_or_passes(shapes):
    bench = _bench()
    refused = []
    for shape in SHAPES:
        _, _, code, out, err = shapes[shape.name]
        assert code in (0, 2), (shape.name, err)
        if code == 0:
            assert re.search(r"\d+ patients, no problems found", out), (shape.name, out)
            assert not re.search(r"^error:", err, re.M), (shape.name, err)
        else:
            refused.append(shape.name)
            assert bench.first_error(err), (shape.name, err)
            # a profile key (and a value that works, or that none does), or row, patient, column
            keyed = re.findall(r"^  profile key: (\S+); (a value that works: \S+|no value works on this cohort)$",
                               err, re.M)
            row = re.search(r"row \d+, patient '[^']+', column '\w+'", err)
            counted = re.search(r"column 'dfs_event': only \d+ events in the training set; the profile requires "
                                r"at least \d+ \(cohort\.min_train_events\)", err)
            assert keyed or row or counted, (shape.name, err)
        assert ("pass" if code == 0 else "refuse") == shape.expect, (shape.name, out, err)
    assert (len(SHAPES), len(refused)) == (N_SHAPES, N_REFUSED), \
        f"{len(SHAPES)} shapes, {len(refused)} refused ({refused}), {len(SHAPES) - len(refused)} passed"


def test_a_refused_shape_is_refused_by_the_run_before_any_work(shapes):
    for shape in SHAPES:
        proj, profile, code, _, err = shapes[shape.name]
        if code == 0:
            continue
        with pytest.raises(InputError) as refused:
            run_pipeline(profile, root=proj, render=False)
        assert _bench().same_refusal(err, str(refused.value)), (shape.name, err, str(refused.value))
        assert not (proj / "build" / "mystudy").exists() or not any((proj / "build" / "mystudy").iterdir()), \
            shape.name


def test_the_benchmark_runs_every_passing_shape_and_knows_its_disagreements():
    """The sweep outside CI: every passing shape is run end to end by the benchmark, and
    the disagreements it still lists are shapes of this grid that validate passes."""
    bench = _bench()
    assert set(bench.KNOWN) <= {s.name for s in SHAPES if s.expect == "pass"}
    assert all(BY_NAME[n].expect == "pass" for n in RUN)

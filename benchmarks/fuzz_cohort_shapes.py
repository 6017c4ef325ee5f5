"""The full cohort-shape sweep (issue 28, item 3): every shape of
``tests/e2e/cohort_shapes.py`` through ``radsurv validate`` and, when validate passes,
the whole run to the rendered preview; a refused shape's run must refuse with validate's
first message before any work.

Prints one row per shape (shape, validate's verdict, the run's outcome, agree?) and exits
1 on a disagreement that is not listed in :data:`KNOWN` (a crash inside a stage's library
code, described where it is listed). Run from the repository root::

    .venv/bin/python benchmarks/fuzz_cohort_shapes.py [--only NAME ...] [--keep DIR]

About half a minute per refused shape and a few minutes per run on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._project import copy_project  # noqa: E402
from tests.e2e.cohort_shapes import SHAPES, Shape  # noqa: E402

#: Shapes whose validate verdict and run outcome are known to disagree because of a crash
#: inside a stage's own code (not a missing precondition): name -> what crashes.
KNOWN: dict[str, str] = {}


@dataclass
class Outcome:
    shape: str
    verdict: str          # "refuse" or "pass"
    first_error: str      # validate's first "error:" line (refusals)
    named: bool           # the refusal names a profile key, or a row / patient / column / file
    run: str              # "refused", "preview", "crashed", "not run"
    run_detail: str
    seconds: float

    @property
    def agree(self) -> bool:
        if self.run == "not run":
            return self.verdict == "refuse" or self.verdict == "pass"
        if self.verdict == "refuse":
            return self.run == "refused" and self.named
        return self.run == "preview"


def validate(profile: Path) -> tuple[int, str, str]:
    """``radsurv validate manifest.csv --params mystudy.yml`` in the profile's folder: the
    exit code, stdout and stderr."""
    import os

    from radsurv.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(profile.parent)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli(["validate", "manifest.csv", "--params", profile.name])
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


def names_the_fix(err: str) -> bool:
    """Whether a refusal names what to change: a profile key, or a row / patient / column /
    file."""
    return bool(re.search(r"^  profile key: \S+", err, re.M)
                or re.search(r"row \d+, patient '[^']+', column '\w+'", err)
                or re.search(r"\(cohort\.\w+\)|cohort\.[a-z_]+", err))


def first_error(err: str) -> str:
    """Validate's first refusal: its first ``error:`` line, or the head of the manifest's
    problems (printed without ``error:`` when ``cohort.on_invalid`` is ``fail``)."""
    found = re.search(r"^(?:error: (.*)|(\S*manifest\.csv: \d+ problems? in the manifest))$", err, re.M)
    return (found.group(1) or found.group(2)) if found else ""


def same_refusal(err: str, refused: str) -> bool:
    """Whether the run's refusal (the exception's text) is validate's first refusal
    (``err``): the same first line, less the manifest's path (each command names it as it
    was given), and the same problems listed under it."""
    first = first_error(err)
    if not first:
        return False
    head = re.sub(r"^\S*manifest\.csv: ", "", first)
    lines = [re.sub(r"^\S*manifest\.csv: ", "", line) for line in refused.splitlines()]
    if not lines or not lines[0].startswith(head):
        return False
    if re.search(r"\d+ problems? in the manifest$", head):
        block = err[err.index(first):].splitlines()[1:]
        problems = [line for line in block if line.startswith("  - ")]
        return bool(problems) and all(p in lines for p in problems)
    return True


def run_shape(shape: Shape, work: Path, *, run: bool = True, render: bool = True) -> Outcome:
    """Write ``shape`` into a fresh project under ``work``, validate it and (``run``) run it."""
    from radsurv.exceptions import InputError
    from radsurv.pipeline.runner import run_pipeline

    t0 = time.perf_counter()
    proj = copy_project(ROOT, work / shape.name)
    profile = shape.write(proj / "study")
    code, out, err = validate(profile)
    verdict = "pass" if code == 0 else "refuse"
    first = first_error(err)
    named = verdict == "refuse" and names_the_fix(err)
    outcome, detail = "not run", ""
    if run:
        try:
            report = run_pipeline(profile, root=proj, render=render, renderer="preview")
        except InputError as exc:
            outcome, detail = "refused", str(exc).splitlines()[0]
            if verdict == "refuse" and not same_refusal(err, str(exc)):
                outcome = "refused (other message)"
            if (proj / "build" / "mystudy").exists() and any((proj / "build" / "mystudy").iterdir()):
                outcome = "refused after work"
        except Exception as exc:  # noqa: BLE001 -- a crash is what the sweep looks for
            outcome, detail = "crashed", f"{type(exc).__name__}: {exc}".splitlines()[0]
        else:
            if report.exit_code == 0 and (not render or (report.paper and Path(report.paper).is_file())):
                outcome = "preview" if render else "ran"
            else:
                outcome, detail = "crashed", str(report.failure).strip().splitlines()[-1][:200] \
                    if report.failure else f"exit {report.exit_code}"
    return Outcome(shape.name, verdict, first, named, outcome, detail, time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="these shapes only")
    ap.add_argument("--validate-only", action="store_true", help="validate every shape, run none")
    ap.add_argument("--keep", type=Path, help="write the projects here and keep them (default: a temporary folder)")
    args = ap.parse_args(argv)
    by_name = {s.name: s for s in SHAPES}
    unknown = [n for n in args.only or () if n not in by_name]
    if unknown:
        ap.error(f"unknown shape(s) {unknown}; shapes: {', '.join(by_name)}")
    shapes = [by_name[n] for n in args.only] if args.only else SHAPES
    work = args.keep or Path(tempfile.mkdtemp(prefix="fuzz_shapes_"))
    t0 = time.perf_counter()
    rows, bad = [], []
    print(f"{'shape':24} {'validate':8} {'run':24} {'agree':5} {'s':>6}  detail", flush=True)
    for shape in shapes:
        o = run_shape(shape, work, run=not args.validate_only)
        # a refused shape's run is expected to refuse; a passing shape's to reach the preview
        ok = o.agree and o.verdict == shape.expect
        if not ok and shape.name in KNOWN:
            status = "known"
        else:
            status = "yes" if ok else "NO"
        if status == "NO":
            bad.append(o)
        detail = o.first_error if o.verdict == "refuse" else o.run_detail
        print(f"{o.shape:24} {o.verdict:8} {o.run:24} {status:5} {o.seconds:6.0f}  {detail[:150]}", flush=True)
        rows.append(o)
        if not args.keep:
            shutil.rmtree(work / shape.name, ignore_errors=True)
    refused = sum(o.verdict == "refuse" for o in rows)
    ran = sum(o.run == "preview" for o in rows)
    print(f"\n{len(rows)} shapes, {refused} refused by validate, {ran} ran to the preview, "
          f"{len(bad)} disagreement(s), {time.perf_counter() - t0:.0f} s")
    for name in KNOWN:
        print(f"known: {name}: {KNOWN[name]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

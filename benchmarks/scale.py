"""How each stage's cost grows with the cohort (issue 29, item 3): the cost curve.

Runs the whole pipeline (stages 00-06, no rendering) on the twin at several sizes of a
base profile -- by default 0.5x, 1x and 2x -- and fits, for every stage and every timed
step, the exponent k of ``time ~ N**k`` by least squares on the log-log scale (N: the
number of patients). Each size is a fresh project in its own folder (cold caches, as a
new cohort would meet them), with a profile that extends the base and scales only:

* ``cohort.twin.n_per_center`` (every centre's patients; the images per patient as in
  the base, so the images scale with N), and
* ``cohort.split.n_train`` when it is a count (a fraction scales by itself).

What does not scale, on purpose: the U-Nets' development sets (``imaging.development``)
and their training schedule, the reproducibility subset of 02 (``features.
reproducibility.n``), the number of bootstrap resamples and of permutations. Those steps
should come out with k near 0 (their cost is per resample or per permutation, not per
patient, in N's range); the loops over patients and images should come out near 1.

Times: the wall time of each stage and step (``timings.json``) and each stage's CPU
time (``cpu_s``: user + system of the kernel and its workers), whose exponent
(``k_cpu``) hardly moves when other work shares the machine; compare wall times from one
run on a quiet machine only.

Goals (issue 29): extraction and inference k <= 1.05; LASSO-Cox CV, the six models and
the bootstrap k <= 1.3; the peak memory of a single process (``peak_process_mb`` of
``timings.json``: the kernel or one worker) flat in N. The script prints the table,
flags a goal that is missed, and extrapolates each stage to ``--target`` patients on 2
and on ``--cores`` cores: a step that loops over patients, images, resamples or
permutations through :mod:`radsurv.compute` (``PARALLEL``) is divided by the cores'
ratio, every other step is not (Amdahl's law, with no cluster overhead: an optimistic
bound for the large machine).

Usage (from the repository root)::

    .venv/bin/python benchmarks/scale.py --base paper            # 0.5x, 1x, 2x: ~3 h on 2 cores
    .venv/bin/python benchmarks/scale.py --base quick --factors 1 2 4   # ~1 h on 2 cores

``quick`` at 0.5x (115 patients) has 7 training events, under its
``cohort.min_train_events`` of 10, and 00 refuses it: scale ``quick`` up, not down.

Wall times depend on what else the machine runs: compare sizes from one run only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._project import copy_project  # noqa: E402

#: Steps (of timings.json's ``steps_s``) that are loops dispatched through
#: radsurv.compute: they use every core of the machine or the cluster.
PARALLEL = ("twin images", "extraction", "inference", "optimism bootstrap", "permutation null",
            "mask source and ring width", "regions")

#: Issue 29's goals on whole stages' CPU time: the stage whose cost is the loop the goal
#: names (01 also trains its U-Nets, whose cost does not grow with N) -> the largest k.
STAGE_GOALS = {"02_features": 1.05, "03_signatures": 1.3, "04_models": 1.3, "05_validation": 1.3}

#: Issue 29's goals: step name fragment -> the largest k allowed.
GOALS = {"extraction": 1.05, "inference": 1.05, "LASSO-Cox": 1.3, "selection and fits": 1.3,
         "optimism bootstrap": 1.3}


def scaled_profile(base: str, factor: float, root: Path) -> dict:
    """A profile extending ``base`` whose centres (and training count) are scaled."""
    from radsurv.config import load_profile, profile_path

    prof = load_profile(profile_path(base, root), root)
    n_per = {int(c): max(1, round(n * factor)) for c, n in prof["cohort"]["twin"]["n_per_center"].items()}
    out: dict = {"extends": base, "cohort": {"twin": {"n_per_center": n_per}}}
    n_train = prof["cohort"]["split"]["n_train"]
    if isinstance(n_train, int):
        out["cohort"]["split"] = {"n_train": max(1, round(n_train * factor))}
    return out


def run_size(base: str, factor: float, work: Path) -> tuple[int, dict]:
    """Run the pipeline (no rendering) on ``base`` scaled by ``factor``; the patients and
    the ``timings.json`` stages."""
    from radsurv.pipeline.runner import run_pipeline

    name = f"scale_{base}_{int(round(factor * 100)):03d}"
    proj = copy_project(ROOT, work / name)
    prof = scaled_profile(base, factor, proj)
    pfile = proj / "params" / f"{name}.yml"
    pfile.write_text(f"# benchmarks/scale.py: {base} x {factor:g}\n" + yaml.safe_dump(prof, sort_keys=False),
                     encoding="utf-8")
    n = sum(prof["cohort"]["twin"]["n_per_center"].values())
    report = run_pipeline(pfile, root=proj, render=False)
    if report.exit_code != 0:
        raise SystemExit(f"{name}: the run failed ({report.failure}); its build is in {proj / 'build'}")
    timings = json.loads((proj / "build" / name / "timings.json").read_text(encoding="utf-8"))
    return n, timings["stages"]


def collect(work: Path) -> list[dict]:
    """The rows of the sizes already run under ``work`` (``--keep`` of an earlier run,
    complete or interrupted): every ``scale_*`` project whose build has a
    ``timings.json``, N from its profile."""
    rows = []
    for pfile in sorted(work.glob("scale_*/params/scale_*.yml")):
        timings = pfile.parents[1] / "build" / pfile.stem / "timings.json"
        if not timings.is_file():
            continue
        prof = yaml.safe_load(pfile.read_text(encoding="utf-8"))
        n = sum(prof["cohort"]["twin"]["n_per_center"].values())
        rows += rows_of(n, json.loads(timings.read_text(encoding="utf-8"))["stages"])
    return rows


def rows_of(n: int, stages: dict) -> list[dict]:
    """One row per stage and per timed step: seconds and memory at ``n`` patients."""
    rows = []
    for stage, rec in stages.items():
        rows.append({"N": n, "stage": stage, "step": "(stage)", "seconds": rec["wall_s"], "cpu_s": rec.get("cpu_s"),
                     "peak_rss_mb": rec.get("peak_rss_mb"), "peak_process_mb": rec.get("peak_process_mb")})
        for step, s in (rec.get("steps_s") or {}).items():
            rows.append({"N": n, "stage": stage, "step": step, "seconds": s, "cpu_s": None,
                         "peak_rss_mb": None, "peak_process_mb": None})
    return rows


def fit_exponent(n: np.ndarray, t: np.ndarray) -> float:
    """k of ``t = c * n**k``, least squares on log-log; NaN with fewer than two sizes or a
    step that took no measurable time."""
    ok = (t > 0.05) & (n > 0)
    if ok.sum() < 2 or len(set(n[ok])) < 2:
        return math.nan
    return float(np.polyfit(np.log(n[ok]), np.log(t[ok]), 1)[0])


def curve(rows: pd.DataFrame) -> pd.DataFrame:
    """The cost curve: seconds (and memory) per size, and k, per stage and step."""
    out = []
    sizes = sorted(rows["N"].unique())
    for (stage, step), g in rows.groupby(["stage", "step"], sort=False):
        g = g.set_index("N").reindex(sizes)
        rec = {"stage": stage, "step": step}
        for n in sizes:
            rec[f"s@{n}"] = g.loc[n, "seconds"]
        rec["k"] = fit_exponent(np.asarray(sizes, float), g["seconds"].to_numpy(float))
        if step == "(stage)":
            cpu = g["cpu_s"].to_numpy(float)
            for n in sizes:
                rec[f"cpu@{n}"] = g.loc[n, "cpu_s"]
            rec["k_cpu"] = fit_exponent(np.asarray(sizes, float), cpu) if np.isfinite(cpu).all() else math.nan
            for n in sizes:
                rec[f"MB@{n}"] = g.loc[n, "peak_process_mb"]
            mem = g["peak_process_mb"].to_numpy(float)
            rec["k_mem"] = fit_exponent(np.asarray(sizes, float), mem) if np.isfinite(mem).all() else math.nan
        out.append(rec)
    return pd.DataFrame(out)


def extrapolate(table: pd.DataFrame, n_ref: int, target: int, cores: list[int]) -> pd.DataFrame:
    """Each stage's CPU seconds at ``target`` patients, from its CPU time at ``n_ref`` and
    ``k_cpu`` (the CPU time's exponent: the wall time's is unreliable on a shared
    machine), and the wall time that work would take on each of ``cores`` at best: the
    stage's parallel share (its :data:`PARALLEL` steps' share of its wall time at
    ``n_ref``) divided among the cores, the rest on one (Amdahl's law, no cluster
    overhead). A negative or missing k counts as 1 (linear)."""
    out = []
    for stage, g in table.groupby("stage", sort=False):
        whole = g[g["step"] == "(stage)"].iloc[0]
        steps = g[g["step"] != "(stage)"]
        wall = float(whole[f"s@{n_ref}"])
        par = sum(float(s[f"s@{n_ref}"]) for _, s in steps.iterrows() if any(p in s["step"] for p in PARALLEL))
        share = min(max(par / wall, 0.0), 1.0) if wall > 0 else 0.0
        # a k below 0 is no cost curve (a smaller size that shared the machine, or work
        # that does not grow with N beside work that does): assume linear growth
        k = float(whole["k_cpu"]) if np.isfinite(whole["k_cpu"]) and whole["k_cpu"] >= 0 else 1.0
        cpu = float(whole[f"cpu@{n_ref}"]) * (target / n_ref) ** k
        rec = {"stage": stage, "k_cpu": k, "parallel share": share, "CPU s": cpu}
        for c in cores:
            rec[f"s on {c} cores"] = cpu * (1.0 - share) + cpu * share / c
        out.append(rec)
    df = pd.DataFrame(out)
    total = {"stage": "total", "k_cpu": math.nan, "parallel share": math.nan,
             **{c: df[c].sum() for c in df.columns if c.startswith(("CPU", "s on"))}}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


def missed_goals(table: pd.DataFrame) -> list[str]:
    """Goals of issue 29 that the fitted exponents miss: per stage on the CPU time
    (:data:`STAGE_GOALS`), and per step on the wall time where the step is the loop the
    goal names (:data:`GOALS`; meaningful on a quiet machine only)."""
    bad = []
    for _, r in table.iterrows():
        if r["step"] == "(stage)":
            kmax = STAGE_GOALS.get(r["stage"])
            if kmax is not None and np.isfinite(r["k_cpu"]) and r["k_cpu"] > kmax:
                bad.append(f"{r['stage']} (CPU time): k = {r['k_cpu']:.2f} > {kmax}")
            continue
        for frag, kmax in GOALS.items():
            if frag in r["step"] and np.isfinite(r["k"]) and r["k"] > kmax:
                bad.append(f"{r['stage']} / {r['step']} (wall time): k = {r['k']:.2f} > {kmax}")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="quick", help="the profile to scale (default: quick)")
    ap.add_argument("--factors", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    ap.add_argument("--target", type=int, default=6400, help="patients to extrapolate to (default 6400)")
    ap.add_argument("--cores", type=int, nargs="+", default=[2, 64], help="machines to extrapolate to (cores)")
    ap.add_argument("--keep", type=Path, help="build the projects here and keep them (default: a temporary folder)")
    ap.add_argument("--out", type=Path, help="write the rows and the curve as CSV here (a folder)")
    ap.add_argument("--collect", type=Path, metavar="DIR",
                    help="run nothing: tabulate the sizes an earlier run (--keep DIR) completed")
    args = ap.parse_args(argv)
    import os

    cores_ref = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    work = args.keep or Path(tempfile.mkdtemp(prefix="radsurv_scale_"))
    rows = collect(args.collect) if args.collect else []
    t0 = time.perf_counter()
    for f in ([] if args.collect else sorted(args.factors)):
        t1 = time.perf_counter()
        n, stages = run_size(args.base, f, work)
        rows += rows_of(n, stages)
        print(f"{args.base} x {f:g}: {n} patients, {time.perf_counter() - t1:.0f} s", flush=True)
    rows = pd.DataFrame(rows)
    table = curve(rows)
    # the largest size every stage completed (an interrupted run's last size may lack some)
    complete = [n for n, g in rows[rows["step"] == "(stage)"].groupby("N") if len(g) == rows["stage"].nunique()]
    n_ref = max(complete)
    ext = extrapolate(table, n_ref, args.target, args.cores)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 60)
    print(f"\ncost curve ({args.base}, {cores_ref} cores; seconds per size, k of time ~ N^k; "
          f"MB: peak memory of one process):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\nextrapolated to {args.target} patients from N = {n_ref} (CPU time by k_cpu; its parallel share divided "
          "among the cores, at best):")
    print(ext.to_string(index=False, formatters={"k_cpu": "{:.2f}".format, "parallel share": "{:.2f}".format,
                                                  **{c: "{:.0f}".format for c in ext.columns
                                                     if c.startswith(("CPU", "s on"))}}))
    bad = missed_goals(table)
    print("\ngoals of issue 29: " + ("all met" if not bad else "missed: " + "; ".join(bad)))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        rows.to_csv(args.out / f"scale_{args.base}_rows.csv", index=False)
        table.to_csv(args.out / f"scale_{args.base}_curve.csv", index=False)
        ext.to_csv(args.out / f"scale_{args.base}_extrapolated.csv", index=False)
    print(f"\n{time.perf_counter() - t0:.0f} s in all; projects in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

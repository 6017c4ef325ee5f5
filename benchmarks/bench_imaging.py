"""Benchmark of the imaging twin: time per image, parallel speed-up, projected `paper` cost.

Generates N US and M MRI cases (latents drawn like the cohort's: sizes log-normal,
centres in the paper's 480/95/68 proportions), writes them as compressed NIfTI with 1
and with 2 joblib workers, and prints the time per image, the speed-up, the disk size
per patient and the projected totals for the `paper` profile (643 cohort patients with
one US and one MRI each, plus development sets of 620 US and 249 MRI).

Usage::

    .venv/bin/python benchmarks/bench_imaging.py --n-us 40 --n-mri 30 --jobs 1 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from radsurv.imaging.twin import development_latents, write_cohort_images

PAPER = {"us": 643 + 620, "mri": 643 + 249}
PAPER_CENTERS = {1: 480, 2: 95, 3: 68}


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(modality: str, n: int, n_jobs: int, seed: int) -> tuple[float, float, int]:
    """Write ``n`` cases of one modality; return (wall seconds, CPU seconds of this
    process, bytes on disk). CPU seconds measure the work itself only with 1 job
    (in-process); with more, the work happens in the workers.

    The worker pool is started (and its imports done) by a small warm-up run first,
    so the time is that of steady-state generation; pool start-up is printed apart.
    """
    latents = development_latents(n, seed, modality, centers=PAPER_CENTERS)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_cohort_images(latents.head(2), Path(tmp) / "warmup", seed=seed + 1, n_jobs=n_jobs, progress=False,
                            modalities=(modality,))
        print(f"     (warm-up of {n_jobs} worker(s): {time.perf_counter() - start:.2f} s)")
        out = Path(tmp) / "images"
        start, cpu = time.perf_counter(), time.process_time()
        write_cohort_images(latents, out, seed=seed, n_jobs=n_jobs, progress=False, modalities=(modality,))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = folder_bytes(out)
        shutil.rmtree(out)
    return seconds, cpu, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-us", type=int, default=40, help="US cases per run")
    parser.add_argument("--n-mri", type=int, default=30, help="MRI cases per run")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts to time")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    print(f"load average before start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(other processes slow the timings down)")

    per_image: dict[tuple[str, int], float] = {}
    per_case_bytes: dict[str, float] = {}
    for modality, n in (("us", args.n_us), ("mri", args.n_mri)):
        if n <= 0:
            continue
        for jobs in args.jobs:
            seconds, cpu, size = run(modality, n, jobs, args.seed)
            per_image[(modality, jobs)] = seconds / n
            per_case_bytes[modality] = size / n
            print(f"{modality:>3}  n={n:4d}  jobs={jobs}  {seconds:7.2f} s  {1000 * seconds / n:7.1f} ms/image "
                  f"(wall)  {size / n / 1024:7.1f} KiB/case (image + 2 masks)"
                  + (f"  {1000 * cpu / n:6.1f} ms/image CPU" if jobs == 1 else ""))

    print()
    jobs_max = max(args.jobs)
    total_s, total_bytes = 0.0, 0.0
    for modality in ("us", "mri"):
        if (modality, 1) in per_image and (modality, jobs_max) in per_image and jobs_max > 1:
            speedup = per_image[(modality, 1)] / per_image[(modality, jobs_max)]
            print(f"{modality}: speed-up with {jobs_max} jobs: {speedup:.2f}x")
        if (modality, jobs_max) in per_image:
            seconds = PAPER[modality] * per_image[(modality, jobs_max)]
            size = PAPER[modality] * per_case_bytes[modality]
            total_s += seconds
            total_bytes += size
            print(f"{modality}: paper profile {PAPER[modality]} cases: {seconds:6.1f} s with {jobs_max} jobs, "
                  f"{size / 2**20:7.1f} MiB")
    print(f"paper imaging total: {total_s:.1f} s ({total_s / 60:.2f} min) with {jobs_max} jobs, "
          f"{total_bytes / 2**30:.3f} GiB on disk")


if __name__ == "__main__":
    main()

"""Benchmark: radsurv's shared-filter extractor vs the PyRadiomics batch CLI.

Workload: the project's own: digital-twin US (2-D) and MRI (3-D) studies of the
``paper`` profile (every centre's scanner), written as NIfTI in a temporary folder, each
with six regions (intra/peri x true/reader/perturbed), as the radiomics stage extracts
them for a reproducibility-subset patient. Both tools use the same parameter files
(params/radiomics_us.yaml, params/radiomics_mri.yaml) and the same number of jobs.

Prints: wall time of each, the speed ratio, the largest relative difference over all
features of all (image, mask) pairs, the share of our time spent in loading/filters/
features, and our parallel efficiency t(1 job) / (2 x t(2 jobs)).

The CLI runs with single-threaded BLAS (``OPENBLAS_NUM_THREADS=1`` etc.) so that the
comparison measures the extraction strategy, not BLAS oversubscription; pass
``--cli-default-threads`` to also time the CLI in the default environment.


Usage::

    python benchmarks/bench_features.py [--n-us 10] [--n-mri 10] [--jobs 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from radsurv.features.extract import Case, extract_patients  # noqa: E402
from radsurv.features.robustness import perturb_mask  # noqa: E402
from radsurv.roi import intratumoral, peritumoral_ring  # noqa: E402

PARAMS = {"US": ROOT / "params" / "radiomics_us.yaml", "MRI": ROOT / "params" / "radiomics_mri.yaml"}
SINGLE_THREAD_ENV = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def write_workload(folder: Path, n_us: int, n_mri: int, seed: int = 7) -> list[Case]:
    """The project's real workload: digital-twin patients of the ``paper`` profile
    (the study's images, scanners and phenotype), each image with the regions the
    radiomics stage extracts for a reproducibility-subset patient: intra- and
    peri-tumoral (5 mm) regions of the true mask, the reader's mask and a perturbed
    mask (standing in for the U-Net's, which would need a trained network here).

    Parameters
    ----------
    folder
        Output folder.
    n_us, n_mri
        Number of images per modality (from the first patients of each centre, in turn).
    seed
        Random seed.

    Returns
    -------
    list of Case
    """
    from radsurv.cohort.twin import simulate_cohort
    from radsurv.config import load_profile
    from radsurv.imaging.twin import write_cohort_images

    profile = load_profile(ROOT / "params" / "paper.yml")
    twin = simulate_cohort(profile["cohort"]["twin"], seed)
    latents = twin.truth[["patient_id", "center", "a_img", "b_img", "size_mm"]]
    # Patients from every centre (scanners differ), interleaved.
    latents = latents.assign(rank=latents.groupby("center").cumcount()).sort_values(["rank", "center"])
    latents = latents.head(max(n_us, n_mri)).drop(columns="rank").reset_index(drop=True)
    paths = write_cohort_images(latents, folder / "images", scanners=profile["imaging"].get("scanners"),
                                seed=seed, n_jobs=2, progress=False, root=folder,
                                phenotype=profile["imaging"].get("phenotype"))
    rng = np.random.default_rng(seed)
    cases = []
    for modality, count in (("US", n_us), ("MRI", n_mri)):
        m = modality.lower()
        for row in paths.head(count).itertuples(index=False):
            patient = str(row.patient_id)
            true_mask = sitk.ReadImage(str(folder / getattr(row, f"{m}_mask")))
            reader = sitk.ReadImage(str(folder / getattr(row, f"{m}_reader_mask")))
            perturbed = perturb_mask(true_mask, rng, "jitter", jitter_voxels=1.5)
            masks = {}
            for source, lesion in (("true", true_mask), ("reader", reader), ("perturbed", perturbed)):
                for region, region_mask in (("intra", intratumoral(lesion)), ("peri", peritumoral_ring(lesion, 5.0))):
                    path = folder / f"{patient}_{m}_{region}_{source}.nii.gz"
                    sitk.WriteImage(region_mask, str(path))
                    masks[(region, source)] = path
            image_path = folder / getattr(row, f"{m}_image")
            image = sitk.ReadImage(str(image_path))
            if image.GetPixelID() == sitk.sitkUInt8:
                # The CLI cannot bin 8-bit images with numpy 2 (see radsurv.features.extract);
                # both tools get the same losslessly widened image.
                sitk.WriteImage(sitk.Cast(image, sitk.sitkInt16), str(image_path))
            cases.append(Case(patient, modality, image_path, masks))
    return cases


def run_cli(cases: list[Case], folder: Path, jobs: int, env: dict[str, str]) -> tuple[float, dict]:
    """Run ``pyradiomics`` batch mode per modality; return wall time and values.

    Parameters
    ----------
    cases
        Cases (one CSV row per image/mask pair).
    folder
        Work folder.
    jobs
        ``-j`` value.
    env
        Environment for the subprocess.

    Returns
    -------
    seconds, values
        ``values[(patient, modality, region, source)] = {feature: value}``.
    """
    executable = Path(sys.executable).with_name("pyradiomics")
    values: dict = {}
    seconds = 0.0
    for modality in ("US", "MRI"):
        selected = [c for c in cases if c.modality == modality]
        if not selected:
            continue
        batch = folder / f"batch_{modality}.csv"
        lookup = {}
        with open(batch, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Image", "Mask"])
            for case in selected:
                for key, mask in case.masks.items():
                    writer.writerow([str(case.image), str(mask)])
                    lookup[(str(case.image), str(mask))] = (case.patient, case.modality, *key)
        out = folder / f"cli_{modality}.csv"
        out.unlink(missing_ok=True)
        command = [str(executable), str(batch), "-p", str(PARAMS[modality]), "-j", str(jobs),
                   "-o", str(out), "-f", "csv", "--logging-level", "ERROR"]
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds += time.perf_counter() - start
        with open(out, newline="") as handle:
            for row in csv.DictReader(handle):
                key = lookup[(row["Image"], row["Mask"])]
                values[key] = {k: float(v) for k, v in row.items()
                               if k not in ("Image", "Mask") and not k.startswith("diagnostics")}
    return seconds, values


def cli_cpu_seconds_in_process(cases: list[Case], folder: Path) -> float:
    """CPU seconds of the PyRadiomics CLI run in this process with ``-j 1``.

    CPU time is far less sensitive than wall time to other users of a shared
    machine. BLAS is limited to one thread, as inside radsurv's workers.

    Parameters
    ----------
    cases
        Cases (the batch CSVs written by :func:`run_cli` are reused).
    folder
        Work folder.

    Returns
    -------
    float
    """
    from radiomics.scripts import PyRadiomicsCommandLine
    from threadpoolctl import threadpool_limits

    seconds = 0.0
    for modality in ("US", "MRI"):
        batch = folder / f"batch_{modality}.csv"
        if not batch.exists():
            continue
        out = folder / f"cli_cpu_{modality}.csv"
        arguments = [str(batch), "-p", str(PARAMS[modality]), "-j", "1", "-o", str(out), "-f", "csv",
                     "--logging-level", "ERROR", "--verbosity", "1"]
        with threadpool_limits(limits=1):
            start = time.process_time()
            PyRadiomicsCommandLine(arguments).run()
            seconds += time.process_time() - start
    return seconds


def run_ours(cases: list[Case], jobs: int, fast_mcc: bool = True):
    """Run :func:`extract_patients`; return wall time, values and the result.

    Parameters
    ----------
    cases
        Cases.
    jobs
        ``n_jobs``.
    fast_mcc
        Use the symmetric-eigenvalue MCC (the default of extract_patients).

    Returns
    -------
    seconds, values, result
    """
    start = time.perf_counter()
    result = extract_patients(cases, dict(PARAMS), n_jobs=jobs, progress=False, fast_mcc=fast_mcc)
    seconds = time.perf_counter() - start
    if len(result.failures):
        raise RuntimeError(result.failures.to_string())
    values: dict = {}
    for row in result.features.itertuples(index=False):
        values.setdefault((row.patient, row.modality, row.region, row.mask_source), {})[row.feature] = row.value
    return seconds, values, result


def largest_relative_difference(ours: dict, cli: dict) -> tuple[float, str]:
    """Largest |ours - cli| / |cli| over every pair and feature (same feature sets required)."""
    worst, where = 0.0, ""
    for key, reference in cli.items():
        mine = ours[key]
        if set(mine) != set(reference):
            raise AssertionError(f"feature sets differ for {key}: {sorted(set(mine) ^ set(reference))[:5]}")
        for name, value in reference.items():
            deviation = abs(mine[name] - value) / max(abs(value), 1e-12)
            if deviation > worst:
                worst, where = deviation, f"{key} {name}"
    return worst, where


def main() -> None:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-us", type=int, default=10)
    parser.add_argument("--n-mri", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cli-default-threads", action="store_true")
    parser.add_argument("--also-exact-mcc", action="store_true",
                        help="also time radsurv with fast_mcc=False (PyRadiomics' own MCC)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = write_workload(folder, args.n_us, args.n_mri)
        n_pairs = sum(len(c.masks) for c in cases)
        print(f"workload: {len(cases)} digital-twin images ({args.n_us} US, {args.n_mri} MRI), "
              f"{n_pairs} image/mask pairs, jobs={args.jobs}, cores={os.cpu_count()}")

        cli_env = dict(os.environ) | SINGLE_THREAD_ENV
        cli_seconds, cli_values = run_cli(cases, folder, args.jobs, cli_env)
        print(f"PyRadiomics CLI (-j {args.jobs}, single-thread BLAS): {cli_seconds:8.1f} s")
        if args.cli_default_threads:
            default_seconds, _ = run_cli(cases, folder, args.jobs, dict(os.environ))
            print(f"PyRadiomics CLI (-j {args.jobs}, default BLAS threads): {default_seconds:8.1f} s")

        ours_seconds, ours_values, result = run_ours(cases, args.jobs)
        print(f"radsurv extract_patients (n_jobs={args.jobs}):       {ours_seconds:8.1f} s")
        print(f"speed ratio CLI / radsurv: {cli_seconds / ours_seconds:.2f}x")
        worst, where = largest_relative_difference(ours_values, cli_values)
        n_values = sum(len(v) for v in cli_values.values())
        print(f"largest relative difference over {n_values} values: {worst:.3e} ({where})")

        total = sum(result.timings.values())
        shares = ", ".join(f"{k} {v / total:.1%}" for k, v in result.timings.items())
        print(f"radsurv time shares (summed over workers): {shares}")

        if args.also_exact_mcc:
            exact_seconds, exact_values, _ = run_ours(cases, args.jobs, fast_mcc=False)
            exact_worst, exact_where = largest_relative_difference(exact_values, cli_values)
            print(f"radsurv with PyRadiomics' own MCC (fast_mcc=False): {exact_seconds:.1f} s, ratio "
                  f"{cli_seconds / exact_seconds:.2f}x, largest relative difference {exact_worst:.3e}")

        cpu_start = time.process_time()
        one_seconds, _, _ = run_ours(cases, 1)  # n_jobs=1 runs in this process
        ours_cpu = time.process_time() - cpu_start
        efficiency = one_seconds / (2 * ours_seconds)
        print(f"radsurv n_jobs=1: {one_seconds:.1f} s; parallel efficiency t1 / (2 t2) = {efficiency:.2f}")
        cli_cpu = cli_cpu_seconds_in_process(cases, folder)
        print(f"CPU seconds, 1 job, in-process: CLI {cli_cpu:.1f} s, radsurv {ours_cpu:.1f} s, "
              f"ratio {cli_cpu / ours_cpu:.2f}x")


if __name__ == "__main__":
    main()

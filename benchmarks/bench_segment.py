"""Benchmark of the MONAI U-Net on CPU: the tiny 2D configuration of the tests.

Trains the configuration used by ``tests/segment/test_segment_unet.py`` (64 x 64 US-like
discs at 0.2 mm, 6 epochs x 10 iterations, batch 4) on 20 synthetic cases and predicts
4 more, with 1 torch thread and then with ``--threads`` threads. Prints seconds, ms per
training iteration and per predicted image, the ratio of the 1-thread training time to
the 60 s budget the test suite used to assert (speed is measured here, not in tests),
and the speed-up with more threads. Timings depend on the machine and its load; the
ratios are what to compare between runs.

Usage::

    .venv/bin/python benchmarks/bench_segment.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import SimpleITK as sitk
import torch

from radsurv.segment.unet import UNetSegmenter

TINY_US = dict(spacing_mm=(0.3, 0.3), patch=(48, 48), channels=(8, 16, 32), strides=(2, 2), epochs=6,
               iterations_per_epoch=10, batch_size=4, learning_rate=5e-3, seed=0)
BUDGET_S = 60.0  # the former test assertion


def disc_case(seed: int, n: int = 64, spacing: float = 0.2) -> tuple[sitk.Image, sitk.Image]:
    """A bright disc on noise and its mask (as the tests' synthetic US cases)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    cy, cx = rng.uniform(n * 0.38, n * 0.62, 2)
    r = rng.uniform(9, 14)
    mask = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2).astype(np.uint8)
    arr = np.clip(70.0 + 110.0 * mask + rng.normal(0, 22, (n, n)), 0, 255).astype(np.uint8)
    images = []
    for a in (arr, mask):
        img = sitk.GetImageFromArray(a)
        img.SetSpacing((spacing, spacing))
        images.append(img)
    return images[0], images[1]


def run(threads: int, cases) -> tuple[float, float, float]:
    """(training seconds, ms per iteration, ms per predicted image) with ``threads``."""
    torch.set_num_threads(threads)
    train, test = cases[:20], cases[20:]
    start = time.perf_counter()
    seg = UNetSegmenter("us", device="cpu", **TINY_US).fit([c[0] for c in train], [c[1] for c in train])
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    for img, _ in test:
        seg.predict(img)
    predict_ms = 1000 * (time.perf_counter() - start) / len(test)
    n_iter = TINY_US["epochs"] * TINY_US["iterations_per_epoch"]
    return seconds, 1000 * seconds / n_iter, predict_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the second run")
    args = parser.parse_args()
    print(f"load average before start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(other processes slow the timings down)")
    cases = [disc_case(i) for i in range(24)]
    results = {}
    for threads in sorted({1, args.threads}):
        seconds, per_iter, per_image = run(threads, cases)
        results[threads] = seconds
        print(f"threads={threads}: training {seconds:6.2f} s ({per_iter:6.1f} ms/iteration), "
              f"prediction {per_image:6.1f} ms/image")
    print(f"1-thread training / {BUDGET_S:.0f} s budget: {results[1] / BUDGET_S:.2f}")
    if args.threads != 1:
        print(f"speed-up with {args.threads} threads: {results[1] / results[args.threads]:.2f}x")


if __name__ == "__main__":
    main()

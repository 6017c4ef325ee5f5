"""How much the twin's scanners move its radiomic features (issue 27, item 3).

Scans ``--n`` travelling lesions per modality twice on each centre's scanner of a profile
(:mod:`radsurv.imaging.rescan`), extracts their features with the profile's parameter
files from the true mask and its ring, and prints per modality and region (and per
feature class with ``--by class``):

* the repeatability on one scanner: median test-retest ICC(A,1) of the internal centre's
  scanner and the shares of features with ICC >= 0.75 and >= 0.90;
* the reproducibility across scanners: the same for ICC(A,1) of the first scans on every
  scanner, and the scanner share (the part of a feature's variance that is a systematic
  scanner offset, ``1 - ICC(A,1) / ICC(C,1)``);

then the published studies they are set beside
(:data:`radsurv.sensitivity.scanner_agreement.PUBLISHED`).

Usage::

    python benchmarks/scanner_agreement.py --profile paper --n 24 [--by class] [--out table.csv]

Nothing here enters the paper: it checks the twin's scanner settings against published
repeatability and reproducibility, on lesions that are not the cohort's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from radsurv.config import load_profile, project_root
from radsurv.sensitivity.scanner_agreement import PUBLISHED, measure_scanner_agreement


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--n", type=int, default=24, help="travelling lesions per modality")
    ap.add_argument("--by", choices=("region", "class"), default="region")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="CSV of the per-feature table")
    args = ap.parse_args()
    profile = load_profile(args.profile)
    trait = bool(profile["cohort"]["twin"]["latent"].get("h"))
    t0 = time.perf_counter()
    agreement = measure_scanner_agreement(args.n, int(profile["seed"]), profile["features"], project_root(),
                                          imaging=profile["imaging"], latents={"h": True} if trait else None,
                                          n_jobs=args.n_jobs)
    pd.set_option("display.width", 200)
    print(agreement.title(), f"({time.perf_counter() - t0:.0f} s)")
    print(agreement.summary(by=args.by).round(3).to_string(index=False))
    print("\nRepeatability on each scanner (median test-retest ICC(A,1)):")
    print(agreement.retest_by_center.groupby(["modality", "region", "center"])["icc"].median().unstack().round(3))
    print("\nPublished:")
    print(PUBLISHED.to_string(index=False))
    if args.out is not None:
        agreement.table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()

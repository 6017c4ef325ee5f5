"""Benchmark: the sensitivity analyses' region variants, one image at a time.

Workload: digital-twin patients of the ``paper`` profile (US 2-D and MRI 3-D, every
centre's scanner), each image with the eleven regions ``06_sensitivity`` extracts for
it: intra- and peri-tumoral (5 mm) regions of three masks (true, reader, a jittered
mask standing in for the U-Net's) and the rings of 1, 2, 3, 7 and 10 mm around the
jittered mask; the paper's reduced set (original image; first order, GLCM, GLSZM),
one process, one BLAS thread.

Timed in this process, in turn:

1. PyRadiomics' ``RadiomicsFeatureExtractor.execute`` per (image, region): the obvious
   way (it reads, normalises and resamples the image again for every region);
2. radsurv's ``SharedFilterExtractor`` as it was before the sensitivity analyses
   (``union_grid=False``, PyRadiomics' GLCM class with the fast MCC only): each region
   on its own grid;
3. radsurv's ``SharedFilterExtractor`` as ``06_sensitivity`` runs it: one resampling
   onto the crop of PyRadiomics' lattice around all the regions of an image, and the
   GLCM's diagonal sums and cluster features from one ``bincount``.

Prints the seconds per image of each, the ratios, and the largest relative
difference of 3 against 1 and against 2 over every feature of every region.

Usage::

    python benchmarks/bench_variants.py [--n 6]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import radiomics  # noqa: E402
from radiomics.glcm import RadiomicsGLCM  # noqa: E402

from radsurv.features.extract import SharedFilterExtractor, make_extractor, read_params  # noqa: E402
from radsurv.features.robustness import perturb_mask  # noqa: E402
from radsurv.roi import intratumoral, peritumoral_ring, peritumoral_rings  # noqa: E402

WIDTHS = (1.0, 2.0, 3.0, 7.0, 10.0)


def workload(folder: Path, n: int, seed: int = 7) -> list[tuple[str, sitk.Image, dict]]:
    """``n`` twin patients per modality with their eleven regions."""
    from bench_features import write_workload

    cases = write_workload(folder, n, n, seed)
    rng = np.random.default_rng(seed)
    out = []
    for case in cases:
        image = sitk.ReadImage(str(case.image))
        true = sitk.ReadImage(str(case.masks[("intra", "true")]))
        reader = sitk.ReadImage(str(case.masks[("intra", "reader")]))
        auto = intratumoral(perturb_mask(true, rng, "jitter", jitter_voxels=1.5))
        regions = {}
        for source, lesion in (("auto", auto), ("reader", reader), ("true", true)):
            regions[("intra", source)] = lesion
            regions[("peri", source)] = peritumoral_ring(lesion, 5.0)
        for width, ring in peritumoral_rings(auto, WIDTHS).items():
            regions[("peri", f"ring{width:g}mm")] = ring
        out.append((case.modality.lower(), image, regions))
    return out


def reduced(modality: str) -> dict:
    """The paper profile's reduced set for the variants."""
    params = read_params(ROOT / "params" / f"radiomics_{modality}.yaml")
    params["imageType"] = {"Original": {}}
    params["featureClass"] = {"firstorder": None, "glcm": None, "glszm": None}
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=6, help="patients per modality")
    args = parser.parse_args()
    radiomics.setVerbosity(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        cases = workload(Path(tmp), args.n)
    seconds = {m: np.zeros(3) for m in ("us", "mri")}
    worst = {m: np.zeros(2) for m in ("us", "mri")}
    import radsurv.features.extract as extract_module

    for modality, image, regions in cases:
        params = reduced(modality)
        t0 = time.perf_counter()
        cli = {k: {f: float(v) for f, v in make_extractor(params).execute(image, mask).items()
                   if not f.startswith("diagnostics")} for k, mask in regions.items()}
        t1 = time.perf_counter()
        fast_glcm = extract_module.GLCMFastMCC
        saved = {name: getattr(fast_glcm, name) for name in ("_calculateCoefficients", "getClusterProminenceFeatureValue",
                                                             "getClusterShadeFeatureValue",
                                                             "getClusterTendencyFeatureValue")}
        for name in saved:                     # as before: PyRadiomics' own GLCM code but the MCC
            setattr(fast_glcm, name, getattr(RadiomicsGLCM, name))
        try:
            before, _ = SharedFilterExtractor(params, union_grid=False).extract(image, regions)
        finally:
            for name, method in saved.items():
                setattr(fast_glcm, name, method)
        t2 = time.perf_counter()
        now, errors = SharedFilterExtractor(params).extract(image, regions)
        t3 = time.perf_counter()
        assert not errors, errors
        seconds[modality] += [t1 - t0, t2 - t1, t3 - t2]
        for i, reference in enumerate((cli, before)):
            for key, values in reference.items():
                for feature, value in values.items():
                    rel = abs(now[key][feature] - value) / max(abs(value), 1e-12)
                    worst[modality][i] = max(worst[modality][i], rel)
    print(f"{args.n} patients per modality, 11 regions per image, reduced set (original; firstorder, glcm, glszm)")
    for modality in ("us", "mri"):
        cli, before, now = seconds[modality] / args.n
        print(f"{modality.upper():>3}: PyRadiomics execute {cli:.3f} s/image, radsurv before {before:.3f}, "
              f"now {now:.3f}; ratio execute/now {cli / now:.2f}x, before/now {before / now:.2f}x; "
              f"largest relative difference vs execute {worst[modality][0]:.1e}, vs before {worst[modality][1]:.1e}")


if __name__ == "__main__":
    main()

"""Shared fixtures of the imaging tests: small simulated samples and the real fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from radsurv.imaging import dice, scanner_for, simulate_mri, simulate_us

DATA = Path(__file__).resolve().parents[1] / "data" / "pyradiomics"
# Cases per modality in the signal tests (small lesions: seconds). US needs more: its
# nuisance (iso- and hypoechoic interiors, hidden margin patches, look-alikes) dilutes
# what a simple statistic sees of the latents (rank correlations of 0.3-0.4).
N_SIGNAL = {"us": 160, "mri": 64}


@pytest.fixture(scope="session")
def fixture_paths() -> dict[str, Path]:
    """The PyRadiomics breast MRI image and label (copied into tests/data)."""
    return {"image": DATA / "breast1_image.nrrd", "label": DATA / "breast1_label.nrrd"}


def case_statistics(case) -> dict[str, float]:
    """Simple image statistics: heterogeneity inside the true mask, mean of the
    1-3 mm ring outside it, reader Dice.

    Heterogeneity is the SD of the grey levels for ultrasound (B-mode grey is a dB
    scale, where the multiplicative texture of the echo is additive; the lesion's mean
    echo is a nuisance draw relative to its surroundings, so dividing by the mean would
    mix that in) and the coefficient of variation for MRI (arbitrary intensity scale)."""
    image = sitk.GetArrayFromImage(case.image).astype(np.float64)
    mask = sitk.GetArrayFromImage(case.true_mask).astype(bool)
    reader = sitk.GetArrayFromImage(case.reader_mask)
    spacing = case.image.GetSpacing()[::-1]
    outside = ndi.distance_transform_edt(~mask, sampling=spacing)
    ring = (outside >= 1.0) & (outside <= 3.0)
    inside = image[mask]
    return {
        "heterogeneity": inside.std() / (1.0 if case.info["modality"] == "us" else inside.mean()),
        "ring_mean": image[ring].mean(),
        "dice": dice(mask, reader),
    }


def _sample(modality: str) -> pd.DataFrame:
    """Latents, an independent 'outcome', and the image statistics of N_SIGNAL cases."""
    rng = np.random.default_rng(20240611 if modality == "us" else 20240612)
    n = N_SIGNAL[modality]
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    size = rng.uniform(10.0, 14.0, n)
    # US cases span the three centres (8-bit display scale is comparable); MRI uses one
    # centre because stored intensities have an arbitrary per-centre scale.
    centers = rng.integers(1, 4, n) if modality == "us" else np.full(n, 2)
    outcome = np.random.default_rng(7).standard_normal(n)  # unrelated to a, b
    simulate = simulate_us if modality == "us" else simulate_mri
    rows = []
    for i in range(n):
        case = simulate(a[i], b[i], size[i], scanner_for(int(centers[i]), modality), np.random.default_rng(1000 + i))
        rows.append(case_statistics(case))
    frame = pd.DataFrame(rows)
    frame["a"], frame["b"], frame["outcome"] = a, b, outcome
    return frame


@pytest.fixture(scope="session")
def us_sample() -> pd.DataFrame:
    return _sample("us")


@pytest.fixture(scope="session")
def mri_sample() -> pd.DataFrame:
    return _sample("mri")

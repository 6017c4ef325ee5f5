"""The simulated images carry the latents' signal where they should, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr


@pytest.fixture(params=["us", "mri"])
def sample(request, us_sample, mri_sample):
    return {"us": us_sample, "mri": mri_sample}[request.param]


def test_heterogeneity_tracks_aggressiveness(sample):
    rho, p = spearmanr(sample["heterogeneity"], sample["a"])
    assert rho > 0.3 and p < 0.01, (rho, p)


def test_peritumoral_ring_tracks_invasive_front(sample):
    rho, p = spearmanr(sample["ring_mean"], sample["b"])
    assert rho > 0.3 and p < 0.01, (rho, p)


def test_statistics_unrelated_to_an_independent_outcome(sample):
    # Images depend on (a, b, size, nuisance) only: a variable drawn independently of
    # them (as the hazard is in the null profile) must not correlate with them, and
    # neither must what is left of a statistic once a and b are regressed out.
    design = np.column_stack([np.ones(len(sample)), sample["a"], sample["b"]])
    for column in ("heterogeneity", "ring_mean"):
        rho, p = spearmanr(sample[column], sample["outcome"])
        assert abs(rho) < 0.3 and p > 0.01, (column, rho, p)
        coef, *_ = np.linalg.lstsq(design, sample[column].to_numpy(), rcond=None)
        residual = sample[column].to_numpy() - design @ coef
        rho, p = spearmanr(residual, sample["outcome"])
        assert abs(rho) < 0.3 and p > 0.01, (column, "residual", rho, p)


def test_reader_dice_in_human_range(sample):
    median = float(np.median(sample["dice"]))
    assert 0.80 <= median <= 0.92, median
    assert np.percentile(sample["dice"], 10) > 0.70
    assert sample["dice"].max() < 0.98  # readers never reproduce the truth exactly

"""Travelling lesions (radsurv.imaging.rescan): one tumour, many scans."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import SimpleITK as sitk

from radsurv.imaging import scanner_for, simulate_mri, simulate_us
from radsurv.imaging.rescan import SCAN_COLUMNS, travelling_latents, write_travelling_scans

SIMULATORS = {"us": simulate_us, "mri": simulate_mri}


def _array(image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


@pytest.mark.parametrize("modality", ["us", "mri"])
def test_a_rescan_keeps_the_tumour_and_redraws_the_scan(modality):
    """Two scans of one lesion on one scanner: the same lesion (its mask's size), another
    image; the same scan stream twice: the same bytes."""
    sim = SIMULATORS[modality]
    scanner = scanner_for(1, modality)
    one = sim(0.4, 0.1, 16.0, scanner, np.random.default_rng(3), scan_rng=np.random.default_rng(11))
    again = sim(0.4, 0.1, 16.0, scanner, np.random.default_rng(3), scan_rng=np.random.default_rng(11))
    other = sim(0.4, 0.1, 16.0, scanner, np.random.default_rng(3), scan_rng=np.random.default_rng(12))
    assert np.array_equal(_array(one.image), _array(again.image))
    assert not np.array_equal(_array(one.image), _array(other.image))
    area = [int(_array(c.true_mask).sum()) for c in (one, other)]
    # the lesion's shape is the tumour's: only its placement on the grid moves
    assert abs(area[0] - area[1]) / area[0] < 0.03
    # a lesion drawn from another tumour stream is another shape
    stranger = sim(0.4, 0.1, 16.0, scanner, np.random.default_rng(4), scan_rng=np.random.default_rng(11))
    assert abs(int(_array(stranger.true_mask).sum()) - area[0]) / area[0] > 0.03


def test_travelling_latents_are_seeded_and_checked():
    a = travelling_latents(5, 7, "mri", latents={"h": True})
    b = travelling_latents(5, 7, "mri", latents={"h": True})
    assert a.equals(b)
    assert list(a.columns) == ["lesion", "a_img", "b_img", "size_mm", "h_img", "mri_bpe"]
    assert not a["a_img"].equals(travelling_latents(5, 8, "mri")["a_img"])
    assert "h_img" not in travelling_latents(5, 7, "us")
    # a twin without background enhancement (the quick profile's) keeps no category
    assert "mri_bpe" not in travelling_latents(5, 7, "mri", phenotype={"mri": {"bpe": None}})
    with pytest.raises(ValueError, match="at least 3"):
        travelling_latents(2, 7, "us")
    with pytest.raises(ValueError, match="modality"):
        travelling_latents(5, 7, "ct")


def test_written_scans(tmp_path):
    table = write_travelling_scans("us", 3, tmp_path / "a", seed=5, centers=(1, 2), scans=2, progress=False)
    assert list(table.columns) == SCAN_COLUMNS
    assert len(table) == 3 * 2 * 2
    assert table.groupby(["lesion", "center"]).size().eq(2).all()
    digest = {p: hashlib.sha256((tmp_path / "a" / p).read_bytes()).hexdigest() for p in table["image"]}
    assert len(set(digest.values())) == len(table)  # every scan its own image
    again = write_travelling_scans("us", 3, tmp_path / "b", seed=5, centers=(1, 2), scans=2, progress=False,
                                   n_jobs=2)
    assert [hashlib.sha256((tmp_path / "b" / p).read_bytes()).hexdigest() for p in again["image"]] == \
        list(digest.values())
    with pytest.raises(ValueError, match="centre"):
        write_travelling_scans("us", 3, tmp_path / "c", seed=5, centers=(1, 9), progress=False)

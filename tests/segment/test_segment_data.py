"""Resampling keeps the physical field of view; normalisation per modality; augmentation shapes."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radsurv.segment.data import default_params, normalise, prepare, resample, train_transform

from ._segment_synth import disc_case, sphere_case


def test_resample_keeps_extent_and_direction():
    img, _ = sphere_case(0, shape=(16, 32, 32), spacing=(0.8, 0.8, 2.0))
    out = resample(img, (1.0, 1.0, 2.0))
    assert out.GetSize() == (26, 26, 16) and out.GetDirection() == img.GetDirection()
    # Same physical corner: first voxel corner = origin - D * spacing / 2.
    d = np.array(img.GetDirection()).reshape(3, 3)
    corner_in = np.array(img.GetOrigin()) - d @ (np.array(img.GetSpacing()) / 2)
    corner_out = np.array(out.GetOrigin()) - d @ (np.array(out.GetSpacing()) / 2)
    np.testing.assert_allclose(corner_in, corner_out, atol=1e-6)


def test_prepare_aligns_mask_and_image_on_the_network_grid():
    img, mask = disc_case(0, n=64, spacing=0.2)
    p = prepare(img, "us", default_params("us"), mask)
    assert p.image.shape == p.label.shape == (1, 43, 43)
    assert 0.0 <= p.image.min() and p.image.max() <= 1.0
    # The lesion is brighter than the background on the new grid too.
    assert p.image[p.label > 0].mean() > p.image[p.label == 0].mean() + 0.2
    # Area is preserved by the resampling (measured +1.5% from 0.2 mm to 0.3 mm pixels).
    area_in = sitk.GetArrayFromImage(mask).sum() * 0.2**2
    assert p.label.sum() * 0.3**2 == pytest.approx(area_in, rel=0.02)


def test_mri_normalisation_ignores_scale_and_offset():
    img, _ = sphere_case(1)
    a = sitk.GetArrayFromImage(img).astype(np.float32)
    params = default_params("mri")
    np.testing.assert_allclose(normalise(a, "mri", params), normalise(3.7 * a + 500, "mri", params), atol=1e-4)


def test_us_outside_8bit_falls_back_to_percentiles():
    a = np.linspace(0, 4000, 100).reshape(10, 10)
    out = normalise(a, "us", default_params("us"))
    assert out.min() == 0.0 and out.max() == 1.0


@pytest.mark.parametrize("modality", ["us", "mri"])
def test_augmentation_gives_patches_of_the_patch_size(modality):
    params = default_params(modality)
    img, mask = disc_case(0, n=64, spacing=0.2) if modality == "us" else sphere_case(0)
    p = prepare(img, modality, params, mask)
    t = train_transform(modality, params)
    t.set_random_state(seed=0)
    s = t({"image": p.image, "label": p.label})[0]
    want = tuple(reversed(params["patch"]))
    assert tuple(s["image"].shape[1:]) == want and tuple(s["label"].shape[1:]) == want
    assert set(np.unique(np.asarray(s["label"]))) <= {0.0, 1.0}

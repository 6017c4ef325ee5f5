"""Tests for radsurv.features.extract: equality with PyRadiomics, 2-D shape, cache,
parallel back-ends, failures and the wide matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.features.extract import (
    Case,
    ExtractionError,
    SharedFilterExtractor,
    extract_patients,
    make_extractor,
    wide_matrix,
)

from ._feature_synthetic import textured_case

ROOT = Path(__file__).resolve().parents[2]
MRI_PARAMS = ROOT / "params" / "radiomics_mri.yaml"
US_PARAMS = ROOT / "params" / "radiomics_us.yaml"


def _largest_relative_difference(ours: dict, reference: dict) -> float:
    """Largest |a - b| / |b| over features (keys must match)."""
    assert set(ours) == set(reference)
    return max(abs(ours[k] - reference[k]) / max(abs(reference[k]), 1e-12) for k in reference)


def _execute(params, image, mask) -> dict:
    """PyRadiomics' own per-(image, mask) extraction, as floats."""
    values = make_extractor(params).execute(image, mask)
    return {k: float(v) for k, v in values.items() if not k.startswith("diagnostics")}


@pytest.mark.parametrize(
    "params,size,spacing,radius",
    [
        (MRI_PARAMS, (40, 40, 16), (0.7, 0.7, 2.0), 5.0),  # 3D, resampled to 1 mm
        (US_PARAMS, (90, 90), (0.1, 0.1), 2.5),  # 2D, whole-image filters shared
    ],
    ids=["mri3d", "us2d"],
)
def test_shared_filters_equal_pyradiomics_execute(params, size, spacing, radius):
    image, masks = textured_case(size, spacing, radius, seed=3)
    chosen = {key: masks[key] for key in [("intra", "true"), ("peri", "reader")]}
    extractor = SharedFilterExtractor(params)
    results, errors = extractor.extract(image, chosen)
    assert not errors
    names = set()
    for key, mask in chosen.items():
        reference = _execute(params, image, mask)
        assert _largest_relative_difference(results[key], reference) < 1e-6
        names |= set(reference)
    # LoG and wavelet images were really enabled and compared
    assert any(n.startswith("log-sigma-3-0-mm-3D_glcm_") for n in names)
    assert any(n.startswith("wavelet-") and "_glszm_" in n for n in names)


def _original_only(params_file, classes=("firstorder", "glcm", "glszm", "shape")) -> dict:
    """A parameter file cut to the original image (the sensitivity analyses' reduced set)."""
    from radsurv.features.extract import read_params

    params = read_params(params_file)
    params["imageType"] = {"Original": {}}
    shape = "shape2D" if "force2D" in params["setting"] else "shape"
    params["featureClass"] = {(shape if c == "shape" else c): None for c in classes}
    return params


@pytest.mark.parametrize("params_file,size,spacing,radius", [
    (MRI_PARAMS, (40, 40, 16), (0.7, 0.7, 2.0), 5.0),   # resampled: one B-spline resampling for all masks
    (US_PARAMS, (90, 90), (0.1, 0.1), 2.5),             # not resampled: the union crop
], ids=["mri3d", "us2d"])
def test_one_grid_for_all_masks_gives_each_masks_own_values(monkeypatch, params_file, size, spacing, radius):
    """The union crop of PyRadiomics' lattice holds each mask's own grid: the values
    equal ``execute`` per mask (to the round-off of where the grid points are computed),
    with one resampling of the image instead of one per mask."""
    from radiomics import imageoperations

    image, masks = textured_case(size, spacing, radius, seed=4)
    masks[("peri", "wide")] = textured_case(size, spacing, radius, seed=4, ring_mm=6.0)[1][("peri", "true")]
    params = _original_only(params_file)
    calls = []
    resample = imageoperations.resampleImage
    monkeypatch.setattr(imageoperations, "resampleImage", lambda *a, **k: calls.append(1) or resample(*a, **k))
    shared, errors = SharedFilterExtractor(params).extract(image, masks)
    assert not errors and len(shared) == 5
    resampled = "resampledPixelSpacing" in params["setting"] and params["setting"]["resampledPixelSpacing"]
    assert len(calls) == (1 if resampled else 0)
    calls.clear()
    own, _ = SharedFilterExtractor(params, union_grid=False).extract(image, masks)
    assert len(calls) == (5 if resampled else 0)
    for key, mask in masks.items():
        # against PyRadiomics as the other tests (the fast MCC agrees to ~1e-8) ...
        assert _largest_relative_difference(shared[key], _execute(params, image, mask)) < 1e-6, key
        # ... and against each mask on its own grid: the same voxels, to round-off
        assert _largest_relative_difference(shared[key], own[key]) < 1e-11, key
        if not resampled:            # a crop: not even round-off
            assert shared[key] == own[key]
    assert any("_glcm_ClusterProminence" in n for n in shared[("intra", "true")])


def test_one_grid_only_where_it_is_exact(monkeypatch):
    """Filtered images depend on where the grid ends, and a mask on another grid has
    another lattice: then every mask keeps its own grid."""
    from radiomics import imageoperations

    image, masks = textured_case((40, 40, 16), (0.7, 0.7, 2.0), 5.0, seed=5)
    calls = []
    resample = imageoperations.resampleImage
    monkeypatch.setattr(imageoperations, "resampleImage", lambda *a, **k: calls.append(1) or resample(*a, **k))
    with_log = _original_only(MRI_PARAMS)
    with_log["imageType"]["LoG"] = {"sigma": [1.0]}
    SharedFilterExtractor(with_log).extract(image, masks)
    assert len(calls) == 4
    calls.clear()
    moved = sitk.Image(masks[("intra", "reader")])
    moved.SetOrigin(tuple(o + 0.35 for o in moved.GetOrigin()))
    _, errors = SharedFilterExtractor(_original_only(MRI_PARAMS)).extract(image, {**masks, ("intra", "moved"): moved})
    assert len(calls) == 5


def test_masks_on_same_grid_are_filtered_once(monkeypatch):
    image, masks = textured_case((90, 90), (0.1, 0.1), 2.5, seed=1)
    extractor = SharedFilterExtractor(US_PARAMS)
    calls = []
    original = extractor._filtered_images
    monkeypatch.setattr(extractor, "_filtered_images", lambda *a: calls.append(1) or original(*a))
    results, errors = extractor.extract(image, masks)
    assert not errors and len(results) == 4
    assert len(calls) == 1  # no resampling: one processing grid for the 4 masks


def test_us_2d_has_shape2d_and_no_3d_shape():
    image, masks = textured_case((80, 80), (0.1, 0.1), 2.0, seed=2, dtype=np.uint8)
    assert image.GetPixelID() == sitk.sitkUInt8  # 8-bit US, which the CLI cannot bin
    results, errors = SharedFilterExtractor(US_PARAMS).extract(image, {("intra", "true"): masks[("intra", "true")]})
    assert not errors
    names = list(results[("intra", "true")])
    assert any(n.startswith("original_shape2D_") for n in names)
    assert "original_shape2D_MaximumDiameter" in names
    assert not any(n.startswith("original_shape_") for n in names)


def _us_cases(tmp_path: Path, n: int) -> list[Case]:
    """Tiny US cases written as NIfTI files (paths, as a manifest would give)."""
    cases = []
    for i in range(n):
        image, masks = textured_case((70, 70), (0.1, 0.1), 2.0, seed=10 + i)
        folder = tmp_path / f"p{i}"
        folder.mkdir()
        sitk.WriteImage(image, str(folder / "image.nii.gz"))
        paths = {}
        for (region, source), mask in masks.items():
            if source == "true":
                continue
            paths[(region, source)] = folder / f"{region}_{source}.nii.gz"
            sitk.WriteImage(mask, str(paths[(region, source)]))
        cases.append(Case(f"P{i:03d}", "US", folder / "image.nii.gz", paths))
    return cases


def test_cache_second_run_extracts_nothing_and_matches(tmp_path):
    cases = _us_cases(tmp_path, 2)
    cache = tmp_path / "cache"
    first = extract_patients(cases, US_PARAMS, n_jobs=2, progress=False, cache_dir=cache)
    assert first.n_extracted == 4 and first.n_cached == 0 and first.failures.empty
    second = extract_patients(cases, US_PARAMS, n_jobs=1, progress=False, cache_dir=cache)
    assert second.n_extracted == 0 and second.n_cached == 4
    pd.testing.assert_frame_equal(first.features, second.features)
    # cached values equal a fresh extraction without cache
    fresh = extract_patients(cases, US_PARAMS, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(fresh.features, second.features)
    # a changed parameter file is a different cache entry
    changed = tmp_path / "params.yaml"
    changed.write_text(US_PARAMS.read_text().replace("binWidth: 16", "binWidth: 20"))
    third = extract_patients(cases, {"US": changed}, n_jobs=1, progress=False, cache_dir=cache)
    assert third.n_extracted == 4


def test_dask_local_cluster_gives_same_values(tmp_path):
    import distributed  # pinned in requirements.lock (dask[distributed]): a plain import, no skip

    cases = _us_cases(tmp_path, 2)
    local = extract_patients(cases, US_PARAMS, n_jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = extract_patients(cases, US_PARAMS, progress=False, scheduler=client)
        assert client.status == "running"   # a client given is left open for its owner
        # an address (compute.scheduler): connected through radsurv.compute.dask_client, closed after
        by_address = extract_patients(cases, US_PARAMS, progress=False, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local.features, remote.features)
    pd.testing.assert_frame_equal(local.features, by_address.features)


def test_tidy_columns_and_wide_matrix(tmp_path):
    cases = _us_cases(tmp_path, 2)
    features, failures = extract_patients(cases, US_PARAMS, n_jobs=1, progress=False)
    assert list(features.columns) == ["patient", "modality", "region", "mask_source", "feature", "value"]
    assert failures.empty
    wide = wide_matrix(features, "US", "peri", "reader")
    assert list(wide.index) == ["P000", "P001"]
    assert "original_firstorder_Mean" in wide.columns and "wavelet-HH_glszm_ZoneEntropy" in wide.columns
    assert np.isfinite(wide.to_numpy()).all()
    with pytest.raises(ValueError, match="no features"):
        wide_matrix(features, "MRI", "peri", "reader")


def test_failures_reported_skipped_or_raised(tmp_path):
    cases = _us_cases(tmp_path, 2)
    empty = sitk.Image(70, 70, sitk.sitkUInt8)
    empty.SetSpacing((0.1, 0.1))
    empty.SetOrigin((-10.0, -6.7))
    bad_path = tmp_path / "empty.nii.gz"
    sitk.WriteImage(empty, str(bad_path))
    cases[1].masks = dict(cases[1].masks) | {("peri", "auto"): bad_path}
    features, failures = extract_patients(cases, US_PARAMS, n_jobs=1, progress=False, on_error="skip")
    assert len(failures) == 1
    row = failures.iloc[0]
    assert (row.patient, row.region, row.mask_source) == ("P001", "peri", "auto")
    assert "No labels found" in row.reason
    assert set(features.loc[features.patient == "P001", "mask_source"]) == {"reader"}
    with pytest.raises(ExtractionError, match="P001/US/peri/auto"):
        extract_patients(cases, US_PARAMS, n_jobs=1, progress=False, on_error="raise")


def test_non_finite_values_are_failures():
    from radsurv.features.extract import _non_finite

    reasons = _non_finite({("intra", "auto"): {"a": 1.0, "b": float("nan")}, ("peri", "auto"): {"a": 2.0}})
    assert list(reasons) == [("intra", "auto")]
    assert "b" in reasons[("intra", "auto")]


def test_fast_glcm_equals_pyradiomics_class():
    """GLCMFastMCC's diagonal sums and cluster features are PyRadiomics' own values
    summed in another order (grey levels missing from the region included: the sums
    run over the levels present, as PyRadiomics' do)."""
    from radiomics import imageoperations
    from radiomics.glcm import RadiomicsGLCM

    from radsurv.features.extract import GLCMFastMCC

    image, masks = textured_case((40, 40, 16), (0.7, 0.7, 2.0), 5.0, seed=6)
    settings = {"binWidth": 1, "symmetricalGLCM": True, "distances": [1], "label": 1}
    for mask in (masks[("intra", "true")], masks[("peri", "reader")]):
        box, _ = imageoperations.checkMask(image, mask, label=1)
        img, msk = imageoperations.cropToTumorMask(image, mask, box)
        ours, theirs = GLCMFastMCC(img, msk, **settings), RadiomicsGLCM(img, msk, **settings)
        for glcm in (ours, theirs):
            glcm.enableAllFeatures()
            glcm._initCalculation()
        n_levels = ours.coefficients["Ng"]
        assert len(ours.coefficients["grayLevels"]) < n_levels      # some levels absent: the hard case
        for name in ("pxAddy", "pxSuby", "HXY", "ux", "px"):
            np.testing.assert_allclose(ours.coefficients[name], theirs.coefficients[name], rtol=1e-12, atol=1e-15)
        for feature in ("ClusterProminence", "ClusterShade", "ClusterTendency", "SumEntropy", "DifferenceVariance"):
            a = getattr(ours, f"get{feature}FeatureValue")()
            b = getattr(theirs, f"get{feature}FeatureValue")()
            np.testing.assert_allclose(a, b, rtol=1e-10, err_msg=feature)


def _lesion(image: sitk.Image, boxes) -> sitk.Image:
    """A binary mask on ``image``'s grid, 1 in each numpy-order box ``(z0, z1, y0, y1, x0, x1)``."""
    arr = np.zeros(sitk.GetArrayViewFromImage(image).shape, dtype=np.uint8)
    for z0, z1, y0, y1, x0, x1 in boxes:
        arr[z0:z1, y0:y1, x0:x1] = 1
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(image)
    return mask


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.664062, 0.664062, 2.1)], ids=["1mm", "tiny_lesion_shape"])
def test_region_problem_says_what_the_extraction_says(spacing):
    """A lesion the settings turn down (minimumROISize 20: PyRadiomics needs more than 20
    voxels, minimumROIDimensions 3) fails the extraction with the reason region_problem
    gives without the image; one voxel more passes both. On a 1 mm grid the MRI file does
    not resample (its spacing already), so the boundary is exactly 20 / 21 voxels; on the
    cohort-shape grid (0.66 x 0.66 x 2.1 mm) a 2 x 2 x 2 voxel lesion keeps one dimension
    after resampling to 1 mm."""
    from radsurv.features.extract import region_problem

    params = _original_only(MRI_PARAMS, classes=("firstorder", "shape"))
    rng = np.random.default_rng(5)
    image = sitk.GetImageFromArray(rng.normal(100, 20, (24, 40, 40)).astype(np.float32))
    image.SetSpacing(spacing)
    if spacing == (1.0, 1.0, 1.0):
        masks = {("small", "auto"): _lesion(image, [(10, 15, 18, 20, 18, 20)]),                 # 20 voxels
                 ("enough", "auto"): _lesion(image, [(10, 15, 18, 20, 18, 20), (10, 11, 20, 21, 18, 19)]),
                 ("flat", "auto"): _lesion(image, [(10, 11, 10, 20, 10, 20)])}                # 100 voxels, 2-D
        expected = {("small", "auto"): "Size of the ROI is too small (minimum size: 20, ROI size: 20)",
                    ("flat", "auto"): "mask has too few dimensions (number of dimensions 2, minimum required 3)"}
    else:
        masks = {("tiny", "auto"): _lesion(image, [(10, 12, 18, 20, 18, 20)]),                  # 8 voxels
                 ("enough", "auto"): _lesion(image, [(8, 14, 14, 24, 14, 24)])}
        expected = {("tiny", "auto"): "mask has too few dimensions (number of dimensions 1, minimum required 3)"}
    _, errors = SharedFilterExtractor(params, union_grid=False).extract(image, masks)
    # (PyRadiomics' size message leaves its parenthesis open; region_problem closes it)
    assert {k: e.split(": ", 1)[1].rstrip(")") for k, e in errors.items()} == {k: e.rstrip(")")
                                                                               for k, e in expected.items()}
    for key, mask in masks.items():
        why = region_problem(mask, params)
        if key in expected:
            voxels = int(sitk.GetArrayViewFromImage(mask).sum())
            assert why.startswith(f"{voxels} voxels in the lesion; PyRadiomics refuses it")
            assert f": {expected[key]} (setting.minimumROISize 20, setting.minimumROIDimensions 3)" in why
        else:
            assert why == ""


def test_region_problem_reads_a_constant_image_as_the_extraction_does():
    """With setting.normalize PyRadiomics divides the whole image by its SD: a constant
    image (the cohort shape constant_intensity) fails the extraction whatever its lesion,
    and region_problem says so when it is given the image; an image with any spread, or
    the mask alone, passes. Without normalisation the constant image is extracted."""
    from radsurv.features.extract import read_params, region_problem

    params = _original_only(MRI_PARAMS, classes=("firstorder",))
    assert read_params(params)["setting"]["normalize"] is True
    flat = sitk.GetImageFromArray(np.full((24, 40, 40), 137.0, dtype=np.float32))
    flat.SetSpacing((1.0, 1.0, 1.0))
    masks = {("ok", "auto"): _lesion(flat, [(8, 14, 14, 24, 14, 24)])}
    _, errors = SharedFilterExtractor(params, union_grid=False).extract(flat, masks)
    assert list(errors) == [("ok", "auto")]                      # the extraction fails on it
    why = region_problem(masks[("ok", "auto")], params, image=flat)
    assert why.startswith("the image is constant (137 in every voxel): PyRadiomics' normalisation")
    assert region_problem(masks[("ok", "auto")], params) == ""   # the mask alone cannot tell
    spread = sitk.GetImageFromArray(np.random.default_rng(1).normal(137, 5, (24, 40, 40)).astype(np.float32))
    spread.CopyInformation(flat)
    assert region_problem(masks[("ok", "auto")], params, image=spread) == ""
    raw = {**read_params(params), "setting": {**read_params(params)["setting"], "normalize": False}}
    assert region_problem(masks[("ok", "auto")], raw, image=flat) == ""
    _, errors = SharedFilterExtractor(raw, union_grid=False).extract(flat, masks)
    assert errors == {}

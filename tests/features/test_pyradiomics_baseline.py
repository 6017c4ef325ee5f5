"""radsurv's extractor reproduces PyRadiomics' own baseline values for breast1.

The baselines (tests/data/pyradiomics/baseline, from PyRadiomics, BSD-3) hold one column
per test case; ``diagnostics_Configuration_Settings`` records the settings used. Every
``breast1*`` column of every feature class is re-extracted with those settings through
:class:`radsurv.features.extract.SharedFilterExtractor` and compared feature by feature.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsurv.features.extract import SharedFilterExtractor

DATA = Path(__file__).resolve().parents[1] / "data" / "pyradiomics"
BASELINE = DATA / "baseline"
# PyRadiomics' own test suite accepts 3 significant digits against these files
# (baselines were written by older releases); we hold ourselves to a much tighter bound.
RELATIVE_TOLERANCE = 1e-6


def _breast1_columns() -> list[tuple[str, str]]:
    """(feature class, test case column) for every breast1 baseline column."""
    pairs = []
    for path in sorted(BASELINE.glob("baseline_*.csv")):
        feature_class = path.stem.replace("baseline_", "")
        columns = pd.read_csv(path, index_col=0, nrows=0).columns
        pairs += [(feature_class, column) for column in columns if column.startswith("breast1")]
    return pairs


def _params(table: pd.DataFrame, column: str, feature_class: str) -> dict:
    """PyRadiomics parameter dict reproducing one baseline column."""
    settings = ast.literal_eval(table.loc["diagnostics_Configuration_Settings", column])
    image_types = ast.literal_eval(table.loc["diagnostics_Configuration_EnabledImageTypes", column])
    settings = {k: v for k, v in settings.items() if v is not None and k != "additionalInfo"}
    settings["additionalInfo"] = False
    return {"setting": settings, "imageType": image_types, "featureClass": {feature_class: None}}


@pytest.fixture(scope="module")
def breast1():
    image = sitk.ReadImage(str(DATA / "breast1_image.nrrd"))
    mask = sitk.ReadImage(str(DATA / "breast1_label.nrrd"))
    return image, mask


def _single_slice(mask: sitk.Image, slice_index: int) -> sitk.Image:
    """The label on one axial slice only (PyRadiomics' 2-D shape test case)."""
    array = sitk.GetArrayFromImage(mask)
    keep = np.zeros_like(array)
    keep[slice_index] = array[slice_index]
    single = sitk.GetImageFromArray(keep)
    single.CopyInformation(mask)
    return single


@pytest.mark.parametrize("feature_class,column", _breast1_columns())
def test_breast1_matches_pyradiomics_baseline(breast1, feature_class, column):
    table = pd.read_csv(BASELINE / f"baseline_{feature_class}.csv", index_col=0)
    image, mask = breast1
    if feature_class == "shape2D":
        # that case used a one-slice mask: slice z=9 of the label (82 voxels, see
        # diagnostics_Mask-corrected_CenterOfMassIndex / VoxelNum of the column)
        mask = _single_slice(mask, 9)
        assert int(table.loc["diagnostics_Mask-corrected_VoxelNum", column]) == int(
            sitk.GetArrayViewFromImage(mask).sum()
        )
    extractor = SharedFilterExtractor(_params(table, column, feature_class), fast_mcc=True)
    results, errors = extractor.extract(image, {("intra", "test"): mask})
    assert not errors
    values = results[("intra", "test")]
    expected = table[column].drop([i for i in table.index if i.startswith("diagnostics")]).dropna()
    assert len(expected) > 0
    worst = 0.0
    for feature, reference in expected.items():
        assert feature in values, f"{feature} not extracted"
        reference = float(reference)
        deviation = abs(values[feature] - reference) / max(abs(reference), 1e-12)
        worst = max(worst, deviation)
        assert deviation < RELATIVE_TOLERANCE, (feature, values[feature], reference)

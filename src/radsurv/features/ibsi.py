"""IBSI 1 compliance check of the PyRadiomics configuration on the digital phantom.

The IBSI 1 digital phantom (5 x 4 x 4 voxels of 2 mm, integer grey levels 1-9, with a
mask) has consensus reference values with tolerances (Zwanenburg et al., Radiology
2020). Configuration used here, as the phantom's README specifies: no interpolation,
no re-segmentation, no discretisation (``binWidth: 1`` starting at the minimum grey
level 1 reproduces the phantom's own levels), GLCM/NGLDM distance 1, NGLDM coarseness
0 (``gldm_a: 0``), no energy shift (``voxelArrayShift: 0``).

Aggregation: PyRadiomics computes GLCM and GLRLM features per direction and averages
them (IBSI ``3d_avg``); GLSZM, NGTDM and GLDM (= IBSI NGLDM) are computed over all
directions at once (IBSI ``3d``).

:func:`compliance_table` maps each PyRadiomics feature to its IBSI tag and compares. A
feature passes when ``|value - reference| <= tolerance``, after applying a documented
convention difference where one exists (``reason`` says which); features without an
IBSI 1 equivalent (e.g. ``TotalEnergy``, ``MCC``, 2-D diameters) are not mapped. The
phantom's tolerances are 0 but its references are rounded to 3 significant digits; see
:func:`effective_tolerance`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import SimpleITK as sitk

from ..exceptions import StageError
from ..results import ShowsItself
from .extract import SharedFilterExtractor

__all__ = ["compliance_table", "CONVENTIONS", "effective_tolerance", "extract_phantom", "feature_map",
           "IbsiCompliance", "ibsi_check", "IBSI_PARAMS", "PHANTOM_DIR", "reference_values"]

# The phantom ships with the package (CC-BY 4.0, IBSI; see its README and LICENSE), so the
# compliance check runs from a clone or an installed package alike.
PHANTOM_DIR = Path(__file__).resolve().parents[1] / "data" / "ibsi1_digital_phantom"

IBSI_PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {name: None for name in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")},
    "setting": {
        "label": 1,
        "binWidth": 1,
        "voxelArrayShift": 0,
        "distances": [1],
        "symmetricalGLCM": True,
        "gldm_a": 0,
        "minimumROIDimensions": 1,
        "normalize": False,
        "force2D": False,
        "additionalInfo": False,
    },
}

# IBSI tag (MIRP naming, aggregation suffix added below) -> PyRadiomics feature
_SHAPE = {
    "morph_volume": "MeshVolume",
    "morph_vol_approx": "VoxelVolume",
    "morph_area_mesh": "SurfaceArea",
    "morph_av": "SurfaceVolumeRatio",
    "morph_sphericity": "Sphericity",
    "morph_diam": "Maximum3DDiameter",
    "morph_pca_maj_axis": "MajorAxisLength",
    "morph_pca_min_axis": "MinorAxisLength",
    "morph_pca_least_axis": "LeastAxisLength",
    "morph_pca_elongation": "Elongation",
    "morph_pca_flatness": "Flatness",
}
_FIRSTORDER = {
    "stat_mean": "Mean",
    "stat_var": "Variance",
    "stat_skew": "Skewness",
    "stat_kurt": "Kurtosis",
    "stat_median": "Median",
    "stat_min": "Minimum",
    "stat_p10": "10Percentile",
    "stat_p90": "90Percentile",
    "stat_max": "Maximum",
    "stat_iqr": "InterquartileRange",
    "stat_range": "Range",
    "stat_mad": "MeanAbsoluteDeviation",
    "stat_rmad": "RobustMeanAbsoluteDeviation",
    "stat_energy": "Energy",
    "stat_rms": "RootMeanSquared",
    # entropy and uniformity are computed on the discretised intensities (= IBSI
    # intensity histogram features; with binWidth 1 the levels are the grey levels)
    "ih_entropy": "Entropy",
    "ih_uniformity": "Uniformity",
    "ngl_glnu_norm": "Uniformity",  # NGLDM normalised GLNU = sum_i (n_i / N_v)^2 = uniformity
}
_GLCM = {
    "cm_joint_max": "MaximumProbability",
    "cm_joint_avg": "JointAverage",
    "cm_joint_var": "SumSquares",
    "cm_joint_entr": "JointEntropy",
    "cm_diff_avg": "DifferenceAverage",
    "cm_diff_var": "DifferenceVariance",
    "cm_diff_entr": "DifferenceEntropy",
    "cm_sum_avg": "SumAverage",
    "cm_sum_var": "ClusterTendency",  # identical by definition (PyRadiomics docs)
    "cm_sum_entr": "SumEntropy",
    "cm_energy": "JointEnergy",
    "cm_contrast": "Contrast",
    "cm_dissimilarity": "DifferenceAverage",  # identical by definition
    "cm_inv_diff": "Id",
    "cm_inv_diff_norm": "Idn",
    "cm_inv_diff_mom": "Idm",
    "cm_inv_diff_mom_norm": "Idmn",
    "cm_inv_var": "InverseVariance",
    "cm_corr": "Correlation",
    "cm_auto_corr": "Autocorrelation",
    "cm_clust_tend": "ClusterTendency",
    "cm_clust_shade": "ClusterShade",
    "cm_clust_prom": "ClusterProminence",
    "cm_info_corr1": "Imc1",
    "cm_info_corr2": "Imc2",
}
_GLRLM = {
    "rlm_sre": "ShortRunEmphasis",
    "rlm_lre": "LongRunEmphasis",
    "rlm_lgre": "LowGrayLevelRunEmphasis",
    "rlm_hgre": "HighGrayLevelRunEmphasis",
    "rlm_srlge": "ShortRunLowGrayLevelEmphasis",
    "rlm_srhge": "ShortRunHighGrayLevelEmphasis",
    "rlm_lrlge": "LongRunLowGrayLevelEmphasis",
    "rlm_lrhge": "LongRunHighGrayLevelEmphasis",
    "rlm_glnu": "GrayLevelNonUniformity",
    "rlm_glnu_norm": "GrayLevelNonUniformityNormalized",
    "rlm_rlnu": "RunLengthNonUniformity",
    "rlm_rlnu_norm": "RunLengthNonUniformityNormalized",
    "rlm_r_perc": "RunPercentage",
    "rlm_gl_var": "GrayLevelVariance",
    "rlm_rl_var": "RunVariance",
    "rlm_rl_entr": "RunEntropy",
}
_GLSZM = {
    "szm_sze": "SmallAreaEmphasis",
    "szm_lze": "LargeAreaEmphasis",
    "szm_lgze": "LowGrayLevelZoneEmphasis",
    "szm_hgze": "HighGrayLevelZoneEmphasis",
    "szm_szlge": "SmallAreaLowGrayLevelEmphasis",
    "szm_szhge": "SmallAreaHighGrayLevelEmphasis",
    "szm_lzlge": "LargeAreaLowGrayLevelEmphasis",
    "szm_lzhge": "LargeAreaHighGrayLevelEmphasis",
    "szm_glnu": "GrayLevelNonUniformity",
    "szm_glnu_norm": "GrayLevelNonUniformityNormalized",
    "szm_zsnu": "SizeZoneNonUniformity",
    "szm_zsnu_norm": "SizeZoneNonUniformityNormalized",
    "szm_z_perc": "ZonePercentage",
    "szm_gl_var": "GrayLevelVariance",
    "szm_zs_var": "ZoneVariance",
    "szm_zs_entr": "ZoneEntropy",
}
_NGTDM = {
    "ngt_coarseness": "Coarseness",
    "ngt_contrast": "Contrast",
    "ngt_busyness": "Busyness",
    "ngt_complexity": "Complexity",
    "ngt_strength": "Strength",
}
_GLDM = {
    "ngl_lde": "SmallDependenceEmphasis",
    "ngl_hde": "LargeDependenceEmphasis",
    "ngl_lgce": "LowGrayLevelEmphasis",
    "ngl_hgce": "HighGrayLevelEmphasis",
    "ngl_ldlge": "SmallDependenceLowGrayLevelEmphasis",
    "ngl_ldhge": "SmallDependenceHighGrayLevelEmphasis",
    "ngl_hdlge": "LargeDependenceLowGrayLevelEmphasis",
    "ngl_hdhge": "LargeDependenceHighGrayLevelEmphasis",
    "ngl_glnu": "GrayLevelNonUniformity",
    "ngl_dcnu": "DependenceNonUniformity",
    "ngl_dcnu_norm": "DependenceNonUniformityNormalized",
    "ngl_gl_var": "GrayLevelVariance",
    "ngl_dc_var": "DependenceVariance",
    "ngl_dc_entr": "DependenceEntropy",
}


def feature_map() -> pd.DataFrame:
    """IBSI tag <-> PyRadiomics feature name for every mapped feature.

    Returns
    -------
    pandas.DataFrame
        Columns ``ibsi_tag`` (as in the reference CSV, with aggregation suffix) and
        ``feature`` (PyRadiomics name, e.g. ``original_glcm_Contrast``).
    """
    rows = []
    for tag, name in _SHAPE.items():
        rows.append((tag, f"original_shape_{name}"))
    for tag, name in _FIRSTORDER.items():
        full_tag = f"{tag}_d1_a0.0_3d" if tag.startswith("ngl_") else tag
        rows.append((full_tag, f"original_firstorder_{name}"))
    for table, cls, suffix in (
        (_GLCM, "glcm", "_d1_3d_avg"),
        (_GLRLM, "glrlm", "_3d_avg"),
        (_GLSZM, "glszm", "_3d"),
        (_NGTDM, "ngtdm", "_3d"),
        (_GLDM, "gldm", "_d1_a0.0_3d"),
    ):
        rows += [(f"{tag}{suffix}", f"original_{cls}_{name}") for tag, name in table.items()]
    return pd.DataFrame(rows, columns=["ibsi_tag", "feature"])


# PyRadiomics feature -> (conversion to the IBSI convention given (value, n_voxels), reason)
_SAMPLE_COVARIANCE = (
    "PyRadiomics takes the PCA axes from the population covariance (divides by N) of the "
    "voxel-centre coordinates, the IBSI reference from the sample covariance (N - 1): "
    "compared after multiplying by sqrt(N / (N - 1))"
)
CONVENTIONS: dict[str, tuple[Callable[[float, int], float], str]] = {
    "original_firstorder_Kurtosis": (
        lambda value, n: value - 3.0,
        "PyRadiomics reports kurtosis, IBSI the excess kurtosis: compared after subtracting 3",
    ),
    "original_shape_MajorAxisLength": (lambda value, n: value * math.sqrt(n / (n - 1)), _SAMPLE_COVARIANCE),
    "original_shape_MinorAxisLength": (lambda value, n: value * math.sqrt(n / (n - 1)), _SAMPLE_COVARIANCE),
    "original_shape_LeastAxisLength": (lambda value, n: value * math.sqrt(n / (n - 1)), _SAMPLE_COVARIANCE),
}


def effective_tolerance(reference: float, tolerance: float, digits: int = 3) -> float:
    """Tolerance that also accepts the rounding of the published reference value.

    The digital phantom's references have tolerance 0 but are published rounded to 3
    significant digits, so a value passes when it rounds to the reference: half a
    unit of the 3rd significant digit is added to the stated tolerance.

    Parameters
    ----------
    reference
        Reference value.
    tolerance
        IBSI tolerance.
    digits
        Significant digits of the published reference.

    Returns
    -------
    float
    """
    if reference == 0:
        return tolerance
    rounding = 0.5 * 10 ** (math.floor(math.log10(abs(reference))) - (digits - 1))
    return tolerance + rounding


def reference_values(folder: str | os.PathLike = PHANTOM_DIR) -> pd.DataFrame:
    """The phantom's reference table (``tag, value, tolerance, family, aggregation``).

    Parameters
    ----------
    folder
        Folder holding ``reference_values.csv``.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.read_csv(Path(folder) / "reference_values.csv")


def extract_phantom(folder: str | os.PathLike = PHANTOM_DIR) -> dict[str, float]:
    """PyRadiomics features of the IBSI 1 digital phantom under :data:`IBSI_PARAMS`.

    Parameters
    ----------
    folder
        Folder holding ``phantom.nii.gz`` and ``mask.nii.gz``.

    Returns
    -------
    dict
        Feature name -> value.
    """
    folder = Path(folder)
    image = sitk.ReadImage(str(folder / "phantom.nii.gz"))
    mask = sitk.ReadImage(str(folder / "mask.nii.gz"))
    results, errors = SharedFilterExtractor(IBSI_PARAMS).extract(image, {("intra", "ibsi"): mask})
    if errors:
        raise StageError(f"IBSI phantom extraction failed: {errors}")
    return results[("intra", "ibsi")]


def compliance_table(folder: str | os.PathLike = PHANTOM_DIR) -> pd.DataFrame:
    """Compare PyRadiomics with the IBSI 1 reference values on the digital phantom.

    Parameters
    ----------
    folder
        Folder with ``phantom.nii.gz``, ``mask.nii.gz`` and ``reference_values.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature, ibsi_tag, value, value_ibsi_convention, reference,
        tolerance, pass, reason``; one row per mapped feature.
    """
    values = extract_phantom(folder)
    mask = sitk.ReadImage(str(Path(folder) / "mask.nii.gz"))
    n_voxels = int((sitk.GetArrayFromImage(mask) == IBSI_PARAMS["setting"]["label"]).sum())
    reference = reference_values(folder).set_index("tag")
    rows = []
    for tag, feature in feature_map().itertuples(index=False):
        if tag not in reference.index:
            continue
        value = values[feature]
        convert, reason = CONVENTIONS.get(feature, (lambda v, n: v, ""))
        converted = convert(value, n_voxels)
        ref, tolerance = float(reference.at[tag, "value"]), float(reference.at[tag, "tolerance"])
        passed = abs(converted - ref) <= effective_tolerance(ref, tolerance)
        rows.append((feature, tag, value, converted, ref, tolerance, passed, reason))
    return pd.DataFrame(
        rows,
        columns=["feature", "ibsi_tag", "value", "value_ibsi_convention", "reference", "tolerance", "pass", "reason"],
    )


@dataclass(repr=False)
class IbsiCompliance(ShowsItself):
    """The extraction code checked on the IBSI 1 digital phantom (:func:`ibsi_check`).

    Attributes
    ----------
    table : DataFrame
        :func:`compliance_table`: one row per PyRadiomics feature with an IBSI 1 tag.
    """

    table: pd.DataFrame

    @property
    def n_pass(self) -> int:
        """Mapped features within the reference's tolerance."""
        return int(self.table["pass"].sum())

    @property
    def n_convention(self) -> int:
        """Mapped features compared after a stated convention difference."""
        return int((self.table["reason"].fillna("") != "").sum())


    def title(self) -> str:
        return (f"IBSI 1 digital phantom: {self.n_pass} of {len(self.table)} mapped features pass "
                f"({self.n_convention} after a stated convention difference)")

    def summary(self) -> pd.DataFrame:
        """Per feature class: features mapped, passing, compared after a convention
        difference, and failing."""
        t = self.table.assign(feature_class=self.table["feature"].str.split("_").str[1],
                              convention=self.table["reason"].fillna("") != "")
        out = t.groupby("feature_class", sort=False).agg(mapped=("pass", "size"), passed=("pass", "sum"),
                                                          after_convention=("convention", "sum"))
        out["failed"] = out["mapped"] - out["passed"]
        return out.astype(int)

    def failures(self) -> pd.DataFrame:
        """The mapped features outside the tolerance (empty when all pass)."""
        return self.table[~self.table["pass"].astype(bool)].reset_index(drop=True)


def ibsi_check(folder: str | os.PathLike = PHANTOM_DIR) -> IbsiCompliance:
    """:func:`compliance_table` as a result that shows itself.

    Parameters
    ----------
    folder
        Phantom folder (default: the copy shipped with radsurv).

    Returns
    -------
    IbsiCompliance
    """
    return IbsiCompliance(compliance_table(folder))

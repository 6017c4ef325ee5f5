"""Feature robustness to segmentation: ICC between mask sources and under perturbation.

ICC form
    Default ``ICC(2,1)`` (Shrout & Fleiss; McGraw & Wong ``ICC(A,1)``): two-way
    random effects, absolute agreement, single rater. The mask sources (automatic
    segmenter, human reader, or random perturbations) are treated as a sample of the
    segmenters the model could meet, and a feature from one source will be used in
    place of the other, so a systematic shift between sources (e.g. an automatic mask
    that is always 1 voxel larger) must count against reliability: that is absolute
    agreement, not consistency. ``ICC(3,1)`` (two-way mixed, consistency) is offered
    for the case where the sources are the only ones of interest and a constant offset
    would be harmless; it is never lower than ICC(2,1) when the offset is real.
    Features with ICC < 0.75 ("moderate" or worse, Koo & Li 2016) are flagged.

Implementation
    :func:`radsurv.stats.icc.icc_many` (closed form from the ANOVA mean squares,
    matched to R ``irr::icc`` in ``tests/stats/test_icc.py``) gives the ICC and its
    95% confidence interval of every feature at once; subjects missing a rating
    are dropped per feature. An ICC is undefined (NaN, and flagged) with fewer than
    3 complete subjects or a feature that does not vary. A feature reproduced
    exactly by every source has ICC 1 and the interval [1, 1] (the limit of irr's
    interval; its formulas give 0/0 there).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage as ndi

from ..labels import ANALYSIS_MASK, MODALITIES, MODALITY_LABELS, REGIONS
from ..results import ShowsItself
from ..stats.icc import icc_many

__all__ = ["DEFAULT_THRESHOLD", "ICC_COLUMNS", "ICC_FORMS", "icc_single", "icc_table",
           "low_agreement", "MIN_SUBJECTS", "perturb_mask", "POOR_ICC", "Robustness", "robustness_table",
           "segmentation_robustness"]

ICC_FORMS = {"ICC(2,1)": "ICC(A,1)", "ICC(3,1)": "ICC(C,1)", "ICC(1,1)": "ICC(1,1)"}
DEFAULT_THRESHOLD = 0.75
ICC_COLUMNS = ["modality", "region", "feature", "icc", "lower", "upper", "flag_below_threshold"]


MIN_SUBJECTS = 3  # fewer complete subjects: the ICC is reported as undefined
POOR_ICC = 0.5  # Koo & Li 2016: below 0.5 is "poor" reliability


def _family(feature: str) -> str:
    """The image a PyRadiomics feature was computed on, as a family: ``log``
    (Laplacian of Gaussian, any sigma), ``wavelet`` (any band), ``original``, or the
    filter's own name (``square``, ``gradient``...)."""
    image_type = feature.split("_", 1)[0].lower()
    return "log" if image_type.startswith("log-sigma") else image_type.split("-", 1)[0]


def low_agreement(icc: pd.DataFrame, modality: str, region: str, below: float = POOR_ICC) -> dict | None:
    """What the features of one region with poor agreement between mask sources are,
    and whether they are as fragile to a random displacement of the contour.

    Parameters
    ----------
    icc
        The stage's ICC table: ``modality, region, feature, icc_reader`` and, where
        perturbations were made, ``icc_perturbation``.
    modality, region
        The region to describe.
    below
        ICC (U-Net vs reader) under which a feature counts as poorly reproduced.

    Returns
    -------
    dict or None
        None if the region has no reader ICC. Else ``n`` (features with an ICC),
        ``n_low`` (below ``below``), ``families`` (share of the low features per
        image family, largest first), ``families_all`` (the same over all the
        region's features, to compare with), ``classes`` (share per feature class),
        ``sigmas_mm`` (the LoG sigmas among them), ``firstorder`` (the commonest
        first-order statistics among them, up to five), and, with perturbations,
        ``pert_low`` / ``pert_rest`` (median perturbation ICC of the low features
        and of the others) and ``spearman`` (rank correlation of the two ICCs over
        the region's features).
    """
    sel = icc[(icc["modality"] == modality) & (icc["region"] == region)]
    if "icc_reader" not in sel or not sel["icc_reader"].notna().any():
        return None
    sel = sel[sel["icc_reader"].notna()]
    low = sel[sel["icc_reader"] < below]
    parts = low["feature"].str.split("_", n=2, expand=True) if len(low) else None
    out: dict = {"n": int(len(sel)), "n_low": int(len(low)), "below": float(below)}
    if parts is None:
        return out
    family = low["feature"].map(_family)
    out["families_all"] = sel["feature"].map(_family).value_counts(normalize=True).round(4).to_dict()
    out["families"] = (family.value_counts(normalize=True, sort=False)
                       .sort_values(ascending=False, kind="stable").round(4).to_dict())
    out["classes"] = (parts[1].value_counts(normalize=True, sort=False)
                      .sort_values(ascending=False, kind="stable").round(4).to_dict())
    sig = parts[0][family.to_numpy() == "log"].str.extract(r"log-sigma-(\d+)-(\d+)-mm", expand=True).dropna()
    out["sigmas_mm"] = sorted({float(f"{a}.{b}") for a, b in sig.itertuples(index=False)})
    fo = parts[2][parts[1].to_numpy() == "firstorder"].value_counts(sort=False).sort_values(ascending=False,
                                                                                            kind="stable")
    out["firstorder"] = list(fo.index[:5])
    if "icc_perturbation" in sel and sel["icc_perturbation"].notna().sum() >= 3:
        rest = sel[sel["icc_reader"] >= below]
        out["pert_low"] = float(low["icc_perturbation"].median())
        out["pert_rest"] = float(rest["icc_perturbation"].median()) if len(rest) else float("nan")
        both = sel[["icc_reader", "icc_perturbation"]].dropna()
        varies = both.nunique().min() > 1  # a constant ICC has no ranks to correlate
        out["spearman"] = float(both["icc_reader"].rank().corr(both["icc_perturbation"].rank())) if varies else np.nan
    return out


def _icc_features(Y: np.ndarray, form: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ICC and 95% CI of every feature of a subjects x sources x features array.

    A feature reproduced exactly (zero residual: ICC = 1) gets the interval
    [1, 1], the limit of irr's interval as the residual variance goes to 0; irr's
    formulas themselves give NaN there (0/0).
    """
    res = icc_many(Y, ICC_FORMS[form], min_subjects=MIN_SUBJECTS)
    exact = (res.value == 1) & np.isnan(res.lower) & np.isnan(res.upper)
    return res.value, np.where(exact, 1.0, res.lower), np.where(exact, 1.0, res.upper)


def icc_single(ratings: pd.DataFrame, form: str = "ICC(2,1)") -> tuple[float, float, float]:
    """ICC of one feature from a subjects x raters table.

    Parameters
    ----------
    ratings
        One row per subject, one column per rater (mask source); rows with a
        missing rating are dropped.
    form
        ``"ICC(2,1)"`` (default), ``"ICC(3,1)"`` or ``"ICC(1,1)"``.

    Returns
    -------
    icc, lower, upper
        Point estimate and 95% CI; NaN when undefined (fewer than 3 subjects, or a
        feature that does not vary).
    """
    if form not in ICC_FORMS:
        raise ValueError(f"form must be one of {sorted(ICC_FORMS)}, got {form!r}")
    values = np.asarray(ratings, dtype=float)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"ratings: expected a subjects x raters table (2+ raters), got shape {values.shape}")
    value, lower, upper = _icc_features(values[:, :, None], form)
    return float(value[0]), float(lower[0]), float(upper[0])


def icc_table(
    tidy: pd.DataFrame,
    sources: Sequence[str] = ("auto", "reader"),
    form: str = "ICC(2,1)",
    threshold: float = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """ICC of every feature between mask sources, per modality and region.

    All features are computed at once (:func:`radsurv.stats.icc.icc_many`); each
    row equals :func:`icc_single` on that feature's patients x sources table.

    Parameters
    ----------
    tidy
        Tidy feature table (``patient, modality, region, mask_source, feature,
        value``), e.g. from :func:`radsurv.features.extract.extract_patients`.
    sources
        Mask sources compared (two or more: each is a "rater").
    form
        ICC form, see the module docstring.
    threshold
        Features with ICC below it (or undefined) are flagged.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ICC_COLUMNS`, one row per (modality, region, feature), in
        the order of their first appearance in ``tidy``.

    Raises
    ------
    ValueError
        If fewer than two sources are given, a source is absent, the form is
        unknown, or a (feature, patient, source) has more than one value.
    """
    if len(sources) < 2:
        raise ValueError("need at least two mask sources to compute an ICC")
    if form not in ICC_FORMS:
        raise ValueError(f"form must be one of {sorted(ICC_FORMS)}, got {form!r}")
    missing = sorted(set(sources) - set(tidy["mask_source"]))
    if missing:
        raise ValueError(f"mask source(s) {missing} not in the feature table")
    keys = ["modality", "region", "feature"]
    selected = tidy[tidy["mask_source"].isin(sources)].dropna(subset=[*keys, "patient"])
    # features in order of first appearance (as groupby(sort=False)), patients sorted
    # (as a pivot), sources in the order given
    parts = [pd.factorize(selected[key]) for key in keys]
    dims = [len(uniques) for _, uniques in parts]
    f_code, first = pd.factorize(np.ravel_multi_index([codes for codes, _ in parts], dims))
    p_code, patients = pd.factorize(selected["patient"], sort=True)
    s_code = pd.Index(list(sources)).get_indexer(selected["mask_source"])
    cell = (f_code.astype(np.int64) * len(patients) + p_code) * len(sources) + s_code
    if pd.Series(cell).duplicated().any():
        raise ValueError("tidy: a (modality, region, feature, patient, mask_source) has more than one value")
    Y = np.full((len(patients), len(sources), len(first)), np.nan)
    Y[p_code, s_code, f_code] = selected["value"].to_numpy(dtype=float)
    value, lower, upper = _icc_features(Y, form)
    with np.errstate(invalid="ignore"):
        flagged = ~(np.isfinite(value) & (value >= threshold))
    key_codes = np.unravel_index(first, dims)
    out = pd.DataFrame({key: uniques.take(key_codes[i]) for i, (key, (_, uniques)) in enumerate(zip(keys, parts))})
    out["icc"], out["lower"], out["upper"], out["flag_below_threshold"] = value, lower, upper, flagged
    return out[ICC_COLUMNS]


# --------------------------------------------------------------------------- perturbation


def perturb_mask(
    mask: sitk.Image,
    rng: np.random.Generator,
    kind: str = "random",
    jitter_voxels: float = 1.0,
    smoothness_voxels: float = 2.0,
    label: int = 1,
) -> sitk.Image:
    """A slightly different delineation of the same lesion.

    Parameters
    ----------
    mask
        Lesion mask (2-D or 3-D).
    rng
        Random generator (the perturbation is reproducible from its seed).
    kind
        ``"erode"`` / ``"dilate"``: by one voxel (cross-shaped neighbourhood);
        ``"jitter"``: the contour moved in and out by a smooth random field of
        about ``jitter_voxels`` voxels; ``"random"``: one of the three at random.
    jitter_voxels
        Amplitude (standard deviation) of the contour jitter, in voxels of the
        finest spacing.
    smoothness_voxels
        Correlation length of the jitter field, in voxels.
    label
        Lesion label.

    Returns
    -------
    SimpleITK.Image
        uint8 mask on the same grid.

    Raises
    ------
    ValueError
        If the mask is empty, ``kind`` is unknown, or the perturbation would
        remove the whole lesion (e.g. eroding a one-voxel-thin mask).
    """
    lesion = sitk.GetArrayFromImage(mask) == label
    if not lesion.any():
        raise ValueError("empty mask: nothing to perturb")
    if kind == "random":
        kind = str(rng.choice(["erode", "dilate", "jitter"]))
    structure = ndi.generate_binary_structure(lesion.ndim, 1)
    if kind == "erode":
        perturbed = ndi.binary_erosion(lesion, structure)
    elif kind == "dilate":
        perturbed = ndi.binary_dilation(lesion, structure)
    elif kind == "jitter":
        perturbed = _jittered(lesion, mask.GetSpacing(), rng, jitter_voxels, smoothness_voxels)
    else:
        raise ValueError(f"kind must be 'random', 'erode', 'dilate' or 'jitter', got {kind!r}")
    if not perturbed.any():
        raise ValueError(f"{kind} removed the whole lesion; the mask is too thin to perturb")
    image = sitk.GetImageFromArray(perturbed.astype(np.uint8))
    image.CopyInformation(mask)
    return image


def _jittered(
    lesion: np.ndarray,
    spacing_xyz: Sequence[float],
    rng: np.random.Generator,
    jitter_voxels: float,
    smoothness_voxels: float,
) -> np.ndarray:
    """Lesion with its contour displaced by a smooth random field.

    Parameters
    ----------
    lesion
        Boolean lesion array.
    spacing_xyz
        Spacing (SimpleITK order).
    rng
        Random generator.
    jitter_voxels, smoothness_voxels
        See :func:`perturb_mask`.

    Returns
    -------
    numpy.ndarray
        Boolean array.
    """
    sampling = np.array(spacing_xyz[::-1], dtype=float)
    # Signed distance in mm, negative inside, with its zero level on the voxel faces
    # (half a voxel from the boundary voxels' centres): without the half-voxel shift the
    # values jump from -s to +s across the contour, and a jitter smaller than one voxel
    # would move nothing.
    half = sampling.min() / 2
    signed = np.where(lesion, half - ndi.distance_transform_edt(lesion, sampling=sampling),
                      ndi.distance_transform_edt(~lesion, sampling=sampling) - half)
    field = ndi.gaussian_filter(rng.standard_normal(lesion.shape), smoothness_voxels)
    field /= max(field.std(), 1e-12)
    return signed + field * jitter_voxels * sampling.min() <= 0


# --------------------------------------------------------------------------- figure


# --------------------------------------------------------------------------- the stage's robustness


def robustness_table(tidy: pd.DataFrame, subset: Sequence[str], params: Mapping[str, Any]) -> pd.DataFrame:
    """ICC per (modality, region, feature): U-Net vs reader, and across perturbations.

    A feature is flagged when either ICC is below the threshold (or undefined, e.g. a
    feature that is constant across the subset). Without a reader's mask (the cohort's
    own masks are the analysis masks, ``segmentation.use_supplied_masks``) only the
    perturbations measure robustness and the reader's columns are NaN.

    Parameters
    ----------
    tidy : DataFrame
        The tidy features of every mask source.
    subset : sequence of str
        The reproducibility subset's patients.
    params : mapping
        The ``features`` section (``icc.form``, ``icc.threshold``).

    Returns
    -------
    DataFrame
        ``modality, region, feature, icc_reader, icc_reader_lower, icc_reader_upper,
        flag_reader`` (then, with perturbations, the same for ``perturbation``) and
        ``flag``.
    """
    form, threshold = params["icc"]["form"], float(params["icc"]["threshold"])
    sub = tidy[tidy["patient"].isin(subset)]
    perturbed = sorted(s for s in sub["mask_source"].unique() if s.startswith("perturbed"))
    if "reader" in set(sub["mask_source"]):
        reader = icc_table(sub, sources=(ANALYSIS_MASK, "reader"), form=form, threshold=threshold)
        out = reader.rename(columns={"icc": "icc_reader", "lower": "icc_reader_lower",
                                     "upper": "icc_reader_upper", "flag_below_threshold": "flag_reader"})
    else:
        # The analysis masks are the user's own (segmentation.use_supplied_masks): there is
        # no second delineation, so only the perturbations measure robustness.
        keys = ["modality", "region", "feature"]
        out = sub[sub["mask_source"] == ANALYSIS_MASK][keys].drop_duplicates().reset_index(drop=True)
        out = out.assign(icc_reader=np.nan, icc_reader_lower=np.nan, icc_reader_upper=np.nan, flag_reader=False)
    if perturbed:
        pert = icc_table(sub, sources=(ANALYSIS_MASK, *perturbed), form=form, threshold=threshold)
        out = out.merge(pert.rename(columns={"icc": "icc_perturbation", "lower": "icc_perturbation_lower",
                                             "upper": "icc_perturbation_upper",
                                             "flag_below_threshold": "flag_perturbation"}),
                        on=["modality", "region", "feature"], how="left")
        out["flag"] = out["flag_reader"] | out["flag_perturbation"].fillna(True).astype(bool)
    else:
        out["flag"] = out["flag_reader"]
    return out


@dataclass(repr=False)
class Robustness(ShowsItself):
    """How far each feature survives another delineation of the same lesion.

    Built by :func:`segmentation_robustness`. Shown by the median ICC and the share of
    robust features per modality and region (:meth:`summary`) and by the distribution
    of the features' ICCs (:meth:`plot`, the paper's figure).

    Attributes
    ----------
    table : DataFrame
        :func:`robustness_table`: one row per (modality, region, feature).
    n_subset : int
        Patients of the reproducibility subset.
    form : str
        The ICC's form (``ICC(2,1)``...).
    threshold : float
        A feature below it in either comparison is flagged.
    n_perturbations : int
        Random perturbations made of each analysis mask.
    """

    table: pd.DataFrame
    n_subset: int
    form: str
    threshold: float
    n_perturbations: int

    @property
    def has_reader(self) -> bool:
        """Whether a second delineation (the reader's mask) was compared."""
        return bool(self.table["icc_reader"].notna().any())

    @property
    def shown(self) -> str:
        """The comparison the figure shows: ``reader`` or, without a second delineation,
        ``perturbation``."""
        return "reader" if self.has_reader or "icc_perturbation" not in self.table else "perturbation"


    def title(self) -> str:
        both = self.has_reader and "icc_perturbation" in self.table
        return (f"Segmentation robustness, {self.form} in {self.n_subset} training patients: "
                f"{int((~self.table['flag']).sum())} of {len(self.table)} features robust "
                f"(ICC ≥ {self.threshold:.2f} in {'both comparisons' if both else 'the comparison made'})")

    def summary(self) -> pd.DataFrame:
        """Per modality and region: features, the median ICC of each comparison, and the
        features robust in every comparison made (count and share)."""
        rows = []
        for m in MODALITIES:
            for r in REGIONS:
                sel = self.table[(self.table["modality"] == m) & (self.table["region"] == r)]
                if sel.empty:
                    continue
                row = {"modality": MODALITY_LABELS[m], "region": r, "features": len(sel),
                       "median_icc_reader": sel["icc_reader"].dropna().median()}
                if "icc_perturbation" in sel:
                    row["median_icc_perturbation"] = sel["icc_perturbation"].dropna().median()
                row["robust"] = int((~sel["flag"]).sum())
                row["share_robust"] = float((~sel["flag"]).mean())
                rows.append(row)
        return pd.DataFrame(rows)

    def plot_table(self) -> pd.DataFrame:
        """The ICCs the figure shows (:attr:`shown`), as :func:`icc_table` names them,
        with the modalities' printed labels."""
        s = self.shown
        plot = self.table.rename(columns={f"icc_{s}": "icc", f"icc_{s}_lower": "lower", f"icc_{s}_upper": "upper",
                                          f"flag_{s}": "flag_below_threshold"})
        return plot.assign(modality=plot["modality"].map(MODALITY_LABELS))

    def plot(self, ax=None, title: str | None = None):
        """The distribution of the features' ICCs per modality and region (violin and
        box; dashed: the threshold; under each group the share at or above it): the
        U-Net-vs-reader ICC, or without a reader's mask the ICC across perturbations.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (None: a new figure, the published one's size and look).
        title : str, optional
            The Axes' title.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..plots.features import draw_icc, icc_axes

        plot = self.plot_table()
        if ax is None:
            ax = icc_axes(plot.groupby(["modality", "region"]).ngroups)
        return draw_icc(ax, plot, self.threshold, title)


def segmentation_robustness(tidy: pd.DataFrame, subset: Sequence[str], params: Mapping[str, Any]) -> Robustness:
    """The ICCs of every feature between mask sources, as a result that shows itself.

    Parameters
    ----------
    tidy, subset, params
        As for :func:`robustness_table`, which computes the table.

    Returns
    -------
    Robustness
    """
    table = robustness_table(tidy, subset, params)
    # the perturbations this run made (not the profile's number: a run may have made none)
    n_perturbed = sum(str(src).startswith("perturbed") for src in tidy["mask_source"].unique())
    return Robustness(table, len(subset), str(params["icc"]["form"]), float(params["icc"]["threshold"]), n_perturbed)

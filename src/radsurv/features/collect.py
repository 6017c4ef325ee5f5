"""Every patient's features, collected: the failures and the patients they exclude.

:func:`collect_features` puts the failures of region building and of extraction
together, applies ``features.on_error`` (a failed *analysis* region excludes its patient,
or stops the stage naming them) and keeps the features of the patients left, as a
:class:`FeatureTable` that shows its counts per modality and region and its failures by
reason (identifiers masked).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..labels import ANALYSIS_MASK, MODALITIES, MODALITY_LABELS, REGIONS
from ..results import ShowsItself
from .extract import ExtractionError, ExtractionResult, wide_matrix

__all__ = ["analysis_exclusions", "collect_features", "FeatureTable"]

_ORDER = ["patient", "modality", "region", "mask_source"]


def analysis_exclusions(failures: pd.DataFrame, on_error: str) -> pd.DataFrame:
    """The failures of analysis regions: their patients are excluded, or the stage stops.

    Parameters
    ----------
    failures : DataFrame
        ``patient, modality, region, mask_source, reason``.
    on_error : {"exclude", "fail"}
        ``features.on_error``.

    Returns
    -------
    DataFrame
        The failed analysis regions (a reproducibility-only source excludes nobody).

    Raises
    ------
    ExtractionError
        With ``on_error="fail"``, naming every failed analysis region.
    """
    bad = failures[failures["mask_source"] == ANALYSIS_MASK]
    if len(bad) and on_error == "fail":
        raise ExtractionError(bad.reset_index(drop=True))
    return bad


@dataclass(repr=False)
class FeatureTable(ShowsItself):
    """The features of every patient kept, and what failed.

    Attributes
    ----------
    tidy : DataFrame
        ``patient, modality, region, mask_source, feature, value`` of the patients kept,
        sorted by patient, modality, region and mask source.
    failures : DataFrame
        Every failed region (any mask source) with its reason.
    excluded : DataFrame
        ``patient_id, reason``: patients excluded for a failed analysis region.
    subset : list of str
        The reproducibility subset.
    n_extracted, n_cached : int
        Regions extracted in this run, and read from the cache.
    timings : dict
        Seconds in the workers: ``load``, ``filters``, ``features``.
    """

    tidy: pd.DataFrame
    failures: pd.DataFrame
    excluded: pd.DataFrame
    subset: list[str]
    n_extracted: int = 0
    n_cached: int = 0
    timings: dict[str, float] = field(default_factory=dict)


    def title(self) -> str:
        analysed = self.tidy[self.tidy["mask_source"] == ANALYSIS_MASK]
        return (f"Radiomic features of {analysed['patient'].nunique()} patients: {self.n_extracted + self.n_cached} "
                f"regions ({self.n_extracted} extracted now, {self.n_cached} from the cache); "
                f"{len(self.failures)} failed regions, {len(self.excluded)} patients excluded")

    def summary(self) -> pd.DataFrame:
        """Per modality and region of the analysis: patients, features, patients of the
        reproducibility subset with other mask sources (which), and failed regions."""
        rows = []
        for m in MODALITIES:
            for r in REGIONS:
                sel = self.tidy[(self.tidy["modality"] == m) & (self.tidy["region"] == r)]
                analysed = sel[sel["mask_source"] == ANALYSIS_MASK]
                if analysed.empty:
                    continue
                other = sel[sel["mask_source"] != ANALYSIS_MASK]
                failed = self.failures[(self.failures["modality"] == m) & (self.failures["region"] == r)]
                rows.append({"modality": MODALITY_LABELS[m], "region": r,
                             "patients": int(analysed["patient"].nunique()),
                             "features": int(analysed["feature"].nunique()),
                             "subset_patients": int(other["patient"].nunique()),
                             "other_mask_sources": ", ".join(sorted(other["mask_source"].unique())) or "none",
                             "failed_regions": int(len(failed))})
        return pd.DataFrame(rows, columns=["modality", "region", "patients", "features", "subset_patients",
                                           "other_mask_sources", "failed_regions"])

    def failure_reasons(self) -> pd.DataFrame:
        """Failed regions counted by modality, region, mask source and reason, with each
        patient's identifier replaced by ``<patient>`` in the reason (a file path or an
        error message may contain it)."""
        cols = ["modality", "region", "mask_source", "reason"]
        if self.failures.empty:
            return pd.DataFrame(columns=[*cols, "regions"])
        masked = self.failures.assign(reason=[str(reason).replace(str(p), "<patient>") for p, reason in
                                              zip(self.failures["patient"], self.failures["reason"])])
        return masked.groupby(cols).size().rename("regions").reset_index()

    def values(self, patient: str, modality: str, region: str, mask_source: str = ANALYSIS_MASK) -> pd.Series:
        """One region's features (name -> value)."""
        t = self.tidy
        sel = t[(t["patient"] == patient) & (t["modality"] == modality) & (t["region"] == region)
                & (t["mask_source"] == mask_source)]
        return pd.Series(sel["value"].to_numpy(float), index=sel["feature"].to_numpy(), name="value")

    def matrices(self) -> dict[tuple[str, str], pd.DataFrame]:
        """Patients x features of every (modality, region) of the analysis masks, for
        the regions that have any."""
        out = {}
        for m in MODALITIES:
            for r in REGIONS:
                try:
                    out[(m, r)] = wide_matrix(self.tidy, m, r, ANALYSIS_MASK)
                except ValueError:
                    continue
        return out


def collect_features(result: ExtractionResult, region_failures: pd.DataFrame, subset: list[str],
                     on_error: str) -> FeatureTable:
    """The features of the patients kept, with every failure and the exclusions.

    Parameters
    ----------
    result : ExtractionResult
        :func:`~radsurv.features.extract.extract_features`.
    region_failures : DataFrame
        The failures of region building (:func:`~radsurv.features.regions.build_cases`).
    subset : list of str
        The reproducibility subset.
    on_error : {"exclude", "fail"}
        ``features.on_error``: a failed analysis region excludes its patient, or stops.

    Returns
    -------
    FeatureTable

    Raises
    ------
    ExtractionError
        With ``on_error="fail"`` and a failed analysis region.
    """
    failures = pd.concat([region_failures, result.failures], ignore_index=True)
    failures = failures.sort_values(_ORDER).reset_index(drop=True)
    bad = analysis_exclusions(failures, on_error)
    excluded_ids = set(bad["patient"])
    excluded = (bad.groupby("patient")["reason"].first().reset_index()
                .rename(columns={"patient": "patient_id"}))
    tidy = result.features
    tidy = tidy[~tidy["patient"].isin(excluded_ids)].sort_values(_ORDER, kind="stable").reset_index(drop=True)
    return FeatureTable(tidy, failures, excluded, list(subset), int(result.n_extracted), int(result.n_cached),
                        dict(result.timings))

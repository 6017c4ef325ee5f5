"""How much the twin's scanners move the radiomic features, beside published studies.

The travelling lesions (:mod:`radsurv.imaging.rescan`) are scanned twice on each
centre's scanner. Their features, extracted with the profile's parameter files from the
true lesion mask and its ring (so that the agreement measures the scanner, not the
segmentation), give per feature:

* **repeatability**: ICC(A,1) between the two scans on one scanner (a test-retest
  design, as Granzier et al. 2022 ran on one 1.5 T breast protocol);
* **reproducibility across scanners**: ICC(A,1) between the first scans on every
  centre's scanner (absolute agreement: a systematic shift of a scanner counts against
  the feature) and ICC(C,1) (consistency: the lesions' ranking on each scanner), whose
  ratio gives the **scanner share**, ``1 - ICC(A,1) / ICC(C,1)``: the part of a
  feature's variance that is a systematic scanner offset (Mackin et al. 2015 found
  inter-scanner differences comparable to the inter-patient ones for some features).

Every ICC is :func:`radsurv.stats.icc_many` (McGraw & Wong's two-way forms, checked
against R's ``irr::icc``). Koo & Li's bands read them: at least 0.90 excellent, at least
0.75 good.

References
----------
Koo TK, Li MY. A guideline of selecting and reporting intraclass correlation
coefficients for reliability research. J Chiropr Med. 2016;15(2):155-163.

Mackin DS, et al. Measuring computed tomography scanner variability of radiomics
features. Invest Radiol. 2015;50(11):757-765.

Granzier RWY, et al. Test-retest data for the assessment of breast MRI radiomic feature
repeatability. J Magn Reson Imaging. 2022;56(2):592-604.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..labels import MODALITY_LABELS, REGION_LABELS
from ..results import ShowsItself, new_axes
from ..stats import icc_many
from ..features.extract import Case, extract_features
from ..features.regions import region_files   # 02's own regions: the intra-tumoral mask and its mm ring

__all__ = ["AGREEMENT_COLUMNS", "PUBLISHED", "ScannerAgreement", "measure_scanner_agreement", "scanner_agreement",
           "travelling_cases"]

#: The columns of :attr:`ScannerAgreement.table` (one row per modality, region and feature).
AGREEMENT_COLUMNS = ["modality", "region", "feature", "feature_class", "image_type", "retest_icc",
                     "between_icc", "between_consistency", "scanner_share"]

#: Published repeatability and reproducibility of radiomic features, as each study
#: reported it (the twin's numbers are set beside these, not fitted to them).
PUBLISHED = pd.DataFrame([
    {"study": "Granzier et al. 2022", "key": "granzier2022",
     "design": "test-retest, one 1.5 T breast protocol, 11 volunteers, 18 examinations each",
     "object": "healthy breast, T1-weighted", "finding": "15 of 91 original features (16.5%) with CCC > 0.90"},
    {"study": "Mackin et al. 2015", "key": "mackin2015", "design": "one phantom on 17 CT scanners, 4 vendors",
     "object": "phantom cartridges against 20 NSCLC tumours",
     "finding": "inter-scanner variability comparable to the inter-patient variability for some features"},
    {"study": "Whitney et al. 2021", "key": "whitney2021",
     "design": "breast DCE-MRI lesions at 1.5 T and 3 T (612 cases; 7 lesions at both)",
     "object": "benign lesions and HR+/HER2- cancers",
     "finding": "feature distributions compared by field strength (Kolmogorov-Smirnov); only some potentially robust"},
])

_TEXTURE = {"glcm", "glrlm", "glszm", "gldm", "ngtdm"}


def _feature_parts(name: str) -> tuple[str, str]:
    """(class, image type): ``shape``, ``firstorder`` or ``texture``; ``original`` or ``filtered``."""
    parts = name.split("_")
    image_type = "original" if parts[0] == "original" else "filtered"
    cls = parts[1] if len(parts) > 2 else "other"
    return ("texture" if cls in _TEXTURE else cls), image_type


def travelling_cases(scans: Mapping[str, pd.DataFrame], root: Path, ring_width_mm: float) -> list[Case]:
    """One extraction case per scan: the true lesion mask and its ring.

    Parameters
    ----------
    scans
        Per modality, :func:`radsurv.imaging.rescan.write_travelling_scans`' table.
    root
        The folder its paths are relative to; the regions are written under ``root / "rois"``.
    ring_width_mm
        The peri-tumoral ring's width (the profile's ``features.ring_width_mm``).
    """
    cases = []
    for modality, table in scans.items():
        for row in table.itertuples(index=False):
            name = f"{row.lesion}_c{row.center}_s{row.scan}"
            masks, _ = region_files(name, modality, "true", str(Path(root) / row.mask), Path(root),
                                    float(ring_width_mm))
            cases.append(Case(name, modality, str(Path(root) / row.image), masks))
    return cases


def _cube(wide: pd.DataFrame, lesions: list[str], raters: list[str]) -> np.ndarray:
    """lesions x raters x features from a (scan name) x feature table; NaN where missing."""
    index = [f"{lesion}_{r}" for lesion in lesions for r in raters]
    values = wide.reindex(index).to_numpy(dtype=float)
    return values.reshape(len(lesions), len(raters), wide.shape[1])


@dataclass(repr=False)
class ScannerAgreement(ShowsItself):
    """Repeatability and cross-scanner reproducibility of every feature.

    Attributes
    ----------
    table
        :data:`AGREEMENT_COLUMNS`: ``retest_icc`` is ICC(A,1) of the two scans on the
        internal centre's scanner (centre ``retest_center``), ``between_icc`` ICC(A,1)
        and ``between_consistency`` ICC(C,1) of the first scans across every scanner,
        ``scanner_share`` ``1 - between_icc / between_consistency``.
    retest_by_center
        ICC(A,1) of the two scans on each scanner: modality, region, feature, center, icc.
    n_lesions
        Lesions per modality.
    centers
        The scanners, by centre.
    retest_center
        The scanner whose test-retest pair fills ``retest_icc`` (the training centre's).
    """

    table: pd.DataFrame
    retest_by_center: pd.DataFrame
    n_lesions: dict[str, int]
    centers: list[int]
    retest_center: int

    def title(self) -> str:
        lesions = ", ".join(f"{MODALITY_LABELS.get(m, m)} {n}" for m, n in self.n_lesions.items())
        return (f"ScannerAgreement: travelling lesions ({lesions}) on the scanners of centres "
                f"{', '.join(map(str, self.centers))}")

    def summary(self, by: str = "region") -> pd.DataFrame:
        """Median ICC and the shares of good (>= 0.75) and excellent (>= 0.90) features.

        Parameters
        ----------
        by
            ``"region"`` (modality and region) or ``"class"`` (modality, region, feature
            class and whether the image was filtered).
        """
        keys = ["modality", "region"] + (["feature_class", "image_type"] if by == "class" else [])
        rows = []
        for key, group in self.table.groupby(keys, sort=False):
            row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
            row["n_features"] = len(group)
            for column, label in (("retest_icc", "retest"), ("between_icc", "between")):
                x = group[column].dropna()
                row[f"{label}_median"] = float(x.median()) if len(x) else np.nan
                row[f"{label}_good"] = float((x >= 0.75).mean()) if len(x) else np.nan
                row[f"{label}_excellent"] = float((x >= 0.90).mean()) if len(x) else np.nan
            share = group["scanner_share"].dropna()
            row["scanner_share_median"] = float(share.median()) if len(share) else np.nan
            row["scanner_share_over_half"] = float((share > 0.5).mean()) if len(share) else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def plot(self, ax=None):
        """Share of features by ICC: the two scans on one scanner (dashed) against the scans
        across scanners (solid), per modality and region."""
        from ..plots.sensitivity import draw_scanner_agreement

        return draw_scanner_agreement(new_axes(ax, figsize=(6.0, 4.0)), self.table)


def scanner_agreement(tidy: pd.DataFrame, scans: Mapping[str, pd.DataFrame], retest_center: int = 1
                      ) -> ScannerAgreement:
    """Per-feature repeatability and reproducibility across scanners of the travelling lesions.

    Parameters
    ----------
    tidy
        The features of :func:`travelling_cases`' cases (``extract_features(...).features``).
    scans
        Per modality, :func:`radsurv.imaging.rescan.write_travelling_scans`' table.
    retest_center
        The scanner whose test-retest pair is ``retest_icc`` (the training centre's).

    Returns
    -------
    ScannerAgreement
    """
    rows, retest_rows = [], []
    centers: list[int] = []
    for modality, table in scans.items():
        lesions = sorted(table["lesion"].unique())
        centers = sorted(int(c) for c in table["center"].unique())
        if retest_center not in centers:
            raise ValueError(f"retest_center: centre {retest_center} was not scanned (scanned: {centers})")
        if table["scan"].max() < 2:
            raise ValueError("scans: the travelling lesions need two scans per scanner for the test-retest ICC")
        mine = tidy[tidy["modality"] == modality]
        for region, part in mine.groupby("region", sort=False):
            wide = part.pivot_table(index="patient", columns="feature", values="value", aggfunc="first")
            features = list(wide.columns)
            between = _cube(wide, lesions, [f"c{c}_s1" for c in centers])
            absolute = icc_many(between, "ICC(A,1)", min_subjects=3).value
            consistency = icc_many(between, "ICC(C,1)", min_subjects=3).value
            retest = {}
            for c in centers:
                retest[c] = icc_many(_cube(wide, lesions, [f"c{c}_s1", f"c{c}_s2"]), "ICC(A,1)", min_subjects=3).value
                retest_rows.append(pd.DataFrame({"modality": modality, "region": region, "feature": features,
                                                 "center": c, "icc": retest[c]}))
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(consistency > 0, 1.0 - absolute / consistency, np.nan)
            parts = [_feature_parts(f) for f in features]
            rows.append(pd.DataFrame({
                "modality": modality, "region": region, "feature": features,
                "feature_class": [p[0] for p in parts], "image_type": [p[1] for p in parts],
                "retest_icc": retest[retest_center], "between_icc": absolute, "between_consistency": consistency,
                "scanner_share": share}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=AGREEMENT_COLUMNS)
    by_center = (pd.concat(retest_rows, ignore_index=True) if retest_rows
                 else pd.DataFrame(columns=["modality", "region", "feature", "center", "icc"]))
    return ScannerAgreement(table=table[AGREEMENT_COLUMNS], retest_by_center=by_center,
                            n_lesions={m: int(t["lesion"].nunique()) for m, t in scans.items()},
                            centers=centers, retest_center=int(retest_center))


def measure_scanner_agreement(n: int, seed: int, features: Mapping[str, Any], root: Path,
                              imaging: Mapping[str, Any] | None = None, latents: dict | None = None,
                              out_dir: str | Path | None = None, n_jobs: int = 1, scheduler: Any = None,
                              progress: bool = True, cache_dir: str | os.PathLike | None = None) -> ScannerAgreement:
    """Scan ``n`` travelling lesions per modality and measure their features' agreement.

    Parameters
    ----------
    n
        Lesions per modality (at least 3).
    seed
        Run seed.
    features
        The profile's ``features`` section (parameter files, image types, ring width).
    root
        The project's root (the parameter files' paths start there).
    imaging
        The profile's ``imaging`` section (``scanners``, ``phenotype``).
    latents
        Overrides of the lesions' latents (``{"h": True}`` when the twin draws the trait).
    out_dir
        Folder for the scans and regions (None: a temporary folder, removed afterwards; the
        features are cached by content in ``cache_dir`` all the same).
    n_jobs, scheduler, progress, cache_dir
        Processes (the scans and, without a scheduler, the extraction), a Dask scheduler for
        the extraction, progress bars and the feature cache.
    """
    import tempfile

    from ..imaging.rescan import write_travelling_scans

    imaging = imaging or {}
    with tempfile.TemporaryDirectory(prefix="travelling-") as tmp:
        folder = Path(out_dir) if out_dir is not None else Path(tmp)
        scans = {m: write_travelling_scans(m, n, folder, seed, scanners=imaging.get("scanners"), n_jobs=n_jobs,
                                           progress=progress, latents=latents, phenotype=imaging.get("phenotype"))
                 for m in ("us", "mri")}
        cases = travelling_cases(scans, folder, float(features["ring_width_mm"]))
        result = extract_features(cases, features, root, cache_dir, n_jobs=n_jobs, progress=progress,
                                  scheduler=scheduler)
    if not result.failures.empty:
        first = result.failures.iloc[0]
        raise RuntimeError(f"travelling lesions: {len(result.failures)} region(s) could not be extracted, the first "
                           f"{first['patient']} ({first['modality']}, {first['region']}): {first['reason']}")
    return scanner_agreement(result.features, scans)

"""Typed readers of each stage's declared outputs: a stage reads everything upstream
with one call per stage, and no stage reaches into another's folder by hand.

File paths inside the outputs (images, masks, regions) come back absolute, so the
readers are the one place that knows how each stage stores them (relative to the
manifest, or to the stage's own folder, which is renamed when the stage finishes).

:func:`read_truth` is the one place where the digital twin's hidden truth is read. No
analysis code calls it: the segmentation stage scores masks against the true masks,
the reproducibility subset builds regions from them, and the manuscript's oracle row
reads the true linear predictor; a user's cohort has no truth and gets ``None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..exceptions import StageError
from ..labels import ANALYSIS_MASK, region_prefix

__all__ = ["CohortOutputs", "FeatureOutputs", "ModelOutputs", "SegmentationOutputs", "read_cohort", "read_features",
           "read_models", "read_oracle", "read_prevalidated", "read_segmentation", "read_signatures", "read_truth",
           "read_variables"]

IMAGE_COLUMNS = ("us_image", "us_mask", "mri_image", "mri_mask")


def _folder(build_dir: Path, stage: str) -> Path:
    folder = Path(build_dir) / stage
    if not folder.is_dir():
        raise StageError(f"the outputs of stage {stage} are missing ({folder}): run `radsurv run --stage {stage}` "
                         "(or the whole pipeline) first")
    return folder


def _absolute(series: pd.Series, base: Path) -> pd.Series:
    return series.map(lambda v: str((base / v).resolve()) if isinstance(v, str) and v else None)


# --------------------------------------------------------------------------- 00_cohort


@dataclass(frozen=True)
class CohortOutputs:
    """What ``00_cohort`` hands on.

    Attributes
    ----------
    folder : Path
        The stage's output folder.
    data : DataFrame
        The validated cohort with its split (``cohort.csv``); image and mask paths absolute.
    excluded : DataFrame
        Rows removed by a check (``row``, ``patient_id``, ``reason``).
    manifest_dir : Path
        The folder the manifest's relative paths start from.
    simulated : bool
        The digital twin (True) or a user's manifest.
    centers : dict
        ``internal`` and ``external`` centres (as text), as the cohort stage applied them.
    devsets : dict of str to DataFrame
        Segmentation-development sets per modality (``patient_id``, ``image``, ``mask``,
        ``reader_mask``; absolute paths); empty for a cohort without them.
    """

    folder: Path
    data: pd.DataFrame
    excluded: pd.DataFrame
    manifest_dir: Path
    simulated: bool
    centers: dict[str, list[str]]
    devsets: dict[str, pd.DataFrame] = field(default_factory=dict)

    def modalities(self) -> list[str]:
        """Modalities with at least one image in the cohort."""
        return [m for m in ("us", "mri") if f"{m}_image" in self.data and self.data[f"{m}_image"].notna().any()]


def with_prepared_masks(data: pd.DataFrame, prepared: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """``data`` with each prepared mask (``prepared_masks.csv``: ``patient_id``,
    ``modality``, ``mask`` relative to ``folder``) in place of the supplied one, as an
    absolute path. The cohort stage uses it on its own outputs before they are read back."""
    data = data.copy()
    position = {pid: i for i, pid in enumerate(data["patient_id"].astype(str))}
    for row in prepared.itertuples():
        data.iloc[position[row.patient_id], data.columns.get_loc(f"{row.modality}_mask")] = str(
            (Path(folder) / row.mask).resolve())
    return data


def read_cohort(build_dir: Path) -> CohortOutputs:
    """Read ``00_cohort``'s outputs."""
    folder = _folder(build_dir, "00_cohort")
    src = json.loads((folder / "source.json").read_text(encoding="utf-8"))
    manifest_dir = (folder / src["manifest_dir"]).resolve()  # relative (the twin) or absolute (a user's)
    data = pd.read_csv(folder / "cohort.csv", dtype={"patient_id": str, "center": str})
    for col in IMAGE_COLUMNS:
        if col in data:
            data[col] = _absolute(data[col], manifest_dir)
    # Masks the cohort stage put on their image grid (or reduced to the lesion's label)
    # replace the supplied files (radsurv.cohort.masks).
    prepared = folder / "prepared_masks.csv"
    if prepared.is_file():
        data = with_prepared_masks(data, pd.read_csv(prepared, dtype={"patient_id": str}), folder)
    excluded = pd.read_csv(folder / "excluded.csv", dtype={"patient_id": str})
    devsets = {}
    for m in ("us", "mri"):
        path = folder / f"devset_{m}.csv"
        if path.is_file():
            d = pd.read_csv(path, dtype={"patient_id": str})
            for col in ("image", "mask", "reader_mask"):
                d[col] = _absolute(d[col], folder)
            devsets[m] = d
    return CohortOutputs(folder, data, excluded, manifest_dir, bool(src["simulated"]), src["centers"], devsets)


def read_truth(build_dir: Path, folder: str = "00_cohort") -> pd.DataFrame | None:
    """The digital twin's truth (``truth.parquet``), true-mask paths absolute; None for a
    user's cohort. The one place the truth is read (see the module docstring).

    ``folder`` is the cohort stage's folder name (its ``.partial`` one while it runs).
    """
    folder = _folder(build_dir, folder)
    path = folder / "truth.parquet"
    if not path.is_file():
        return None
    truth = pd.read_parquet(path)
    for col in ("us_true_mask", "mri_true_mask"):
        if col in truth:
            truth[col] = _absolute(truth[col], folder)
    return truth


def read_oracle(build_dir: Path) -> pd.Series | None:
    """The twin's true linear predictor per patient (the oracle: the best any model can
    do), or None for a user's cohort. Only the manuscript's oracle rows call this; a test
    checks that no analysis code does."""
    truth = read_truth(build_dir)
    if truth is None or "eta" not in truth:
        return None
    return truth.set_index("patient_id")["eta"]


# --------------------------------------------------------------------------- 01_segmentation


@dataclass(frozen=True)
class SegmentationOutputs:
    """What ``01_segmentation`` hands on.

    Attributes
    ----------
    folder : Path
    masks : DataFrame
        One row per (patient, modality): ``mask`` (the analysis mask, absolute; None when
        excluded), ``source`` (``auto``, ``reader``, ``user``, ``excluded``), ``flag``,
        ``reason``, ``auto_mask``, ``baseline_mask``.
    excluded : DataFrame
        Patients without a usable mask (``patient_id``, ``modality``, ``reason``).
    metrics : DataFrame
        Agreement per case (Dice, HD95...).
    """

    folder: Path
    masks: pd.DataFrame
    excluded: pd.DataFrame
    metrics: pd.DataFrame

    def analysis_masks(self) -> pd.DataFrame:
        """One row per (patient, modality) with a usable analysis mask (patients the
        segmentation stage excluded are left out)."""
        masks = self.masks
        keep = ((masks["source"] != "excluded") & masks["mask"].notna()
                & ~masks["patient_id"].isin(self.excluded["patient_id"]))
        return masks[keep].reset_index(drop=True)


def read_segmentation(build_dir: Path) -> SegmentationOutputs:
    """Read ``01_segmentation``'s outputs."""
    folder = _folder(build_dir, "01_segmentation")
    masks = pd.read_csv(folder / "segmentation.csv", dtype={"patient_id": str})
    for col in ("mask", "auto_mask", "baseline_mask"):
        if col in masks:
            masks[col] = _absolute(masks[col], folder)
    excluded = pd.read_csv(folder / "excluded.csv", dtype={"patient_id": str})
    metrics = pd.read_csv(folder / "metrics.csv", dtype={"case_id": str})
    return SegmentationOutputs(folder, masks, excluded, metrics)


# --------------------------------------------------------------------------- 02_features


@dataclass(frozen=True)
class FeatureOutputs:
    """What ``02_features`` hands on. The tidy table can be large: read it with :meth:`tidy`.

    Attributes
    ----------
    folder : Path
    icc : DataFrame
        ICC per (modality, region, feature) and the ``flag`` for selection.
    excluded : DataFrame
        Patients excluded for a failed analysis region.
    """

    folder: Path
    icc: pd.DataFrame
    excluded: pd.DataFrame

    def matrix(self, modality: str, region: str) -> pd.DataFrame:
        """Patients x features of one region, from the analysis masks."""
        path = self.folder / f"matrix_{modality}_{region}.parquet"
        if not path.is_file():
            raise StageError(f"02_features wrote no {modality} {region} matrix ({path.name})")
        return pd.read_parquet(path)

    def regions(self) -> list[tuple[str, str]]:
        """The (modality, region) pairs with a feature matrix."""
        out = []
        for m in ("us", "mri"):
            for r in ("intra", "peri"):
                if (self.folder / f"matrix_{m}_{r}.parquet").is_file():
                    out.append((m, r))
        return out

    def wide(self, drop_flagged: bool = True) -> tuple[pd.DataFrame, set[str]]:
        """All regions' features side by side, named ``<modality>_<region>__<feature>``, for
        the patients with every region; and the names flagged by the ICC step.

        Returns
        -------
        (DataFrame, set of str)
            Patients (index ``patient_id``) x features, and the flagged feature names (empty
            when ``drop_flagged`` is False).
        """
        frames = []
        for modality, region in self.regions():
            m = self.matrix(modality, region)
            frames.append(m.add_prefix(region_prefix(modality, region)))
        if not frames:
            raise ValueError("02_features wrote no feature matrix")
        X = pd.concat(frames, axis=1, join="inner")
        X.index = X.index.astype(str)
        X.index.name = "patient_id"
        flagged: set[str] = set()
        if drop_flagged and "flag" in self.icc:
            f = self.icc[self.icc["flag"].astype(bool)]
            flagged = {region_prefix(m, r) + feat for m, r, feat in zip(f["modality"], f["region"], f["feature"])}
        return X.sort_index(), flagged

    def tidy(self, mask_source: str | None = ANALYSIS_MASK) -> pd.DataFrame:
        """The tidy feature table, of one mask source (default the analysis masks) or all (None)."""
        filters = None if mask_source is None else [("mask_source", "==", mask_source)]
        return pd.read_parquet(self.folder / "features.parquet", filters=filters)


def read_features(build_dir: Path) -> FeatureOutputs:
    """Read ``02_features``' outputs."""
    folder = _folder(build_dir, "02_features")
    icc = pd.read_csv(folder / "icc.csv")
    excluded = pd.read_csv(folder / "excluded.csv", dtype={"patient_id": str})
    return FeatureOutputs(folder, icc, excluded)


# --------------------------------------------------------------------------- 03_signatures


def read_signatures(build_dir: Path) -> pd.DataFrame:
    """``03_signatures``' Rad-scores: index ``patient_id``, ``split`` and one column per
    signature (``multimodal`` is the one that feeds the models)."""
    folder = _folder(build_dir, "03_signatures")
    return pd.read_csv(folder / "radscores.csv", dtype={"patient_id": str}).set_index("patient_id")


def read_prevalidated(build_dir: Path) -> pd.DataFrame:
    """``03_signatures``' pre-validated Rad-scores of the training patients: index
    ``patient_id``, one column per signature (each patient's score from the
    cross-validation fit that did not see the patient; Tibshirani & Efron 2002)."""
    folder = _folder(build_dir, "03_signatures")
    return pd.read_csv(folder / "radscores_prevalidated.csv", dtype={"patient_id": str}).set_index("patient_id")


# --------------------------------------------------------------------------- 04_models


@dataclass(frozen=True)
class ModelOutputs:
    """``04_models``' outputs.

    Attributes
    ----------
    scores : DataFrame
        Index ``patient_id``; ``split`` and each model's centred linear predictor.
    baseline : DataFrame
        ``model, horizon, cumhaz_at_zero, center, s0``: predicted DFS = s0 ** exp(score).
    hazard_ratios : DataFrame
        ``model, term, label, coef, hr, ...``: each model's terms (coded columns).
    selection : DataFrame
        The univariable screens and what was kept.
    discrimination : DataFrame
        C-indices and td-AUCs per model and set.
    """

    scores: pd.DataFrame
    baseline: pd.DataFrame
    hazard_ratios: pd.DataFrame
    selection: pd.DataFrame
    discrimination: pd.DataFrame

    @property
    def models(self) -> list[str]:
        """The fitted models, in the study's order."""
        return [c for c in self.scores.columns if c != "split"]

    def terms(self, model: str) -> list[str]:
        """The coded columns of ``model`` in fit order."""
        return self.hazard_ratios.loc[self.hazard_ratios["model"] == model, "term"].tolist()

    def s0(self, model: str, horizon: float) -> float:
        """Baseline DFS at ``horizon`` for a centred score of 0."""
        b = self.baseline[(self.baseline["model"] == model) & (self.baseline["horizon"] == float(horizon))]
        if b.empty:
            raise StageError(f"04_models wrote no baseline survival for model {model!r} at {horizon:g} months; "
                             "add the horizon to models.horizons_months")
        return float(b["s0"].iloc[0])


def read_models(build_dir: Path) -> ModelOutputs:
    """``04_models``' scores, baseline survival, terms, selection and discrimination."""
    folder = _folder(build_dir, "04_models")
    read = lambda name, **kw: pd.read_csv(folder / name, **kw)  # noqa: E731
    return ModelOutputs(scores=read("model_scores.csv", dtype={"patient_id": str}).set_index("patient_id"),
                        baseline=read("baseline_survival.csv"), hazard_ratios=read("hazard_ratios.csv"),
                        selection=read("selection.csv"), discrimination=read("discrimination.csv"))


def read_variables(build_dir: Path, stage: str) -> dict:
    """The manuscript variables a finished stage wrote (its declared ``variables.yml``),
    for a later stage's text that compares results across stages."""
    import yaml

    path = _folder(build_dir, stage) / "variables.yml"
    if not path.is_file():
        raise StageError(f"{path} is missing: run stage {stage} first")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}

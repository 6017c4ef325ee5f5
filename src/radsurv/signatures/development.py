"""Developing the signatures on a training set: the seven LASSO-Cox signatures, the
stacked multi-modal signature and the rule that picks the multi-modal signature that
feeds the models. Plain data in, fitted estimators out; the ``03_signatures`` stage
(:mod:`radsurv.signatures.stage`) and the optimism bootstrap
(:mod:`radsurv.validation.optimism`) both call :func:`develop_signatures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import region_prefix
from ..seeds import STREAM_FOLDS
from ..stats import fit_cox
from .evaluation import score_concordance
from .preprocess import FeatureFilter
from .signature import LassoCoxSignature, StackedSignature, fold_ids, grouped_fold_ids

__all__ = ["MULTIMODAL", "REGION_SIGNATURES", "SIGNATURES", "STACKED", "Development", "available_signatures",
           "compare_multimodal", "develop_signatures", "needed_for_models"]

#: Signature -> (printed name, its (modality, region) pairs).
SIGNATURES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "us_intra": ("US intra-tumoral", (("us", "intra"),)),
    "us_peri": ("US peri-tumoral", (("us", "peri"),)),
    "mri_intra": ("MRI intra-tumoral", (("mri", "intra"),)),
    "mri_peri": ("MRI peri-tumoral", (("mri", "peri"),)),
    "us": ("US (intra + peri)", (("us", "intra"), ("us", "peri"))),
    "mri": ("MRI (intra + peri)", (("mri", "intra"), ("mri", "peri"))),
    "multimodal_union": ("Multi-modal (LASSO on all four regions)",
                         (("us", "intra"), ("us", "peri"), ("mri", "intra"), ("mri", "peri"))),
}
REGION_SIGNATURES = ("us_intra", "us_peri", "mri_intra", "mri_peri")
STACKED = "multimodal_stacked"
STACKED_LABEL = "Multi-modal (Cox on the four regional Rad-scores)"
MULTIMODAL = "multimodal"


def _filter(params: Mapping[str, Any], flagged: set[str]) -> FeatureFilter:
    f = params["filters"]
    return FeatureFilter(flagged=flagged, freq_ratio=f["near_zero_variance"]["freq_ratio"],
                         unique_pct=f["near_zero_variance"]["unique_pct"],
                         correlation_threshold=f["correlation_threshold"], screen_p=f["univariable_p"],
                         ties=params["ties"])


def _columns(X: pd.DataFrame, name: str) -> list[str]:
    prefixes = tuple(region_prefix(m, r) for m, r in SIGNATURES[name][1])
    return [c for c in X.columns if c.startswith(prefixes)]


def available_signatures(X: pd.DataFrame) -> list[str]:
    """The signatures whose regions all have features (all seven for a two-modality cohort)."""
    return [name for name, (_, regions) in SIGNATURES.items()
            if all(any(c.startswith(region_prefix(m, r)) for c in X.columns) for m, r in regions)]


def _fit_one(name: str, X: pd.DataFrame, t, e, foldid, params, flagged) -> LassoCoxSignature:
    sig = LassoCoxSignature(filter=_filter(params, flagged), lambda_rule=params["lambda_rule"],
                            nlambda=params["nlambda"])
    return sig.fit(X[_columns(X, name)], t, e, foldid)


@dataclass
class Development:
    """Everything the stage learned on the training set."""

    signatures: dict[str, LassoCoxSignature]
    stacked: StackedSignature | None
    foldid: np.ndarray
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)
    multimodal: str = "multimodal_union"

    def predictors(self) -> dict[str, Any]:
        """Every Rad-score, by name: the seven signatures, the stacked one, and the chosen
        multi-modal signature under ``multimodal``."""
        out: dict[str, Any] = dict(self.signatures)
        if self.stacked is not None:
            out[STACKED] = self.stacked
        if self.multimodal in out:
            out[MULTIMODAL] = out[self.multimodal]
        return out


def needed_for_models(rule: str, available: Sequence[str] | None = None) -> tuple[str, ...]:
    """The signatures the multi-modal rule needs (what the optimism bootstrap must rebuild).

    ``available``: the signatures the features allow (:func:`available_signatures`);
    with one modality only, that modality's intra + peri signature is what feeds the
    models."""
    if available is not None and "multimodal_union" not in available:
        return tuple(m for m in ("mri", "us") if m in available)[:1]
    if rule == "union":
        return ("multimodal_union",)
    if rule == "stacked":
        return REGION_SIGNATURES
    return (*REGION_SIGNATURES, "multimodal_union")


def develop_signatures(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any],
                       seed: int, n_jobs: int = 1, only: Sequence[str] | None = None,
                       groups: Sequence | None = None) -> Development:
    """Develop every signature on the training patients of ``X``.

    Parameters
    ----------
    X : DataFrame
        Patients x prefixed features (every set; only training rows are used).
    outcome : DataFrame
        ``split``, ``time``, ``event`` per patient.
    flagged : set of str
        Features flagged by the ICC step.
    params : mapping
        The ``signatures`` section.
    seed : int
        The run's seed (folds ``[seed, STREAM_FOLDS]``).
    n_jobs : int
        Processes over the signatures (the fits are the same whatever the number).
    only : sequence of str, optional
        Develop only these signatures (default: every available one).
    groups : sequence, optional
        Patient of each training row, for folds that keep a patient's copies together (a
        bootstrap resample); default: each row its own patient.
    """
    train = outcome["split"] == "train"
    Xtr, t, e = X[train.to_numpy()], outcome.loc[train, "time"].to_numpy(), outcome.loc[train, "event"].to_numpy()
    if groups is None:
        foldid = fold_ids(e, params["n_folds"], [seed, STREAM_FOLDS])
    else:
        foldid = grouped_fold_ids(e, np.asarray(groups)[train.to_numpy()], params["n_folds"], [seed, STREAM_FOLDS])
    names = [n for n in available_signatures(X) if only is None or n in only]
    if n_jobs > 1 and len(names) > 1:
        from joblib import Parallel, delayed

        fitted = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(_fit_one)(name, Xtr, t, e, foldid, params, flagged) for name in names)
    else:
        fitted = [_fit_one(name, Xtr, t, e, foldid, params, flagged) for name in names]
    sigs = dict(zip(names, fitted))
    stacked = None
    if all(r in sigs for r in REGION_SIGNATURES):
        stacked = StackedSignature({r: sigs[r] for r in REGION_SIGNATURES}).fit(Xtr, t, e)
    dev = Development(sigs, stacked, foldid)
    rule = params["multimodal"]["feeds_models"]
    if stacked is not None and "multimodal_union" in sigs:
        dev.comparison = compare_multimodal(sigs, t, e, foldid)
        if rule == "auto":
            c = dev.comparison.set_index("approach")["c"]
            dev.multimodal = STACKED if c["stacked"] > c["union"] else "multimodal_union"
        else:
            dev.multimodal = STACKED if rule == "stacked" else "multimodal_union"
    elif stacked is not None:
        dev.multimodal = STACKED
    else:
        # One modality only (a user's MRI-only or US-only cohort): its intra + peri
        # signature takes the multi-modal signature's place, and the paper says so.
        single = [m for m in ("mri", "us") if m in sigs]
        if single:
            dev.multimodal = single[0]
    return dev


def compare_multimodal(signatures: Mapping[str, LassoCoxSignature], t, e, foldid) -> pd.DataFrame:
    """Pre-validated C-index of the two multi-modal signatures on the training set.

    Pre-validation (Tibshirani & Efron 2002): each training patient gets the linear
    predictor of the cross-validation fit made without their fold, so a C-index over the
    training set is not computed on the data each prediction was fitted to. The union
    signature's pre-validated Rad-score is its own; the stacked signature's is a Cox model
    on the four regional pre-validated Rad-scores, itself fitted out of fold (same folds).
    Nothing beyond the signatures' own cross-validations is fitted except that small Cox
    model, and no test patient is seen.

    Returns
    -------
    DataFrame
        One row per way (``approach``: "union", "stacked"): ``c``, ``se``, ``lower``, ``upper``.
    """
    t, e, foldid = np.asarray(t, float), np.asarray(e, int), np.asarray(foldid)
    rows = []
    union = signatures["multimodal_union"].prevalidated_
    P = np.column_stack([signatures[r].prevalidated_ for r in REGION_SIGNATURES])
    stacked = np.zeros(t.size)
    for k in np.unique(foldid):
        held = foldid == k
        use = [j for j in range(P.shape[1]) if np.ptp(P[~held, j]) > 0]
        if not use:
            continue
        fit = fit_cox(pd.DataFrame(P[~held][:, use]), t[~held], e[~held])
        stacked[held] = (P[held][:, use] * fit.coef.to_numpy()).sum(axis=1)
    for name, score in (("union", union), ("stacked", stacked)):
        rows.append({"approach": name, **score_concordance(t, e, score)})
    return pd.DataFrame(rows)



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
from ..results import ShowsItself
from ..seeds import STREAM_FOLDS
from .evaluation import score_concordance
from .preprocess import FeatureFilter
from .signature import LassoCoxSignature, StackedSignature, fold_ids, grouped_fold_ids, stacked_out_of_fold

__all__ = ["MULTIMODAL", "REGION_SIGNATURES", "SIGNATURES", "STACKED", "Development", "available_signatures",
           "compare_multimodal", "develop_signatures", "example_signature", "needed_for_models", "prevalidated_scores",
           "prevalidated_table", "radscore_table",
           "signature_columns", "signature_estimator", "signature_label"]

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


def signature_label(name: str) -> str:
    """The printed name of a signature (or of the stacked multi-modal one)."""
    return STACKED_LABEL if name == STACKED else SIGNATURES[name][0]


def signature_estimator(params: Mapping[str, Any], flagged: set[str]) -> LassoCoxSignature:
    """An unfitted LASSO-Cox signature with the profile's filters, lambda rule and path.

    Parameters
    ----------
    params : mapping
        The ``signatures`` section.
    flagged : set of str
        Features flagged by the segmentation-robustness (ICC) step.
    """
    f = params["filters"]
    feature_filter = FeatureFilter(flagged=flagged, freq_ratio=f["near_zero_variance"]["freq_ratio"],
                                   unique_pct=f["near_zero_variance"]["unique_pct"],
                                   correlation_threshold=f["correlation_threshold"], screen_p=f["univariable_p"],
                                   ties=params["ties"])
    return LassoCoxSignature(filter=feature_filter, lambda_rule=params["lambda_rule"], nlambda=params["nlambda"])


def signature_columns(X: pd.DataFrame, name: str) -> list[str]:
    """The columns of ``X`` (prefixed features) that signature ``name`` is developed on."""
    prefixes = tuple(region_prefix(m, r) for m, r in SIGNATURES[name][1])
    return [c for c in X.columns if c.startswith(prefixes)]


def example_signature(available: Sequence[str]) -> str:
    """The signature a walkthrough develops by hand: MRI intra-tumoral where the cohort has
    MRI, else the first available one."""
    if not available:
        raise ValueError("no signature can be developed: the features cover no region")
    return "mri_intra" if "mri_intra" in available else available[0]


def available_signatures(X: pd.DataFrame) -> list[str]:
    """The signatures whose regions all have features (all seven for a two-modality cohort)."""
    return [name for name, (_, regions) in SIGNATURES.items()
            if all(any(c.startswith(region_prefix(m, r)) for c in X.columns) for m, r in regions)]


def _fit_one(name: str, X: pd.DataFrame, t, e, foldid, params, flagged) -> LassoCoxSignature:
    return signature_estimator(params, flagged).fit(X[signature_columns(X, name)], t, e, foldid)


@dataclass(repr=False)
class Development(ShowsItself):
    """Everything the stage learned on the training set: the signatures, the stacked
    multi-modal signature, the folds, the comparison of the two multi-modal signatures and
    which one feeds the models. Shown by :meth:`summary` (features left after each filter,
    the lambda and the selected count of every signature)."""

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

    def names(self) -> list[str]:
        """The developed signatures, then the stacked one where it exists."""
        return [*self.signatures, *([STACKED] if self.stacked is not None else [])]

    def flow_table(self) -> pd.DataFrame:
        """Features in, after each filter, and selected, per signature (the feature-count
        flow the paper prints), with the lambda as text."""
        rows = []
        for name, sig in self.signatures.items():
            row = {"Signature": signature_label(name)}
            for step, n in sig.flow_:
                row[step] = n
            # no lambda where no feature passed the filters (nothing was cross-validated)
            row["lambda"] = f"{sig.lambda_:.4g}" if np.isfinite(sig.lambda_) else "–"
            rows.append(row)
        return pd.DataFrame(rows)

    def title(self) -> str:
        folds = len(np.unique(self.foldid))
        return (f"{len(self.signatures)} signatures developed on {len(self.foldid)} training patients "
                f"({folds}-fold cross-validation); feeding the models: {signature_label(self.multimodal)}")

    def summary(self) -> pd.DataFrame:
        """:meth:`flow_table` indexed by the signature's printed name."""
        return self.flow_table().set_index("Signature")


def radscore_table(dev: Development, X: pd.DataFrame, outcome: pd.DataFrame) -> pd.DataFrame:
    """Rad-score of every patient for every signature, with the patient's set.

    Returns
    -------
    DataFrame
        Index ``patient_id``; ``split`` and one column per signature (``multimodal`` the
        one that feeds the models).
    """
    scores = {name: model.predict(X) for name, model in dev.predictors().items()}
    return pd.concat([outcome[["split"]], pd.DataFrame(scores, index=X.index)], axis=1)


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
        # weights fitted on the regional pre-validated Rad-scores (out of fold), the
        # combiner that compare_multimodal scores
        stacked = StackedSignature({r: sigs[r] for r in REGION_SIGNATURES}).fit(Xtr, t, e, foldid)
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
    stacked = stacked_out_of_fold(P, t, e, foldid)
    for name, score in (("union", union), ("stacked", stacked)):
        rows.append({"approach": name, **score_concordance(t, e, score)})
    return pd.DataFrame(rows)


def prevalidated_scores(dev: Development) -> dict[str, np.ndarray]:
    """The pre-validated training Rad-score of every predictor of ``dev`` (training
    patients in the order they were developed on): a LASSO signature's ``prevalidated_``,
    the stacked signature's out-of-fold combination, and the chosen one under
    ``multimodal``.

    Each training patient's score comes from fits made without their fold
    (Tibshirani & Efron 2002), so a statistic of it on the training set does not reuse
    the outcomes the Rad-score was fitted to.
    """
    out: dict[str, np.ndarray] = {}
    for name, model in dev.predictors().items():
        pv = getattr(model, "prevalidated_", None)
        if pv is not None:
            out[name] = np.asarray(pv, dtype=float)
    return out


def prevalidated_table(dev: Development, outcome: pd.DataFrame) -> pd.DataFrame:
    """:func:`prevalidated_scores` as a table of the training patients.

    Parameters
    ----------
    dev : Development
        :func:`develop_signatures`' result.
    outcome : DataFrame
        ``split`` per patient, in the order of the ``X`` the signatures were developed on.

    Returns
    -------
    DataFrame
        Index: the training patients; one column per Rad-score (``multimodal`` the one
        that feeds the models).
    """
    train = (outcome["split"] == "train").to_numpy()
    scores = prevalidated_scores(dev)
    n = int(train.sum())
    for name, pv in scores.items():
        if pv.size != n:
            raise ValueError(f"outcome: {n} training patients, but the {name} signature was developed on {pv.size}; "
                             "pass the outcome of the patients the signatures were developed on")
    return pd.DataFrame(scores, index=outcome.index[train])

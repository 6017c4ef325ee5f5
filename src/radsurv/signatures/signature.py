"""Radiomics signatures: LASSO-Cox on the training set, Rad-score = linear predictor.

:class:`LassoCoxSignature` (scikit-learn style, plain data frames in and out):

1. :class:`~radsurv.signatures.preprocess.FeatureFilter` chooses the features on the
   training set (ICC flags, near-zero variance, correlation, optional screen);
2. :class:`~radsurv.signatures.preprocess.Standardiser` z-scores them with the training
   mean and SD;
3. LASSO-Cox with K-fold cross-validation on the partial-likelihood deviance
   (:func:`radsurv.stats.lasso_cox_cv`, glmnet's rule and Breslow ties, fixed folds),
   at ``lambda_min`` or ``lambda_1se``;
4. the Rad-score of a patient is sum_j beta_j z_j over the selected features. It is
   centred on the training set (mean 0 there, since each z_j has training mean 0), in
   units of log hazard ratio.

Everything learned comes from the training data given to :meth:`fit`; :meth:`predict`
applies it unchanged, one patient at a time in effect (a patient's Rad-score does not
depend on which other patients are scored).

:class:`StackedSignature` combines signatures by a Cox model on their Rad-scores (the
second way of building the multi-modal signature). Its weights are fitted on the
components' *pre-validated* training Rad-scores (each patient scored by the fold fit
made without them), not on the Rad-scores the components were fitted to: a component
that overfits its training outcomes would otherwise look stronger than it is and take
too much weight (stacked regressions, Breiman 1996).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError
from ..preconditions import folds_fill
from ..results import ShowsItself, new_axes
from ..stats import fit_cox, lasso_cox_cv
from .preprocess import FeatureFilter, Standardiser

__all__ = ["LassoCoxSignature", "StackedSignature", "fold_ids", "grouped_fold_ids", "stacked_out_of_fold"]


def fold_ids(event: Sequence[int], n_folds: int, seed: int | Sequence[int]) -> np.ndarray:
    """Fold labels 1..K for cross-validation, stratified by the event so that every fold
    has events (cv.glmnet needs them), seeded.

    Parameters
    ----------
    event : array-like
        Event indicator of the training patients.
    n_folds : int
        K.
    seed : int or sequence of int
        Seed of the permutation.
    """
    e = np.asarray(event, dtype=int)
    if n_folds < 3:
        raise ValueError(f"n_folds: cross-validation needs at least 3 folds, got {n_folds}")
    if not folds_fill(e.sum(), n_folds):   # the stages refuse this first, naming the profile key
        raise ValueError(f"event: {int(e.sum())} events cannot fill {n_folds} folds")
    rng = np.random.default_rng(seed)
    folds = np.empty(e.size, dtype=int)
    for value in (1, 0):
        idx = np.flatnonzero(e == value)
        labels = np.arange(idx.size) % n_folds + 1
        folds[rng.permutation(idx)] = labels
    return folds


def grouped_fold_ids(event: Sequence[int], groups: Sequence, n_folds: int, seed) -> np.ndarray:
    """:func:`fold_ids` over groups (e.g. the copies of a patient in a bootstrap resample):
    every copy of a patient lands in the same fold, so no patient is fitted and scored in
    the same cross-validation split."""
    g = pd.Series(np.asarray(groups))
    first = ~g.duplicated().to_numpy()
    unique_folds = fold_ids(np.asarray(event, dtype=int)[first], n_folds, seed)
    table = dict(zip(g[first], unique_folds))
    return np.array([table[x] for x in g])


@dataclass(repr=False)
class LassoCoxSignature(ShowsItself):
    """A LASSO-Cox radiomics signature developed on the training set.

    Shown in a notebook by its selected features (:meth:`summary`), the features left
    after each filter (:meth:`flow`), the cross-validation curve (:meth:`plot`), the
    coefficient path (:meth:`plot_path`) and its coefficients (:meth:`plot_coefficients`).

    Parameters
    ----------
    filter : FeatureFilter
        The feature filters (unfitted; a copy is fitted).
    lambda_rule : {"lambda_min", "lambda_1se"}
        Which cross-validated lambda gives the signature.
    nlambda : int
        Length of glmnet's default lambda path.

    Attributes
    ----------
    filter_ : FeatureFilter
        The fitted filters (``flow_``: features left after each step).
    scaler_ : Standardiser
        The training mean and SD of the filtered features.
    cv_ : LassoCoxCV or None
        The cross-validation (curve, both lambdas, the path); None when no feature passed
        the filters (:attr:`filtered_out`: nothing to cross-validate).
    lambda_ : float
        The chosen lambda (NaN when no feature passed the filters).
    coef_ : Series
        Nonzero coefficients per standardised feature (empty when LASSO kept none, or when
        no feature passed the filters).
    prevalidated_ : ndarray
        Pre-validated linear predictor of each training patient at the chosen lambda: from
        the cross-validation fit without that patient's fold (Tibshirani & Efron 2002).
    flow_ : list of (str, int)
        ``filter_.flow_`` plus the number selected by LASSO.

    Notes
    -----
    A signature whose filters leave no feature (every feature constant, or flagged) is
    fitted all the same: it keeps no feature and its Rad-score is 0 for every patient, the
    null model (C = 0.5), as when LASSO keeps none (``docs/design.md``, "A LASSO that keeps
    no feature"). Its pre-validated Rad-score is 0 too (no fold fit could keep a feature the
    filters removed from all of them), and what shows it says that no feature passed the
    filters.
    """

    filter: FeatureFilter = field(default_factory=FeatureFilter)
    lambda_rule: str = "lambda_min"
    nlambda: int = 100

    def fit(self, X: pd.DataFrame, time, event, foldid) -> "LassoCoxSignature":
        """Develop the signature on the training set.

        Parameters
        ----------
        X : DataFrame
            Training patients x features.
        time, event : array-like
            Their follow-up and DFS event.
        foldid : array-like
            Fold label of each training patient (:func:`fold_ids`).
        """
        if self.lambda_rule not in ("lambda_min", "lambda_1se"):
            raise ValueError(f"lambda_rule: expected 'lambda_min' or 'lambda_1se', got {self.lambda_rule!r}")
        t = np.asarray(time, dtype=float)
        e = np.asarray(event, dtype=int)
        self.filter_ = FeatureFilter(**{k: getattr(self.filter, k) for k in
                                        ("flagged", "freq_ratio", "unique_pct", "correlation_threshold",
                                         "screen_p", "ties")})
        self.filter_.fit(X, t, e)
        self.features_in_ = list(X.columns)
        if not self.filter_.selected_:
            # Nothing to cross-validate: the signature keeps no feature, a constant Rad-score
            # (the null model), which every later stage handles as a LASSO that keeps none.
            self.scaler_ = Standardiser().fit(X.iloc[:, :0])
            self.cv_ = None
            self.lambda_ = float("nan")
            self.prevalidated_ = np.zeros(t.size)
            self.coef_ = pd.Series(dtype=float)
            self.flow_ = [*self.filter_.flow_, (f"selected by LASSO ({self.lambda_rule})", 0)]
            return self
        kept = self.filter_.transform(X)
        self.scaler_ = Standardiser().fit(kept)
        Z = self.scaler_.transform(kept)
        self.cv_ = lasso_cox_cv(Z.to_numpy(), t, e, foldid=np.asarray(foldid), nlambda=self.nlambda)
        self.lambda_ = float(getattr(self.cv_, self.lambda_rule))
        index = self.cv_.index_min if self.lambda_rule == "lambda_min" else self.cv_.index_1se
        # Each training patient's linear predictor from the folds without them (pre-validation).
        self.prevalidated_ = self.cv_.fit_preval[:, index].copy()
        beta = self.cv_.coef(self.lambda_rule)
        coef = pd.Series(beta, index=Z.columns)
        self.coef_ = coef[coef != 0]
        self.flow_ = [*self.filter_.flow_, (f"selected by LASSO ({self.lambda_rule})", len(self.coef_))]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("the signature is not fitted: call fit() on the training set first")

    def predict(self, X: pd.DataFrame) -> pd.Series:
        """Rad-scores (linear predictor on the training-standardised features)."""
        self._check_fitted()
        missing = [c for c in self.features_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X: lacks {len(missing)} feature(s) the signature was developed on, e.g. {missing[:3]}")
        if self.coef_.empty:
            return pd.Series(0.0, index=X.index, name="radscore")
        sel = self.coef_.index
        Z = (X[sel].astype(float) - self.scaler_.mean_[sel]) / self.scaler_.sd_[sel]
        # Row by row (not a matrix product, whose blocking depends on the number of rows):
        # a patient's Rad-score is the same bits whoever else is scored with them.
        return pd.Series((Z.to_numpy() * self.coef_.to_numpy()).sum(axis=1), index=X.index, name="radscore")

    def coefficients(self) -> pd.DataFrame:
        """The selected features: coefficient per SD, the training mean and SD, and the
        coefficient per unit of the raw feature."""
        self._check_fitted()
        sel = self.coef_.index
        return pd.DataFrame({"feature": sel, "coef_per_sd": self.coef_.to_numpy(),
                             "mean": self.scaler_.mean_.loc[sel].to_numpy(), "sd": self.scaler_.sd_.loc[sel].to_numpy(),
                             "coef_per_unit": (self.coef_ / self.scaler_.sd_.loc[sel]).to_numpy()})

    @property
    def filtered_out(self) -> bool:
        """Fitted, and no feature passed the filters (constant Rad-score 0, no cross-validation)."""
        self._check_fitted()
        return self.cv_ is None

    # -- showing itself -----------------------------------------------------------------
    def _fitted(self) -> bool:
        return hasattr(self, "coef_")

    def title(self) -> str:
        if not self._fitted():
            return f"LassoCoxSignature (not fitted; {self.lambda_rule})"
        if self.filtered_out:
            return (f"LASSO-Cox signature: no feature passed the filters (0 of {len(self.features_in_)} features), "
                    f"so it keeps none: its Rad-score is 0 for every patient (the null model, C = 0.5; "
                    f"{len(self.prevalidated_)} training patients)")
        return (f"LASSO-Cox signature: {len(self.coef_)} of {len(self.features_in_)} features at "
                f"{self.lambda_rule} = {self.lambda_:.4g} ({self.cv_.cvraw.shape[0]}-fold cross-validation, "
                f"{len(self.prevalidated_)} training patients)")

    def summary(self) -> pd.DataFrame:
        """The selected features, largest effect first: coefficient and hazard ratio per
        training SD, coefficient per unit, the training mean and SD (index ``feature``)."""
        self._check_fitted()
        c = self.coefficients().set_index("feature")
        c.insert(1, "hr_per_sd", np.exp(c["coef_per_sd"]))
        return c.reindex(c["coef_per_sd"].abs().sort_values(ascending=False).index)

    def flow(self) -> pd.DataFrame:
        """Features left after each filter and selected by LASSO (``step``, ``features_left``)."""
        self._check_fitted()
        return pd.DataFrame(self.flow_, columns=["step", "features_left"])

    def plot(self, ax=None, title: str | None = None):
        """The cross-validation curve (partial-likelihood deviance +-1 SE against log
        lambda, both lambdas marked), as the paper's LASSO figure draws it."""
        from ..plots.signatures import draw_cv_curve

        self._check_fitted()
        return draw_cv_curve(new_axes(ax), self.cv_, self.lambda_rule, title=title)   # None: says why

    def plot_path(self, ax=None):
        """The coefficient path of the full training fit against log lambda."""
        from ..plots.signatures import draw_coefficient_path

        self._check_fitted()
        return draw_coefficient_path(new_axes(ax), self.cv_, self.lambda_rule)

    def plot_coefficients(self, ax=None, label: str = "Signature", max_features: int = 15):
        """The selected features' coefficients per SD, as the paper's coefficient figure."""
        from ..plots.signatures import draw_coefficients

        self._check_fitted()
        ax = new_axes(ax, figsize=(6.0, 0.9 + 0.22 * min(max(len(self.coef_), 1), max_features)))
        return draw_coefficients(ax, self.coefficients(), label, max_features)


def stacked_out_of_fold(P, time, event, foldid) -> np.ndarray:
    """Pre-validated score of a Cox model on component scores: for each fold, the Cox
    model is fitted on the other folds' rows of ``P`` and applied to the fold's.

    Parameters
    ----------
    P : array-like, (n, k)
        The components' pre-validated training Rad-scores (one column per component).
    time, event : array-like
        The training outcomes.
    foldid : array-like
        Fold label of each training patient (the components' own folds).

    Returns
    -------
    ndarray
        One score per training patient (0 for a fold where no component varies on the
        other folds: nothing to weigh).

    Notes
    -----
    The components' pre-validated scores of the other folds came from LASSO fits that saw
    the held-out fold, so this is pre-validation of the combiner, not a fully nested cross-
    validation; it removes the combiner's own fit to the held-out patients
    (Tibshirani & Efron 2002).
    """
    P = np.asarray(P, dtype=float)
    t, e, foldid = np.asarray(time, float), np.asarray(event, int), np.asarray(foldid)
    out = np.zeros(t.size)
    for k in np.unique(foldid):
        held = foldid == k
        use = [j for j in range(P.shape[1]) if np.ptp(P[~held, j]) > 0]
        if not use:
            continue
        fit = fit_cox(pd.DataFrame(P[~held][:, use]), t[~held], e[~held])
        out[held] = (P[held][:, use] * fit.coef.to_numpy()).sum(axis=1)
    return out


#: What :class:`StackedSignature` fits its weights on.
TRAINING_SCORES = ("prevalidated", "resubstitution")


@dataclass
class StackedSignature:
    """A Cox model on the Rad-scores of several signatures (fitted on training).

    Parameters
    ----------
    components : mapping of str to LassoCoxSignature
        The fitted component signatures (fitted on the same training patients, in the
        same order, as the ``X`` given to :meth:`fit`).
    ties : str
        Ties of the Cox model.
    training_scores : {"prevalidated", "resubstitution"}
        What the Cox weights are fitted on: the components' pre-validated training
        Rad-scores (``prevalidated_``, the default: out of fold, as the combiner the
        multi-modal comparison scores) or the Rad-scores of the full fits
        (``resubstitution``: the components' fit to the same outcomes enters the weights;
        kept as a named comparison).

    Attributes
    ----------
    used_ : list of str
        The components that vary on the training set (both their full-fit and their
        pre-validated Rad-score: a constant one carries nothing to weigh).
    cox_ : CoxFit or None
        The Cox model (Efron ties) on their Rad-scores (None when no component is used).
    prevalidated_ : ndarray or None
        Pre-validated stacked score of each training patient (:func:`stacked_out_of_fold`
        on the components' pre-validated Rad-scores, the components' folds); None when
        :meth:`fit` was given no folds.

    Notes
    -----
    The weights come from out-of-fold scores; a patient's stacked Rad-score applies them to
    the components' full-fit Rad-scores (the only ones a new patient has), centred on the
    training set.

    References
    ----------
    Breiman L. Stacked regressions. Machine Learning 1996;24:49-64.
    Tibshirani RJ, Efron B. Pre-validation and inference in microarrays. Statistical
    Applications in Genetics and Molecular Biology 2002;1:Article 1.
    """

    components: Mapping[str, LassoCoxSignature]
    ties: str = "efron"
    training_scores: str = "prevalidated"
    center_: float = field(default=0.0, init=False)

    def scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """The component Rad-scores (one column per component)."""
        return pd.DataFrame({name: sig.predict(X) for name, sig in self.components.items()}, index=X.index)

    def _prevalidated_components(self, n: int) -> pd.DataFrame:
        cols = {}
        for name, sig in self.components.items():
            pv = np.asarray(sig.prevalidated_, dtype=float)
            if pv.size != n:
                raise ValueError(f"X: {n} training patients, but component {name!r} was fitted on {pv.size}; "
                                 "fit the stacked signature on the components' own training patients")
            cols[name] = pv
        return pd.DataFrame(cols)

    def fit(self, X: pd.DataFrame, time, event, foldid=None) -> "StackedSignature":
        """Fit the Cox model on the components' training Rad-scores (pre-validated unless
        ``training_scores`` says otherwise). A component whose Rad-score is constant (LASSO
        kept no feature, in the full fit or in every fold) carries nothing and is left out.

        Parameters
        ----------
        X : DataFrame
            The training patients the components were fitted on, in the same order.
        time, event : array-like
            Their outcomes.
        foldid : array-like, optional
            The components' folds, for :attr:`prevalidated_`.
        """
        if self.training_scores not in TRAINING_SCORES:
            raise ValueError(f"training_scores: expected one of {TRAINING_SCORES}, got {self.training_scores!r}")
        S = self.scores(X)
        P = self._prevalidated_components(len(X))
        fit_on = P if self.training_scores == "prevalidated" else S.reset_index(drop=True)
        self.used_ = [c for c in S.columns if np.ptp(S[c].to_numpy()) > 0 and np.ptp(fit_on[c].to_numpy()) > 0]
        self.prevalidated_ = (None if foldid is None else
                              stacked_out_of_fold(P.to_numpy(), time, event, foldid))
        if not self.used_:
            self.cox_ = None
            return self
        self.cox_ = fit_cox(fit_on[self.used_], np.asarray(time, float), np.asarray(event, int), ties=self.ties)
        # Centred on the training set's full-fit Rad-scores, as the LASSO Rad-scores are.
        self.center_ = float(np.mean((S[self.used_].to_numpy() * self.cox_.coef.to_numpy()).sum(axis=1)))
        return self

    def predict(self, X: pd.DataFrame) -> pd.Series:
        if not hasattr(self, "used_"):
            raise NotFittedError("the stacked signature is not fitted: call fit() on the training set first")
        if self.cox_ is None:
            return pd.Series(0.0, index=X.index, name="radscore")
        S = self.scores(X)[self.used_]
        lp = (S.to_numpy() * self.cox_.coef.to_numpy()).sum(axis=1)
        return pd.Series(lp - self.center_, index=X.index, name="radscore")

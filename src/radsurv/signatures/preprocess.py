"""What happens to the features before LASSO: standardisation and the filters, all
fitted on the training set and applied unchanged to the test sets.

* :class:`Standardiser`: z-scores with the training mean and standard deviation.
* :func:`near_zero_variance`: caret's ``nearZeroVar`` rule (Kuhn 2008): a feature whose
  most common value is more than ``freq_ratio`` times as frequent as the second most
  common, and whose distinct values are fewer than ``unique_pct`` percent of the
  samples, carries almost no information (and a constant feature none).
* :func:`correlation_filter`: of two features correlated beyond a threshold (|Pearson r|),
  the one with the weaker univariable association with DFS goes; greedy, strongest
  association first.
* :class:`FeatureFilter`: the whole chain, in the order the profile states (ICC flags,
  near-zero variance, correlation, optional univariable Cox screen), recording how
  many features are left after each step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError
from ..stats.screening import univariable_score_tests

__all__ = ["FeatureFilter", "Standardiser", "correlation_filter", "near_zero_variance"]


class Standardiser:
    """z = (x - mean) / sd, with the mean and SD (ddof = 1) of the training set.

    Attributes
    ----------
    mean_, sd_ : Series
        Per feature, from the data given to :meth:`fit`.
    """

    def fit(self, X: pd.DataFrame) -> "Standardiser":
        X = _frame(X)
        self.mean_ = X.mean(axis=0)
        self.sd_ = X.std(axis=0, ddof=1)
        constant = self.sd_.index[~(self.sd_ > 0)]
        if len(constant):
            raise ValueError(f"X: constant feature(s) {list(constant[:5])} cannot be standardised; filter them first")
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Standardise ``X``'s columns with the training statistics (columns as fitted)."""
        if not hasattr(self, "mean_"):
            raise NotFittedError("Standardiser is not fitted: call fit() on the training set first")
        X = _frame(X)
        missing = [c for c in self.mean_.index if c not in X.columns]
        if missing:
            raise ValueError(f"X: lacks the fitted feature(s) {missing[:5]}")
        return (X[self.mean_.index] - self.mean_) / self.sd_

    def fit_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.fit(X).transform(X)


def _frame(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X: expected a DataFrame with feature names, got {type(X).__name__}")
    return X.astype(float)


def near_zero_variance(X: pd.DataFrame, freq_ratio: float = 95 / 5, unique_pct: float = 10.0) -> list[str]:
    """Features with near-zero variance by caret's ``nearZeroVar(freqCut, uniqueCut)`` rule.

    Parameters
    ----------
    X : DataFrame
        Training features.
    freq_ratio : float
        caret's ``freqCut`` (95/5): ratio of the most common value's count to the second's.
    unique_pct : float
        caret's ``uniqueCut`` (10): distinct values as a percentage of the samples.

    Returns
    -------
    list of str
        The flagged features: constant ones, and those over ``freq_ratio`` and under
        ``unique_pct`` at once.
    """
    X = _frame(X)
    flagged = []
    n = len(X)
    values = X.to_numpy()
    for j, name in enumerate(X.columns):
        col = values[:, j]
        _, counts = np.unique(col[~np.isnan(col)], return_counts=True)
        if counts.size <= 1:
            flagged.append(name)
            continue
        top = np.sort(counts)[::-1]
        if top[0] / top[1] > freq_ratio and 100.0 * counts.size / n <= unique_pct:
            flagged.append(name)
    return flagged


def correlation_filter(X: pd.DataFrame, strength: pd.Series, threshold: float = 0.9) -> list[str]:
    """Features to keep so that no two kept ones are correlated beyond ``threshold``.

    Greedy: features are taken in order of decreasing ``strength`` (ties by name), and a
    feature is kept when its |Pearson r| with every feature kept so far is at most
    ``threshold``. Of any pair above the threshold, the stronger one is therefore kept.

    Parameters
    ----------
    X : DataFrame
        Training features.
    strength : Series
        Univariable association per feature (e.g. |z| of the Cox score test).
    threshold : float
        Largest |r| allowed between two kept features.

    Returns
    -------
    list of str
        The kept features, in ``X``'s column order.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold: must be in (0, 1], got {threshold!r}")
    X = _frame(X)
    names = list(X.columns)
    order = sorted(names, key=lambda c: (-float(strength[c]) if np.isfinite(strength[c]) else np.inf, c))
    Z = X[order].to_numpy()
    Z = (Z - Z.mean(axis=0)) / np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0) / np.sqrt(len(Z))
    kept: list[int] = []
    # largest |r| of each feature with the features kept so far, updated as each is kept
    # (one product per kept feature rather than one per candidate)
    r_max = np.zeros(Z.shape[1])
    for j in range(Z.shape[1]):
        if r_max[j] > threshold:
            continue
        kept.append(j)
        np.maximum(r_max, np.abs(Z.T @ Z[:, j]), out=r_max)
    keep = {order[j] for j in kept}
    return [c for c in names if c in keep]


@dataclass
class FeatureFilter:
    """The training-only feature filters before LASSO, in the profile's order.

    Parameters
    ----------
    flagged : iterable of str
        Features flagged by the segmentation-robustness step (ICC below its threshold).
    freq_ratio, unique_pct : float
        The near-zero-variance rule (:func:`near_zero_variance`).
    correlation_threshold : float or None
        |r| above which the weaker of two features goes (None: no correlation filter).
    screen_p : float or None
        Keep only features whose univariable Cox score test has p below it (None: no screen).
    ties : str
        Tie handling of the univariable score tests.

    Attributes
    ----------
    selected_ : list of str
        The features left, in input order.
    flow_ : list of (str, int)
        Features left after each step, starting with the input.
    association_ : DataFrame
        Univariable score tests of the features that reached the correlation step.
    """

    flagged: Iterable[str] = ()
    freq_ratio: float = 95 / 5
    unique_pct: float = 10.0
    correlation_threshold: float | None = 0.9
    screen_p: float | None = None
    ties: str = "efron"
    selected_: list[str] = field(default_factory=list, init=False)
    flow_: list[tuple[str, int]] = field(default_factory=list, init=False)

    def fit(self, X: pd.DataFrame, time: Sequence[float], event: Sequence[int]) -> "FeatureFilter":
        """Choose the features on the training set (``X``, ``time``, ``event``)."""
        X = _frame(X)
        flow = [("features in", X.shape[1])]
        flagged = set(self.flagged)
        keep = [c for c in X.columns if c not in flagged]
        flow.append(("ICC below threshold removed", len(keep)))
        nzv = set(near_zero_variance(X[keep], self.freq_ratio, self.unique_pct)) if keep else set()
        keep = [c for c in keep if c not in nzv]
        flow.append(("near-zero variance removed", len(keep)))
        if keep:
            self.association_ = univariable_score_tests(X[keep], time, event, ties=self.ties)
        else:
            self.association_ = pd.DataFrame(columns=["score", "information", "z", "chisq", "p"])
        if self.correlation_threshold is not None and keep:
            keep = correlation_filter(X[keep], self.association_["z"].abs(), self.correlation_threshold)
            flow.append((f"correlation |r| > {self.correlation_threshold:g} removed", len(keep)))
        if self.screen_p is not None and keep:
            p = self.association_.loc[keep, "p"]
            keep = [c for c in keep if p[c] < self.screen_p]
            flow.append((f"univariable Cox p >= {self.screen_p:g} removed", len(keep)))
        self.selected_ = keep
        self.flow_ = flow
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.flow_:
            raise NotFittedError("FeatureFilter is not fitted: call fit() on the training set first")
        return _frame(X)[self.selected_]

"""How much the optimal (X-tile) cut overstates the Rad-score's effect.

An optimal cut-point is the best of many candidate splits of the training set, so the
hazard ratio between its groups is biased away from 1 (Altman, Lausen, Sauerbrei &
Schumacher 1994). Three checks, in one table per set:

- the X-tile cut against cuts that involve no search: the training median and the
  training tertiles (top against bottom third);
- the cross-validated X-tile split of the training set (Faraggi & Simon 1996): each
  patient is put in a group by a cut chosen on the other folds, without them, so the
  hazard ratio between these groups carries no selection bias of the cut. It cuts the
  *pre-validated* Rad-score when one is given (``03_signatures``'
  ``radscores_prevalidated.csv``: each training patient scored by the cross-validation
  fit made without their fold; Tibshirani & Efron 2002): the training Rad-score is
  LASSO's fit to these same outcomes, so a cross-validated cut of it still carries the
  fit's optimism (issue 27: on pure noise its "bias-free" HR came out 1.3 to 2.2). The
  X-tile cut, the median and the tertiles stay on the training Rad-score, the study's;
- the shrinkage of the optimal cut's effect, ``log HR(cross-validated) / log HR(X-tile)``
  on the training set (1: no overstatement; 0.5: half of the log hazard ratio was the
  search's).

Every statistic is :func:`radsurv.stats.optimal_cutpoint` (maxstat's rule), the log-rank
test and the Cox model of :mod:`radsurv.stats`, matched to R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS, SPLITS
from ..results import ShowsItself, new_axes
from ..signatures.risk_groups import RiskGroups, group_summary
from ..stats import logrank, optimal_cutpoint

__all__ = ["NO_CUT", "NO_CV_SPLIT", "CUT_COLUMNS", "SPLIT_BY", "CutpointCheck", "cross_validated_groups",
           "cutpoint_check", "cutpoint_comparison", "shrinkage", "tertile_summary", "training_prevalidated"]

#: Columns of :func:`cutpoint_comparison`.
CUT_COLUMNS = ["set", "split_by", "cut", "n_low", "n_high", "events_low", "events_high", "hr", "hr_lower",
               "hr_upper", "logrank_p"]


def cross_validated_groups(score, time, event, n_folds: int, seed, min_prop: float = 0.1,
                           max_prop: float = 0.9) -> np.ndarray:
    """Each training patient's group from a cut chosen without them.

    The patients are split into ``n_folds`` folds (seeded, stratified by event); for each
    fold the maximally selected log-rank cut is found on the other folds and applied to
    the fold.

    Returns
    -------
    ndarray of str
        ``"high"`` / ``"low"`` per patient.
    """
    from ..signatures.signature import fold_ids

    x = np.asarray(score, dtype=float)
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=int)
    folds = fold_ids(e, n_folds, seed)
    out = np.empty(x.size, dtype=object)
    for k in np.unique(folds):
        held = folds == k
        cut = optimal_cutpoint(t[~held], e[~held], x[~held], min_prop=min_prop, max_prop=max_prop,
                               logrank_grid=False).cutpoint
        out[held] = np.where(x[held] > cut, "high", "low")
    return out.astype(str)


def tertile_summary(time, event, score, cuts: tuple[float, float]) -> dict:
    """Top against bottom tertile (training tertile cuts): the two outer thirds' sizes,
    events and Cox hazard ratio (:func:`group_summary` on those patients), and the
    log-rank p across the three thirds."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=int)
    x = np.asarray(score, dtype=float)
    group = np.where(x > cuts[1], 2, np.where(x > cuts[0], 1, 0))
    outer = group != 1
    out = group_summary(t[outer], e[outer], np.where(group[outer] == 2, "high", "low"))
    out["logrank_p"] = float(logrank(t, e, group).p) if len(np.unique(group)) > 1 and e.sum() else float("nan")
    out.pop("logrank_chisq", None)
    return out


def training_prevalidated(prevalidated: pd.Series | None, outcome: pd.DataFrame) -> np.ndarray | None:
    """The pre-validated Rad-score of ``outcome``'s training patients, in their order.

    Raises
    ------
    ValueError
        When a training patient has no pre-validated score (naming the first ones) or a
        score is not finite: ``radscores_prevalidated.csv`` is from another run of
        ``03_signatures``.
    """
    if prevalidated is None:
        return None
    ids = outcome.index[(outcome["split"] == "train").to_numpy()]
    missing = ids[~ids.isin(prevalidated.index)]
    if len(missing):
        raise ValueError(f"prevalidated: no pre-validated Rad-score for {len(missing)} training patients, e.g. "
                         f"{list(missing[:3])}; run 03_signatures again (radscores_prevalidated.csv)")
    x = prevalidated.loc[ids].to_numpy(dtype=float)
    if not np.isfinite(x).all():
        bad = ids[~np.isfinite(x)]
        raise ValueError(f"prevalidated: the pre-validated Rad-score of {len(bad)} training patients is not finite, "
                         f"e.g. {list(bad[:3])}; run 03_signatures again (radscores_prevalidated.csv)")
    return x


def cutpoint_comparison(score: pd.Series, outcome: pd.DataFrame, groups: RiskGroups, n_folds: int,
                        seed, prevalidated: pd.Series | None = None) -> pd.DataFrame:
    """The X-tile cut, the training median and tertiles, and the cross-validated X-tile
    split of the training set, per set.

    Parameters
    ----------
    score : Series
        The Rad-score of every patient.
    outcome : DataFrame
        ``split``, ``time``, ``event`` (same index).
    groups : RiskGroups
        The X-tile cut fitted on the training set (``03_signatures``' rule).
    n_folds : int
        Folds of the cross-validated split.
    seed
        Its folds' seed.
    prevalidated : Series, optional
        The training patients' pre-validated Rad-score (index: patient, as ``score``'s):
        the cross-validated X-tile split cuts it instead of ``score``. None: it cuts
        ``score`` (right only when ``score`` was not fitted to these outcomes).

    Returns
    -------
    DataFrame
        :data:`CUT_COLUMNS`; ``split_by`` is ``X-tile``, ``X-tile, cross-validated``
        (training only; all NaN when the pre-validated score admits no cut in a fold),
        ``median`` or ``tertiles`` (``cut`` holds the upper tertile cut).

    References
    ----------
    Faraggi D, Simon R. A simulation study of cross-validation for selecting an optimal
    cutpoint in univariate survival analysis. Stat Med 1996;15:2203-13.
    Tibshirani RJ, Efron B. Pre-validation and inference in microarrays. Stat Appl Genet
    Mol Biol 2002;1:Article 1.
    """
    train = (outcome["split"] == "train").to_numpy()
    x_train = score.to_numpy()[train]
    pv = training_prevalidated(prevalidated, outcome)
    median = float(np.median(x_train))
    tertiles = tuple(float(q) for q in np.quantile(x_train, [1 / 3, 2 / 3]))
    rows = []
    for s in SPLITS:
        sel = (outcome["split"] == s).to_numpy()
        if not sel.any():
            continue
        t, e, x = outcome["time"].to_numpy()[sel], outcome["event"].to_numpy()[sel], score.to_numpy()[sel]
        rows.append({"set": s, "split_by": "X-tile", "cut": groups.cutpoint_, **group_summary(t, e, groups.assign(x))})
        if s == "train":
            try:
                cv = cross_validated_groups(x if pv is None else pv, t, e, n_folds, seed, groups.min_prop,
                                            groups.max_prop)
                cv_row = group_summary(t, e, cv)
            except ValueError:
                if pv is None:
                    raise
                # the pre-validated score admits no cut in some fold (the fold fits kept no
                # feature, or too few distinct values): no cross-validated split exists, and
                # putting those patients in one group would invent one (CutpointCheck.note says so)
                cv_row = {}
            rows.append({"set": s, "split_by": "X-tile, cross-validated", "cut": np.nan, **cv_row})
        rows.append({"set": s, "split_by": "median", "cut": median,
                     **group_summary(t, e, np.where(x > median, "high", "low"))})
        rows.append({"set": s, "split_by": "tertiles", "cut": tertiles[1], **tertile_summary(t, e, x, tertiles)})
    out = pd.DataFrame(rows)
    for col in CUT_COLUMNS:
        if col not in out:
            out[col] = np.nan
    return out[CUT_COLUMNS]


def shrinkage(comparison: pd.DataFrame) -> float:
    """``log HR`` of the cross-validated X-tile split over that of the X-tile cut, on the
    training set: the share of the optimal cut's log hazard ratio that survives the
    removal of the search (NaN when either is undefined)."""
    tr = comparison[comparison["set"] == "train"].set_index("split_by")["hr"]
    if "X-tile" not in tr or "X-tile, cross-validated" not in tr:
        return float("nan")
    opt, cv = float(tr["X-tile"]), float(tr["X-tile, cross-validated"])
    if not (np.isfinite(opt) and np.isfinite(cv)) or opt <= 0 or cv <= 0 or np.log(opt) == 0:
        return float("nan")
    return float(np.log(cv) / np.log(opt))


#: Why there is no cut-point check on a constant Rad-score (the table, the variables, the paper).
NO_CUT = ("the cut-point check cannot be estimated: the multi-modal Rad-score selected no feature and is the same "
          "for every training patient, so there is no cut to compare")

#: The splits of :func:`cutpoint_comparison`, as the paper names them.
SPLIT_BY = {"X-tile": "X-tile cut (training optimum)", "X-tile, cross-validated": "X-tile cut, cross-validated",
            "median": "Training median", "tertiles": "Training tertiles (top vs bottom)"}


@dataclass(frozen=True, repr=False)
class CutpointCheck(ShowsItself):
    """The X-tile cut of a Rad-score against cuts without a search and against its
    cross-validated version (:func:`cutpoint_check`).

    Attributes
    ----------
    groups : RiskGroups or None
        The X-tile cut fitted on the training set (None: the training Rad-score is constant).
    comparison : DataFrame or None
        :func:`cutpoint_comparison` (None without a cut).
    shrinkage : float
        :func:`shrinkage` of the X-tile cut's log hazard ratio (NaN when undefined).
    n_folds : int
        Folds of the cross-validated split.
    score_cv : str
        Which Rad-score the cross-validated split cut: ``"pre-validated"`` or
        ``"training"``.
    note : str
        Why the cross-validated split could not be formed ("" when it was).
    """

    groups: RiskGroups | None
    comparison: pd.DataFrame | None
    shrinkage: float
    n_folds: int
    score_cv: str = "training"
    note: str = ""

    def _fitted(self) -> bool:
        return self.comparison is not None

    def summary(self) -> pd.DataFrame:
        """:data:`CUT_COLUMNS` per set and split (empty without a cut)."""
        if self.comparison is None:
            return pd.DataFrame(columns=CUT_COLUMNS)
        return self.comparison.reset_index(drop=True)


    def title(self) -> str:
        if self.comparison is None:
            return "Cut-point check: none, the Rad-score is constant on the training set"
        shrink = f"{self.shrinkage:.2f}" if np.isfinite(self.shrinkage) else "undefined"
        return (f"Cut-point check: X-tile cut {self.groups.cutpoint_:.3f} against the training median, tertiles and "
                f"its {self.n_folds}-fold cross-validated version (of the {self.score_cv} Rad-score); shrinkage of "
                f"its log HR {shrink}" + (f"; {self.note}" if self.note else ""))

    def plot(self, ax=None):
        """The hazard ratio (high against low, 95% CI) of each split, per set
        (``radsurv.plots.sensitivity.cutpoint_panel``)."""
        from ..plots.sensitivity import cutpoint_panel

        from ..plots.style import message_panel

        ax = new_axes(ax, (5.0, 3.0))
        if self.comparison is None:
            return message_panel(ax, "No cut: the Rad-score is constant on the training set")
        cutpoint_panel(ax, self.comparison, SPLIT_LABELS, SPLIT_BY)
        return ax


#: Why the cross-validated split is missing when the pre-validated Rad-score admits no cut.
NO_CV_SPLIT = ("the cross-validated X-tile split cannot be formed: the pre-validated multi-modal Rad-score admits no "
               "cut in at least one fold (its cross-validation fits kept no feature, or too few distinct values), so "
               "no shrinkage is reported")


def cutpoint_check(score: pd.Series, outcome: pd.DataFrame, min_prop: float, n_folds: int, seed,
                   prevalidated: pd.Series | None = None) -> CutpointCheck:
    """03's X-tile cut of ``score`` on the training set, compared (:func:`cutpoint_comparison`).

    The cut is 03's rule (maximally selected log-rank statistic, at least ``min_prop`` of
    the training patients on each side) without its permutation p and bootstrap: the
    cut itself is deterministic.

    Parameters
    ----------
    score, outcome, n_folds, seed, prevalidated
        As :func:`cutpoint_comparison` (``prevalidated``: the cross-validated split's score).
    min_prop : float
        The smallest share of training patients on either side of the cut.

    Returns
    -------
    CutpointCheck
        Without a cut (``comparison`` None) when the training Rad-score is constant.
    """
    train = (outcome["split"] == "train").to_numpy()
    score_cv = "training" if prevalidated is None else "pre-validated"
    if not np.ptp(score.to_numpy()[train]) > 0:
        return CutpointCheck(groups=None, comparison=None, shrinkage=float("nan"), n_folds=int(n_folds),
                             score_cv=score_cv)
    groups = RiskGroups(min_prop=min_prop, max_prop=1 - min_prop, n_permutations=0, n_bootstrap=0).fit(
        score.to_numpy()[train], outcome.loc[train, "time"], outcome.loc[train, "event"])
    comparison = cutpoint_comparison(score, outcome, groups, int(n_folds), seed, prevalidated)
    cv = comparison[(comparison["set"] == "train") & (comparison["split_by"] == "X-tile, cross-validated")]
    note = NO_CV_SPLIT if cv["n_low"].isna().all() else ""
    return CutpointCheck(groups=groups, comparison=comparison, shrinkage=shrinkage(comparison), n_folds=int(n_folds),
                         score_cv=score_cv, note=note)

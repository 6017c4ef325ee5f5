"""How much the optimal (X-tile) cut overstates the Rad-score's effect.

An optimal cut-point is the best of many candidate splits of the training set, so the
hazard ratio between its groups is biased away from 1 (Altman, Lausen, Sauerbrei &
Schumacher 1994). Three checks, in one table per set:

- the X-tile cut against cuts that involve no search: the training median and the
  training tertiles (top against bottom third);
- the cross-validated X-tile split of the training set (Faraggi & Simon 1996): each
  patient is put in a group by a cut chosen on the other folds, without them, so the
  hazard ratio between these groups carries no selection bias;
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

__all__ = ["NO_CUT", "CUT_COLUMNS", "SPLIT_BY", "CutpointCheck", "cross_validated_groups", "cutpoint_check",
           "cutpoint_comparison", "shrinkage", "tertile_summary"]

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


def cutpoint_comparison(score: pd.Series, outcome: pd.DataFrame, groups: RiskGroups, n_folds: int,
                        seed) -> pd.DataFrame:
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

    Returns
    -------
    DataFrame
        :data:`CUT_COLUMNS`; ``split_by`` is ``X-tile``, ``X-tile, cross-validated``
        (training only), ``median`` or ``tertiles`` (``cut`` holds the upper tertile cut).
    """
    train = (outcome["split"] == "train").to_numpy()
    x_train = score.to_numpy()[train]
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
            cv = cross_validated_groups(x, t, e, n_folds, seed, groups.min_prop, groups.max_prop)
            rows.append({"set": s, "split_by": "X-tile, cross-validated", "cut": np.nan, **group_summary(t, e, cv)})
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
    """

    groups: RiskGroups | None
    comparison: pd.DataFrame | None
    shrinkage: float
    n_folds: int

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
                f"its {self.n_folds}-fold cross-validated version; shrinkage of its log HR {shrink}")

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


def cutpoint_check(score: pd.Series, outcome: pd.DataFrame, min_prop: float, n_folds: int, seed) -> CutpointCheck:
    """03's X-tile cut of ``score`` on the training set, compared (:func:`cutpoint_comparison`).

    The cut is 03's rule (maximally selected log-rank statistic, at least ``min_prop`` of
    the training patients on each side) without its permutation p and bootstrap: the
    cut itself is deterministic.

    Parameters
    ----------
    score, outcome, n_folds, seed
        As :func:`cutpoint_comparison`.
    min_prop : float
        The smallest share of training patients on either side of the cut.

    Returns
    -------
    CutpointCheck
        Without a cut (``comparison`` None) when the training Rad-score is constant.
    """
    train = (outcome["split"] == "train").to_numpy()
    if not np.ptp(score.to_numpy()[train]) > 0:
        return CutpointCheck(groups=None, comparison=None, shrinkage=float("nan"), n_folds=int(n_folds))
    groups = RiskGroups(min_prop=min_prop, max_prop=1 - min_prop, n_permutations=0, n_bootstrap=0).fit(
        score.to_numpy()[train], outcome.loc[train, "time"], outcome.loc[train, "event"])
    comparison = cutpoint_comparison(score, outcome, groups, int(n_folds), seed)
    return CutpointCheck(groups=groups, comparison=comparison, shrinkage=shrinkage(comparison), n_folds=int(n_folds))

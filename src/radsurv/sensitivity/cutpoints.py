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

import numpy as np
import pandas as pd

from ..labels import SPLITS
from ..signatures.risk_groups import RiskGroups, group_summary
from ..stats import logrank, optimal_cutpoint

__all__ = ["CUT_COLUMNS", "cross_validated_groups", "cutpoint_comparison", "shrinkage", "tertile_summary"]

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

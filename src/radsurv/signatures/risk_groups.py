"""X-tile risk groups: a Rad-score cut chosen on the training set, then frozen.

The cut maximises the log-rank statistic over the splits that leave between 10% and
90% of the training patients in the low-risk group (``radsurv.stats.optimal_cutpoint``,
R's ``maxstat``). Because the best of many cuts is chosen, the log-rank p of the chosen
split is far too small; three p-values are reported side by side: the uncorrected one,
Lausen and Schumacher's (1994) bound for the maximally selected statistic, and a
permutation p (the whole search repeated on permuted outcomes). A bootstrap of the
training set shows how stable the cut is. The cut is then applied unchanged to the
internal and external test sets.

Optimal cut-points overstate effects (Altman et al. 1994): beside the dichotomy the
continuous Rad-score's hazard ratio per training SD and a median split are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError
from ..stats import fit_cox, logrank, optimal_cutpoint

__all__ = ["RiskGroups", "group_summary", "hazard_ratio_per_sd"]


@dataclass
class RiskGroups:
    """Choose the cut on training (:meth:`fit`); assign any patient (:meth:`assign`).

    Parameters
    ----------
    min_prop, max_prop : float
        Range of the low-risk group's share of the training patients.
    n_permutations : int
        Permutations of the training outcomes for the permutation p.
    n_bootstrap : int
        Bootstrap resamples of the training set for the cut's stability.
    seed : int or sequence of int
        Seed of the permutations and resamples.

    Attributes
    ----------
    cutpoint_ : float
        High risk is Rad-score > cutpoint_.
    statistic_ : float
        The maximally selected standardised log-rank statistic.
    p_uncorrected_, p_lausen_, p_permutation_ : float
        The log-rank p of the chosen split; the Lau94 bound; the permutation p
        ``(1 + #{B: max statistic >= observed}) / (B + 1)``.
    grid_ : DataFrame
        Every candidate cut with its statistics (the X-tile plot).
    bootstrap_cuts_ : ndarray
        The cut chosen in each bootstrap resample.
    """

    min_prop: float = 0.1
    max_prop: float = 0.9
    n_permutations: int = 1000
    n_bootstrap: int = 200
    seed: int | Sequence[int] = 0
    bootstrap_cuts_: np.ndarray = field(default=None, init=False, repr=False)

    def fit(self, score, time, event) -> "RiskGroups":
        x = np.asarray(score, dtype=float)
        t = np.asarray(time, dtype=float)
        e = np.asarray(event, dtype=int)
        res = optimal_cutpoint(t, e, x, min_prop=self.min_prop, max_prop=self.max_prop)
        self.cutpoint_ = res.cutpoint
        self.statistic_ = res.statistic
        self.p_lausen_ = res.p_value
        self.grid_ = res.grid
        self.p_uncorrected_ = float(res.grid.loc[res.grid["cut"] == res.cutpoint, "logrank_p"].iloc[0])
        rng = np.random.default_rng(self.seed)
        exceed = 0
        for _ in range(self.n_permutations):
            perm = rng.permutation(t.size)
            stat = optimal_cutpoint(t[perm], e[perm], x, self.min_prop, self.max_prop, logrank_grid=False).statistic
            exceed += stat >= self.statistic_ - 1e-12
        self.p_permutation_ = (1 + exceed) / (self.n_permutations + 1)
        cuts = []
        for _ in range(self.n_bootstrap):
            idx = rng.integers(0, t.size, t.size)
            if e[idx].sum() == 0 or np.ptp(x[idx]) == 0:
                continue
            try:
                cuts.append(optimal_cutpoint(t[idx], e[idx], x[idx], self.min_prop, self.max_prop,
                                             logrank_grid=False).cutpoint)
            except ValueError:  # too many ties in a resample for the admissible range
                continue
        self.bootstrap_cuts_ = np.asarray(cuts)
        return self

    def assign(self, score) -> np.ndarray:
        """``"high"`` where the Rad-score is above the frozen cut, else ``"low"``."""
        if not hasattr(self, "cutpoint_"):
            raise NotFittedError("RiskGroups is not fitted: call fit() on the training set first")
        x = np.asarray(score, dtype=float)
        return np.where(x > self.cutpoint_, "high", "low")


def group_summary(time, event, group) -> dict:
    """Sizes, events, log-rank p and the hazard ratio (high vs low, Cox, Efron ties) of a
    two-group split, as the paper reports them for each set.

    Returns
    -------
    dict
        ``n_low``, ``n_high``, ``events_low``, ``events_high``, ``logrank_chisq``,
        ``logrank_p``, ``hr``, ``hr_lower``, ``hr_upper`` (NaN where a group is empty or
        has no events in a way that leaves the HR undefined).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=int)
    g = np.asarray(group)
    high = g == "high"
    out = {"n_low": int((~high).sum()), "n_high": int(high.sum()),
           "events_low": int(e[~high].sum()), "events_high": int(e[high].sum())}
    nan = float("nan")
    if out["n_low"] == 0 or out["n_high"] == 0 or e.sum() == 0:
        return {**out, "logrank_chisq": nan, "logrank_p": nan, "hr": nan, "hr_lower": nan, "hr_upper": nan}
    lr = logrank(t, e, high.astype(int))
    out.update(logrank_chisq=lr.statistic, logrank_p=lr.p)
    if out["events_low"] == 0 or out["events_high"] == 0:
        out.update(hr=nan, hr_lower=nan, hr_upper=nan)   # monotone likelihood: no finite HR
        return out
    fit = fit_cox(pd.DataFrame({"high": high.astype(float)}), t, e)
    out.update(hr=float(fit.hr["high"]), hr_lower=float(fit.hr_lower["high"]), hr_upper=float(fit.hr_upper["high"]))
    return out


def hazard_ratio_per_sd(score, time, event, sd: float) -> dict:
    """The continuous Rad-score's hazard ratio per ``sd`` (the training SD), Cox, Efron ties."""
    x = np.asarray(score, dtype=float) / float(sd)
    fit = fit_cox(pd.DataFrame({"per_sd": x}), time, event)
    return {"hr": float(fit.hr["per_sd"]), "hr_lower": float(fit.hr_lower["per_sd"]),
            "hr_upper": float(fit.hr_upper["per_sd"]), "p": float(fit.p["per_sd"])}

"""X-tile risk groups: a Rad-score cut chosen on the training set, then frozen.

The cut maximises the log-rank statistic over the splits that leave between 10% and
90% of the training patients in the low-risk group (``radsurv.stats.optimal_cutpoint``,
R's ``maxstat``). Because the best of many cuts is chosen, the log-rank p of the chosen
split is far too small; three p-values are reported side by side: the uncorrected one,
Lausen and Schumacher's (1994) bound for the maximally selected statistic, and a
permutation p (the whole search repeated on permuted outcomes). A bootstrap of the
training set shows how stable the cut is. The cut is then applied unchanged to the
internal and external test sets.

Which score each p-value uses. The cut, as the study chose it, is the optimum of the
training Rad-score: the linear predictor LASSO fitted to these same training outcomes
(resubstitution). A p-value of that score corrects at most for the search over cuts,
not for the fit: on pure noise a LASSO that keeps any feature makes its own training
patients separate, and the Lausen-Schumacher and permutation p-values come out small.
So the two corrected p-values repeat the X-tile search on the *pre-validated* training
Rad-score (each patient scored by the cross-validation fit made without their fold;
Tibshirani & Efron 2002), whose value for a patient was not fitted to that patient's
outcome. The uncorrected p stays the study's: the log-rank test of the chosen split of
the training Rad-score, which corrects for neither.

The pre-validated p-values are an approximation: a patient's pre-validated score does
not depend on their own outcome but does on the other folds' outcomes, so its null
distribution is not that of a fixed marker (Hoefling & Tibshirani 2008). On simulated
pure-noise data they fall below 0.05 less often than the resubstitution ones, but still
more often than 5% (``tests/signatures/test_noise_inference.py``). The exact test repeats
the whole development on permuted outcomes and compares the X-tile statistics
(:func:`xtile_development_null`, :func:`development_permutation_p`): what the
whole-development permutation null of ``06_sensitivity`` could record without an extra fit.

Optimal cut-points overstate effects (Altman et al. 1994): beside the dichotomy the
continuous Rad-score's hazard ratio per training SD and a median split are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError
from ..labels import SPLIT_LABELS, SPLITS
from ..report.formatting import format_p
from ..results import ShowsItself, new_axes
from ..seeds import STREAM_XTILE
from ..stats import fit_cox, logrank, optimal_cutpoint
from .evaluation import is_constant

__all__ = ["RISK_GROUP_COLUMNS", "RiskGroups", "development_permutation_p", "fit_risk_groups", "group_summary",
           "hazard_ratio_per_sd", "not_estimable_risk", "per_sd_or_nan", "risk_group_table", "risk_group_tables",
           "xtile_development_null", "xtile_statistic"]


@dataclass(repr=False)
class RiskGroups(ShowsItself):
    """Choose the cut on training (:meth:`fit`); assign any patient (:meth:`assign`).

    Shown by the cut and its three p-values (:meth:`summary`) and the X-tile plot
    (:meth:`plot`: the log-rank statistic of every admissible cut; :meth:`plot_bootstrap`:
    the cuts chosen in bootstrap resamples).

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
        High risk is Rad-score > cutpoint_ (chosen on the score given to :meth:`fit`).
    statistic_ : float
        The maximally selected standardised log-rank statistic of that score.
    p_uncorrected_ : float
        The log-rank p of the chosen split (corrected for nothing).
    p_lausen_, p_permutation_ : float
        The Lau94 bound and the permutation p ``(1 + #{B: max statistic >= observed}) /
        (B + 1)`` of the X-tile search on the pre-validated score when :meth:`fit` was
        given one, else on the score itself.
    p_score_ : str
        Which score the two corrected p-values searched: ``"pre-validated"`` or
        ``"training"`` (the score the cut was chosen on).
    statistic_prevalidated_ : float
        The maximally selected statistic of the pre-validated score (NaN without one, or
        when it admits no cut).
    inference_note_ : str
        Why the corrected p-values are 1 (the pre-validated score admits no cut: every
        fold fit kept no feature), else "".
    grid_ : DataFrame
        Every candidate cut with its statistics (the X-tile plot).
    n_train_ : int
        Training patients the cut was chosen on.
    bootstrap_cuts_ : ndarray
        The cut chosen in each bootstrap resample.
    """

    min_prop: float = 0.1
    max_prop: float = 0.9
    n_permutations: int = 1000
    n_bootstrap: int = 200
    seed: int | Sequence[int] = 0
    bootstrap_cuts_: np.ndarray = field(default=None, init=False, repr=False)

    def fit(self, score, time, event, prevalidated=None) -> "RiskGroups":
        """Choose the cut on the training ``score``; test it on ``prevalidated``.

        Parameters
        ----------
        score : array-like
            The training Rad-score the cut is chosen on (and later applied to test sets).
        time, event : array-like
            The training outcomes.
        prevalidated : array-like, optional
            The same patients' pre-validated Rad-score: the Lausen-Schumacher and
            permutation p-values come from the X-tile search on it (see the module's
            note). Without it they come from ``score``, which is right only when
            ``score`` was not fitted to these outcomes.

        References
        ----------
        Lausen B, Schumacher M. Maximally selected rank statistics. Biometrics 1992;48:73-85.
        Tibshirani RJ, Efron B. Pre-validation and inference in microarrays. Statistical
        Applications in Genetics and Molecular Biology 2002;1:Article 1.
        """
        x = np.asarray(score, dtype=float)
        t = np.asarray(time, dtype=float)
        e = np.asarray(event, dtype=int)
        res = optimal_cutpoint(t, e, x, min_prop=self.min_prop, max_prop=self.max_prop)
        self.n_train_ = int(t.size)
        self.cutpoint_ = res.cutpoint
        self.statistic_ = res.statistic
        self.grid_ = res.grid
        self.p_uncorrected_ = float(res.grid.loc[res.grid["cut"] == res.cutpoint, "logrank_p"].iloc[0])
        self.inference_note_ = ""
        rng = np.random.default_rng(self.seed)
        if prevalidated is None:
            self.p_score_ = "training"
            tested, stat0, self.p_lausen_ = x, res.statistic, res.p_value
            self.statistic_prevalidated_ = float("nan")
        else:
            tested = np.asarray(prevalidated, dtype=float)
            if tested.shape != x.shape:
                raise ValueError(f"prevalidated: {tested.size} values for {x.size} training patients")
            self.p_score_ = "pre-validated"
            try:
                pv = optimal_cutpoint(t, e, tested, self.min_prop, self.max_prop, logrank_grid=False)
                stat0, self.p_lausen_ = pv.statistic, pv.p_value
            except ValueError:
                # constant, or too tied for any admissible split: the folds' fits carry no
                # ranking of the patients, so there is no evidence against the null
                stat0, self.p_lausen_ = float("nan"), 1.0
                self.inference_note_ = ("the pre-validated Rad-score admits no cut (the cross-validation fits kept "
                                        "no feature, or too few distinct values): corrected p-values set to 1")
            self.statistic_prevalidated_ = float(stat0)
        if np.isnan(stat0):
            self.p_permutation_ = 1.0
        else:
            exceed = 0
            for _ in range(self.n_permutations):
                perm = rng.permutation(t.size)
                stat = optimal_cutpoint(t[perm], e[perm], tested, self.min_prop, self.max_prop,
                                        logrank_grid=False).statistic
                exceed += stat >= stat0 - 1e-12
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

    # -- showing itself -----------------------------------------------------------------
    def _fitted(self) -> bool:
        return hasattr(self, "cutpoint_")

    def _check_fitted(self) -> None:
        if not self._fitted():
            raise NotFittedError("RiskGroups is not fitted: call fit() on the training set first")

    def title(self) -> str:
        if not self._fitted():
            return "RiskGroups (not fitted)"
        low = int(self.grid_.loc[self.grid_["cut"] == self.cutpoint_, "n_low"].iloc[0])
        return (f"X-tile cut {self.cutpoint_:.3f} of the training Rad-score ({self.n_train_ - low} of "
                f"{self.n_train_} training patients above it: high risk); log-rank p "
                f"{format_p(self.p_uncorrected_)} uncorrected; on the {self.p_score_} Rad-score "
                f"{format_p(self.p_lausen_)} Lausen-Schumacher, "
                f"{format_p(self.p_permutation_)} by {self.n_permutations} permutations")

    def summary(self) -> pd.DataFrame:
        """The cut, the maximally selected statistic, the three p-values and the bootstrap
        range of the cut (one ``value`` per row)."""
        self._check_fitted()
        cuts = self.bootstrap_cuts_
        lo, hi = np.percentile(cuts, [2.5, 97.5]) if cuts.size else (np.nan, np.nan)
        rows = {"cut": self.cutpoint_, "maximally selected log-rank statistic": self.statistic_,
                "p uncorrected (the chosen split's log-rank test)": self.p_uncorrected_,
                f"p Lausen-Schumacher (1994) bound, {self.p_score_} Rad-score": self.p_lausen_,
                f"p permutation ({self.n_permutations} permutations), {self.p_score_} Rad-score":
                    self.p_permutation_,
                f"bootstrap cut, 2.5th percentile ({cuts.size} resamples)": lo,
                "bootstrap cut, 97.5th percentile": hi}
        return pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="X-tile"))

    def plot(self, ax=None, p_text: str = ""):
        """The X-tile plot: the log-rank chi-square of every admissible cut, the chosen cut."""
        from ..plots.signatures import draw_xtile

        self._check_fitted()
        return draw_xtile(new_axes(ax), self.grid_, self.cutpoint_, p_text)

    def plot_bootstrap(self, ax=None):
        """The cuts chosen in bootstrap resamples of the training set, and the chosen cut."""
        from ..plots.signatures import draw_bootstrap_cuts

        self._check_fitted()
        return draw_bootstrap_cuts(new_axes(ax, figsize=(5.0, 1.8)), self.bootstrap_cuts_, self.cutpoint_)


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
    try:
        fit = fit_cox(pd.DataFrame({"high": high.astype(float)}), t, e)
    except ValueError:   # no finite maximum on a handful of patients (a small test set)
        out.update(hr=nan, hr_lower=nan, hr_upper=nan)
        return out
    out.update(hr=float(fit.hr["high"]), hr_lower=float(fit.hr_lower["high"]), hr_upper=float(fit.hr_upper["high"]))
    return out


def hazard_ratio_per_sd(score, time, event, sd: float) -> dict:
    """The continuous Rad-score's hazard ratio per ``sd`` (the training SD), Cox, Efron ties."""
    x = np.asarray(score, dtype=float) / float(sd)
    fit = fit_cox(pd.DataFrame({"per_sd": x}), time, event)
    return {"hr": float(fit.hr["per_sd"]), "hr_lower": float(fit.hr_lower["per_sd"]),
            "hr_upper": float(fit.hr_upper["per_sd"]), "p": float(fit.p["per_sd"])}


def fit_risk_groups(scores: pd.DataFrame, outcome: pd.DataFrame, names: Sequence[str], params: Mapping[str, Any],
                    seed: int, prevalidated: pd.DataFrame | None = None) -> dict[str, RiskGroups]:
    """The X-tile cut of each Rad-score on the training set.

    Parameters
    ----------
    scores : DataFrame
        Rad-scores per patient (one column per signature).
    outcome : DataFrame
        ``split``, ``time``, ``event`` per patient.
    names : sequence of str
        The Rad-scores to cut; a constant one (no feature selected) is skipped.
    params : mapping
        The ``signatures`` section (its ``cutpoint`` settings).
    seed : int
        The run's seed; the k-th Rad-score draws from ``[seed, STREAM_XTILE, k]``.
    prevalidated : DataFrame, optional
        The training patients' pre-validated Rad-scores
        (:func:`~radsurv.signatures.development.prevalidated_table`): the corrected
        p-values of a Rad-score with a column here use it (:meth:`RiskGroups.fit`).
    """
    cp = params["cutpoint"]
    train = (outcome["split"] == "train").to_numpy()
    ids = outcome.index[train]
    if prevalidated is not None and not ids.isin(prevalidated.index).all():
        raise ValueError("prevalidated: lacks training patients of outcome, e.g. "
                         f"{list(ids[~ids.isin(prevalidated.index)][:3])}; pass prevalidated_table(dev, outcome)")
    out = {}
    for k, name in enumerate(names):
        x = scores.loc[train, name].to_numpy()
        if is_constant(x):
            continue  # no feature selected: nothing to cut
        pv = (prevalidated.loc[ids, name].to_numpy()
              if prevalidated is not None and name in prevalidated else None)
        out[name] = RiskGroups(min_prop=cp["min_prop"], max_prop=1 - cp["min_prop"],
                               n_permutations=cp["n_permutations"], n_bootstrap=cp["n_bootstrap"],
                               seed=[seed, STREAM_XTILE, k]).fit(x, outcome.loc[train, "time"],
                                                                 outcome.loc[train, "event"], prevalidated=pv)
    return out


RISK_GROUP_COLUMNS = ["set", "split_by", "cut", "n_low", "n_high", "events_low", "events_high", "logrank_chisq",
                      "logrank_p", "hr", "hr_lower", "hr_upper", "signature"]


def risk_group_table(scores: pd.DataFrame, outcome: pd.DataFrame, name: str, groups: RiskGroups,
                     sd: float) -> pd.DataFrame:
    """Per set: the X-tile groups, the median split (training median) and the continuous
    Rad-score's HR per training SD.

    Returns
    -------
    DataFrame
        ``set``, ``split_by`` ("X-tile", "median", "per SD"), the group sizes and events,
        ``logrank_p``, ``hr``, ``hr_lower``, ``hr_upper``.
    """
    train = (outcome["split"] == "train").to_numpy()
    median = float(np.median(scores.loc[train, name]))
    rows = []
    for s in SPLITS:
        sel = (outcome["split"] == s).to_numpy()
        if not sel.any():
            continue
        t, e, x = outcome.loc[sel, "time"].to_numpy(), outcome.loc[sel, "event"].to_numpy(), \
            scores.loc[sel, name].to_numpy()
        rows.append({"set": s, "split_by": "X-tile", "cut": groups.cutpoint_,
                     **group_summary(t, e, groups.assign(x))})
        rows.append({"set": s, "split_by": "median", "cut": median,
                     **group_summary(t, e, np.where(x > median, "high", "low"))})
        hr = per_sd_or_nan(x, t, e, sd)
        rows.append({"set": s, "split_by": "per SD", "hr": hr["hr"], "hr_lower": hr["hr_lower"],
                     "hr_upper": hr["hr_upper"], "logrank_p": hr["p"]})
    return pd.DataFrame(rows)


def per_sd_or_nan(score, time, event, sd: float) -> dict:
    """:func:`hazard_ratio_per_sd`, or NaN where it cannot be estimated on these patients:
    no event (:func:`radsurv.preconditions.scored_set`'s rule), or a likelihood without a
    finite maximum (a handful of patients whose score separates the events: the test sets
    of a small cohort). :func:`not_estimable_hr` says which, for the paper."""
    nan = float("nan")
    if not np.asarray(event, dtype=int).any():
        return {"hr": nan, "hr_lower": nan, "hr_upper": nan, "p": nan}
    try:
        return hazard_ratio_per_sd(score, time, event, sd)
    except ValueError:
        return {"hr": nan, "hr_lower": nan, "hr_upper": nan, "p": nan}


def risk_group_tables(scores: pd.DataFrame, outcome: pd.DataFrame, groups: Mapping[str, RiskGroups]) -> pd.DataFrame:
    """:func:`risk_group_table` of every cut Rad-score, one below the other (column
    ``signature``), the HR per SD taken per the Rad-score's training SD. With no cut (a
    null run may select no feature in any signature) the table has its header only."""
    train = (outcome["split"] == "train").to_numpy()
    risk = pd.DataFrame(columns=RISK_GROUP_COLUMNS)
    if groups:
        risk = pd.concat([risk_group_table(scores, outcome, n, groups[n],
                                           float(np.std(scores.loc[train, n], ddof=1))).assign(signature=n)
                          for n in groups], ignore_index=True)[RISK_GROUP_COLUMNS]
    return risk


def not_estimable_risk(risk: pd.DataFrame, outcome: pd.DataFrame, label: str) -> list[str]:
    """What the risk-group table of one Rad-score (``label``, its printed name) could not
    estimate and why, one sentence per test set: a set without patients or events
    (:func:`radsurv.preconditions.scored_set`), or a hazard ratio per SD without a finite
    estimate (a group's HR without events is "–" in the table, as before)."""
    from ..preconditions import TEST_SETS, scored_set

    out = []
    for s in TEST_SETS:
        verdict = scored_set(outcome, s)
        if verdict.degrades:
            out.append(verdict.message)
            continue
        r = risk[(risk["set"] == s) & (risk["split_by"] == "per SD")]
        if len(r) and r["hr"].isna().all():
            out.append(f"the hazard ratio per SD of the {label} cannot be estimated in the "
                       f"{SPLIT_LABELS[s].lower()} set: its {int((outcome['split'] == s).sum())} patients give no "
                       "finite estimate (the score separates the events)")
    return out


def xtile_statistic(score, time, event, min_prop: float = 0.1, max_prop: float = 0.9) -> float:
    """The maximally selected standardised log-rank statistic of ``score`` (maxstat's,
    :func:`radsurv.stats.optimal_cutpoint`), or 0 where the score admits no cut (a
    constant Rad-score: LASSO kept no feature, so there is no split and nothing to claim)."""
    x = np.asarray(score, dtype=float)
    if not np.ptp(x) > 0:
        return 0.0
    try:
        return float(optimal_cutpoint(np.asarray(time, float), np.asarray(event, int), x, min_prop, max_prop,
                                      logrank_grid=False).statistic)
    except ValueError:   # too tied for the admissible range
        return 0.0


def xtile_development_null(develop, time, event, n_permutations: int, seed, min_prop: float = 0.1,
                           max_prop: float = 0.9) -> np.ndarray:
    """The X-tile statistic of Rad-scores developed on permuted training outcomes.

    Each permutation moves the (time, event) pairs among the training patients, develops
    the signature again with every selection step (``develop``) and takes the maximally
    selected statistic of its training Rad-score (:func:`xtile_statistic`). Against this
    null, the observed development's statistic is corrected for the search over cuts
    *and* for the fit of the Rad-score to the same outcomes (:func:`development_permutation_p`).

    Parameters
    ----------
    develop : callable
        ``develop(time, event) -> training Rad-score`` (array, the training patients in
        their order), the whole development on these outcomes.
    time, event : array-like
        The training outcomes.
    n_permutations : int
        B.
    seed : int or sequence of int
        Seed of the permutations.

    Returns
    -------
    ndarray
        B statistics (0 for a permuted development that kept no feature).

    References
    ----------
    Phipson B, Smyth GK. Permutation p-values should never be zero. Stat Appl Genet Mol
    Biol 2010;9:Article 39.
    """
    t, e = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
    rng = np.random.default_rng(seed)
    out = np.empty(int(n_permutations))
    for b in range(out.size):
        perm = rng.permutation(t.size)
        out[b] = xtile_statistic(develop(t[perm], e[perm]), t[perm], e[perm], min_prop, max_prop)
    return out


def development_permutation_p(observed: float, null) -> float:
    """``(1 + #{null >= observed}) / (B + 1)`` (Phipson & Smyth 2010); 1 when the
    observed development kept no feature (statistic 0: no split, no claim)."""
    null = np.asarray(null, dtype=float)
    if observed <= 0:
        return 1.0
    return float((1 + np.sum(null >= observed - 1e-12)) / (null.size + 1))

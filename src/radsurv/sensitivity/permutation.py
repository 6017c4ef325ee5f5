"""A permutation null of the whole signature development.

The training outcomes (follow-up and event together) are permuted among the training
patients B times; each time the multi-modal signature is developed again exactly as
``03_signatures`` develops it (ICC flags, near-zero-variance and correlation filters,
the univariable screen, LASSO-Cox with its cross-validated penalty, the multi-modal
rule), and scored on the internal and external test sets, whose features and outcomes
are untouched. The permuted signatures can only learn noise, so their test C-indices
form the null distribution of the observed signature's test C; a leak of test data
into the development, or an optimistic selection, would shift the observed C into the
tail on a cohort without signal (the ``null`` twin) — and only there can it be seen.

The permutation p of a test set is ``(1 + #{b: C_b >= C_observed}) / (B + 1)``
(Phipson & Smyth 2010: never 0).

The same permutations also give the exact training-set test of the X-tile risk groups.
Each records the X-tile statistic (the maximally selected standardised log-rank
statistic, :func:`radsurv.signatures.risk_groups.xtile_statistic`) of its own training
Rad-score against the permuted outcomes it was developed on: the search over cuts *and*
the fit of the Rad-score to those outcomes, both repeated under the null. The observed
development's statistic (its training Rad-score against the real outcomes) against these
is :func:`radsurv.signatures.risk_groups.development_permutation_p`. ``03_signatures``'
Lausen-Schumacher and permutation p-values correct for the search only, on the
pre-validated Rad-score, which on pure noise still claims a split too often (a
pre-validated score depends on the other folds' outcomes; Hoefling & Tibshirani 2008).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import StageError
from ..labels import SPLIT_LABELS
from ..results import ShowsItself, new_axes
from ..seeds import STREAM_PERMUTATION
from ..signatures.development import MULTIMODAL, available_signatures, develop_signatures, needed_for_models
from ..signatures.evaluation import score_concordance
from ..signatures.risk_groups import development_permutation_p, xtile_statistic

__all__ = ["NULL_COLUMNS", "TEST_SETS", "XTILE", "Permutation", "PermutationNull", "c_on_set", "observed_score",
           "observed_test_c", "observed_xtile", "one_permutation", "permutation_null", "permutation_once",
           "permutation_p", "permutation_summary", "permuted_outcome", "training_xtile", "xtile_summary"]

#: The sets the null scores (the training set is the one permuted).
TEST_SETS = ("internal", "external")
#: The column of :func:`permutation_null`'s table with each permuted development's X-tile
#: statistic on its training set (last, so the columns before it keep their places).
XTILE = "xtile_train"
#: Columns of :func:`permutation_null`'s table.
NULL_COLUMNS = ["permutation", *(f"c_{s}" for s in TEST_SETS), "n_selected", "failed", XTILE]


def permuted_outcome(outcome: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """``outcome`` with the training patients' (time, event) pairs permuted among them;
    the test sets' outcomes are left as they are."""
    out = outcome.copy()
    train = np.flatnonzero((outcome["split"] == "train").to_numpy())
    order = rng.permutation(train.size)
    for col in ("time", "event"):
        values = outcome[col].to_numpy()
        column = out[col].to_numpy().copy()
        column[train] = values[train][order]
        out[col] = column
    return out


def c_on_set(score: pd.Series, outcome: pd.DataFrame, split: str) -> float:
    """Harrell's C of ``score`` on one set (0.5 for a constant score: nothing selected;
    :func:`radsurv.signatures.evaluation.score_concordance`)."""
    sel = (outcome["split"] == split).to_numpy()
    x = score.to_numpy()[sel]
    if not sel.any() or outcome["event"].to_numpy()[sel].sum() == 0:
        return float("nan")
    return float(score_concordance(outcome["time"].to_numpy()[sel], outcome["event"].to_numpy()[sel], x)["c"])


def training_xtile(score: pd.Series, outcome: pd.DataFrame, min_prop: float) -> float:
    """The X-tile statistic of ``score`` on ``outcome``'s training patients
    (:func:`~radsurv.signatures.risk_groups.xtile_statistic`, 03's admissible range
    ``[min_prop, 1 - min_prop]``; 0 for a constant score)."""
    train = (outcome["split"] == "train").to_numpy()
    return xtile_statistic(score.to_numpy()[train], outcome["time"].to_numpy()[train],
                           outcome["event"].to_numpy()[train], min_prop, 1 - min_prop)


def observed_xtile(score: pd.Series, outcome: pd.DataFrame, params: Mapping[str, Any]) -> float:
    """The observed development's X-tile statistic: ``03_signatures``' training Rad-score
    against the real training outcomes (``params``: the ``signatures`` section, whose
    ``cutpoint.min_prop`` 03 cut with). It is ``RiskGroups.statistic_`` of 03's cut."""
    return training_xtile(score, outcome, float(params["cutpoint"]["min_prop"]))


def permutation_once(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any],
                     seed: int, b: int, keep_model: bool = False) -> dict[str, Any]:
    """Permutation ``b``: develop on permuted training outcomes, score the test sets.

    What each worker of :func:`permutation_null` runs (and :func:`one_permutation`, by hand).

    Parameters
    ----------
    X, outcome, flagged, params, seed
        As :func:`permutation_null`.
    b : int
        The permutation's number: its outcomes are permuted by the stream
        ``[seed, STREAM_PERMUTATION, b]``; the development itself uses ``seed``, as 03's does.
    keep_model : bool
        Also return the permuted development's multi-modal predictor (``"model"``; None
        when it could not be developed) and the permuted outcome (``"permuted"``).

    Returns
    -------
    dict
        ``permutation``, ``c_internal``, ``c_external`` (the real outcomes of the untouched
        test sets), ``n_selected`` (features in the signature), ``failed`` ("" or why),
        ``xtile_train`` (the X-tile statistic of the permuted signature's training
        Rad-score against the permuted outcomes it was fitted to: 0 when it kept no
        feature, NaN when it failed).
    """
    import warnings

    rng = np.random.default_rng([seed, STREAM_PERMUTATION, b])
    permuted = permuted_outcome(outcome, rng)
    only = needed_for_models(params["multimodal"]["feeds_models"], available_signatures(X))
    row: dict[str, Any] = {"permutation": b}
    extra = {"model": None, "permuted": permuted} if keep_model else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a diverging fold warns; the development handles it as 03 does
            dev = develop_signatures(X, permuted, flagged, params, seed=seed, n_jobs=1, only=only)
    except ValueError as error:  # a step cannot be fitted on this permutation (counted, left out)
        return {**row, **{f"c_{s}": np.nan for s in TEST_SETS}, "n_selected": 0,
                "failed": f"{type(error).__name__}: {error}", XTILE: np.nan, **extra}
    model = dev.predictors()[MULTIMODAL]
    score = model.predict(X)
    for s in TEST_SETS:
        row[f"c_{s}"] = c_on_set(score, outcome, s)      # the real outcomes of the untouched test sets
    # features in the signature (the union LASSO's; a stacked signature counts its regions' features)
    row["n_selected"] = int(sum(len(m.coef_) for m in _lasso_parts(model)))
    row["failed"] = ""
    # against the *permuted* outcomes: the statistic the observed development's is compared
    # with must have been fitted and searched on the same outcomes, as the observed one was
    row[XTILE] = training_xtile(score, permuted, float(params["cutpoint"]["min_prop"]))
    if keep_model:
        extra["model"] = model
    return {**row, **extra}


def _lasso_parts(model) -> list:
    """The LASSO-Cox signatures a multi-modal predictor is made of."""
    from ..signatures.signature import LassoCoxSignature

    if isinstance(model, LassoCoxSignature):
        return [model]
    return [m for m in getattr(model, "components", {}).values() if isinstance(m, LassoCoxSignature)]


def permutation_null(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any],
                     seed: int, n_permutations: int, n_jobs: int = 1, progress: bool = False,
                     scheduler=None) -> pd.DataFrame:
    """The test-set C-indices of B signatures developed on permuted training outcomes.

    Parameters
    ----------
    X : DataFrame
        Patients (every set) x prefixed features, as ``03_signatures`` uses them.
    outcome : DataFrame
        ``split``, ``time``, ``event`` per patient (index as ``X``).
    flagged : set of str
        Features flagged by the ICC step.
    params : mapping
        The ``signatures`` section (filters, LASSO, the multi-modal rule).
    seed : int
        The run's seed; permutation ``b`` draws from ``[seed, STREAM_PERMUTATION, b]``, so
        the table does not depend on ``n_jobs`` or ``scheduler``.
    n_permutations : int
        B.
    n_jobs : int
        Local processes over the permutations (ignored with a scheduler).
    progress : bool
        A tqdm bar.
    scheduler : str, distributed.Client or None
        A Dask scheduler address or client (the profile's ``compute.scheduler``): the
        permutations run on its workers (:mod:`radsurv.compute`); None: locally.

    Returns
    -------
    DataFrame
        :data:`NULL_COLUMNS`, one row per permutation (``failed`` names why a permutation
        could not be developed; its C-indices are NaN).
    """
    from ..compute import run_tasks

    rows = run_tasks(permutation_once, [{"b": b} for b in range(1, int(n_permutations) + 1)],
                     {"X": X, "outcome": outcome, "flagged": flagged, "params": params, "seed": seed},
                     n_jobs=n_jobs, scheduler=scheduler, progress=progress, desc="permutation null",
                     unit="permutation")
    return pd.DataFrame(rows, columns=NULL_COLUMNS)


def permutation_p(null: np.ndarray, observed: float) -> float:
    """``(1 + #{null >= observed}) / (B + 1)`` over the finite null values."""
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    if null.size == 0 or not np.isfinite(observed):
        return float("nan")
    return float((1 + np.sum(null >= observed - 1e-12)) / (null.size + 1))


def permutation_summary(null: pd.DataFrame, observed: Mapping[str, float]) -> pd.DataFrame:
    """Per test set: the observed C, the null's mean, SD and 95th percentile, and the p.

    Returns
    -------
    DataFrame
        ``set``, ``observed_c``, ``null_mean``, ``null_sd``, ``null_q95``, ``n_permutations``
        (finite ones), ``p``.
    """
    rows = []
    for s in TEST_SETS:
        values = null[f"c_{s}"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        obs = float(observed.get(s, np.nan))
        rows.append({"set": s, "observed_c": obs,
                     "null_mean": float(values.mean()) if values.size else np.nan,
                     "null_sd": float(values.std(ddof=1)) if values.size > 1 else np.nan,
                     "null_q95": float(np.quantile(values, 0.95)) if values.size else np.nan,
                     "n_permutations": int(values.size), "p": permutation_p(values, obs)})
    return pd.DataFrame(rows)


def xtile_summary(null: pd.DataFrame, observed: float) -> dict[str, float]:
    """The whole-development permutation test of the observed X-tile statistic.

    Parameters
    ----------
    null : DataFrame
        :func:`permutation_null`'s table; permutations that failed (NaN) are left out, as
        for the C. A table without the column (an older run) gives NaN throughout.
    observed : float
        :func:`observed_xtile`.

    Returns
    -------
    dict
        ``observed``, ``null_mean``, ``null_q95``, ``n_permutations`` (finite ones) and
        ``p`` (:func:`~radsurv.signatures.risk_groups.development_permutation_p`:
        ``(1 + #{null >= observed}) / (B + 1)``; 1 when the observed development kept no
        feature; NaN without a null or an observed statistic).

    References
    ----------
    Phipson B, Smyth GK. Permutation p-values should never be zero. Stat Appl Genet Mol
    Biol 2010;9:Article 39.
    """
    values = null[XTILE].to_numpy(dtype=float) if XTILE in null else np.array([])
    values = values[np.isfinite(values)]
    nan = float("nan")
    ok = values.size > 0 and np.isfinite(observed)
    return {"observed": float(observed), "null_mean": float(values.mean()) if values.size else nan,
            "null_q95": float(np.quantile(values, 0.95)) if values.size else nan,
            "n_permutations": int(values.size), "p": development_permutation_p(observed, values) if ok else nan}


def observed_score(radscores: pd.DataFrame, X: pd.DataFrame) -> pd.Series:
    """``03_signatures``' multi-modal Rad-score of the patients of ``X``.

    Raises
    ------
    StageError
        When the feature matrix and the Rad-scores cover different patients.
    """
    if not radscores.index.sort_values().equals(X.index.sort_values()):
        raise StageError("06_sensitivity: the feature matrix and 03_signatures' Rad-scores cover different patients; "
                         "run 03_signatures again")
    return radscores.loc[X.index, MULTIMODAL]


def observed_test_c(score: pd.Series, outcome: pd.DataFrame) -> dict[str, float]:
    """The observed signature's Harrell's C on each test set (:func:`c_on_set`)."""
    return {s: c_on_set(score, outcome, s) for s in TEST_SETS}


@dataclass(frozen=True, repr=False)
class Permutation(ShowsItself):
    """One permutation of the training outcomes, developed and scored (:func:`one_permutation`).

    Attributes
    ----------
    b, n_train, n_moved : int
        The permutation's number (its random stream); the training patients whose (time,
        event) pairs were permuted among them; those given another patient's outcome.
    row : dict
        :func:`permutation_once`'s row: the test C-indices, ``n_selected`` and ``failed``.
    features : tuple of str
        The features the permuted signature selected.
    observed : dict
        The observed signature's C per test set.
    """

    b: int
    n_train: int
    n_moved: int
    row: dict
    features: tuple
    observed: dict

    def summary(self) -> pd.DataFrame:
        """Per test set: the permuted signature's C and the observed signature's."""
        return pd.DataFrame({"set": list(TEST_SETS),
                             "permuted_c": [float(self.row[f"c_{s}"]) for s in TEST_SETS],
                             "observed_c": [float(self.observed.get(s, np.nan)) for s in TEST_SETS]})


    def title(self) -> str:
        head = (f"Permutation {self.b}: the {self.n_train} training outcomes shuffled ({self.n_moved} patients given "
                f"another's), the multi-modal signature developed again")
        if self.row["failed"]:
            return head + f"; not developed: {self.row['failed']}"
        return head + f": {self.row['n_selected']} features selected"

    def plot(self, ax=None):
        """The permuted signature's test C (open) against the observed signature's (filled),
        per test set; C = 0.5 dotted."""
        from ..plots.sensitivity import permutation_one_panel

        ax = new_axes(ax, (4.0, 2.4))
        permutation_one_panel(ax, self.summary(), {s: SPLIT_LABELS[s] for s in TEST_SETS})
        ax.set_title(f"Permutation {self.b}", fontsize=9)
        return ax


def one_permutation(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any],
                    seed: int, b: int, observed: Mapping[str, float]) -> Permutation:
    """Develop and score permutation ``b`` as each worker of :func:`permutation_null` does
    (:func:`permutation_once`, the same code), keeping its signature.

    Parameters
    ----------
    X, outcome, flagged, params, seed
        As :func:`permutation_null`.
    b : int
        The permutation's number (1 is the null's first).
    observed : mapping
        The observed signature's C per test set (:func:`observed_test_c`).

    Returns
    -------
    Permutation
    """
    out = permutation_once(X, outcome, flagged, params, seed, b, keep_model=True)
    model, permuted = out.pop("model"), out.pop("permuted")
    train = (outcome["split"] == "train").to_numpy()
    moved = ((permuted["time"].to_numpy()[train] != outcome["time"].to_numpy()[train])
             | (permuted["event"].to_numpy()[train] != outcome["event"].to_numpy()[train]))
    features = tuple(sorted(f for m in _lasso_parts(model) for f in m.coef_.index)) if model is not None else ()
    return Permutation(b=int(b), n_train=int(train.sum()), n_moved=int(moved.sum()), row=out, features=features,
                       observed=dict(observed))


@dataclass(frozen=True, repr=False)
class PermutationNull(ShowsItself):
    """The permutation null of the whole development (Phipson & Smyth 2010).

    Attributes
    ----------
    null : DataFrame
        :func:`permutation_null`'s table (:data:`NULL_COLUMNS`), one row per permutation.
    observed : dict
        The observed signature's C per test set.
    n_permutations : int
        B, as asked.
    observed_xtile : float
        The observed development's X-tile statistic on the training set
        (:func:`observed_xtile`); NaN when not given.
    """

    null: pd.DataFrame
    observed: dict
    n_permutations: int
    observed_xtile: float = float("nan")

    @classmethod
    def run(cls, X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any], seed: int,
            n_permutations: int, observed: Mapping[str, float], n_jobs: int = 1,
            progress: bool = False, observed_xtile: float = float("nan"), scheduler=None) -> "PermutationNull":
        """:func:`permutation_null` of B permutations (on ``n_jobs`` local processes or the Dask
        ``scheduler``), against ``observed`` (the test C) and ``observed_xtile``
        (:func:`observed_xtile`, the training X-tile statistic)."""
        null = permutation_null(X, outcome, flagged, params, seed, n_permutations, n_jobs=n_jobs, progress=progress,
                                scheduler=scheduler)
        return cls(null=null, observed=dict(observed), n_permutations=int(n_permutations),
                   observed_xtile=float(observed_xtile))

    @property
    def failed(self) -> pd.Series:
        """Whether each permutation could not be developed."""
        return self.null["failed"].fillna("").astype(str) != ""

    @property
    def n_failed(self) -> int:
        """Permutations that could not be developed (left out of the null)."""
        return int(self.failed.sum())

    @property
    def n_empty(self) -> int:
        """Permutations whose signature kept no feature (constant score: C = 0.5)."""
        return int(((self.null["n_selected"] == 0) & ~self.failed).sum())

    def matches(self, one: Permutation) -> bool:
        """Whether permutation ``one.b`` of the null has the C-indices, X-tile statistic,
        feature count and failure of ``one`` (a permutation developed by hand, :func:`one_permutation`)."""
        mine = self.null[self.null["permutation"] == one.b]
        if len(mine) != 1:
            return False
        r = mine.iloc[0]
        cols = [f"c_{s}" for s in TEST_SETS] + ([XTILE] if XTILE in mine and XTILE in one.row else [])
        return bool(np.allclose(r[cols].to_numpy(float), [one.row[c] for c in cols], rtol=0, atol=1e-12,
                                equal_nan=True) and int(r["n_selected"]) == int(one.row["n_selected"])
                    and str(r["failed"]) == str(one.row["failed"]))

    def summary(self) -> pd.DataFrame:
        """:func:`permutation_summary`: per test set ``set, observed_c, null_mean, null_sd,
        null_q95, n_permutations`` (finite ones) and ``p``."""
        return permutation_summary(self.null, self.observed)

    def xtile(self) -> dict[str, float]:
        """:func:`xtile_summary`: the whole-development permutation p of the observed
        training X-tile statistic, the valid training-set p of the risk-group split."""
        return xtile_summary(self.null, self.observed_xtile)


    def title(self) -> str:
        notes = [f"{self.n_failed} not developed and left out"] if self.n_failed else []
        notes += [f"{self.n_empty} kept no feature (C = 0.5)"] if self.n_empty else []
        x = self.xtile()
        xt = (f"; training X-tile statistic {x['observed']:.2f}, whole-development permutation p {x['p']:.3g}"
              if np.isfinite(x["p"]) else "")
        return (f"Permutation null of the whole development: {self.n_permutations} permutations of the training "
                f"outcomes" + (f" ({'; '.join(notes)})" if notes else "") + "; p = (1 + #) / (B + 1)" + xt)

    def sets(self) -> list[str]:
        """The test sets with at least one finite permuted C (the figure's panels)."""
        return [s for s in TEST_SETS if f"c_{s}" in self.null
                and np.isfinite(self.null[f"c_{s}"].to_numpy(dtype=float)).any()]

    def bins(self) -> np.ndarray:
        """The histogram bins every panel shares: 25 over the range of the null, the
        observed C-indices and 0.5, with a margin of 0.03."""
        sets = self.sets()
        values = np.concatenate([self.null[f"c_{s}"].to_numpy(dtype=float) for s in sets])
        obs = self.summary().set_index("set")["observed_c"].reindex(sets).to_numpy(dtype=float)
        lo = float(np.nanmin(np.r_[values, obs, 0.5])) - 0.03
        hi = float(np.nanmax(np.r_[values, obs, 0.5])) + 0.03
        return np.linspace(lo, hi, 26)

    def plot(self, ax=None, set: str | None = None):
        """One panel of the published permutation figure: the histogram of the test C of
        the permuted developments on ``set`` (default: the last test set with a null), the
        observed C as a line with its permutation p, and C = 0.5 dotted
        (``radsurv.plots.sensitivity.permutation_panel``)."""
        from ..plots.sensitivity import permutation_panel

        sets = self.sets()
        if not sets:
            from ..plots.style import message_panel

            return message_panel(new_axes(ax, (3.4, 2.8)),
                                 "No permutation could be developed: there is no null to draw")
        s = sets[-1] if set is None else set
        if s not in sets:
            raise ValueError(f"no permuted C on {s!r}; sets with a null: {sets}")
        row = self.summary().set_index("set").loc[s]
        ax = new_axes(ax, (3.4, 2.8))
        permutation_panel(ax, self.null[f"c_{s}"].to_numpy(dtype=float), float(row["observed_c"]), float(row["p"]),
                          self.bins(), SPLIT_LABELS[s], s)
        return ax

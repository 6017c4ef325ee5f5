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
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..seeds import STREAM_PERMUTATION
from ..signatures.development import MULTIMODAL, available_signatures, develop_signatures, needed_for_models
from ..signatures.evaluation import score_concordance

__all__ = ["NULL_COLUMNS", "TEST_SETS", "permutation_null", "permutation_p", "permutation_summary",
           "permuted_outcome", "c_on_set"]

#: The sets the null scores (the training set is the one permuted).
TEST_SETS = ("internal", "external")
#: Columns of :func:`permutation_null`'s table.
NULL_COLUMNS = ["permutation", *(f"c_{s}" for s in TEST_SETS), "n_selected", "failed"]


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


def _one(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any], seed: int,
         b: int) -> dict[str, Any]:
    """Permutation ``b``: develop on permuted training outcomes, score the test sets."""
    import warnings

    rng = np.random.default_rng([seed, STREAM_PERMUTATION, b])
    permuted = permuted_outcome(outcome, rng)
    only = needed_for_models(params["multimodal"]["feeds_models"], available_signatures(X))
    row: dict[str, Any] = {"permutation": b}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a diverging fold warns; the development handles it as 03 does
            dev = develop_signatures(X, permuted, flagged, params, seed=seed, n_jobs=1, only=only)
    except ValueError as error:  # a step cannot be fitted on this permutation (counted, left out)
        return {**row, **{f"c_{s}": np.nan for s in TEST_SETS}, "n_selected": 0,
                "failed": f"{type(error).__name__}: {error}"}
    model = dev.predictors()[MULTIMODAL]
    score = model.predict(X)
    for s in TEST_SETS:
        row[f"c_{s}"] = c_on_set(score, outcome, s)      # the real outcomes of the untouched test sets
    # features in the signature (the union LASSO's; a stacked signature counts its regions' features)
    row["n_selected"] = int(sum(len(m.coef_) for m in _lasso_parts(model)))
    row["failed"] = ""
    return row


def _lasso_parts(model) -> list:
    """The LASSO-Cox signatures a multi-modal predictor is made of."""
    from ..signatures.signature import LassoCoxSignature

    if isinstance(model, LassoCoxSignature):
        return [model]
    return [m for m in getattr(model, "components", {}).values() if isinstance(m, LassoCoxSignature)]


def permutation_null(X: pd.DataFrame, outcome: pd.DataFrame, flagged: set[str], params: Mapping[str, Any],
                     seed: int, n_permutations: int, n_jobs: int = 1, progress: bool = False) -> pd.DataFrame:
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
        the table does not depend on ``n_jobs``.
    n_permutations : int
        B.
    n_jobs : int
        Processes over the permutations.
    progress : bool
        A tqdm bar.

    Returns
    -------
    DataFrame
        :data:`NULL_COLUMNS`, one row per permutation (``failed`` names why a permutation
        could not be developed; its C-indices are NaN).
    """
    from ..progress import tqdm

    todo = range(1, int(n_permutations) + 1)
    bar = dict(total=int(n_permutations), desc="permutation null", unit="permutation", disable=not progress)
    if n_jobs > 1 and n_permutations > 1:
        from joblib import Parallel, delayed

        rows = list(tqdm(Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(_one)(X, outcome, flagged, params, seed, b) for b in todo), **bar))
    else:
        rows = [_one(X, outcome, flagged, params, seed, b) for b in tqdm(todo, **bar)]
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

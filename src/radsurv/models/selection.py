"""Variable selection of the clinical and MRI models, on the training set (as the study):
a univariable Cox screen, then backward elimination by AIC.

* :func:`univariable_screen`: for each variable, the likelihood-ratio test of a Cox model
  with that variable alone (all its indicator columns together) against the null model.
* :func:`backward_aic`: R's ``step(fit, direction = "backward")`` on whole variables:
  from the full model, repeatedly drop the variable whose removal lowers the AIC most
  (-2 log partial likelihood + 2 x columns), until no removal lowers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..stats import fit_cox
from .design import Design

__all__ = ["SelectionResult", "backward_aic", "null_loglik", "univariable_screen"]


def _complete(design: Design, variables: Sequence[str], time, event):
    cols = design.columns(variables)
    X = design.X[cols]
    keep = X.notna().all(axis=1).to_numpy()
    return X[keep], np.asarray(time, float)[keep], np.asarray(event, int)[keep]


def null_loglik(time, event, ties: str = "efron") -> float:
    """Log partial likelihood of the model without covariates (beta = 0)."""
    from ..stats.cox import _loglik_derivs, _RiskSets

    t, e = np.asarray(time, float), np.asarray(event, int)
    ll, _, _ = _loglik_derivs(np.zeros((t.size, 1)), np.zeros(1), _RiskSets(t, e), ties, need_info=False)
    return float(ll)


def univariable_screen(design: Design, variables: Sequence[str], time, event, ties: str = "efron") -> pd.DataFrame:
    """Likelihood-ratio test of each variable alone (complete cases of that variable).

    A variable whose Cox fit has no finite maximum (a category without events: the
    likelihood is monotone, R's coxph warns "coefficient may be infinite") gets no test
    and is not a candidate; ``note`` says why.

    Returns
    -------
    DataFrame
        One row per variable: ``variable``, ``df`` (its columns), ``n``, ``chisq``, ``p``
        (NaN where the model cannot be fitted) and ``note``.
    """
    import warnings

    rows = []
    for var in variables:
        X, t, e = _complete(design, [var], time, event)
        row = {"variable": var, "df": len(design.groups[var]), "n": int(len(t)), "chisq": np.nan, "p": np.nan,
               "note": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fit = fit_cox(X, t, e, ties=ties, monotone="as_r")
            if fit.monotone:
                row["note"] = f"infinite coefficient ({', '.join(fit.monotone)}): a category without events?"
            else:
                row.update(chisq=fit.lr_test.statistic, p=fit.lr_test.p)
        except ValueError as error:  # constant, or no fit at all
            row["note"] = str(error)
        rows.append(row)
    return pd.DataFrame(rows, columns=["variable", "df", "n", "chisq", "p", "note"])


@dataclass
class SelectionResult:
    """What backward elimination kept, and its steps (variable dropped, AIC after)."""

    selected: list[str]
    steps: list[tuple[str, float]] = field(default_factory=list)
    aic_start: float = float("nan")


def _aic(design: Design, variables: Sequence[str], time, event, ties: str) -> float:
    if not variables:
        return -2 * null_loglik(time, event, ties)
    X, t, e = _complete(design, variables, time, event)
    fit = fit_cox(X, t, e, ties=ties, monotone="as_r")
    return fit.aic


def backward_aic(design: Design, variables: Sequence[str], time, event, ties: str = "efron") -> SelectionResult:
    """Backward elimination of whole variables by AIC, as R's ``step`` (direction "backward").

    The patients are those with every candidate variable (so the AICs compare models on
    the same data, as ``step`` requires). Ties of AIC are broken by the variable order.

    Parameters
    ----------
    design : Design
    variables : sequence of str
        The candidates (e.g. those the univariable screen kept).
    time, event : array-like

    Returns
    -------
    SelectionResult
    """
    variables = list(variables)
    cols = design.columns(variables)
    keep = design.X[cols].notna().all(axis=1).to_numpy() if cols else np.ones(len(design.X), bool)
    sub = design.subset(design.X.index[keep])
    t, e = np.asarray(time, float)[keep], np.asarray(event, int)[keep]
    current = list(variables)
    aic = _aic(sub, current, t, e, ties)
    result = SelectionResult(selected=current, aic_start=aic)
    while current:
        trials = []
        for var in current:
            rest = [v for v in current if v != var]
            try:
                trials.append((_aic(sub, rest, t, e, ties), var))
            except ValueError:
                continue
        if not trials:
            break
        best_aic, best_var = min(trials, key=lambda x: (x[0], current.index(x[1])))
        if best_aic >= aic - 1e-10:
            break
        current = [v for v in current if v != best_var]
        aic = best_aic
        result.steps.append((best_var, aic))
    result.selected = current
    return result


def lr_test(fit_small, fit_large) -> tuple[float, int, float]:
    """Likelihood-ratio test of nested Cox models on the same patients: (chisq, df, p)."""
    chisq = 2 * (fit_large.loglik - fit_small.loglik)
    df = len(fit_large.coef) - len(fit_small.coef)
    return float(chisq), int(df), float(stats.chi2.sf(chisq, df))

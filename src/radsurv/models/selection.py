"""Variable selection of the clinical and MRI models, on the training set (as the study):
a univariable Cox screen, then backward elimination by AIC.

* :func:`univariable_screen`: for each variable, the likelihood-ratio test of a Cox model
  with that variable alone (all its indicator columns together) against the null model.
* :func:`screen_variables`: the same, with the threshold applied: a :class:`Screen`
  that shows its table and which variables it kept.
* :func:`backward_aic`: R's ``step(fit, direction = "backward")`` on whole variables:
  from the full model, repeatedly drop the variable whose removal lowers the AIC most
  (-2 log partial likelihood + 2 x columns), until no removal lowers it; a candidate
  aliased with earlier ones (its columns in their span) is set aside first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..results import ShowsItself, new_axes
from ..stats import cox_aic, cox_lr_test, fit_cox
from .design import Design

__all__ = ["Screen", "SelectionResult", "backward_aic", "null_loglik", "screen_variables", "univariable_screen"]


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
    # one column-major matrix of every candidate's columns, each variable's sliced from it
    # (the layout DataFrame.to_numpy gives, so each fit is fit_cox's on the variable's
    # frame to the last bit: tests/models/test_models.py), and cox_lr_test instead of a
    # whole fit_cox: the frames and the summaries cost more than the fits
    columns = _Columns(design, list(variables))
    t_all, e_all = np.asarray(time, float), np.asarray(event, int)
    for var in variables:
        names = design.columns([var])
        idx = [columns.position[c] for c in names]
        keep = ~np.isnan(columns.A[:, idx]).any(axis=1)
        t, e = t_all[keep], e_all[keep]
        row = {"variable": var, "df": len(design.groups[var]), "n": int(len(t)), "chisq": np.nan, "p": np.nan,
               "note": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                lr, runaway = cox_lr_test(np.asfortranarray(columns.A[np.ix_(keep, idx)]), t, e, ties=ties,
                                          monotone="as_r", names=names)
            if runaway:
                row["note"] = f"infinite coefficient ({', '.join(runaway)}): a category without events?"
            else:
                row.update(chisq=lr.statistic, p=lr.p)
        except ValueError as error:  # constant, or no fit at all
            row["note"] = str(error)
        rows.append(row)
    return pd.DataFrame(rows, columns=["variable", "df", "n", "chisq", "p", "note"])


@dataclass(repr=False)
class Screen(ShowsItself):
    """The univariable Cox screen with its threshold: the candidates for elimination.

    Attributes
    ----------
    table : DataFrame
        :func:`univariable_screen`'s table (``variable``, ``df``, ``n``, ``chisq``, ``p``, ``note``).
    screen_p : float or None
        Keep the variables with a finite LRT p below it; None keeps every candidate.
    labels : dict
        Variable -> printed name (:attr:`Design.labels`).
    """

    table: pd.DataFrame
    screen_p: float | None
    labels: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def kept(self) -> list[str]:
        """The variables that pass the screen, in the candidates' order."""
        if self.screen_p is None:
            return list(self.table["variable"])
        return [v for v, p in zip(self.table["variable"], self.table["p"]) if np.isfinite(p) and p < self.screen_p]

    def title(self) -> str:
        rule = "no screen" if self.screen_p is None else f"LRT p < {self.screen_p:g}"
        return f"Univariable Cox screen ({rule}): {len(self.kept)} of {len(self.table)} candidates kept"

    def summary(self) -> pd.DataFrame:
        """One row per candidate: printed name, df, patients, LR chi-square, p, kept, note."""
        kept = set(self.kept)
        return pd.DataFrame({"variable": self.table["variable"],
                             "label": [self.labels.get(v, v) for v in self.table["variable"]],
                             "df": self.table["df"], "n": self.table["n"], "chisq": self.table["chisq"],
                             "p": self.table["p"], "kept": [v in kept for v in self.table["variable"]],
                             "note": self.table["note"]}).set_index("variable")

    def plot(self, ax=None, **kwargs):
        """Each candidate's LRT p (log scale), the threshold as a dashed line; kept in blue."""
        table = self.summary()
        ax = new_axes(ax, (5.0, 0.6 + 0.3 * max(len(table), 1)))
        if table.empty:
            from ..plots.style import message_panel

            return message_panel(ax, "No candidate variable to screen")
        y = np.arange(len(table))[::-1]
        p = table["p"].to_numpy(float)
        ok = np.isfinite(p)
        ax.scatter(p[ok], y[ok], c=np.where(table["kept"].to_numpy()[ok], "#0072B2", "#999999"), s=18, zorder=3)
        for yi in y[~ok]:
            ax.text(1.0, yi, "no test", ha="right", va="center", fontsize=7, color="#999999")
        if self.screen_p is not None:
            ax.axvline(self.screen_p, color="#D55E00", lw=0.8, linestyle="--")
        ax.set_xscale("log")
        ax.set_xlim(min(np.nanmin(p[ok]) / 2, 1e-3) if ok.any() else 1e-3, 1.0)
        ax.set_yticks(y, table["label"], fontsize=7)
        ax.set_xlabel("Likelihood-ratio p, variable alone (training)")
        return ax


def screen_variables(design: Design, variables: Sequence[str], time, event, screen_p: float | None = 0.05,
                     ties: str = "efron") -> Screen:
    """The univariable Cox screen of ``variables`` with its threshold applied.

    Parameters
    ----------
    design : Design
        The training patients' coded variables.
    variables : sequence of str
        The candidates.
    time, event : array-like
        Training follow-up and events.
    screen_p : float or None
        Keep the variables with LRT p below it (None: keep every candidate).
    ties : {"efron", "breslow"}

    Returns
    -------
    Screen
        Its ``table`` is :func:`univariable_screen`'s; ``kept`` the variables that pass.
    """
    return Screen(univariable_screen(design, variables, time, event, ties=ties), screen_p, dict(design.labels))


@dataclass(repr=False)
class SelectionResult(ShowsItself):
    """What backward elimination kept, and its steps (variable dropped, AIC after).

    Attributes
    ----------
    selected : list of str
        The variables left when no removal lowers the AIC.
    steps : list of (str, float)
        Each step's removed variable and the AIC without it.
    aic_start : float
        AIC of the model with every candidate.
    candidates : list of str
        The variables elimination started from.
    n : int or None
        Patients with every candidate (the data of every AIC compared).
    labels : dict
        Variable -> printed name.
    """

    selected: list[str]
    steps: list[tuple[str, float]] = field(default_factory=list)
    aic_start: float = float("nan")
    candidates: list[str] = field(default_factory=list)
    n: int | None = None
    labels: dict[str, str] = field(default_factory=dict, repr=False)
    #: (step, variable, error) of each removal tried whose model could not be fitted
    unfitted: list[tuple[int, str, str]] = field(default_factory=list)
    #: (variable, reason) of each candidate set aside before elimination because its
    #: columns are linear combinations of earlier candidates' (aliased; see backward_aic)
    aliased: list[tuple[str, str]] = field(default_factory=list)

    def title(self) -> str:
        if not self.candidates:
            return "Backward elimination by AIC: no candidate"
        unfitted = (f"; {len(self.unfitted)} removal(s) tried could not be fitted (see .unfitted)"
                    if self.unfitted else "")
        aliased = (f"; {', '.join(v for v, _ in self.aliased)} set aside as aliased with earlier candidates "
                   "(see .aliased)" if self.aliased else "")
        return (f"Backward elimination by AIC: {len(self.candidates)} candidates, {len(self.steps)} removed, "
                f"{len(self.selected)} kept (AIC {self.aic_start:.1f} -> {self.aic:.1f}){unfitted}{aliased}")

    @property
    def aic(self) -> float:
        """AIC of the selected model."""
        return self.steps[-1][1] if self.steps else self.aic_start

    def summary(self) -> pd.DataFrame:
        """The elimination path: step 0 is the model with every candidate, then one row per
        removal (``removed``, its printed ``label``, the ``aic`` after it, the ``variables`` left)."""
        left = len(self.candidates) - len(self.aliased)
        rows = [{"step": 0, "removed": "", "label": "(all candidates)", "aic": self.aic_start, "variables": left}]
        for i, (var, aic) in enumerate(self.steps, start=1):
            left -= 1
            rows.append({"step": i, "removed": var, "label": self.labels.get(var, var), "aic": aic, "variables": left})
        return pd.DataFrame(rows).set_index("step")

    def plot(self, ax=None, **kwargs):
        """AIC along the elimination path, each point labelled with the variable removed."""
        path = self.summary()
        ax = new_axes(ax, (5.0, 3.0))
        if not self.candidates:
            from ..plots.style import message_panel

            return message_panel(ax, "No candidate variable: no elimination path to draw")
        ax.plot(path.index, path["aic"], marker="o", color="#0072B2", lw=1.0)
        for step, r in path.iloc[1:].iterrows():
            ax.annotate(r["label"], (step, r["aic"]), textcoords="offset points", xytext=(4, 4), fontsize=6.5)
        ax.set_xticks(path.index)
        ax.set_xlabel("Step (variable removed)")
        ax.set_ylabel("AIC")
        return ax


class _Columns:
    """The candidates' columns of complete patients as one column-major float matrix, from
    which every model of a backward elimination takes its columns: the matrix
    ``DataFrame.to_numpy`` would give for those columns (same values, same layout, so the
    same fit to the last bit; see :func:`radsurv.stats.cox.cox_aic`) without building a
    frame per fit, which cost about as much as the fit itself."""

    def __init__(self, design: Design, variables: Sequence[str]):
        self.design = design
        cols = design.columns(variables)
        self.position = {c: j for j, c in enumerate(cols)}
        self.A = design.X[cols].to_numpy(dtype=float) if cols else np.empty((len(design.X), 0))

    def aic(self, variables: Sequence[str], time, event, ties: str) -> float:
        if not variables:
            return -2 * null_loglik(time, event, ties)
        names = self.design.columns(variables)
        X = np.asfortranarray(self.A[:, [self.position[c] for c in names]])
        return cox_aic(X, time, event, ties=ties, monotone="as_r", names=names)

    def aliased(self, variables: Sequence[str]) -> list[tuple[str, str]]:
        """(variable, reason) of each variable whose columns add less than their number to
        the rank of the earlier variables' columns (centred, with numpy's default tolerance,
        as :func:`radsurv.stats.fit_cox` checks a design); empty, at the cost of one rank,
        when all of them together are of full rank."""
        if not self.A.shape[1]:
            return []
        A = self.A - self.A.mean(axis=0)
        if np.linalg.matrix_rank(A) == A.shape[1]:
            return []
        out, kept, taken, rank = [], [], [], 0
        for var in variables:
            names = self.design.columns([var])
            idx = [self.position[c] for c in names]
            r = int(np.linalg.matrix_rank(A[:, taken + idx]))
            if r - rank < len(idx):
                out.append((var, f"its columns ({', '.join(names)}) add {r - rank} of {len(idx)} to the rank of "
                                 f"the earlier candidates' ({', '.join(self.design.columns(kept)) or 'none'}): "
                                 "aliased with them, where R's coxph would give a column NA"))
            else:
                kept, taken, rank = kept + [var], taken + idx, r
        return out


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
        Its ``summary()`` is the elimination path; a removal whose model cannot be fitted
        (a remaining covariate constant, say) is not taken and is recorded in ``unfitted``.

    Notes
    -----
    Candidates can be aliased on these patients: oestrogen receptor status and molecular
    subtype, say, when no ER-negative tumour is PR-positive, so that ER-negative is the sum
    of the HER2-enriched and triple-negative indicators (in a bootstrap resample that
    left out the few patients who broke the tie, for instance). R's ``coxph`` then gives
    the later column an ``NA`` coefficient and ``step`` goes on with the rank as the
    AIC's degrees of freedom. Here, as in that column order, a candidate whose columns add
    less than their number to the rank of the earlier candidates' (centred, as
    :func:`radsurv.stats.fit_cox` checks them) is set aside before elimination and
    recorded in ``aliased``, so that every model compared, and the one selected, has a
    coefficient for each of its columns. A design of full rank is not touched.
    """
    variables = list(variables)
    cols = design.columns(variables)
    keep = design.X[cols].notna().all(axis=1).to_numpy() if cols else np.ones(len(design.X), bool)
    sub = design.subset(design.X.index[keep])
    t, e = np.asarray(time, float)[keep], np.asarray(event, int)[keep]
    # every model below is fitted on these patients, who have every candidate: no
    # patient drops out of a smaller model, so its columns are sliced, not re-selected
    columns = _Columns(sub, variables)
    aliased = columns.aliased(variables)
    set_aside = {v for v, _ in aliased}
    current = [v for v in variables if v not in set_aside]
    try:
        aic = columns.aic(current, t, e, ties)
    except ValueError as error:
        raise ValueError(f"backward elimination: the model with every candidate ({', '.join(current)}) cannot be "
                         f"fitted on its {int(keep.sum())} patients: {error}") from None
    result = SelectionResult(selected=current, aic_start=aic, candidates=list(variables), n=int(keep.sum()),
                             labels=dict(design.labels), aliased=aliased)
    while current:
        trials = []
        for var in current:
            rest = [v for v in current if v != var]
            try:
                trials.append((columns.aic(rest, t, e, ties), var))
            except ValueError as error:  # the model without it cannot be fitted: not a removal
                result.unfitted.append((len(result.steps) + 1, var, str(error)))
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

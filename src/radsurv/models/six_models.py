"""The study's six Cox models, each fitted on the training set only.

1. **clinical**: clinical variables kept by a univariable Cox screen, then backward
   elimination by AIC;
2. **traditional MRI**: the same on the radiologist-read MRI descriptors;
3. **clinical + traditional MRI**: backward elimination by AIC from the variables of
   models 1 and 2 together;
4. **radiomics signature**: the multi-modal Rad-score alone;
5. **radiomics model**: the Rad-score with the variables of model 1;
6. **clinical imaging model**: the Rad-score with the variables of model 3.

A covariate that separates events from non-events (a rare category, common in bootstrap
resamples) is handled as R's ``coxph`` handles it: the fit stops when the log-likelihood
has converged and warns that the coefficient may be infinite (``fit_cox(monotone="as_r")``).

Each model is a Cox model (Efron ties) on complete cases of its variables or, when the
profile asks for multiple imputation (``models.missing``), on every training patient:
the selection runs on the m completed training sets (:func:`pooled_selection`) and each
model is fitted on every set and pooled by Rubin's rules. Its linear predictor is
centred on the training set (mean 0 there), like the Rad-score, so that scores are
comparable across models. The test sets are scored with the training coefficients (and
the training imputation models) unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError
from ..labels import in_sentence
from ..results import ShowsItself, new_axes
from ..stats import fit_cox
from .design import RADSCORE, Design
from .selection import SelectionResult, backward_aic, lr_test, screen_variables

__all__ = ["MODELS", "CoxModel", "SixModels", "develop_models", "model_name", "pooled_selection"]

#: Model key -> printed name (the study's wording).
MODELS: dict[str, str] = {
    "clinical": "Clinical model",
    "mri": "Traditional MRI model",
    "clinical_mri": "Clinical + traditional MRI model",
    "signature": "Multi-modal radiomics signature",
    "radiomics": "Multi-modal radiomics model",
    "imaging": "Multi-modal clinical imaging model",
}


def model_name(key: str) -> str:
    """The model's name inside a sentence ("the clinical + traditional MRI model"):
    only the first letter lower-cased, so MRI stays MRI."""
    return in_sentence(MODELS[key])


_HR_COLUMNS = ["term", "label", "coef", "hr", "hr_lower", "hr_upper", "p"]


@dataclass(repr=False)
class CoxModel(ShowsItself):
    """A Cox model on named variables of a :class:`Design`, fitted on training.

    ``summary()`` is its hazard ratios (95% CI, Wald p), as :meth:`SixModels.summary` shows
    them for every model.

    Attributes
    ----------
    key : str
        The model (a key of :data:`MODELS`).
    variables : list of str
        Its variables (whole variables: all the indicator columns of a categorical one).
    labels : dict
        Column -> printed name (set from the design by :meth:`fit`).
    fit_ : CoxFit
        The fit (Efron ties) on the complete cases of the training set.
    center_ : float
        Mean training linear predictor (subtracted from every score).
    n_excluded_ : int
        Training patients left out for a missing value.
    """

    key: str
    variables: list[str]
    ties: str = "efron"
    labels: dict[str, str] = field(default_factory=dict, repr=False)

    def fit(self, design: Design, time, event, completed: Sequence[pd.DataFrame] | None = None) -> "CoxModel":
        """Fit on the complete cases of ``design`` (the training patients), or on its m
        completed sets pooled by Rubin's rules.

        Parameters
        ----------
        design : Design
        time, event : array-like
        completed : sequence of DataFrame, optional
            The m completed training sets (:attr:`ChainedImputer.completed_`, the
            design's columns): the model is then fitted on each and pooled
            (:func:`radsurv.models.fit_cox_imputed`); ``fit_`` is the pooled fit
            (:func:`radsurv.models.imputation.pooled_coxfit`), and every training patient
            is kept.

        Returns
        -------
        CoxModel
            Itself, fitted.

        Raises
        ------
        ValueError
            When the model has no variable.
        """
        if not self.variables:
            raise ValueError(f"model {self.key!r}: no variable was selected")
        self.labels = dict(design.labels)
        cols = design.columns(self.variables)
        X = design.X[cols]
        keep = X.notna().all(axis=1).to_numpy()
        self.n_complete_ = int(keep.sum())
        if completed is not None:
            from .imputation import fit_cox_imputed, pooled_coxfit

            sets = [c[cols] for c in completed]
            self.pooled_ = fit_cox_imputed(sets, time, event, ties=self.ties, monotone="as_r")
            self.fit_, _ = pooled_coxfit(self.pooled_, sets)
            self.completed_ = sets
            self.n_excluded_ = 0
            self.n_imputed_ = int((~keep).sum())
            self.center_ = float(np.mean(self.fit_._lp))
            return self
        self.n_excluded_ = int((~keep).sum())
        self.fit_ = fit_cox(X[keep], np.asarray(time, float)[keep], np.asarray(event, int)[keep], ties=self.ties,
                            monotone="as_r")
        self.center_ = float(np.mean(self._lp(X[keep])))
        return self

    def _lp(self, X: pd.DataFrame) -> np.ndarray:
        # Row by row, so a patient's score does not depend on who else is scored.
        return (X[list(self.fit_.coef.index)].to_numpy(dtype=float) * self.fit_.coef.to_numpy()).sum(axis=1)

    def predict(self, design: Design, completed: Sequence[pd.DataFrame] | None = None) -> pd.Series:
        """Centred linear predictor; NaN for a patient with a missing variable, unless
        ``completed`` gives the m completed sets of ``design``'s patients
        (:meth:`SixModels.completed`): the score is then the mean over the sets of the
        linear predictor (the pooled model applied to each completed set, Wood, Royston
        & White 2015)."""
        if not hasattr(self, "fit_"):
            raise NotFittedError(f"model {self.key!r} is not fitted: call fit() on the training set first")
        X = design.X[design.columns(self.variables)]
        if completed is None:
            return pd.Series(self._lp(X) - self.center_, index=design.X.index, name=self.key)
        lp = np.mean([self._lp(c.loc[design.X.index, X.columns]) for c in completed], axis=0)
        return pd.Series(lp - self.center_, index=design.X.index, name=self.key)

    @property
    def imputed(self) -> bool:
        """Fitted on multiply imputed data (``pooled_`` holds the per-imputation fits)."""
        return hasattr(self, "pooled_")

    @property
    def df(self) -> int:
        """Number of coefficients."""
        return len(self.fit_.coef)

    def _fitted(self) -> bool:
        return hasattr(self, "fit_")

    def title(self) -> str:
        name = MODELS.get(self.key, self.key)
        if not self._fitted():
            return f"{name} (not fitted): {', '.join(self.variables) or 'no variable'}"
        f = self.fit_
        return f"{name}: {f.n} patients, {f.n_events} events, {self.df} coefficients, AIC {f.aic:.1f}"

    def hazard_ratios(self) -> pd.DataFrame:
        """One row per coefficient: ``term``, ``label``, ``coef``, ``hr``, ``hr_lower``,
        ``hr_upper`` (95% CI) and the Wald ``p``."""
        f = self.fit_
        return pd.DataFrame([{"term": term, "label": self.labels.get(term, term), "coef": float(f.coef[term]),
                              "hr": float(f.hr[term]), "hr_lower": float(f.hr_lower[term]),
                              "hr_upper": float(f.hr_upper[term]), "p": float(f.p[term])} for term in f.coef.index],
                            columns=_HR_COLUMNS)

    def summary(self) -> pd.DataFrame:
        """The hazard ratios, indexed by the printed covariate."""
        return self.hazard_ratios().drop(columns="term").set_index("label")


@dataclass(repr=False)
class SixModels(ShowsItself):
    """The six fitted models and how models 1-3 were chosen.

    ``summary()`` is every model's hazard ratios with their 95% CI; ``plot(ax)`` the forest
    plot the paper publishes (``fig-forest.png``).

    Attributes
    ----------
    models : dict of str to CoxModel
        The fitted models, in the study's order (a model without variable is absent).
    screens : dict of str to DataFrame
        Univariable screen of the clinical and MRI candidates (:func:`univariable_screen`).
    selections : dict of str to SelectionResult
        Backward elimination of models 1-3.
    radscore_constant : bool
        The Rad-score was constant on training (no feature kept): no model 4.
    labels : dict
        Column -> printed name.
    """

    models: dict[str, CoxModel]
    screens: dict[str, pd.DataFrame] = field(default_factory=dict)
    selections: dict[str, SelectionResult] = field(default_factory=dict)
    #: the Rad-score was constant on training (no feature kept): no model 4
    radscore_constant: bool = False
    labels: dict[str, str] = field(default_factory=dict, repr=False)
    #: the chained-equation imputer fitted on training (None: complete cases)
    imputer: Any = None
    #: multiple imputation: per variable, in how many imputations it was selected (models 1-3)
    votes: dict[str, dict[str, int]] = field(default_factory=dict)

    def completed(self, design: Design) -> list[pd.DataFrame] | None:
        """The m completed sets of ``design``'s patients (None without imputation):
        training patients as imputed at fit, others from the training imputation models
        without their outcome (:meth:`ChainedImputer.complete`)."""
        return None if self.imputer is None else self.imputer.complete(design.X)

    def title(self) -> str:
        missing = [MODELS[k] for k in MODELS if k not in self.models]
        note = f"; not fitted: {', '.join(missing)}" if missing else ""
        return f"Six Cox models (training): {len(self.models)} fitted{note}"

    def hazard_ratios(self) -> pd.DataFrame:
        """Every model's covariates: ``model``, ``term``, ``label``, ``coef``, ``hr``,
        ``hr_lower``, ``hr_upper`` (95% CI) and Wald ``p`` (training fits)."""
        tables = [m.hazard_ratios().assign(model=k) for k, m in self.models.items()]
        if not tables:
            return pd.DataFrame(columns=["model", *_HR_COLUMNS])
        return pd.concat(tables, ignore_index=True)[["model", *_HR_COLUMNS]]

    def summary(self) -> pd.DataFrame:
        """HR (95% CI) and p of every model's covariates, indexed by model name and covariate."""
        hr = self.hazard_ratios()
        return (hr.assign(model=hr["model"].map(MODELS)).drop(columns=["term", "coef"])
                .set_index(["model", "label"]))

    def plot(self, ax=None, **kwargs):
        """The forest plot of every model's hazard ratios (the paper's ``fig-forest.png``)."""
        from ..plots.models import draw_forest, forest_size

        hr = self.hazard_ratios()
        ax = new_axes(ax, forest_size(hr))
        return draw_forest(ax, hr.assign(term=hr["label"]), MODELS)

    def selection_table(self) -> pd.DataFrame:
        """The univariable screens of the clinical and MRI candidates with, per variable,
        whether its model kept it: ``variable``, ``df``, ``n``, ``chisq``, ``p``, ``note``,
        ``model``, ``selected``."""
        selection = pd.concat([s.assign(model=k) for k, s in self.screens.items()], ignore_index=True)
        selection["selected"] = [v in self.models[m].variables if m in self.models else False
                                 for v, m in zip(selection["variable"], selection["model"])]
        return selection

    def scores(self, design: Design) -> pd.DataFrame:
        """Every model's centred linear predictor for the patients of ``design`` (with
        imputation: the mean over the m completed sets, imputed once for all models)."""
        sets = self.completed(design)
        return pd.DataFrame({k: m.predict(design, sets) for k, m in self.models.items()}, index=design.X.index)

    def likelihood_ratio_tests(self) -> pd.DataFrame:
        """What the Rad-score adds to the nested clinical models (training, complete cases):
        model 5 vs 1 and model 6 vs 3."""
        rows = []
        for big, small in (("radiomics", "clinical"), ("imaging", "clinical_mri")):
            if big in self.models and small in self.models:
                b, s = self.models[big], self.models[small]
                if b.imputed:
                    if RADSCORE not in b.variables:
                        continue   # a constant Rad-score is no covariate: models 5 and 6 are models 1 and 3
                    # Multiple imputation: the log-likelihoods of the m fits cannot be pooled into
                    # a likelihood-ratio test; the Rad-score's pooled Wald test (Rubin's rules,
                    # Barnard-Rubin df) tests the same 1-df hypothesis.
                    row = b.pooled_.pooled.loc[RADSCORE]
                    rows.append({"model": big, "nested": small, "chisq": float(row["statistic"]) ** 2, "df": 1,
                                 "p": float(row["p_value"]), "test": "pooled_wald"})
                elif b.fit_.n == s.fit_.n:
                    chisq, df, p = lr_test(s.fit_, b.fit_)
                    rows.append({"model": big, "nested": small, "chisq": chisq, "df": df, "p": p, "test": "lr"})
        return pd.DataFrame(rows, columns=["model", "nested", "chisq", "df", "p", "test"])


def _selected(designs: Sequence[Design], candidates: Sequence[str], time, event, screen_p: float | None, ties: str,
              key: str, result: SixModels, screen: bool = True) -> list[str]:
    """Screen (``screen``) and backward elimination of ``candidates``; on m completed sets
    (multiple imputation) the screen keeps a variable by its median p over the sets and
    elimination keeps what was selected in at least half of them (:func:`pooled_selection`)."""
    if len(designs) == 1:
        design = designs[0]
        kept = list(candidates)
        if screen:
            scr = screen_variables(design, candidates, time, event, screen_p, ties=ties)
            result.screens[key] = scr.table
            kept = scr.kept
        selection = backward_aic(design, kept, time, event, ties=ties) if kept else SelectionResult(selected=[])
        result.selections[key] = selection
        return selection.selected
    table, selection, votes = pooled_selection(designs, candidates, time, event, screen_p if screen else None,
                                               ties, screen=screen)
    if screen:
        result.screens[key] = table
    result.selections[key] = selection
    result.votes[key] = votes
    return selection.selected


def pooled_selection(designs: Sequence[Design], candidates: Sequence[str], time, event, screen_p: float | None,
                     ties: str = "efron", screen: bool = True) -> tuple[pd.DataFrame, SelectionResult, dict[str, int]]:
    """The screen and backward elimination on m multiply imputed training sets.

    * **Screen**: each candidate's univariable likelihood-ratio test on every completed
      set; the candidate passes when the median of its m p-values is below ``screen_p``
      (the median-p rule, Eekhout, van de Wiel & Heymans 2017). The table has
      :func:`univariable_screen`'s columns with the medians of ``chisq`` and ``p``.
    * **Elimination**: backward elimination by AIC on every completed set from the
      variables that passed; a variable is selected when at least half of the m
      eliminations kept it (the majority method, Wood, White & Royston 2008; van Buuren
      2018, section 5.4).

    Returns
    -------
    (DataFrame, SelectionResult, dict)
        The screen's table, the selection (``selected``, ``candidates``, ``n``; no single
        path of steps) and, per candidate, the number of eliminations that kept it.

    References
    ----------
    .. [1] Wood AM, White IR, Royston P. How should variable selection be performed with
       multiply imputed data? Stat Med. 2008;27(17):3227-3246. doi:10.1002/sim.3177
    .. [2] Eekhout I, van de Wiel MA, Heymans MW. Methods for significance testing of
       categorical covariates in logistic regression models after multiple imputation:
       power and applicability analysis. BMC Med Res Methodol. 2017;17:129.
       doi:10.1186/s12874-017-0404-7
    .. [3] van Buuren S. Flexible Imputation of Missing Data. 2nd ed. Boca Raton: CRC
       Press; 2018.
    """
    from .selection import univariable_screen

    m = len(designs)
    kept = list(candidates)
    table = pd.DataFrame(columns=["variable", "df", "n", "chisq", "p", "note"])
    if screen:
        tables = [univariable_screen(d, candidates, time, event, ties=ties) for d in designs]
        table = tables[0].copy()
        for col in ("chisq", "p"):
            stacked = np.array([t[col].to_numpy(float) for t in tables])
            with np.errstate(all="ignore"):
                table[col] = [float(np.median(v)) if np.isfinite(v).all() else np.nan for v in stacked.T]
        notes = [sorted({t["note"].iloc[j] for t in tables} - {""}) for j in range(len(table))]
        table["note"] = ["; ".join(n) for n in notes]
        kept = [v for v, p in zip(table["variable"], table["p"])
                if screen_p is None or (np.isfinite(p) and p < screen_p)]
    votes = dict.fromkeys(kept, 0)
    if kept:
        for d in designs:
            for v in backward_aic(d, kept, time, event, ties=ties).selected:
                votes[v] += 1
    selected = [v for v in kept if 2 * votes[v] >= m]
    labels = dict(designs[0].labels)
    return table, SelectionResult(selected=selected, candidates=kept, n=len(designs[0].X), labels=labels), votes


def develop_models(design: Design, clinical: Sequence[str], mri: Sequence[str], time, event,
                   screen_p: float | None = 0.05, ties: str = "efron", imputer=None) -> SixModels:
    """Select and fit the six models on the training patients of ``design``.

    Parameters
    ----------
    design : Design
        The training patients' coded variables, with the Rad-score as variable ``radscore``.
    clinical, mri : sequence of str
        The candidate clinical and MRI variables.
    time, event : array-like
        Training follow-up and events.
    screen_p : float or None
        Univariable screen: keep variables with LRT p below it (None: no screen).
    imputer : ChainedImputer, optional
        Multiple imputation (unfitted; fitted here on ``design``'s training patients
        with their outcome, :class:`radsurv.models.ChainedImputer`): selection on the m
        completed sets (:func:`pooled_selection`) and every model pooled by Rubin's
        rules. None: complete cases of each model's variables.

    A Rad-score that is constant on the training set (a LASSO that kept no feature, as
    happens on noise) is no covariate: the signature is then the null model (no model
    4), and models 5 and 6 have the variables of models 1 and 3.
    """
    out = SixModels(models={}, labels=dict(design.labels))
    designs = [design]
    if imputer is not None:
        out.imputer = imputer.fit(design.X, time, event)
        designs = [Design(X, design.groups, design.labels) for X in imputer.completed_]
    sel_clin = _selected(designs, clinical, time, event, screen_p, ties, "clinical", out)
    sel_mri = _selected(designs, mri, time, event, screen_p, ties, "mri", out)
    both = [*sel_clin, *[v for v in sel_mri if v not in sel_clin]]
    sel_both = _selected(designs, both, time, event, None, ties, "clinical_mri", out, screen=False)
    rs = design.X[RADSCORE].to_numpy(float) if RADSCORE in design.X else np.zeros(0)
    rs = rs[np.isfinite(rs)]
    radscore = [RADSCORE] if rs.size and np.ptp(rs) > 0 else []
    out.radscore_constant = not radscore
    specs = {"clinical": sel_clin, "mri": sel_mri, "clinical_mri": sel_both, "signature": radscore,
             "radiomics": [*radscore, *sel_clin], "imaging": [*radscore, *sel_both]}
    completed = imputer.completed_ if imputer is not None else None
    for key, variables in specs.items():
        if variables:
            out.models[key] = CoxModel(key, list(variables), ties).fit(design, time, event, completed)
    return out

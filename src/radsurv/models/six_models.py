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

Each model is a Cox model (Efron ties) on complete cases of its variables; its linear
predictor is centred on the training set (mean 0 there), like the Rad-score, so that
scores are comparable across models. The test sets are scored with the training
coefficients unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError
from ..labels import in_sentence
from ..stats import fit_cox
from .design import RADSCORE, Design
from .selection import SelectionResult, backward_aic, lr_test, univariable_screen

__all__ = ["MODELS", "CoxModel", "SixModels", "develop_models", "model_name"]

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


@dataclass
class CoxModel:
    """A Cox model on named variables of a :class:`Design`, fitted on training.

    Attributes
    ----------
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

    def fit(self, design: Design, time, event) -> "CoxModel":
        if not self.variables:
            raise ValueError(f"model {self.key!r}: no variable was selected")
        X = design.X[design.columns(self.variables)]
        keep = X.notna().all(axis=1).to_numpy()
        self.n_excluded_ = int((~keep).sum())
        self.fit_ = fit_cox(X[keep], np.asarray(time, float)[keep], np.asarray(event, int)[keep], ties=self.ties,
                            monotone="as_r")
        self.center_ = float(np.mean(self._lp(X[keep])))
        return self

    def _lp(self, X: pd.DataFrame) -> np.ndarray:
        # Row by row, so a patient's score does not depend on who else is scored.
        return (X[list(self.fit_.coef.index)].to_numpy(dtype=float) * self.fit_.coef.to_numpy()).sum(axis=1)

    def predict(self, design: Design) -> pd.Series:
        """Centred linear predictor; NaN for a patient with a missing variable."""
        if not hasattr(self, "fit_"):
            raise NotFittedError(f"model {self.key!r} is not fitted: call fit() on the training set first")
        X = design.X[design.columns(self.variables)]
        return pd.Series(self._lp(X) - self.center_, index=design.X.index, name=self.key)

    @property
    def df(self) -> int:
        return len(self.fit_.coef)


@dataclass
class SixModels:
    """The six fitted models and how models 1-3 were chosen."""

    models: dict[str, CoxModel]
    screens: dict[str, pd.DataFrame] = field(default_factory=dict)
    selections: dict[str, SelectionResult] = field(default_factory=dict)
    #: the Rad-score was constant on training (no feature kept): no model 4
    radscore_constant: bool = False

    def scores(self, design: Design) -> pd.DataFrame:
        """Every model's centred linear predictor for the patients of ``design``."""
        return pd.DataFrame({k: m.predict(design) for k, m in self.models.items()}, index=design.X.index)

    def likelihood_ratio_tests(self) -> pd.DataFrame:
        """What the Rad-score adds to the nested clinical models (training, complete cases):
        model 5 vs 1 and model 6 vs 3."""
        rows = []
        for big, small in (("radiomics", "clinical"), ("imaging", "clinical_mri")):
            if big in self.models and small in self.models:
                b, s = self.models[big], self.models[small]
                if b.fit_.n == s.fit_.n:
                    chisq, df, p = lr_test(s.fit_, b.fit_)
                    rows.append({"model": big, "nested": small, "chisq": chisq, "df": df, "p": p})
        return pd.DataFrame(rows, columns=["model", "nested", "chisq", "df", "p"])


def _selected(design: Design, candidates: Sequence[str], time, event, screen_p: float | None, ties: str,
              key: str, result: SixModels) -> list[str]:
    screen = univariable_screen(design, candidates, time, event, ties=ties)
    result.screens[key] = screen
    kept = list(candidates) if screen_p is None else [v for v, p in zip(screen["variable"], screen["p"])
                                                       if np.isfinite(p) and p < screen_p]
    selection = backward_aic(design, kept, time, event, ties=ties) if kept else SelectionResult(selected=[])
    result.selections[key] = selection
    return selection.selected


def develop_models(design: Design, clinical: Sequence[str], mri: Sequence[str], time, event,
                   screen_p: float | None = 0.05, ties: str = "efron") -> SixModels:
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

    A Rad-score that is constant on the training set (a LASSO that kept no feature, as
    happens on noise) is no covariate: the signature is then the null model (no model
    4), and models 5 and 6 have the variables of models 1 and 3.
    """
    out = SixModels(models={})
    sel_clin = _selected(design, clinical, time, event, screen_p, ties, "clinical", out)
    sel_mri = _selected(design, mri, time, event, screen_p, ties, "mri", out)
    both = [*sel_clin, *[v for v in sel_mri if v not in sel_clin]]
    sel_both = backward_aic(design, both, time, event, ties=ties).selected if both else []
    out.selections["clinical_mri"] = SelectionResult(selected=sel_both)
    rs = design.X[RADSCORE].to_numpy(float) if RADSCORE in design.X else np.zeros(0)
    rs = rs[np.isfinite(rs)]
    radscore = [RADSCORE] if rs.size and np.ptp(rs) > 0 else []
    out.radscore_constant = not radscore
    specs = {"clinical": sel_clin, "mri": sel_mri, "clinical_mri": sel_both, "signature": radscore,
             "radiomics": [*radscore, *sel_clin], "imaging": [*radscore, *sel_both]}
    for key, variables in specs.items():
        if variables:
            out.models[key] = CoxModel(key, list(variables), ties).fit(design, time, event)
    return out

"""What the validation starts from: the six models' scores, re-checked against their
coefficients, with the patients' outcomes and the training baselines.

:func:`validation_inputs` rebuilds the coded design from the cohort and ``03_signatures``'
Rad-scores (as ``04_models`` built it: the training patients' Rad-score is their
pre-validated one when ``radscores_prevalidated.csv`` is given), re-scores every model from the coefficients
``04_models`` wrote (:func:`check_scores`: a stale or edited upstream output stops here),
and gathers each model's baseline DFS at the horizons, so that a predicted risk of
recurrence is ``1 - s0 ** exp(score)``.

Which models ``04_models`` fitted depends on what its screen and LASSO selected, so a
profile cannot promise them: a final model (``validation.final_model``) that was not
fitted, or no model at all, is not refused here (``radsurv validate`` could not have
predicted it) but degrades the stage (:attr:`ValidationInputs.not_estimable`).
"""

from __future__ import annotations

import copy

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..cohort.manifest import cohort_outcomes
from ..labels import SPLIT_LABELS, SPLITS
from ..models.design import RADSCORE, RADSCORE_LABEL, Design, cohort_design
from ..models.imputation import imputer_for
from ..models.six_models import MODELS, model_name
from ..results import ShowsItself

__all__ = ["ValidationInputs", "check_scores", "deployed_scores", "example_patient", "final_model_reason",
           "validation_inputs"]


def check_scores(models, design: Design) -> None:
    """Re-score every model from its written coefficients and the rebuilt design.

    Parameters
    ----------
    models : ModelOutputs
        ``04_models``' outputs (``models``, ``hazard_ratios``, ``scores``).
    design : Design
        The coded variables of the scored patients.

    Raises
    ------
    ValueError
        A model's written scores do not follow from its coefficients (up to the centring
        constant): a stale or edited upstream output.
    """
    for key in models.models:
        hr = models.hazard_ratios[models.hazard_ratios["model"] == key]
        lp = design.X[hr["term"].tolist()].to_numpy(float) @ hr["coef"].to_numpy(float)
        written = models.scores.loc[design.X.index, key].to_numpy(float)
        ok = np.isfinite(lp) & np.isfinite(written)
        centred = lp[ok] - (lp[ok] - written[ok]).mean()
        if ok.sum() and np.abs(centred - written[ok]).max() > 1e-6 * (1 + np.abs(written[ok]).max()):
            raise ValueError(f"04_models' scores of model {key!r} do not follow from its coefficients and the cohort: "
                             "re-run 04_models (and pass 03_signatures' pre-validated Rad-scores if 04_models was "
                             "developed on them, as the pipeline's is)")


def deployed_scores(scores: pd.DataFrame, hazard_ratios: pd.DataFrame, fitted_radscore: pd.Series,
                    final_radscore: pd.Series) -> pd.DataFrame:
    """Every model's score as the deployed model gives it: each patient scored with the
    final signature's Rad-score, whatever Rad-score the model was weighed on.

    ``04_models`` weighs the Rad-score of models 4-6 on the training patients'
    pre-validated Rad-scores (:func:`radsurv.models.training_radscore`) and writes their
    scores on that design. The model a reader would use scores a patient with the only
    Rad-score there is, the final signature's, so its apparent performance (the start of
    Harrell's optimism correction) is measured on the training patients scored that way,
    as each bootstrap resample measures its own apparent performance
    (:func:`radsurv.validation.optimism.resample_once`). The Rad-score enters every model
    as one linear term and is never missing, so the deployed score is 04's plus the
    Rad-score's coefficient times the difference of the two Rad-scores (with multiple
    imputation too: the other columns of the completed sets are unchanged).

    Parameters
    ----------
    scores : DataFrame
        ``04_models``' centred linear predictors (index ``patient_id``, one column per model).
    hazard_ratios : DataFrame
        ``04_models``' ``model, term, coef`` rows.
    fitted_radscore, final_radscore : Series
        The Rad-score of ``04_models``' design (pre-validated for the training patients, or
        the final signature's) and the final signature's, indexed like ``scores``.

    Returns
    -------
    DataFrame
        ``scores`` with each Rad-score model shifted by ``coef * (final - fitted)``: equal
        to ``scores`` wherever the two Rad-scores agree (every test patient; every patient
        under resubstitution).
    """
    out = scores.copy()
    shift = (final_radscore.reindex(scores.index).astype(float)
             - fitted_radscore.reindex(scores.index).astype(float)).to_numpy()
    for key in scores.columns:
        rows = hazard_ratios[(hazard_ratios["model"] == key) & (hazard_ratios["term"] == RADSCORE)]
        if len(rows) and np.any(shift != 0):
            out[key] = scores[key].to_numpy(float) + float(rows["coef"].iloc[0]) * shift
    return out


@dataclass(frozen=True, repr=False)
class ValidationInputs(ShowsItself):
    """The scored patients of the validation.

    Attributes
    ----------
    design : Design
        Coded clinical and MRI variables and the Rad-score (index ``patient_id``).
    clinical, mri : tuple of str
        The candidate variables of the models.
    outcome : DataFrame
        ``split, time`` (months), ``event`` per patient (same index).
    scores : DataFrame
        Each model's centred linear predictor (same index) as the deployed model gives it:
        every patient scored with the final signature's Rad-score (:func:`deployed_scores`;
        for the training patients this differs from ``04_models``' written scores when 04
        weighed the Rad-score on pre-validated ones).
    s0 : dict
        (model, horizon) -> baseline DFS at a score of 0.
    models : tuple of str
        The fitted models, in the study's order.
    horizons : tuple of float
        Months at which risks are predicted.
    final : str
        The final model (calibration curve, nomogram): ``validation.final_model``, fitted
        or not (:attr:`final_fitted`).
    hazard_ratios : DataFrame
        ``04_models``' terms and coefficients of every model.
    coding : dict
        Variable -> ``"numeric"`` or its categories (the first is the reference).
    labels : dict
        Variable -> printed name (the Rad-score's included).
    """

    design: Design
    clinical: tuple
    mri: tuple
    outcome: pd.DataFrame
    scores: pd.DataFrame
    s0: dict
    models: tuple
    horizons: tuple
    final: str
    hazard_ratios: pd.DataFrame
    coding: dict
    labels: dict
    #: the (unfitted) imputer of ``04_models``, rebuilt from the profile and the seed, or
    #: None when 04 used complete cases (:func:`radsurv.models.imputer_for`)
    imputer: Any = None
    #: what the design's training Rad-score is (:data:`radsurv.models.design.TRAINING_SCORES`):
    #: ``"prevalidated"`` when the pre-validated Rad-scores were given, else
    #: ``"resubstitution"``; the optimism bootstrap develops each resample the same way
    training_scores: str = "resubstitution"

    def completed_training(self) -> list[pd.DataFrame] | None:
        """The training patients' m completed sets, as ``04_models`` imputed them (the same
        imputer, data and seed give the same sets), or None without imputation."""
        if self.imputer is None:
            return None
        train = self.design.X.index[self.train]
        imputer = copy.deepcopy(self.imputer)   # unfitted: fitting the copy leaves the inputs as they are
        return imputer.fit(self.design.X.loc[train], self.outcome.loc[train, "time"],
                           self.outcome.loc[train, "event"]).completed_

    @property
    def final_fitted(self) -> bool:
        """Whether ``04_models`` fitted the final model (it has a variable)."""
        return self.final in self.models

    @property
    def not_estimable(self) -> list[str]:
        """What cannot be validated because ``04_models`` did not fit the final model or
        any model (:func:`final_model_reason`); empty when the final model was fitted."""
        why = final_model_reason(self.final, self.models)
        return [why] if why else []

    @property
    def train(self) -> np.ndarray:
        """Boolean mask of the training patients."""
        return (self.outcome["split"] == "train").to_numpy()

    def final_variables(self) -> list[str]:
        """The final model's variables (a categorical one once), in its fit order."""
        terms = self.hazard_ratios.loc[self.hazard_ratios["model"] == self.final, "term"].tolist()
        variables = [v for v in self.design.groups if any(c in terms for c in self.design.groups[v])]
        return sorted(variables, key=lambda v: terms.index(self.design.groups[v][0]))

    def variable_labels(self) -> dict[str, str]:
        """Coded column or variable -> printed name (an indicator's label names its level)."""
        return {**self.design.labels, **{v: self.labels.get(v, v) for v in self.design.groups}}

    def summary(self) -> pd.DataFrame:
        """Patients, events and median follow-up per set (aggregates only)."""
        rows = []
        for split in SPLITS:
            o = self.outcome[self.outcome["split"] == split]
            if len(o):
                rows.append({"set": SPLIT_LABELS[split], "patients": len(o), "events": int(o["event"].sum()),
                             "median_follow_up_months": float(o["time"].median()),
                             "scored_by_final_model": (int(self.scores.loc[o.index, self.final].notna().sum())
                                                       if self.final_fitted else 0)})
        return pd.DataFrame(rows)


    def title(self) -> str:
        return (f"{len(self.outcome)} patients scored by {len(self.models)} models; final model: "
                f"{model_name(self.final)}{'' if self.final_fitted else ' (not fitted)'}; horizons "
                f"{', '.join(f'{h / 12:g}' for h in self.horizons)} years")


def validation_inputs(cohort: pd.DataFrame, radscores: pd.DataFrame, models, profile: Mapping[str, Any],
                      params: Mapping[str, Any], prevalidated: pd.DataFrame | None = None) -> ValidationInputs:
    """Rebuild the scored patients of ``04_models`` and check their scores.

    Parameters
    ----------
    cohort : DataFrame
        The cohort table (``00_cohort``).
    radscores : DataFrame
        ``03_signatures``' Rad-scores.
    models : ModelOutputs
        ``04_models``' outputs.
    profile : mapping
        The profile (``cohort.columns``, ``cohort.labels``, ``time_unit``).
    params : mapping
        The ``validation`` section (``horizons_months``, ``final_model``).
    prevalidated : DataFrame, optional
        ``03_signatures``' pre-validated training Rad-scores
        (:func:`radsurv.stages.read_prevalidated`), as ``04_models`` used them: the
        training patients' Rad-score column is then rebuilt as 04 built it
        (:func:`radsurv.models.cohort_design`). None: resubstitution (every patient has
        the final signature's Rad-score).

    Returns
    -------
    ValidationInputs

    Raises
    ------
    ValueError
        The scores do not follow from the coefficients.

    Notes
    -----
    A final model that ``04_models`` did not fit (or no fitted model) is kept as
    ``final`` with :attr:`ValidationInputs.final_fitted` false: every fitted model is
    validated as usual, and what needs the final model says why it is missing.
    """
    columns, labels = profile["cohort"]["columns"], profile["cohort"]["labels"]
    design, clinical, mri = cohort_design(cohort, radscores, columns, labels, prevalidated=prevalidated)
    outcome = cohort_outcomes(cohort, design.X.index, profile["time_unit"])
    check_scores(models, design)
    keys = tuple(models.models)
    # validated: the models as deployed, every patient scored with the final signature
    scores = deployed_scores(models.scores.loc[design.X.index, list(keys)], models.hazard_ratios,
                             design.X[RADSCORE], radscores["multimodal"])
    horizons = tuple(float(h) for h in params["horizons_months"])
    final = params["final_model"]
    coding = {**{c: columns["clinical"][c] for c in clinical}, **{c: columns["mri"][c] for c in mri}}
    return ValidationInputs(design=design, clinical=tuple(clinical), mri=tuple(mri), outcome=outcome,
                            scores=scores, models=keys, horizons=horizons,
                            s0={(k, h): models.s0(k, h) for k in keys for h in horizons}, final=final,
                            hazard_ratios=models.hazard_ratios, coding=coding,
                            labels={**labels, RADSCORE: RADSCORE_LABEL},
                            imputer=imputer_for(design, [*clinical, *mri], profile.get("models") or {},
                                                seed=profile.get("seed", 0)),
                            training_scores="resubstitution" if prevalidated is None else "prevalidated")


def final_model_reason(final: str, fitted) -> str:
    """Why the validation of ``final`` cannot be estimated, or "" when it was fitted.

    Parameters
    ----------
    final : str
        ``validation.final_model``.
    fitted : sequence of str
        The models ``04_models`` fitted, in the study's order.

    Returns
    -------
    str
        A clause for the ``not_estimable`` variable. With no fitted model, nothing is
        validated; with others fitted, they are validated and only what needs the final
        model (the nomogram, the bootstrap-corrected calibration curve, the final model's
        rows of the Results paragraph) is left out, and the clause names the profile key
        and the fitted models it may be set to. The final model is never swapped silently.
    """
    fitted = [k for k in MODELS if k in set(fitted)]
    if final in fitted:
        return ""
    if not fitted:
        # 04 fits a model only when it has a variable: which ones do depends on the data
        return ("no model could be validated: 04_models fitted none (no variable was selected for any model), so "
                "there is no optimism, calibration, decision curve or nomogram to estimate")
    return (f"the final model, the {model_name(final)}, was not fitted by 04_models (no variable was selected for "
            "it), so its nomogram, its bootstrap-corrected calibration curve and its calibration and net benefit "
            "in the Results cannot be estimated (the fitted models are validated in the tables); to validate "
            f"another model, set validation.final_model to one of: {', '.join(fitted)}")


def example_patient(X: pd.DataFrame, variables, coding: Mapping[str, Any]) -> dict[str, Any]:
    """A patient at the training medians of the numeric variables and in the reference
    category of the categorical ones (the Results paragraph's example).

    Parameters
    ----------
    X : DataFrame
        The training patients' coded variables (``Design.X``).
    variables : sequence of str
    coding : mapping
        Variable -> ``"numeric"`` (absent: numeric) or its categories.
    """
    out: dict[str, Any] = {}
    for v in variables:
        kind = coding.get(v, "numeric")
        out[v] = float(X[v].median()) if kind == "numeric" else str(kind[0])
    return out

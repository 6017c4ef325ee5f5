"""How the six models fit the training set: proportional-hazards tests, fit statistics,
collinearity and each model's baseline survival.

* :func:`ph_tests`: Grambsch & Therneau's (1994) score test of proportional hazards per
  covariate and global (R's ``cox.zph``, Kaplan-Meier time scale) for every model; a model
  with a possibly infinite coefficient has no test, and the :class:`PHTests` says so.
* :func:`fit_statistics`: patients, events, parameters, events per parameter, log partial
  likelihood, AIC, BIC, the global PH p, the likelihood-ratio test of the Rad-score added
  to the nested clinical models, and the collinearity of the Rad-score models
  (:class:`FitStatistics`).
* :func:`fit_table`, :func:`collinearity`, :func:`baseline_survival`: the tables behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from ..results import ShowsItself
from ..stats import cox_zph
from .design import Design
from .six_models import MODELS, SixModels

__all__ = ["FitStatistics", "PHTests", "baseline_survival", "collinearity", "fit_statistics", "fit_table",
           "ph_tests"]


@dataclass(repr=False)
class PHTests(ShowsItself):
    """Proportional-hazards tests (Schoenfeld residuals, Kaplan-Meier time scale) of every
    model on training.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Model -> ``cox_zph``'s table (index: covariates then ``GLOBAL``; ``chisq``, ``df``, ``p``).
    skipped : dict of str to str
        Model -> why it has no test (a coefficient that may be infinite).
    """

    tables: dict[str, pd.DataFrame]
    skipped: dict[str, str] = field(default_factory=dict)

    def title(self) -> str:
        glob = [f"{k} {t.loc['GLOBAL', 'p']:.3f}" for k, t in self.tables.items()]
        skipped = f"; no test for {', '.join(self.skipped)}" if self.skipped else ""
        return f"Proportional-hazards tests, global p: {', '.join(glob) or 'none'}{skipped}"

    def table(self) -> pd.DataFrame:
        """The tests as one table: ``term``, ``chisq``, ``df``, ``p``, ``model`` (``ph_tests.csv``);
        empty when no model has a test."""
        if not self.tables:
            return pd.DataFrame(columns=["term", "chisq", "df", "p", "model"])
        return pd.concat([t.assign(model=k) for k, t in self.tables.items()]).rename_axis("term").reset_index()

    def global_p(self) -> dict[str, float]:
        """Model -> the global test's p."""
        return {k: float(t.loc["GLOBAL", "p"]) for k, t in self.tables.items()}

    def summary(self) -> pd.DataFrame:
        """Per model and covariate: chi-square, df and p; a model without test is one row whose
        ``note`` says why."""
        rows = self.table().assign(note="")
        rows = pd.concat([rows, pd.DataFrame([{"model": k, "term": "", "note": why} for k, why in self.skipped.items()],
                                             columns=rows.columns)], ignore_index=True) if self.skipped else rows
        return rows.assign(model=rows["model"].map(MODELS)).set_index(["model", "term"])


def ph_tests(six: SixModels, design: Design, time, event) -> PHTests:
    """Grambsch & Therneau's test of proportional hazards for each model (R's
    ``cox.zph(fit, transform = "km", terms = TRUE)``), on the model's training patients.

    Parameters
    ----------
    six : SixModels
        The models fitted on ``design``'s patients.
    design : Design
        The training patients' coded variables.
    time, event : array-like
        Their follow-up and events.

    Returns
    -------
    PHTests
        The tests; a model with a possibly infinite coefficient (monotone likelihood) has no
        Schoenfeld residual test and is listed in ``skipped`` with the reason.
    """
    t, e = np.asarray(time, float), np.asarray(event, int)
    tables, skipped = {}, {}
    for k, m in six.models.items():
        if m.fit_.monotone:  # an infinite coefficient has no Schoenfeld residual test
            skipped[k] = (f"coefficient(s) {', '.join(m.fit_.monotone)} may be infinite (monotone likelihood): "
                          "no proportional-hazards test")
            continue
        if m.imputed:  # the test on each completed set, summarised by the median p (Eekhout et al. 2017)
            each = [cox_zph(X, t, e, transform="km", fit=f) for X, f in zip(m.completed_, m.pooled_.fits)]
            tables[k] = median_over_imputations(each)
            continue
        X = design.X[list(m.fit_.coef.index)]
        ok = X.notna().all(axis=1).to_numpy()
        tables[k] = cox_zph(X[ok], t[ok], e[ok], transform="km", fit=m.fit_)
    return PHTests(tables, skipped)


def median_over_imputations(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Tests repeated on m completed sets, summarised per row by the median chi-square and
    the median p (the median-p rule; Eekhout, van de Wiel & Heymans 2017, who found it a
    valid and simple summary of m tests of one hypothesis). Same index and columns as
    each table (``df`` from the first).

    References
    ----------
    .. [1] Eekhout I, van de Wiel MA, Heymans MW. Methods for significance testing of
       categorical covariates in logistic regression models after multiple imputation:
       power and applicability analysis. BMC Med Res Methodol. 2017;17:129.
       doi:10.1186/s12874-017-0404-7
    """
    out = tables[0].copy()
    for col in ("chisq", "p"):
        out[col] = np.median(np.array([t[col].to_numpy(float) for t in tables]), axis=0)
    return out


def fit_table(six: SixModels, ph: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Per model on training: patients, events, parameters, events per parameter, log
    partial likelihood, AIC, BIC (events as R's ``nobs``) and, when given, the global
    proportional-hazards p.

    Parameters
    ----------
    six : SixModels
    ph : mapping, optional
        Model -> ``cox_zph`` table (:attr:`PHTests.tables`).

    Returns
    -------
    DataFrame
        ``model``, ``n``, ``events``, ``df``, ``epv``, ``loglik``, ``aic``, ``bic`` and ``ph_global_p``.
    """
    rows = []
    for key, model in six.models.items():
        f = model.fit_
        row = {"model": key, "n": f.n, "events": f.n_events, "df": len(f.coef),
               "epv": f.n_events / len(f.coef), "loglik": f.loglik, "aic": f.aic, "bic": f.bic}
        if ph is not None and key in ph:
            row["ph_global_p"] = float(ph[key].loc["GLOBAL", "p"])
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["model", "n", "events", "df", "epv", "loglik", "aic", "bic"])


def collinearity(design: Design, six: SixModels) -> pd.DataFrame:
    """Variance inflation factors of the covariates of the models with the Rad-score, and
    the Rad-score's correlation with the clinical models' linear predictors (training).

    Parameters
    ----------
    design : Design
        The training patients' coded variables.
    six : SixModels

    Returns
    -------
    DataFrame
        ``model``, ``term``, ``vif`` (for the correlation rows: Pearson's r).
    """
    rows = []
    for key in ("radiomics", "imaging"):
        if key not in six.models:
            continue
        X = design.X[list(six.models[key].fit_.coef.index)].dropna()
        for term in X.columns:
            others = X.drop(columns=term)
            if others.shape[1] == 0:
                continue
            A = np.column_stack([np.ones(len(X)), others.to_numpy()])
            y = X[term].to_numpy()
            resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
            r2 = 1 - resid.var() / y.var()
            rows.append({"model": key, "term": term, "vif": 1 / (1 - r2) if r2 < 1 else np.inf})
    scores = six.scores(design)
    for key in ("clinical", "mri", "clinical_mri"):
        if key in scores and "signature" in scores:
            ok = scores[[key, "signature"]].dropna()
            rows.append({"model": key, "term": "correlation with the Rad-score",
                         "vif": float(np.corrcoef(ok[key], ok["signature"])[0, 1])})
    return pd.DataFrame(rows, columns=["model", "term", "vif"])


def baseline_survival(six: SixModels, horizons) -> pd.DataFrame:
    """Each model's baseline at its centred linear predictor: S0(t) such that a patient's
    predicted DFS is S0(t) ** exp(score) (score = the centred linear predictor), from the
    Cox fit's baseline cumulative hazard (R's ``survfit(fit)``, Efron: ctype 2).

    Parameters
    ----------
    six : SixModels
    horizons : sequence of float
        Times (the profile's time unit).

    Returns
    -------
    DataFrame
        ``model``, ``horizon``, ``cumhaz_at_zero`` (H0 at x = 0), ``center``, ``s0``.
    """
    rows = []
    for key, model in six.models.items():
        H0 = model.fit_.baseline_cumhaz(list(horizons))
        for h, H in zip(horizons, H0):
            rows.append({"model": key, "horizon": float(h), "cumhaz_at_zero": float(H), "center": model.center_,
                         "s0": float(np.exp(-H * np.exp(model.center_)))})
    return pd.DataFrame(rows, columns=["model", "horizon", "cumhaz_at_zero", "center", "s0"])


@dataclass(repr=False)
class FitStatistics(ShowsItself):
    """The six models' fit on training.

    Attributes
    ----------
    table : DataFrame
        :func:`fit_table` (with the global PH p).
    lr : DataFrame
        :meth:`SixModels.likelihood_ratio_tests`: the Rad-score added to models 1 and 3.
    collinearity : DataFrame
        :func:`collinearity`.
    """

    table: pd.DataFrame
    lr: pd.DataFrame
    collinearity: pd.DataFrame

    def title(self) -> str:
        if self.table.empty:
            return "Fit statistics: no model"
        best = self.table.loc[self.table["aic"].idxmin(), "model"]
        return f"Fit statistics on training (lowest AIC: {MODELS.get(best, best)})"

    def summary(self) -> pd.DataFrame:
        """Per model: n, events, df, EPV, log-likelihood, AIC, BIC, global PH p, and the LR test
        of the Rad-score (``lr_chisq``, ``lr_df``, ``lr_p``; NaN for the models without it)."""
        lr = self.lr.set_index("model")[["chisq", "df", "p"]].add_prefix("lr_")
        out = self.table.set_index("model").join(lr)
        return out.set_axis(out.index.map(MODELS), axis=0)


def fit_statistics(six: SixModels, design: Design, ph: PHTests | None = None) -> FitStatistics:
    """AIC, BIC, events per parameter, the LR test of the Rad-score and collinearity of
    the six models on training.

    Parameters
    ----------
    six : SixModels
    design : Design
        The training patients' coded variables.
    ph : PHTests, optional
        Adds each model's global proportional-hazards p.

    Returns
    -------
    FitStatistics
    """
    return FitStatistics(fit_table(six, ph.tables if ph is not None else None), six.likelihood_ratio_tests(),
                         collinearity(design, six))

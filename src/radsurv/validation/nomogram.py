"""The nomogram of the final model and its points calculator.

The final model's Cox fit (``04_models``' coefficients, refitted here on the same
training patients) is turned into an ``rms::nomogram`` (``radsurv.stats.nomogram``):
one axis per predictor, a categorical variable on one axis with its levels (as rms
draws a factor), total points, and DFS axes at the horizons.

The nomogram is saved as JSON with the variables' coding, so that
:class:`PointsCalculator` can score a new patient from plain values
(``{"er": "negative", "ki67": 30, "radscore": 0.4}``) without the training data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..models.design import Design, design_matrix
from ..results import ShowsItself, new_axes
from ..stats import Nomogram, fit_cox, nomogram
from .inputs import ValidationInputs

__all__ = ["NoNomogram", "PointsCalculator", "final_model_nomogram", "model_nomogram"]


def _factors(design: Design, variables: Sequence[str], coding: Mapping[str, Any],
             labels: Mapping[str, str]) -> dict[str, dict]:
    out = {}
    for var in variables:
        kind = coding.get(var, "numeric")
        if kind == "numeric":
            continue
        cats = [str(c) for c in kind]
        out[labels.get(var, var)] = {"reference": cats[0].replace("_", " "),
                                     "levels": {f"{var}[{c}]": c.replace("_", " ") for c in cats[1:]}}
    return out


def model_nomogram(design: Design, variables: Sequence[str], time, event, horizons: Sequence[float],
                   coding: Mapping[str, Any], labels: Mapping[str, str], coef: pd.Series | None = None,
                   axis_labels: Sequence[str] | None = None,
                   completed: Sequence[pd.DataFrame] | None = None) -> tuple[Nomogram, "PointsCalculator"]:
    """The nomogram of the Cox model on ``variables`` of the training ``design``.

    Parameters
    ----------
    design : Design
        Training patients' coded variables (complete cases of ``variables`` are used, as
        the model was fitted on them).
    variables : sequence of str
        The model's variables (a categorical one stands for its indicator columns).
    time, event : array-like
        Training follow-up (months) and events.
    horizons : sequence of float
        Months of the DFS axes.
    coding : mapping
        Variable -> ``"numeric"`` or its categories (the first is the reference).
    labels : mapping
        Printed names of the variables (axis names).
    coef : Series, optional
        The coefficients written by ``04_models``: the refit must reproduce them.
    axis_labels : sequence of str, optional
    completed : sequence of DataFrame, optional
        The training patients' m completed sets (multiple imputation): the nomogram is
        then that of the pooled model (Rubin's rules) at the averaged completed
        covariates (:func:`radsurv.models.imputation.pooled_coxfit`), as ``04_models``
        fitted and scored it.

    Returns
    -------
    (Nomogram, PointsCalculator)
    """
    cols = design.columns(variables)
    X = design.X[cols]
    keep = X.notna().all(axis=1).to_numpy()
    if completed is not None:   # multiple imputation: the pooled model, as 04_models fitted it
        keep = np.ones(len(X), bool)
        fit, _ = _pooled(completed, cols, time, event)
    else:
        fit = fit_cox(X[keep], np.asarray(time, float)[keep], np.asarray(event, int)[keep])
    if coef is not None:
        diff = np.abs(fit.coef[cols].to_numpy() - coef[cols].to_numpy()).max()
        if diff > 1e-6 * (1 + np.abs(coef.to_numpy()).max()):
            raise ValueError(f"the nomogram's refit differs from 04_models' coefficients by {diff:.2g}: the training "
                             "data or the model changed since 04_models ran")
    factors = _factors(design, variables, coding, labels)
    renamed = {c: labels.get(c, c) for c in cols if not any(c in f["levels"] for f in factors.values())}
    if completed is not None:
        fit_r, Xr = _pooled([c.rename(columns=renamed) for c in completed],
                            [renamed.get(c, c) for c in cols], time, event)
    else:
        Xr = X[keep].rename(columns=renamed)
        fit_r = fit_cox(Xr, np.asarray(time, float)[keep], np.asarray(event, int)[keep])
    hz = [float(h) for h in horizons]
    labs = list(axis_labels) if axis_labels else [f"{h / 12:g}-year DFS" for h in hz]
    nom = nomogram(fit_r, Xr, times=hz, axis_labels=labs, factors=factors)
    coding_used = {v: coding.get(v, "numeric") for v in variables}
    return nom, PointsCalculator(nom, coding_used, {v: labels.get(v, v) for v in variables})


def _pooled(completed, cols, time, event):
    """The pooled Cox fit of ``cols`` on the completed sets and its averaged covariates."""
    from ..models.imputation import fit_cox_imputed, pooled_coxfit

    sets = [c[cols] for c in completed]
    return pooled_coxfit(fit_cox_imputed(sets, time, event, monotone="as_r"), sets)


def final_model_nomogram(inputs: ValidationInputs) -> tuple[Nomogram | None, "PointsCalculator | NoNomogram"]:
    """The nomogram of the final model (:func:`model_nomogram` on the training patients,
    checked against ``04_models``' coefficients).

    Parameters
    ----------
    inputs : ValidationInputs

    Returns
    -------
    (Nomogram, PointsCalculator)
        Or ``(None, NoNomogram)`` when ``04_models`` did not fit the final model: the
        stage then writes, draws and says why there is no nomogram.
    """
    if not inputs.final_fitted:
        return None, NoNomogram(inputs.not_estimable[0], inputs.horizons)
    hr = inputs.hazard_ratios[inputs.hazard_ratios["model"] == inputs.final]
    train = inputs.train
    return model_nomogram(inputs.design.subset(inputs.design.X.index[train]), inputs.final_variables(),
                          inputs.outcome.loc[train, "time"], inputs.outcome.loc[train, "event"], inputs.horizons,
                          inputs.coding, inputs.labels, coef=hr.set_index("term")["coef"],
                          completed=inputs.completed_training())


@dataclass(frozen=True, repr=False)
class PointsCalculator(ShowsItself):
    """Points and predicted DFS of a patient from plain variable values.

    Shows itself as the nomogram: ``summary()`` gives the points of each axis value and
    the total points at which the DFS takes each value, ``plot()`` draws it as
    ``rms::nomogram`` does (the published figure).

    Attributes
    ----------
    nomogram : Nomogram
    coding : dict
        Variable -> ``"numeric"`` or its categories.
    labels : dict
        Variable -> the nomogram's axis name for a numeric variable.
    """

    nomogram: Nomogram
    coding: dict
    labels: dict

    def __call__(self, patient: Mapping[str, Any] | pd.DataFrame) -> pd.DataFrame:
        """Points per axis, total points, linear predictor and DFS at each horizon.

        Parameters
        ----------
        patient : mapping or DataFrame
            The model's variables by name (``{"er": "negative", "ki67": 30, "radscore":
            0.4}``); a DataFrame scores several patients.

        Raises
        ------
        ValueError
            A variable is missing, a category is not one of the declared ones, or a value
            is missing.
        """
        data = patient if isinstance(patient, pd.DataFrame) else pd.DataFrame(
            {k: np.atleast_1d(v) for k, v in dict(patient).items()})
        missing = [v for v in self.coding if v not in data.columns]
        if missing:
            raise ValueError(f"patient: missing variable(s) {missing}; the nomogram needs {list(self.coding)}")
        bad = [v for v in self.coding if data[v].isna().any()]
        if bad:
            raise ValueError(f"patient: missing value(s) of {bad}")
        design = design_matrix(data[list(self.coding)], self.coding)
        X = design.X.rename(columns={v: self.labels[v] for v, kind in self.coding.items() if kind == "numeric"})
        return self.nomogram.points(X)

    def to_json(self, path: str | Path) -> None:
        """Write the nomogram and coding (no patient data: coefficients, axes, baseline)."""
        doc = {"nomogram": self.nomogram.to_dict(), "coding": self.coding, "labels": self.labels}
        Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def summary(self) -> pd.DataFrame:
        """The nomogram in numbers: ``axis, value, points`` for each predictor axis value,
        then each DFS axis (``value``: the DFS; ``points``: the total points giving it)."""
        nom = self.nomogram
        rows = [nom.axes.rename(columns={"predictor": "axis"})[["axis", "value", "points"]]]
        f = nom.function_axes
        rows.append(pd.DataFrame({"axis": f["axis"], "value": f["survival"], "points": f["points"]}))
        return pd.concat(rows, ignore_index=True)


    def title(self) -> str:
        horizons = ", ".join(f"{t / 12:g}" for t in self.nomogram.baseline_survival.index)
        return (f"Nomogram of {len(self.nomogram.axis_names)} variables (points 0-{self.nomogram.maxscale:g}), "
                f"DFS at {horizons} years")

    def plot(self, ax=None, title: str = "final model"):
        """Draw the nomogram (``radsurv.plots.validation.nomogram_panel``) and return the Axes.

        Parameters
        ----------
        ax : Axes, optional
        title : str
            The model's name, in "Nomogram of the <title>".
        """
        from ..plots.validation import nomogram_panel, nomogram_size

        return nomogram_panel(new_axes(ax, nomogram_size(self.nomogram)), self.nomogram, title)

    @classmethod
    def from_json(cls, path: str | Path) -> "PointsCalculator":
        """Read a calculator written by :meth:`to_json` (e.g. ``build/paper/05_validation/nomogram.json``);
        a :class:`NoNomogram` when the stage wrote why there is none."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("nomogram") is None:   # the final model was not fitted: the file says why
            return NoNomogram(str(doc.get("not_estimable", "no nomogram was written")))  # type: ignore[return-value]
        return cls(Nomogram.from_dict(doc["nomogram"]), dict(doc["coding"]), dict(doc["labels"]))


@dataclass(frozen=True, repr=False)
class NoNomogram(ShowsItself):
    """The place of the nomogram when the final model was not fitted (a data-dependent
    outcome of ``04_models``' selection): it shows, draws and writes why, so that the
    stage completes and every declared output exists.

    Attributes
    ----------
    reason : str
        Why there is no nomogram (:func:`radsurv.validation.inputs.final_model_reason`).
    horizons : tuple of float
        Months of the DFS columns an example patient would have had.
    """

    reason: str
    horizons: tuple = ()

    # what a PointsCalculator holds, empty: code reading a calculator can test ``nomogram is None``
    @property
    def nomogram(self) -> None:
        return None

    @property
    def coding(self) -> dict:
        return {}

    def __call__(self, patient=None) -> pd.DataFrame:
        """No patient can be scored: the calculator's columns, no row."""
        return pd.DataFrame(columns=["total_points", "lp", *[f"{h / 12:g}-year DFS" for h in self.horizons]])

    def _fitted(self) -> bool:
        return False

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"Nomogram": [self.reason]})

    def title(self) -> str:
        return f"No nomogram: {self.reason}"

    def to_json(self, path: str | Path) -> None:
        """Write ``{"nomogram": null, "not_estimable": <reason>}`` (read back by
        :meth:`PointsCalculator.from_json`)."""
        doc = {"nomogram": None, "not_estimable": self.reason}
        Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def plot(self, ax=None, title: str = "final model"):
        """A panel that says why there is no nomogram of ``title``."""
        from ..plots.style import message_panel

        return message_panel(new_axes(ax, (6.0, 2.0)), f"No nomogram of the {title}:\nthe model was not fitted")

"""The validation stage (``notebooks/05_validation.ipynb``): how far the six models'
training performance is optimistic, how well their predicted DFS is calibrated, whether
they would help decide, and the nomogram of the final model.

The notebook computes, step by step, with the library (:mod:`radsurv.validation`:
:func:`~radsurv.validation.validation_inputs`, :func:`~radsurv.validation.calibration_by_set`,
:func:`~radsurv.validation.calibration_by_centre`,
:func:`~radsurv.validation.decision_curves`, :func:`~radsurv.validation.final_model_nomogram`,
:func:`~radsurv.validation.one_resample` and :class:`~radsurv.validation.OptimismBootstrap`);
this module formats what it computed (:func:`validation_variables`,
:func:`describe_validation`, the ``*_display`` tables) and writes every declared output
(:func:`write_validation_artefacts`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS
from ..preconditions import unscored_sets
from ..models.six_models import MODELS, model_name
from ..report.formatting import format_ci
from ..stages.context import StageContext
from .calibration import Calibration
from .centres import CENTRE_COLUMNS, CentreCalibration
from .decision import DecisionCurves, benefit_range
from .inputs import ValidationInputs
from .nomogram import NoNomogram, PointsCalculator
from .optimism import OptimismBootstrap

__all__ = ["bootstrap_not_run", "calibration_display", "centre_calibration_display", "centre_variables",
           "decision_display", "nomogram_display", "optimism_display", "validation_variables",
           "write_validation_artefacts"]


def _fmt(x, digits=3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _said(reason: str, column: str) -> pd.DataFrame:
    """A one-cell table that says why, in place of an empty grid."""
    return pd.DataFrame({column: [reason[0].upper() + reason[1:] + "."]})


def bootstrap_not_run() -> OptimismBootstrap:
    """The optimism bootstrap of no model: no resample is developed.

    When ``04_models`` fitted no model there is no apparent C to correct, so the stage
    does not spend the resamples (200 developments on the paper's profile); the empty
    result shows, tabulates and plots as "nothing to show"."""
    return OptimismBootstrap(
        resamples=pd.DataFrame(columns=["resample", "model", "apparent_c", "apparent_slope", "test_c", "test_slope",
                                        "variables", "failed"]),
        calibration=pd.DataFrame(columns=["resample", "horizon", "predicted", "apparent", "test"]),
        apparent={}, models=(), n_resamples=0)


def optimism_display(summary: pd.DataFrame, n_failed: int, n_total: int) -> pd.DataFrame:
    return pd.DataFrame({
        "Model": summary["model"].map(MODELS), "Apparent C": summary["apparent_c"].map(_fmt),
        "Optimism": summary["optimism"].map(_fmt), "Corrected C": summary["corrected_c"].map(_fmt),
        "Apparent calibration slope": summary["apparent_slope"].map(lambda x: _fmt(x, 2)),
        "Corrected calibration slope": summary["corrected_slope"].map(lambda x: _fmt(x, 2)),
        "Resamples": [f"{n}/{n_total}" for n in summary["n_resamples"]]})


def calibration_display(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in summary.itertuples(index=False):
        if r.set == "train":
            continue
        base = {"Model": MODELS[r.model], "Set": SPLIT_LABELS[r.set], "Horizon": f"{r.horizon / 12:g} y"}
        if pd.isna(r.mean_predicted):  # not estimable: the note says why
            rows.append({**base, "Predicted / observed risk": "–", "ICI": "–", "E50": "–", "E90": "–",
                         "Slope": "–", "Note": r.note})
            continue
        rows.append({**base, "Predicted / observed risk": f"{r.mean_predicted:.3f} / {r.observed_km:.3f}",
                     "ICI": _fmt(r.ici), "E50": _fmt(r.e50), "E90": _fmt(r.e90), "Slope": _fmt(r.slope, 2),
                     "Note": r.note if isinstance(r.note, str) else ""})
    return pd.DataFrame(rows)


def centre_calibration_display(summary: pd.DataFrame, model: str) -> pd.DataFrame:
    """The table of :class:`~radsurv.validation.centres.CentreCalibration` for one model: per
    test set and centre and horizon, the primary (unrecalibrated) calibration, then the
    recalibration-in-the-large sensitivity analysis."""
    rows = []
    for r in summary[summary["model"] == model].itertuples(index=False):
        base = {"Set": SPLIT_LABELS.get(r.set, r.set), "Centre": r.centre if r.level == "centre" else f"all ({r.centre})",
                "Horizon": f"{r.horizon / 12:g} y", "Patients": str(int(r.n)), "Events": str(int(r.events_by_horizon))}
        note = r.note if isinstance(r.note, str) else ""
        if pd.isna(r.oe):
            rows.append({**base, "Predicted / observed risk": "–", "O/E (95% CI)": "–", "Slope (95% CI)": "–",
                         "ICI": "–", "Recalibrated predicted risk": "–", "ICI recalibrated": "–",
                         "Note": f"not estimable: {note}"})
            continue
        recal = (f"{r.recalibrated_mean_predicted:.3f} (update at {r.recalibration_horizon / 12:g} y)"
                 if np.isfinite(r.recalibrated_mean_predicted) else "–")
        rows.append({**base, "Predicted / observed risk": f"{r.mean_predicted:.3f} / {r.observed_km:.3f}",
                     "O/E (95% CI)": format_ci(r.oe, r.oe_lower, r.oe_upper),
                     "Slope (95% CI)": format_ci(r.slope, r.slope_lower, r.slope_upper),
                     "ICI": _fmt(r.ici), "Recalibrated predicted risk": recal, "ICI recalibrated": _fmt(r.ici_recalibrated),
                     "Note": note})
    return pd.DataFrame(rows)


def centre_variables(summary: pd.DataFrame, model: str, horizons) -> dict[str, Any]:
    """The final model's calibration per external centre for the paper, one entry per
    horizon: ``centre_calibration_<h>y`` = a list of ``centre, oe, mean_predicted,
    observed, ici, ici_recalibrated, recalibrated, note`` (each centre of the external set
    when it has several, else the set's one centre). Empty when there is no external
    set (the paper then says nothing of it)."""
    d = summary[(summary["model"] == model) & (summary["set"] == "external")]
    if d.empty:
        return {}
    per_centre = d[d["level"] == "centre"]
    d = per_centre if len(per_centre) else d
    out: dict[str, Any] = {}
    for h in horizons:
        rows = []
        for r in d[d["horizon"] == float(h)].itertuples(index=False):
            ok = np.isfinite(r.oe)
            rows.append({"centre": str(r.centre),
                         "oe": format_ci(r.oe, r.oe_lower, r.oe_upper) if ok else "–",
                         "mean_predicted": _fmt(r.mean_predicted), "observed": _fmt(r.observed_km),
                         "ici": _fmt(r.ici), "ici_recalibrated": _fmt(r.ici_recalibrated),
                         "recalibrated": _fmt(r.recalibrated_mean_predicted),
                         "note": "" if ok else (r.note if isinstance(r.note, str) else "")})
        if rows:
            out[f"centre_calibration_{float(h) / 12:g}y"] = rows
    return out


def decision_display(curves: pd.DataFrame, models, thresholds=(0.1, 0.2, 0.3)) -> pd.DataFrame:
    """Net benefit at a few thresholds, per test set and horizon (the figure has the curves)."""
    rows = []
    for (split, h), d in curves.groupby(["set", "horizon"], sort=False):
        if split == "train":
            continue
        for strategy in [*models, "all"]:
            s = d[d["strategy"] == strategy].set_index("threshold")["net_benefit"]
            name = MODELS.get(strategy, "Treat all")
            row = {"Set": SPLIT_LABELS[split], "Horizon": f"{h / 12:g} y", "Strategy": name}
            for th in thresholds:
                near = s.index[np.argmin(np.abs(s.index - th))] if len(s) else None
                row[f"NB at {th:.0%}"] = _fmt(s.loc[near]) if near is not None and abs(near - th) < 1e-9 else "–"
            rows.append(row)
    return pd.DataFrame(rows)


def nomogram_display(nom) -> pd.DataFrame:
    """Points of each axis value (the nomogram in numbers)."""
    rows = []
    for axis in nom.axis_names:
        a = nom.axes[nom.axes["predictor"] == axis]
        vals = [f"{v:g}" if isinstance(v, (int, float, np.floating)) else str(v) for v in a["value"]]
        rows.append({"Axis": axis, "Values": ", ".join(vals),
                     "Points": ", ".join(f"{p:.0f}" for p in a["points"])})
    for lab, f in nom.function_axes.groupby("axis", sort=False):
        rows.append({"Axis": lab, "Values": ", ".join(f"{s:g}" for s in f["survival"]),
                     "Points": ", ".join(f"{p:.0f}" for p in f["points"])})
    return pd.DataFrame(rows)


def validation_variables(opt: pd.DataFrame, calib: pd.DataFrame, curves: pd.DataFrame, corrected: pd.DataFrame,
                         freq: pd.DataFrame, params: Mapping[str, Any], n_ok: int, n_total: int,
                         example: pd.DataFrame | None, fitted=None) -> dict[str, Any]:
    """The ``validation`` variables of the manuscript.

    ``fitted``: the models ``04_models`` fitted (None: every model of ``opt``). A model
    without an optimism row that was not fitted gets an entry of "–" with ``fitted:
    false``, so that the paper's references to it resolve; when the final model is not
    among the fitted ones, ``final_fitted: false`` and its net benefit is not reported.
    """
    final = params["final_model"]
    fitted = list(opt["model"]) if fitted is None and len(opt) else list(fitted or ())
    final_fitted = final in fitted
    v: dict[str, Any] = {"n_resamples": n_total, "n_resamples_used": n_ok, "final_model": model_name(final),
                         "final_model_key": final,
                         "horizons": ", ".join(f"{h / 12:g}" for h in params["horizons_months"])}
    if not final_fitted:   # written only then: the quick profile's variables are unchanged
        v["final_fitted"] = False
    for r in opt.itertuples(index=False):
        v[r.model] = {"apparent_c": _fmt(r.apparent_c), "optimism": _fmt(r.optimism), "corrected_c": _fmt(r.corrected_c),
                      "corrected_slope": _fmt(r.corrected_slope, 2)}
    for key in MODELS:
        if key not in v and key not in fitted:
            v[key] = {"apparent_c": "–", "optimism": "–", "corrected_c": "–", "corrected_slope": "–",
                      "fitted": False}
    for r in calib.itertuples(index=False):
        if r.model != final:
            continue
        key = f"calibration_{r.set}_{r.horizon / 12:g}y"
        v[key] = {"ici": _fmt(getattr(r, "ici", np.nan)), "e50": _fmt(getattr(r, "e50", np.nan)),
                  "e90": _fmt(getattr(r, "e90", np.nan)), "slope": _fmt(getattr(r, "slope", np.nan), 2),
                  "note": r.note if isinstance(r.note, str) else ""}
    for split in ("internal", "external"):
        for h in params["horizons_months"]:
            if not final_fitted:   # no curve of the final model: not "none", which would read as no benefit
                continue
            rng = benefit_range(curves, split, h, final)
            v[f"benefit_{split}_{h / 12:g}y"] = ("none" if rng is None else f"{100 * rng[0]:.0f}%-{100 * rng[1]:.0f}%")
    if len(corrected):
        worst = corrected.loc[(corrected["corrected"] - corrected["predicted"]).abs().idxmax()]
        v["corrected_max_error"] = _fmt(abs(worst["corrected"] - worst["predicted"]))
    if len(freq):
        top = freq[freq["model"] == "clinical"].head(3)
        v["clinical_stability"] = "; ".join(f"{r.label} {100 * r.share:.0f}%" for r in top.itertuples(index=False))
    if example is not None and len(example):
        e = example.iloc[0]
        v["example"] = {"total_points": f"{e['total_points']:.0f}",
                        **{f"dfs_{h / 12:g}y": f"{100 * e[c]:.1f}%" for h, c in
                           zip(params["horizons_months"], [c for c in example.columns if c.endswith("DFS")])}}
    return v


def write_validation_artefacts(ctx: StageContext, inputs: ValidationInputs, calibration: Calibration,
                               decision: DecisionCurves, nomogram: PointsCalculator | NoNomogram, example: pd.DataFrame,
                               optimism: OptimismBootstrap, corrected: pd.DataFrame,
                               frequency: pd.DataFrame, centres: CentreCalibration | None = None) -> dict:
    """Write every declared output of the validation from what the notebook computed.

    Parameters
    ----------
    ctx : StageContext
    inputs : ValidationInputs
        The scored patients (:func:`radsurv.validation.validation_inputs`).
    calibration : Calibration
        :func:`radsurv.validation.calibration_by_set` of every model.
    decision : DecisionCurves
        :func:`radsurv.validation.decision_curves`.
    nomogram : PointsCalculator or NoNomogram
        The final model's nomogram (:func:`radsurv.validation.final_model_nomogram`); a
        :class:`NoNomogram` when the final model was not fitted.
    example : DataFrame
        The calculator's points and DFS of the example patient.
    optimism : OptimismBootstrap
        The bootstrap's resamples.
    corrected : DataFrame
        The final model's bootstrap-corrected calibration curve.
    frequency : DataFrame
        How often each variable was selected (:meth:`OptimismBootstrap.selection_frequency`).
    centres : CentreCalibration, optional
        :func:`radsurv.validation.calibration_by_centre` of every model. None (a caller
        that did not compute it): its CSV keeps its header and its table says so.

    Returns
    -------
    dict
        The ``validation`` variables of the manuscript.

    Notes
    -----
    When ``04_models`` fitted no model, or not the final one (:attr:`ValidationInputs.not_estimable`),
    every declared output is still written: what needs the missing model says why (a
    one-cell table, a figure with the reason), and the variables' ``not_estimable`` list
    carries the reason to the paper.
    """
    from ..plots.style import message_figure
    from ..plots.validation import calibration_figure, decision_figure, nomogram_figure

    params = ctx.params
    final = inputs.final
    keys = list(inputs.models)

    summary = calibration.summary()
    ctx.write_data(summary, "calibration_summary.csv")
    ctx.write_data(calibration.grouped, "calibration_groups.csv")
    ctx.write_data(decision.curves, "decision_curves.csv")
    nomogram.to_json(ctx.path("nomogram.json"))
    ctx.write_data(optimism.resamples, "optimism_resamples.csv")
    opt = optimism.summary()
    ctx.write_data(opt, "optimism.csv")
    if corrected.empty:   # no final model or no curve: the file keeps its header
        corrected = corrected.reindex(columns=["horizon", "predicted", "apparent", "optimism", "corrected",
                                               "n_resamples"])
    ctx.write_data(corrected, "corrected_calibration.csv")
    by_centre = centres.summary() if centres is not None else pd.DataFrame(columns=CENTRE_COLUMNS)
    ctx.write_data(by_centre, "calibration_by_centre.csv")
    ctx.write_data(frequency, "selection_frequency.csv")
    n_total, n_failed = optimism.n_resamples, optimism.n_failed
    why = inputs.not_estimable[0] if inputs.not_estimable else ""

    # ---- tables (nothing to tabulate: the table says why instead of an empty grid)
    ctx.write_table(optimism_display(opt, n_failed, n_total) if keys else _said(why, "Optimism bootstrap"),
                    "optimism_table.md", label="optimism",
                    caption=f"Internal validation by Harrell's optimism bootstrap ({n_total} resamples of the "
                            "training set, each repeating the whole development: feature filters, LASSO-Cox with its "
                            "cross-validation, the multi-modal rule, the Rad-score"
                            + (", the multiple imputation" if inputs.imputer is not None else "")
                            + " and the selection of the models). "
                            "Every C and slope is the deployed model's: each patient scored with the final "
                            "signature's Rad-score"
                            + (" (models 4-6 weigh it on the training patients' pre-validated Rad-scores, so their "
                               "apparent C differs from the training C of the model table and their apparent "
                               "calibration slope is not 1)" if inputs.training_scores == "prevalidated" else "")
                            + ". Apparent = on the training set. Optimism = mean over resamples of the C on the "
                            "resample minus the C of the resample's model on the training set; corrected = apparent "
                            "- optimism. The corrected calibration slope is the apparent slope times the mean over "
                            "resamples of the ratio of the resample's slope on the training set to its slope on the "
                            "resample (1 minus the mean shrinkage when the apparent slopes are 1).")
    ctx.write_table(calibration_display(summary) if keys else _said(why, "Calibration"), "calibration_table.md",
                    label="calibration",
                    caption="Calibration of the predicted DFS in the test sets: mean predicted and Kaplan-Meier "
                            "observed risk of recurrence by the horizon; the integrated calibration index (ICI), "
                            "median (E50) and 90th percentile (E90) of the absolute difference between smoothed "
                            "observed and predicted risk (Cox model on a restricted cubic spline of the "
                            "complementary log-log of the prediction, 3 knots; Austin et al. 2020); and the "
                            "calibration slope (1 = ideal).")
    if not inputs.final_fitted:
        centre_table = _said(why, "Calibration per centre")
    elif centres is None:
        centre_table = _said("calibration per centre was not computed", "Calibration per centre")
    elif not (by_centre["model"] == final).any():
        centre_table = _said("no test set to calibrate the final model in", "Calibration per centre")
    else:
        centre_table = centre_calibration_display(by_centre, final)
    ctx.write_table(centre_table, "calibration_by_centre.md", label="calibration-centre",
                    caption=f"Calibration of the {model_name(final)} per test set and, where a set spans several "
                            "centres, per centre. Primary analysis (the model as developed): mean predicted "
                            "and Kaplan-Meier observed risk of recurrence by the horizon, their ratio O/E (95% CI "
                            "from the Greenwood SE; above 1 the model under-predicts; Debray et al. 2017), the "
                            "calibration slope (95% CI) and the ICI. Sensitivity analysis, "
                            "recalibration-in-the-large (Steyerberg 2019): the training baseline hazard multiplied "
                            "per set or centre by the factor that makes its mean predicted risk equal its observed "
                            "risk at the longest estimable horizon (the update horizon), applied at every "
                            "horizon; it uses the group's own outcomes, so it shows what a local update of the "
                            "intercept would give, not a validation. A group with fewer than "
                            f"{int(params['calibration']['min_events'])} events by the horizon is not estimable.")
    ctx.write_table(decision_display(decision.curves, keys) if keys else _said(why, "Decision curves"),
                    "decision_table.md", label="decision",
                    caption="Net benefit of each model and of treating all at threshold probabilities of 10%, 20% "
                            "and 30% in the test sets (treating none: 0). The curves are in @fig-decision.")
    ctx.write_table(nomogram_display(nomogram.nomogram) if inputs.final_fitted else _said(why, "Nomogram"),
                    "nomogram_table.md", label="nomogram-points",
                    caption=f"The nomogram of the {model_name(final)} in numbers: the points of each axis "
                            "value, and the total points at which the predicted DFS takes each value (as "
                            "rms::nomogram computes them).")

    # ---- figures: the panels the result objects' plot() methods draw
    if inputs.final_fitted:
        calibration_figure(calibration.grouped, calibration.curves, corrected, final, ctx.path("fig-calibration.png"),
                           SPLIT_LABELS, MODELS[final], summary=summary)
        nomogram_figure(nomogram.nomogram, ctx.path("fig-nomogram.png"), MODELS[final])
    else:
        # the figures are the final model's: say which model is missing (the tables keep the fitted ones)
        missing_final = f"The final model ({model_name(final)})\nwas not fitted by 04_models"
        message_figure(ctx.path("fig-calibration.png"), f"No calibration figure:\n{missing_final}")
        message_figure(ctx.path("fig-nomogram.png"), f"No nomogram:\n{missing_final}")
    if keys:
        decision_figure(decision.curves, keys, ctx.path("fig-decision.png"), MODELS, SPLIT_LABELS)
    else:
        message_figure(ctx.path("fig-decision.png"), "No decision curve:\nno model was fitted by 04_models")

    v = validation_variables(opt, summary, decision.curves, corrected, frequency, params, n_total - n_failed,
                             n_total, example, fitted=keys)
    if inputs.final_fitted:
        v.update(centre_variables(by_centre, final, inputs.horizons))
    missing = inputs.not_estimable + unscored_sets(inputs.outcome)
    if keys and "signature" not in keys:   # 04 fits the signature whenever its Rad-score varies
        missing.insert(len(inputs.not_estimable), "the multi-modal radiomics signature's optimism cannot be "
                       "estimated: 04_models did not fit it (its Rad-score selected no feature and is the same for "
                       "every patient)")
    if missing:   # written only when a test set cannot be scored (the paper says which and why)
        v["not_estimable"] = missing
    ctx.write_variables({"validation": v})
    return v

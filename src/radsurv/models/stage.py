"""The models stage (``notebooks/04_models.ipynb``): the six Cox models on the training
set, their hazard ratios, fit, discrimination and comparisons in every set.

The notebook computes, step by step, with the library: the design
(:func:`radsurv.models.design.cohort_design`), the screen and backward elimination
(:mod:`radsurv.models.selection`), the six models (:mod:`radsurv.models.six_models`), their
fit on training (:mod:`radsurv.models.diagnostics`) and their evaluation in every set
(:mod:`radsurv.models.evaluation`). This module only formats and writes:
:func:`write_model_artefacts` takes the computed objects and writes every declared output;
:func:`model_variables` and :func:`complete_model_variables` format the manuscript's
variables, from which the Results paragraph is written when the paper is published
(:mod:`radsurv.manuscript.models`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS, SPLITS, in_sentence
from ..preconditions import model_horizons, unscored_sets
from ..report.formatting import format_ci, format_p
from ..stages.context import StageContext
from .diagnostics import FitStatistics, PHTests
from .evaluation import Comparisons, Discrimination, PublishedComparison, TdRocCurves
from .six_models import MODELS, SixModels, model_name
from .training_scores import TRAINING_SCORE_COLUMNS, WAYS, TrainingScoreComparison

__all__ = ["complete_model_variables", "missing_data_variables", "model_variables", "write_model_artefacts"]


def hazard_ratio_display(hr: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"Model": hr["model"].map(MODELS).where(~hr["model"].duplicated(), ""),
                         "Covariate": hr["label"],
                         "HR (95% CI)": [format_ci(r.hr, r.hr_lower, r.hr_upper) for r in hr.itertuples()],
                         "P": hr["p"].map(format_p)})


def discrimination_display(disc: pd.DataFrame, horizons) -> pd.DataFrame:
    rows = []
    for key in MODELS:
        for s in SPLITS:
            d = disc[(disc["model"] == key) & (disc["set"] == s)]
            if d.empty:
                continue
            hc = d[d["measure"] == "harrell_c"].iloc[0]
            row = {"Model": MODELS[key], "Set": SPLIT_LABELS[s],
                   "C (95% CI)": format_ci(hc.estimate, hc.lower, hc.upper),
                   "Uno C": f"{d[d['measure'] == 'uno_c']['estimate'].iloc[0]:.2f}"}
            for h in horizons:
                a = d[(d["measure"] == "td_auc") & (d["horizon"] == h)]
                row[f"AUC {h / 12:g} y (95% CI)"] = (format_ci(*a[["estimate", "lower", "upper"]].iloc[0]) if len(a)
                                                     else "–")
            rows.append(row)
    return pd.DataFrame(rows)


def comparison_display(comp: pd.DataFrame, reference: str) -> pd.DataFrame:
    rows = []
    for r in comp.itertuples(index=False):
        if r.set == "train":
            continue
        what = {"ipcw_td_auc": f"IPCW AUC {r.horizon / 12:g} y", "delong": f"DeLong AUC {r.horizon / 12:g} y",
                "bootstrap_c": "Harrell's C (paired bootstrap)"}[r.test]
        ci = "–" if not np.isfinite(r.lower) else f"{r.lower:.3f} to {r.upper:.3f}"
        rows.append({"Model": MODELS[r.model], "Set": SPLIT_LABELS[r.set], "Measure": what,
                     "Model value": f"{r.value_model:.3f}", f"{MODELS[reference]}": f"{r.value_reference:.3f}",
                     "Difference (95% CI)": f"{r.delta:.3f} ({ci})" if ci != "–" else f"{r.delta:.3f}",
                     "P": format_p(r.p)})
    return pd.DataFrame(rows)


#: How the Rad-score's added value was tested (:meth:`SixModels.likelihood_ratio_tests`).
_TEST_NAMES = {"lr": "LR", "pooled_wald": "pooled Wald"}


def fit_display(fits: pd.DataFrame, lr: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in fits.itertuples(index=False):
        test = lr[lr["model"] == r.model]
        rows.append({"Model": MODELS[r.model], "Patients / events": f"{r.n} / {r.events}", "Parameters": r.df,
                     "Events per parameter": f"{r.epv:.1f}", "AIC": f"{r.aic:.1f}", "BIC": f"{r.bic:.1f}",
                     "PH test, global p": format_p(getattr(r, "ph_global_p", np.nan)),
                     "Rad-score added": (f"{_TEST_NAMES[test['test'].iloc[0]]} χ² {test['chisq'].iloc[0]:.1f}, "
                                         f"p {format_p(test['p'].iloc[0])}" if len(test) else "")})
    return pd.DataFrame(rows)


def training_scores_display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison of the training Rad-scores as the paper prints it: per model and way,
    the Rad-score's HR (95% CI) and p, the test of what it adds, and Harrell's C per set."""
    rows = []
    for r in table.itertuples(index=False):
        c = {f"{SPLIT_LABELS[s]} C (95% CI)": ("–" if not np.isfinite(getattr(r, f"c_{s}")) else
                                               format_ci(getattr(r, f"c_{s}"), getattr(r, f"c_{s}_lower"),
                                                         getattr(r, f"c_{s}_upper"))) for s in SPLITS}
        added = (f"{_TEST_NAMES[r.added_test]} χ² {r.added_chisq:.1f}, p {format_p(r.added_p)}" if r.added_test
                 else "–")
        rows.append({"Training Rad-score": WAYS[r.way], "Model": MODELS[r.model],
                     "Rad-score HR (95% CI)": format_ci(r.hr, r.hr_lower, r.hr_upper), "P": format_p(r.p),
                     "Rad-score added": added, **c})
    return pd.DataFrame(rows)


def missing_data_variables(six: SixModels, missing: pd.DataFrame, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``models.missing`` variables: how missing values were handled, what was missing
    in each set, and the training patients each model kept (with complete values, and in
    all), from which :func:`radsurv.manuscript.models.missing_data` writes the Methods.

    Parameters
    ----------
    six : SixModels
    missing : DataFrame
        :func:`radsurv.models.imputation.missing_values` (every patient).
    settings : mapping
        The profile's ``models`` section.
    """
    imputer = six.imputer
    v: dict[str, Any] = {"method": "multiple_imputation" if imputer is not None else "complete_case",
                         "setting": str(settings.get("missing", "auto"))}
    if imputer is not None:
        v.update(m=int(imputer.m), max_iter=int(imputer.max_iter), donors=int(imputer.donors))
    sets = [s for s in SPLITS if f"n_{s}" in missing.columns]
    v["variables"] = [
        {"label": r["label"], **{s: f"{int(r[f'missing_{s}'])}/{int(r[f'n_{s}'])}, "
                                   f"{100 * r[f'missing_{s}'] / max(int(r[f'n_{s}']), 1):.0f}%" for s in sets}}
        for _, r in missing.iterrows()]
    v["models"] = {k: {"label": MODELS[k], "n": int(m.fit_.n), "complete": int(getattr(m, "n_complete_", m.fit_.n)),
                       "left_out": int(getattr(m, "n_excluded_", 0))} for k, m in six.models.items()}
    return v


def model_variables(six: SixModels, disc: pd.DataFrame, comp: pd.DataFrame, fits: pd.DataFrame,
                    lr: pd.DataFrame, pub: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``models`` variables of the manuscript (strings formatted once, here)."""
    v: dict[str, Any] = {"screen_p": f"{params['screen_p']:g}" if params["screen_p"] is not None else "none",
                         "horizons": ", ".join(f"{h / 12:g}" for h in params["horizons_months"]),
                         "reference": MODELS[params["reference"]], "n_bootstrap": int(params["n_bootstrap"])}
    for key, model in six.models.items():
        names = [six.labels.get(var, var) for var in model.variables]
        entry: dict[str, Any] = {"label": MODELS[key], "variables": "; ".join(names),
                                 "n_variables": len(model.variables), "df": model.df}
        f = fits[fits["model"] == key].iloc[0]
        entry.update(aic=f"{f.aic:.1f}", bic=f"{f.bic:.1f}", epv=f"{f.epv:.1f}")
        for s in SPLITS:
            d = disc[(disc["model"] == key) & (disc["set"] == s) & (disc["measure"] == "harrell_c")]
            if len(d):
                entry[f"c_{s}"] = f"{d['estimate'].iloc[0]:.3f}"
                entry[f"c_{s}_ci"] = f"{d['lower'].iloc[0]:.3f}-{d['upper'].iloc[0]:.3f}"
        p = pub[pub["model"] == key]
        if len(p) and "recovery_external" in p:
            rec = p["recovery_external"].iloc[0]
            entry["recovery_external_pct"] = f"{100 * rec:.0f}" if np.isfinite(rec) else "–"
        v[key] = entry
    for r in lr.itertuples(index=False):
        v[r.model]["lr_p"] = format_p(r.p)
        v[r.model]["lr_chisq"] = f"{r.chisq:.1f}"
        v[r.model]["lr_test"] = r.test
    ref = params["reference"]
    for r in comp[(comp["test"] == "ipcw_td_auc") & (comp["set"] == "external")].itertuples(index=False):
        v.setdefault(r.model, {})[f"ipcw_p_external_{r.horizon / 12:g}y"] = format_p(r.p)
    for r in comp[(comp["test"] == "bootstrap_c") & (comp["set"] == "external")].itertuples(index=False):
        v.setdefault(r.model, {}).update(boot_delta_external=f"{r.delta:.3f}", boot_p_external=format_p(r.p))
    v["reference_key"] = ref
    v["radscore_constant"] = bool(six.radscore_constant)
    return v


def complete_model_variables(v: dict[str, Any], oracle: Mapping[str, float] | None) -> dict[str, Any]:
    """:func:`model_variables` as the stage writes them: with the oracle's external C
    (``oracle_c_external``, the twin only) and an entry for every model, ``fitted`` or
    not. A model with no variable (nothing passed the screen, e.g. a user's cohort with
    few clinical columns) is not fitted; the paper's references to it still resolve, and
    the Results paragraph leaves it out (``fitted: false``). Completes ``v`` in place."""
    if oracle is not None:
        v["oracle_c_external"] = f"{oracle['external']:.3f}"
    for key in MODELS:
        if key in v:
            v[key]["fitted"] = True
            for s in SPLITS:   # a set without patients or events: the paper's references still resolve
                v[key].setdefault(f"c_{s}", "–")
                v[key].setdefault(f"c_{s}_ci", "not estimable")
        else:
            v[key] = {"label": MODELS[key], "variables": "", "n_variables": 0, "df": 0, "fitted": False,
                      **{f"c_{s}": "–" for s in SPLITS}, **{f"c_{s}_ci": "no variable selected" for s in SPLITS}}
    return v


def write_model_artefacts(ctx: StageContext, outcome: pd.DataFrame, scores: pd.DataFrame, six: SixModels,
                          baseline: pd.DataFrame, ph: PHTests, fit: FitStatistics, discrimination: Discrimination,
                          comparisons: Comparisons, published: PublishedComparison, roc: TdRocCurves,
                          missing: pd.DataFrame, training_scores: TrainingScoreComparison | None = None,
                          unobserved: Sequence[str] = ()) -> dict:
    """Write every declared output of the computed results; returns the variables.

    Parameters
    ----------
    ctx : StageContext
    outcome : DataFrame
        ``split``, ``time``, ``event`` of the design's patients.
    scores : DataFrame
        :meth:`SixModels.scores` of the design's patients.
    six : SixModels
    baseline : DataFrame
        :func:`radsurv.models.diagnostics.baseline_survival`.
    ph : PHTests
    fit : FitStatistics
    discrimination : Discrimination
    comparisons : Comparisons
    published : PublishedComparison
    roc : TdRocCurves
    missing : DataFrame
        :func:`radsurv.models.imputation.missing_values` of every patient.
    unobserved : sequence of str
        Declared variables without any training value, left out of the candidates
        (:func:`radsurv.models.design.unobserved_candidates`); the paper says so.
    training_scores : TrainingScoreComparison, optional
        :func:`radsurv.models.compare_training_scores`: models 5 and 6 on pre-validated
        training Rad-scores beside the study's resubstitution way. None (a caller that
        developed one way only): the data file has no row and the table says so.
    """
    from ..labels import SPLIT_LABELS as SETS
    from ..plots.models import c_index_figure, forest_figure, td_roc_figure
    from ..plots.style import message_figure

    params = ctx.params
    ctx.write_data(pd.concat([outcome[["split"]], scores], axis=1).reset_index(), "model_scores.csv")
    ctx.write_data(six.selection_table(), "selection.csv")
    hr = six.hazard_ratios()
    ctx.write_data(hr, "hazard_ratios.csv")
    # Twelve digits: S0(t) is raised to exp(lp) by the points calculator and read back by 05.
    ctx.write_data(baseline, "baseline_survival.csv", float_format="%.12g")
    if ph.tables:
        ctx.write_data(ph.table(), "ph_tests.csv")
    fits, lr = fit.table, fit.lr
    ctx.write_data(fits, "fit_statistics.csv")
    ctx.write_data(fit.collinearity, "collinearity.csv")
    disc, comp, horizons = discrimination.table, comparisons.table, discrimination.horizons
    ctx.write_data(disc, "discrimination.csv")
    ctx.write_data(comp, "comparisons.csv")
    pub, oracle = published.table, published.oracle
    ctx.write_data(pub, "published_comparison.csv")
    ctx.write_data(missing, "missing_values.csv")
    ts = training_scores.table if training_scores is not None else pd.DataFrame(columns=TRAINING_SCORE_COLUMNS)
    ctx.write_data(ts, "radscore_training_scores.csv")

    def shown(table: pd.DataFrame) -> pd.DataFrame:
        # no model fitted: each table says why instead of an empty grid
        return table if six.models else pd.DataFrame({"Models": [why[0].upper() + why[1:] + "."]})

    why = no_model_reason(six)
    imputed = six.imputer is not None
    ctx.write_table(shown(hazard_ratio_display(hr)), "hazard_ratios.md", label="hazard-ratios",
                    caption="Hazard ratios (95% CI) of the six Cox models, fitted on the training set (Efron ties; "
                            + ("pooled over the imputations by Rubin's rules, t-based CI and p with Barnard-Rubin "
                               "degrees of freedom" if imputed else "Wald p")
                            + "). Categorical variables against their first category.")
    ctx.write_table(shown(fit_display(fits, lr)), "fit_table.md", label="model-fit",
                    caption="Fit of the six models on the training set: patients and events, parameters and events "
                            "per parameter, AIC and BIC (events as the sample size, R's convention), the global "
                            "proportional-hazards test (Schoenfeld residuals, Kaplan-Meier time scale) and the "
                            + ("test of the Rad-score added to the nested clinical models (the pooled Wald test: "
                               "likelihoods of imputed data sets do not pool). With multiple imputation, AIC and BIC "
                               "are means over the imputations and the PH p the median." if imputed else
                               "likelihood-ratio test (LR) of the Rad-score added to the nested clinical models."))
    ctx.write_table(shown(discrimination_display(disc, horizons)), "discrimination_table.md",
                    label="model-discrimination",
                    caption="Discrimination of the six models in each set: Harrell's C (95% CI), Uno's C "
                            f"(truncated at {params['uno_tau_months']:g} months) and the IPCW time-dependent AUC at "
                            "each horizon (95% CI).")
    ctx.write_table(shown(comparison_display(comp, params["reference"])), "comparisons_table.md",
                    label="model-comparisons",
                    caption=f"Each model against the {model_name(params['reference'])} in the test sets: the "
                            "difference of IPCW time-dependent AUCs (the censoring-correct primary test), DeLong's "
                            "test at each horizon on the patients whose status at that time is known (the study's "
                            f"method, shown for comparison), and a paired bootstrap ({params['n_bootstrap']} "
                            "resamples) CI of the difference in Harrell's C. Differences are reference minus model.")
    pub_show = pd.DataFrame({
        "Model": pub["model"].map(MODELS),
        **{f"{SETS[s]} C": pub[f"c_{s}"].map(lambda x: f"{x:.3f}") for s in ("internal", "external")},
        **{f"{SETS[s]} C, study": pub[f"published_{s}"].map(lambda x: "–" if x is None or pd.isna(x) else f"{x:.3f}")
           for s in ("internal", "external")},
    })
    if oracle is not None:
        pub_show["Oracle C, external"] = f"{oracle['external']:.3f}"
        pub_show["Share of the oracle's gain recovered, external"] = pub["recovery_external"].map(
            lambda x: "–" if not np.isfinite(x) else f"{100 * x:.0f}%")
    ctx.write_table(shown(pub_show), "published_table.md", label="published",
                    caption="The six models' C-indices beside the published study's (quoted, labelled as the "
                            "study's) and, for the simulated cohort, the oracle (the true linear predictor) and the "
                            "share of the oracle's gain over the clinical model that each model recovers on the "
                            "external set.")

    ts_why = ("The models were developed one way only; no comparison was made." if training_scores is None else
              "No model with the Rad-score was fitted (the Rad-score is the same for every training patient), so "
              "there is no Rad-score weight to compare.")
    ctx.write_table(training_scores_display(ts) if len(ts) else pd.DataFrame({"Training Rad-score": [ts_why]}),
                    "radscore_training_scores.md", label="radscore-training",
                    caption="The Rad-score models developed on each training patient's pre-validated Rad-score "
                            "(the cross-validation fit that did not see the patient; the primary analysis) and on "
                            "the final signature's own training Rad-score (resubstitution, the study's way): the "
                            "Rad-score's hazard ratio per unit (95% CI, "
                            + ("pooled over the imputations" if imputed else "Wald") + "), the test of the "
                            "Rad-score added to the nested clinical model, and Harrell's C (95% CI) per set. The "
                            "test sets are scored by the same final signature either way; the training C of the "
                            "primary models is measured on the pre-validated Rad-scores.")

    if six.models:
        forest_figure(six, ctx.path("fig-forest.png"))
        c_index_figure(published, ctx.path("fig-c-models.png"))
        td_roc_figure(roc, ctx.path("fig-td-roc.png"))
    else:   # nothing to draw: every declared figure says why (and every table, above)
        for name in ("fig-forest.png", "fig-c-models.png", "fig-td-roc.png"):
            message_figure(ctx.path(name), "No model was fitted:\nno variable was selected")

    v = complete_model_variables(model_variables(six, disc, comp, fits, lr, pub, params), oracle)
    v["missing"] = missing_data_variables(six, missing, params)
    if training_scores is not None:
        v["training_scores"] = training_scores.variables()
    missing = [why] if not six.models else []
    labels = ctx.profile["cohort"]["labels"]
    missing += [f"{labels.get(c, c)} had no value in the training set and was not a candidate variable"
                for c in unobserved]
    missing += unscored_sets(outcome) + [m.message for m in model_horizons(outcome, ctx.profile)]
    if missing:   # written only when something could not be estimated (the paper says what and why)
        v["not_estimable"] = missing
    ctx.write_variables({"models": v})
    return v


def no_model_reason(six: SixModels) -> str:
    """Why no model was fitted (every model needs a variable)."""
    parts = ["no clinical or MRI variable passed the univariable screen and the backward elimination"]
    if six.radscore_constant:
        parts.append("the multi-modal Rad-score selected no feature and is the same for every patient")
    return "no model could be fitted: " + ", and ".join(parts)

"""The models stage (``notebooks/04_models.ipynb``): the six Cox models on the training
set, their hazard ratios, fit, discrimination and comparisons in every set.

Reading: the design (:func:`radsurv.models.design.cohort_design`) and the outcomes
(:func:`radsurv.cohort.manifest.cohort_outcomes`). Computing:
:func:`hazard_ratio_table`, :func:`fit_table`, :func:`collinearity`,
:func:`published_comparison`, :func:`model_variables`, :func:`describe_models`; the models
themselves are in :mod:`radsurv.models.six_models` and their evaluation in
:mod:`radsurv.models.evaluation`; writing: :func:`write_model_artefacts`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..cohort.manifest import cohort_outcomes
from ..labels import SPLIT_LABELS, SPLITS, in_sentence
from ..report.formatting import format_ci, format_p
from ..seeds import STREAM_MODEL_COMPARISON
from ..stages.context import StageContext
from ..stages.readers import CohortOutputs
from ..stats import harrell_c
from .design import Design, cohort_design
from .evaluation import model_comparisons, model_discrimination
from .six_models import MODELS, SixModels, develop_models, model_name

__all__ = ["baseline_survival", "collinearity", "describe_models", "fit_table", "hazard_ratio_table",
           "model_variables", "published_comparison", "write_model_artefacts"]


def hazard_ratio_table(six: SixModels, design: Design) -> pd.DataFrame:
    """Every model's covariates: coefficient, HR with 95% CI and Wald p (training fits)."""
    rows = []
    for key, model in six.models.items():
        f = model.fit_
        for term in f.coef.index:
            rows.append({"model": key, "term": term, "label": design.labels.get(term, term),
                         "coef": float(f.coef[term]), "hr": float(f.hr[term]), "hr_lower": float(f.hr_lower[term]),
                         "hr_upper": float(f.hr_upper[term]), "p": float(f.p[term])})
    return pd.DataFrame(rows)


def baseline_survival(six: SixModels, horizons) -> pd.DataFrame:
    """Each model's baseline at its centred linear predictor: S0(t) such that a patient's
    predicted DFS is S0(t) ** exp(score) (score = the centred linear predictor), from the
    Cox fit's baseline cumulative hazard (R's ``survfit(fit)``, Efron: ctype 2).

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
    return pd.DataFrame(rows)


def fit_table(six: SixModels, ph: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Per model on training: patients, events, parameters, events per parameter, log
    partial likelihood, AIC, BIC (events as R's ``nobs``) and, when given, the global
    proportional-hazards p."""
    rows = []
    for key, model in six.models.items():
        f = model.fit_
        row = {"model": key, "n": f.n, "events": f.n_events, "df": len(f.coef),
               "epv": f.n_events / len(f.coef), "loglik": f.loglik, "aic": f.aic, "bic": f.bic}
        if ph is not None and key in ph:
            row["ph_global_p"] = float(ph[key].loc["GLOBAL", "p"])
        rows.append(row)
    return pd.DataFrame(rows)


def collinearity(design: Design, six: SixModels) -> pd.DataFrame:
    """Variance inflation factors of the covariates of the models with the Rad-score, and
    the Rad-score's correlation with the clinical models' linear predictors (training)."""
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
    return pd.DataFrame(rows)


def published_comparison(disc: pd.DataFrame, oracle: Mapping[str, float] | None,
                         published: Mapping[str, Mapping[str, float | None]]) -> pd.DataFrame:
    """Each model's C per test set beside the study's published values and the oracle, with
    the share of the oracle's gain over the clinical model that the model recovers on the
    external set: (C_model - C_clinical) / (C_oracle - C_clinical)."""
    c = disc[disc["measure"] == "harrell_c"].set_index(["model", "set"])["estimate"]
    rows = []
    for key in MODELS:
        if (key, "external") not in c.index:
            continue
        row = {"model": key}
        for s in ("internal", "external"):
            row[f"c_{s}"] = float(c.get((key, s), np.nan))
            row[f"published_{s}"] = (published.get(key) or {}).get(s)
        if oracle is not None and ("clinical", "external") in c.index:
            gain = oracle["external"] - c[("clinical", "external")]
            row["oracle_external"] = oracle["external"]
            row["recovery_external"] = ((c[(key, "external")] - c[("clinical", "external")]) / gain
                                        if abs(gain) > 1e-9 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


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


def fit_display(fits: pd.DataFrame, lr: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in fits.itertuples(index=False):
        test = lr[lr["model"] == r.model]
        rows.append({"Model": MODELS[r.model], "Patients / events": f"{r.n} / {r.events}", "Parameters": r.df,
                     "Events per parameter": f"{r.epv:.1f}", "AIC": f"{r.aic:.1f}", "BIC": f"{r.bic:.1f}",
                     "PH test, global p": format_p(getattr(r, "ph_global_p", np.nan)),
                     "Rad-score added (LR test)": (f"χ² {test['chisq'].iloc[0]:.1f}, p {format_p(test['p'].iloc[0])}"
                                                   if len(test) else "")})
    return pd.DataFrame(rows)


def complete_case_text(six: SixModels) -> str:
    """One sentence on the training patients each model left out for a missing value."""
    left = {MODELS[k]: int(getattr(m, "n_excluded_", 0)) for k, m in six.models.items()}
    if not any(left.values()):
        return "No training patient had a missing value in a model's variables."
    parts = [f"{in_sentence(name)} {n}" for name, n in left.items() if n]
    return ("Each model was fitted on the training patients with complete values of its variables (no imputation); "
            f"patients left out: {'; '.join(parts)}.")


def model_variables(six: SixModels, design: Design, disc: pd.DataFrame, comp: pd.DataFrame, fits: pd.DataFrame,
                    lr: pd.DataFrame, pub: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``models`` variables of the manuscript."""
    v: dict[str, Any] = {"screen_p": f"{params['screen_p']:g}" if params["screen_p"] is not None else "none",
                         "horizons": ", ".join(f"{h / 12:g}" for h in params["horizons_months"]),
                         "reference": MODELS[params["reference"]], "n_bootstrap": int(params["n_bootstrap"])}
    for key, model in six.models.items():
        names = [design.labels.get(var, var) for var in model.variables]
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
    v["complete_cases"] = complete_case_text(six)
    for r in lr.itertuples(index=False):
        v[r.model]["lr_p"] = format_p(r.p)
        v[r.model]["lr_chisq"] = f"{r.chisq:.1f}"
    ref = params["reference"]
    for r in comp[(comp["test"] == "ipcw_td_auc") & (comp["set"] == "external")].itertuples(index=False):
        v.setdefault(r.model, {})[f"ipcw_p_external_{r.horizon / 12:g}y"] = format_p(r.p)
    for r in comp[(comp["test"] == "bootstrap_c") & (comp["set"] == "external")].itertuples(index=False):
        v.setdefault(r.model, {}).update(boot_delta_external=f"{r.delta:.3f}", boot_p_external=format_p(r.p))
    v["reference_key"] = ref
    v["radscore_constant"] = bool(six.radscore_constant)
    return v


def describe_models(v: Mapping[str, Any], oracle: Mapping[str, float] | None,
                    published: Mapping[str, Mapping[str, float | None]]) -> str:
    """The Results paragraph on the six models."""
    def c(key, s):
        e = v.get(key, {})
        return f"{e.get(f'c_{s}', '–')} ({e.get(f'c_{s}_ci', '–')})"

    text = (f"The clinical model kept {v.get('clinical', {}).get('variables') or 'no variable'}; the traditional MRI model kept "
            f"{v.get('mri', {}).get('variables') or 'no variable'}; their combination "
            f"{v.get('clinical_mri', {}).get('variables') or 'no variable'} (@tbl-hazard-ratios, @fig-forest). ")
    constant = bool(v.get("radscore_constant"))
    if constant:
        # No Rad-score to add: models 5 and 6 are models 1 and 3, and there is no model 4
        text += ("The multi-modal Rad-score selected no feature and is the same for every patient, so there is no "
                 "radiomics signature model, and the radiomics and clinical imaging models are the clinical and the "
                 "clinical + MRI models. On the external test set the C-index was "
                 f"{c('clinical', 'external')} for the clinical model and {c('imaging', 'external')} for the "
                 "clinical imaging model (@tbl-model-discrimination, @fig-c-models).")
    else:
        text += (f"On the external test set the C-index was {c('clinical', 'external')} for the clinical model, "
                 f"{c('signature', 'external')} for the multi-modal radiomics signature, {c('radiomics', 'external')} "
                 f"for the radiomics model and {c('imaging', 'external')} for the clinical imaging model "
                 "(@tbl-model-discrimination, @fig-c-models).")
    ext = {k: float(e["c_external"]) for k, e in v.items() if isinstance(e, dict) and "c_external" in e}
    if "imaging" in ext and not constant:
        best = max(ext, key=ext.get)
        if ext["imaging"] >= ext[best]:  # a tie is not "unlike the study"
            text += " The clinical imaging model had the highest external C of the six, as in the study."
        else:
            b = v[best]
            text += (f" Unlike the study, the {model_name(best)} had a higher external C than the clinical "
                     f"imaging model (difference in C, clinical imaging model minus it, "
                     f"{b.get('boot_delta_external', '–')}; paired bootstrap p "
                     f"{b.get('boot_p_external', '–')}).")
    if "imaging" in v and "lr_p" in v["imaging"] and not constant:
        p = v["imaging"]["lr_p"]
        significant = p.startswith("<") or (p != "–" and float(p) < 0.05)
        verb = "improved" if significant else "did not significantly improve"
        text += (f" Adding the Rad-score to the clinical and MRI variables {verb} the training fit (likelihood-ratio "
                 f"test p {p}).")
    if oracle is not None:
        text += (f" The true linear predictor of the simulation reaches {oracle['external']:.3f} on the external set; "
                 f"the clinical imaging model recovers {v['imaging'].get('recovery_external_pct', '–')}% of its gain "
                 "over the clinical model (@tbl-published).")
    pub = (published.get("imaging") or {}).get("external")
    if pub is not None:
        text += f" The study reported {pub:.3f} for its clinical imaging model on the external set."
    return text + "\n"


def write_model_artefacts(ctx: StageContext, cohort: CohortOutputs, radscores: pd.DataFrame) -> dict:
    """Develop the six models and write every declared output. Returns the variables."""
    from ..labels import SPLIT_LABELS as SETS
    from ..plots.models import c_index_figure, forest_figure, td_roc_figure
    from ..stages.readers import read_oracle
    from ..stats import cox_zph, td_roc_curve

    params = ctx.params
    columns, labels = ctx.profile["cohort"]["columns"], ctx.profile["cohort"]["labels"]
    design, clinical, mri = cohort_design(cohort.data, radscores, columns, labels)
    outcome = cohort_outcomes(cohort.data, design.X.index, ctx.profile["time_unit"])
    train = (outcome["split"] == "train").to_numpy()
    with ctx.timed("selection and fits (training)"):
        six = develop_models(design.subset(design.X.index[train]), clinical, mri, outcome.loc[train, "time"],
                             outcome.loc[train, "event"], screen_p=params["screen_p"], ties=params["ties"])
    scores = six.scores(design)
    pd.concat([outcome[["split"]], scores], axis=1).reset_index().to_csv(
        ctx.path("model_scores.csv"), index=False, lineterminator="\n", float_format="%.10g")
    keys = list(six.models)
    selection = pd.concat([s.assign(model=k) for k, s in six.screens.items()], ignore_index=True)
    selection["selected"] = [v in six.models[m].variables if m in six.models else False
                             for v, m in zip(selection["variable"], selection["model"])]
    selection.to_csv(ctx.path("selection.csv"), index=False, lineterminator="\n", float_format="%.10g")

    hr = hazard_ratio_table(six, design)
    hr.to_csv(ctx.path("hazard_ratios.csv"), index=False, lineterminator="\n", float_format="%.10g")
    baseline_survival(six, [float(h) for h in params["horizons_months"]]).to_csv(
        ctx.path("baseline_survival.csv"), index=False, lineterminator="\n", float_format="%.12g")
    lr = six.likelihood_ratio_tests()
    ph = {}
    for k, m in six.models.items():
        if m.fit_.monotone:  # an infinite coefficient has no Schoenfeld residual test
            print(f"model {k}: no proportional-hazards test; coefficient(s) {', '.join(m.fit_.monotone)} may be "
                  "infinite (monotone likelihood)")
            continue
        X = design.subset(design.X.index[train]).X[list(m.fit_.coef.index)]
        ok = X.notna().all(axis=1).to_numpy()
        ph[k] = cox_zph(X[ok], outcome.loc[train, "time"].to_numpy()[ok], outcome.loc[train, "event"].to_numpy()[ok],
                        transform="km", fit=m.fit_)
    if ph:
        pd.concat([t.assign(model=k) for k, t in ph.items()]).rename_axis("term").reset_index().to_csv(
            ctx.path("ph_tests.csv"), index=False, lineterminator="\n", float_format="%.10g")
    fits = fit_table(six, ph)
    fits.to_csv(ctx.path("fit_statistics.csv"), index=False, lineterminator="\n", float_format="%.10g")
    collinearity(design.subset(design.X.index[train]), six).to_csv(ctx.path("collinearity.csv"), index=False,
                                                                   lineterminator="\n", float_format="%.10g")

    horizons = [float(h) for h in params["horizons_months"]]
    with ctx.timed("discrimination and comparisons"):
        disc = model_discrimination(scores, outcome, keys, horizons, params["uno_tau_months"])
        disc.to_csv(ctx.path("discrimination.csv"), index=False, lineterminator="\n", float_format="%.10g")
        comp = model_comparisons(scores, outcome, keys, params["reference"], horizons, params["n_bootstrap"],
                                 [ctx.seed, STREAM_MODEL_COMPARISON])
        comp.to_csv(ctx.path("comparisons.csv"), index=False, lineterminator="\n", float_format="%.10g")
    eta = read_oracle(ctx.build_dir)  # the oracle row only
    oracle = None
    if eta is not None:
        oracle = {}
        for s in ("internal", "external"):
            sel = (outcome["split"] == s).to_numpy()
            oracle[s] = harrell_c(outcome.loc[sel, "time"], outcome.loc[sel, "event"],
                                  eta.reindex(outcome.index[sel]).to_numpy()).c
    pub = published_comparison(disc, oracle, params["published_c"])
    pub.to_csv(ctx.path("published_comparison.csv"), index=False, lineterminator="\n", float_format="%.10g")

    ctx.write_table(hazard_ratio_display(hr), "hazard_ratios.md", label="hazard-ratios",
                    caption="Hazard ratios (95% CI) of the six Cox models, fitted on the training set (Efron ties; "
                            "Wald p). Categorical variables against their first category.")
    ctx.write_table(fit_display(fits, lr), "fit_table.md", label="model-fit",
                    caption="Fit of the six models on the training set: patients and events, parameters and events "
                            "per parameter, AIC and BIC (events as the sample size, R's convention), the global "
                            "proportional-hazards test (Schoenfeld residuals, Kaplan-Meier time scale) and the "
                            "likelihood-ratio test of the Rad-score added to the nested clinical models.")
    ctx.write_table(discrimination_display(disc, horizons), "discrimination_table.md", label="model-discrimination",
                    caption="Discrimination of the six models in each set: Harrell's C (95% CI), Uno's C "
                            f"(truncated at {params['uno_tau_months']:g} months) and the IPCW time-dependent AUC at "
                            "each horizon (95% CI).")
    ctx.write_table(comparison_display(comp, params["reference"]), "comparisons_table.md", label="model-comparisons",
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
    ctx.write_table(pub_show, "published_table.md", label="published",
                    caption="The six models' C-indices beside the published study's (quoted, labelled as the "
                            "study's) and, for the simulated cohort, the oracle (the true linear predictor) and the "
                            "share of the oracle's gain over the clinical model that each model recovers on the "
                            "external set.")

    forest_figure(hr.assign(term=hr["label"]), ctx.path("fig-forest.png"), MODELS)
    hc = disc[disc["measure"] == "harrell_c"]
    reference = {}
    if oracle is not None:
        reference["Oracle (true linear predictor)"] = oracle
    pub_imaging = params["published_c"].get("imaging") or {}
    if any(v is not None for v in pub_imaging.values()):
        reference["Published clinical imaging model"] = {k: v for k, v in pub_imaging.items() if v is not None}
    c_index_figure(hc, ctx.path("fig-c-models.png"), keys, MODELS, SPLIT_LABELS, reference)
    curves, aucs = {}, {}
    roc_horizons = [h for h in horizons if h >= 36] or horizons[-1:]
    for s in ("internal", "external"):
        sel = (outcome["split"] == s).to_numpy()
        for h in roc_horizons:
            per, auc = {}, {}
            for k in keys:
                ok = sel & scores[k].notna().to_numpy()
                try:
                    per[k] = td_roc_curve(outcome.loc[ok, "time"], outcome.loc[ok, "event"], scores.loc[ok, k], h)
                except ValueError:
                    continue
                a = disc[(disc["model"] == k) & (disc["set"] == s) & (disc["measure"] == "td_auc") &
                         (disc["horizon"] == h)]
                if len(a):
                    auc[k] = float(a["estimate"].iloc[0])
            curves[(s, h)], aucs[(s, h)] = per, auc
    td_roc_figure(curves, ctx.path("fig-td-roc.png"), MODELS, SPLIT_LABELS, aucs)

    v = model_variables(six, design, disc, comp, fits, lr, pub, params)
    ctx.write_text("text-models.md", describe_models(v, oracle, params["published_c"]))
    for key in MODELS:
        # A model with no variable (nothing passed the screen, e.g. a user's cohort with
        # few clinical columns) is not fitted; the paper's references to it still resolve.
        if key not in v:
            v[key] = {"label": MODELS[key], "variables": "", "n_variables": 0, "df": 0,
                      **{f"c_{s}": "–" for s in SPLITS}, **{f"c_{s}_ci": "no variable selected" for s in SPLITS}}
    ctx.write_variables({"models": v})
    return v

"""The signatures stage (``notebooks/03_signatures.ipynb``): from the four regions'
feature matrices to seven Rad-scores, their discrimination and their risk groups.

Seven signatures, each developed on the training set only (:mod:`radsurv.signatures.signature`):
US intra-tumoral, US peri-tumoral, MRI intra-tumoral, MRI peri-tumoral, US (intra + peri),
MRI (intra + peri) and multi-modal (all four regions). The multi-modal signature is built
two ways: LASSO on the four regions' features together (``union``), and a Cox model on
the four regional Rad-scores (``stacked``). Which one feeds the models is the profile's
choice; ``auto`` takes the one with the higher pre-validated C-index on the training set
(:func:`compare_multimodal`): a rule that never sees a test set and costs no extra LASSO
fit, so the optimism bootstrap can repeat it in every resample.

The notebook computes, step by step, with the library: the feature matrix
(:meth:`radsurv.stages.readers.FeatureOutputs.wide`) and the outcomes
(:func:`radsurv.cohort.manifest.cohort_outcomes`); the signatures
(:func:`~radsurv.signatures.development.develop_signatures`), their Rad-scores
(:func:`~radsurv.signatures.development.radscore_table`) and discrimination
(:func:`~radsurv.signatures.evaluation.discrimination`); the X-tile cuts
(:func:`~radsurv.signatures.risk_groups.fit_risk_groups`,
:func:`~radsurv.signatures.risk_groups.risk_group_tables`). This module formats what it
computed for the paper (:func:`discrimination_display`, :func:`risk_display`,
:func:`signature_variables`) and writes the declared outputs
(:func:`write_signature_artefacts`). The Methods and Results paragraphs are written
from the variables when the paper is published (:mod:`radsurv.manuscript.signatures`),
so a wording edit re-runs no stage.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS, SPLITS
from ..preconditions import unscored_sets
from ..report.formatting import format_ci, format_p
from ..stages.context import StageContext
from .development import MULTIMODAL, STACKED, Development, signature_label
from .evaluation import UNO_TAU_MONTHS, is_constant
from .risk_groups import RiskGroups, not_estimable_risk
from .signature import LassoCoxSignature

__all__ = ["discrimination_display", "risk_display", "signature_not_estimable", "signature_variables",
           "write_signature_artefacts"]


def discrimination_display(disc: pd.DataFrame, oracle: pd.DataFrame | None, published: Mapping[str, Any],
                           names: list[str], multimodal: str) -> pd.DataFrame:
    """The discrimination table as the paper prints it: one row per signature (and the
    oracle), Harrell's C (95% CI) and Uno's C per set, and the study's published values."""
    rows = []
    for name in names:
        row = {"Signature": signature_label(name) + (" (feeds the models)" if name == multimodal else "")}
        for s in SPLITS:
            r = disc[(disc["signature"] == name) & (disc["set"] == s)]
            row[f"{SPLIT_LABELS[s]} C (95% CI)"] = format_ci(*r[["c", "lower", "upper"]].iloc[0]) if len(r) else "–"
            row[f"{SPLIT_LABELS[s]} Uno C"] = f"{r['uno_c'].iloc[0]:.2f}" if len(r) else "–"
        rows.append(row)
    if oracle is not None:
        row = {"Signature": "Oracle: the true linear predictor (simulation truth)"}
        for s in SPLITS:
            r = oracle[oracle["set"] == s]
            row[f"{SPLIT_LABELS[s]} C (95% CI)"] = format_ci(*r[["c", "lower", "upper"]].iloc[0]) if len(r) else "–"
            row[f"{SPLIT_LABELS[s]} Uno C"] = f"{r['uno_c'].iloc[0]:.2f}" if len(r) else "–"
        rows.append(row)
    pub = {s: published.get(s) for s in ("internal", "external")}
    if any(v is not None for v in pub.values()):
        row = {"Signature": "Published study: multi-modal signature (reported, not computed here)"}
        for s in SPLITS:
            v = pub.get(s)
            row[f"{SPLIT_LABELS[s]} C (95% CI)"] = f"{v:.3f}" if v is not None else "–"
            row[f"{SPLIT_LABELS[s]} Uno C"] = "–"
        rows.append(row)
    return pd.DataFrame(rows)


def risk_display(table: pd.DataFrame) -> pd.DataFrame:
    """The multi-modal signature's risk groups per set as the paper prints them."""
    rows = []
    for r in table.itertuples(index=False):
        if r.split_by == "per SD":
            groups = events = "continuous"
        else:
            groups = f"{int(r.n_low)} / {int(r.n_high)}"
            events = f"{int(r.events_low)} / {int(r.events_high)}"
        rows.append({"Set": SPLIT_LABELS[r.set], "Split": {"X-tile": "X-tile cut (training)",
                                                           "median": "Median (training)",
                                                           "per SD": "Per SD of the Rad-score"}[r.split_by],
                     "Low / high risk, n": groups, "Events, n": events,
                     "HR (95% CI)": format_ci(r.hr, r.hr_lower, r.hr_upper),
                     "P": format_p(r.logrank_p)})
    return pd.DataFrame(rows)


def signature_variables(dev: Development, disc: pd.DataFrame, oracle: pd.DataFrame | None,
                        groups: Mapping[str, RiskGroups], risk: pd.DataFrame, params: Mapping[str, Any],
                        n_features_total: int, constant: Collection[str] = ()) -> dict[str, Any]:
    """The ``signatures`` variables of the manuscript (formatted strings and counts).

    ``constant`` names the Rad-scores that are the same for every training patient (no
    feature selected): scores that cannot discriminate by construction, said so in the text.
    """
    mm = MULTIMODAL
    v: dict[str, Any] = {
        "lambda_rule": params["lambda_rule"].replace("_", "."),
        "n_folds": int(params["n_folds"]),
        "correlation_threshold": (f"{params['filters']['correlation_threshold']:g}"
                                  if params["filters"]["correlation_threshold"] is not None else "none"),
        "univariable_p": (f"{params['filters']['univariable_p']:g}" if params["filters"]["univariable_p"] is not None
                          else "none"),
        "n_features_total": int(n_features_total),
        "multimodal_rule": params["multimodal"]["feeds_models"],
        "multimodal_choice": "stacked" if dev.multimodal == STACKED else "union",
        "multimodal_choice_label": signature_label(dev.multimodal),
        "n_permutations": int(params["cutpoint"]["n_permutations"]),
        "n_bootstrap": int(params["cutpoint"]["n_bootstrap"]),
        "min_prop_pct": f"{100 * params['cutpoint']['min_prop']:.0f}",
        "max_prop_pct": f"{100 * (1 - params['cutpoint']['min_prop']):.0f}",
    }
    compared = len(dev.comparison) > 0
    c = dev.comparison.set_index("approach")["c"] if compared else {}
    v["cv_c_union"] = f"{c['union']:.3f}" if compared else "not compared"
    v["cv_c_stacked"] = f"{c['stacked']:.3f}" if compared else "not compared"
    for name in [*dev.signatures, *([STACKED] if dev.stacked is not None else []), mm]:
        entry: dict[str, Any] = {"constant": name in constant}
        model = dev.predictors().get(name)
        if isinstance(model, LassoCoxSignature):
            entry["n_selected"] = int(len(model.coef_))
            entry["filtered_out"] = bool(model.filtered_out)   # no feature passed the filters
        for s in SPLITS:
            r = disc[(disc["signature"] == name) & (disc["set"] == s)]
            if len(r):
                entry[f"c_{s}"] = f"{r['c'].iloc[0]:.3f}"
                entry[f"c_{s}_ci"] = f"{r['lower'].iloc[0]:.3f}-{r['upper'].iloc[0]:.3f}"
            elif name == mm:   # a set without patients or events: the paper's references still resolve
                entry[f"c_{s}"], entry[f"c_{s}_ci"] = "–", "not estimable"
        v[name] = entry
    v["n_constant"] = sum(bool(v[n]["constant"]) for n in dev.signatures)
    v["n_signatures"] = len(dev.signatures)
    v["n_filtered_out"] = sum(bool(v[n].get("filtered_out")) for n in dev.signatures)
    if oracle is not None:
        v["oracle"] = {f"c_{r.set}": f"{r.c:.3f}" for r in oracle.itertuples(index=False)}
    if mm in groups:
        g = groups[mm]
        # p_uncorrected: the chosen split of the training Rad-score (the study's); the two
        # corrected ones: the X-tile search on the pre-validated Rad-score (p_score)
        v[mm].update(cut=f"{g.cutpoint_:.3f}", p_uncorrected=format_p(g.p_uncorrected_),
                     p_lausen=format_p(g.p_lausen_), p_permutation=format_p(g.p_permutation_),
                     p_score=g.p_score_)
        if g.inference_note_:
            v[mm]["p_note"] = g.inference_note_
        if g.bootstrap_cuts_.size:
            lo, hi = np.percentile(g.bootstrap_cuts_, [2.5, 97.5])
            v[mm]["cut_bootstrap_95"] = f"{lo:.3f} to {hi:.3f}"
        for r in risk.itertuples(index=False):
            key = {"X-tile": "xtile", "median": "median", "per SD": "per_sd"}[r.split_by]
            v[mm][f"hr_{key}_{r.set}"] = format_ci(r.hr, r.hr_lower, r.hr_upper)
            v[mm][f"p_{key}_{r.set}"] = format_p(r.logrank_p)
    return v


def signature_not_estimable(outcome: pd.DataFrame, risk: pd.DataFrame, groups: Mapping[str, RiskGroups]) -> list[str]:
    """What 03 could not estimate on this cohort and why, one sentence each: a test set
    without patients or events (:func:`radsurv.preconditions.scored_set`: no C-index, no
    risk groups there), a hazard ratio of the multi-modal risk groups without a finite
    estimate."""
    if MULTIMODAL in groups:
        return not_estimable_risk(risk[risk["signature"] == MULTIMODAL], outcome, "multi-modal Rad-score")
    return unscored_sets(outcome)


def write_signature_artefacts(ctx: StageContext, X: pd.DataFrame, outcome: pd.DataFrame, dev: Development,
                              scores: pd.DataFrame, disc: pd.DataFrame, oracle: pd.DataFrame | None,
                              groups: Mapping[str, RiskGroups], risk: pd.DataFrame,
                              prevalidated: pd.DataFrame | None = None) -> dict:
    """Write every declared output of ``03_signatures`` from what the notebook computed.
    Returns the variables.

    Parameters
    ----------
    X : DataFrame
        The feature matrix the signatures were developed from (patients x features).
    outcome : DataFrame
        ``split``, ``time``, ``event`` of its patients.
    dev : Development
        :func:`~radsurv.signatures.development.develop_signatures`' result.
    scores : DataFrame
        :func:`~radsurv.signatures.development.radscore_table`.
    disc, oracle : DataFrame
        :func:`~radsurv.signatures.evaluation.discrimination` of the Rad-scores and of
        the twin's true linear predictor (None for a real cohort).
    groups : mapping
        :func:`~radsurv.signatures.risk_groups.fit_risk_groups`.
    risk : DataFrame
        :func:`~radsurv.signatures.risk_groups.risk_group_tables`.
    prevalidated : DataFrame, optional
        :func:`~radsurv.signatures.development.prevalidated_table`, written as
        ``radscores_prevalidated.csv`` (the training patients' out-of-fold Rad-scores, for
        the analyses downstream that must not reuse the Rad-score's fit).
    """
    from ..plots.km import km_panels
    from ..plots.signatures import coefficients_figure, lasso_figure, xtile_figure
    from ..plots.style import RISK_COLORS, message_figure

    params = ctx.params
    ctx.write_data(scores.reset_index(), "radscores.csv")
    if prevalidated is not None:
        ctx.write_data(prevalidated.rename_axis("patient_id").reset_index(), "radscores_prevalidated.csv")
    names = dev.names()
    labels = {n: signature_label(n) for n in names}
    coefs = {name: sig.coefficients() for name, sig in dev.signatures.items()}
    ctx.write_data(pd.concat([c.assign(signature=name) for name, c in coefs.items()], ignore_index=True)[
        ["signature", "feature", "coef_per_sd", "coef_per_unit", "mean", "sd"]], "coefficients.csv")
    if dev.stacked is not None and dev.stacked.cox_ is not None:
        ctx.write_data(dev.stacked.cox_.summary().rename_axis("component").reset_index(), "stacked_cox.csv")
    if len(dev.comparison):
        ctx.write_data(dev.comparison, "multimodal_comparison.csv")
    ctx.write_data(disc, "discrimination.csv")
    ctx.write_data(risk, "risk_groups.csv")
    train = (outcome["split"] == "train").to_numpy()

    flow = dev.flow_table()
    ctx.write_data(flow, "signature_flow.csv", float_format=None)
    ctx.write_table(flow, "signature_flow.md", label="signature-flow",
                    caption="Features per signature after each filter, fitted on the training set: flagged by "
                            "the segmentation-robustness step, near-zero variance, correlation, and the "
                            "univariable screen when the profile asks for one; then selected by LASSO-Cox at the "
                            "cross-validated lambda.")
    ctx.write_table(discrimination_display(disc, oracle, params["published_c"], names, dev.multimodal),
                    "discrimination_table.md", label="signatures",
                    caption="Discrimination of the radiomics signatures: Harrell's C with 95% CI (infinitesimal-"
                            f"jackknife standard error) and Uno's C truncated at {UNO_TAU_MONTHS:.0f} months, "
                            "in each set. Every signature was developed on the training set only. The oracle row "
                            "is the simulation's true linear predictor (the best any model can reach); the "
                            "published row quotes the study's reported values for comparison.")
    if MULTIMODAL in groups:
        mm_risk = risk[risk["signature"] == MULTIMODAL]
        ctx.write_table(risk_display(mm_risk), "risk_groups_table.md", label="risk-groups",
                        caption="Risk groups of the multi-modal Rad-score in each set: the X-tile cut chosen on "
                                "the training set and applied unchanged, the training median as a sensitivity "
                                "split, and the hazard ratio per training SD of the continuous Rad-score (Cox "
                                "model). P: log-rank test (Wald test for the continuous score). The training rows "
                                "use the training Rad-score, which LASSO fitted to the same outcomes: their X-tile p "
                                "is corrected neither for the search nor for that fit (the corrected p-values, on "
                                "the pre-validated Rad-score, are in the text).")
        g = groups[MULTIMODAL]
        xtile_figure(g.grid_, g.cutpoint_, g.bootstrap_cuts_, ctx.path("fig-xtile.png"),
                     p_text=f"cut {g.cutpoint_:.3f}; p uncorrected {format_p(g.p_uncorrected_)}; "
                            f"{g.p_score_} Rad-score: Lausen-Schumacher {format_p(g.p_lausen_)}, "
                            f"permutation {format_p(g.p_permutation_)}")
        panels = []
        for s in SPLITS:
            sel = (outcome["split"] == s).to_numpy()
            if not sel.any():
                continue   # no such set (no external centre): not estimable, said in the text
            r = mm_risk[(mm_risk["set"] == s) & (mm_risk["split_by"] == "X-tile")].iloc[0]
            panels.append({"time": outcome.loc[sel, "time"], "event": outcome.loc[sel, "event"],
                           "group": g.assign(scores.loc[sel, MULTIMODAL]), "title": SPLIT_LABELS[s],
                           "annotation": f"HR {format_ci(r.hr, r.hr_lower, r.hr_upper)}\n"
                                         f"log-rank p {format_p(r.logrank_p)}"})
        km_panels(panels, ctx.path("fig-km-risk.png"), order=("low", "high"),
                  labels={"low": "Low risk", "high": "High risk"}, colors=RISK_COLORS)
    else:
        why = ("No risk groups: the multi-modal Rad-score selected no feature on the training set and is the "
               "same for every patient.")
        ctx.write_table(pd.DataFrame({"Risk groups": [why]}), "risk_groups_table.md", label="risk-groups",
                        caption="Risk groups of the multi-modal Rad-score in each set (none in this run).")
        for name in ("fig-xtile.png", "fig-km-risk.png"):
            message_figure(ctx.path(name), "No risk groups: the multi-modal Rad-score\nselected no feature and "
                                           "is constant.")
    lasso_figure({n: dev.signatures[n].cv_ for n in dev.signatures}, ctx.path("fig-lasso.png"),
                 params["lambda_rule"], labels)
    coefficients_figure({n: coefs[n] for n in dev.signatures}, ctx.path("fig-coefficients.png"), labels)
    v = signature_variables(dev, disc, oracle, groups, risk[risk["signature"] == MULTIMODAL] if len(risk) else risk,
                            params, X.shape[1],
                            constant=[n for n in [*names, MULTIMODAL] if is_constant(scores.loc[train, n].to_numpy())])
    missing = signature_not_estimable(outcome, risk, groups)
    if missing:   # written only when something could not be estimated (the paper says what and why)
        v["not_estimable"] = missing
    ctx.write_variables({"signatures": v})
    return v

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

Reading: the feature matrix (:meth:`radsurv.stages.readers.FeatureOutputs.wide`) and the
outcomes (:func:`radsurv.cohort.manifest.cohort_outcomes`). Computing:
:func:`develop_signatures`, :func:`compare_multimodal`, :func:`radscore_table`,
:func:`~radsurv.signatures.evaluation.discrimination`, :func:`fit_risk_groups`,
:func:`risk_group_table`, :func:`signature_flow_table`, :func:`signature_variables`;
writing: :func:`write_signature_artefacts`.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping

import numpy as np
import pandas as pd

from ..cohort.manifest import cohort_outcomes
from ..labels import MODALITY_NAMES, SPLIT_LABELS, SPLITS, in_sentence
from ..report.formatting import format_ci, format_p
from ..seeds import STREAM_XTILE
from ..stages.context import StageContext, resolve_n_jobs
from ..stages.readers import CohortOutputs, FeatureOutputs
from .development import (MULTIMODAL, REGION_SIGNATURES, SIGNATURES, STACKED, STACKED_LABEL, Development,
                          available_signatures, compare_multimodal, develop_signatures, needed_for_models)
from .evaluation import UNO_TAU_MONTHS, discrimination, is_constant
from .risk_groups import RiskGroups, group_summary, hazard_ratio_per_sd
from .signature import LassoCoxSignature

__all__ = ["REGION_SIGNATURES", "SIGNATURES", "Development", "available_signatures", "compare_multimodal",
           "describe_design", "describe_signatures", "develop_signatures", "needed_for_models", "fit_risk_groups",
           "radscore_table", "risk_group_table", "signature_flow_table", "signature_variables",
           "write_signature_artefacts"]


def radscore_table(dev: Development, X: pd.DataFrame, outcome: pd.DataFrame) -> pd.DataFrame:
    """Rad-score of every patient for every signature, with the patient's set.

    Returns
    -------
    DataFrame
        Index ``patient_id``; ``split`` and one column per signature (``multimodal`` the
        one that feeds the models).
    """
    scores = {name: model.predict(X) for name, model in dev.predictors().items()}
    return pd.concat([outcome[["split"]], pd.DataFrame(scores, index=X.index)], axis=1)


def fit_risk_groups(scores: pd.DataFrame, outcome: pd.DataFrame, names: list[str], params: Mapping[str, Any],
                    seed: int) -> dict[str, RiskGroups]:
    """The X-tile cut of each Rad-score on the training set (seed ``[seed, STREAM_XTILE, k]``)."""
    cp = params["cutpoint"]
    train = (outcome["split"] == "train").to_numpy()
    out = {}
    for k, name in enumerate(names):
        x = scores.loc[train, name].to_numpy()
        if is_constant(x):
            continue  # no feature selected: nothing to cut
        out[name] = RiskGroups(min_prop=cp["min_prop"], max_prop=1 - cp["min_prop"],
                               n_permutations=cp["n_permutations"], n_bootstrap=cp["n_bootstrap"],
                               seed=[seed, STREAM_XTILE, k]).fit(x, outcome.loc[train, "time"],
                                                                 outcome.loc[train, "event"])
    return out


RISK_GROUP_COLUMNS = ["set", "split_by", "cut", "n_low", "n_high", "events_low", "events_high", "logrank_chisq",
                      "logrank_p", "hr", "hr_lower", "hr_upper", "signature"]


def risk_group_table(scores: pd.DataFrame, outcome: pd.DataFrame, name: str, groups: RiskGroups,
                     sd: float) -> pd.DataFrame:
    """Per set: the X-tile groups, the median split (training median) and the continuous
    Rad-score's HR per training SD.

    Returns
    -------
    DataFrame
        ``set``, ``split_by`` ("X-tile", "median", "per SD"), the group sizes and events,
        ``logrank_p``, ``hr``, ``hr_lower``, ``hr_upper``.
    """
    train = (outcome["split"] == "train").to_numpy()
    median = float(np.median(scores.loc[train, name]))
    rows = []
    for s in SPLITS:
        sel = (outcome["split"] == s).to_numpy()
        if not sel.any():
            continue
        t, e, x = outcome.loc[sel, "time"].to_numpy(), outcome.loc[sel, "event"].to_numpy(), \
            scores.loc[sel, name].to_numpy()
        rows.append({"set": s, "split_by": "X-tile", "cut": groups.cutpoint_,
                     **group_summary(t, e, groups.assign(x))})
        rows.append({"set": s, "split_by": "median", "cut": median,
                     **group_summary(t, e, np.where(x > median, "high", "low"))})
        hr = hazard_ratio_per_sd(x, t, e, sd)
        rows.append({"set": s, "split_by": "per SD", "hr": hr["hr"], "hr_lower": hr["hr_lower"],
                     "hr_upper": hr["hr_upper"], "logrank_p": hr["p"]})
    return pd.DataFrame(rows)


def signature_flow_table(dev: Development, labels: Mapping[str, str]) -> pd.DataFrame:
    """Features in, after each filter, and selected, per signature (the feature-count flow)."""
    rows = []
    for name, sig in dev.signatures.items():
        row = {"Signature": labels[name]}
        for step, n in sig.flow_:
            row[step] = n
        row["lambda"] = f"{sig.lambda_:.4g}"
        rows.append(row)
    return pd.DataFrame(rows)


def _label(name: str) -> str:
    if name == STACKED:
        return STACKED_LABEL
    return SIGNATURES[name][0]


def discrimination_display(disc: pd.DataFrame, oracle: pd.DataFrame | None, published: Mapping[str, Any],
                           names: list[str], multimodal: str) -> pd.DataFrame:
    """The discrimination table as the paper prints it: one row per signature (and the
    oracle), Harrell's C (95% CI) and Uno's C per set, and the study's published values."""
    rows = []
    for name in names:
        row = {"Signature": _label(name) + (" (feeds the models)" if name == multimodal else "")}
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


_COUNT = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven"}


def describe_design(signatures: list[str], rule: str) -> str:
    """The Methods paragraph on which signatures were built and which fed the models,
    for the modalities the cohort has (both: the study's seven; one: three, the
    modality's own standing in for the multi-modal signature)."""
    modalities = [m for m in ("us", "mri") if m in signatures]
    n = len(signatures)
    count = _COUNT.get(n, str(n))
    if len(modalities) == 2:
        design = (f"{count} signatures were developed on the training set only: one per region (ultrasound and MRI, "
                  "intra- and peri-tumoral), one per modality (its intra- and peri-tumoral features together) and "
                  "a multi-modal one (all four regions).")
        multimodal = ("The multi-modal signature was built two ways, LASSO on the four regions' features together "
                      "and a Cox model on the four regional Rad-scores; "
                      + ("the one with the higher pre-validated C-index on the training set (each patient scored by "
                         "the cross-validation fit made without them [@tibshirani2002]) fed the models (rule: auto)."
                         if rule == "auto" else
                         f"the {'Cox model on the regional Rad-scores' if rule == 'stacked' else 'LASSO on all four regions'}"
                         f" fed the models, as the profile fixes (signatures.multimodal.feeds_models: {rule})."))
    elif len(modalities) == 1:
        m = modalities[0]
        other = MODALITY_NAMES["mri" if m == "us" else "us"]
        design = (f"{count} signatures were developed on the training set only: one per region ({MODALITY_NAMES[m]} intra- "
                  f"and peri-tumoral) and one for the modality (both regions' features together). The cohort has no "
                  f"{other}, so no multi-modal signature could be built.")
        multimodal = (f"The {MODALITY_NAMES[m]} signature took the multi-modal signature's place in the models; the "
                      "multi-modal rule (two constructions compared by pre-validated C-index) did not apply.")
    else:
        design = f"{count} signatures were developed on the training set only."
        multimodal = ""
    return design + (" " + multimodal if multimodal else "") + "\n"


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
        "multimodal_choice_label": _label(dev.multimodal),
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
        for s in SPLITS:
            r = disc[(disc["signature"] == name) & (disc["set"] == s)]
            if len(r):
                entry[f"c_{s}"] = f"{r['c'].iloc[0]:.3f}"
                entry[f"c_{s}_ci"] = f"{r['lower'].iloc[0]:.3f}-{r['upper'].iloc[0]:.3f}"
        v[name] = entry
    v["n_constant"] = sum(bool(v[n]["constant"]) for n in dev.signatures)
    v["n_signatures"] = len(dev.signatures)
    if oracle is not None:
        v["oracle"] = {f"c_{r.set}": f"{r.c:.3f}" for r in oracle.itertuples(index=False)}
    if mm in groups:
        g = groups[mm]
        v[mm].update(cut=f"{g.cutpoint_:.3f}", p_uncorrected=format_p(g.p_uncorrected_),
                     p_lausen=format_p(g.p_lausen_), p_permutation=format_p(g.p_permutation_))
        if g.bootstrap_cuts_.size:
            lo, hi = np.percentile(g.bootstrap_cuts_, [2.5, 97.5])
            v[mm]["cut_bootstrap_95"] = f"{lo:.3f} to {hi:.3f}"
        for r in risk.itertuples(index=False):
            key = {"X-tile": "xtile", "median": "median", "per SD": "per_sd"}[r.split_by]
            v[mm][f"hr_{key}_{r.set}"] = format_ci(r.hr, r.hr_lower, r.hr_upper)
            v[mm][f"p_{key}_{r.set}"] = format_p(r.logrank_p)
    return v


def _oracle_sentence(v: Mapping[str, Any]) -> str:
    if "oracle" not in v:
        return ""
    o = v["oracle"]
    return (f" The simulation's true linear predictor, the best any model can reach on these patients, scores "
            f"{o.get('c_internal', '–')} and {o.get('c_external', '–')} on the internal and external test sets.")


def describe_signatures(v: Mapping[str, Any], published: Mapping[str, Any]) -> str:
    """The Results paragraph on the signatures, written from the variables: the oracle
    and the published values are mentioned only where they exist."""
    mm = v[MULTIMODAL]
    choice = v["multimodal_choice_label"]
    if mm.get("constant"):
        # Nothing was selected: a C of 0.500 with a zero-width CI would read as a finding
        n0, n = v.get("n_constant", 0), v.get("n_signatures", 0)
        text = (f"The multi-modal signature that feeds the models ({in_sentence(choice)}) selected no "
                f"feature on the training set, so its Rad-score is the same for every patient: it cannot rank "
                f"patients (C 0.500 by construction in every set, @tbl-signatures) and no risk groups were cut. "
                f"{n0} of the {n} LASSO signatures selected no feature at lambda {v['lambda_rule']}, which is what "
                f"images without prognostic signal beyond chance at this sample size give.")
        return text + _oracle_sentence(v) + "\n"
    text = (f"The multi-modal signature that feeds the models ({in_sentence(choice)}; "
            f"pre-validated C on training {v['cv_c_union']} for the union and {v['cv_c_stacked']} for the stacked "
            f"way) reached a C-index of {mm.get('c_internal', '–')} (95% CI {mm.get('c_internal_ci', '–')}) on the "
            f"internal and {mm.get('c_external', '–')} ({mm.get('c_external_ci', '–')}) on the external test set, "
            f"against {mm.get('c_train', '–')} on the training set it was developed on (@tbl-signatures).")
    text += _oracle_sentence(v)
    if published.get("internal") is not None and published.get("external") is not None:
        text += (f" The study reported {published['internal']:.3f} and {published['external']:.3f} for its "
                 "multi-modal signature.")
    singles = [v[n] for n in REGION_SIGNATURES if n in v and "c_external" in v[n]]
    if singles:
        ext = sorted(float(s["c_external"]) for s in singles)
        text += (f" The four single-region signatures reached external C-indices from {ext[0]:.3f} to "
                 f"{ext[-1]:.3f}.")
    modal = {n: v[n]["c_external"] for n in ("us", "mri") if n in v and "c_external" in v[n]}
    if modal and "c_external" in mm:
        above = all(float(mm["c_external"]) > float(c) for c in modal.values())
        shown = " and ".join(f"{c} for the {'ultrasound' if n == 'us' else 'MRI'} signature" for n, c in modal.items())
        text += (f" On the external set the multi-modal signature was {'above' if above else 'not above'} each "
                 f"single-modality one ({shown}), {'as in' if above else 'unlike'} the study.")
    if "cut" in mm:
        text += (f" The X-tile cut of the multi-modal Rad-score on the training set was {mm['cut']} (bootstrap 95% "
                 f"range {mm.get('cut_bootstrap_95', '–')}; log-rank p {mm['p_uncorrected']} uncorrected, "
                 f"{mm['p_lausen']} by the Lausen-Schumacher bound and {mm['p_permutation']} by permutation). "
                 f"Applied unchanged, it separated high- from low-risk patients with a hazard ratio of "
                 f"{mm.get('hr_xtile_internal', '–')} in the internal and {mm.get('hr_xtile_external', '–')} in the "
                 f"external test set; the hazard ratio per SD of the continuous Rad-score was "
                 f"{mm.get('hr_per_sd_internal', '–')} and {mm.get('hr_per_sd_external', '–')} (@tbl-risk-groups, "
                 "@fig-km-risk).")
    return text + "\n"


def write_signature_artefacts(ctx: StageContext, cohort: CohortOutputs, features: FeatureOutputs) -> dict:
    """Develop the signatures and write every declared output. Returns the variables."""
    from ..plots.km import km_panels
    from ..plots.signatures import coefficients_figure, lasso_figure, xtile_figure
    from ..plots.style import RISK_COLORS, message_figure
    from ..stages.readers import read_oracle

    params = ctx.params
    with ctx.timed("feature matrix"):
        X, flagged = features.wide(params["filters"]["drop_icc_flagged"])
        outcome = cohort_outcomes(cohort.data, X.index, ctx.profile["time_unit"])
    with ctx.timed("signatures (filters, LASSO-Cox CV) and the multi-modal comparison"):
        dev = develop_signatures(X, outcome, flagged, params, ctx.seed, resolve_n_jobs(params["n_jobs"]))
    scores = radscore_table(dev, X, outcome)
    scores.reset_index().to_csv(ctx.path("radscores.csv"), index=False, lineterminator="\n", float_format="%.10g")
    names = [*dev.signatures, *([STACKED] if dev.stacked is not None else [])]
    labels = {n: _label(n) for n in names}

    coefs = {name: sig.coefficients() for name, sig in dev.signatures.items()}
    pd.concat([c.assign(signature=name) for name, c in coefs.items()], ignore_index=True)[
        ["signature", "feature", "coef_per_sd", "coef_per_unit", "mean", "sd"]].to_csv(
        ctx.path("coefficients.csv"), index=False, lineterminator="\n", float_format="%.10g")
    if dev.stacked is not None and dev.stacked.cox_ is not None:
        dev.stacked.cox_.summary().rename_axis("component").reset_index().to_csv(
            ctx.path("stacked_cox.csv"), index=False, lineterminator="\n", float_format="%.10g")
    if len(dev.comparison):
        dev.comparison.to_csv(ctx.path("multimodal_comparison.csv"), index=False, lineterminator="\n",
                              float_format="%.10g")

    with ctx.timed("discrimination"):
        disc = discrimination(scores, outcome, [*names, MULTIMODAL])
        disc.to_csv(ctx.path("discrimination.csv"), index=False, lineterminator="\n", float_format="%.10g")
        eta = read_oracle(ctx.build_dir)  # the oracle row only: the analysis never reads the truth
        oracle = None
        if eta is not None:
            oracle = discrimination(pd.DataFrame({"oracle": eta.reindex(X.index).to_numpy()}, index=X.index),
                                    outcome, ["oracle"])
    with ctx.timed("risk groups (X-tile cut, permutations, bootstrap)"):
        groups = fit_risk_groups(scores, outcome, [*names, MULTIMODAL], params, ctx.seed)
        train = (outcome["split"] == "train").to_numpy()
        # A null run may select no feature in any signature: then nothing is cut, and the
        # table is written with its header only (not a crash, not a silently missing file)
        risk = pd.DataFrame(columns=RISK_GROUP_COLUMNS)
        if groups:
            risk = pd.concat([risk_group_table(scores, outcome, n, groups[n],
                                               float(np.std(scores.loc[train, n], ddof=1))).assign(signature=n)
                              for n in groups], ignore_index=True)[RISK_GROUP_COLUMNS]
        risk.to_csv(ctx.path("risk_groups.csv"), index=False, lineterminator="\n", float_format="%.10g")

    flow = signature_flow_table(dev, labels)
    flow.to_csv(ctx.path("signature_flow.csv"), index=False, lineterminator="\n")
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
                                "model). P: log-rank test (Wald test for the continuous score); on the training "
                                "set the X-tile p is not corrected for the search (see the text).")
        g = groups[MULTIMODAL]
        xtile_figure(g.grid_, g.cutpoint_, g.bootstrap_cuts_, ctx.path("fig-xtile.png"),
                     p_text=f"cut {g.cutpoint_:.3f}; p uncorrected {format_p(g.p_uncorrected_)}, "
                            f"Lausen-Schumacher {format_p(g.p_lausen_)}, permutation {format_p(g.p_permutation_)}")
        panels = []
        for s in SPLITS:
            sel = (outcome["split"] == s).to_numpy()
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
    ctx.write_text("text-signatures.md", describe_signatures(v, params["published_c"]))
    ctx.write_text("text-signature-methods.md", describe_design(list(dev.signatures),
                                                                 params["multimodal"]["feeds_models"]))
    ctx.write_variables({"signatures": v})
    return v

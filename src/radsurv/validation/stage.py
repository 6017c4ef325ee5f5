"""The validation stage (``notebooks/05_validation.ipynb``): how far the six models'
training performance is optimistic, how well their predicted DFS is calibrated, whether
they would help decide, and the nomogram of the final model.

Computing: :func:`development_data`, :func:`validation_variables`,
:func:`describe_validation`; the statistics are in :mod:`radsurv.validation.optimism`,
:mod:`~radsurv.validation.calibration`, :mod:`~radsurv.validation.decision` and
:mod:`~radsurv.validation.nomogram`; writing: :func:`write_validation_artefacts`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..cohort.manifest import cohort_outcomes
from ..labels import SPLIT_LABELS
from ..models.design import RADSCORE, RADSCORE_LABEL, Design, cohort_design
from ..models.six_models import MODELS, model_name
from ..stages.context import StageContext, resolve_n_jobs
from ..stages.readers import CohortOutputs, FeatureOutputs, ModelOutputs, read_variables
from ..stats import smoothed_calibration
from .calibration import calibration_by_set, predicted_risk, risk_grid
from .decision import benefit_range, decision_curves
from .discussion import describe_discussion
from .nomogram import model_nomogram
from .optimism import DevelopmentData, corrected_calibration, optimism_bootstrap, optimism_summary

__all__ = ["check_scores", "describe_validation", "development_data", "selection_frequency", "validation_variables",
           "write_validation_artefacts"]


def check_scores(models: ModelOutputs, design: Design) -> None:
    """Re-score every model from its written coefficients and the rebuilt design: the
    scores must equal ``04_models``' (a stale or edited upstream output stops the stage)."""
    for key in models.models:
        hr = models.hazard_ratios[models.hazard_ratios["model"] == key]
        lp = design.X[hr["term"].tolist()].to_numpy(float) @ hr["coef"].to_numpy(float)
        written = models.scores.loc[design.X.index, key].to_numpy(float)
        ok = np.isfinite(lp) & np.isfinite(written)
        centred = lp[ok] - (lp[ok] - written[ok]).mean()
        if ok.sum() and np.abs(centred - written[ok]).max() > 1e-6 * (1 + np.abs(written[ok]).max()):
            raise ValueError(f"04_models' scores of model {key!r} do not follow from its coefficients and the cohort: "
                             "re-run 04_models")


def development_data(X: pd.DataFrame, flagged: set[str], design: Design, clinical, mri, outcome: pd.DataFrame,
                     profile: Mapping[str, Any], calibration_model: str | None,
                     calibration_grid: Mapping[float, np.ndarray] | None) -> DevelopmentData:
    """What each bootstrap resample starts from: the training patients only."""
    train = outcome.index[outcome["split"] == "train"]
    train = train[train.isin(X.index) & train.isin(design.X.index)]
    if (outcome.loc[train, "split"] != "train").any():  # pragma: no cover - guarded by construction
        raise AssertionError("a test-set patient reached the optimism bootstrap")
    return DevelopmentData(features=X.loc[train], flagged=frozenset(flagged), design=design.subset(train),
                           clinical=tuple(clinical), mri=tuple(mri),
                           time=outcome.loc[train, "time"].to_numpy(float),
                           event=outcome.loc[train, "event"].to_numpy(int),
                           signature_params=profile["signatures"], model_params=profile["models"],
                           calibration_model=calibration_model, calibration_grid=calibration_grid)


def selection_frequency(boot: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """How often each variable entered each selected model across the resamples (models
    1-3 are selected; the Rad-score models inherit their variables)."""
    ok = boot[(boot["failed"] == "") & boot["model"].isin(["clinical", "mri", "clinical_mri"])]
    n = int(ok["resample"].nunique())
    rows = []
    for key, b in ok.groupby("model", sort=False):
        counts: dict[str, int] = {}
        for v in b["variables"]:
            for name in filter(None, str(v).split(";")):
                counts[name] = counts.get(name, 0) + 1
        for name, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append({"model": key, "variable": name, "label": labels.get(name, name), "resamples": c,
                         "share": c / n if n else np.nan})
    return pd.DataFrame(rows, columns=["model", "variable", "label", "resamples", "share"])


def _fmt(x, digits=3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def optimism_display(summary: pd.DataFrame, n_failed: int, n_total: int) -> pd.DataFrame:
    return pd.DataFrame({
        "Model": summary["model"].map(MODELS), "Apparent C": summary["apparent_c"].map(_fmt),
        "Optimism": summary["optimism"].map(_fmt), "Corrected C": summary["corrected_c"].map(_fmt),
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
                         example: pd.DataFrame | None) -> dict[str, Any]:
    """The ``validation`` variables of the manuscript."""
    final = params["final_model"]
    v: dict[str, Any] = {"n_resamples": n_total, "n_resamples_used": n_ok, "final_model": model_name(final),
                         "final_model_key": final,
                         "horizons": ", ".join(f"{h / 12:g}" for h in params["horizons_months"])}
    for r in opt.itertuples(index=False):
        v[r.model] = {"apparent_c": _fmt(r.apparent_c), "optimism": _fmt(r.optimism), "corrected_c": _fmt(r.corrected_c),
                      "corrected_slope": _fmt(r.corrected_slope, 2)}
    for r in calib.itertuples(index=False):
        if r.model != final:
            continue
        key = f"calibration_{r.set}_{r.horizon / 12:g}y"
        v[key] = {"ici": _fmt(getattr(r, "ici", np.nan)), "e50": _fmt(getattr(r, "e50", np.nan)),
                  "e90": _fmt(getattr(r, "e90", np.nan)), "slope": _fmt(getattr(r, "slope", np.nan), 2),
                  "note": r.note if isinstance(r.note, str) else ""}
    for split in ("internal", "external"):
        for h in params["horizons_months"]:
            rng = benefit_range(curves, split, h, final)
            v[f"benefit_{split}_{h / 12:g}y"] = ("none" if rng is None else f"{100 * rng[0]:.0f}%-{100 * rng[1]:.0f}%")
    if len(corrected):
        worst = corrected.loc[(corrected["corrected"] - corrected["predicted"]).abs().idxmax()]
        v["corrected_max_error"] = _fmt(abs(worst["corrected"] - worst["predicted"]))
    if len(freq):
        top = freq[freq["model"] == "clinical"].head(3)
        v["clinical_stability"] = "; ".join(f"{r.label} {100 * r.share:.0f}%" for r in top.itertuples(index=False))
    if example is not None:
        e = example.iloc[0]
        v["example"] = {"total_points": f"{e['total_points']:.0f}",
                        **{f"dfs_{h / 12:g}y": f"{100 * e[c]:.1f}%" for h, c in
                           zip(params["horizons_months"], [c for c in example.columns if c.endswith("DFS")])}}
    return v


def describe_validation(v: Mapping[str, Any]) -> str:
    """The Results paragraph on validation."""
    final = v["final_model_key"]
    f = v.get(final, {})
    text = (f"Over {v['n_resamples_used']} of {v['n_resamples']} bootstrap resamples, each repeating the whole "
            f"development, the {v['final_model']}'s training C of {f.get('apparent_c', '–')} had an optimism "
            f"of {f.get('optimism', '–')}, for a corrected C of {f.get('corrected_c', '–')} and a corrected "
            f"calibration slope of {f.get('corrected_slope', '–')} (@tbl-optimism). ")
    sig = v.get("signature", {})
    if sig:
        text += (f"The multi-modal radiomics signature's optimism was {sig.get('optimism', '–')} (corrected C "
                 f"{sig.get('corrected_c', '–')}). ")
    cal = [(k, c) for k, c in v.items() if k.startswith("calibration_external") and isinstance(c, dict)]
    if cal:
        parts = [f"ICI {c['ici']} at {k.rsplit('_', 1)[1].replace('y', ' years')}" for k, c in cal if c["ici"] != "–"]
        if parts:
            text += (f"On the external test set its predicted DFS was calibrated with {', '.join(parts)} "
                     "(@tbl-calibration, @fig-calibration). ")
    ben = [(k, b) for k, b in v.items() if k.startswith("benefit_external")]
    if ben:
        text += ("Its net benefit exceeded treating all and treating none for threshold probabilities of "
                 + ", ".join(f"{b} at {k.rsplit('_', 1)[1].replace('y', ' years')}" for k, b in ben)
                 + " on the external set (@fig-decision). ")
    if "example" in v:
        dfs = ", ".join(f"{val} at {k[4:].replace('y', ' years')}" for k, val in v["example"].items()
                        if k.startswith("dfs_"))
        text += (f"@fig-nomogram draws it as a nomogram: a patient at the training medians of its numeric "
                 f"variables and in the reference category of the others scores {v['example']['total_points']} "
                 f"points, for a predicted DFS of {dfs}.")
    return text.strip() + "\n"


def write_validation_artefacts(ctx: StageContext, cohort: CohortOutputs, features: FeatureOutputs,
                               radscores: pd.DataFrame, models: ModelOutputs) -> dict:
    """Run the validation and write every declared output. Returns the variables."""
    from ..plots.validation import calibration_figure, decision_figure, nomogram_figure

    params = ctx.params
    profile = ctx.profile
    columns, labels = profile["cohort"]["columns"], profile["cohort"]["labels"]
    design, clinical, mri = cohort_design(cohort.data, radscores, columns, labels)
    outcome = cohort_outcomes(cohort.data, design.X.index, profile["time_unit"])
    check_scores(models, design)
    keys = models.models
    scores = models.scores.loc[design.X.index, keys]
    horizons = [float(h) for h in params["horizons_months"]]
    s0 = {(k, h): models.s0(k, h) for k in keys for h in horizons}
    final = params["final_model"]
    if final not in keys:
        raise ValueError(f"validation.final_model: model {final!r} was not fitted by 04_models (fitted: {keys})")
    train = (outcome["split"] == "train").to_numpy()

    # ---- calibration and decision curves in every set
    cp = params["calibration"]
    with ctx.timed("calibration"):
        cal = calibration_by_set(outcome, scores, s0, keys, horizons, n_groups=cp["n_groups"],
                                 min_per_group=cp["min_per_group"], min_events=cp["min_events"])
    cal["summary"].to_csv(ctx.path("calibration_summary.csv"), index=False, lineterminator="\n", float_format="%.10g")
    cal["grouped"].to_csv(ctx.path("calibration_groups.csv"), index=False, lineterminator="\n", float_format="%.10g")
    dp = params["decision"]
    thresholds = np.round(np.arange(dp["threshold_min"], dp["threshold_max"] + 1e-9, dp["threshold_step"]), 10)
    with ctx.timed("decision curves"):
        dca = decision_curves(outcome, scores, s0, keys, horizons, thresholds)
    dca.to_csv(ctx.path("decision_curves.csv"), index=False, lineterminator="\n", float_format="%.10g")

    # ---- nomogram of the final model
    hr = models.hazard_ratios[models.hazard_ratios["model"] == final]
    variables = [v for v in design.groups if any(c in hr["term"].tolist() for c in design.groups[v])]
    variables.sort(key=lambda v: hr["term"].tolist().index(design.groups[v][0]))
    coding = {**{c: columns["clinical"][c] for c in clinical}, **{c: columns["mri"][c] for c in mri}}
    var_labels = {**labels, RADSCORE: RADSCORE_LABEL}
    dtrain = design.subset(design.X.index[train])
    nom, calculator = model_nomogram(dtrain, variables, outcome.loc[train, "time"], outcome.loc[train, "event"],
                                     horizons, coding, var_labels, coef=hr.set_index("term")["coef"])
    calculator.to_json(ctx.path("nomogram.json"))
    # an example patient: the training medians (numeric) and reference levels (categorical)
    example = {}
    for v in variables:
        kind = coding.get(v, "numeric")
        example[v] = float(dtrain.X[v].median()) if kind == "numeric" else str(kind[0])
    example_points = calculator(example)

    # ---- optimism bootstrap repeating the whole development (training only)
    X, flagged = features.wide(drop_flagged=profile["signatures"]["filters"]["drop_icc_flagged"])
    risk_train = {h: predicted_risk(scores.loc[train, final].dropna().to_numpy(), s0[(final, h)]) for h in horizons}
    grid, apparent_curve = {}, {}
    for h in horizons:
        t, e = outcome.loc[train, "time"].to_numpy(float), outcome.loc[train, "event"].to_numpy(int)
        ok = scores.loc[train, final].notna().to_numpy()
        try:
            g = risk_grid(risk_train[h], cp["grid_points"])
            apparent_curve[h] = smoothed_calibration(t[ok], e[ok], risk_train[h], h, knots=3).observed_at(g)
            grid[h] = g
        except ValueError:
            continue
    dev = development_data(X, flagged, design, clinical, mri, outcome, profile, final, grid)
    n_total = int(params["n_resamples"])
    with ctx.timed(f"optimism bootstrap ({n_total} resamples)"):
        boot, boot_cal = optimism_bootstrap(dev, n_total, ctx.seed, n_jobs=resolve_n_jobs(params["n_jobs"]),
                                            cache_dir=ctx.build_dir / "cache" / "validation")
    boot.to_csv(ctx.path("optimism_resamples.csv"), index=False, lineterminator="\n", float_format="%.10g")
    disc = models.discrimination
    apparent = {k: float(disc[(disc["model"] == k) & (disc["set"] == "train") &
                              (disc["measure"] == "harrell_c")]["estimate"].iloc[0]) for k in keys}
    opt = optimism_summary(boot, apparent, keys)
    opt.to_csv(ctx.path("optimism.csv"), index=False, lineterminator="\n", float_format="%.10g")
    corrected = corrected_calibration(boot_cal, apparent_curve, grid)
    corrected.to_csv(ctx.path("corrected_calibration.csv"), index=False, lineterminator="\n", float_format="%.10g")
    failed = boot[boot["failed"] != ""]
    n_failed = int(failed["resample"].nunique())
    freq = selection_frequency(boot, {**design.labels, **{v: var_labels.get(v, v) for v in design.groups}})
    freq.to_csv(ctx.path("selection_frequency.csv"), index=False, lineterminator="\n", float_format="%.10g")
    if n_failed:
        print(f"{n_failed} of {n_total} resamples could not be developed and were left out: "
              + "; ".join(sorted(set(failed["failed"])))[:500])

    # ---- tables
    ctx.write_table(optimism_display(opt, n_failed, n_total), "optimism_table.md", label="optimism",
                    caption=f"Internal validation by Harrell's optimism bootstrap ({n_total} resamples of the "
                            "training set, each repeating the whole development: feature filters, LASSO-Cox with its "
                            "cross-validation, the multi-modal rule, the Rad-score and the selection of the models). "
                            "Optimism = mean over resamples of the C on the resample minus the C of the resample's "
                            "model on the training set; corrected = apparent - optimism. The corrected calibration "
                            "slope is 1 minus the mean shrinkage of the resamples' linear predictors on the training "
                            "set.")
    ctx.write_table(calibration_display(cal["summary"]), "calibration_table.md", label="calibration",
                    caption="Calibration of the predicted DFS in the test sets: mean predicted and Kaplan-Meier "
                            "observed risk of recurrence by the horizon; the integrated calibration index (ICI), "
                            "median (E50) and 90th percentile (E90) of the absolute difference between smoothed "
                            "observed and predicted risk (Cox model on a restricted cubic spline of the "
                            "complementary log-log of the prediction, 3 knots; Austin et al. 2020); and the "
                            "calibration slope (1 = ideal).")
    ctx.write_table(decision_display(dca, keys), "decision_table.md", label="decision",
                    caption="Net benefit of each model and of treating all at threshold probabilities of 10%, 20% "
                            "and 30% in the test sets (treating none: 0). The curves are in @fig-decision.")
    ctx.write_table(nomogram_display(nom), "nomogram_table.md", label="nomogram-points",
                    caption=f"The nomogram of the {model_name(final)} in numbers: the points of each axis "
                            "value, and the total points at which the predicted DFS takes each value (as "
                            "rms::nomogram computes them).")

    # ---- figures
    calibration_figure(cal["grouped"], cal["curves"], corrected, final, ctx.path("fig-calibration.png"),
                       SPLIT_LABELS, MODELS[final], summary=cal["summary"])
    decision_figure(dca, keys, ctx.path("fig-decision.png"), MODELS, SPLIT_LABELS)
    nomogram_figure(nom, ctx.path("fig-nomogram.png"), MODELS[final])

    v = validation_variables(opt, cal["summary"], dca, corrected, freq, params, n_total - n_failed, n_total,
                             example_points)
    ctx.write_text("text-validation.md", describe_validation(v))
    ctx.write_text("text-discussion.md", describe_discussion(
        read_variables(ctx.build_dir, "03_signatures").get("signatures", {}),
        read_variables(ctx.build_dir, "04_models").get("models", {}), v,
        profile["signatures"]["published_c"], (profile["models"]["published_c"].get("imaging") or {}).get("external"),
        simulated=profile["cohort"]["source"] != "manifest"))
    ctx.write_variables({"validation": v})
    return v

"""The sensitivity stage (``notebooks/06_sensitivity.ipynb``): questions reviewers of
radiomics papers ask, answered by re-running the real development.

1. **Permutation null of the whole development** (:mod:`.permutation`): the multi-modal
   signature developed again on permuted training outcomes, B times, scored on the
   untouched test sets; the observed test C against that null.
2. **Cut-point** (:mod:`.cutpoints`): the X-tile cut against the training median and
   tertiles and against its own cross-validated version, and the shrinkage of its
   hazard ratio.

The stage reads the feature matrices (``02_features``), the Rad-scores (``03_signatures``)
and the cohort, and repeats ``03``'s development with ``03``'s own parameters (the
``signatures`` section), so the null is the null of exactly the pipeline the paper
reports. Writing: :func:`write_sensitivity_artefacts` (the outputs declared in
:mod:`radsurv.stages.registry`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import StageError
from ..labels import SPLIT_LABELS
from ..signatures.development import MULTIMODAL
from ..signatures.risk_groups import RiskGroups
from ..signatures.stage import feature_matrix, outcomes
from ..stages.context import StageContext
from ..stages.readers import CohortOutputs, FeatureOutputs
from .cutpoints import cutpoint_comparison, shrinkage
from .permutation import TEST_SETS, permutation_null, permutation_summary, c_on_set

__all__ = ["cutpoint_display", "describe_sensitivity", "describe_sensitivity_methods", "permutation_display",
           "sensitivity_variables", "write_sensitivity_artefacts"]


def _p(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _ci(hr: float, lo: float, hi: float) -> str:
    return "–" if not np.isfinite(hr) else f"{hr:.2f} ({lo:.2f}-{hi:.2f})"


def permutation_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The permutation table as the paper prints it."""
    return pd.DataFrame({
        "Set": [SPLIT_LABELS[s] for s in summary["set"]],
        "Observed C": [f"{c:.3f}" for c in summary["observed_c"]],
        "Null C, mean (SD)": [f"{m:.3f} ({sd:.3f})" for m, sd in zip(summary["null_mean"], summary["null_sd"])],
        "Null C, 95th percentile": [f"{q:.3f}" for q in summary["null_q95"]],
        "Permutations": summary["n_permutations"].astype(int),
        "Permutation p": [_p(p) for p in summary["p"]],
    })


_SPLIT_BY = {"X-tile": "X-tile cut (training optimum)", "X-tile, cross-validated": "X-tile cut, cross-validated",
             "median": "Training median", "tertiles": "Training tertiles (top vs bottom)"}


def cutpoint_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The cut-point table as the paper prints it."""
    rows = []
    for r in comparison.itertuples(index=False):
        rows.append({"Set": SPLIT_LABELS[r.set], "Split": _SPLIT_BY[r.split_by],
                     "Cut": "–" if not np.isfinite(r.cut) else f"{r.cut:.3f}",
                     "Low / high, n (events)": f"{r.n_low} ({r.events_low}) / {r.n_high} ({r.events_high})",
                     "HR high vs low (95% CI)": _ci(r.hr, r.hr_lower, r.hr_upper), "Log-rank p": _p(r.logrank_p)})
    return pd.DataFrame(rows)


def sensitivity_variables(params: Mapping[str, Any], null: pd.DataFrame, summary: pd.DataFrame,
                          comparison: pd.DataFrame | None, shrink: float) -> dict[str, Any]:
    """The ``sensitivity`` variables (formatted strings and counts)."""
    failed = null["failed"].fillna("").astype(str) != "" if len(null) else pd.Series([], dtype=bool)
    empty = (null["n_selected"] == 0) & ~failed if len(null) else pd.Series([], dtype=bool)
    v: dict[str, Any] = {"permutation": {"n": int(params["permutation"]["n"]), "n_failed": int(failed.sum()),
                                         "n_empty": int(empty.sum())},
                         "cutpoint": {"n_folds": int(params["cutpoint"]["n_folds"])}}
    for r in summary.itertuples(index=False):
        if r.n_permutations == 0:
            continue
        v["permutation"][r.set] = {"observed_c": f"{r.observed_c:.3f}", "null_mean": f"{r.null_mean:.3f}",
                                   "null_q95": f"{r.null_q95:.3f}", "p": _p(r.p)}
    cp = v["cutpoint"]
    cp["shrinkage"] = f"{shrink:.2f}" if np.isfinite(shrink) else "–"
    if comparison is not None and len(comparison):
        for r in comparison.itertuples(index=False):
            key = {"X-tile": "xtile", "X-tile, cross-validated": "xtile_cv", "median": "median",
                   "tertiles": "tertiles"}[r.split_by]
            cp.setdefault(r.set, {})[key] = _ci(r.hr, r.hr_lower, r.hr_upper)
    return v


def describe_sensitivity_methods(params: Mapping[str, Any]) -> str:
    """The Methods paragraph on the sensitivity analyses."""
    n = int(params["permutation"]["n"])
    return (
        ("" if n > 0 else "No permutation null was run (sensitivity.permutation.n: 0). ") +
        (f"A permutation null tested the whole development against overfitting and leakage: the training "
        f"outcomes (follow-up and event together) were permuted among the training patients {n} times, and each "
        "time the multi-modal signature was developed again exactly as above (robustness flags, filters, "
        "LASSO-Cox with its cross-validated penalty, the multi-modal rule) and scored on the internal and "
        "external test sets, whose features and outcomes were untouched. The permutation p of the observed test "
        "C is the share of permuted signatures, counting the observed one, with a C at least as high "
        "[@phipson2010]. " if n > 0 else "") + ("The X-tile cut was compared with cuts that involve no search, the training median and "
        "tertiles, and with its own cross-validated version, in which each training patient is assigned by a cut "
        f"chosen on the other {int(params['cutpoint']['n_folds']) - 1} of {int(params['cutpoint']['n_folds'])} "
        "folds [@faraggi1996]; the ratio of the two log hazard ratios on the training set measures how much of "
        "the optimal cut's effect is the search's [@altman1994].\n"))


def describe_sensitivity(v: Mapping[str, Any]) -> str:
    """The Results paragraph on the sensitivity analyses."""
    perm = v["permutation"]
    parts = []
    for s in TEST_SETS:
        if s in perm:
            r = perm[s]
            parts.append(f"{r['observed_c']} on the {SPLIT_LABELS[s].lower()} set against a null mean of "
                         f"{r['null_mean']} (95th percentile {r['null_q95']}; permutation p {r['p']})")
    text = ""
    if parts:
        n_ok = perm["n"] - perm["n_failed"]
        empty = perm.get("n_empty", 0)
        text += (f"Against {n_ok} signatures developed on permuted training outcomes"
                 + (f" ({empty} of which kept no feature and score C = 0.5)" if empty else "")
                 + ", the multi-modal signature's test C was " + " and ".join(parts)
                 + " (@tbl-permutation, @fig-permutation)"
                 + (f"; {perm['n_failed']} permutation{'s' if perm['n_failed'] != 1 else ''} could not be developed"
                    if perm["n_failed"] else "") + ". ")
    cp = v["cutpoint"]
    train = cp.get("train", {})
    if train.get("xtile") and train.get("xtile_cv"):
        text += (f"On the training set the X-tile cut gave a hazard ratio of {train['xtile']}, its cross-validated "
                 f"version {train['xtile_cv']}: a shrinkage of the log hazard ratio to {cp['shrinkage']} "
                 "(@tbl-cutpoints).")
    elif text == "":
        text = "No sensitivity analysis could be run: the multi-modal Rad-score is constant."
    return text.strip() + "\n"


def write_sensitivity_artefacts(ctx: StageContext, cohort: CohortOutputs, features: FeatureOutputs,
                                radscores: pd.DataFrame) -> dict:
    """Run the analyses and write every declared output. Returns the variables."""
    from ..plots.sensitivity import permutation_figure
    from ..plots.style import message_figure

    params = ctx.params
    sp = ctx.profile["signatures"]
    with ctx.timed("feature matrix"):
        X, flagged = feature_matrix(features, sp["filters"]["drop_icc_flagged"])
        outcome = outcomes(cohort, X.index, ctx.profile["time_unit"])
    if not radscores.index.sort_values().equals(X.index.sort_values()):
        raise StageError("06_sensitivity: the feature matrix and 03_signatures' Rad-scores cover different patients; "
                         "run 03_signatures again")
    score = radscores.loc[X.index, MULTIMODAL]
    observed = {s: c_on_set(score, outcome, s) for s in TEST_SETS}

    n = int(params["permutation"]["n"])
    with ctx.timed(f"permutation null ({n} developments)"):
        null = permutation_null(X, outcome, flagged, sp, ctx.seed, n, n_jobs=ctx.n_jobs, progress=True)
    null.to_csv(ctx.path("permutation_null.csv"), index=False, lineterminator="\n", float_format="%.10g")
    summary = permutation_summary(null, observed)
    summary.to_csv(ctx.path("permutation_summary.csv"), index=False, lineterminator="\n", float_format="%.10g")
    shown = (permutation_display(summary) if n > 0 else
             pd.DataFrame({"Permutation null": ["Not run (sensitivity.permutation.n: 0)."]}))
    ctx.write_table(shown, "permutation_table.md", label="permutation",
                    caption="Permutation null of the whole development: the multi-modal signature's Harrell's C on "
                            "each test set against the C of signatures developed, with every selection step, on "
                            "permuted training outcomes. p = (1 + number of permuted C at least as high) / "
                            "(permutations + 1).")
    if n > 0:
        permutation_figure(null, summary, ctx.path("fig-permutation.png"), {s: SPLIT_LABELS[s] for s in TEST_SETS})
    else:
        message_figure(ctx.path("fig-permutation.png"), "No permutation null\n(sensitivity.permutation.n: 0)")

    train = (outcome["split"] == "train").to_numpy()
    comparison = None
    shrink = float("nan")
    with ctx.timed("cut-points"):
        if np.ptp(score.to_numpy()[train]) > 0:
            cut = ctx.profile["signatures"]["cutpoint"]
            # 03's X-tile rule, without its permutations and bootstrap (the cut itself is deterministic)
            groups = RiskGroups(min_prop=cut["min_prop"], max_prop=1 - cut["min_prop"], n_permutations=0,
                                n_bootstrap=0).fit(score.to_numpy()[train], outcome.loc[train, "time"],
                                                   outcome.loc[train, "event"])
            comparison = cutpoint_comparison(score, outcome, groups, int(params["cutpoint"]["n_folds"]),
                                             [ctx.seed, 13])
            shrink = shrinkage(comparison)
            comparison.to_csv(ctx.path("cutpoints.csv"), index=False, lineterminator="\n", float_format="%.10g")
            table = cutpoint_display(comparison)
        else:
            pd.DataFrame(columns=["set", "split_by"]).to_csv(ctx.path("cutpoints.csv"), index=False)
            table = pd.DataFrame({"Cut-points": ["None: the multi-modal Rad-score is constant."]})
    ctx.write_table(table, "cutpoints_table.md", label="cutpoints",
                    caption="The X-tile cut of the multi-modal Rad-score against cuts without a search (training "
                            "median; training tertiles, top against bottom third) and against its cross-validated "
                            "version (each training patient assigned by a cut chosen without them). HR: Cox model, "
                            "high against low risk.")

    v = sensitivity_variables(params, null, summary, comparison, shrink)
    ctx.write_text("text-sensitivity-methods.md", describe_sensitivity_methods(params))
    ctx.write_text("text-sensitivity.md", describe_sensitivity(v))
    ctx.write_variables({"sensitivity": v})
    return v

"""How well the models discriminate, and how they compare, in each set.

* :func:`model_discrimination`: Harrell's C (R's standard error, Wald CI), Uno's C and
  the IPCW time-dependent AUC at each horizon with its CI, per model and set.
* :func:`model_comparisons`: every model against the reference model (the clinical
  imaging model): the censoring-correct IPCW comparison of time-dependent AUCs
  (``td_auc_compare``, the primary test); DeLong's test at each horizon on the patients
  whose status at that time is known (what the study reported, labelled as such); and a
  paired bootstrap CI of the difference in Harrell's C.
* :func:`evaluate_discrimination`, :func:`compare_with_reference`: the same as result
  objects (:class:`Discrimination`, whose ``plot`` is the C-per-model figure;
  :class:`Comparisons`).
* :func:`td_roc_curves`: the time-dependent ROC curves of each model per test set and
  horizon (:class:`TdRocCurves`, whose ``plot`` draws a panel of ``fig-td-roc.png``).
* :func:`oracle_c` and :func:`compare_with_published`: the twin's oracle (the true linear
  predictor's C) and the study's published values beside each model's C
  (:class:`PublishedComparison`, whose ``plot`` is ``fig-c-models.png``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS, SPLITS
from ..results import ShowsItself, new_axes
from ..signatures.evaluation import oracle_discrimination
from ..stats import (binary_at_time, bootstrap_harrell_c, delong_test, harrell_c, td_auc, td_auc_compare,
                     td_roc_curve, uno_c)
from .six_models import MODELS

__all__ = ["Comparisons", "Discrimination", "PublishedComparison", "TdRocCurves", "compare_with_published",
           "compare_with_reference", "evaluate_discrimination", "model_comparisons", "model_discrimination",
           "oracle_c", "published_comparison", "roc_horizons", "td_roc_curves"]


#: Columns of :func:`model_discrimination` and :func:`model_comparisons` (their tables keep
#: them when no model could be fitted or scored).
DISCRIMINATION_COLUMNS = ["model", "set", "n", "events", "measure", "horizon", "estimate", "se", "lower", "upper"]
COMPARISON_COLUMNS = ["model", "set", "test", "horizon", "value_model", "value_reference", "delta", "lower", "upper",
                      "p"]


def _set(scores: pd.DataFrame, outcome: pd.DataFrame, split: str, columns: Sequence[str]):
    sel = (outcome["split"] == split).to_numpy() & scores[list(columns)].notna().all(axis=1).to_numpy()
    return (outcome.loc[sel, "time"].to_numpy(float), outcome.loc[sel, "event"].to_numpy(int),
            {c: scores.loc[sel, c].to_numpy(float) for c in columns})


def model_discrimination(scores: pd.DataFrame, outcome: pd.DataFrame, models: Sequence[str],
                         horizons: Sequence[float], uno_tau: float) -> pd.DataFrame:
    """C-indices and time-dependent AUCs of each model in each set.

    Returns
    -------
    DataFrame
        One row per model, set and horizon (``horizon`` NaN for the C-index rows):
        ``model``, ``set``, ``n``, ``events``, ``measure`` ("harrell_c", "uno_c", "td_auc"),
        ``horizon``, ``estimate``, ``se``, ``lower``, ``upper``.
    """
    rows = []
    for split in SPLITS:
        for m in models:
            t, e, s = _set(scores, outcome, split, [m])
            if t.size == 0 or e.sum() == 0:
                continue
            base = {"model": m, "set": split, "n": int(t.size), "events": int(e.sum())}
            hc = harrell_c(t, e, s[m])
            rows.append({**base, "measure": "harrell_c", "horizon": np.nan, "estimate": hc.c, "se": hc.se,
                         "lower": hc.lower, "upper": hc.upper})
            uc = uno_c(t, e, s[m], tau=uno_tau)
            rows.append({**base, "measure": "uno_c", "horizon": np.nan, "estimate": uc.c, "se": uc.se,
                         "lower": uc.lower, "upper": uc.upper})
            auc = td_auc(t, e, s[m], list(horizons))
            for r in auc.itertuples(index=False):
                rows.append({**base, "measure": "td_auc", "horizon": r.time, "estimate": r.auc, "se": r.se,
                             "lower": r.lower, "upper": r.upper})
    return pd.DataFrame(rows, columns=DISCRIMINATION_COLUMNS)


def model_comparisons(scores: pd.DataFrame, outcome: pd.DataFrame, models: Sequence[str], reference: str,
                      horizons: Sequence[float], n_boot: int = 1000, seed=0) -> pd.DataFrame:
    """Each model against ``reference``, in each set.

    Returns
    -------
    DataFrame
        One row per model, set, test and horizon: ``model``, ``set``, ``test``
        ("ipcw_td_auc", "delong", "bootstrap_c"), ``horizon`` (NaN for the C-index), the
        two estimates (``value_model``, ``value_reference``), the difference reference -
        model (``delta``) with its ``lower``, ``upper`` and ``p`` (bootstrap: the share of
        resamples on the other side of 0, doubled), and for DeLong the patients kept
        (``n_known``).
    """
    rows = []
    rng = np.random.default_rng(seed)
    for split in SPLITS:
        for m in models:
            if m == reference:
                continue
            t, e, s = _set(scores, outcome, split, [m, reference])
            if t.size == 0 or e.sum() == 0:
                continue
            base = {"model": m, "set": split}
            comp = td_auc_compare(t, e, s[m], s[reference], list(horizons))
            for r in comp.itertuples(index=False):
                rows.append({**base, "test": "ipcw_td_auc", "horizon": r.time, "value_model": r.auc_a,
                             "value_reference": r.auc_b, "delta": r.delta, "lower": r.lower, "upper": r.upper,
                             "p": r.p})
            for h in horizons:
                y, keep = binary_at_time(t, e, h)
                if min(int(y.sum()), int((1 - y).sum())) < 2:  # DeLong needs 2 cases and 2 controls
                    continue
                test = delong_test(y, s[m][keep], s[reference][keep])
                rows.append({**base, "test": "delong", "horizon": float(h), "value_model": test.auc_a,
                             "value_reference": test.auc_b, "delta": test.auc_b - test.auc_a, "lower": np.nan,
                             "upper": np.nan, "p": test.p, "n_known": int(keep.sum())})
            boot = bootstrap_harrell_c(t, e, [s[m], s[reference]], n_boot=n_boot, seed=rng)
            diff = boot[:, 1] - boot[:, 0]
            diff = diff[np.isfinite(diff)]
            c_m, c_r = harrell_c(t, e, s[m]).c, harrell_c(t, e, s[reference]).c
            lo, hi = np.percentile(diff, [2.5, 97.5]) if diff.size else (np.nan, np.nan)
            p = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())) if diff.size else np.nan
            rows.append({**base, "test": "bootstrap_c", "horizon": np.nan, "value_model": c_m,
                         "value_reference": c_r, "delta": c_r - c_m, "lower": lo, "upper": hi, "p": p})
    return pd.DataFrame(rows, columns=None if rows else COMPARISON_COLUMNS)


@dataclass(repr=False)
class Discrimination(ShowsItself):
    """Harrell's and Uno's C and the td-AUCs of each model in each set.

    ``summary()`` has one row per model and set; ``plot(ax)`` draws Harrell's C with its
    95% CI per model and set (the C-per-model figure; :class:`PublishedComparison` adds the
    oracle and the published values to it).

    Attributes
    ----------
    table : DataFrame
        :func:`model_discrimination`'s long table.
    models : list of str
        The models, in the study's order.
    horizons : list of float
        The td-AUC horizons.
    """

    table: pd.DataFrame
    models: list[str]
    horizons: list[float]

    def title(self) -> str:
        c = self.harrell()
        ext = c[c["set"] == "external"] if len(c) else c
        if ext.empty:
            return f"Discrimination of {len(self.models)} models"
        best = ext.loc[ext["estimate"].idxmax()]
        return (f"Discrimination of {len(self.models)} models; highest external Harrell's C: "
                f"{MODELS.get(best.model, best.model)} {best.estimate:.3f}")

    def harrell(self) -> pd.DataFrame:
        """The Harrell's C rows of :attr:`table`."""
        if self.table.empty:
            return self.table
        return self.table[self.table["measure"] == "harrell_c"]

    def summary(self) -> pd.DataFrame:
        """Per model and set: n, events, Harrell's C with its 95% CI, Uno's C, and the td-AUC at
        each horizon (columns ``auc_<h>``, h in the time unit)."""
        rows = []
        if self.table.empty:
            return pd.DataFrame(columns=["model", "set", "n", "events", "harrell_c"]).set_index(["model", "set"])
        for (m, s), d in self.table.groupby(["model", "set"], sort=False):
            hc = d[d["measure"] == "harrell_c"].iloc[0]
            row = {"model": MODELS.get(m, m), "set": SPLIT_LABELS.get(s, s), "n": hc.n, "events": hc.events,
                   "harrell_c": hc.estimate, "lower": hc.lower, "upper": hc.upper,
                   "uno_c": d[d["measure"] == "uno_c"]["estimate"].iloc[0]}
            for h in self.horizons:
                a = d[(d["measure"] == "td_auc") & (d["horizon"] == h)]
                row[f"auc_{h:g}"] = float(a["estimate"].iloc[0]) if len(a) else np.nan
            rows.append(row)
        return pd.DataFrame(rows).set_index(["model", "set"])

    def plot(self, ax=None, reference: Mapping[str, Mapping[str, float]] | None = None, **kwargs):
        """Harrell's C (95% CI) per model and set; ``reference``: name -> {set -> C} marks."""
        from ..plots.models import C_INDEX_SIZE, draw_c_index

        ax = new_axes(ax, C_INDEX_SIZE)
        return draw_c_index(ax, self.harrell(), self.models, MODELS, SPLIT_LABELS, reference)


def evaluate_discrimination(scores: pd.DataFrame, outcome: pd.DataFrame, models: Sequence[str],
                            horizons: Sequence[float], uno_tau: float) -> Discrimination:
    """:func:`model_discrimination` as a :class:`Discrimination`.

    Parameters
    ----------
    scores, outcome, models, horizons, uno_tau
        As for :func:`model_discrimination`: each model's score per patient; the same
        patients' ``split``, ``time`` and ``event``; the models; the td-AUC horizons; the
        truncation time of Uno's C.

    Returns
    -------
    Discrimination
    """
    return Discrimination(model_discrimination(scores, outcome, models, horizons, uno_tau), list(models),
                          [float(h) for h in horizons])


_TESTS = {"ipcw_td_auc": "IPCW td-AUC", "delong": "DeLong AUC", "bootstrap_c": "Harrell's C, paired bootstrap"}


@dataclass(repr=False)
class Comparisons(ShowsItself):
    """Each model against the reference model, in each set.

    Attributes
    ----------
    table : DataFrame
        :func:`model_comparisons`' table.
    reference : str
        The reference model.
    """

    table: pd.DataFrame
    reference: str

    def title(self) -> str:
        return f"Comparisons with the {MODELS.get(self.reference, self.reference).lower()} (difference: reference - model)"

    def summary(self) -> pd.DataFrame:
        """Per model, set, test and horizon: the two values, the difference (reference minus
        model) with its 95% CI, and p."""
        t = self.table
        if t.empty:
            return pd.DataFrame(columns=["model", "set", "test", "horizon", "value_model", "value_reference", "delta",
                                         "lower", "upper", "p"]).set_index(["model", "set", "test", "horizon"])
        out = t.assign(model=t["model"].map(MODELS), set=t["set"].map(SPLIT_LABELS), test=t["test"].map(_TESTS))
        return out.drop(columns=[c for c in ("n_known",) if c in out]).set_index(["model", "set", "test", "horizon"])


def compare_with_reference(scores: pd.DataFrame, outcome: pd.DataFrame, models: Sequence[str], reference: str,
                           horizons: Sequence[float], n_boot: int = 1000, seed=0) -> Comparisons:
    """:func:`model_comparisons` as a :class:`Comparisons` (same arguments)."""
    return Comparisons(model_comparisons(scores, outcome, models, reference, horizons, n_boot, seed), reference)


def roc_horizons(horizons: Sequence[float]) -> list[float]:
    """The horizons of the ROC figure: those of 3 years (36 months) or more, else the last."""
    horizons = [float(h) for h in horizons]
    return [h for h in horizons if h >= 36] or horizons[-1:]


@dataclass(repr=False)
class TdRocCurves(ShowsItself):
    """Time-dependent ROC curves (cumulative/dynamic, IPCW) of each model per test set and
    horizon.

    Attributes
    ----------
    curves : dict
        (set, horizon) -> {model -> DataFrame with ``threshold``, ``fpr``, ``tpr``}.
    aucs : dict
        (set, horizon) -> {model -> td-AUC} (from the discrimination table).
    skipped : list of dict
        ``set``, ``horizon``, ``model``, ``reason``: each curve that could not be drawn (no
        case or no control at the horizon).
    """

    curves: dict[tuple[str, float], dict[str, pd.DataFrame]]
    aucs: dict[tuple[str, float], dict[str, float]]
    skipped: list[dict] = field(default_factory=list)

    @property
    def panels(self) -> list[tuple[str, float]]:
        """The (set, horizon) panels, in drawing order."""
        return list(self.curves)

    def title(self) -> str:
        n = sum(len(c) for c in self.curves.values())
        skipped = f"; {len(self.skipped)} not drawn (see summary)" if self.skipped else ""
        return f"Time-dependent ROC curves: {n} curves in {len(self.curves)} panels{skipped}"

    def summary(self) -> pd.DataFrame:
        """Per panel and model: td-AUC, the number of thresholds, and why a curve is missing."""
        rows = [{"set": SPLIT_LABELS.get(s, s), "horizon": h, "model": MODELS.get(m, m),
                 "auc": self.aucs.get((s, h), {}).get(m, np.nan), "thresholds": len(roc) - 1, "note": ""}
                for (s, h), per in self.curves.items() for m, roc in per.items()]
        rows += [{"set": SPLIT_LABELS.get(r["set"], r["set"]), "horizon": r["horizon"],
                  "model": MODELS.get(r["model"], r["model"]), "auc": np.nan, "thresholds": 0, "note": r["reason"]}
                 for r in self.skipped]
        return pd.DataFrame(rows, columns=["set", "horizon", "model", "auc", "thresholds", "note"]).set_index(
            ["set", "horizon", "model"])

    def plot(self, ax=None, panel: tuple[str, float] | None = None, xlabel: bool = True, ylabel: bool = True,
             **kwargs):
        """One panel of ``fig-td-roc.png``: ``panel`` = (set, horizon), by default the last
        (the external set at the longest horizon)."""
        from ..plots.models import draw_td_roc

        if not self.panels:   # no set had cases and controls at a horizon
            return draw_td_roc(new_axes(ax, (3.0, 3.0)), {}, MODELS, "", xlabel=xlabel, ylabel=ylabel)
        if panel is None:
            panel = self.panels[-1]
        s, h = panel
        ax = new_axes(ax, (3.0, 3.0))
        return draw_td_roc(ax, self.curves.get(panel, {}), MODELS, f"{SPLIT_LABELS.get(s, s)}, {h / 12:g} years",
                           self.aucs.get(panel, {}), xlabel=xlabel, ylabel=ylabel)


def td_roc_curves(scores: pd.DataFrame, outcome: pd.DataFrame, models: Sequence[str], horizons: Sequence[float],
                  discrimination: pd.DataFrame | None = None,
                  sets: Sequence[str] = ("internal", "external")) -> TdRocCurves:
    """The cumulative/dynamic ROC curve (:func:`radsurv.stats.td_roc_curve`) of each model in
    each test set at each horizon.

    Parameters
    ----------
    scores : DataFrame
        Each model's score per patient (index as ``outcome``).
    outcome : DataFrame
        ``split``, ``time``, ``event``.
    models : sequence of str
    horizons : sequence of float
        The horizons to draw (see :func:`roc_horizons`).
    discrimination : DataFrame, optional
        :func:`model_discrimination`'s table: the td-AUC printed beside each curve.
    sets : sequence of str

    Returns
    -------
    TdRocCurves
        A curve that is undefined (no case or no control at the horizon) is not drawn and
        is recorded in ``skipped`` with the reason.
    """
    curves, aucs, skipped = {}, {}, []
    for s in sets:
        sel = (outcome["split"] == s).to_numpy()
        for h in horizons:
            per, auc = {}, {}
            for k in models:
                ok = sel & scores[k].notna().to_numpy()
                try:
                    per[k] = td_roc_curve(outcome.loc[ok, "time"], outcome.loc[ok, "event"], scores.loc[ok, k], h)
                except ValueError as error:
                    skipped.append({"set": s, "horizon": float(h), "model": k, "reason": str(error)})
                    continue
                if discrimination is not None and not discrimination.empty:
                    d = discrimination
                    a = d[(d["model"] == k) & (d["set"] == s) & (d["measure"] == "td_auc") & (d["horizon"] == h)]
                    if len(a):
                        auc[k] = float(a["estimate"].iloc[0])
            curves[(s, h)], aucs[(s, h)] = per, auc
    return TdRocCurves(curves, aucs, skipped)


def oracle_c(outcome: pd.DataFrame, eta: pd.Series | None,
             sets: Sequence[str] = ("internal", "external")) -> dict[str, float] | None:
    """Harrell's C of the twin's true linear predictor (the oracle: what no model can beat
    on average) in each set, as 03 reports it
    (:func:`radsurv.signatures.evaluation.oracle_discrimination`: one computation).

    Parameters
    ----------
    outcome : DataFrame
        ``split``, ``time``, ``event`` (index: patient).
    eta : Series or None
        The true linear predictor per patient (``read_oracle``); None for a user's cohort.
    sets : sequence of str

    Returns
    -------
    dict of str to float, or None
        Set -> C (a set without events has none); None when there is no truth.
    """
    table = oracle_discrimination(eta, outcome)
    if table is None:
        return None
    c = table.set_index("set")["c"]
    return {s: float(c[s]) for s in sets if s in c.index}


def published_comparison(disc: pd.DataFrame, oracle: Mapping[str, float] | None,
                         published: Mapping[str, Mapping[str, float | None]]) -> pd.DataFrame:
    """Each model's C per test set beside the study's published values and the oracle, with
    the share of the oracle's gain over the clinical model that the model recovers on the
    external set: (C_model - C_clinical) / (C_oracle - C_clinical).

    Parameters
    ----------
    disc : DataFrame
        :func:`model_discrimination`'s table.
    oracle : mapping or None
        Set -> the oracle's C (:func:`oracle_c`).
    published : mapping
        Model -> {set -> published C or None}.

    Returns
    -------
    DataFrame
        ``model``, ``c_<set>``, ``published_<set>`` and, with an oracle, ``oracle_external``
        and ``recovery_external``.
    """
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
    # no row without an external C (no external set, or no event in it): the columns still
    return pd.DataFrame(rows, columns=None if rows else ["model", "c_internal", "published_internal", "c_external",
                                                         "published_external"])


#: The names of the reference marks of the C-per-model figure.
ORACLE_MARK, PUBLISHED_MARK = "Oracle (true linear predictor)", "Published clinical imaging model"


@dataclass(repr=False)
class PublishedComparison(ShowsItself):
    """Each model's C beside the study's published values and the twin's oracle.

    ``plot(ax)`` is the paper's C-per-model figure (``fig-c-models.png``): the
    discrimination's Harrell's C with the oracle and the published clinical imaging model
    as reference marks.

    Attributes
    ----------
    table : DataFrame
        :func:`published_comparison`'s table.
    oracle : dict or None
        Set -> the oracle's C (None for a user's cohort).
    discrimination : Discrimination
    references : dict
        Mark name -> {set -> C}.
    """

    table: pd.DataFrame
    oracle: dict[str, float] | None
    discrimination: Discrimination
    references: dict[str, dict[str, float]] = field(default_factory=dict)

    def title(self) -> str:
        oracle = (f"oracle C, external {self.oracle['external']:.3f}" if self.oracle is not None
                  else "no oracle (not a simulated cohort)")
        return f"The models' C beside the published study's; {oracle}"

    def summary(self) -> pd.DataFrame:
        """:attr:`table` indexed by model name."""
        if self.table.empty:
            return self.table
        return self.table.assign(model=self.table["model"].map(MODELS)).set_index("model")

    def plot(self, ax=None, **kwargs):
        """Harrell's C per model and set with the oracle and published marks (``fig-c-models.png``)."""
        return self.discrimination.plot(ax=ax, reference=self.references)


def compare_with_published(discrimination: Discrimination, oracle: Mapping[str, float] | None,
                           published: Mapping[str, Mapping[str, float | None]]) -> PublishedComparison:
    """The models' C beside the published study's and the oracle's, with the figure's marks.

    Parameters
    ----------
    discrimination : Discrimination
    oracle : mapping or None
        :func:`oracle_c`.
    published : mapping
        Model -> {set -> published C or None} (the profile's ``models.published_c``).

    Returns
    -------
    PublishedComparison
        Its ``references`` mark the oracle (when simulated) and the published clinical
        imaging model (the sets where the study reported one).
    """
    references: dict[str, dict[str, float]] = {}
    if oracle is not None and "external" not in oracle:
        oracle = None   # the external set has no event (or no patient): the oracle's gain is not estimable
    if oracle is not None:
        references[ORACLE_MARK] = dict(oracle)
    pub_imaging = published.get("imaging") or {}
    if any(v is not None for v in pub_imaging.values()):
        references[PUBLISHED_MARK] = {k: v for k, v in pub_imaging.items() if v is not None}
    return PublishedComparison(published_comparison(discrimination.table, oracle, published),
                               None if oracle is None else dict(oracle), discrimination, references)

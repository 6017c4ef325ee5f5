"""The cohort by set: sizes, events, follow-up, DFS at landmarks and the log-rank test across sets.

Every number comes from :mod:`radsurv.stats` (Kaplan-Meier with log-log CIs, the
log-rank test, the reverse Kaplan-Meier median follow-up), matched to R's survival.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..labels import SPLIT_LABELS, SPLITS
from ..report.formatting import format_p
from ..results import ShowsItself
from ..stats import kaplan_meier, logrank, median_survival
from .manifest import to_months

__all__ = ["KM_CONF_TYPE", "CohortSets", "cohort_summary", "describe_sets", "median_follow_up"]

#: The confidence interval of the Kaplan-Meier estimates the paper reports: R's
#: ``conf.type = "log-log"`` (stays inside [0, 1]; lifelines' default too).
KM_CONF_TYPE = "log-log"


def _pct(x: float, decimals: int = 1) -> str:
    return f"{100 * x:.{decimals}f}"


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan-Meier method (censoring as the event;
    Schemper & Smith 1996), as R's ``survfit(Surv(time, 1 - event) ~ 1)`` median."""
    return median_survival(time, 1 - np.asarray(event, dtype=int)).median


def cohort_summary(data: pd.DataFrame, time_months: np.ndarray, landmarks: list[float]) -> dict:
    """Numbers of the cohort for the manuscript's variables (strings, formatted once here).

    Parameters
    ----------
    data : DataFrame
        The cohort: ``dfs_event``, ``split``, ``center`` and optionally ``age``.
    time_months : ndarray
        Follow-up in months.
    landmarks : list of float
        Months at which DFS is reported (12, 36, 60 give ``dfs_1y``, ``dfs_3y``, ``dfs_5y``).

    Returns
    -------
    dict
        Counts, event rates, median follow-up, DFS with 95% CI (log-log) overall and per
        set, and the log-rank test across sets, with the words the text uses for it.
    """
    event = data["dfs_event"].to_numpy(dtype=int)
    split = data["split"].to_numpy()
    out: dict[str, Any] = {
        "n_total": int(len(data)),
        "n_events": int(event.sum()),
        "event_rate_pct": _pct(event.mean()),
        "n_centres": int(data["center"].nunique()),
        "median_followup_months": f"{median_follow_up(time_months, event):.1f}",
        "age_mean": f"{data['age'].mean():.1f}" if "age" in data else "NA",
        "age_sd": f"{data['age'].std():.1f}" if "age" in data else "NA",
    }
    for s in SPLITS:
        sel = split == s
        out[s] = {
            "n": int(sel.sum()),
            "events": int(event[sel].sum()),
            "event_rate_pct": _pct(event[sel].mean()) if sel.any() else "NA",
            "median_followup_months": f"{median_follow_up(time_months[sel], event[sel]):.1f}" if sel.any() else "NA",
        }
        # Every landmark key exists, so that the paper's references resolve on any cohort (a
        # set without patients, or followed short of a landmark, has no estimate: "–").
        for m in landmarks:
            out[s][f"dfs_{int(round(m / 12))}y"] = "–"
            out[s][f"dfs_{int(round(m / 12))}y_ci"] = "not estimable"
        if not sel.any():
            continue
        km = kaplan_meier(time_months[sel], event[sel], times=landmarks, conf_type=KM_CONF_TYPE)
        for r in km.itertuples(index=False):
            key = f"dfs_{int(round(r.time / 12))}y"
            # Before the first event the CI is undefined (R's NA): S = 1 exactly.
            lower = r.lower if np.isfinite(r.lower) else 1.0
            upper = r.upper if np.isfinite(r.upper) else 1.0
            out[s][key] = f"{100 * r.survival:.1f}"
            out[s][key + "_ci"] = f"{100 * lower:.1f}-{100 * upper:.1f}"
    overall = kaplan_meier(time_months, event, times=landmarks, conf_type=KM_CONF_TYPE)
    for r in overall.itertuples(index=False):
        out[f"dfs_{int(round(r.time / 12))}y"] = f"{100 * r.survival:.1f}"
    lr = logrank(time_months, event, split)
    out["logrank_sets_p"] = format_p(lr.p, missing=None)
    # Words for the text, chosen by the result (the manuscript types no conclusion).
    out["sets_comparison"] = "no clear difference between the sets" if lr.p >= 0.05 else "a difference between the sets"
    out["logrank_sets_chisq"] = f"{lr.statistic:.2f}"
    return out


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


@dataclass(repr=False)
class CohortSets(ShowsItself):
    """The three sets' outcomes: sizes, events, median follow-up, DFS at the landmarks and
    the log-rank test across sets (:func:`cohort_summary`'s numbers).

    Shown by one row per set (:meth:`summary`) and the Kaplan-Meier curves by set with the
    numbers at risk (:meth:`plot`, the paper's figure).

    Attributes
    ----------
    time : ndarray
        Follow-up in months.
    event : ndarray
        DFS event (0/1).
    split : ndarray
        ``train``, ``internal`` or ``external``.
    landmarks : list of float
        Months of the DFS estimates.
    numbers : dict
        :func:`cohort_summary` (the manuscript's ``cohort`` variables, as strings).
    """

    time: np.ndarray
    event: np.ndarray
    split: np.ndarray
    landmarks: list[float]
    numbers: dict

    @property
    def annotation(self) -> str:
        """The log-rank line printed on the Kaplan-Meier figure."""
        return f"Log-rank test across sets: p = {self.numbers['logrank_sets_p']}"

    def title(self) -> str:
        n = self.numbers
        p = str(n["logrank_sets_p"])
        p = p.replace("<", "< ") if p.startswith("<") else f"= {p}"
        return (f"{n['n_total']} patients, {n['n_events']} DFS events, median follow-up "
                f"{n['median_followup_months']} months (reverse Kaplan-Meier); log-rank test across sets: "
                f"chi-square {n['logrank_sets_chisq']}, p {p}")

    def summary(self) -> pd.DataFrame:
        """Per set: ``patients``, ``events``, ``event_rate_pct``, ``median_followup_months``
        and, per landmark, DFS in % (Kaplan-Meier) with its 95% CI (log-log)."""
        rows = []
        for s in SPLITS:
            v = self.numbers[s]
            row: dict[str, Any] = {"set": SPLIT_LABELS[s], "patients": v["n"], "events": v["events"],
                                   "event_rate_pct": _number(v["event_rate_pct"]),
                                   "median_followup_months": _number(v["median_followup_months"])}
            for t in self.landmarks:
                key = f"dfs_{int(round(t / 12))}y"
                row[f"{key}_pct"] = _number(v.get(key))
                row[f"{key}_ci"] = v.get(key + "_ci", "NA")
            rows.append(row)
        return pd.DataFrame(rows).set_index("set")

    def plot(self, ax=None):
        """Kaplan-Meier DFS by set with 95% CI bands and the log-rank p; with ``ax`` None
        the paper's figure, numbers at risk under the curves. Returns the curves' Axes."""
        from ..plots.km import km_plot
        from ..plots.style import SET_COLORS

        return km_plot(self.time, self.event, self.split, ax, order=SPLITS, labels=SPLIT_LABELS, colors=SET_COLORS,
                       annotation=self.annotation)


def describe_sets(data: pd.DataFrame, time_unit: str, landmarks: Sequence[float]) -> CohortSets:
    """The cohort's sets (:class:`CohortSets`) from the validated cohort.

    Parameters
    ----------
    data : DataFrame
        ``dfs_time`` (in ``time_unit``), ``dfs_event``, ``split``, ``center``, optionally ``age``.
    time_unit : str
        ``months`` or ``days`` (the profile's ``time_unit``).
    landmarks : sequence of float
        Months of the DFS estimates (``cohort.landmarks_months``).

    Returns
    -------
    CohortSets
    """
    time = to_months(data["dfs_time"], time_unit)
    marks = [float(x) for x in landmarks]
    return CohortSets(time=time, event=data["dfs_event"].to_numpy(dtype=int), split=data["split"].to_numpy(),
                      landmarks=marks, numbers=cohort_summary(data, time, marks))

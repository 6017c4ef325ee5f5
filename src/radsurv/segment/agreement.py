"""How well the masks agree with the reference, how they fail, what the failure policy
did, and the example cases: results that show themselves.

* :class:`SegmentationAgreement`: Dice, HD95 and volume difference per case (the rows of
  :func:`radsurv.segment.metrics.evaluate`), shown as the paper's table
  (:func:`segmentation_table`) and as boxes per set and method;
* :func:`agreement_metrics`: the held-out and cohort rows in the stage's order, each
  failure classified (:func:`radsurv.segment.metrics.failure_kinds`);
* :class:`SegmentationFailures`: the U-Net's failures by kind and set, both those its own
  checks catch (no lesion found, a mask at the image border) and those only the
  reference shows (Dice below ``segmentation.failure_dice``);
* :class:`PolicyOutcome`: which mask each patient keeps after the failure policy, and
  the patient-flow events it makes;
* :class:`Overlays`: the example cases of the paper's figure, one panel each.

Summaries hold counts and medians only: no patient identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import METHOD_LABELS, MODALITIES, MODALITY_LABELS, SET_LABELS, SPLITS
from ..results import ShowsItself, new_axes
from .metrics import FAILURE_KINDS, failure_kinds, summary_table
from .postprocess import BORDER, EMPTY

__all__ = ["FALLBACK_REASON", "FALLBACK_REASONS", "METRIC_COLUMNS", "NO_SEGMENTATION", "Overlays", "PolicyOutcome",
           "SET_ORDER", "SegmentationAgreement", "SegmentationFailures", "agreement_metrics", "agreement_table",
           "failure_counts", "median_dice", "segmentation_table"]

#: The columns of :func:`radsurv.segment.metrics.evaluate`'s rows, for a run that evaluates nothing.
METRIC_COLUMNS = ["case_id", "modality", "method", "set", "dice", "hd95_mm", "rel_volume_diff"]
#: The sets in the order the paper lists them: the held-out development test, then the cohort's.
SET_ORDER = ["devtest", *SPLITS]
#: The agreement table of a run that segmented nothing (``segmentation.use_supplied_masks``).
NO_SEGMENTATION = ("No automatic segmentation was run: the analysis used the lesion masks supplied with the images "
                   "(segmentation.use_supplied_masks: true).")


def segmentation_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Dice, HD95 and relative volume difference, median [IQR], by modality, method and set.

    Parameters
    ----------
    metrics : DataFrame
        Rows of :func:`radsurv.segment.metrics.evaluate` with ``modality``, ``method``
        and ``set``.

    Returns
    -------
    DataFrame
        ``Modality, Set, Method, n, Dice, HD95, mm, Relative volume difference`` (and
        ``HD95 undefined, n`` where a mask was empty), in the paper's order and words.
    """
    m = metrics.copy()
    m["set"] = pd.Categorical(m["set"], categories=SET_ORDER)
    m["method"] = pd.Categorical(m["method"], categories=list(METHOD_LABELS))
    m["modality"] = pd.Categorical(m["modality"], categories=list(MODALITY_LABELS))
    m = m.sort_values(["modality", "set", "method"])
    t = summary_table(m, by=("modality", "set", "method"), metrics=("dice", "hd95_mm", "rel_volume_diff"))
    t = t[t["n"] > 0].copy()
    t["modality"] = t["modality"].map(MODALITY_LABELS)
    t["set"] = t["set"].map(SET_LABELS)
    t["method"] = t["method"].map(METHOD_LABELS)
    t = t.rename(columns={"modality": "Modality", "set": "Set", "method": "Method", "dice": "Dice",
                          "hd95_mm": "HD95, mm", "rel_volume_diff": "Relative volume difference"})
    if "n_hd95_undefined" in t:
        t = t.rename(columns={"n_hd95_undefined": "HD95 undefined, n"})
        t["HD95 undefined, n"] = t["HD95 undefined, n"].fillna(0).astype(int)
    return t.reset_index(drop=True)


def agreement_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """The paper's segmentation table: :func:`segmentation_table`, or one row saying that
    nothing was segmented when there are no metrics."""
    if metrics.empty:
        return pd.DataFrame({"Segmentation": [NO_SEGMENTATION]})
    return segmentation_table(metrics)


def median_dice(metrics: pd.DataFrame, modality: str, method: str, set_: str) -> float:
    """Median Dice of one modality, method and set (NaN when it has no case)."""
    sel = (metrics["modality"] == modality) & (metrics["method"] == method) & (metrics["set"] == set_)
    return float(np.median(metrics.loc[sel, "dice"])) if sel.any() else float("nan")


def failure_counts(metrics: pd.DataFrame, modality: str, set_: str = "external", method: str = "unet") -> dict[str, int]:
    """How many of a set's automatic masks failed, by kind (``failure`` column of the
    metrics), with ``n`` (cases) and ``failed`` (all kinds)."""
    sel = metrics[(metrics["modality"] == modality) & (metrics["method"] == method) & (metrics["set"] == set_)]
    out = {"n": int(len(sel)), "failed": int((sel["failure"] != "").sum()) if "failure" in sel else 0}
    for kind in FAILURE_KINDS:
        out[kind] = int((sel["failure"] == kind).sum()) if "failure" in sel else 0
    return out


def agreement_metrics(hold_out: Mapping[str, pd.DataFrame], cohort: Mapping[str, pd.DataFrame],
                      failure_dice: float) -> pd.DataFrame:
    """Every case's agreement, modality by modality (held-out development test, then the
    cohort's sets), each failed case classified by kind.

    Parameters
    ----------
    hold_out : mapping
        Modality -> the held-out part's rows (:func:`radsurv.segment.stage.evaluate_devset_holdout`).
    cohort : mapping
        Modality -> the cohort's rows (:func:`radsurv.segment.stage.segment_modality`).
    failure_dice : float
        ``segmentation.failure_dice``: Dice below which a mask has failed.

    Returns
    -------
    DataFrame
        The rows with a ``failure`` column (:func:`radsurv.segment.metrics.failure_kinds`);
        :data:`METRIC_COLUMNS` and no row when nothing was segmented.
    """
    frames = [f for m in cohort for f in (hold_out.get(m, pd.DataFrame(columns=METRIC_COLUMNS)), cohort[m])]
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=METRIC_COLUMNS)
    if not metrics.empty:
        metrics = metrics.assign(failure=failure_kinds(metrics, failure_dice))
    return metrics


def _reference_words(reference: str) -> str:
    return {"truth": "the true masks", "reader": "the reader's masks"}.get(reference, reference)


_METHOD_COLOURS = {"unet": "#56B4E9", "baseline": "#D55E00", "reader": "#E6B800"}
_METRIC_LABELS = {"dice": "Dice", "hd95_mm": "HD95, mm", "rel_volume_diff": "relative volume difference"}


@dataclass(repr=False, eq=False)
class SegmentationAgreement(ShowsItself):
    """Agreement of the segmenters with the reference, per case.

    Attributes
    ----------
    metrics : DataFrame
        Rows of :func:`radsurv.segment.metrics.evaluate` (``modality``, ``method``,
        ``set``, ``dice``, ``hd95_mm``...; ``case_id`` is never shown).
    reference : str
        ``"truth"`` (the twin's true masks) or ``"reader"`` (a user's cohort, where no
        truth exists), or the reference's words.
    frames : dict, optional
        The rows per modality as they were computed (:func:`agreement_metrics` keeps
        their order).
    """

    metrics: pd.DataFrame
    reference: str = "truth"
    frames: Mapping[str, pd.DataFrame] | None = None

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame], reference: str = "truth") -> "SegmentationAgreement":
        """The agreement of per-modality rows (kept in :attr:`frames`)."""
        metrics = (pd.concat(list(frames.values()), ignore_index=True) if frames
                   else pd.DataFrame(columns=METRIC_COLUMNS))
        return cls(metrics, reference, dict(frames))

    def _fitted(self) -> bool:
        return not self.metrics.empty

    def title(self) -> str:
        if self.metrics.empty:
            return "Segmentation agreement: no automatic mask was scored"
        sets = [s for s in SET_ORDER if (self.metrics["set"] == s).any()]
        last = "external" if "external" in sets else sets[-1]
        parts = []
        for m in [m for m in MODALITY_LABELS if (self.metrics["modality"] == m).any()]:
            d = {k: median_dice(self.metrics, m, k, last) for k in METHOD_LABELS}
            parts.append(f"{MODALITY_LABELS[m]} " + ", ".join(
                f"{METHOD_LABELS[k]} {v:.2f}" for k, v in d.items() if not np.isnan(v)))
        return (f"Agreement with {_reference_words(self.reference)}, median Dice on the "
                f"{SET_LABELS[last].lower()} set: " + "; ".join(parts))

    def summary(self) -> pd.DataFrame:
        """The paper's table (:func:`agreement_table`): median [IQR] per modality, set and method."""
        return agreement_table(self.metrics)

    def plot(self, ax=None, metric: str = "dice", modality: str | None = None):
        """Boxes of one measure per set, one per method (U-Net, classical, reader).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (None: a new figure).
        metric : str
            ``"dice"``, ``"hd95_mm"`` or ``"rel_volume_diff"``.
        modality : str, optional
            Which modality (default: the first with rows).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from matplotlib.patches import Patch

        ax = new_axes(ax, (5.5, 3.4))
        m = self.metrics
        modality = modality or next((k for k in MODALITY_LABELS if (m["modality"] == k).any()), None)
        m = m[m["modality"] == modality]
        sets = [s for s in SET_ORDER if (m["set"] == s).any()]
        if not sets:
            from ..plots.style import message_panel

            return message_panel(ax, "No segmentation to compare: no mask was scored")
        methods = [k for k in METHOD_LABELS if (m["method"] == k).any()]
        width = 0.8 / max(1, len(methods))
        for i, s in enumerate(sets):
            for j, k in enumerate(methods):
                x = m.loc[(m["set"] == s) & (m["method"] == k), metric].astype(float).dropna().to_numpy()
                if not x.size:
                    continue
                pos = i + (j - (len(methods) - 1) / 2) * width
                box = ax.boxplot(x, positions=[pos], widths=width * 0.85, patch_artist=True, showfliers=True,
                                 flierprops={"markersize": 2})
                for patch in box["boxes"]:
                    patch.set_facecolor(_METHOD_COLOURS.get(k, "grey"))
                    patch.set_alpha(0.8)
        ax.set_xticks(range(len(sets)), [SET_LABELS[s] for s in sets])
        ax.set_xlim(-0.6, len(sets) - 0.4)
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.set_title(MODALITY_LABELS.get(modality, "") if modality else "")
        ax.legend(handles=[Patch(color=_METHOD_COLOURS.get(k, "grey"), label=METHOD_LABELS[k]) for k in methods],
                  fontsize="small")
        return ax


@dataclass(repr=False, eq=False)
class SegmentationFailures(ShowsItself):
    """The U-Net's failures by kind, per modality and set.

    Two kinds of failure, found two ways:

    * the **checks** every automatic mask goes through, which need no reference and so
      work on any cohort (``flag`` of the segmentation table): no lesion found
      (``empty``), or a lesion within ``segmentation.border_margin_mm`` of the image
      border (``border``); a mask that fails them goes to the failure policy;
    * **Dice below** ``failure_dice`` against the reference, classified by how the mask
      failed (:data:`radsurv.segment.metrics.FAILURE_KINDS`): found no lesion, lay on
      another structure, missed part of the lesion, leaked beyond it. These are measured,
      never acted on (the analysis cannot know the reference).

    Attributes
    ----------
    metrics : DataFrame
        :func:`agreement_metrics` (with ``failure``).
    tables : dict
        Modality -> the segmentation table (``patient_id``, ``flag``).
    failure_dice : float
    """

    metrics: pd.DataFrame
    tables: Mapping[str, pd.DataFrame]
    failure_dice: float

    def _fitted(self) -> bool:
        return not self.metrics.empty

    def _unet(self) -> pd.DataFrame:
        m = self.metrics
        if m.empty:
            return m
        return m[m["method"] == "unet"]

    def summary(self) -> pd.DataFrame:
        """Per modality and set: the U-Net's images, those its checks flagged (empty,
        border; not applied to the held-out development test), and those with a Dice below
        ``failure_dice``, in all and by kind."""
        u = self._unet()
        rows = []
        for modality in [k for k in MODALITY_LABELS if (u["modality"] == k).any()] if len(u) else []:
            um = u[u["modality"] == modality]
            flags = {}
            if modality in self.tables and "flag" in self.tables[modality]:
                flags = dict(zip(self.tables[modality]["patient_id"].astype(str), self.tables[modality]["flag"]))
            for s in SET_ORDER:
                sel = um[um["set"] == s]
                if sel.empty:
                    continue
                row: dict[str, Any] = {"modality": MODALITY_LABELS[modality], "set": SET_LABELS[s], "n": len(sel)}
                f = [flags.get(str(c)) for c in sel["case_id"]] if s != "devtest" else None
                row["check: empty"] = sum(v == EMPTY for v in f) if f is not None else np.nan
                row["check: border"] = sum(v == BORDER for v in f) if f is not None else np.nan
                row[f"Dice < {self.failure_dice:.2f}"] = int((sel["failure"] != "").sum())
                for kind, words in FAILURE_KINDS.items():
                    row[words] = int((sel["failure"] == kind).sum())
                rows.append(row)
        return pd.DataFrame(rows)

    def title(self) -> str:
        if self.metrics.empty:
            return "Segmentation failures: no automatic mask was made"
        t = self.summary()
        cohort = t[t["set"] != SET_LABELS["devtest"]]
        checks = int(cohort["check: empty"].sum() + cohort["check: border"].sum())
        failed = int(cohort[f"Dice < {self.failure_dice:.2f}"].sum())
        return (f"U-Net failures in the cohort: {checks} of {int(cohort['n'].sum())} masks caught by the checks "
                f"(empty or at the border), {failed} with a Dice below {self.failure_dice:.2f}")

    def plot(self, ax=None, modality: str | None = None):
        """Counts by kind per set: for each set a bar of the checks' failures (empty,
        border) beside a bar of the Dice failures by kind.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (None: a new figure).
        modality : str, optional
            Only this modality (default: every modality, side by side).

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = new_axes(ax, (7.5, 3.8))
        t = self.summary()
        if modality is not None and len(t):
            t = t[t["modality"] == MODALITY_LABELS[modality]]
        if t.empty:
            ax.text(0.5, 0.5, "No automatic mask", ha="center", va="center", transform=ax.transAxes)
            return ax
        colours = {"check: empty": "#999999", "check: border": "#555555", "none": "#CC79A7",
                   "elsewhere": "#E69F00", "missed_part": "#56B4E9", "leak": "#D55E00"}
        labels = {"check: empty": "check: no lesion", "check: border": "check: at the border",
                  **{k: f"Dice: {v}" for k, v in FAILURE_KINDS.items()}}
        columns = {"check: empty": "check: empty", "check: border": "check: border", **FAILURE_KINDS}
        x = np.arange(len(t))
        for offset, kinds in ((-0.2, ["check: empty", "check: border"]), (0.2, list(FAILURE_KINDS))):
            bottom = np.zeros(len(t))
            for kind in kinds:
                v = t[columns[kind]].fillna(0).to_numpy(dtype=float)
                ax.bar(x + offset, v, width=0.38, bottom=bottom, color=colours[kind], label=labels[kind])
                bottom += v
        ax.set_xticks(x, [f"{r['modality']} · {r['set']}" for _, r in t.iterrows()], rotation=30, ha="right",
                      fontsize="small")
        ax.set_ylabel("masks")
        ax.set_title(f"U-Net failures: the checks (left bar), Dice below {self.failure_dice:.2f} (right bar)")
        ax.legend(fontsize="x-small", ncol=2)
        return ax


#: How a fallback to the reader's mask reads in the patient flow (any failure).
FALLBACK_REASON = "Automatic mask failed the checks and was replaced by the reader's"
#: The same, by kind of failure (``SegmentationFlag`` kinds), so that the flow counts them.
FALLBACK_REASONS = {
    EMPTY: "No lesion found by the U-Net (a missed lesion); the reader's mask was used",
    BORDER: "The U-Net's mask reached the image border (a leak beyond the lesion); the reader's mask was used",
}


@dataclass(repr=False, eq=False)
class PolicyOutcome(ShowsItself):
    """Which mask each patient keeps after the failure policy.

    Attributes
    ----------
    tables : dict
        Modality -> the segmentation table after the policy (``patient_id, modality,
        mask, source, auto_mask, flag, reason, action, baseline_mask``).
    policy : str
        ``segmentation.policy``: ``"reader"`` or ``"exclude"``.
    """

    tables: Mapping[str, pd.DataFrame]
    policy: str

    @property
    def table(self) -> pd.DataFrame:
        """Every modality's rows, one table (patient identifiers: never display it)."""
        return pd.concat(list(self.tables.values()), ignore_index=True)

    def excluded(self) -> pd.DataFrame:
        """``patient_id, modality, reason`` of the patients left without a usable mask."""
        seg = self.table
        return seg[seg["source"] == "excluded"][["patient_id", "modality", "reason"]]

    def flow_events(self) -> list[tuple[str, str, list, str]]:
        """The patient-flow events, in the order the flow records them: per modality the
        exclusions, then the fallbacks to the reader's mask by kind of failure.

        Returns
        -------
        list of (kind, reason, patient identifiers, modality)
            ``kind`` is ``"excluded"`` or ``"fallback"``; an event may name no patient
            (the flow then records nothing).
        """
        seg = self.table
        excluded = self.excluded()
        events = [("excluded", f"no usable {MODALITY_LABELS[m]} mask",
                   list(excluded.loc[excluded["modality"] == m, "patient_id"]), m) for m in MODALITIES]
        fallback = seg[seg["source"] == "reader"]
        kinds = fallback["flag"] if "flag" in fallback else pd.Series("", index=fallback.index)
        for m in MODALITIES:
            for kind, reason in FALLBACK_REASONS.items():
                events.append(("fallback", reason,
                               list(fallback.loc[(fallback["modality"] == m) & (kinds == kind), "patient_id"]), m))
            other = (fallback["modality"] == m) & ~kinds.isin(list(FALLBACK_REASONS))
            events.append(("fallback", FALLBACK_REASON, list(fallback.loc[other, "patient_id"]), m))
        return events

    def summary(self) -> pd.DataFrame:
        """Per modality: the images, and which mask the analysis uses (the U-Net's, the
        reader's after each kind of failure, the supplied one) or whether the patient is
        excluded."""
        rows = []
        for m, t in self.tables.items():
            src, flag = t["source"], t["flag"] if "flag" in t else pd.Series(None, index=t.index)
            rows.append({"modality": MODALITY_LABELS[m], "images": len(t), "U-Net's mask": int((src == "auto").sum()),
                         "reader's (U-Net found none)": int(((src == "reader") & (flag == EMPTY)).sum()),
                         "reader's (U-Net at the border)": int(((src == "reader") & (flag == BORDER)).sum()),
                         "supplied mask": int((src == "user").sum()), "excluded": int((src == "excluded").sum())})
        return pd.DataFrame(rows)

    def title(self) -> str:
        if not self.tables:
            return f"Failure policy {self.policy!r}: no image"
        seg = self.table
        return (f"Failure policy {self.policy!r}: {int((seg['source'] == 'reader').sum())} masks replaced by the "
                f"reader's, {int(seg.loc[seg['source'] == 'excluded', 'patient_id'].nunique())} patients excluded")


@dataclass(repr=False, eq=False)
class Overlays(ShowsItself):
    """The example cases of the paper's segmentation figure, one panel each.

    Attributes
    ----------
    examples : list of dict
        :func:`radsurv.segment.stage.overlay_examples` (paths to the image and masks, a
        title without identifier, the modality).
    """

    examples: Sequence[Mapping[str, Any]]

    def _fitted(self) -> bool:
        return bool(self.examples)

    def title(self) -> str:
        if not self.examples:
            return "Overlay examples: no panel"
        per = ", ".join(f"{MODALITY_LABELS[m]} {n}" for m in MODALITY_LABELS
                        if (n := sum(e["modality"] == m for e in self.examples)))
        return f"Overlay examples: {len(self.examples)} panels ({per})"

    def summary(self) -> pd.DataFrame:
        """One row per panel: its modality, its title and the contours it draws."""
        from ..plots.segmentation import CONTOURS

        return pd.DataFrame([{"panel": k + 1, "modality": MODALITY_LABELS[e["modality"]],
                              "title": str(e.get("title", "")).replace("\n", " "),
                              "contours": ", ".join(CONTOURS[c]["label"] for c in CONTOURS if c in e)}
                             for k, e in enumerate(self.examples)])

    def layout(self) -> tuple[list[Mapping[str, Any] | None], int]:
        """The panels in the figure's order, one row per modality padded with None, and
        the number of columns."""
        rows = [[e for e in self.examples if e["modality"] == m] for m in MODALITIES]
        rows = [r for r in rows if r]
        ncol = max(len(r) for r in rows)
        return [e for r in rows for e in r + [None] * (ncol - len(r))], ncol

    def plot(self, ax=None, panel: int = 0, margin_mm: float = 12.0):
        """One panel: the image cropped around the masks, with each mask's contour.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..plots.segmentation import contour_handles, overlay_panel
        from ..plots.style import message_panel

        ax = new_axes(ax, (3.2, 3.2))
        if not self.examples:
            ax.axis("off")
            return message_panel(ax, "No example to draw")
        used = overlay_panel(ax, self.examples[panel], margin_mm, title=f"Case {panel + 1}")
        ax.legend(handles=contour_handles(used), loc="upper right", fontsize="x-small")
        return ax

    def figure(self):
        """The paper's figure: one row per modality (the 10th, 50th and 90th percentile
        cases, then the failures), a legend under it.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots.segmentation import overlay_grid

        if not self.examples:
            raise ValueError("no example to draw")
        panels, ncol = self.layout()
        return overlay_grid(panels, columns=ncol)

"""The cohort's images as the paper describes them: example cases and per-centre statistics.

:func:`example_patients` chooses, per centre, a low- and a high-risk example from the
observed outcome; :func:`example_cases` gathers their image and mask files;
:class:`CohortImaging` holds the per-centre image statistics
(:func:`radsurv.plots.imaging.image_statistics_table`), the examples and the imaging
variables of the manuscript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..labels import centre_sort_key
from ..results import ShowsItself, new_axes

__all__ = ["CohortImaging", "STATISTIC_NAMES", "example_cases", "example_patients", "imaging_statistics"]


def example_patients(data: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(centre, risk, patient_id) examples per centre chosen from the observed outcome
    (no truth needed, so the same works on a user's cohort): the earliest event is the
    high-risk example, the longest event-free follow-up the low-risk one."""
    out = []
    for center in sorted(data["center"].astype(str).unique(), key=centre_sort_key):
        grp = data[data["center"].astype(str) == center]
        events = grp[grp["dfs_event"] == 1]
        free = grp[grp["dfs_event"] == 0]
        if len(free):
            out.append((center, "low", free.sort_values(["dfs_time", "patient_id"]).iloc[-1]["patient_id"]))
        if len(events):
            out.append((center, "high", events.sort_values(["dfs_time", "patient_id"]).iloc[0]["patient_id"]))
    return out


def example_cases(data: pd.DataFrame, truth: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """The files of :func:`example_patients`' examples, as the example figure draws them.

    Parameters
    ----------
    data : DataFrame
        The cohort (``patient_id``, ``center``, ``dfs_time``, ``dfs_event`` and, per
        modality ``m``, ``m_image`` and ``m_mask``, the reader's mask).
    truth : DataFrame, optional
        The twin's truth with ``m_true_mask``: then ``m_mask`` is the true lesion and the
        manifest's mask is drawn as the reader's.

    Returns
    -------
    list of dict
        ``center``, ``risk`` and, where present, ``m_image``, ``m_mask``,
        ``m_reader_mask`` (paths as given). The patient is not named.
    """
    rows = data.set_index("patient_id")
    true = truth.set_index("patient_id") if truth is not None else None
    cases = []
    for center, risk, pid in example_patients(data):
        case: dict[str, Any] = {"center": center, "risk": risk}
        for m in ("us", "mri"):
            if f"{m}_image" in rows.columns and pd.notna(rows.loc[pid, f"{m}_image"]):
                case[f"{m}_image"] = rows.loc[pid, f"{m}_image"]
                if true is not None:
                    # The twin knows the true lesion; the manifest's mask is the reader's.
                    case[f"{m}_mask"] = true.loc[pid, f"{m}_true_mask"]
                    case[f"{m}_reader_mask"] = rows.loc[pid, f"{m}_mask"]
                elif f"{m}_mask" in rows.columns and pd.notna(rows.loc[pid, f"{m}_mask"]):
                    case[f"{m}_reader_mask"] = rows.loc[pid, f"{m}_mask"]
        cases.append(case)
    return cases


#: Printed names of :func:`radsurv.plots.imaging.image_statistics_table`'s columns.
STATISTIC_NAMES = {
    "center": "Centre", "modality": "Modality", "n": "n", "spacing_x_mm": "Spacing x, mm",
    "spacing_y_mm": "Spacing y, mm",
    "spacing_z_mm": "Spacing z, mm", "size_x": "Size x", "size_y": "Size y", "size_z": "Size z",
    "intensity_mean": "Intensity mean", "intensity_sd": "Intensity SD", "lesion_area_mm2": "Lesion area, mm²",
    "lesion_volume_mm3": "Lesion volume, mm³", "snr": "SNR",
}


def imaging_statistics(stats: pd.DataFrame) -> pd.DataFrame:
    """The per-centre image statistics as the paper prints them (3 significant digits)."""
    shown = stats.copy()
    for c in shown.columns:
        if shown[c].dtype.kind == "f":
            shown[c] = shown[c].map(lambda v: f"{v:.3g}")
    shown = shown.replace("nan", "–")
    shown["modality"] = shown["modality"].str.upper()
    shown.columns = [STATISTIC_NAMES.get(c, c.replace("_", " ")) for c in shown.columns]
    return shown


@dataclass(repr=False)
class CohortImaging(ShowsItself):
    """The cohort's images: per-centre statistics, example cases and the imaging variables.

    Shown by the statistics per centre and modality (:meth:`summary`), a bar chart of one
    of them (:meth:`plot`), the paper's example figure (:meth:`plot_examples`) and one
    example's images (:meth:`plot_case`).

    Attributes
    ----------
    statistics : DataFrame
        :func:`radsurv.plots.imaging.image_statistics_table` (one row per centre and modality).
    cases : list of dict
        :func:`example_cases` (file paths; never shown).
    root : Path
        The folder relative paths start from (the manifest's).
    variables : dict
        The manuscript's ``imaging`` variables.
    """

    statistics: pd.DataFrame
    cases: list = field(default_factory=list)
    root: Path | None = None
    variables: dict = field(default_factory=dict)

    def title(self) -> str:
        v = self.variables
        text = f"Images: {v.get('n_us', 0)} US and {v.get('n_mri', 0)} MRI studies"
        dice = [f"{m.upper()} {v[f'reader_dice_{m}']} (IQR {v[f'reader_dice_{m}_iqr']})" for m in ("us", "mri")
                if f"reader_dice_{m}" in v]
        if dice:
            text += "; reader masks against the true lesion, median Dice " + ", ".join(dice)
        return text

    def summary(self) -> pd.DataFrame:
        """The statistics per centre and modality (medians over patients; intensity mean
        and SD averaged), full precision, indexed by centre and modality."""
        shown = self.statistics.copy()
        shown["center"] = shown["center"].astype(str)
        return shown.set_index(["center", "modality"])

    def plot(self, ax=None, statistic: str = "intensity_mean"):
        """A bar per centre and modality of one statistic (a column of :meth:`summary`)."""
        from ..plots.imaging import draw_statistic_bars

        return draw_statistic_bars(new_axes(ax), self.statistics, statistic,
                                   STATISTIC_NAMES.get(statistic, statistic.replace("_", " ")))

    def plot_examples(self) -> np.ndarray:
        """The paper's example figure (one row per centre; a low- and a high-risk example
        per modality, true and reader contours). Returns its Axes."""
        from ..plots.imaging import draw_example_cases

        return np.array(draw_example_cases(self.cases, root=self.root).axes, dtype=object)

    def plot_case(self, k: int = 0, axes=None) -> np.ndarray:
        """Example ``k``'s images, one panel per modality (:func:`radsurv.plots.imaging.draw_case`)."""
        from ..plots.imaging import draw_case

        return draw_case(self.cases[k], axes, root=self.root)

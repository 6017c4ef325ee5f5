"""One case segmented step by step, as :meth:`UNetSegmenter.predict` does it: the
network's probability map, the mask thresholded from it, one lesion kept, holes filled,
then the checks, each step scored against the reference.

:func:`segmentation_steps` computes the steps with the library's own functions
(:func:`radsurv.segment.postprocess.keep_one_lesion`, :func:`~radsurv.segment.postprocess.fill_holes`,
:func:`~radsurv.segment.postprocess.check_segmentation`), so its final mask is the one
``predict`` returns; :meth:`SegmentationSteps.same_as` checks it against the mask a full
run wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

from ..labels import MODALITY_LABELS, SET_LABELS
from ..results import ShowsItself, new_axes
from ._common import ImageLike, as_image, binary_image, mask_array, same_geometry
from .metrics import dice
from .postprocess import SegmentationFlag, check_segmentation, fill_holes, keep_one_lesion

__all__ = ["ExampleCase", "SegmentationSteps", "STEPS", "example_case", "segmentation_steps"]

#: The steps, in order, with what each does.
STEPS = {
    "probability": "the network's lesion probability per voxel (sliding windows, softmax)",
    "threshold": "voxels whose probability reaches the threshold",
    "one lesion": "one connected component kept (full connectivity)",
    "holes filled": "holes filled (3D volumes: slice by slice, then in 3D)",
}


@dataclass(repr=False, eq=False)
class ExampleCase:
    """A cohort patient chosen to be shown, never named.

    Attributes
    ----------
    patient_id : str
        For finding the case's row in the stage's tables; never print it.
    modality : str
    set : str
        ``train``, ``internal`` or ``external``.
    image : str
        Path of the image.
    reference : str or None
        Path of the reference mask (the true mask of the twin; the reader's otherwise).
    reference_kind : str
        ``"true"`` or ``"reader"``.
    """

    patient_id: str
    modality: str
    set: str
    image: str
    reference: str | None
    reference_kind: str

    def __repr__(self) -> str:
        return f"the first {SET_LABELS[self.set].lower()}-set patient with an {MODALITY_LABELS[self.modality]} image"

    def auto_mask(self, table: pd.DataFrame) -> str | None:
        """The automatic mask a full run wrote for this case (its row of the segmentation table)."""
        row = table[table["patient_id"].astype(str) == str(self.patient_id)]
        value = row["auto_mask"].iloc[0] if len(row) else None
        return value if isinstance(value, str) else None


def example_case(data: pd.DataFrame, truth: pd.DataFrame | None, modality: str) -> ExampleCase | None:
    """The first patient (by position in the cohort) with an image of ``modality`` in the
    external test set, else the internal test set, else the training set: a test-set
    patient, so that the network has seen no case like it in training.

    Parameters
    ----------
    data : DataFrame
        The cohort (``patient_id``, ``split``, ``<modality>_image``, ``<modality>_mask``).
    truth : DataFrame or None
        The twin's true masks (``<modality>_true_mask``); None for a user's cohort, whose
        reference is the reader's mask.
    modality : str

    Returns
    -------
    ExampleCase or None
        None when no patient has an image of ``modality``.
    """
    has = data[f"{modality}_image"].notna()
    for set_ in ("external", "internal", "train"):
        sel = data[has & (data["split"] == set_)]
        if sel.empty:
            continue
        row = sel.iloc[0]
        pid = str(row["patient_id"])
        if truth is not None:
            ref = truth.set_index(truth["patient_id"].astype(str)).at[pid, f"{modality}_true_mask"]
            kind = "true"
        else:
            ref, kind = row[f"{modality}_mask"], "reader"
        return ExampleCase(pid, modality, set_, str(row[f"{modality}_image"]),
                           ref if isinstance(ref, str) and ref else None, kind)
    return None


def _components(mask: sitk.Image) -> int:
    arr = mask_array(mask)
    return int(ndimage.label(arr, structure=np.ones((3,) * arr.ndim, dtype=bool))[1])


@dataclass(repr=False, eq=False)
class SegmentationSteps(ShowsItself):
    """One image segmented step by step (see :data:`STEPS`).

    Attributes
    ----------
    modality : str
    image : SimpleITK.Image
    probability : SimpleITK.Image
        The lesion probability, on the image's grid.
    masks : dict
        ``"threshold"``, ``"one lesion"``, ``"holes filled"`` -> the mask after that step.
    reference : SimpleITK.Image or None
    reference_kind : str
        ``"true"`` or ``"reader"``.
    threshold : float
    component : str
        ``"largest"`` or ``"central"`` (the rule of the one-lesion step).
    flag : SegmentationFlag
        The checks of the final mask.
    """

    modality: str
    image: sitk.Image
    probability: sitk.Image
    masks: dict[str, sitk.Image]
    reference: sitk.Image | None
    reference_kind: str
    threshold: float
    component: str
    flag: SegmentationFlag

    @property
    def final(self) -> sitk.Image:
        """The mask the steps end with (what ``predict`` returns)."""
        return self.masks["holes filled"]

    def dice(self, step: str) -> float:
        """Dice of a step's mask against the reference (NaN without one)."""
        if self.reference is None:
            return float("nan")
        return dice(self.masks[step], self.reference)

    def _rule(self, step: str) -> str:
        if step == "threshold":
            return f"probability ≥ {self.threshold:g}"
        if step == "one lesion":
            return f"the {self.component} component kept"
        return STEPS[step]

    def summary(self) -> pd.DataFrame:
        """Per step: what it does, the lesion's voxels and connected components, and its
        Dice against the reference."""
        rows = [{"step": "probability", "rule": STEPS["probability"], "lesion voxels": np.nan, "components": np.nan,
                 "dice": np.nan}]
        for step, mask in self.masks.items():
            rows.append({"step": step, "rule": self._rule(step), "lesion voxels": int(mask_array(mask).sum()),
                         "components": _components(mask), "dice": self.dice(step)})
        return pd.DataFrame(rows).astype({"lesion voxels": "Int64", "components": "Int64"})

    def title(self) -> str:
        ref = {"true": "the true mask", "reader": "the reader's mask"}[self.reference_kind]
        steps = ", ".join(f"{s} {self.dice(s):.3f}" for s in self.masks) if self.reference is not None else ""
        checks = "passed the checks" if self.flag.ok else f"failed the checks ({self.flag.reason}: {self.flag.detail})"
        return (f"One {MODALITY_LABELS[self.modality]} image step by step"
                + (f": Dice against {ref} after {steps}" if steps else "") + f"; the final mask {checks}")

    def plot(self, ax=None, step: str = "holes filled", margin_mm: float = 12.0):
        """One step on the image: the probability map, or a step's mask (filled), with the
        reference's contour; every step of the case on the same view.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (None: a new figure).
        step : str
            A key of :data:`STEPS`.
        margin_mm : float
            Tissue shown around the reference and the final mask.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = new_axes(ax, (3.4, 3.4))
        if not self.masks:   # nothing segmented: say so in place of the panel
            from ..plots.style import message_panel

            ax.axis("off")
            return message_panel(ax, "No segmentation step to draw")
        from ..plots.segmentation import step_panel

        if step == "probability":
            title = "probability"
        else:
            d = self.dice(step)
            title = f"{step}" + (f": Dice {d:.3f}" if not np.isnan(d) else "")
        layer = step_panel(ax, self.image, self.probability if step == "probability" else self.masks[step],
                           reference=self.reference, frame=self.final, probability=step == "probability",
                           margin_mm=margin_mm, title=title, reference_kind=self.reference_kind)
        if layer is not None:
            ax.figure.colorbar(layer, ax=ax, fraction=0.046, pad=0.02)
        return ax

    def same_as(self, mask: ImageLike | None) -> bool:
        """Whether ``mask`` (a full run's automatic mask) has the final mask's voxels and grid."""
        if mask is None:
            return False
        other = as_image(mask)
        return same_geometry(other, self.final) and bool(np.array_equal(mask_array(other), mask_array(self.final)))


def segmentation_steps(model: Any, image: ImageLike, reference: ImageLike | None = None,
                       border_margin_mm: float = 10.0, modality: str | None = None,
                       reference_kind: str = "true") -> SegmentationSteps:
    """Segment one image step by step, as ``model.predict`` does, keeping every step.

    Parameters
    ----------
    model : UNetSegmenter
        A trained network (``predict_proba``; ``params["threshold"]`` and
        ``params["component"]``).
    image : SimpleITK.Image or path
    reference : SimpleITK.Image or path, optional
        The reference mask each step is scored against.
    border_margin_mm : float
        ``segmentation.border_margin_mm``, for the checks.
    modality : str, optional
        Default: the model's.
    reference_kind : str
        ``"true"`` (the twin's true mask) or ``"reader"``.

    Returns
    -------
    SegmentationSteps
    """
    img = as_image(image)
    prob = model.predict_proba(img)
    threshold, how = float(model.params["threshold"]), model.params["component"]
    masks = {"threshold": binary_image(sitk.GetArrayFromImage(prob) >= threshold, prob)}
    masks["one lesion"] = keep_one_lesion(masks["threshold"], how=how)
    masks["holes filled"] = fill_holes(masks["one lesion"])
    return SegmentationSteps(modality or model.modality, img, prob, masks,
                             as_image(reference) if reference is not None else None, reference_kind, threshold, how,
                             check_segmentation(masks["holes filled"], border_margin_mm))

"""Automatic lesion segmentation of breast US (2D) and MRI (3D).

* :class:`UNetSegmenter`, :func:`train_or_load` — MONAI U-Net, content-cached weights;
* :class:`BaselineSegmenter` — classical SimpleITK baseline (no learning);
* :mod:`~radsurv.segment.postprocess` — one lesion, holes filled, failure flags and policy;
* :mod:`~radsurv.segment.metrics` — Dice, HD95 (mm), volume differences, summary tables;
* :func:`segment_cohort` — cohort inference writing NIfTI masks, in this process, on local
  processes or on a Dask cluster (:mod:`~radsurv.segment.parallel`: the same masks on any);
* :mod:`~radsurv.segment.devsets`, :mod:`~radsurv.segment.steps`,
  :mod:`~radsurv.segment.agreement` — the notebook's results that show themselves: the
  development sets and the training history, one case step by step, the agreement, the
  failures by kind, the failure policy's outcome and the example figure.

The function ``postprocess`` is not re-exported here: it would hide the submodule of
the same name. Heavy imports (torch, MONAI) happen when the U-Net is used, not on ``import radsurv.segment``.
"""

from __future__ import annotations

from radsurv.segment.baseline import BaselineSegmenter
from radsurv.segment.inference import segment_cohort
from radsurv.segment.metrics import dice, evaluate, hausdorff95, summary_table
from radsurv.segment.postprocess import SegmentationFlag, check_segmentation, resolve_failure

__all__ = [
    "BaselineSegmenter",
    "SegmentationFlag",
    "UNetSegmenter",
    "check_segmentation",
    "dice",
    "evaluate",
    "hausdorff95",
    "resolve_failure",
    "segment_cohort",
    "summary_table",
    "train_or_load",
]


def __getattr__(name):
    # Lazy: the U-Net module pulls in torch and MONAI (seconds), which the baseline,
    # metrics and post-processing do not need.
    if name in ("UNetSegmenter", "train_or_load"):
        from radsurv.segment import unet

        return getattr(unet, name)
    raise AttributeError(name)

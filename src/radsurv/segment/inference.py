"""Cohort inference: one automatic mask per patient, in parallel, with flags and a policy.

Every patient ends in exactly one row of the returned table, with the mask to use
downstream and where it came from (``source``): ``"user"`` (the user supplied a mask:
kept, never replaced), ``"auto"`` (the automatic mask passed the checks),
``"reader"`` (the automatic mask failed and the policy fell back to the reader's
mask) or ``"excluded"`` (no usable mask: the patient leaves the radiomics analysis
and appears in the patient flow). Nothing is dropped silently.

The failure policy can also be applied as a step of its own: with ``policy=None``,
:func:`segment_cohort` only checks the masks and leaves a failed one ``"failed"``
(its check's detail in a ``detail`` column), and :func:`apply_failure_policy` then
decides, with the same words and the same result as in one go.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import SimpleITK as sitk

from radsurv.segment._common import as_image
from radsurv.segment.postprocess import SegmentationFlag, check_segmentation, resolve_failure

__all__ = ["COLUMNS", "FAILED", "apply_failure_policy", "segment_case", "segment_cohort"]

log = logging.getLogger(__name__)

#: Columns of the table returned by :func:`segment_cohort`.
COLUMNS = ["patient_id", "mask", "source", "auto_mask", "flag", "reason", "action"]
#: ``source`` of a failed automatic mask whose policy is still to be applied (``policy=None``).
FAILED = "failed"
_ACTIONS = {"auto": "kept automatic mask", "reader": "replaced by reader mask", "excluded": "excluded"}


def _safe_name(patient_id: str) -> str:
    # File names from IDs: keep letters, digits, - _ . ; anything else becomes _.
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(patient_id))


def _present(value) -> bool:
    """A mask entry that is really there (not None / NaN / empty string)."""
    if value is None:
        return False
    if isinstance(value, float) and value != value:
        return False
    return not (isinstance(value, str) and value.strip() == "")


def segment_case(
    case: Mapping[str, Any],
    segmenter,
    out_dir: str | Path,
    policy: str = "reader",
    border_margin_mm: float = 10.0,
    torch_threads: int | None = None,
) -> dict:
    """Segment one patient, check the mask and apply the failure policy.

    Parameters
    ----------
    case
        ``patient_id``, ``image`` (path or SimpleITK image), optional ``mask`` (a
        user-supplied mask: kept as is) and optional ``reader_mask`` (the fallback).
    segmenter
        Any object with ``predict(image) -> SimpleITK.Image``.
    out_dir
        Folder for ``<patient_id>_auto.nii.gz``.
    policy
        ``"reader"`` or ``"exclude"``, see :func:`radsurv.segment.postprocess.resolve_failure`;
        ``None``: check only (a failed mask is left :data:`FAILED`, with the check's
        ``detail``, for :func:`apply_failure_policy`).
    border_margin_mm
        Room the peri-tumoral ring needs between lesion and border, mm.
    torch_threads
        If set, ``torch.set_num_threads`` in this worker first (for process workers).

    Returns
    -------
    dict
        One row of the :func:`segment_cohort` table.
    """
    pid = str(case["patient_id"])
    if _present(case.get("mask")):
        m = case["mask"]
        return {"patient_id": pid, "mask": str(m) if not isinstance(m, sitk.Image) else None, "source": "user",
                "auto_mask": None, "flag": None, "reason": "user-supplied mask", "action": "kept user mask"}
    if torch_threads:
        import torch

        torch.set_num_threads(int(torch_threads))
    out_dir = Path(out_dir)
    pred = segmenter.predict(as_image(case["image"]))
    auto_path = out_dir / f"{_safe_name(pid)}_auto.nii.gz"
    # Written even when flagged, so that failures can be looked at.
    tmp = auto_path.with_name(f".{auto_path.name}.{os.getpid()}.tmp.nii.gz")
    sitk.WriteImage(pred, str(tmp), True)
    os.replace(tmp, auto_path)
    flag = check_segmentation(pred, border_margin_mm)
    row = {"patient_id": pid, "mask": None, "source": None, "auto_mask": str(auto_path), "flag": flag.reason,
           "reason": None, "action": None}
    if policy is None and not flag.ok:
        return {**row, "source": FAILED, "reason": f"automatic mask failed: {flag.detail}",
                "action": "failure policy not applied yet", "detail": flag.detail}
    reader = case.get("reader_mask") if _present(case.get("reader_mask")) else None
    # A mask that passed the checks is kept whatever the policy.
    return {**row, **_resolved(pid, flag, policy or "reader", reader, pred, auto_path)}


def _resolved(pid: str, flag: SegmentationFlag, policy: str, reader, auto_mask, auto_path) -> dict:
    """``mask``, ``source``, ``reason`` and ``action`` of one checked mask under ``policy``."""
    res = resolve_failure(flag, policy=policy, reader_mask=reader, auto_mask=auto_mask)
    if res.action == "auto":
        mask = str(auto_path)
    elif res.action == "reader":
        mask = str(reader) if not isinstance(reader, sitk.Image) else None
    else:
        mask = None
    if res.action != "auto":
        # Debug level: the reason is in the returned row (segmentation.csv, the patient
        # flow); at warning level it would print patient identifiers into the executed
        # notebook, which is published with the paper.
        log.debug("patient %s: %s", pid, res.reason)
    return {"mask": mask, "source": res.action, "reason": res.reason, "action": _ACTIONS[res.action]}


def apply_failure_policy(table: pd.DataFrame, reader_masks: Mapping[str, Any], policy: str = "reader",
                         border_margin_mm: float = 10.0) -> pd.DataFrame:
    """Apply the failure policy to the failed masks of a :func:`segment_cohort` table
    made with ``policy=None``.

    Parameters
    ----------
    table : DataFrame
        From ``segment_cohort(..., policy=None)`` (any extra columns are kept): rows
        whose ``source`` is :data:`FAILED` are resolved, the others are left as they are.
    reader_masks : mapping
        Patient identifier -> the reader's mask (path or image; missing: no fallback).
    policy : str
        ``"reader"`` (fall back to the reader's mask, if it passes the same checks) or
        ``"exclude"``, see :func:`radsurv.segment.postprocess.resolve_failure`.
    border_margin_mm : float
        The room the checks required (the reader's mask is checked with it too).

    Returns
    -------
    DataFrame
        The same rows and columns without ``detail``: each failed row's ``mask``,
        ``source``, ``reason`` and ``action`` as :func:`segment_cohort` would have
        given them with ``policy`` in one go.
    """
    out = table.drop(columns=["detail"], errors="ignore").copy()
    for i in out.index[out["source"] == FAILED]:
        pid = str(out.at[i, "patient_id"])
        flag = SegmentationFlag(out.at[i, "flag"], table.at[i, "detail"], {}, float(border_margin_mm))
        reader = reader_masks.get(pid)
        reader = reader if _present(reader) else None
        for key, value in _resolved(pid, flag, policy, reader, None, out.at[i, "auto_mask"]).items():
            out.at[i, key] = value
    return out


def segment_cohort(
    cases: Iterable[Mapping[str, Any]] | pd.DataFrame,
    segmenter,
    out_dir: str | Path,
    n_jobs: int = 1,
    progress: bool = True,
    policy: str = "reader",
    border_margin_mm: float = 10.0,
    backend: str = "threading",
) -> pd.DataFrame:
    """Automatic masks for a cohort, in parallel, with a progress bar.

    Parameters
    ----------
    cases
        Records (or a DataFrame) with ``patient_id``, ``image``, optional ``mask``
        (user-supplied: kept, reported with source ``"user"``) and optional
        ``reader_mask`` (used by the ``"reader"`` policy).
    segmenter
        A trained :class:`~radsurv.segment.unet.UNetSegmenter` or a
        :class:`~radsurv.segment.baseline.BaselineSegmenter` (anything with ``predict``).
    out_dir
        Folder for the automatic masks (created).
    n_jobs
        joblib workers (-1: all cores).
    progress
        tqdm progress bar.
    policy
        ``"reader"`` or ``"exclude"`` for failed automatic masks; ``None``: leave them
        :data:`FAILED` for :func:`apply_failure_policy` (the table then has a ``detail``
        column, the failed check's explanation).
    border_margin_mm
        Room, mm, required between the lesion and the image border.
    backend
        ``"threading"`` (default: torch and SimpleITK release the GIL, the model is
        shared, not copied) or ``"loky"`` (processes; each worker runs torch on one
        thread so that workers do not oversubscribe the cores).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per patient in input order: ``mask`` (path of
        the mask to use, None when excluded), ``source`` (user / auto / reader /
        excluded), ``auto_mask`` (path of the written automatic mask), ``flag`` (ok /
        empty / border, None for user masks), ``reason`` and ``action``.
    """
    from joblib import Parallel, cpu_count, delayed

    records = cases.to_dict("records") if isinstance(cases, pd.DataFrame) else [dict(c) for c in cases]
    ids = [str(r["patient_id"]) for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate patient_id in cases: output files would collide")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_workers = cpu_count() if n_jobs in (-1, None) else max(1, int(n_jobs))
    torch_threads = 1 if backend != "threading" else None
    restore = None
    if backend == "threading" and n_workers > 1:
        # Threads share torch's intra-op pool: split the cores between workers.
        import torch

        restore = torch.get_num_threads()
        torch.set_num_threads(max(1, cpu_count() // n_workers))
    try:
        jobs = (delayed(segment_case)(r, segmenter, out_dir, policy, border_margin_mm, torch_threads) for r in records)
        runner = Parallel(n_jobs=n_workers, backend=backend, return_as="generator")
        rows = runner(jobs)
        if progress:
            from radsurv.progress import tqdm

            rows = tqdm(rows, total=len(records), desc="segmentation", unit="patient")
        rows = list(rows)
    finally:
        if restore is not None:
            import torch

            torch.set_num_threads(restore)
    return pd.DataFrame(rows, columns=COLUMNS + (["detail"] if policy is None else []))

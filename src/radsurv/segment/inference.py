"""Cohort inference: one automatic mask per patient, in parallel (here, on local processes
or on a Dask cluster: :mod:`radsurv.segment.parallel`), with flags and a policy.

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


def _user_row(pid: str, mask) -> dict:
    """The row of a patient whose user-supplied mask is kept."""
    return {"patient_id": pid, "mask": str(mask) if not isinstance(mask, sitk.Image) else None, "source": "user",
            "auto_mask": None, "flag": None, "reason": "user-supplied mask", "action": "kept user mask"}


def _auto_row(case: Mapping[str, Any], pred: sitk.Image, flag: SegmentationFlag, out_dir: Path,
              policy: str | None) -> dict:
    """Write an automatic mask to ``out_dir`` and return its row: checked (``flag``), and
    resolved by ``policy`` (None: a failed mask is left :data:`FAILED`)."""
    pid = str(case["patient_id"])
    auto_path = out_dir / f"{_safe_name(pid)}_auto.nii.gz"
    # Written even when flagged, so that failures can be looked at.
    tmp = auto_path.with_name(f".{auto_path.name}.{os.getpid()}.tmp.nii.gz")
    sitk.WriteImage(pred, str(tmp), True)
    os.replace(tmp, auto_path)
    row = {"patient_id": pid, "mask": None, "source": None, "auto_mask": str(auto_path), "flag": flag.reason,
           "reason": None, "action": None}
    if policy is None and not flag.ok:
        return {**row, "source": FAILED, "reason": f"automatic mask failed: {flag.detail}",
                "action": "failure policy not applied yet", "detail": flag.detail}
    reader = case.get("reader_mask") if _present(case.get("reader_mask")) else None
    # A mask that passed the checks is kept whatever the policy.
    return {**row, **_resolved(pid, flag, policy or "reader", reader, pred, auto_path)}


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
        If set, ``torch.set_num_threads`` in this process first.

    Returns
    -------
    dict
        One row of the :func:`segment_cohort` table.
    """
    pid = str(case["patient_id"])
    if _present(case.get("mask")):
        return _user_row(pid, case["mask"])
    if torch_threads:
        import torch

        torch.set_num_threads(int(torch_threads))
    pred = segmenter.predict(as_image(case["image"]))
    return _auto_row(case, pred, check_segmentation(pred, border_margin_mm), Path(out_dir), policy)


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
    scheduler: Any = None,
    torch_threads: int = 1,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Automatic masks for a cohort, where :mod:`radsurv.compute` says, with a progress bar.

    The masks are predicted by :func:`radsurv.segment.parallel.predict_masks`: in this
    process, on ``n_jobs`` local processes or on a Dask cluster, in tasks of a few images,
    each with ``torch_threads`` torch threads, so that the masks, the files and the table
    are the same wherever they ran. With a
    :class:`~radsurv.segment.maskcache.CachedSegmenter` the cache is read and written in
    this process and only its misses are predicted. The masks are checked where they are
    predicted; the files and the table are written here, one row per patient in input
    order whatever order the tasks finish in.

    Parameters
    ----------
    cases
        Records (or a DataFrame) with ``patient_id``, ``image`` (a path, read where the
        mask is predicted, or an image), optional ``mask`` (user-supplied: kept, reported
        with source ``"user"``) and optional ``reader_mask`` (used by the ``"reader"`` policy).
    segmenter
        A trained :class:`~radsurv.segment.unet.UNetSegmenter` or a
        :class:`~radsurv.segment.baseline.BaselineSegmenter` (anything with ``predict``;
        picklable for process or cluster workers), cached or not.
    out_dir
        Folder for the automatic masks (created).
    n_jobs
        Local worker processes (1: this process; -1: every core); ignored with a scheduler.
    progress
        tqdm progress bar (over the patients to segment).
    policy
        ``"reader"`` or ``"exclude"`` for failed automatic masks; ``None``: leave them
        :data:`FAILED` for :func:`apply_failure_policy` (the table then has a ``detail``
        column, the failed check's explanation).
    border_margin_mm
        Room, mm, required between the lesion and the image border.
    scheduler
        A Dask scheduler address or ``distributed.Client`` (``compute.scheduler``): the
        masks are predicted on its workers.
    torch_threads
        Torch threads of every prediction (a network's sums depend on it in the last
        bits; one per task, as many tasks as workers).
    batch_size
        Images per task (default: :func:`~radsurv.segment.parallel.predict_masks`'s).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per patient in input order: ``mask`` (path of
        the mask to use, None when excluded), ``source`` (user / auto / reader /
        excluded), ``auto_mask`` (path of the written automatic mask), ``flag`` (ok /
        empty / border, None for user masks), ``reason`` and ``action``.
    """
    from radsurv.segment.parallel import predict_masks

    records = cases.to_dict("records") if isinstance(cases, pd.DataFrame) else [dict(c) for c in cases]
    ids = [str(r["patient_id"]) for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate patient_id in cases: output files would collide")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict | None] = [None] * len(records)
    todo = []
    for j, (pid, record) in enumerate(zip(ids, records)):
        if _present(record.get("mask")):
            rows[j] = _user_row(pid, record["mask"])
        else:
            todo.append(j)
    for k, pred, flag in predict_masks([records[j]["image"] for j in todo], segmenter, n_jobs=n_jobs,
                                       scheduler=scheduler, border_margin_mm=border_margin_mm,
                                       torch_threads=torch_threads, batch_size=batch_size, progress=progress,
                                       desc="segmentation", unit="patient"):
        rows[todo[k]] = _auto_row(records[todo[k]], pred, flag, out_dir, policy)
    return pd.DataFrame(rows, columns=COLUMNS + (["detail"] if policy is None else []))

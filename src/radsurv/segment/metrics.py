"""Segmentation agreement: Dice, 95 % Hausdorff distance (mm), volume differences, tables.

Conventions
-----------
* Masks are compared on the same voxel grid (same size, spacing, origin, direction);
  a mismatch raises rather than being silently resampled.
* Both masks empty: Dice 1, HD95 0. One empty: Dice 0, HD95 NaN (a distance to
  nothing is undefined; summaries report how many cases had it).
* HD95 is symmetric: the larger of the two directed 95th percentiles of the distances
  from the surface voxels of one mask to the surface of the other, in mm with the
  physical spacing of each axis (MONAI's definition; :func:`hausdorff95_sitk` computes
  the same with SimpleITK distance maps and the tests check the two agree).
* "Volume" is an area in mm^2 for 2D images (US) and a volume in mm^3 for 3D (MRI).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

from radsurv.segment._common import ImageLike, as_image, same_geometry, spacing_numpy

__all__ = ["FAILURE_KINDS", "case_metrics", "dice", "evaluate", "failure_kinds", "hausdorff95", "hausdorff95_sitk",
           "summary_table", "volume"]


def _pair(pred: ImageLike, true: ImageLike) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    p, t = as_image(pred), as_image(true)
    if not same_geometry(p, t):
        raise ValueError(
            f"masks differ in geometry: size {p.GetSize()} vs {t.GetSize()}, spacing {p.GetSpacing()} vs {t.GetSpacing()}"
        )
    return sitk.GetArrayFromImage(p) != 0, sitk.GetArrayFromImage(t) != 0, spacing_numpy(t)


def dice(pred: ImageLike, true: ImageLike) -> float:
    """Dice similarity coefficient 2|P∩T| / (|P| + |T|).

    Parameters
    ----------
    pred, true
        Binary masks (images or paths) on the same grid.

    Returns
    -------
    float
        In [0, 1]; 1 when both are empty.
    """
    p, t, _ = _pair(pred, true)
    denom = p.sum() + t.sum()
    return 1.0 if denom == 0 else float(2.0 * np.logical_and(p, t).sum() / denom)


def hausdorff95(pred: ImageLike, true: ImageLike) -> float:
    """Symmetric 95 % Hausdorff distance in mm, with MONAI's ``compute_hausdorff_distance``.

    Parameters
    ----------
    pred, true
        Binary masks (images or paths) on the same grid; the spacing of ``true`` is used.

    Returns
    -------
    float
        mm; 0 if both are empty, NaN if exactly one is.
    """
    p, t, spacing = _pair(pred, true)
    if not (p.any() and t.any()):
        return _empty_hd(p, t)
    import torch
    from monai.metrics import compute_hausdorff_distance

    # MONAI crops both masks to the bounding box of their union with a margin of one voxel
    # (padding with background where that leaves the image), then measures on the crop.
    # Cropping here first, with the same margin, hands it the very arrays it would crop
    # to, and spares it scanning (and copying to float one-hot) the whole image: the same
    # value, bit for bit, several times faster on a US image.
    box = _union_box(p | t)
    p, t = p[box], t[box]
    # MONAI wants one-hot (B, C, spatial...) and the spacing in the array's axis order.
    yp = torch.from_numpy(np.stack([~p, p])[None].astype(np.float32))
    yt = torch.from_numpy(np.stack([~t, t])[None].astype(np.float32))
    with warnings.catch_warnings(), _one_torch_thread():
        # MONAI 1.6 warns about its own internal use of a deprecated argument.
        warnings.simplefilter("ignore", FutureWarning)
        hd = compute_hausdorff_distance(yp, yt, include_background=False, percentile=95, spacing=list(spacing))
    return float(hd.reshape(-1)[0])


@contextmanager
def _one_torch_thread():
    """torch on one thread for the block, then as before. MONAI's steps on a cropped mask
    are many small tensor operations, each of which wakes torch's pool of threads: on a
    busy machine one thread measured six times faster. The values do not depend on it
    (boolean reductions, a KD-tree and a sort)."""
    import torch

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _union_box(union: np.ndarray, margin: int = 1) -> tuple[slice, ...]:
    """The bounding box of ``union``'s voxels, ``margin`` voxels wider on each side where
    the array allows (MONAI's ``CropForeground(margin=1)`` of :func:`hausdorff95`)."""
    box = []
    for axis, n in enumerate(union.shape):
        hit = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        box.append(slice(max(int(hit[0]) - margin, 0), min(int(hit[-1]) + 1 + margin, n)))
    return tuple(box)


def _empty_hd(p: np.ndarray, t: np.ndarray) -> float:
    """HD95 when a mask is empty: 0 if both are (perfect agreement), NaN if one is."""
    return 0.0 if not p.any() and not t.any() else float("nan")


def _surface(arr: np.ndarray) -> np.ndarray:
    # Surface = voxels of the mask with a face-neighbour outside it (the image outside
    # counts as background), the same edge definition MONAI uses.
    return arr & ~ndimage.binary_erosion(arr, border_value=0)


def hausdorff95_sitk(pred: ImageLike, true: ImageLike) -> float:
    """The same symmetric HD95 computed with SimpleITK's Maurer distance map (a cross-check).

    Parameters
    ----------
    pred, true
        Binary masks on the same grid.

    Returns
    -------
    float
        mm; 0 if both are empty, NaN if exactly one is.
    """
    p, t, _ = _pair(pred, true)
    if not (p.any() and t.any()):
        return _empty_hd(p, t)
    ref = as_image(true)
    sp, st = _surface(p), _surface(t)

    def directed(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        img = sitk.GetImageFromArray(dst.astype(np.uint8))
        img.CopyInformation(ref)
        # Unsigned Euclidean distance (mm, physical spacing) to the nearest surface voxel of dst.
        dmap = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
        return np.abs(sitk.GetArrayFromImage(dmap))[src]

    return float(max(np.percentile(directed(sp, st), 95), np.percentile(directed(st, sp), 95)))


def volume(mask: ImageLike) -> float:
    """Lesion size in mm^d (area in mm^2 for 2D, volume in mm^3 for 3D)."""
    img = as_image(mask)
    return float((sitk.GetArrayViewFromImage(img) != 0).sum() * np.prod(img.GetSpacing()))


def case_metrics(pred: ImageLike, true: ImageLike) -> dict[str, float]:
    """All agreement measures of one case.

    Parameters
    ----------
    pred, true
        Binary masks on the same grid.

    Returns
    -------
    dict
        ``dice``, ``hd95_mm``, ``volume_true``, ``volume_pred`` (mm^d),
        ``abs_volume_diff`` = |Vp - Vt| (mm^d), ``rel_volume_diff`` = (Vp - Vt) / Vt
        (signed, a fraction; NaN when the true mask is empty), ``sensitivity`` =
        |P ∩ T| / |T| (the share of the lesion the mask covers; NaN when T is empty) and
        ``precision`` = |P ∩ T| / |P| (the share of the mask on the lesion; NaN when P
        is empty). The last two say how a mask fails: :func:`failure_kinds`.
    """
    p, t = as_image(pred), as_image(true)
    pa, ta, _ = _pair(p, t)
    overlap, n_p, n_t = int(np.logical_and(pa, ta).sum()), int(pa.sum()), int(ta.sum())
    voxel = float(np.prod(t.GetSpacing()))  # same grid (checked by _pair): volume() from the counts
    vp, vt = n_p * voxel, n_t * voxel
    return {
        "dice": 1.0 if n_p + n_t == 0 else 2.0 * overlap / (n_p + n_t),  # = dice(p, t), arrays read once
        "hd95_mm": hausdorff95(p, t),
        "volume_true": vt,
        "volume_pred": vp,
        "abs_volume_diff": abs(vp - vt),
        "rel_volume_diff": (vp - vt) / vt if vt > 0 else float("nan"),
        "sensitivity": overlap / n_t if n_t else float("nan"),
        "precision": overlap / n_p if n_p else float("nan"),
    }


#: How an automatic mask fails, in the order :func:`failure_kinds` tests them, with the
#: words the paper uses.
FAILURE_KINDS = {
    "none": "found no lesion",
    "elsewhere": "lay on another structure",
    "missed_part": "missed part of the lesion",
    "leak": "leaked beyond the lesion",
}


def failure_kinds(metrics: pd.DataFrame, dice_threshold: float, elsewhere_sensitivity: float = 0.1) -> pd.Series:
    """Classify each case of a :func:`evaluate` table by how its mask failed.

    A case fails when its Dice is below ``dice_threshold``. A failed mask is

    * ``none``: empty (no lesion found);
    * ``elsewhere``: covering less than ``elsewhere_sensitivity`` of the lesion, i.e.
      drawn on another structure (a look-alike, a lymph node, a vessel);
    * ``missed_part``: mostly on the lesion but short of it (sensitivity below
      precision: the missed lesion outweighs the mask outside it);
    * ``leak``: reaching beyond the lesion (precision below sensitivity).

    Parameters
    ----------
    metrics
        Per-case table with ``dice``, ``volume_pred``, ``sensitivity`` and ``precision``.
    dice_threshold
        Dice below which a case counts as failed (``segmentation.failure_dice``).
    elsewhere_sensitivity
        Share of the lesion below which a mask is taken to lie on something else.

    Returns
    -------
    pandas.Series
        Same index; one of :data:`FAILURE_KINDS` or ``""`` (not failed). A case whose
        reference is empty cannot be classified and is ``""`` unless its Dice is low.
    """
    d = metrics["dice"].to_numpy(dtype=float)
    sens = metrics["sensitivity"].to_numpy(dtype=float)
    prec = metrics["precision"].to_numpy(dtype=float)
    empty = metrics["volume_pred"].to_numpy(dtype=float) == 0
    failed = d < dice_threshold
    kind = np.select(
        [failed & empty, failed & (np.nan_to_num(sens) < elsewhere_sensitivity),
         failed & (sens <= prec), failed],
        ["none", "elsewhere", "missed_part", "leak"], default="")
    return pd.Series(kind, index=metrics.index, name="failure")


def evaluate(
    pred_masks: Sequence[ImageLike | None],
    true_masks: Sequence[ImageLike],
    case_ids: Sequence[str] | None = None,
    **columns,
) -> pd.DataFrame:
    """Per-case agreement table.

    Parameters
    ----------
    pred_masks
        Predicted masks (images or paths); ``None`` for a case without a prediction
        (scored as an empty mask: Dice 0).
    true_masks
        Reference masks, same order and grid.
    case_ids
        Case identifiers (default ``0..n-1``).
    **columns
        Constant columns to add, e.g. ``method="unet", set="internal"``.

    Returns
    -------
    pandas.DataFrame
        One row per case: ``case_id``, the ``columns``, then the measures of
        :func:`case_metrics`.
    """
    pred_masks, true_masks = list(pred_masks), list(true_masks)
    if len(pred_masks) != len(true_masks):
        raise ValueError(f"{len(pred_masks)} predictions but {len(true_masks)} reference masks")
    ids = list(case_ids) if case_ids is not None else list(range(len(true_masks)))
    rows = []
    with _one_torch_thread():  # once for every case's HD95 (see there)
        for cid, pred, true in zip(ids, pred_masks, true_masks):
            t = as_image(true)
            if pred is None:
                pred = sitk.Image(t.GetSize(), sitk.sitkUInt8)
                pred.CopyInformation(t)
            rows.append({"case_id": cid, **columns, **case_metrics(pred, t)})
    return pd.DataFrame(rows)


def summary_table(
    df: pd.DataFrame,
    by: Iterable[str] = ("method", "set"),
    metrics: Iterable[str] = ("dice", "hd95_mm", "rel_volume_diff"),
    stat: str = "median_iqr",
    digits: int = 2,
) -> pd.DataFrame:
    """Summary of :func:`evaluate` tables by group, as formatted strings.

    Parameters
    ----------
    df
        Per-case table (several methods / sets concatenated).
    by
        Grouping columns.
    metrics
        Measures to summarise.
    stat
        ``"median_iqr"``: "median [Q1, Q3]" (segmentation measures are skewed by the
        few failures, so this is the default); ``"mean_sd"``: "mean ± SD".
    digits
        Decimals.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``n`` (cases), one column per measure,
        and ``n_hd95_undefined`` (cases whose HD95 is NaN: one mask empty) when any.
    """
    by = list(by)
    rows = []
    for key, g in df.groupby(by, sort=False, dropna=False, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row["n"] = len(g)
        for m in metrics:
            x = g[m].astype(float).dropna().to_numpy()
            if x.size == 0:
                row[m] = "NA"
            elif stat == "median_iqr":
                q1, med, q3 = np.percentile(x, [25, 50, 75])
                row[m] = f"{med:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"
            elif stat == "mean_sd":
                sd = x.std(ddof=1) if x.size > 1 else 0.0
                row[m] = f"{x.mean():.{digits}f} ± {sd:.{digits}f}"
            else:
                raise ValueError(f"stat must be 'median_iqr' or 'mean_sd', got {stat!r}")
        if "hd95_mm" in g and g["hd95_mm"].isna().any():
            row["n_hd95_undefined"] = int(g["hd95_mm"].isna().sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    if "n_hd95_undefined" in out:
        out["n_hd95_undefined"] = out["n_hd95_undefined"].fillna(0).astype(int)
    return out

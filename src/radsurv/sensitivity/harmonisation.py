"""ComBat harmonisation of the radiomic features across centres, as a sensitivity analysis.

Reference-batch ComBat (Johnson et al., Biostatistics 2007; the reference-batch variant
of Zhang et al., BMC Bioinformatics 2018) through InMoose's ``pycombat_norm``, a port of
R's ``sva::ComBat``:

* the **reference batch is the training set**, whose features ComBat leaves exactly as
  they are, so every signature developed on them is unchanged (no outcome is used, and
  the development need not be repeated);
* **each external centre** is a batch whose location and scale, per feature, are
  estimated from its own features alone (with ComBat's empirical-Bayes shrinkage across
  features) and mapped onto the training set's. This is transductive: the external
  centre's features are needed, never its outcomes, and the paper says so;
* the **internal test set** comes from the training centre(s) and is left as extracted:
  its features take no part in any estimate, so harmonising cannot leak from it.

Harmonisation runs per modality and region (one scanner, one kind of tissue per block);
a feature that is constant within a batch cannot be scaled and is left as extracted
(counted). Centre effects are measured before and after by the Kruskal-Wallis test of
each feature across the batches, with Benjamini-Hochberg adjustment.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from ..stats.group_tests import bh_adjust, kruskal_wallis

__all__ = ["REFERENCE", "ComBatResult", "batches_for", "centre_effects", "combat_harmonise"]

#: The reference batch's label.
REFERENCE = "training"


def batches_for(split: pd.Series, centre: pd.Series) -> pd.Series:
    """The ComBat batch of every patient: the training set is the reference, each external
    centre its own batch, the internal test set none (left as extracted).

    Parameters
    ----------
    split, centre : Series
        Set (``train``, ``internal``, ``external``) and centre of each patient (same index).
    """
    out = pd.Series(None, index=split.index, dtype=object)
    out[split == "train"] = REFERENCE
    ext = split == "external"
    out[ext] = "centre " + centre[ext].astype(str)
    return out


@dataclass
class ComBatResult:
    """The harmonised features and what was done.

    Attributes
    ----------
    features : DataFrame
        Same shape, index and columns as the input; harmonised where a batch applies.
    blocks : DataFrame
        Per block: ``block``, ``n_features``, ``n_harmonised``, ``n_constant`` (left as
        extracted: constant in some batch).
    batch : Series
        The batch of each patient (None: untouched).
    """

    features: pd.DataFrame
    blocks: pd.DataFrame
    batch: pd.Series = field(repr=False)


def _block_of(column: str) -> str:
    """``us_intra__original_glcm_Idm`` -> ``us_intra`` (the study's prefixes)."""
    return column.split("__", 1)[0] if "__" in column else ""


def combat_harmonise(X: pd.DataFrame, batch: pd.Series, reference: str = REFERENCE, parametric: bool = True,
                     block_of: Callable[[str], str] = _block_of) -> ComBatResult:
    """Reference-batch ComBat of each block of features.

    Parameters
    ----------
    X : DataFrame
        Patients x features.
    batch : Series
        Batch of each patient (index as ``X``); None or NaN: left as extracted.
    reference : str
        The reference batch (left unchanged, its estimates the target of the others).
    parametric : bool
        ComBat's parametric empirical-Bayes priors (False: non-parametric).
    block_of : callable
        Column -> its block (harmonised separately).

    Returns
    -------
    ComBatResult
    """
    from inmoose.pycombat import pycombat_norm

    batch = batch.reindex(X.index)
    used = batch.notna().to_numpy()
    labels = batch[used].astype(str).to_numpy()
    if reference not in set(labels):
        raise ValueError(f"ComBat: the reference batch {reference!r} has no patient")
    groups = sorted(set(labels))
    for g in groups:
        if (labels == g).sum() < 2:
            raise ValueError(f"ComBat: batch {g!r} has fewer than two patients; a scale cannot be estimated")
    out = X.astype(float).copy()
    rows = []
    for block in dict.fromkeys(block_of(c) for c in X.columns):
        cols = [c for c in X.columns if block_of(c) == block]
        A = X.loc[used, cols].astype(float)
        # A feature constant within a batch has no scale to map (ComBat would divide by 0).
        varies = np.ones(len(cols), dtype=bool)
        for g in groups:
            varies &= A[labels == g].std(axis=0, ddof=1).to_numpy() > 0
        ok = [c for c, v in zip(cols, varies) if v]
        if len(ok) >= 2:
            with warnings.catch_warnings():
                # numpy.matrix inside InMoose, and 0/0 in its prior diagnostics (the output is checked below)
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                H = np.asarray(pycombat_norm(A[ok].T.to_numpy(), list(labels), par_prior=parametric,
                                             ref_batch=reference), dtype=float).T
            if not np.isfinite(H).all():
                raise ValueError(f"ComBat returned non-finite values in block {block!r}")
            out.loc[used, ok] = H
        else:
            ok = []
        rows.append({"block": block, "n_features": len(cols), "n_harmonised": len(ok),
                     "n_constant": len(cols) - len(ok)})
    # The reference batch is ComBat's fixed point: guard it, since the signatures rely on it.
    ref = batch.eq(reference).to_numpy()
    if not np.array_equal(out.loc[ref].to_numpy(), X.loc[ref].astype(float).to_numpy()):
        raise AssertionError("reference-batch ComBat changed the reference batch")
    return ComBatResult(out, pd.DataFrame(rows), batch)


def centre_effects(X: pd.DataFrame, batch: pd.Series, alpha: float = 0.05,
                   block_of: Callable[[str], str] = _block_of) -> pd.DataFrame:
    """How many features differ between the batches, per block.

    Each feature's Kruskal-Wallis test across the batches (patients with a batch), the
    p-values adjusted by Benjamini-Hochberg within the block.

    Returns
    -------
    DataFrame
        ``block``, ``n_features`` (tested: not constant over the patients), ``n_differ``
        (adjusted p < ``alpha``), ``pct_differ``, ``median_h`` (the median statistic).
    """
    batch = batch.reindex(X.index)
    used = batch.notna().to_numpy()
    labels = batch[used].astype(str).to_numpy()
    rows = []
    for block in dict.fromkeys(block_of(c) for c in X.columns):
        cols = [c for c in X.columns if block_of(c) == block]
        stats, pvals = [], []
        for c in cols:
            x = X.loc[used, c].to_numpy(dtype=float)
            if np.ptp(x) == 0:
                continue
            res = kruskal_wallis(x, labels)
            stats.append(res.statistic)
            pvals.append(res.p)
        adj = bh_adjust(np.asarray(pvals)) if pvals else np.array([])
        n_differ = int((adj < alpha).sum())
        rows.append({"block": block, "n_features": len(pvals), "n_differ": n_differ,
                     "pct_differ": 100.0 * n_differ / len(pvals) if pvals else float("nan"),
                     "median_h": float(np.median(stats)) if stats else float("nan")})
    return pd.DataFrame(rows)


def block_labels(blocks, modality_labels: Mapping[str, str], region_labels: Mapping[str, str]) -> list[str]:
    """``us_intra`` -> "US, intra-tumoral"."""
    out = []
    for b in blocks:
        m, _, r = str(b).partition("_")
        out.append(f"{modality_labels.get(m, m)}, {region_labels.get(r, r).lower()}")
    return out

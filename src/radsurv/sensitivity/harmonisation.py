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

from ..exceptions import StageError
from ..labels import MODALITY_LABELS, REGION_LABELS
from ..results import ShowsItself, new_axes
from ..stats.group_tests import bh_adjust, kruskal_wallis
from .reported import reported_label

__all__ = ["REFERENCE", "CentreEffects", "ComBatResult", "Harmonisation", "batches_for", "block_labels",
           "centre_effects", "check_redeveloped", "combat_harmonise", "compare_centre_effects",
           "external_discrimination", "harmonisation_batches"]

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


def harmonisation_batches(outcome: pd.DataFrame, data: pd.DataFrame) -> pd.Series | None:
    """:func:`batches_for` the patients of ``outcome``; None without an external centre
    (nothing to harmonise).

    Parameters
    ----------
    outcome : DataFrame
        ``split`` per patient (index: patient identifiers as strings).
    data : DataFrame
        The cohort table (``patient_id``, ``center``; may hold more patients).
    """
    split = outcome["split"]
    if not (split == "external").any():
        return None
    centre = data.set_index("patient_id")["center"]
    centre.index = centre.index.astype(str)
    return batches_for(split, centre.reindex(outcome.index).astype(str))


@dataclass(repr=False)
class ComBatResult(ShowsItself):
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

    def summary(self) -> pd.DataFrame:
        """Per block: ``block, n_features, n_harmonised, n_constant``."""
        return self.blocks


    def title(self) -> str:
        b = self.batch.dropna().astype(str)
        others = sorted(set(b) - {REFERENCE})
        return (f"Reference-batch ComBat: {int((b == REFERENCE).sum())} training patients (the reference, unchanged), "
                f"{len(others)} external batch{'es' if len(others) != 1 else ''} "
                f"({', '.join(f'{o}: {int((b == o).sum())}' for o in others)}); "
                f"{int(self.blocks['n_harmonised'].sum())} features harmonised, "
                f"{int(self.blocks['n_constant'].sum())} left as extracted")


def _block_of(column: str) -> str:
    """``us_intra__original_glcm_Idm`` -> ``us_intra`` (the study's prefixes)."""
    return column.split("__", 1)[0] if "__" in column else ""


#: A feature whose spread within a batch is at most this share of its largest magnitude is
#: constant there for ComBat (left as extracted).
CONSTANT_RTOL = 1e-9


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
        # Constant to rounding counts: identical values can give an SD of 1e-14 (the mean is
        # rounded), and ComBat then returns non-finite values; so the spread is compared with
        # the feature's magnitude (identical images: every feature constant).
        varies = np.ones(len(cols), dtype=bool)
        for g in groups:
            values = A[labels == g].to_numpy()
            varies &= np.ptp(values, axis=0) > CONSTANT_RTOL * np.abs(values).max(axis=0)
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


@dataclass(frozen=True, repr=False)
class CentreEffects(ShowsItself):
    """The features that differ by centre, per block, as extracted and after ComBat
    (:func:`compare_centre_effects`).

    Attributes
    ----------
    table : DataFrame
        ``block, n_features, n_differ_before, pct_differ_before, median_h_before,
        n_differ_after, pct_differ_after, median_h_after``.
    blocks : DataFrame
        :attr:`ComBatResult.blocks`.
    alpha : float
        The Benjamini-Hochberg adjusted p below which a feature differs.
    """

    table: pd.DataFrame
    blocks: pd.DataFrame
    alpha: float

    def summary(self) -> pd.DataFrame:
        """:attr:`table` with the features ComBat left as extracted (``n_constant``)."""
        return self.table.merge(self.blocks[["block", "n_constant"]], on="block")


    def title(self) -> str:
        e = self.table
        n = int(e["n_features"].sum())
        pct = (lambda k: f"{100 * e[k].sum() / max(n, 1):.0f}%")
        return (f"Centre effects (Kruskal-Wallis across the batches, Benjamini-Hochberg p < {self.alpha:g}): "
                f"{pct('n_differ_before')} of {n} features differ as extracted, {pct('n_differ_after')} after ComBat")

    def plot(self, ax=None):
        """The share of features differing by centre per block, before and after
        (``radsurv.plots.sensitivity.centre_effects_panel``)."""
        from ..plots.sensitivity import centre_effects_panel

        ax = new_axes(ax, (5.0, 0.5 + 0.45 * max(len(self.table), 1)))
        centre_effects_panel(ax, self.table, block_labels(self.table["block"], MODALITY_LABELS, REGION_LABELS))
        return ax


def compare_centre_effects(X: pd.DataFrame, combat: ComBatResult, alpha: float = 0.05) -> CentreEffects:
    """:func:`centre_effects` of the features as extracted and as harmonised, per block.

    Parameters
    ----------
    X : DataFrame
        The features as extracted (patients x features).
    combat : ComBatResult
        :func:`combat_harmonise` of ``X``.
    alpha : float
        Benjamini-Hochberg adjusted p below which a feature differs by centre.
    """
    before = centre_effects(X, combat.batch, alpha)
    after = centre_effects(combat.features, combat.batch, alpha)
    effects = before.merge(after[["block", "n_differ", "pct_differ", "median_h"]], on="block",
                           suffixes=("_before", "_after"))
    return CentreEffects(table=effects, blocks=combat.blocks, alpha=float(alpha))


def check_redeveloped(scores: pd.DataFrame, radscores: pd.DataFrame) -> None:
    """Stop when a signature developed again scores differently from ``03_signatures``'
    Rad-scores (the features or the signatures section changed since).

    Parameters
    ----------
    scores : DataFrame
        Patients x signatures: the signatures developed again, scored.
    radscores : DataFrame
        ``03_signatures``' Rad-scores (patients x signatures).

    Raises
    ------
    StageError
        Naming the first signature that differs (by more than 1e-8).
    """
    for n in scores.columns:
        if n in radscores and not np.allclose(scores[n].to_numpy(), radscores.loc[scores.index, n].to_numpy(),
                                              rtol=0, atol=1e-8):
            raise StageError(f"06_sensitivity: the {n} signature developed again differs from 03_signatures' "
                             "(the features or the signatures section changed?): run 03_signatures again")


def external_discrimination(raw: pd.DataFrame, harmonised: pd.DataFrame, outcome: pd.DataFrame) -> pd.DataFrame:
    """Each signature's Harrell's C on the external test set, scored on the features as
    extracted and as harmonised.

    Parameters
    ----------
    raw, harmonised : DataFrame
        Patients x signatures: the scores on the features as extracted and after ComBat.
    outcome : DataFrame
        ``split``, ``time``, ``event`` (same index).

    Returns
    -------
    DataFrame
        ``signature, n, events, c_raw, lower_raw, upper_raw, c_harmonised, lower_harmonised,
        upper_harmonised``.
    """
    from ..signatures.evaluation import discrimination

    names = list(raw.columns)
    ext = outcome.assign(split=np.where(outcome["split"] == "external", "external", "other"))
    d_raw = discrimination(raw, ext, names)
    d_h = discrimination(harmonised, ext, names)
    d_raw, d_h = d_raw[d_raw["set"] == "external"], d_h[d_h["set"] == "external"]
    return d_raw[["signature", "n", "events", "c", "lower", "upper"]].merge(
        d_h[["signature", "c", "lower", "upper"]], on="signature", suffixes=("_raw", "_harmonised"))


@dataclass(frozen=True, repr=False)
class Harmonisation(ShowsItself):
    """ComBat with the training set as reference, and what it changes.

    Attributes
    ----------
    combat : ComBatResult
        The harmonised features.
    effects : CentreEffects
        The centre effects before and after.
    discrimination : DataFrame
        :func:`external_discrimination` of the signatures.
    """

    combat: ComBatResult
    effects: CentreEffects
    discrimination: pd.DataFrame

    @property
    def batch(self) -> pd.Series:
        """The ComBat batch of each patient (None: left as extracted)."""
        return self.combat.batch

    @property
    def blocks(self) -> pd.DataFrame:
        """:attr:`ComBatResult.blocks`."""
        return self.combat.blocks

    def summary(self) -> pd.DataFrame:
        """Per signature: the external ``n, events``, C (95% CI) as extracted and after
        ComBat, and ``difference`` (after minus before)."""
        d = self.discrimination
        return d.assign(difference=d["c_harmonised"] - d["c_raw"]).reset_index(drop=True)


    def title(self) -> str:
        d = self.discrimination
        diff = (d["c_harmonised"] - d["c_raw"]).abs()
        biggest = f"{diff.max():.3f}" if len(d) else "–"
        return (f"External C with and without reference-batch ComBat (Johnson et al. 2007; Zhang et al. 2018): "
                f"{len(d)} signatures, the same in both columns; largest change {biggest}")

    def plot(self, ax=None):
        """Each signature's external C (95% CI) as extracted and after ComBat
        (``radsurv.plots.sensitivity.harmonisation_panel``)."""
        from ..plots.sensitivity import harmonisation_panel

        ax = new_axes(ax, (5.0, 0.6 + 0.4 * max(len(self.discrimination), 1)))
        harmonisation_panel(ax, self.discrimination, {n: reported_label(n) for n in self.discrimination["signature"]})
        return ax

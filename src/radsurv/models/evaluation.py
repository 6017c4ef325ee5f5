"""How well the models discriminate, and how they compare, in each set.

* :func:`model_discrimination`: Harrell's C (R's standard error, Wald CI), Uno's C and
  the IPCW time-dependent AUC at each horizon with its CI, per model and set.
* :func:`model_comparisons`: every model against the reference model (the clinical
  imaging model): the censoring-correct IPCW comparison of time-dependent AUCs
  (``td_auc_compare``, the primary test); DeLong's test at each horizon on the patients
  whose status at that time is known (what the study reported, labelled as such); and a
  paired bootstrap CI of the difference in Harrell's C.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..labels import SPLITS
from ..stats import binary_at_time, bootstrap_harrell_c, delong_test, harrell_c, td_auc, td_auc_compare, uno_c

__all__ = ["model_comparisons", "model_discrimination"]


def _set(scores: pd.DataFrame, outcome: pd.DataFrame, split: str, columns: Sequence[str]):
    sel = (outcome["split"] == split).to_numpy() & scores[list(columns)].notna().all(axis=1).to_numpy()
    return (outcome.loc[sel, "time"].to_numpy(float), outcome.loc[sel, "event"].to_numpy(int),
            {c: scores.loc[sel, c].to_numpy(float) for c in columns})


def model_discrimination(scores: pd.DataFrame, outcome: pd.DataFrame, models: Sequence[str],
                         horizons: Sequence[float], uno_tau: float) -> pd.DataFrame:
    """C-indices and time-dependent AUCs of each model in each set.

    Returns
    -------
    DataFrame
        One row per model, set and horizon (``horizon`` NaN for the C-index rows):
        ``model``, ``set``, ``n``, ``events``, ``measure`` ("harrell_c", "uno_c", "td_auc"),
        ``horizon``, ``estimate``, ``se``, ``lower``, ``upper``.
    """
    rows = []
    for split in SPLITS:
        for m in models:
            t, e, s = _set(scores, outcome, split, [m])
            if t.size == 0 or e.sum() == 0:
                continue
            base = {"model": m, "set": split, "n": int(t.size), "events": int(e.sum())}
            hc = harrell_c(t, e, s[m])
            rows.append({**base, "measure": "harrell_c", "horizon": np.nan, "estimate": hc.c, "se": hc.se,
                         "lower": hc.lower, "upper": hc.upper})
            uc = uno_c(t, e, s[m], tau=uno_tau)
            rows.append({**base, "measure": "uno_c", "horizon": np.nan, "estimate": uc.c, "se": uc.se,
                         "lower": uc.lower, "upper": uc.upper})
            auc = td_auc(t, e, s[m], list(horizons))
            for r in auc.itertuples(index=False):
                rows.append({**base, "measure": "td_auc", "horizon": r.time, "estimate": r.auc, "se": r.se,
                             "lower": r.lower, "upper": r.upper})
    return pd.DataFrame(rows)


def model_comparisons(scores: pd.DataFrame, outcome: pd.DataFrame, models: Sequence[str], reference: str,
                      horizons: Sequence[float], n_boot: int = 1000, seed=0) -> pd.DataFrame:
    """Each model against ``reference``, in each set.

    Returns
    -------
    DataFrame
        One row per model, set, test and horizon: ``model``, ``set``, ``test``
        ("ipcw_td_auc", "delong", "bootstrap_c"), ``horizon`` (NaN for the C-index), the
        two estimates (``value_model``, ``value_reference``), the difference reference -
        model (``delta``) with its ``lower``, ``upper`` and ``p`` (bootstrap: the share of
        resamples on the other side of 0, doubled), and for DeLong the patients kept
        (``n_known``).
    """
    rows = []
    rng = np.random.default_rng(seed)
    for split in SPLITS:
        for m in models:
            if m == reference:
                continue
            t, e, s = _set(scores, outcome, split, [m, reference])
            if t.size == 0 or e.sum() == 0:
                continue
            base = {"model": m, "set": split}
            comp = td_auc_compare(t, e, s[m], s[reference], list(horizons))
            for r in comp.itertuples(index=False):
                rows.append({**base, "test": "ipcw_td_auc", "horizon": r.time, "value_model": r.auc_a,
                             "value_reference": r.auc_b, "delta": r.delta, "lower": r.lower, "upper": r.upper,
                             "p": r.p})
            for h in horizons:
                y, keep = binary_at_time(t, e, h)
                if min(int(y.sum()), int((1 - y).sum())) < 2:  # DeLong needs 2 cases and 2 controls
                    continue
                test = delong_test(y, s[m][keep], s[reference][keep])
                rows.append({**base, "test": "delong", "horizon": float(h), "value_model": test.auc_a,
                             "value_reference": test.auc_b, "delta": test.auc_b - test.auc_a, "lower": np.nan,
                             "upper": np.nan, "p": test.p, "n_known": int(keep.sum())})
            boot = bootstrap_harrell_c(t, e, [s[m], s[reference]], n_boot=n_boot, seed=rng)
            diff = boot[:, 1] - boot[:, 0]
            diff = diff[np.isfinite(diff)]
            c_m, c_r = harrell_c(t, e, s[m]).c, harrell_c(t, e, s[reference]).c
            lo, hi = np.percentile(diff, [2.5, 97.5]) if diff.size else (np.nan, np.nan)
            p = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())) if diff.size else np.nan
            rows.append({**base, "test": "bootstrap_c", "horizon": np.nan, "value_model": c_m,
                         "value_reference": c_r, "delta": c_r - c_m, "lower": lo, "upper": hi, "p": p})
    return pd.DataFrame(rows)

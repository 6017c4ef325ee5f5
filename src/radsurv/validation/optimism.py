"""Harrell's optimism bootstrap, each resample repeating the whole development.

Efron's enhanced bootstrap as in ``rms::validate`` (Harrell, Lee & Mark 1996): for each
of B resamples of the training set (drawn with replacement),

1. the whole development is repeated on the resample: the feature filters, the LASSO-Cox
   signatures with their inner cross-validation (a patient's copies kept in one fold), the
   multi-modal rule, the Rad-scores, and the selection and fit of the six models;
2. each model's C-index (and calibration slope, 1 by construction) is measured on the
   resample (apparent) and on the original training set (test);
3. optimism = mean over resamples of (apparent - test).

Corrected C = apparent C of the original development - optimism; corrected calibration
slope = 1 - mean(1 - test slope). A resample where a step cannot be fitted (no event in a
fold, a separating variable) is counted and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..models.design import Design
from ..models.six_models import MODELS, RADSCORE, develop_models
from ..signatures.development import MULTIMODAL, develop_signatures, needed_for_models
from ..stats import fit_cox, harrell_c

__all__ = ["DevelopmentData", "optimism_bootstrap", "optimism_summary", "resample_once"]


@dataclass(frozen=True)
class DevelopmentData:
    """What the whole development starts from: the training patients only.

    Attributes
    ----------
    features : DataFrame
        Training patients x prefixed radiomic features.
    flagged : set of str
        Features flagged by the ICC step.
    design : Design
        Training patients' coded clinical and MRI variables (the Rad-score column is
        replaced in every resample).
    clinical, mri : list of str
        Candidate variables.
    time, event : ndarray
        Training follow-up and events.
    signature_params, model_params : mapping
        The ``signatures`` and ``models`` sections.
    """

    features: pd.DataFrame
    flagged: frozenset
    design: Design
    clinical: tuple
    mri: tuple
    time: np.ndarray
    event: np.ndarray
    signature_params: Mapping[str, Any]
    model_params: Mapping[str, Any]


def _develop(dev: DevelopmentData, rows: np.ndarray, seed) -> tuple[dict, Any]:
    """The whole development on the training rows ``rows`` (with repeats): returns the
    six models and a function scoring any training rows with the Rad-score."""
    # Positional labels: a resample repeats patients, and label-based selection would
    # multiply the repeats.
    X = dev.features.iloc[rows].reset_index(drop=True)
    outcome = pd.DataFrame({"split": "train", "time": dev.time[rows], "event": dev.event[rows]}, index=X.index)
    sp = dev.signature_params
    sigs = develop_signatures(X, outcome, set(dev.flagged), sp, seed=seed, n_jobs=1,
                              only=needed_for_models(sp["multimodal"]["feeds_models"]),
                              groups=np.asarray(rows))
    model = sigs.predictors()[MULTIMODAL]

    def radscore(idx: np.ndarray) -> np.ndarray:
        return model.predict(dev.features.iloc[idx]).to_numpy()

    design = Design(dev.design.X.iloc[rows].reset_index(drop=True).assign(**{RADSCORE: radscore(rows)}),
                    dev.design.groups, dev.design.labels)
    mp = dev.model_params
    six = develop_models(design, list(dev.clinical), list(dev.mri), dev.time[rows], dev.event[rows],
                         screen_p=mp["screen_p"], ties=mp["ties"])
    return six.models, radscore


def _measures(lp: np.ndarray, t: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(lp)
    if np.ptp(lp[ok]) == 0:
        return 0.5, np.nan
    c = harrell_c(t[ok], e[ok], lp[ok]).c
    slope = float(fit_cox(pd.DataFrame({"lp": lp[ok]}), t[ok], e[ok]).coef["lp"])
    return c, slope


def resample_once(dev: DevelopmentData, b: int, seed: int) -> list[dict]:
    """One bootstrap resample: apparent and test C and slope of each model."""
    n = dev.time.size
    rng = np.random.default_rng([seed, 7, b])
    rows = rng.integers(0, n, n)
    try:
        models, radscore = _develop(dev, rows, [seed, 7, b])
    except ValueError as error:  # a step of the development cannot be fitted on this resample
        return [{"resample": b, "model": None, "failed": f"{type(error).__name__}: {error}"}]
    all_rows = np.arange(n)
    design_orig = Design(dev.design.X.assign(**{RADSCORE: radscore(all_rows)}), dev.design.groups,
                         dev.design.labels)
    design_boot = Design(dev.design.X.iloc[rows].reset_index(drop=True).assign(**{RADSCORE: radscore(rows)}),
                         dev.design.groups, dev.design.labels)
    out = []
    for key in MODELS:
        if key not in models:
            # Nothing selected on this resample: the null model, C = 0.5 on both samples.
            out.append({"resample": b, "model": key, "apparent_c": 0.5, "test_c": 0.5, "test_slope": np.nan,
                        "variables": "", "failed": ""})
            continue
        model = models[key]
        c_app, _ = _measures(model.predict(design_boot).to_numpy(), dev.time[rows], dev.event[rows])
        c_test, slope = _measures(model.predict(design_orig).to_numpy(), dev.time, dev.event)
        out.append({"resample": b, "model": key, "apparent_c": c_app, "test_c": c_test, "test_slope": slope,
                    "variables": ";".join(model.variables), "failed": ""})
    return out


def optimism_bootstrap(dev: DevelopmentData, n_resamples: int, seed: int, n_jobs: int = 1,
                       progress: bool = True) -> pd.DataFrame:
    """Run the resamples (joblib over processes, a progress bar); one row per resample and model."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    jobs = (delayed(resample_once)(dev, b, seed) for b in range(n_resamples))
    results = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(jobs)
    rows = [r for res in tqdm(results, total=n_resamples, disable=not progress, desc="optimism bootstrap",
                              unit="resample") for r in res]
    return pd.DataFrame(rows)


def optimism_summary(boot: pd.DataFrame, apparent: Mapping[str, float], models: Sequence[str]) -> pd.DataFrame:
    """Apparent, optimism and optimism-corrected C and calibration slope per model.

    Parameters
    ----------
    boot : DataFrame
        :func:`optimism_bootstrap`'s rows.
    apparent : mapping
        Each model's C on the training set from the original development.
    """
    ok = boot[boot["failed"] == ""]
    rows = []
    for key in models:
        b = ok[ok["model"] == key]
        if b.empty:
            continue
        optimism = float((b["apparent_c"] - b["test_c"]).mean())
        slope_optimism = float((1.0 - b["test_slope"]).mean())  # NaN slopes (null models) left out
        rows.append({"model": key, "n_resamples": int(len(b)), "apparent_c": apparent[key], "optimism": optimism,
                     "corrected_c": apparent[key] - optimism, "corrected_slope": 1.0 - slope_optimism,
                     "optimism_se": float((b["apparent_c"] - b["test_c"]).std(ddof=1) / np.sqrt(len(b)))})
    return pd.DataFrame(rows)

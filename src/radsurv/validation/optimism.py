"""Harrell's optimism bootstrap, each resample repeating the whole development.

Efron's enhanced bootstrap as in ``rms::validate`` (Harrell, Lee & Mark 1996): for each
of B resamples of the training set (drawn with replacement),

1. the whole development is repeated on the resample: the feature filters, the LASSO-Cox
   signatures with their inner cross-validation (a patient's copies kept in one fold), the
   multi-modal rule, the Rad-scores, and the selection and fit of the six models, weighing
   the Rad-score as ``04_models`` did: on the resample's pre-validated Rad-scores (the
   resample signature's out-of-fold scores) when 04 was developed on pre-validated ones;
2. each model's C-index and calibration slope are measured as the deployed model gives
   them, every patient scored with the resample's final signature: on the resample
   (apparent) and on the original training set (test, as a test patient is scored);
3. optimism = mean over resamples of (apparent - test).

Corrected C = apparent C of the original development - optimism; corrected calibration
slope = apparent slope x mean(test slope / apparent slope) over the resamples. The apparent
measures of the original development are taken the same way (:func:`training_measures` on
:attr:`radsurv.validation.ValidationInputs.scores`): the final models with the training
patients scored by the final signature. When the models weighed the Rad-score on
pre-validated scores, the apparent slope is not 1 (the Rad-score's coefficient was not fitted
to the scores it is measured on), and both definitions of the Rad-score never mix within a
ratio. Under resubstitution the apparent slopes are 1 (the Cox score equations; up to the
pooling with imputation), and the formula is Harrell's 1 - mean(1 - test slope), the mean
shrinkage of the resamples' linear predictors. The ratio, not the difference, carries the
shrinkage over when they are not 1: a slope is a scale, and a resample whose pre-validated
Rad-score weighs little has a large apparent and test slope of the same ratio (on the
quick build the difference gave the signature model a corrected slope of -0.57, the ratio
1.08, against 1.27 and 0.95 in the test sets). A resample where a step cannot be fitted
(no event in a fold, a separating variable) is counted and left out.

The calibration curve of one model (the final one) is corrected the same way, as
``rms::calibrate`` does: on a fixed grid of predicted risks at each horizon, the
smoothed observed risk of the resample's model on the resample (apparent) and on the
training set (test) give the optimism of observed - predicted at each grid point; the
corrected curve is the original apparent curve minus it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..models.design import RADSCORE, Design
from ..models.imputation import imputer_for, imputes
from ..models.six_models import MODELS, SixModels, develop_models
from ..results import ShowsItself, new_axes
from ..seeds import STREAM_OPTIMISM
from ..signatures.development import (MULTIMODAL, available_signatures, develop_signatures, needed_for_models,
                                      prevalidated_scores)
from ..signatures.evaluation import NULL_C, is_constant
from ..stats import calibration_slope, harrell_c
from .calibration import smoothed_risk

__all__ = ["DevelopmentData", "OptimismBootstrap", "Resample", "corrected_calibration", "development_data",
           "one_resample", "optimism_bootstrap", "optimism_summary", "resample_once", "resample_rows",
           "selection_frequency", "training_measures"]


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
    calibration_model : str or None
        The model whose calibration curve is corrected.
    calibration_grid : mapping
        Horizon (months) -> grid of predicted risks for the corrected curve.
    training_scores : {"prevalidated", "resubstitution"}
        What each resample's models weigh as the resample patients' Rad-score: their
        pre-validated Rad-score from the resample's signature (as ``04_models`` weighed
        the original training patients' when it read ``radscores_prevalidated.csv``) or
        the resample signature's own (the study's way).
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
    calibration_model: str | None = None
    calibration_grid: Mapping[float, np.ndarray] | None = None
    training_scores: str = "resubstitution"


def development_data(X: pd.DataFrame, flagged: set[str], design: Design, clinical, mri, outcome: pd.DataFrame,
                     profile: Mapping[str, Any], calibration_model: str | None,
                     calibration_grid: Mapping[float, np.ndarray] | None,
                     training_scores: str = "resubstitution") -> DevelopmentData:
    """What each bootstrap resample starts from: the training patients only.

    Parameters
    ----------
    X : DataFrame
        Patients x prefixed radiomic features (every set; only training rows are kept).
    flagged : set of str
        Features flagged by the ICC step.
    design : Design
        Coded clinical and MRI variables of the scored patients.
    clinical, mri : sequence of str
        Candidate variables of the models.
    outcome : DataFrame
        ``split, time, event`` per patient.
    profile : mapping
        The profile (its ``signatures`` and ``models`` sections).
    calibration_model : str or None
        The model whose calibration curve is corrected.
    calibration_grid : mapping or None
        Horizon -> grid of predicted risks (:func:`radsurv.validation.calibration_grid`).
    training_scores : {"prevalidated", "resubstitution"}
        How ``04_models`` weighed the training Rad-score
        (:attr:`radsurv.validation.ValidationInputs.training_scores`): each resample is
        developed the same way.

    Returns
    -------
    DevelopmentData
    """
    from ..models.design import TRAINING_SCORES

    if training_scores not in TRAINING_SCORES:
        raise ValueError(f"training_scores: expected one of {TRAINING_SCORES}, got {training_scores!r}")
    train = outcome.index[outcome["split"] == "train"]
    train = train[train.isin(X.index) & train.isin(design.X.index)]
    if (outcome.loc[train, "split"] != "train").any():  # pragma: no cover - guarded by construction
        raise AssertionError("a test-set patient reached the optimism bootstrap")
    # models.missing resolved on every scored patient, as 04 resolved it (auto: imputation
    # when any set misses a value), so that no resample decides otherwise.
    imputed = imputes(design, [*clinical, *mri], profile["models"])
    model_params = {**profile["models"], "missing": "multiple_imputation" if imputed else "complete_case"}
    return DevelopmentData(features=X.loc[train], flagged=frozenset(flagged), design=design.subset(train),
                           clinical=tuple(clinical), mri=tuple(mri),
                           time=outcome.loc[train, "time"].to_numpy(float),
                           event=outcome.loc[train, "event"].to_numpy(int),
                           signature_params=profile["signatures"], model_params=model_params,
                           calibration_model=calibration_model, calibration_grid=calibration_grid,
                           training_scores=training_scores)


def resample_rows(n: int, seed: int, b: int) -> np.ndarray:
    """The training rows (with repeats) of bootstrap resample ``b``: ``n`` draws with
    replacement from the resample's own stream ``[seed, STREAM_OPTIMISM, b]``.

    Parameters
    ----------
    n : int
        Training patients.
    seed : int
        The stage's seed.
    b : int
        The resample's number.
    """
    return np.random.default_rng([seed, STREAM_OPTIMISM, b]).integers(0, n, n)


def _develop(dev: DevelopmentData, rows: np.ndarray, seed) -> tuple[SixModels, Any, np.ndarray]:
    """The whole development on the training rows ``rows`` (with repeats): returns the
    six models (with their imputer, if any), a function scoring any training rows with
    the resample's final Rad-score, and the Rad-score the models were fitted on (per row
    of ``rows``: the resample's pre-validated one when ``dev.training_scores`` says so,
    else the final signature's own)."""
    # Positional labels: a resample repeats patients, and label-based selection would
    # multiply the repeats.
    X = dev.features.iloc[rows].reset_index(drop=True)
    outcome = pd.DataFrame({"split": "train", "time": dev.time[rows], "event": dev.event[rows]}, index=X.index)
    sp = dev.signature_params
    sigs = develop_signatures(X, outcome, set(dev.flagged), sp, seed=seed, n_jobs=1,
                              only=needed_for_models(sp["multimodal"]["feeds_models"], available_signatures(X)),
                              groups=np.asarray(rows))
    model = sigs.predictors()[MULTIMODAL]

    def radscore(idx: np.ndarray) -> np.ndarray:
        return model.predict(dev.features.iloc[idx]).to_numpy()

    fitted_on = radscore(rows)
    # As 04 (radsurv.models.design.training_radscore): a resample signature that is constant
    # on its patients (LASSO kept nothing) is kept as it is, a signature fitted to nothing.
    if dev.training_scores == "prevalidated" and np.ptp(fitted_on) > 0:
        pv = prevalidated_scores(sigs).get(MULTIMODAL)
        if pv is None or pv.size != rows.size:  # pragma: no cover - develop_signatures always pre-validates
            raise ValueError("the resample's multi-modal signature has no pre-validated Rad-score")
        fitted_on = np.asarray(pv, dtype=float)
    design = Design(dev.design.X.iloc[rows].reset_index(drop=True).assign(**{RADSCORE: fitted_on}),
                    dev.design.groups, dev.design.labels)
    mp = dev.model_params
    # The imputation is part of the development: refitted on every resample, with its own
    # stream (``models.missing`` resolved once by development_data, as 04 resolved it).
    imputer = imputer_for(design, [*dev.clinical, *dev.mri], mp, seed=seed)
    six = develop_models(design, list(dev.clinical), list(dev.mri), dev.time[rows], dev.event[rows],
                         screen_p=mp["screen_p"], ties=mp["ties"], imputer=imputer)
    return six, radscore, fitted_on


def _measures(lp: np.ndarray, t: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(lp)
    if is_constant(lp[ok]):
        return NULL_C, np.nan
    return harrell_c(t[ok], e[ok], lp[ok]).c, calibration_slope(t[ok], e[ok], lp[ok]).slope


def _risk(model, design: Design, horizon: float, completed=None) -> np.ndarray:
    """Predicted risk by ``horizon`` of a fitted CoxModel: 1 - exp(-H0(t) exp(x beta))."""
    H0 = float(model.fit_.baseline_cumhaz([horizon])[0])
    return 1.0 - np.exp(-H0 * np.exp(model.predict(design, completed).to_numpy() + model.center_))


def _curve(time, event, risk, horizon, grid) -> np.ndarray:
    ok = np.isfinite(risk)
    return smoothed_risk(time[ok], event[ok], risk[ok], horizon).observed_at(grid)


def resample_once(dev: DevelopmentData, b: int, seed: int) -> dict[str, list[dict]]:
    """One bootstrap resample: apparent and test C and slope of each model, and the
    apparent and test calibration curves of ``dev.calibration_model``.

    Cox fits with a covariate separating events on the resample (a rare category drawn
    into few patients) go on as R's coxph does; their warnings are counted in the rows'
    ``monotone`` column rather than printed 200 times.

    Returns
    -------
    dict
        ``"models"``: one row per model; ``"calibration"``: one row per horizon and grid
        point (``apparent``, ``test`` observed risk).
    """
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            out = _resample(dev, b, seed)
    n_monotone = sum("coefficient may be infinite" in str(w.message) for w in caught)
    for row in out["models"]:
        row["monotone"] = n_monotone
    return out


def _resample(dev: DevelopmentData, b: int, seed: int) -> dict[str, list[dict]]:
    n = dev.time.size
    rows = resample_rows(n, seed, b)
    try:
        six, radscore, fitted_on = _develop(dev, rows, [seed, STREAM_OPTIMISM, b])
        models = six.models
    except ValueError as error:  # a step of the development cannot be fitted on this resample
        return {"models": [{"resample": b, "model": None, "failed": f"{type(error).__name__}: {error}"}],
                "calibration": []}
    all_rows = np.arange(n)
    # Both samples are scored as the deployed model scores anyone: with the resample's final
    # signature, whatever Rad-score (pre-validated or its own) the models were weighed on.
    # The original training patients are the resample's test patients.
    design_orig = Design(dev.design.X.assign(**{RADSCORE: radscore(all_rows)}), dev.design.groups,
                         dev.design.labels)
    own = radscore(rows)
    design_boot = Design(dev.design.X.iloc[rows].reset_index(drop=True).assign(**{RADSCORE: own}),
                         dev.design.groups, dev.design.labels)
    # With imputation: the resample's patients as imputed when its imputer was fitted (with
    # their outcome; the never-missing Rad-score column then set to their final one), the
    # original training patients from its models without outcome, as test patients.
    sets_orig = six.completed(design_orig)
    sets_boot = six.completed(Design(design_boot.X.assign(**{RADSCORE: fitted_on}), design_boot.groups,
                                     design_boot.labels))
    if sets_boot is not None:
        sets_boot = [s.assign(**{RADSCORE: own}) for s in sets_boot]
    out = []
    for key in MODELS:
        if key not in models:
            # Nothing selected on this resample: the null model, C = 0.5 on both samples.
            out.append({"resample": b, "model": key, "apparent_c": NULL_C, "apparent_slope": np.nan,
                        "test_c": NULL_C, "test_slope": np.nan, "variables": "", "failed": ""})
            continue
        model = models[key]
        c_app, s_app = _measures(model.predict(design_boot, sets_boot).to_numpy(), dev.time[rows], dev.event[rows])
        c_test, slope = _measures(model.predict(design_orig, sets_orig).to_numpy(), dev.time, dev.event)
        out.append({"resample": b, "model": key, "apparent_c": c_app, "apparent_slope": s_app, "test_c": c_test,
                    "test_slope": slope, "variables": ";".join(model.variables), "failed": ""})
    calib = []
    key = dev.calibration_model
    if key is not None and key in models and dev.calibration_grid:
        for h, grid in dev.calibration_grid.items():
            try:
                app = _curve(dev.time[rows], dev.event[rows], _risk(models[key], design_boot, h, sets_boot), h,
                             grid)
                test = _curve(dev.time, dev.event, _risk(models[key], design_orig, h, sets_orig), h, grid)
            except ValueError:  # too few distinct predictions or events for the spline on this resample
                continue
            calib += [{"resample": b, "horizon": float(h), "predicted": float(g), "apparent": float(a),
                       "test": float(t)} for g, a, t in zip(grid, app, test)]
    return {"models": out, "calibration": calib}


def _cache_key(dev: DevelopmentData, seed: int) -> str:
    """What a resample's result depends on: the development data, the settings, the seed,
    and the source of the code that develops and measures (signatures, models, stats,
    this module and the calibration module's smoothed curve; not their ``stage.py``, which
    only writes artefacts)."""
    import hashlib
    import json
    from pathlib import Path

    h = hashlib.sha256()
    for frame in (dev.features, dev.design.X):
        h.update(json.dumps([str(c) for c in frame.columns]).encode())
        h.update(np.ascontiguousarray(frame.to_numpy(float)).tobytes())
    h.update(json.dumps({"flagged": sorted(dev.flagged), "groups": dev.design.groups, "clinical": dev.clinical,
                         "mri": dev.mri, "sig": dev.signature_params, "models": dev.model_params,
                         "calibration_model": dev.calibration_model, "seed": seed,
                         "training_scores": dev.training_scores}, sort_keys=True,
                        default=str).encode())
    for arr in (dev.time, dev.event, *[np.asarray(g, float) for g in (dev.calibration_grid or {}).values()]):
        h.update(np.ascontiguousarray(arr, dtype=float).tobytes())
    h.update(json.dumps([float(k) for k in (dev.calibration_grid or {})]).encode())
    root = Path(__file__).resolve().parents[1]
    for pkg in ("signatures", "models", "stats"):
        for f in sorted((root / pkg).glob("*.py")):
            # a stage module writes the stage's tables and text and is never imported by a
            # resample: editing a caption must not throw away an hour of resamples
            if f.name != "stage.py":
                h.update(f.read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update((Path(__file__).parent / "calibration.py").read_bytes())   # smoothed_risk: the corrected curve
    return h.hexdigest()[:20]


def optimism_bootstrap(dev: DevelopmentData, n_resamples: int, seed: int, n_jobs: int = 1,
                       progress: bool = True, cache_dir=None, scheduler=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the resamples (local processes or a Dask cluster, :mod:`radsurv.compute`; a progress bar).

    Each resample draws its rows from its own stream ``[seed, STREAM_OPTIMISM, b]``, so the
    result does not depend on ``n_jobs``, the scheduler or the order the workers finish.

    Parameters
    ----------
    n_jobs : int
        Local worker processes (ignored with a scheduler).
    scheduler : str, distributed.Client or None
        A Dask scheduler address or client (the profile's ``compute.scheduler``): the
        resamples run on its workers; None: locally.
    cache_dir : path, optional
        Each finished resample is written there (one JSON file, under a key of the data,
        settings, seed and code), so an interrupted run resumes where it stopped and a
        larger ``n_resamples`` adds only the new resamples.

    Returns
    -------
    (DataFrame, DataFrame)
        One row per resample and model (:func:`resample_once`'s ``"models"``), and the
        calibration rows.
    """
    import json
    import os
    from pathlib import Path

    from ..compute import iter_tasks

    results: dict[int, dict] = {}
    folder = None
    if cache_dir is not None:
        folder = Path(cache_dir) / _cache_key(dev, seed)
        folder.mkdir(parents=True, exist_ok=True)
        for b in range(n_resamples):
            f = folder / f"resample-{b:05d}.json"
            if f.is_file():
                results[b] = json.loads(f.read_text(encoding="utf-8"))
    todo = [b for b in range(n_resamples) if b not in results]
    if results and progress:
        print(f"optimism bootstrap: {len(results)} of {n_resamples} resamples from the cache ({folder})")
    # each resample is kept (and cached) as soon as it finishes, in whatever order
    done = iter_tasks(resample_once, [{"b": b} for b in todo], {"dev": dev, "seed": seed}, n_jobs=n_jobs,
                      scheduler=scheduler, progress=progress, desc="optimism bootstrap", unit="resample")
    for i, res in done:
        b = todo[i]
        results[b] = res
        if folder is not None:
            tmp = folder / f".resample-{b:05d}.json.tmp"
            tmp.write_text(json.dumps(res, default=_json_default), encoding="utf-8")
            os.replace(tmp, folder / f"resample-{b:05d}.json")
    models, calib = [], []
    for b in range(n_resamples):
        models += results[b]["models"]
        calib += results[b]["calibration"]
    calib_cols = ["resample", "horizon", "predicted", "apparent", "test"]
    return pd.DataFrame(models), pd.DataFrame(calib, columns=calib_cols)


def _json_default(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


def corrected_calibration(calib: pd.DataFrame, apparent: Mapping[float, np.ndarray],
                          grid: Mapping[float, np.ndarray]) -> pd.DataFrame:
    """Bootstrap-corrected calibration curve (``rms::calibrate``'s ``calibrated.corrected``).

    Parameters
    ----------
    calib : DataFrame
        :func:`optimism_bootstrap`'s calibration rows.
    apparent : mapping
        Horizon -> the original model's smoothed observed risk on the training set at ``grid[h]``.
    grid : mapping
        Horizon -> grid of predicted risks.

    Returns
    -------
    DataFrame
        ``horizon, predicted, apparent, optimism, corrected, n_resamples``; ``corrected`` is
        clipped to [0, 1].
    """
    rows = []
    for h, g in grid.items():
        c = calib[calib["horizon"] == float(h)] if len(calib) else calib
        # no resample gave a curve (too few events in every one): optimism NaN, not corrected
        opt = ((c["apparent"] - c["test"]).groupby(c["predicted"].round(12)).mean() if len(c)
               else pd.Series(dtype=float))
        n_res = int(c["resample"].nunique()) if len(c) else 0
        for j, p in enumerate(g):
            o = float(opt.get(round(float(p), 12), np.nan))
            a = float(apparent[h][j])
            rows.append({"horizon": float(h), "predicted": float(p), "apparent": a, "optimism": o,
                         "corrected": float(np.clip(a - o, 0.0, 1.0)) if np.isfinite(o) else np.nan,
                         "n_resamples": n_res})
    return pd.DataFrame(rows)


def optimism_summary(boot: pd.DataFrame, apparent: Mapping[str, float], models: Sequence[str],
                     apparent_slope: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Apparent, optimism and optimism-corrected C and calibration slope per model.

    Parameters
    ----------
    boot : DataFrame
        :func:`optimism_bootstrap`'s rows.
    apparent : mapping
        Each model's C on the training set from the original development
        (:func:`training_measures`).
    models : sequence of str
    apparent_slope : mapping, optional
        Each model's calibration slope on the training set (:func:`training_measures`);
        None: 1 for every model, as for a model fitted to the scores it is measured on.

    Returns
    -------
    DataFrame
        ``model, n_resamples, apparent_c, optimism, corrected_c, apparent_slope,
        corrected_slope, optimism_se``. The corrected slope is the apparent slope times the
        mean over resamples of (test slope / apparent slope), resamples without a finite
        ratio (a null model) left out: Harrell's 1 - mean(1 - test slope) when every
        apparent slope is 1.
    """
    ok = boot[boot["failed"] == ""]
    rows = []
    for key in models:
        b = ok[ok["model"] == key]
        if b.empty:
            continue
        optimism = float((b["apparent_c"] - b["test_c"]).mean())
        app_b = b["apparent_slope"] if "apparent_slope" in b else pd.Series(1.0, index=b.index)
        ratio = (b["test_slope"].astype(float) / app_b.astype(float)).to_numpy()
        shrinkage = float(np.mean(ratio[np.isfinite(ratio)])) if np.isfinite(ratio).any() else np.nan
        a_slope = 1.0 if apparent_slope is None else float(apparent_slope[key])
        rows.append({"model": key, "n_resamples": int(len(b)), "apparent_c": apparent[key], "optimism": optimism,
                     "corrected_c": apparent[key] - optimism, "apparent_slope": a_slope,
                     "corrected_slope": a_slope * shrinkage,
                     "optimism_se": float((b["apparent_c"] - b["test_c"]).std(ddof=1) / np.sqrt(len(b)))})
    return pd.DataFrame(rows, columns=["model", "n_resamples", "apparent_c", "optimism", "corrected_c",
                                       "apparent_slope", "corrected_slope", "optimism_se"])


def training_measures(outcome: pd.DataFrame, scores: pd.DataFrame,
                      models: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Each model's apparent C and calibration slope: Harrell's C and the Cox slope of its
    score on the training set of the original development, measured as each bootstrap
    resample measures its apparent ones.

    Parameters
    ----------
    outcome : DataFrame
        ``split, time, event`` per patient.
    scores : DataFrame
        The models' scores as deployed (:attr:`radsurv.validation.ValidationInputs.scores`:
        every patient scored with the final signature's Rad-score), same index.
    models : sequence of str

    Returns
    -------
    (dict, dict)
        Model -> apparent C; model -> apparent calibration slope (NaN for a constant score).
    """
    train = (outcome["split"] == "train").to_numpy()
    t, e = outcome["time"].to_numpy(float)[train], outcome["event"].to_numpy(int)[train]
    c, slope = {}, {}
    with np.errstate(all="ignore"):
        for k in models:
            c[k], slope[k] = _measures(scores[k].to_numpy(float)[train], t, e)
    return c, slope


def selection_frequency(boot: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """How often each variable entered each selected model across the resamples (models
    1-3 are selected; the Rad-score models inherit their variables).

    Parameters
    ----------
    boot : DataFrame
        :func:`optimism_bootstrap`'s rows (``variables``: the model's variables joined by ``;``).
    labels : mapping
        Variable -> printed name.

    Returns
    -------
    DataFrame
        ``model, variable, label, resamples, share`` (share of the developed resamples),
        most often selected first.
    """
    ok = boot[(boot["failed"] == "") & boot["model"].isin(["clinical", "mri", "clinical_mri"])]
    n = int(ok["resample"].nunique())
    rows = []
    for key, b in ok.groupby("model", sort=False):
        counts: dict[str, int] = {}
        for v in b["variables"]:
            for name in filter(None, str(v).split(";")):
                counts[name] = counts.get(name, 0) + 1
        for name, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append({"model": key, "variable": name, "label": labels.get(name, name), "resamples": c,
                         "share": c / n if n else np.nan})
    return pd.DataFrame(rows, columns=["model", "variable", "label", "resamples", "share"])


@dataclass(frozen=True, repr=False)
class Resample(ShowsItself):
    """One bootstrap resample developed and scored (:func:`one_resample`).

    Attributes
    ----------
    b : int
        The resample's number (its random stream).
    n : int
        Training patients (the resample draws as many, with replacement).
    n_distinct : int
        Distinct training patients drawn (about 63.2% of ``n``).
    events : int
        Events among the draws.
    rows : DataFrame
        :func:`resample_once`'s ``"models"`` rows.
    calibration : DataFrame
        Its ``"calibration"`` rows (apparent and test curve of the final model).
    """

    b: int
    n: int
    n_distinct: int
    events: int
    rows: pd.DataFrame
    calibration: pd.DataFrame

    @property
    def failed(self) -> str:
        """Why the development could not be repeated on this resample ("" if it could)."""
        f = self.rows["failed"] if "failed" in self.rows else pd.Series([], dtype=str)
        return "; ".join(sorted({x for x in f if x}))

    def summary(self) -> pd.DataFrame:
        """``model, apparent_c`` (on the resample), ``test_c`` (on the training set),
        ``optimism`` (their difference), ``apparent_slope``, ``test_slope`` and the
        selected ``variables``."""
        cols = ["model", "apparent_c", "test_c", "optimism", "apparent_slope", "test_slope", "variables"]
        r = self.rows[self.rows["model"].notna()] if "model" in self.rows else self.rows
        if r.empty:
            return pd.DataFrame(columns=cols)
        return r.assign(optimism=r["apparent_c"] - r["test_c"])[cols].reset_index(drop=True)


    def title(self) -> str:
        head = (f"Bootstrap resample {self.b}: {self.n} draws from {self.n} training patients "
                f"({self.n_distinct} distinct, {self.events} events)")
        return head + (f"; not developed: {self.failed}" if self.failed else "")

    def plot(self, ax=None):
        """Apparent against test C of each model (``radsurv.plots.validation.resample_panel``)."""
        from ..plots.validation import resample_panel

        ax = new_axes(ax, (5.0, 3.0))
        resample_panel(ax, self.summary(), MODELS)
        ax.set_title(f"Bootstrap resample {self.b}", fontsize=9)
        return ax


def one_resample(dev: DevelopmentData, b: int, seed: int) -> Resample:
    """Develop and score one bootstrap resample, as each worker of :func:`optimism_bootstrap`
    does (:func:`resample_once`, the same code), and describe its draw.

    Parameters
    ----------
    dev : DevelopmentData
    b : int
        The resample's number.
    seed : int
        The stage's seed.

    Returns
    -------
    Resample
    """
    rows = resample_rows(dev.time.size, seed, b)
    out = resample_once(dev, b, seed)
    return Resample(b=b, n=int(dev.time.size), n_distinct=int(np.unique(rows).size),
                    events=int(dev.event[rows].sum()), rows=pd.DataFrame(out["models"]),
                    calibration=pd.DataFrame(out["calibration"],
                                             columns=["resample", "horizon", "predicted", "apparent", "test"]))


@dataclass(frozen=True, repr=False)
class OptimismBootstrap(ShowsItself):
    """Harrell's optimism bootstrap of the models (Harrell, Lee & Mark 1996).

    Attributes
    ----------
    resamples : DataFrame
        One row per resample and model (:func:`resample_once`'s ``"models"`` rows).
    calibration : DataFrame
        The final model's apparent and test calibration curves per resample.
    apparent : dict
        Each model's C on the training set from the original development.
    models : tuple of str
    n_resamples : int
    """

    resamples: pd.DataFrame
    calibration: pd.DataFrame
    apparent: dict
    models: tuple
    n_resamples: int
    #: model -> apparent calibration slope (:func:`training_measures`); None: 1 for every model
    apparent_slope: dict | None = None

    @classmethod
    def run(cls, dev: DevelopmentData, apparent: Mapping[str, float], n_resamples: int, seed: int,
            n_jobs: int = 1, cache_dir=None, progress: bool = True,
            apparent_slope: Mapping[str, float] | None = None, scheduler=None) -> "OptimismBootstrap":
        """Run (or read from ``cache_dir``) the resamples: :func:`optimism_bootstrap`.

        Parameters
        ----------
        dev : DevelopmentData
        apparent : mapping
            Model -> its apparent C (:func:`training_measures`); its keys are the models.
        n_resamples, seed, n_jobs, cache_dir, progress, scheduler
            As :func:`optimism_bootstrap`.
        apparent_slope : mapping, optional
            Model -> its apparent calibration slope (:func:`training_measures`).
        """
        boot, calib = optimism_bootstrap(dev, n_resamples, seed, n_jobs=n_jobs, progress=progress,
                                         cache_dir=cache_dir, scheduler=scheduler)
        return cls(resamples=boot, calibration=calib, apparent=dict(apparent), models=tuple(apparent),
                   n_resamples=int(n_resamples),
                   apparent_slope=None if apparent_slope is None else dict(apparent_slope))

    @property
    def failures(self) -> pd.DataFrame:
        """The rows of the resamples that could not be developed (``resample, failed``)."""
        return self.resamples[self.resamples["failed"] != ""]

    @property
    def n_failed(self) -> int:
        """Resamples that could not be developed (left out)."""
        return int(self.failures["resample"].nunique())

    def resample(self, b: int) -> pd.DataFrame:
        """The rows of resample ``b`` (as :class:`Resample`'s ``rows``)."""
        return self.resamples[self.resamples["resample"] == b].reset_index(drop=True)

    def matches(self, one: Resample) -> bool:
        """Whether resample ``one.b`` of this bootstrap has the apparent and test C, test
        slope and variables of ``one`` (a resample developed by hand, :func:`one_resample`)."""
        mine, theirs = self.resample(one.b), one.rows.reset_index(drop=True)
        cols = ["apparent_c", "apparent_slope", "test_c", "test_slope"]
        if len(mine) != len(theirs) or list(mine["failed"]) != list(theirs["failed"]):
            return False
        if not all(c in mine and c in theirs for c in cols):  # a failed resample: no measures
            return True
        return bool(np.allclose(mine[cols].to_numpy(float), theirs[cols].to_numpy(float), rtol=0, atol=1e-12,
                                equal_nan=True) and list(mine["variables"]) == list(theirs["variables"]))

    def summary(self) -> pd.DataFrame:
        """:func:`optimism_summary`: ``model, n_resamples, apparent_c, optimism,
        corrected_c, corrected_slope, optimism_se`` per model."""
        return optimism_summary(self.resamples, self.apparent, self.models, self.apparent_slope)


    def title(self) -> str:
        failed = f", {self.n_failed} not developed and left out" if self.n_failed else ""
        return (f"Optimism bootstrap: {self.n_resamples} resamples of the training set, each repeating the whole "
                f"development{failed} (Harrell et al. 1996)")

    def selection_frequency(self, labels: Mapping[str, str]) -> pd.DataFrame:
        """:func:`selection_frequency` of the resamples."""
        return selection_frequency(self.resamples, labels)

    def corrected_calibration(self, apparent: Mapping[float, np.ndarray],
                              grid: Mapping[float, np.ndarray]) -> pd.DataFrame:
        """:func:`corrected_calibration` of the final model's curves."""
        return corrected_calibration(self.calibration, apparent, grid)

    def plot(self, ax=None):
        """The distribution of the optimism of each model over the resamples
        (``radsurv.plots.validation.optimism_panel``)."""
        from ..plots.validation import optimism_panel

        ok = self.resamples[self.resamples["failed"] == ""]
        return optimism_panel(new_axes(ax, (5.5, 3.2)), ok, list(self.models), MODELS)

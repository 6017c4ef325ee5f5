"""The build's own outcome draw among other draws of the same digital twin.

On the digital twin a build is one draw of the outcomes: the same patients, images and
features with other follow-up and events would give other C-indices (one draw moves a
test-set C by an SD of 0.04-0.06 on the paper's twin). A C-index of the paper is then
best read against the distribution of such draws, and issue 27 asks where the build's
own draw falls in it. The twin draws its outcomes from a random stream of their own
(``[seed, STREAM_TWIN_OUTCOME]``, :func:`radsurv.cohort.twin.simulate_cohort`'s
``outcome_seed``), so they can be drawn again without touching the images: the patients,
their images, masks and features of the build stay valid.

For each outcome seed ``k = 1 .. n`` (the draws ``benchmarks/calibrate_signal.py``
averages, through the same function), :func:`develop_draw`:

* takes the twin's follow-up and events from seed ``k`` (every other value of the
  cohort, the missing values included, is the build's);
* draws the split again as ``00_cohort`` draws it (stratified by the DFS event);
* develops the signatures as ``03_signatures`` does (the build's ICC flags, filters,
  LASSO-Cox with its cross-validation, the multi-modal rule) and the six models as
  ``04_models`` does (pre-validated training Rad-scores, ``models.missing``' imputation,
  univariable screen, backward AIC);
* scores Harrell's C of the multi-modal Rad-score, of each model and of the oracle (the
  true linear predictor) on the internal and external test sets.

The build's own draw is the same function with ``outcome_seed=None``; it reproduces
``03_signatures``' Rad-score C (checked by :meth:`OutcomeDraws.run`, which ``06_sensitivity``
gives 03's values) and ``04_models``' C-indices (checked on the quick build by its test:
06 does not read 04, so that the null guard can run 03 and 06 alone), and its percentile
among the redraws is the mid-rank share of draws below it.

What stays fixed across draws: the ICC flags (``02_features`` measures them on training
patients of the build's split). Only a simulated cohort has this analysis: a real cohort
has one outcome.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..results import ShowsItself, new_axes

__all__ = ["DRAW_MEASURES", "OutcomeDraws", "develop_cohort", "develop_draw", "drawn_split", "percentile",
           "redrawn_cohort"]

#: The measures of a draw, in table order: the multi-modal Rad-score, the six models and
#: the oracle, each on the internal and external test sets.
DRAW_MEASURES = [f"{what}_{s}" for what in ("radscore", "clinical", "mri", "clinical_mri", "signature", "radiomics",
                                           "imaging", "oracle") for s in ("internal", "external")]
_TEST_SETS = ("internal", "external")


def redrawn_cohort(data: pd.DataFrame, profile: Mapping[str, Any], outcome_seed: int | None
                   ) -> tuple[pd.DataFrame, pd.Series]:
    """The build's cohort table with the twin's outcomes of ``outcome_seed`` and the split
    drawn again from them, as ``00_cohort`` draws it; and each patient's true linear
    predictor.

    Parameters
    ----------
    data : DataFrame
        The build's cohort table (:func:`radsurv.stages.read_cohort`'s ``data``).
    profile : mapping
        The profile the build ran (its ``cohort`` section and ``seed``).
    outcome_seed : int or None
        The outcome stream's seed; None: the build's own (``seed``).

    Returns
    -------
    (DataFrame, Series)
        The cohort table (``dfs_time``, ``dfs_event`` and ``split`` replaced), and the true
        linear predictor by ``patient_id``.
    """
    from ..cohort.twin import simulate_cohort

    seed = int(profile["seed"])
    twin = simulate_cohort(profile["cohort"]["twin"], seed, outcome_seed=outcome_seed)
    drawn = twin.manifest.set_index("patient_id")
    ids = data["patient_id"].astype(str)
    unknown = sorted(set(ids) - set(drawn.index))
    if unknown:
        raise ValueError(f"cohort: {len(unknown)} patients (first {unknown[0]}) are not the twin's of this profile "
                         "(cohort.twin, seed): only a build of the twin can have its outcomes drawn again")
    out = data.copy()
    for col in ("dfs_time", "dfs_event"):
        out[col] = drawn.loc[ids, col].to_numpy().astype(data[col].dtype)
    out["split"] = drawn_split(out, profile)
    eta = pd.Series(twin.truth["eta"].to_numpy(), index=twin.manifest["patient_id"].astype(str)).loc[ids]
    return out, eta.rename("eta")


def drawn_split(data: pd.DataFrame, profile: Mapping[str, Any]) -> np.ndarray:
    """Each patient's set as ``00_cohort`` draws it from the cohort table's events
    (:func:`radsurv.cohort.manifest.derive_split` with the profile's ``cohort.split``)."""
    from ..cohort.manifest import ManifestSpec, derive_split

    split = profile["cohort"]["split"]
    return derive_split(data, ManifestSpec.from_profile(profile), split["n_train"], int(profile["seed"]),
                        split["stratify"]).to_numpy()


def _c(score: pd.Series, outcome: pd.DataFrame, sel: np.ndarray) -> float:
    """Harrell's C of ``score`` on the patients ``sel`` with a finite score (NaN without an event)."""
    from ..stats import harrell_c

    s = score.to_numpy(float)[sel]
    ok = np.isfinite(s)
    t, e = outcome["time"].to_numpy(float)[sel][ok], outcome["event"].to_numpy(int)[sel][ok]
    if not ok.any() or e.sum() == 0:
        return float("nan")
    return float(harrell_c(t, e, s[ok]).c)


def develop_draw(X: pd.DataFrame, flagged: set[str], data: pd.DataFrame, profile: Mapping[str, Any],
                 outcome_seed: int | None, n_jobs: int = 1) -> dict[str, Any]:
    """One outcome draw of the twin (:func:`redrawn_cohort`), developed as ``03_signatures``
    and ``04_models`` develop the build's (:func:`develop_cohort`).

    Parameters
    ----------
    X : DataFrame
        Patients x features (:meth:`radsurv.stages.Features.wide`), as 03 develops on.
    flagged : set of str
        Features flagged by the ICC step.
    data : DataFrame
        The build's cohort table.
    profile : mapping
        The profile (``seed``, ``time_unit``, ``cohort``, ``signatures``, ``models``).
    outcome_seed : int or None
        The twin's outcome seed (None: the build's own outcomes).
    n_jobs : int
        Processes of the signatures' development.

    Returns
    -------
    dict
        ``outcome_seed`` and :func:`develop_cohort`'s row.
    """
    cohort, eta = redrawn_cohort(data, profile, outcome_seed)
    return {"outcome_seed": outcome_seed, **develop_cohort(X, flagged, cohort, eta, profile, n_jobs)}


def develop_cohort(X: pd.DataFrame, flagged: set[str], cohort: pd.DataFrame, eta: pd.Series,
                   profile: Mapping[str, Any], n_jobs: int = 1) -> dict[str, Any]:
    """Develop the signatures and the six models on a cohort table's training patients as
    ``03_signatures`` and ``04_models`` do, and score them on its test sets.

    Parameters
    ----------
    X : DataFrame
        Patients x features.
    flagged : set of str
        Features flagged by the ICC step.
    cohort : DataFrame
        ``patient_id``, ``split``, ``dfs_time``, ``dfs_event`` and the declared clinical and
        MRI columns.
    eta : Series
        The true linear predictor by ``patient_id`` (the oracle).
    profile : mapping
        The profile (``seed``, ``time_unit``, ``cohort``, ``signatures``, ``models``).
    n_jobs : int
        Processes of the signatures' development.

    Returns
    -------
    dict
        ``train_events``, the multi-modal clinical and imaging models' variables, each of
        :data:`DRAW_MEASURES` (NaN for a model the draw did not develop) and ``failed``
        (empty, or the reason a step of the development could not be fitted on this draw).
    """
    from ..cohort.manifest import cohort_outcomes
    from ..models import cohort_design, develop_models, imputer_for
    from ..signatures.development import MULTIMODAL, develop_signatures, prevalidated_table, radscore_table

    seed = int(profile["seed"])
    outcome = cohort_outcomes(cohort, X.index, profile["time_unit"])
    train = (outcome["split"] == "train").to_numpy()
    row: dict[str, Any] = {"train_events": int(outcome["event"][train].sum())}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dev = develop_signatures(X, outcome, flagged, profile["signatures"], seed, n_jobs)
            radscores = radscore_table(dev, X, outcome)
            prevalidated = prevalidated_table(dev, outcome)
            columns, labels = profile["cohort"]["columns"], profile["cohort"]["labels"]
            design, clinical, mri = cohort_design(cohort, radscores, columns, labels, prevalidated=prevalidated)
            mo = outcome.loc[design.X.index]   # the patients with a Rad-score: every row of X
            is_train = (mo["split"] == "train").to_numpy()
            mp = profile["models"]
            six = develop_models(design.subset(design.X.index[is_train]), clinical, mri, mo.loc[is_train, "time"],
                                 mo.loc[is_train, "event"], screen_p=mp["screen_p"], ties=mp["ties"],
                                 imputer=imputer_for(design, [*clinical, *mri], mp, seed=seed))
            scores = six.scores(design)
    except ValueError as error:   # a step that cannot be fitted on this draw: counted, not averaged in
        return {**row, "failed": f"{type(error).__name__}: {error}"}
    row["clinical_variables"] = " ".join(six.models["clinical"].variables) if "clinical" in six.models else ""
    row["imaging_variables"] = " ".join(six.models["imaging"].variables) if "imaging" in six.models else ""
    for s in _TEST_SETS:
        sel, sel_m = (outcome["split"] == s).to_numpy(), (mo["split"] == s).to_numpy()
        row[f"radscore_{s}"] = _c(radscores[MULTIMODAL], outcome, sel)
        for key in ("clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"):
            row[f"{key}_{s}"] = _c(scores[key], mo, sel_m) if key in scores else float("nan")
        row[f"oracle_{s}"] = _c(eta.loc[outcome.index], outcome, sel)
    # Per external centre: the multi-modal Rad-score's mean in training SDs from the training
    # mean (the scanner's shift, which a pooled C and the calibration pay for) and its C
    # within the centre (what survives of the ranking).
    r = radscores[MULTIMODAL].to_numpy(float)
    mu, sd = r[train].mean(), r[train].std(ddof=1)
    centre = cohort.set_index("patient_id").loc[outcome.index, "center"].astype(str).to_numpy()
    external = (outcome["split"] == "external").to_numpy()
    for c in sorted(set(centre[external])):
        sel = (centre == c) & external
        row[f"radscore_shift_c{c}"] = float((r[sel].mean() - mu) / sd) if sd > 0 else float("nan")
        row[f"radscore_c{c}"] = _c(radscores[MULTIMODAL], outcome, sel)
    row["failed"] = ""
    return row


def percentile(draws: np.ndarray, value: float) -> float:
    """The mid-rank percentile of ``value`` among ``draws`` (NaN left out): 100 x (number
    below + half the number equal) / number of draws."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0 or not np.isfinite(value):
        return float("nan")
    return float(100.0 * (np.sum(d < value) + 0.5 * np.sum(d == value)) / d.size)


@dataclass(frozen=True, repr=False)
class OutcomeDraws(ShowsItself):
    """The build's own outcome draw among ``n`` redraws of the twin's outcomes (:meth:`run`).

    Attributes
    ----------
    draws : DataFrame
        One row per redraw: ``outcome_seed``, ``train_events``, :data:`DRAW_MEASURES` and
        ``failed`` (the reason, or empty).
    own : dict
        :func:`develop_draw` of the build's own outcomes.
    """

    draws: pd.DataFrame
    own: Mapping[str, Any]

    @classmethod
    def run(cls, X: pd.DataFrame, flagged: set[str], data: pd.DataFrame, profile: Mapping[str, Any], n: int,
            n_jobs: int = 1, scheduler=None, progress: bool = False,
            reported: Mapping[str, float] | None = None) -> "OutcomeDraws":
        """Develop the build's own draw and ``n`` redraws (outcome seeds 1..n), one per task
        on ``n_jobs`` processes or the Dask ``scheduler`` (:mod:`radsurv.compute`).

        ``reported``: C-indices the stages reported for the build's own draw (keys of
        :data:`DRAW_MEASURES`); the own draw developed here must equal them, or the
        redraws would not be developed as the build was (a ValueError names the first
        that differs).
        """
        from ..compute import run_tasks

        own = develop_draw(X, flagged, data, profile, None, n_jobs=n_jobs)
        if own.get("failed"):
            raise ValueError(f"the build's own outcomes could not be developed again: {own['failed']}")
        for key, value in (reported or {}).items():
            if not np.isclose(own[key], value, rtol=0, atol=1e-9, equal_nan=True):
                raise ValueError(f"{key}: the build's own draw, developed again, gives C {own[key]:.6f} but the "
                                 f"stages reported {value:.6f}: the redraws would not be developed as the build was")
        tasks = [{"outcome_seed": k} for k in range(1, int(n) + 1)]
        rows = run_tasks(develop_draw, tasks, {"X": X, "flagged": flagged, "data": data, "profile": profile},
                         n_jobs=n_jobs, scheduler=scheduler, progress=progress, desc="outcome draws",
                         unit="development")
        first = ["outcome_seed", "train_events", *DRAW_MEASURES, "failed", "clinical_variables", "imaging_variables"]
        table = pd.DataFrame(rows).reindex(columns=first + sorted({k for r in rows for k in r} - set(first)))
        return cls(draws=table, own=dict(own))

    @property
    def developed(self) -> pd.DataFrame:
        """The redraws whose development could be fitted."""
        return self.draws[self.draws["failed"].fillna("") == ""]

    @property
    def n_failed(self) -> int:
        return int(len(self.draws) - len(self.developed))

    def best_share(self, model: str = "imaging", models: Sequence[str] | None = None, split: str = "external"
                   ) -> float:
        """Share of the redraws in which ``model`` has the highest C of the six on ``split``
        (ties count for it)."""
        keys = list(models or ("clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"))
        d = self.developed
        if d.empty:
            return float("nan")
        c = d[[f"{k}_{split}" for k in keys]]
        return float((d[f"{model}_{split}"] >= c.max(axis=1)).mean())

    def summary(self) -> pd.DataFrame:
        """Per measure: the build's own C, the redraws' mean, SD, 10th and 90th
        percentiles, and the own draw's percentile among them."""
        d = self.developed
        rows = []
        for key in DRAW_MEASURES:
            values = d[key].to_numpy(float)
            finite = values[np.isfinite(values)]
            rows.append({"measure": key, "own": float(self.own[key]), "draws": int(finite.size),
                         "mean": float(finite.mean()) if finite.size else np.nan,
                         "sd": float(finite.std(ddof=1)) if finite.size > 1 else np.nan,
                         "p10": float(np.percentile(finite, 10)) if finite.size else np.nan,
                         "p90": float(np.percentile(finite, 90)) if finite.size else np.nan,
                         "percentile": percentile(finite, float(self.own[key]))})
        return pd.DataFrame(rows).set_index("measure")

    def title(self) -> str:
        return (f"The build's outcome draw among {len(self.developed)} redraws of the twin's outcomes"
                + (f" ({self.n_failed} could not be developed)" if self.n_failed else "")
                + f"; the clinical imaging model the best of the six externally in "
                  f"{100 * self.best_share():.0f}% of them")

    def plot(self, ax=None, split: str = "external"):
        """Each measure's redraw C on ``split`` (dots) with the build's own (black bar)."""
        from ..plots.sensitivity import draw_outcome_draws

        return draw_outcome_draws(new_axes(ax, figsize=(6.0, 4.0)), self, split)

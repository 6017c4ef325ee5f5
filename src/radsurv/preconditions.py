"""What the analysis stages (02-06) need of a cohort, decided in one place.

Each function here decides one precondition from the cohort's outcomes per set
(``split``, ``time`` in months, ``event``: :func:`radsurv.cohort.manifest.cohort_outcomes`)
and the validated profile, and returns a :class:`Verdict`. The stage calls it where it
would otherwise fail, and ``radsurv validate`` calls it before any work, so the command
predicts the run (issue 28).

A verdict that is not ``ok`` does one of two things, fixed per precondition:

* **refuse** (:data:`REFUSE`): the analysis is impossible as configured and a profile
  change fixes it. The message names the key and a value that would work; the stage
  raises :class:`radsurv.exceptions.PreconditionError` (an input error) with it.
* **degrade** (:data:`DEGRADE`): the analysis cannot be estimated on this cohort (a set
  without patients or events, a horizon beyond a set's follow-up, an external centre too
  small for ComBat). The stage still writes its tables and figures, says why in them and
  in its variables, and the paper states it.

A third kind, :data:`NOTE`, changes nothing in the run (few events per candidate
variable), or says what the run will do that the user should know of (the patients whose
lesion is too small for the extraction settings, left out by 02): ``validate`` prints it so
that the user knows before the run.

One precondition reaches back to 02_features: :func:`extractable_regions` (is every lesion
large enough for PyRadiomics' ``minimumROISize`` and ``minimumROIDimensions``?). ``validate``
decides it from the supplied masks (:func:`region_checks`, read with the image checks), 02
from what its extraction could not extract; the patients it leaves out are left out of the
cohort the later preconditions see (:func:`check_all`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .exceptions import PreconditionError
from .labels import SPLIT_LABELS

__all__ = ["BOOTSTRAP_MAX_FAILING", "BOOTSTRAP_NOTE_FAILING", "DEGRADE", "MIN_FOLDS", "NOTE", "REFUSE", "TEST_SETS", "Verdict",
           "bootstrap_folds", "bootstrap_share_failing", "calibration_horizons", "check_all", "combat_batches",
           "cutpoint_folds", "events_per_candidate", "extractable_regions", "folds_fill", "horizon_reason",
           "model_horizons", "refusals", "region_checks", "regions_left", "scored_set", "signature_folds", "td_auc_reason",
           "unscored_sets"]

REFUSE, DEGRADE, NOTE = "refuse", "degrade", "note"
#: The fewest cross-validation folds the schema allows (``signatures.n_folds``, ``sensitivity.cutpoint.n_folds``).
MIN_FOLDS = 3
#: The largest expected share of optimism-bootstrap resamples whose development cannot make
#: its folds (fewer distinct training events than folds) that 05 accepts: such resamples are
#: left out and counted, and past a quarter the optimism rests on the resamples that drew the
#: most events. Above :data:`BOOTSTRAP_NOTE_FAILING` ``validate`` says how many will be left
#: out. The quick profile's share is 0.019 (22 events in 104 patients, 10 folds); the README's
#: 60-patient own cohort's 0.105 (18 events in 27 patients).
BOOTSTRAP_MAX_FAILING = 0.25
BOOTSTRAP_NOTE_FAILING = 0.05
TEST_SETS = ("internal", "external")


@dataclass(frozen=True)
class Verdict:
    """Whether one stage can run one analysis on this cohort with this profile.

    Attributes
    ----------
    stage : str
        The stage that needs it (``"03_signatures"``...).
    check : str
        The precondition's name (the function's).
    action : str
        What the stage does when not ``ok``: :data:`REFUSE`, :data:`DEGRADE` or :data:`NOTE`.
    message : str
        Why not; empty when the precondition is met (:attr:`ok`). A refusal's names the profile
        key and a value that works.
    key : str or None
        The profile key to change (refusals).
    suggested : any
        A value of ``key`` that would work (None when no value does).
    """

    stage: str
    check: str
    action: str
    message: str = ""
    key: str | None = None
    suggested: Any = None

    @property
    def ok(self) -> bool:
        """Met: nothing to say."""
        return not self.message

    @property
    def refuses(self) -> bool:
        return not self.ok and self.action == REFUSE

    @property
    def degrades(self) -> bool:
        return not self.ok and self.action == DEGRADE

    def refuse(self) -> "Verdict":
        """Raise :class:`PreconditionError` when this verdict refuses; else return itself."""
        if self.refuses:
            raise PreconditionError(f"{self.stage}: {self.message}", key=self.key, suggested=self.suggested)
        return self

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}" if self.message else f"{self.stage}: {self.check} ok"


def _ok(stage: str, check: str, action: str) -> Verdict:
    return Verdict(stage, check, action)


def _set(outcome: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray]:
    sel = (outcome["split"] == split).to_numpy()
    return outcome.loc[sel, "time"].to_numpy(float), outcome.loc[sel, "event"].to_numpy(int)


def _training_events(outcome: pd.DataFrame) -> int:
    return int(_set(outcome, "train")[1].sum())


# --------------------------------------------------------------------------- regions (02)

#: The most lesions a verdict of :func:`extractable_regions` names one by one (the rest are counted).
MAX_LISTED = 5


def region_checks(profile: Mapping[str, Any], root: Path) -> dict[str, Callable]:
    """Modality -> the check of one lesion against the extraction settings
    (:func:`radsurv.features.extract.region_problem` with the parameter file
    ``features.params.<modality>`` and ``features.image_types``, read from ``root``), for
    the image checks of ``validate`` and ``run`` (:func:`radsurv.cohort.manifest.check_manifest`).

    Empty unless the supplied masks are the analysis masks (``segmentation.use_supplied_masks``):
    a U-Net's masks are not known before 01 makes them, and 02's own call decides then.
    """
    if not profile["segmentation"]["use_supplied_masks"]:
        return {}
    import functools

    from .exceptions import PreconditionError
    from .features.extract import extraction_params, region_problem

    try:
        params = extraction_params(profile["features"], Path(root))
    except FileNotFoundError as error:
        raise PreconditionError(str(error), key=str(error).split(":")[0]) from error
    return {m: functools.partial(region_problem, params=p) for m, p in params.items()}


def _listed(reasons: Sequence[str]) -> str:
    counts = pd.Series(list(reasons), dtype=object).value_counts(sort=False)
    items = [r if k == 1 else f"{r} ({k} patients)" for r, k in counts.items()]
    more = len(items) - MAX_LISTED
    return "; ".join(items[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")


def extractable_regions(outcome: pd.DataFrame, unextractable: pd.DataFrame, profile: Mapping[str, Any]) -> Verdict:
    """02: the patients whose lesion the extraction settings cannot extract (too few voxels
    or dimensions for PyRadiomics' ``setting.minimumROISize`` / ``minimumROIDimensions``
    after its resampling) are left out by 02 (``features.on_error: exclude``) and counted in
    the patient flow: a note naming them. Refused when the training patients left hold fewer
    than :data:`MIN_FOLDS` events (no signature can be developed, whatever
    ``signatures.n_folds``), naming the parameter file and its settings; and with
    ``features.on_error: fail``, where 02 would stop at the first such lesion.

    Parameters
    ----------
    outcome : DataFrame
        Every patient's outcome (index ``patient_id``; ``split``, ``time``, ``event``).
    unextractable : DataFrame
        ``patient_id``, ``modality``, ``reason``: one row per lesion that cannot be
        extracted. ``validate`` names the row, patient and file in the reason
        (:func:`region_checks`); 02 gives PyRadiomics' reason without the patient (the
        executed notebook is published), and equal reasons are counted.
    profile : mapping
        The validated profile (``features.params``, ``features.on_error``).
    """
    stage, check = "02_features", "extractable_regions"
    ids = [p for p in dict.fromkeys(unextractable["patient_id"].astype(str)) if p in outcome.index]
    if not ids:
        return _ok(stage, check, NOTE)
    left = outcome.drop(index=ids)
    events = _training_events(left)
    mods = list(dict.fromkeys(unextractable["modality"].astype(str)))
    files = " and ".join(f"{profile['features']['params'][m]} (features.params.{m})" for m in mods)
    n, total = len(ids), len(outcome)
    head = (f"the lesion of {n} of {total} patients cannot be extracted with the extraction settings (too small, or "
            f"on a constant image): PyRadiomics cannot extract it, and 02_features leaves the patient out "
            f"({_listed(unextractable['reason'].astype(str))})")
    if events < MIN_FOLDS:
        return Verdict(stage, check, REFUSE,
                       f"{head}; the training patients left hold {events} event{'s' if events != 1 else ''}, too few "
                       f"to develop a signature (at least {MIN_FOLDS}). Check that these masks hold the whole lesion "
                       "(imaging.mask_label picks its label) and that the images hold the scan, or lower "
                       "setting.minimumROISize or setting.minimumROIDimensions (or setting.resampledPixelSpacing) in "
                       f"the PyRadiomics parameter file {files}", f"features.params.{mods[0]}",
                       "a parameter file whose settings these lesions pass")
    if profile["features"]["on_error"] == "fail":
        return Verdict(stage, check, REFUSE,
                       f"{head.replace(', and 02_features leaves the patient out', '')}; with features.on_error: fail "
                       "02_features stops there: set features.on_error to exclude to leave these patients out "
                       f"({events} training events are left), or change the masks or the settings of {files}",
                       "features.on_error", "exclude")
    return Verdict(stage, check, NOTE,
                   f"{head}, and the patient flow counts them; {events} training events are left")


def regions_left(outcome: pd.DataFrame, unextractable: pd.DataFrame | None) -> pd.DataFrame:
    """The outcomes of the patients 02_features keeps (``outcome`` less the patients of
    ``unextractable``, :func:`extractable_regions`): what stages 03-06 analyse."""
    if unextractable is None or unextractable.empty:
        return outcome
    return outcome.drop(index=[p for p in unextractable["patient_id"].astype(str) if p in outcome.index])


# --------------------------------------------------------------------------- folds


def folds_fill(n_events: int, n_folds: int) -> bool:
    """Whether ``n_events`` events fill ``n_folds`` folds stratified by the event (every
    fold needs one: :func:`radsurv.signatures.fold_ids`)."""
    return int(n_events) >= int(n_folds)


def _folds(stage: str, check: str, what: str, key: str, n_events: int, n_folds: int) -> Verdict:
    if folds_fill(n_events, n_folds):
        return _ok(stage, check, REFUSE)
    if n_events < MIN_FOLDS:
        return Verdict(stage, check, REFUSE,
                       f"{n_events} training event{'s' if n_events != 1 else ''} cannot fill {n_folds} {what} folds, "
                       f"and no value of {key} can (at least {MIN_FOLDS} folds): the training set needs at least "
                       f"{MIN_FOLDS} events", key, None)
    return Verdict(stage, check, REFUSE,
                   f"{n_events} training events cannot fill {n_folds} {what} folds; set {key} to {n_events} or fewer "
                   f"(at least {MIN_FOLDS})", key, int(n_events))


def signature_folds(outcome: pd.DataFrame, profile: Mapping[str, Any]) -> Verdict:
    """03: the LASSO-Cox cross-validation needs an event in every fold: training events
    >= ``signatures.n_folds`` (06's permutation null keeps the training events, so it
    needs no more)."""
    return _folds("03_signatures", "signature_folds", "cross-validation", "signatures.n_folds",
                  _training_events(outcome), int(profile["signatures"]["n_folds"]))


def cutpoint_folds(outcome: pd.DataFrame, profile: Mapping[str, Any]) -> Verdict:
    """06: the cross-validated X-tile split needs an event in every fold: training events
    >= ``sensitivity.cutpoint.n_folds``."""
    return _folds("06_sensitivity", "cutpoint_folds", "cut-point cross-validation", "sensitivity.cutpoint.n_folds",
                  _training_events(outcome), int(profile["sensitivity"]["cutpoint"]["n_folds"]))


def bootstrap_share_failing(n: int, n_events: int, n_folds: int) -> float:
    """The probability that a bootstrap resample of ``n`` training patients (``n`` draws
    with replacement) holds fewer than ``n_folds`` distinct patients with an event.

    The optimism bootstrap keeps a patient's copies in one fold
    (:func:`radsurv.signatures.grouped_fold_ids`), so such a resample cannot make its
    folds and is left out. Exact: the distribution of the distinct event patients drawn,
    built draw by draw (each draw is a new event patient with probability ``(E - d) / n``).
    """
    n, e, k = int(n), int(n_events), int(n_folds)
    if n <= 0 or e < k:
        return 1.0
    p = np.zeros(e + 1)
    p[0] = 1.0
    d = np.arange(e + 1)
    new = (e - d) / n
    for _ in range(n):
        q = p * (1.0 - new)
        q[1:] += p[:-1] * new[:-1]
        p = q
    return float(min(1.0, max(0.0, p[:k].sum())))


def bootstrap_folds(outcome: pd.DataFrame, profile: Mapping[str, Any]) -> Verdict:
    """05: the optimism bootstrap repeats 03's development in every resample, whose folds
    are filled by the resample's distinct event patients (about 63% of the training
    events). More than :data:`BOOTSTRAP_MAX_FAILING` of the resamples expected to fail
    (:func:`bootstrap_share_failing`) is refused, with the largest ``signatures.n_folds``
    that keeps the share below it; more than :data:`BOOTSTRAP_NOTE_FAILING` is a note."""
    t, e = _set(outcome, "train")
    k = int(profile["signatures"]["n_folds"])
    share = bootstrap_share_failing(t.size, int(e.sum()), k)
    if share <= BOOTSTRAP_NOTE_FAILING:
        return _ok("05_validation", "bootstrap_folds", REFUSE)
    if share <= BOOTSTRAP_MAX_FAILING:
        return Verdict("05_validation", "bootstrap_folds", NOTE,
                       f"with {int(e.sum())} training events, about {100 * share:.0f}% of the optimism bootstrap's "
                       f"resamples will hold fewer than {k} distinct patients with an event and be left out (the "
                       "paper counts them)")
    works = [j for j in range(MIN_FOLDS, k)
             if bootstrap_share_failing(t.size, int(e.sum()), j) <= BOOTSTRAP_MAX_FAILING]
    head = (f"with {int(e.sum())} training events, {100 * share:.0f}% of the optimism bootstrap's resamples are "
            f"expected to hold fewer than {k} distinct patients with an event, too few to fill the {k} "
            f"cross-validation folds of the development they repeat (at most {100 * BOOTSTRAP_MAX_FAILING:.0f}% "
            "may fail)")
    if works:
        return Verdict("05_validation", "bootstrap_folds", REFUSE,
                       f"{head}; set signatures.n_folds to {works[-1]} or fewer (at least {MIN_FOLDS})",
                       "signatures.n_folds", works[-1])
    return Verdict("05_validation", "bootstrap_folds", REFUSE,
                   f"{head}, and no value of signatures.n_folds keeps it there (at least {MIN_FOLDS}): the training "
                   "set has too few events for the optimism bootstrap", "signatures.n_folds", None)


# --------------------------------------------------------------------------- sets and horizons


def scored_set(outcome: pd.DataFrame, split: str) -> Verdict:
    """03-06: a test set without patients (no external centre) or without events cannot
    be scored (C-index, risk groups, calibration, decision curves, permutation null): the
    stages leave it out and say so."""
    t, e = _set(outcome, split)
    name = SPLIT_LABELS[split].lower()
    if t.size == 0:
        return Verdict("03-06", "scored_set", DEGRADE, f"the cohort has no {name} set: nothing is estimated "
                                                            "on it")
    if e.sum() == 0:
        return Verdict("03-06", "scored_set", DEGRADE,
                       f"the {name} set has no event ({t.size} patients, all censored): its C-indices, risk groups, "
                       "calibration and decision curves cannot be estimated")
    return _ok("03-06", "scored_set", DEGRADE)


def unscored_sets(outcome: pd.DataFrame) -> list[str]:
    """The reasons of :func:`scored_set` for every test set that cannot be scored (none on a
    cohort with patients and events in both): the clauses stages 03-05 add to their
    ``not_estimable`` variable."""
    return [v.message for v in (scored_set(outcome, s) for s in TEST_SETS) if v.degrades]


def horizon_reason(time, event, horizon: float, min_events: int = 0) -> str:
    """Why a risk at ``horizon`` (months) cannot be estimated on these patients, or "":
    no patient; follow-up ending before the horizon; fewer than ``min_events`` events by
    it. Calibration (``validation.calibration.min_events``) and decision curves (0) use it."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=int)
    if t.size == 0:
        return "no patient"
    if t.max() < horizon:
        return f"follow-up ends at {t.max():.1f} months, before the horizon"
    events = int(((t <= horizon) & (e == 1)).sum())
    if events < min_events:
        return f"{events} events by the horizon (at least {min_events} needed)"
    return ""


def td_auc_reason(time, event, horizon: float) -> str:
    """Why the time-dependent AUC at ``horizon`` cannot be estimated, or "": it needs a
    case (an event by the horizon) and a control (followed beyond it)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=int)
    if t.size == 0:
        return "no patient"
    if not (t > horizon).any():
        return f"no patient followed beyond {horizon:g} months (follow-up ends at {t.max():.1f})"
    if not ((t <= horizon) & (e == 1)).any():
        return f"no event by {horizon:g} months"
    return ""


def model_horizons(outcome: pd.DataFrame, profile: Mapping[str, Any]) -> list[Verdict]:
    """04: the time-dependent AUC of every model at each of ``models.horizons_months`` in
    each test set with events; one degrading verdict per horizon and set that cannot be
    estimated (the tables show "–" and the paper says why)."""
    out = []
    for split in TEST_SETS:
        t, e = _set(outcome, split)
        if t.size == 0 or e.sum() == 0:
            continue   # scored_set says it
        for h in profile["models"]["horizons_months"]:
            why = td_auc_reason(t, e, float(h))
            if why:
                out.append(Verdict("04_models", "model_horizons", DEGRADE,
                                   f"the time-dependent AUC at {float(h):g} months cannot be estimated in the "
                                   f"{SPLIT_LABELS[split].lower()} set: {why}"))
    return out


def calibration_horizons(outcome: pd.DataFrame, profile: Mapping[str, Any]) -> list[Verdict]:
    """05: calibration and decision curves at each of ``validation.horizons_months`` in
    each test set with events (:func:`horizon_reason`); one degrading verdict per horizon
    and set that cannot be estimated."""
    out = []
    v = profile["validation"]
    for split in TEST_SETS:
        t, e = _set(outcome, split)
        if t.size == 0 or e.sum() == 0:
            continue   # scored_set says it
        for h in v["horizons_months"]:
            why = horizon_reason(t, e, float(h), int(v["calibration"]["min_events"]))
            if why:
                out.append(Verdict("05_validation", "calibration_horizons", DEGRADE,
                                   f"calibration at {float(h):g} months cannot be estimated in the "
                                   f"{SPLIT_LABELS[split].lower()} set: {why}"))
    return out


# --------------------------------------------------------------------------- models and ComBat


def events_per_candidate(outcome: pd.DataFrame, profile: Mapping[str, Any]) -> Verdict:
    """04: training events per candidate parameter of the models (every declared clinical
    and MRI column, a categorical one with its levels less one, and the Rad-score). Below
    10 the selected models are likely overfitted; the run goes on (a note)."""
    cols = profile["cohort"]["columns"]
    params = 1 + sum(1 if kind == "numeric" else max(len(kind) - 1, 1)
                     for group in ("clinical", "mri") for kind in (cols.get(group) or {}).values())
    events = _training_events(outcome)
    if events >= 10 * params:
        return _ok("04_models", "events_per_candidate", NOTE)
    return Verdict("04_models", "events_per_candidate", NOTE,
                   f"{events} training events for {params} candidate parameters ({events / params:.1f} per "
                   "parameter; 10 is the usual minimum): the selected models may be overfitted, and the optimism "
                   "bootstrap will show by how much")


def combat_batches(batch: pd.Series | None, profile: Mapping[str, Any],
                   outcome: pd.DataFrame | None = None) -> Verdict:
    """06: reference-batch ComBat estimates each external centre's location and scale from
    its own patients, so every batch needs at least two; and what it changes is read in the
    external set's C, which needs an event there (:func:`scored_set`, with ``outcome``).
    ``batch``: each patient's batch (:func:`radsurv.sensitivity.harmonisation_batches`;
    None without an external centre)."""
    if not profile["sensitivity"]["harmonisation"]["run"] or batch is None:
        return _ok("06_sensitivity", "combat_batches", DEGRADE)
    counts = batch.dropna().astype(str).value_counts()
    small = sorted(b for b, n in counts.items() if n < 2)
    if not small:
        if outcome is not None and scored_set(outcome, "external").degrades:
            return Verdict("06_sensitivity", "combat_batches", DEGRADE,
                           "ComBat harmonisation cannot be compared: the external test set has no event, so its C "
                           "with and without harmonisation cannot be estimated")
        return _ok("06_sensitivity", "combat_batches", DEGRADE)
    return Verdict("06_sensitivity", "combat_batches", DEGRADE,
                   f"ComBat harmonisation cannot be estimated: {', '.join(repr(b) for b in small)} "
                   f"{'has' if len(small) == 1 else 'have'} fewer than two patients (a centre's scale needs two)")


def check_all(outcome: pd.DataFrame, profile: Mapping[str, Any], batch: pd.Series | None = None,
              unextractable: pd.DataFrame | None = None) -> list[Verdict]:
    """Every precondition of stages 02-06 that is not met, in stage order (what ``radsurv
    validate`` prints).

    ``unextractable`` (``patient_id``, ``modality``, ``reason``): the lesions the extraction
    settings turn down (:func:`extractable_regions`). Unless that refuses, stages 03-06 see
    the cohort without these patients (:func:`regions_left`), and so do their preconditions;
    when it refuses, they are decided on the whole cohort (as if the masks were mended)."""
    verdicts: list[Verdict] = []
    if unextractable is not None and len(unextractable):
        regions = extractable_regions(outcome, unextractable, profile)
        verdicts.append(regions)
        if not regions.refuses:
            kept = regions_left(outcome, unextractable)
            if batch is not None:
                batch = batch.loc[batch.index.isin(kept.index)]
            outcome = kept
    verdicts.append(signature_folds(outcome, profile))
    verdicts += [scored_set(outcome, s) for s in TEST_SETS]
    verdicts += [events_per_candidate(outcome, profile), *model_horizons(outcome, profile)]
    verdicts += [bootstrap_folds(outcome, profile), *calibration_horizons(outcome, profile)]
    verdicts += [cutpoint_folds(outcome, profile), combat_batches(batch, profile, outcome)]
    return [v for v in verdicts if not v.ok]


def refusals(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The verdicts that refuse."""
    return [v for v in verdicts if v.refuses]

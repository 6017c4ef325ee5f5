"""The segmentation stage (``notebooks/01_segmentation.ipynb``).

For each modality (US 2D, MRI 3D):

1. the development set (patients without outcome; the twin's, or the user's) is split
   into a development-training part, on which the U-Net is trained with model
   selection on a validation split of its own, and a held-out development-test part;
2. the U-Net, the classical baseline and the reader are scored against the true masks
   of the development-test part, and on every set of the survival cohort against the
   true masks (twin) or the reader's masks (a user's cohort, where no truth exists);
3. the U-Net segments every cohort patient; a failed automatic mask (none found, or
   touching the border where the peri-tumoral ring needs room) falls back to the
   reader's mask or excludes the patient, as the profile says, and is listed.

The notebook walks through these steps in its cells, calling: :func:`describe_devsets`
(the split, a :class:`~radsurv.segment.devsets.Devsets`), :func:`fit_unet`
(trained or cached; shown by :class:`~radsurv.segment.devsets.UNetTraining`),
:func:`evaluate_hold_out` (a :class:`~radsurv.segment.agreement.SegmentationAgreement`),
:func:`radsurv.segment.steps.segmentation_steps` (one case step by step),
:func:`segment_modality` (every cohort image, checked), :func:`~radsurv.segment.agreement.agreement_metrics`
and :class:`~radsurv.segment.agreement.SegmentationFailures` (the failures by kind),
:func:`apply_policy` (the failure policy, a :class:`~radsurv.segment.agreement.PolicyOutcome`),
:func:`overlay_examples` (the figure's cases) and :func:`segmentation_variables`; then
:func:`write_segmentation_artefacts` writes the outputs declared in
:mod:`radsurv.stages.registry` from those objects. Trained weights live in
``build/<profile>/cache/segment/`` (keyed by data, parameters and code), so re-running
the stage after an unrelated change does not re-train; so do the predicted masks
(``masks/``, keyed by image, weights, settings and code: :mod:`radsurv.segment.maskcache`),
so that a hand run reads the masks the build predicted instead of predicting them again.
Every mask (the cohort's and the development test's, of both segmenters) is predicted where
the profile's ``compute`` section says (``**ctx.compute``: this process, ``n_jobs`` local
processes, or the workers of a Dask scheduler; :mod:`radsurv.segment.parallel`), with one
torch thread each, so that the masks and the tables are the same wherever they ran; the
mask cache is read and written in the stage's process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..labels import MODALITIES, MODALITY_LABELS, SET_LABELS, SPLITS
from ..stages.context import StageContext, resolve_n_jobs
from ..stages.readers import CohortOutputs
from .agreement import (FALLBACK_REASON, FALLBACK_REASONS, METRIC_COLUMNS, Overlays, PolicyOutcome,
                        SegmentationAgreement, agreement_metrics, failure_counts, median_dice, segmentation_table)
from .devsets import Devsets, DevsetSplit, weights_origin
from .inference import apply_failure_policy, segment_cohort
from .metrics import FAILURE_KINDS, evaluate

__all__ = ["FAILURE_PANELS", "FALLBACK_REASON", "FALLBACK_REASONS", "METRIC_COLUMNS", "apply_policy", "cohort_agreement",
           "development_labels", "describe_devsets", "devset_split", "evaluate_devset_holdout", "evaluate_hold_out",
           "failure_counts", "fit_unet", "load_weights", "mask_cache", "median_dice", "modality_split",
           "overlay_examples", "segment_modality", "segmentation_table", "segmentation_variables", "step_note",
           "supplied_masks", "training_data", "training_info", "training_infos", "write_segmentation_artefacts"]


def devset_split(dev: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split of the development set into training (with its own validation
    split inside the U-Net's fit) and a held-out test part used only for evaluation."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(dev))
    n_test = int(round(test_fraction * len(dev)))
    test = dev.iloc[np.sort(order[:n_test])].reset_index(drop=True)
    train = dev.iloc[np.sort(order[n_test:])].reset_index(drop=True)
    return train, test


def training_data(cohort: CohortOutputs, modality: str) -> pd.DataFrame:
    """The images and masks a segmenter learns from.

    The twin (and a user who supplies one) has a development set of its own; without
    it, the training set's supplied masks are used, never those of the test sets.
    """
    if modality in cohort.devsets:
        return cohort.devsets[modality]
    c = cohort.data
    sel = (c["split"] == "train") & c[f"{modality}_image"].notna() & c[f"{modality}_mask"].notna()
    if sel.sum() < 10:
        raise ValueError(f"{modality}: no development set and only {int(sel.sum())} training patients with a mask; "
                         "the U-Net needs at least 10 annotated images")
    d = c.loc[sel, ["patient_id", f"{modality}_image", f"{modality}_mask"]]
    d.columns = ["patient_id", "image", "mask"]
    d["reader_mask"] = d["mask"]
    return d.reset_index(drop=True)


def load_weights(path: str | Path, modality: str):
    """A user's trained U-Net (``segmentation.<modality>.weights``), read from disk.

    Parameters
    ----------
    path
        A file written by :meth:`radsurv.segment.unet.UNetSegmenter.save` (a run's
        ``build/<profile>/cache/segment/unet_<modality>_*.pt`` is one).
    modality
        The modality it must segment.

    Returns
    -------
    UNetSegmenter
        With ``cache_ = {"loaded": True, "supplied": True, "path": ...}``.

    Raises
    ------
    StageError
        The file is missing, not a radsurv U-Net, or for the other modality.
    """
    from ..exceptions import StageError
    from .unet import UNetSegmenter

    key = f"segmentation.{modality}.weights"
    path = Path(path)
    if not path.is_file():
        raise StageError(f"{key}: {path} does not exist")
    try:
        model = UNetSegmenter.load(path, device=None)
    except (ValueError, KeyError, RuntimeError, OSError) as err:
        raise StageError(f"{key}: {path} is not a radsurv U-Net file ({err})") from None
    if model.modality != modality:
        raise StageError(f"{key}: {path} holds a U-Net for {model.modality.upper()}, not {modality.upper()}")
    model.cache_ = {"loaded": True, "supplied": True, "path": str(path)}
    return model


def modality_split(cohort: CohortOutputs, modality: str, params: Mapping[str, Any], seed: int) -> DevsetSplit:
    """One modality's development data, split into what the U-Net learns from and the
    held-out part (:func:`devset_split`); with ``segmentation.<modality>.weights``
    nothing is trained and the whole development set (if any) is held out.

    Parameters
    ----------
    cohort : CohortOutputs
    modality : str
    params : mapping
        The ``segmentation`` section.
    seed : int

    Returns
    -------
    DevsetSplit
    """
    if params[modality].get("weights"):
        dev = cohort.devsets.get(modality, pd.DataFrame(columns=["patient_id", "image", "mask", "reader_mask"]))
        return DevsetSplit(modality, "weights", dev.iloc[:0], dev.reset_index(drop=True), None)
    dev = training_data(cohort, modality)
    train, test = devset_split(dev, float(params["dev_test_fraction"]), seed)
    source = "devset" if modality in cohort.devsets else "training"
    return DevsetSplit(modality, source, train, test, devset_label_column(train, params))


def describe_devsets(cohort: CohortOutputs, params: Mapping[str, Any], seed: int) -> Devsets:
    """Every modality's :func:`modality_split`; none when the profile keeps the cohort's own
    masks (``segmentation.use_supplied_masks``), since then nothing is trained.

    Parameters
    ----------
    cohort : CohortOutputs
    params : mapping
        The ``segmentation`` section.
    seed : int

    Returns
    -------
    Devsets
    """
    if params["use_supplied_masks"]:
        return Devsets({}, float(params["dev_test_fraction"]),
                               "the cohort's own masks are analysed (segmentation.use_supplied_masks)")
    return Devsets({m: modality_split(cohort, m, params, seed) for m in cohort.modalities()},
                           float(params["dev_test_fraction"]))


def fit_unet(split: DevsetSplit, params: Mapping[str, Any], seed: int, cache_dir: Path):
    """The U-Net of one modality: trained on ``split.train`` (or read from the cache, where
    the same data, parameters and code trained one before), or the user's trained U-Net
    (``segmentation.<modality>.weights``).

    Parameters
    ----------
    split : DevsetSplit
        From :func:`modality_split`.
    params : mapping
        The ``segmentation`` section (``<modality>.unet``: the network's parameters).
    seed : int
        The network's seed unless ``unet.seed`` sets one.
    cache_dir : Path
        ``build/<profile>/cache/segment/``.

    Returns
    -------
    UNetSegmenter
        ``cache_["loaded"]`` says whether the weights came from the cache or the user's
        file (``cache_["supplied"]``).
    """
    from .unet import train_or_load

    modality = split.modality
    if split.source == "weights":
        return load_weights(params[modality]["weights"], modality)
    unet_params = dict(params[modality]["unet"])
    unet_params.setdefault("seed", seed)
    return train_or_load(cache_dir, modality, list(split.train["image"]), list(split.train[split.labels]),
                         progress=True, **unet_params)


def step_note(model) -> str:
    """What the timed training step adds to its name: `` (supplied weights)``,
    `` (cached)`` or nothing (trained now)."""
    return {"supplied": " (supplied weights)", "cached": " (cached)", "trained": ""}[weights_origin(model)]


def devset_label_column(train: pd.DataFrame, params: Mapping[str, Any]) -> str:
    """The column of ``train`` that :func:`development_labels` returns."""
    use_reader = params.get("development_labels", "reader") == "reader"
    if use_reader and "reader_mask" in train and train["reader_mask"].notna().all():
        return "reader_mask"
    return "mask"


def development_labels(train: pd.DataFrame, params: Mapping[str, Any]) -> pd.Series:
    """The masks the U-Net learns from: the development set's expert delineations
    (``reader_mask``) unless ``segmentation.development_labels`` is ``true``.

    In the study, as in every real one, the network learns from radiologists'
    delineations, never from the pathological truth; the twin's development set has
    both, and learning from the truth would let the network beat every human at
    drawing the lesion. A development set without a separate reader column (a user's,
    whose masks are the experts') learns from its masks either way."""
    return train[devset_label_column(train, params)]


def training_info(cohort: CohortOutputs, modality: str, model, dev_train: pd.DataFrame,
                  dev_test: pd.DataFrame) -> dict[str, Any]:
    """What the paper says of a modality's segmenter: what it learned from and how many.

    ``source`` is ``"weights"`` (a user's trained U-Net), ``"devset"`` (a development
    set: the twin's or the user's) or ``"training"`` (the training set's supplied masks,
    for a cohort without a development set).
    """
    supplied = bool(getattr(model, "cache_", {}).get("supplied"))
    source = "weights" if supplied else ("devset" if modality in cohort.devsets else "training")
    return {"n_train": int(len(dev_train)), "n_test": int(len(dev_test)), "loaded": bool(model.cache_["loaded"]),
            "source": source, "weights": Path(model.cache_["path"]).name if supplied else None}


def training_infos(cohort: CohortOutputs, dev: Devsets, models: Mapping[str, Any]) -> dict[str, dict]:
    """:func:`training_info` of every modality's network; with the cohort's own masks
    (nothing trained), zero counts for every modality of the cohort.

    Parameters
    ----------
    cohort : CohortOutputs
    dev : Devsets
        From :func:`describe_devsets`.
    models : mapping
        Modality -> the network of :func:`fit_unet`.

    Returns
    -------
    dict
        Modality -> ``n_train``, ``n_test``, ``loaded`` (and ``source``, ``weights`` for
        a trained or supplied network).
    """
    if not dev.modalities:
        return {m: {"n_train": 0, "n_test": 0, "loaded": False} for m in cohort.modalities()}
    return {m: training_info(cohort, m, models[m], dev[m].train, dev[m].test) for m in dev.modalities}


def supplied_masks(cohort: CohortOutputs, modality: str) -> pd.DataFrame:
    """The analysis masks when the profile keeps the cohort's own
    (``segmentation.use_supplied_masks: true``): no network is trained or run, and a
    patient with an image but no mask is excluded, named in the patient flow.

    Returns the per-patient table in :func:`segment_modality`'s columns.
    """
    c = cohort.data
    has = c[f"{modality}_image"].notna()
    rows = []
    for pid, mask in zip(c.loc[has, "patient_id"], c.loc[has, f"{modality}_mask"]):
        ok = isinstance(mask, str) and mask.strip() != ""
        rows.append({"patient_id": pid, "modality": modality, "mask": mask if ok else None,
                     "source": "user" if ok else "excluded", "auto_mask": None, "flag": None,
                     "reason": "user-supplied mask" if ok else "no mask supplied (segmentation.use_supplied_masks)",
                     "action": "kept user mask" if ok else "excluded", "baseline_mask": None})
    return pd.DataFrame(rows, columns=["patient_id", "modality", "mask", "source", "auto_mask", "flag", "reason",
                                       "action", "baseline_mask"])


def mask_cache(segmenter, cache_dir: Path | None):
    """``segmenter`` whose masks are cached by content in ``cache_dir / "masks"``
    (:class:`~radsurv.segment.maskcache.CachedSegmenter`), or itself without a cache folder."""
    if cache_dir is None:
        return segmenter
    from .maskcache import CachedSegmenter

    return CachedSegmenter(segmenter, Path(cache_dir) / "masks")


def _predicted(segmenter, images, n_jobs: int, scheduler) -> list:
    """Every image's mask, in order (:func:`radsurv.segment.parallel.predict_masks`)."""
    from .parallel import predict_masks

    images = list(images)
    out: list = [None] * len(images)
    for i, mask, _ in predict_masks(images, segmenter, n_jobs=n_jobs, scheduler=scheduler):
        out[i] = mask
    return out


def evaluate_devset_holdout(model, baseline, test: pd.DataFrame, modality: str,
                            cache_dir: Path | None = None, n_jobs: int = 1, scheduler: Any = None) -> pd.DataFrame:
    """U-Net, baseline and reader against the reference masks of the development-test part
    (the twin's true masks, or a user's development masks, which have no second reader).
    With ``cache_dir`` (``build/<profile>/cache/segment/``) the masks are read from, or
    stored in, the content-keyed mask cache (:func:`mask_cache`); they are predicted where
    ``n_jobs`` and ``scheduler`` say (:func:`radsurv.segment.parallel.predict_masks`, one
    torch thread each, the same masks wherever they ran)."""
    if test.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    model, baseline = mask_cache(model, cache_dir), mask_cache(baseline, cache_dir)
    preds_u = _predicted(model, test["image"], n_jobs, scheduler)
    preds_b = _predicted(baseline, test["image"], n_jobs, scheduler)
    ids = list(test["patient_id"])
    frames = [
        evaluate(preds_u, list(test["mask"]), ids, modality=modality, method="unet", set="devtest"),
        evaluate(preds_b, list(test["mask"]), ids, modality=modality, method="baseline", set="devtest"),
    ]
    readers = test["reader_mask"] if "reader_mask" in test else pd.Series([None] * len(test))
    if readers.map(lambda v: isinstance(v, str) and v != "").all():
        frames.append(evaluate(list(readers), list(test["mask"]), ids, modality=modality, method="reader",
                               set="devtest"))
    return pd.concat(frames, ignore_index=True)


def evaluate_hold_out(models: Mapping[str, Any], baselines: Mapping[str, Any], dev: Devsets,
                      truth: pd.DataFrame | None = None, cache_dir: Path | None = None, n_jobs: int = 1,
                      scheduler: Any = None) -> SegmentationAgreement:
    """:func:`evaluate_devset_holdout` of every modality: the U-Net, the classical baseline and
    the reader on the held-out part of the development set.

    Parameters
    ----------
    models, baselines : mapping
        Modality -> the U-Net (:func:`fit_unet`) and the
        :class:`~radsurv.segment.baseline.BaselineSegmenter`.
    dev : Devsets
        From :func:`describe_devsets` (each modality's ``test`` part).
    truth : DataFrame or None
        The twin's true masks (whose development sets' masks are the truth too); None
        for a user's cohort, whose development masks are its experts'.
    cache_dir : Path or None
        ``build/<profile>/cache/segment/``: the predicted masks are cached by content
        there (:func:`mask_cache`); None: nothing cached.
    n_jobs, scheduler
        Where the masks are predicted (``**ctx.compute``: local processes, or a Dask
        scheduler); the masks are the same on any.

    Returns
    -------
    SegmentationAgreement
        Its ``frames`` keep each modality's rows for :func:`~radsurv.segment.agreement.agreement_metrics`.
    """
    frames = {m: evaluate_devset_holdout(models[m], baselines[m], dev[m].test, m, cache_dir, n_jobs, scheduler)
              for m in models}
    return SegmentationAgreement.from_frames(frames, "truth" if truth is not None else "the development masks")


def segment_modality(cohort: CohortOutputs, truth: pd.DataFrame | None, model, baseline, modality: str,
                     params: Mapping[str, Any], out_dir: Path, cache_dir: Path | None = None,
                     n_jobs: int | None = None, scheduler: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment every cohort patient with the U-Net (and the baseline, for comparison) and
    check each automatic mask; the failure policy is left to :func:`apply_policy`.

    Parameters
    ----------
    cohort : CohortOutputs
    truth : DataFrame or None
        The twin's true masks (``radsurv.stages.readers.read_truth``); None for a user's
        cohort, whose masks are then scored against the reader's.
    model, baseline
        The U-Net and the classical segmenter (anything with ``predict``).
    modality : str
    params : mapping
        The ``segmentation`` section (``n_jobs``, ``border_margin_mm``, ``use_supplied_masks``).
    out_dir : Path
        The stage's folder (``masks/<modality>/``, ``baseline/<modality>/``).
    cache_dir : Path or None
        ``build/<profile>/cache/segment/``: each mask predicted is cached by content
        there (:func:`mask_cache`), so a hand run or a re-run reads the masks instead of
        predicting them again, and writes the same bytes; None: nothing cached.
    n_jobs : int, optional
        Local worker processes over the images: the stage's ``ctx.n_jobs`` (the section's
        ``n_jobs``, else ``compute.n_jobs``); None: the section's ``n_jobs`` (null: every core).
    scheduler : str, distributed.Client or None
        ``compute.scheduler`` (``ctx.scheduler``): the masks are predicted on that Dask
        cluster's workers. Wherever they run, every mask is predicted with one torch thread
        (:func:`radsurv.segment.inference.segment_cohort`), so the masks and the tables are
        the same; the mask cache is read and written in this process.

    Returns
    -------
    (table, metrics)
        The per-patient table (:func:`radsurv.segment.inference.segment_cohort`'s with
        ``policy=None``, plus ``modality`` and ``baseline_mask``): a mask that failed the
        checks is ``"failed"`` until :func:`apply_policy` resolves it; and the per-case
        metrics of the U-Net, the baseline (and the reader, against the truth) on each
        set of the cohort.
    """
    c = cohort.data
    has = c[f"{modality}_image"].notna()
    use_supplied = bool(params["use_supplied_masks"])
    cases = pd.DataFrame({
        "patient_id": c.loc[has, "patient_id"],
        "image": c.loc[has, f"{modality}_image"],
        # The study's design: the automatic mask is the analysis mask, and the manifest's
        # mask is the reader's (fallback and yardstick) unless the profile says otherwise.
        "mask": c.loc[has, f"{modality}_mask"] if use_supplied else None,
        "reader_mask": c.loc[has, f"{modality}_mask"],
    })
    n_jobs = resolve_n_jobs(n_jobs if n_jobs is not None else params["n_jobs"])
    margin = float(params["border_margin_mm"])
    table = segment_cohort(cases, mask_cache(model, cache_dir), out_dir / "masks" / modality, n_jobs=n_jobs,
                           policy=None, border_margin_mm=margin, scheduler=scheduler)
    base = segment_cohort(cases.assign(mask=None), mask_cache(baseline, cache_dir), out_dir / "baseline" / modality,
                          n_jobs=n_jobs, policy="exclude", border_margin_mm=margin, scheduler=scheduler)
    table.insert(1, "modality", modality)
    table["baseline_mask"] = base["auto_mask"].to_numpy()
    split = c.set_index("patient_id")["split"]

    # Reference: the truth for the twin; the reader for a user's cohort (no truth exists).
    if truth is not None:
        ref = truth.set_index("patient_id").loc[cases["patient_id"], f"{modality}_true_mask"].to_numpy()
        methods = {"unet": table["auto_mask"], "baseline": base["auto_mask"], "reader": cases["reader_mask"]}
    else:
        ref = cases["reader_mask"].to_numpy()
        methods = {"unet": table["auto_mask"], "baseline": base["auto_mask"]}
    frames = []
    for method, preds in methods.items():
        preds = [p if isinstance(p, str) else None for p in preds]
        m = evaluate(preds, list(ref), list(cases["patient_id"]), modality=modality, method=method)
        m["set"] = split.loc[m["case_id"]].to_numpy()
        frames.append(m)
    return table, pd.concat(frames, ignore_index=True)


def apply_policy(tables: Mapping[str, pd.DataFrame], cohort: CohortOutputs,
                 params: Mapping[str, Any]) -> PolicyOutcome:
    """Apply the failure policy (``segmentation.policy``) to every modality's failed masks:
    the reader's mask (when it passes the same checks) or the patient's exclusion.

    Parameters
    ----------
    tables : mapping
        Modality -> :func:`segment_modality`'s table (or :func:`supplied_masks`', which
        has nothing to resolve).
    cohort : CohortOutputs
        The reader's masks (``<modality>_mask``).
    params : mapping
        The ``segmentation`` section (``policy``, ``border_margin_mm``).

    Returns
    -------
    PolicyOutcome
    """
    out = {}
    for m, table in tables.items():
        c = cohort.data
        readers = dict(zip(c["patient_id"].astype(str), c[f"{m}_mask"]))
        out[m] = apply_failure_policy(table, readers, params["policy"], float(params["border_margin_mm"]))
    return PolicyOutcome(out, str(params["policy"]))


def _example(c: pd.DataFrame, true: pd.DataFrame | None, t: pd.DataFrame, modality: str, pid: str,
             title: str) -> dict:
    """One panel: the cohort row ``c``, the truth ``true`` and the masks table ``t``,
    each indexed by patient."""
    ex = {"image": c.loc[pid, f"{modality}_image"], "reader": c.loc[pid, f"{modality}_mask"], "title": title,
          "modality": modality}
    if isinstance(t.loc[pid, "auto_mask"], str):
        ex["unet"] = t.loc[pid, "auto_mask"]
    if isinstance(t.loc[pid, "baseline_mask"], str):
        ex["baseline"] = t.loc[pid, "baseline_mask"]
    if true is not None:
        ex["true"] = true.loc[pid, f"{modality}_true_mask"]
    return ex


#: Failure kinds worth a panel (an empty mask has nothing to draw), most telling first.
FAILURE_PANELS = ("missed_part", "leak", "elsewhere")


def overlay_examples(cohort: CohortOutputs, truth: pd.DataFrame | None, tables: dict[str, pd.DataFrame],
                     metrics: pd.DataFrame, n_failures: int = 2) -> list[dict]:
    """For each modality, the external-test patients at the 10th, 50th and 90th
    percentile of U-Net Dice (a typical case and the tails, not the best ones), then
    a typical failure of each of the ``n_failures`` commonest kinds
    (:func:`radsurv.segment.metrics.failure_kinds`; needs a ``failure`` column): the
    failed case with the median Dice of its kind, from the external set, or the
    internal test or training set when the external set has none of that kind."""
    examples = []
    c = cohort.data.set_index("patient_id")
    true = truth.set_index("patient_id") if truth is not None else None
    for modality, table in tables.items():
        t = table.set_index("patient_id")
        m = metrics[(metrics["modality"] == modality) & (metrics["method"] == "unet")]
        ext = m[m["set"] == "external"].sort_values(["dice", "case_id"]).reset_index(drop=True)
        if ext.empty:
            continue
        picks = sorted({int(round(q * (len(ext) - 1))) for q in (0.1, 0.5, 0.9)})
        for i in picks:
            examples.append(_example(c, true, t, modality, ext.loc[i, "case_id"],
                                     f"{MODALITY_LABELS[modality]}, external test, U-Net Dice {ext.loc[i, 'dice']:.2f}"))
        if "failure" not in m or not n_failures:
            continue
        cohort_sets = m[m["set"].isin(SPLITS)]
        counts = cohort_sets["failure"].value_counts()
        kinds = sorted((k for k in FAILURE_PANELS if counts.get(k, 0)), key=lambda k: (-counts[k], FAILURE_PANELS.index(k)))
        for kind in kinds[:n_failures]:
            for set_ in ("external", "internal", "train"):
                f = m[(m["set"] == set_) & (m["failure"] == kind)].sort_values(["dice", "case_id"]).reset_index(drop=True)
                if len(f):
                    row = f.loc[(len(f) - 1) // 2]
                    examples.append(_example(
                        c, true, t, modality, row["case_id"],
                        f"{MODALITY_LABELS[modality]}, {SET_LABELS[set_].lower()}, Dice {row['dice']:.2f}:\n"
                        f"{FAILURE_KINDS[kind]}"))
                    break
    return examples


def segmentation_variables(tables: dict[str, pd.DataFrame], metrics: pd.DataFrame, training: dict[str, dict],
                           reference: str, policy: str, n_patients: int, failure_dice: float = 0.7) -> dict[str, Any]:
    """The ``segmentation`` variables: reference, exclusions, fallbacks, set sizes,
    median Dice per modality, method and set (formatted strings), the U-Net's
    external-set failures by kind (needs the metrics' ``failure`` column; zero without),
    and what each modality's segmenter learned from (``training_source``: ``source`` of
    :func:`training_info`, ``"none"`` when nothing was trained; ``weights``: a supplied
    weights file's name)."""
    seg = pd.concat(list(tables.values()), ignore_index=True)
    excluded = seg[seg["source"] == "excluded"]
    fallback = seg[seg["source"] == "reader"]
    v: dict[str, Any] = {"reference": reference, "n_excluded": int(excluded["patient_id"].nunique()),
                         "n_analysed": int(n_patients - excluded["patient_id"].nunique()), "policy": str(policy),
                         "failure_dice": f"{failure_dice:.2f}"}
    for modality in MODALITIES:
        # Every modality's entries, measured or not (a cohort without that modality, or
        # with the user's own masks, has "–"), so that the paper's references resolve.
        t = training.get(modality, {})
        mv: dict[str, Any] = {
            "n_fallback": int((fallback["modality"] == modality).sum()),
            "n_excluded": int((excluded["modality"] == modality).sum()),
            "n_dev_train": int(t.get("n_train", 0)),
            "n_dev_test": int(t.get("n_test", 0)),
            "training_source": str(t.get("source", "none")),
        }
        if t.get("weights"):
            mv["weights"] = str(t["weights"])
        for method in ("unet", "baseline", "reader"):
            for set_ in ("devtest", *SPLITS):
                d = median_dice(metrics, modality, method, set_)
                mv.setdefault(method, {})[f"dice_{set_}"] = f"{d:.2f}" if not np.isnan(d) else "–"
        # The U-Net's failures on the external set, by kind (failure_kinds).
        mv["failures_external"] = failure_counts(metrics, modality)
        v[modality] = mv
    return v


def cohort_agreement(hold_out: SegmentationAgreement, cohort_metrics: Mapping[str, pd.DataFrame],
                     truth: pd.DataFrame | None, failure_dice: float) -> SegmentationAgreement:
    """The agreement of every case: the held-out development test's and the cohort's rows,
    modality by modality, each failure classified (:func:`~radsurv.segment.agreement.agreement_metrics`).

    Parameters
    ----------
    hold_out : SegmentationAgreement
        From :func:`evaluate_hold_out`.
    cohort_metrics : mapping
        Modality -> the metrics of :func:`segment_modality`.
    truth : DataFrame or None
        The twin's true masks: the reference is the truth, else the reader's masks.
    failure_dice : float
        ``segmentation.failure_dice``.

    Returns
    -------
    SegmentationAgreement
    """
    metrics = agreement_metrics(hold_out.frames or {}, cohort_metrics, failure_dice)
    return SegmentationAgreement(metrics, "truth" if truth is not None else "reader")


def write_segmentation_artefacts(ctx: StageContext, cohort: CohortOutputs, outcome: PolicyOutcome,
                                 agreement: SegmentationAgreement, overlays: Overlays,
                                 training: dict[str, dict]) -> dict:
    """Write the declared outputs from the objects the notebook computed: the per-patient
    masks table, the metrics, the agreement table, the overlay figure, the exclusions, the
    patient flow and the variables (the Methods and Results paragraphs are written from
    them when the paper is published).

    Parameters
    ----------
    ctx : StageContext
    cohort : CohortOutputs
        The cohort (its size, the patient flow).
    outcome : PolicyOutcome
        :func:`apply_policy`: every patient's mask after the failure policy.
    agreement : SegmentationAgreement
        :func:`cohort_agreement`: every case's metrics, failures classified.
    overlays : Overlays
        The figure's cases (:func:`overlay_examples`).
    training : dict
        :func:`training_infos`.

    Returns
    -------
    dict
        The ``segmentation`` variables.
    """
    from ..plots.style import message_figure

    seg = outcome.table
    # Paths relative to this stage's folder, so the table does not depend on where the
    # project lies.
    for col in ("mask", "auto_mask", "baseline_mask"):
        seg[col] = seg[col].map(lambda v: os.path.relpath(v, ctx.out_dir) if isinstance(v, str) else None)
    ctx.write_data(seg, "segmentation.csv", float_format=None)

    failure_dice = float(ctx.params["failure_dice"])
    metrics, has_truth = agreement.metrics, agreement.reference == "truth"
    ctx.write_data(metrics, "metrics.csv", float_format="%.6g")
    tbl = agreement.summary()
    ctx.write_data(tbl, "seg_table.csv", float_format=None)
    reference = "true masks" if has_truth else "the reader's masks (no truth exists for this cohort)"
    caption = ("Segmentation: the cohort's own masks were analysed, so nothing was compared."
               if metrics.empty else
               f"Agreement of automatic segmentation with {reference}: median [IQR] Dice, 95% Hausdorff distance "
               "(HD95) and relative volume difference, on the held-out development test set and on each set of the "
               "survival cohort." + (" The reader row is the human yardstick." if has_truth else ""))
    ctx.write_table(tbl, "seg_table.md", label="segmentation", caption=caption)
    if overlays.examples:
        # One row per modality: the 10th, 50th and 90th percentile cases, then the failures.
        ctx.write_figure(overlays.figure(), "fig-segmentation.png")
    else:
        message_figure(ctx.path("fig-segmentation.png"),
                       "No automatic mask to show: " + ("the cohort's own masks were analysed"
                                                        if ctx.params["use_supplied_masks"] else
                                                        "no external-test case was segmented"))

    ctx.write_data(outcome.excluded(), "excluded.csv", float_format=None)
    for kind, reason, patients, m in outcome.flow_events():
        (ctx.exclude if kind == "excluded" else ctx.fallback)(reason, patients, m)
    ctx.save_flow(cohort.data, cohort.centers, cohort.simulated)

    v = segmentation_variables(outcome.tables, metrics, training, "truth" if has_truth else "reader",
                               ctx.params["policy"], len(cohort.data), failure_dice)
    v["figure_caption"] = (
        "No automatic segmentation was run: the cohort's own masks were analysed." if ctx.params["use_supplied_masks"]
        else "Automatic segmentation on the external test set: the cases at the 10th, 50th and 90th percentile of "
             "U-Net Dice for each modality, then a typical failure (the median case of a kind of failure, Dice below "
             f"{failure_dice:.2f}) of each of the two commonest kinds, with "
             + ("the true contour, the reader's, " if has_truth else "the reader's contour (the reference), ")
             + "the U-Net's and the classical segmenter's.")
    v["modalities"] = cohort.modalities()
    ctx.write_variables({"segmentation": v})
    return v

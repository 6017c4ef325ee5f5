"""The paper's paragraphs on segmentation (stage ``01_segmentation``), written from the
stage's variables and the profile when the paper is published.

:func:`methods` (``text-segmentation.md``): what each network learned from
(development set, training masks or supplied weights), how agreement was measured and
what a failed mask became. :func:`results` (``text-seg-results.md``): the U-Net's
external Dice against the reader and the classical segmenter, the failures and
fallbacks, and, for the twin, the public benchmarks its difficulty was calibrated to.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..labels import MODALITY_NAMES
from ..segment.metrics import FAILURE_KINDS

__all__ = ["SUPPLIED_NOTE", "describe_benchmarks", "describe_failures", "describe_segmentation",
           "describe_segmentation_results", "methods", "results"]


def _training(v: Mapping[str, Any], modalities: list[str]) -> dict[str, dict[str, Any]]:
    """Per modality, what its segmenter learned from, from the ``segmentation``
    variables: ``source`` (``training_source``), ``n_train``, ``n_test`` and the
    supplied ``weights`` file."""
    return {m: {"source": v[m]["training_source"], "n_train": v[m]["n_dev_train"], "n_test": v[m]["n_dev_test"],
                "weights": v[m].get("weights")} for m in modalities}


def methods(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-segmentation.md`` from the ``segmentation`` variables and the profile."""
    v = variables["segmentation"]
    modalities = list(v["modalities"])
    params = {"use_supplied_masks": profile["segmentation"]["use_supplied_masks"], "policy": v["policy"],
              "failure_dice": v["failure_dice"]}
    return describe_segmentation(params, modalities, _training(v, modalities), v["reference"])


def results(variables: Mapping[str, Any], profile: Mapping[str, Any]) -> str:
    """``text-seg-results.md`` from the ``segmentation`` variables and the profile's
    benchmarks."""
    v = variables["segmentation"]
    seg = profile["segmentation"]
    return describe_segmentation_results(v, list(v["modalities"]), bool(seg["use_supplied_masks"]),
                                         seg.get("benchmarks"))


#: What the paper says when the profile keeps the cohort's own masks.
SUPPLIED_NOTE = ("In this cohort the analysis used the lesion masks supplied with the images "
                 "(segmentation.use_supplied_masks: true): no automatic segmentation was run.")


def _n(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def describe_segmentation(params: Mapping[str, Any], modalities: list[str], training: Mapping[str, Mapping[str, Any]],
                          reference: str) -> str:
    """The Methods paragraph on segmentation, for what this run did.

    Parameters
    ----------
    params
        ``use_supplied_masks``, ``policy`` and ``failure_dice``, as the stage ran
        (``segmentation`` section of the profile and variables).
    modalities
        The cohort's modalities.
    training
        Per modality, :func:`radsurv.segment.stage.training_info`'s ``source``,
        ``n_train``, ``n_test`` and ``weights`` (read back from the variables).
    reference
        ``"truth"`` (the twin's true masks) or ``"reader"`` (a user's cohort).
    """
    if not modalities:
        return "The cohort has no images: nothing was segmented.\n"
    if params["use_supplied_masks"]:
        return (SUPPLIED_NOTE + " The supplied mask of each patient was the "
                "analysis mask; a patient with an image but no mask was excluded and is named in the patient flow "
                "(@fig-flow).\n")
    nets = " and ".join(("a 2D network for ultrasound" if m == "us" else "a 3D network for MRI") for m in modalities)
    text = (f"The lesion was segmented automatically in every image with a U-Net [@ronneberger2015] built with "
            f"MONAI [@cardoso2022]: {nets}. ")
    on_devset = [m for m in modalities if training[m]["source"] == "devset"]
    if on_devset:
        sizes = " and ".join(f"{training[m]['n_train']} {MODALITY_NAMES[m]}" for m in on_devset)
        nets = "networks were" if len(on_devset) > 1 else "network was"
        text += (f"The {' and '.join(MODALITY_NAMES[m] for m in on_devset)} {nets} trained on the segmentation-development "
                 f"set ({sizes} patients with images and masks but no outcome). ")
    for m in modalities:
        t, name = training[m], MODALITY_NAMES[m]
        if t["source"] == "weights":
            text += (f"The {name} network's trained weights were supplied (`{t['weights']}`, "
                     f"segmentation.{m}.weights) and read from disk; it was not retrained here. ")
        elif t["source"] == "training":
            text += (f"The {name} network was trained on the supplied masks of {_n(t['n_train'], 'training-set patient')} "
                     "(no development set was supplied; the test sets' masks were never used). ")
    if any(training[m]["source"] != "weights" for m in modalities):
        text += ("Training used a Dice plus cross-entropy loss, data augmentation (flips, small rotations and "
                 "scaling, intensity scaling and shift) and per-image intensity normalisation, with the checkpoint "
                 "chosen on a validation split of the training data only. ")
    if "mri" in modalities:
        text += "MRI volumes were segmented with a sliding window. "
    text += "The largest connected component was kept and its holes filled. "
    held = [f"{_n(training[m]['n_test'], MODALITY_NAMES[m] + ' patient')}" for m in modalities if training[m]["n_test"]]
    ref = ("the true masks" if reference == "truth" else "the reader's masks (no true mask exists for this cohort)")
    compared = ("for the U-Net, for a classical SimpleITK segmenter (smoothing, Otsu thresholding near a seed, "
                "connected components) and for the reader" if reference == "truth" else
                "for the U-Net and for a classical SimpleITK segmenter (smoothing, Otsu thresholding near a seed, "
                "connected components)")
    where = (("A held-out part of the development set (" + " and ".join(held) + ") and every set of the survival "
              "cohort") if held else "Every set of the survival cohort")
    text += (f"{where} measured agreement with {ref} by the Dice coefficient, the 95% Hausdorff distance and the "
             f"relative volume difference, {compared}. ")
    text += (f"An automatic mask with a Dice below {float(params['failure_dice']):.2f} counted as a failure, of one of "
             "four kinds: no lesion found, a mask on another structure (covering less than a tenth of the lesion), "
             "part of the lesion missed (the mask's sensitivity below its precision) or a leak beyond the lesion "
             "(its precision below its sensitivity). ")
    fallback = ("was replaced by the reader's mask" if params["policy"] == "reader" else "excluded the patient")
    text += ("An automatic mask that was empty, or that came closer to the image border than the peri-tumoral ring "
             f"needs, {fallback} (segmentation.policy: {params['policy']}).\n")
    return text


def describe_benchmarks(v: Mapping[str, Any], modalities: list[str], benchmarks: Mapping[str, Any]) -> str:
    """Where the twin's segmenters stand against the public benchmarks its difficulty
    was calibrated to (only for the twin: a user's cohort has no true masks)."""
    if v["reference"] != "truth" or not modalities:
        return ""
    names = {"us": "breast ultrasound (BUS-Set: 1,154 images from five scanners, best mean Dice 0.851)",
             "mri": "breast DCE-MRI (a 3D U-Net trained on 2,555 cancers, median Dice 0.77, equivalent to "
                    "radiologists)"}
    parts = []
    for m in modalities:
        low, high = benchmarks[m]["unet_dice"]
        parts.append(f"{v[m]['unet']['dice_external']} for {MODALITY_NAMES[m]} against {low:.2f}-{high:.2f} for "
                     f"{names[m]} [@{benchmarks[m]['reference']}]")
    low, high = benchmarks["reader_dice"]
    readers = " and ".join(f"{v[m]['reader']['dice_external']}" for m in modalities)
    return ("The digital twin's images were made as hard to segment as real ones: the U-Net's median external Dice "
            "was " + "; ".join(parts) + f"; the simulated reader's was {readers}, within the {low:.2f}-{high:.2f} "
            "reported between radiologists (segmentation.benchmarks). ")


def describe_failures(v: Mapping[str, Any], modalities: list[str]) -> str:
    """A sentence on how the U-Net's external-set masks failed, by kind."""
    parts = []
    for m in modalities:
        f = v[m].get("failures_external")
        if not f or not f["n"]:
            continue
        kinds = [f"{f[k]} {words}" for k, words in FAILURE_KINDS.items() if f[k]]
        part = f"{f['failed']} of {f['n']} {MODALITY_NAMES[m]} images"
        parts.append(part + (f" ({', '.join(kinds)})" if kinds else ""))
    if not parts:
        return ""
    ref = "the true mask" if v["reference"] == "truth" else "the reader's mask"
    return (f"The U-Net's mask agreed with {ref} at a Dice below {v['failure_dice']} (segmentation.failure_dice) in "
            + " and ".join(parts) + " of the external test set. ")


def describe_segmentation_results(v: Mapping[str, Any], modalities: list[str], use_supplied: bool,
                                  benchmarks: Mapping[str, Any] | None = None) -> str:
    """The Results paragraph on segmentation, from the ``segmentation`` variables (and,
    for the twin, the benchmarks of :func:`describe_benchmarks`)."""
    if not modalities:
        return "The cohort has no images.\n"
    if use_supplied:
        return ("No automatic segmentation was run: the analysis used the cohort's own masks "
                f"(@tbl-segmentation). {_n(v['n_excluded'], 'patient')} "
                f"{'was' if v['n_excluded'] == 1 else 'were'} excluded for want of a mask.\n")
    parts = []
    for m in modalities:
        mv = v[m]
        part = f"{mv['unet']['dice_external']} for {MODALITY_NAMES[m]}"
        if v["reference"] == "truth":
            part += f" (reader {mv['reader']['dice_external']}, classical segmenter {mv['baseline']['dice_external']})"
        else:
            part += f" (classical segmenter {mv['baseline']['dice_external']})"
        parts.append(part)
    ref = "the true masks" if v["reference"] == "truth" else "the reader's masks"
    text = (f"On the external test set the U-Net reached a median Dice against {ref} of " + " and ".join(parts)
            + " (@tbl-segmentation). ")
    fails = " and ".join(f"{v[m]['n_fallback'] + v[m]['n_excluded']} {MODALITY_NAMES[m]}" for m in modalities)
    text += f"The automatic mask failed the checks in {fails} images"
    if v["policy"] == "reader" and any(v[m]["n_fallback"] for m in modalities):
        if all(v[m]["n_excluded"] == 0 for m in modalities):
            text += ", which fell back to the reader's mask"
        else:
            falls = " and ".join(f"{v[m]['n_fallback']} {MODALITY_NAMES[m]}" for m in modalities)
            text += f"; {falls} images fell back to the reader's mask"
    text += (f", and {_n(v['n_excluded'], 'patient')} {'was' if v['n_excluded'] == 1 else 'were'} excluded for want "
             "of a usable mask. ")
    text += describe_failures(v, modalities)
    text += "Typical cases, the tails of the external set and typical failures are shown in @fig-segmentation."
    if benchmarks is not None:
        text = text + " " + describe_benchmarks(v, modalities, benchmarks).rstrip()
    return text.rstrip() + "\n"

"""The named random streams of a run.

Every random draw of the pipeline comes from a numpy generator seeded with the run's
seed (the profile's ``seed``) and a stream identifier, ``default_rng([seed, STREAM])``,
or ``[seed, STREAM, k]`` where each of k draws has its own stream (a resample, a
permutation, a signature), so a result does not depend on the number of workers or on
what else the run draws. The plain seed alone (no identifier) draws the twin's patients,
the cohort's split, the segmentation development split and the U-Net's training; each
twin image draws from its patient's own stream (:func:`radsurv.imaging.twin.patient_rng`).

The numbers are the ones the pipeline has always used: changing one changes every draw
of its stream. The twin's imaging latents and the reproducibility subset share stream 2;
they draw in different stages for unrelated things, and keeping the number keeps every
build's numbers as they are.
"""

from __future__ import annotations

__all__ = ["STREAM_CUTPOINT_CV", "STREAM_FOLDS", "STREAM_IMPUTATION", "STREAM_MODEL_COMPARISON", "STREAM_OPTIMISM",
           "STREAM_PERMUTATION", "STREAM_REPRODUCIBILITY", "STREAM_TWIN_IMAGING", "STREAM_TWIN_KINETIC",
           "STREAM_TWIN_MISSING", "STREAM_TWIN_OUTCOME", "STREAM_TWIN_TRAIT", "STREAM_XTILE"]

#: The twin's follow-up and events (:func:`radsurv.cohort.twin.simulate_outcome`).
STREAM_TWIN_OUTCOME = 1
#: The null profile's tumour size as the images show it (:func:`radsurv.cohort.twin.simulate_patients`).
STREAM_TWIN_IMAGING = 2
#: The training patients of the segmentation-reproducibility subset (``02_features``).
STREAM_REPRODUCIBILITY = 2
#: The signatures' cross-validation folds (:func:`radsurv.signatures.development.develop_signatures`).
STREAM_FOLDS = 3
#: ``[seed, STREAM_XTILE, k]``: the X-tile permutations and bootstrap of signature k (``03_signatures``).
STREAM_XTILE = 5
#: The paired bootstrap of the models' C against the reference model (``04_models``).
STREAM_MODEL_COMPARISON = 6
#: ``[seed, STREAM_OPTIMISM, b]``: resample b of the optimism bootstrap and its development (``05_validation``).
STREAM_OPTIMISM = 7
#: ``[seed, STREAM_PERMUTATION, b]``: permutation b of the training outcomes (``06_sensitivity``).
STREAM_PERMUTATION = 11
#: The folds of the cross-validated X-tile cut (``06_sensitivity``).
STREAM_CUTPOINT_CV = 13
#: ``[seed, STREAM_IMPUTATION, i, 0]``: imputation i of the chained equations, and ``[.., i, 1]`` its
#: imputation of new patients (:class:`radsurv.models.imputation.ChainedImputer`).
STREAM_IMPUTATION = 17
#: Which of the twin's clinical values its manifest leaves missing (:func:`radsurv.cohort.twin.simulate_cohort`):
#: a stream of its own, so that the patients, images and outcomes are those drawn without missingness.
STREAM_TWIN_MISSING = 19
#: The twin's image-only trait ``h`` (and the null profile's ``h_img``): a stream of its own, so that
#: switching the trait on leaves every other patient value, image draw and outcome draw as it was.
STREAM_TWIN_TRAIT = 23
#: The twin's kinetic trait ``v`` (and the null profile's ``v_img``): a stream of its own, so that
#: switching it on leaves every other patient value, image draw and outcome draw as it was.
STREAM_TWIN_KINETIC = 29

"""Shared by the tests of the twin's optional traits (h, v)."""

from __future__ import annotations

import copy


def without_traits(twin: dict) -> dict:
    """The twin without its optional traits (the paper's draws them)."""
    out = copy.deepcopy(twin)
    out["latent"].update(h=False, v=False)
    out["hazard"]["log_hr"].update(h=None, v=None)
    out["mri_reading"]["tic_v"] = 0.0
    return out


def three_patient_images(profile: dict, twin: dict, folder):
    """One patient per centre and one development image per modality of ``twin`` (a
    ``cohort.twin`` section), written under ``folder`` through add_twin_images: the
    sha256 of every image and mask by path, and the cohort."""
    import hashlib
    from pathlib import Path

    from radsurv.cohort.twin import add_twin_images, simulate_cohort

    small = copy.deepcopy(twin)
    small["n_per_center"] = {1: 1, 2: 1, 3: 1}
    imaging = copy.deepcopy(profile["imaging"])
    imaging["development"] = {"us": {"n": 1}, "mri": {"n": 1}, "centers": [1]}
    seed = profile["seed"]
    folder = Path(folder)
    cohort = add_twin_images(simulate_cohort(small, seed), imaging, folder, seed=seed)
    return {f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*.nii.gz"))}, cohort

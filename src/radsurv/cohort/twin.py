"""The digital-twin cohort: clinical, radiologist-read MRI and outcome data.

A generative model with known truth (`docs/design.md`, "The digital twin"). Two latent traits per
patient drive everything else:

* ``a``: tumour aggressiveness (grade, Ki-67, receptor loss, nodal spread, and in
  the images: irregular margin, heterogeneity, rim enhancement, necrosis);
* ``b``: invasive-front / peri-tumoral activity (lymphovascular invasion, nodal
  spread, and in the images: halo, oedema, peri-tumoral enhancement).

Disease-free survival follows a Weibull proportional-hazards model on ``a``, ``b``
and clinical factors, with a centre-specific baseline; censoring comes from
accrual dates against a study cut-off plus random loss to follow-up.

The images (and the radiologist-read MRI descriptors, which a reader takes from the
images) are driven by ``a_img``, ``b_img`` and the imaging tumour size ``size_img``.
These equal ``a``, ``b`` and the pathological size ``size_mm`` except in the
``null`` profile, where they are independent draws from the same distributions
(``size_img`` log-normal and driven by ``a_img`` as ``size_mm`` is by ``a``): the
images then look like the signal twin's but carry no prognostic information beyond
chance, which is the pipeline's leakage guard. The pathological T stage and the
hazard always use the true ``size_mm``.

The random streams: everything the signal profiles draw comes from one generator
seeded with ``seed``; the null profile's extra imaging latents ``a_img``, ``b_img``
are drawn from it right after ``a``, ``b``, and its ``size_img`` from a separate
generator seeded with ``[seed, STREAM_TWIN_IMAGING]`` (``[seed, STREAM_TWIN_OUTCOME]`` is
the outcome's; :mod:`radsurv.seeds`), which the signal profiles never use and on which no
other column of the null profile depends.

A third trait is optional (``cohort.twin.latent.h``, issue 27): ``h``, intra-tumoral
heterogeneity with its peri-tumoral stromal reaction, standard normal and independent of
``a`` and ``b``. It enters the hazard (``hazard.log_hr.h``) and the images' texture inside
the lesion and in the ring around it (``imaging.phenotype.<modality>.trait_*``), and no
clinical variable and no MRI-reading item: only the images show it, which is what lets
radiomics add to the clinical variables. It is drawn from its own stream
(``[seed, STREAM_TWIN_TRAIT]``; the null profile's ``h_img`` is the stream's second draw),
so switching it on changes no other patient value; switched off, nothing is drawn and the
twin is the one without it, byte for byte.

A fourth is optional too (``cohort.twin.latent.v``): ``v``, tumour angiogenesis as the
contrast kinetics show it, standard normal and independent of the others. It enters the
hazard (``hazard.log_hr.v``) and the radiologist's time-intensity curve
(``mri_reading.tic_v``), which a reader draws from the whole dynamic series, and nothing
else: the twin's images are the single post-contrast phase that radiomics reads (as in
the study), so no radiomic feature and no clinical variable reads ``v``, and the MRI
reading carries information of its own. Its stream is ``[seed, STREAM_TWIN_KINETIC]``
(the null profile's reader sees the stream's second draw, ``v_img``); it changes
``mri_tic`` and no other patient value, and no image.

All parameters come from the ``cohort.twin`` section of the profile; the values
and the reasons for them are stated in ``params/paper.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit

from ..results import ShowsItself, new_axes
from ..seeds import (STREAM_TWIN_IMAGING, STREAM_TWIN_KINETIC, STREAM_TWIN_MISSING, STREAM_TWIN_OUTCOME,
                     STREAM_TWIN_TRAIT)

__all__ = ["CLINICAL_COLUMNS", "DAYS_PER_MONTH", "MRI_COLUMNS", "add_twin_images", "remove_at_random",
           "simulate_cohort", "simulate_outcome", "simulate_patients", "true_linear_predictor", "true_survival", "TwinCohort"]

#: Days per month used to turn calendar dates into follow-up months.
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True, repr=False)
class TwinCohort(ShowsItself):
    """What the simulator produces: the manifest a user would supply, and the hidden truth.

    Shown by its centres (:meth:`summary`: patients, events, the centre's log hazard
    ratio, the true linear predictor), its hazard model (:meth:`coefficients`) and the
    true disease-free survival by tertile of the true linear predictor (:meth:`plot`).

    Attributes
    ----------
    manifest : DataFrame
        Exactly what a user would supply (the input contract); image columns once
        :func:`add_twin_images` has written the images.
    truth : DataFrame
        The hidden truth per patient (latent traits, including the imaging ones
        ``a_img``, ``b_img``, ``size_img``; true linear predictor ``eta`` with the centre
        effect, event and censoring times, the Weibull scale). Never read by the
        analysis, only by the manuscript's oracle row and by tests.
    params : mapping, optional
        The ``cohort.twin`` section it was simulated from (the hazard model shown).
    development : mapping of str to DataFrame
        The segmentation-development sets per modality (:func:`add_twin_images`).
    """

    manifest: pd.DataFrame
    truth: pd.DataFrame
    params: Mapping[str, Any] | None = None
    development: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def title(self) -> str:
        event = self.manifest["dfs_event"].to_numpy(dtype=int)
        text = (f"Digital twin: {len(self.manifest)} patients in {self.manifest['center'].nunique()} centres, "
                f"{int(event.sum())} DFS events ({100 * event.mean():.1f}%)")
        if self.params is not None:
            hz = self.params["hazard"]
            text += (f"; Weibull PH model, shape {float(hz['weibull_shape']):g}, scaled to a 5-year DFS of "
                     f"{100 * float(hz['target_dfs_at_60_months']):.0f}%")
        return text

    def summary(self) -> pd.DataFrame:
        """Per centre: patients, DFS events, event rate, the centre's true log hazard ratio
        and the mean and SD of the true linear predictor (centre effect included)."""
        t = self.truth.assign(dfs_event=self.manifest["dfs_event"].to_numpy(dtype=int))
        out = t.groupby("center", sort=True).agg(patients=("eta", "size"), events=("dfs_event", "sum"),
                                                 true_lp_mean=("eta", "mean"), true_lp_sd=("eta", "std"))
        out.insert(2, "event_rate", out["events"] / out["patients"])
        if self.params is not None:
            effect = {int(k): float(v) for k, v in self.params["hazard"]["center_log_hr"].items()}
            out.insert(3, "centre_log_hr", [effect.get(int(c), 0.0) for c in out.index])
        out.index = out.index.astype(str).rename("centre")
        return out

    def coefficients(self) -> pd.DataFrame:
        """The true hazard model: each term's log hazard ratio and hazard ratio (centre
        effects are in :meth:`summary`). Empty without ``params``."""
        if self.params is None:
            return pd.DataFrame(columns=["log_hr", "hr"], index=pd.Index([], name="term"))
        beta = self.params["hazard"]["log_hr"]
        rows: dict[str, float] = {}
        for name, value in beta.items():
            if value is None:  # the trait's effect when the twin has no trait
                continue
            if isinstance(value, Mapping):
                rows.update({f"{name} {level}": float(v) for level, v in value.items()})
            else:
                rows[str(name)] = float(value)
        frame = pd.DataFrame({"log_hr": list(rows.values())}, index=pd.Index(list(rows), name="term"))
        frame["hr"] = np.exp(frame["log_hr"])
        return frame

    def tertiles(self) -> pd.Series:
        """The tertile (``low``, ``middle``, ``high``) of each patient's true linear predictor."""
        return pd.qcut(self.truth["eta"], 3, labels=["low", "middle", "high"]).astype(str)

    def plot(self, ax=None, months: float = 120.0):
        """True DFS by tertile of the true linear predictor (the model's mean survival,
        :func:`true_survival`; solid) with the Kaplan-Meier estimate of the simulated,
        censored follow-up (steps). Needs ``params`` (the Weibull shape)."""
        from ..plots.twin import draw_true_survival
        from ..stats import kaplan_meier

        if self.params is None:
            raise ValueError("the twin's parameters are needed for its true survival (simulate_cohort sets them)")
        if self.truth.empty:
            return draw_true_survival(new_axes(ax), np.array([]), {})
        shape = float(self.params["hazard"]["weibull_shape"])
        scale = float(self.truth["weibull_scale"].iloc[0])
        times = np.linspace(0.0, months, 241)
        group = self.tertiles().to_numpy()
        time = self.manifest["dfs_time"].to_numpy(dtype=float)
        event = self.manifest["dfs_event"].to_numpy(dtype=int)
        eta = self.truth["eta"].to_numpy(dtype=float)
        true, observed = {}, {}
        for g in ("low", "middle", "high"):
            sel = group == g
            true[g] = true_survival(eta[sel], scale, shape, times)
            observed[g] = kaplan_meier(time[sel], event[sel])
        return draw_true_survival(new_axes(ax), times, true, observed)


def true_survival(eta, scale: float, shape: float, times) -> np.ndarray:
    """The twin's true disease-free survival, averaged over patients.

    ``S(t) = mean_i exp(-(t / scale)^shape exp(eta_i))``: the Weibull proportional-hazards
    model the outcome is drawn from (:func:`simulate_outcome`), without censoring.

    Parameters
    ----------
    eta : array-like
        True linear predictors (centre effect included), one per patient.
    scale, shape : float
        The Weibull scale (months; ``truth["weibull_scale"]``) and shape.
    times : array-like
        Months at which to evaluate.

    Returns
    -------
    ndarray
        ``S(t)`` at each time.
    """
    eta = np.asarray(eta, dtype=float)
    t = np.asarray(times, dtype=float)
    cumulative = (t[:, None] / float(scale)) ** float(shape) * np.exp(eta)[None, :]
    return np.exp(-cumulative).mean(axis=1)


def add_twin_images(twin: TwinCohort, imaging: Mapping[str, Any], out_dir: str | Path, *, seed: int,
                    n_jobs: int = 1, cache_dir: str | Path | None = None) -> TwinCohort:
    """Simulate every patient's US and MRI study and the segmentation-development sets.

    The manifest gets what a user would supply: the image and the reader's mask
    (``us_mask``/``mri_mask`` = a radiologist's delineation). The true masks are part of
    the truth (``us_true_mask``/``mri_true_mask``): only the twin has them, and only the
    evaluation of segmentation against truth reads them. The images are drawn from the
    imaging latents ``a_img``, ``b_img``, ``size_img`` (not the true size; they differ in
    the null profile).

    Parameters
    ----------
    twin : TwinCohort
        The clinical twin (:func:`simulate_cohort`).
    imaging : mapping
        The profile's ``imaging`` section (``scanners``, ``phenotype``, ``development``).
    out_dir : path
        The cohort stage's folder: images go to ``images/``, development sets to
        ``devsets/<modality>/``; every path is written relative to it (where the
        manifest lies).
    seed : int
        The run's seed.
    n_jobs : int
        Worker processes (the images do not depend on it).
    cache_dir : path, optional
        A content-keyed cache of the simulated files (:mod:`radsurv.imaging.cache`;
        the pipeline's is ``<build>/cache/twin``): files simulated before with the same
        latents, settings, seed and code are hard-linked (or copied) from it instead
        of simulated again, with the same bytes and paths. None: always simulate.

    Returns
    -------
    TwinCohort
        The twin with the image columns in ``manifest`` and ``truth``, and the
        development sets (``patient_id, center, size_mm, image, mask, reader_mask``) in
        ``development`` for each modality with ``imaging.development.<modality>.n > 0``.
    """
    from ..imaging import cache
    from ..imaging.twin import write_cohort_images, write_devset

    if cache_dir is not None:
        write_cohort_images = partial(cache.cached_cohort_images, cache_dir=cache_dir)
        write_devset = partial(cache.cached_devset, cache_dir=cache_dir)
    out_dir = Path(out_dir)
    trait = "h_img" in twin.truth
    latents = twin.truth[["patient_id", "center", "a_img", "b_img", *(["h_img"] if trait else []),
                          "size_img"]].rename(columns={"size_img": "size_mm"})
    if "mri_bpe" in twin.manifest:
        # the background enhancement the radiologist reads is the one in the image
        latents = latents.merge(twin.manifest[["patient_id", "mri_bpe"]], on="patient_id", how="left",
                                validate="one_to_one")
    paths = write_cohort_images(latents, out_dir / "images", scanners=imaging["scanners"], seed=seed,
                                n_jobs=n_jobs, root=out_dir, phenotype=imaging["phenotype"])
    manifest = twin.manifest.merge(
        paths[["patient_id", "us_image", "us_reader_mask", "mri_image", "mri_reader_mask"]].rename(
            columns={"us_reader_mask": "us_mask", "mri_reader_mask": "mri_mask"}),
        on="patient_id", how="left", validate="one_to_one")
    truth = twin.truth.merge(
        paths[["patient_id", "us_mask", "mri_mask"]].rename(
            columns={"us_mask": "us_true_mask", "mri_mask": "mri_true_mask"}),
        on="patient_id", how="left", validate="one_to_one")
    dev = imaging["development"]
    centers = tuple(int(c) for c in dev["centers"])
    development = {}
    for modality in ("us", "mri"):
        n = int(dev[modality]["n"])
        if n > 0:
            # the U-Nets learn from lesions that show the trait as the cohort's do
            development[modality] = write_devset(
                modality, n, out_dir / "devsets" / modality, scanners=imaging["scanners"], seed=seed, n_jobs=n_jobs,
                root=out_dir, centers=centers, phenotype=imaging["phenotype"],
                **({"latents": {"h": True}} if trait else {}))
    return replace(twin, manifest=manifest, truth=truth, development=development)


def _cut(x: np.ndarray, cuts: list[float], labels: list[str]) -> np.ndarray:
    """Map a continuous latent to ordered categories at the given thresholds."""
    idx = np.searchsorted(np.asarray(cuts, dtype=float), x, side="right")
    return np.asarray(labels, dtype=object)[idx]


def _bernoulli(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    return rng.random(len(p)) < p


def simulate_patients(twin: dict, seed: int) -> pd.DataFrame:
    """Simulate latent biology, clinical variables and MRI descriptors.

    Parameters
    ----------
    twin : dict
        The ``cohort.twin`` section of the profile.
    seed : int
        Seed of the numpy Generator; the same seed gives the same patients.

    Returns
    -------
    DataFrame
        One row per patient with latent traits (``a``, ``b``, ``a_img``,
        ``b_img``, ``size_mm``, ``size_img``; ``h`` and ``h_img`` when
        ``latent.h`` is true, ``v`` and ``v_img`` when ``latent.v`` is), clinical and MRI
        columns.
    """
    rng = np.random.default_rng(seed)
    centers = {int(k): int(v) for k, v in twin["n_per_center"].items()}
    center = np.concatenate([np.full(n, c) for c, n in sorted(centers.items())])
    n = len(center)

    lat = twin["latent"]
    cov = [[1.0, lat["rho_ab"]], [lat["rho_ab"], 1.0]]
    a, b = rng.multivariate_normal([0.0, 0.0], cov, size=n).T
    if twin.get("imaging_signal", True):
        a_img, b_img = a.copy(), b.copy()
    else:
        # Null profile: what the images (and the readers of them) see is independent
        # of everything that drives the hazard.
        a_img, b_img = rng.multivariate_normal([0.0, 0.0], cov, size=n).T

    sz = twin["size"]
    size_mm = np.exp(np.log(sz["median_mm"]) + sz["a_effect"] * a + sz["log_sd"] * rng.standard_normal(n))
    size_mm = np.clip(size_mm, sz["min_mm"], sz["max_mm"])
    if twin.get("imaging_signal", True):
        size_img = size_mm.copy()
    else:
        # Null profile: the size the images show follows the same law, driven by a_img
        # as size_mm is by a, from its own stream (the signal profiles' stream, and the
        # rest of this one, are untouched), so it carries nothing about the hazard.
        z_img = np.random.default_rng([seed, STREAM_TWIN_IMAGING]).standard_normal(n)
        size_img = np.exp(np.log(sz["median_mm"]) + sz["a_effect"] * a_img + sz["log_sd"] * z_img)
        size_img = np.clip(size_img, sz["min_mm"], sz["max_mm"])

    ag = twin["age"]
    age = np.clip(np.round(rng.normal(ag["mean"], ag["sd"], n)), ag["min"], ag["max"]).astype(int)
    post = _bernoulli(rng, expit((age - ag["menopause_age"]) / 2.0))

    cl = twin["clinical"]
    grade = _cut(a + cl["grade_noise_sd"] * rng.standard_normal(n), cl["grade_cuts"], ["G1", "G2", "G3"])
    ki67 = 100 * expit(cl["ki67_intercept"] + cl["ki67_a"] * a + cl["ki67_noise_sd"] * rng.standard_normal(n))
    ki67 = np.round(ki67, 1)
    er = _bernoulli(rng, expit(cl["er_intercept"] + cl["er_a"] * a))
    pr = np.where(er, _bernoulli(rng, np.full(n, cl["pr_given_er"])), _bernoulli(rng, np.full(n, cl["pr_given_er_neg"])))
    her2 = _bernoulli(rng, expit(cl["her2_intercept"] + cl["her2_a"] * a))
    hr = er | pr
    subtype = np.where(
        hr & ~her2,
        np.where((ki67 < cl["ki67_cut"]) & (grade != "G3"), "luminal_a", "luminal_b"),
        np.where(hr & her2, "luminal_b", np.where(her2, "her2_enriched", "triple_negative")),
    ).astype(object)
    t_stage = _cut(size_mm, [20.0, 50.0], ["T1", "T2", "T3"])
    n_latent = (
        cl["n_intercept"] + cl["n_a"] * a + cl["n_b"] * b + cl["n_log_size"] * np.log(size_mm / sz["median_mm"])
        + rng.standard_normal(n)
    )
    n_stage = _cut(n_latent, cl["n_cuts"], ["N0", "N1", "N2", "N3"])
    lvi = _bernoulli(rng, expit(cl["lvi_intercept"] + cl["lvi_a"] * a + cl["lvi_b"] * b))

    tr = twin["treatment"]
    node_pos = n_stage != "N0"
    tn = subtype == "triple_negative"
    chemo = _bernoulli(
        rng,
        expit(tr["chemo_intercept"] + tr["chemo_node"] * node_pos + tr["chemo_g3"] * (grade == "G3") + tr["chemo_hr_neg"] * ~hr),
    )
    endocrine = hr & _bernoulli(rng, np.full(n, tr["endocrine_if_hr"]))
    anti_her2 = her2 & _bernoulli(rng, np.full(n, tr["anti_her2_if_her2"]))
    mastectomy = _bernoulli(rng, expit(tr["mastectomy_intercept"] + tr["mastectomy_size"] * (size_mm - sz["median_mm"])))
    radiotherapy = np.where(
        mastectomy,
        _bernoulli(rng, np.where(np.isin(n_stage, ["N2", "N3"]), tr["rt_after_mastectomy_n2"], tr["rt_after_mastectomy"])),
        _bernoulli(rng, np.full(n, tr["rt_after_bcs"])),
    )

    # Radiologist-read MRI descriptors: what a reader sees in the images, so they are
    # driven by the imaging latents (a_img, b_img, size_img) plus reader noise.
    mr = twin["mri_reading"]
    noise = lambda: mr["reader_noise_sd"] * rng.standard_normal(n)  # noqa: E731
    mri_size = np.round(size_img * np.exp(mr["size_log_sd"] * rng.standard_normal(n)), 1)
    mri_shape = np.where(mr["shape_a"] * a_img + noise() > mr["shape_cut"], "irregular", "oval_round").astype(object)
    mri_margin = _cut(mr["margin_a"] * a_img + noise(), mr["margin_cuts"], ["circumscribed", "irregular", "spiculated"])
    mri_enh = _cut(mr["enhancement_a"] * a_img + noise(), mr["enhancement_cuts"], ["homogeneous", "heterogeneous", "rim"])
    kinetic = {}
    if lat.get("v"):
        # The kinetic trait: its own stream, so the other columns are those of the twin
        # without it (the reader's noise below is drawn as before). Null profile: the
        # reader sees an independent draw (the stream's second).
        v, v_img = _optional_trait(seed, STREAM_TWIN_KINETIC, n, twin.get("imaging_signal", True))
        kinetic = {"v": v, "v_img": v_img}
        tic = mr["tic_a"] * a_img + float(mr.get("tic_v", 0.0)) * v_img + noise()
    else:
        tic = mr["tic_a"] * a_img + noise()
    mri_tic = _cut(tic, mr["tic_cuts"], ["persistent", "plateau", "washout"])
    mri_edema = np.where(mr["edema_b"] * b_img + noise() > mr["edema_cut"], "present", "absent").astype(object)
    mri_bpe = _cut(rng.standard_normal(n), [-0.8, 0.3, 1.2], ["minimal", "mild", "moderate", "marked"])

    trait = {}
    if lat.get("h"):
        # The image-only trait: its own stream, after everything else, so the columns
        # above are those of the twin without it.
        h, h_img = _optional_trait(seed, STREAM_TWIN_TRAIT, n, twin.get("imaging_signal", True))
        trait = {"h": h, "h_img": h_img}

    frame = pd.DataFrame(
        {
            "center": center,
            "a": a,
            "b": b,
            "a_img": a_img,
            "b_img": b_img,
            "size_mm": size_mm,
            "size_img": size_img,
            "age": age,
            "menopause": np.where(post, "post", "pre").astype(object),
            "t_stage": t_stage,
            "n_stage": n_stage,
            "grade": grade,
            "ki67": ki67,
            "er": np.where(er, "positive", "negative").astype(object),
            "pr": np.where(pr, "positive", "negative").astype(object),
            "her2": np.where(her2, "positive", "negative").astype(object),
            "subtype": subtype,
            "lvi": np.where(lvi, "yes", "no").astype(object),
            "surgery": np.where(mastectomy, "mastectomy", "breast_conserving").astype(object),
            "chemotherapy": np.where(chemo, "yes", "no").astype(object),
            "endocrine_therapy": np.where(endocrine, "yes", "no").astype(object),
            "anti_her2_therapy": np.where(anti_her2, "yes", "no").astype(object),
            "radiotherapy": np.where(radiotherapy, "yes", "no").astype(object),
            "mri_size_mm": mri_size,
            "mri_shape": mri_shape,
            "mri_margin": mri_margin,
            "mri_enhancement": mri_enh,
            "mri_tic": mri_tic,
            "mri_peritumoral_edema": mri_edema,
            "mri_bpe": mri_bpe,
        }
    )
    for i, (name, values) in enumerate({**trait, **kinetic}.items()):
        frame.insert(7 + i, name, values)  # beside the other latents, before age
    return frame


def _optional_trait(seed: int, stream: int, n: int, imaging_signal: bool) -> tuple[np.ndarray, np.ndarray]:
    """An optional trait and what the images (or their reader) see of it, from the trait's
    own stream ``[seed, stream]``: the same draw, or in the null profile an independent
    one (the stream's second)."""
    rng = np.random.default_rng([seed, stream])
    x = rng.standard_normal(n)
    return x, (x.copy() if imaging_signal else rng.standard_normal(n))


def true_linear_predictor(patients: pd.DataFrame, hazard: dict) -> np.ndarray:
    """The true log hazard ratio of each patient (without the centre effect).

    ``eta = beta_a a + beta_b b + nodal + size + age + subtype + treatment terms``, plus
    ``beta_h h`` when the twin draws the image-only trait and ``beta_v v`` when it draws the
    kinetic trait.
    """
    beta = hazard["log_hr"]
    p = patients
    eta = (
        beta["a"] * p["a"].to_numpy()
        + beta["b"] * p["b"].to_numpy()
        + beta["log_size"] * np.log(p["size_mm"].to_numpy() / hazard["size_reference_mm"])
        + beta["age_per_10y"] * (p["age"].to_numpy() - hazard["age_reference"]) / 10.0
        + p["n_stage"].map(beta["n_stage"]).to_numpy(dtype=float)
        + beta["triple_negative"] * (p["subtype"] == "triple_negative").to_numpy()
        + beta["endocrine_therapy"] * (p["endocrine_therapy"] == "yes").to_numpy()
        + beta["anti_her2_therapy"] * (p["anti_her2_therapy"] == "yes").to_numpy()
    )
    if beta.get("h") is not None:
        if "h" not in p:
            raise ValueError("hazard.log_hr.h is set but the patients have no trait h (cohort.twin.latent.h)")
        eta = eta + float(beta["h"]) * p["h"].to_numpy()
    if beta.get("v") is not None:
        if "v" not in p:
            raise ValueError("hazard.log_hr.v is set but the patients have no kinetic trait v (cohort.twin.latent.v)")
        eta = eta + float(beta["v"]) * p["v"].to_numpy()
    return eta


def _weibull_scale_for_target(eta: np.ndarray, shape: float, t: float, target_survival: float) -> float:
    """Scale lambda such that the cohort's mean S(t | eta) equals the target.

    S(t | eta) = exp(-(t / lambda)^k exp(eta)). Solving for lambda makes the
    5-year DFS a stated parameter instead of a by-product of the coefficients.
    """

    def gap(log_lam: float) -> float:
        return float(np.mean(np.exp(-((t / np.exp(log_lam)) ** shape) * np.exp(eta)))) - target_survival

    return float(np.exp(optimize.brentq(gap, np.log(1.0), np.log(1e6), xtol=1e-12)))


def simulate_outcome(patients: pd.DataFrame, twin: dict, seed: int) -> pd.DataFrame:
    """Simulate DFS times, accrual dates and censoring.

    Returns the truth columns: ``eta`` (true linear predictor incl. centre effect),
    ``event_time``, ``admin_censor_time``, ``loss_time``, ``accrual_date``,
    ``dfs_time`` (months, 2 decimals) and ``dfs_event``.
    """
    rng = np.random.default_rng([seed, STREAM_TWIN_OUTCOME])
    hz = twin["hazard"]
    n = len(patients)
    eta = true_linear_predictor(patients, hz)
    center_effect = patients["center"].map({int(k): v for k, v in hz["center_log_hr"].items()}).to_numpy(dtype=float)
    eta_c = eta + center_effect
    k = float(hz["weibull_shape"])
    lam = _weibull_scale_for_target(eta_c, k, 60.0, hz["target_dfs_at_60_months"])
    # Inverse-transform sampling of the Weibull PH model.
    u = rng.random(n)
    event_time = lam * (-np.log(u) * np.exp(-eta_c)) ** (1.0 / k)

    acc = twin["accrual"]
    cutoff = pd.Timestamp(acc["cutoff"])
    starts = patients["center"].map({int(c): pd.Timestamp(v[0]) for c, v in acc["window"].items()})
    ends = patients["center"].map({int(c): pd.Timestamp(v[1]) for c, v in acc["window"].items()})
    span_days = (ends - starts).dt.days.to_numpy()
    offset = np.floor(rng.random(n) * (span_days + 1)).astype(int)
    accrual = starts + pd.to_timedelta(offset, unit="D")
    admin = (cutoff - accrual).dt.days.to_numpy() / DAYS_PER_MONTH
    loss_rate = -np.log(1.0 - acc["loss_to_follow_up_per_year"]) / 12.0
    loss_time = rng.exponential(1.0 / loss_rate, n)

    observed = np.minimum.reduce([event_time, admin, loss_time])
    event = (event_time <= np.minimum(admin, loss_time)).astype(int)
    # Follow-up is recorded to the day, as in a hospital database.
    dfs_time = np.round(np.maximum(np.round(observed * DAYS_PER_MONTH), 1) / DAYS_PER_MONTH, 2)
    return pd.DataFrame(
        {
            "eta": eta_c,
            "event_time": event_time,
            "admin_censor_time": admin,
            "loss_time": loss_time,
            "accrual_date": accrual.dt.strftime("%Y-%m-%d"),
            "dfs_time": dfs_time,
            "dfs_event": event,
            "weibull_scale": lam,
        }
    )


def remove_at_random(manifest: pd.DataFrame, missing: Mapping[str, Mapping[str, float]], seed: int) -> pd.DataFrame:
    """The manifest with values removed at random given observed variables (MAR).

    For column ``col`` with spec ``{rate, external_centre, age_per_10y}``, a patient misses
    the value with probability ``expit(c + external_centre [centre != 1] +
    age_per_10y (age - mean age) / 10)``, ``c`` solved so that the mean probability is
    ``rate``. The probabilities depend on the centre and the age only (both observed,
    never missing), not on the value itself nor on the outcome: missing at random
    (Rubin 1976), the condition under which chained-equation imputation is unbiased. The
    draws come from their own stream (:data:`radsurv.seeds.STREAM_TWIN_MISSING`), one
    uniform per patient and column in the spec's order, so the patients, images and
    outcomes are those of the twin without missing values; the truth keeps every value.

    Parameters
    ----------
    manifest : DataFrame
        ``center``, ``age`` and the columns named in ``missing``.
    missing : mapping
        Column -> ``rate``, ``external_centre``, ``age_per_10y`` (profile
        ``cohort.twin.missing``).
    seed : int

    Returns
    -------
    DataFrame
        A copy, NaN where removed.
    """
    out = manifest.copy()
    if not missing:
        return out
    rng = np.random.default_rng([seed, STREAM_TWIN_MISSING])
    external = (out["center"].astype(int) != 1).to_numpy(float)
    age = out["age"].to_numpy(float)
    age_z = (age - age.mean()) / 10.0
    for col, spec in missing.items():
        if col not in out.columns or col in ("center", "age", "patient_id", "dfs_time", "dfs_event"):
            raise ValueError(f"cohort.twin.missing.{col}: not a clinical or MRI column the twin writes")
        u = rng.random(len(out))
        rate = float(spec["rate"])
        if rate <= 0:
            continue
        lin = float(spec.get("external_centre", 0.0)) * external + float(spec.get("age_per_10y", 0.0)) * age_z
        c = optimize.brentq(lambda c0: float(expit(c0 + lin).mean()) - rate, -50.0, 50.0)
        out[col] = out[col].astype(object).where(u >= expit(c + lin), None)
        if pd.api.types.is_numeric_dtype(manifest[col]):
            out[col] = pd.to_numeric(out[col])
    return out


#: Manifest columns the twin writes, in order (images are added by the imaging twin).
CLINICAL_COLUMNS = [
    "age", "menopause", "t_stage", "n_stage", "grade", "ki67", "er", "pr", "her2", "subtype",
    "lvi", "surgery", "chemotherapy", "endocrine_therapy", "anti_her2_therapy", "radiotherapy",
]
MRI_COLUMNS = [
    "mri_size_mm", "mri_shape", "mri_margin", "mri_enhancement", "mri_tic", "mri_peritumoral_edema", "mri_bpe",
]


def simulate_cohort(twin: dict, seed: int, id_prefix: str = "TW", outcome_seed: int | None = None) -> TwinCohort:
    """Simulate the whole clinical twin: the manifest a user would supply, and the truth.

    Parameters
    ----------
    twin : dict
        The ``cohort.twin`` section of the profile.
    seed : int
        Seed; the same seed gives byte-identical output.
    id_prefix : str
        Prefix of the synthetic patient identifiers.
    outcome_seed : int, optional
        Draw the follow-up and events from this seed's outcome stream instead (same
        patients, same images: benchmarks/calibrate_signal.py).

    Returns
    -------
    TwinCohort
    """
    patients = simulate_patients(twin, seed)
    outcome = simulate_outcome(patients, twin, seed if outcome_seed is None else outcome_seed)
    width = max(4, len(str(len(patients))))
    ids = [f"{id_prefix}{i + 1:0{width}d}" for i in range(len(patients))]
    manifest = pd.DataFrame({"patient_id": ids, "center": patients["center"].to_numpy()})
    manifest["dfs_time"] = outcome["dfs_time"].to_numpy()
    manifest["dfs_event"] = outcome["dfs_event"].to_numpy()
    for col in CLINICAL_COLUMNS + MRI_COLUMNS:
        manifest[col] = patients[col].to_numpy()
    manifest = remove_at_random(manifest, twin.get("missing") or {}, seed)
    truth = pd.concat(
        [
            pd.DataFrame({"patient_id": ids}),
            patients[["center", "a", "b", "a_img", "b_img", *[c for c in ("h", "h_img", "v", "v_img") if c in patients],
                      "size_mm", "size_img"]].reset_index(drop=True),
            outcome.drop(columns=["dfs_time", "dfs_event"]).reset_index(drop=True),
        ],
        axis=1,
    )
    return TwinCohort(manifest=manifest, truth=truth, params=twin)

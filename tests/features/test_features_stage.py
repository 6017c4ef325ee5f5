"""The computing parts of the radiomics stage: the seeded reproducibility subset,
failures that exclude or stop, ICC flags, the tables and the variables (which masks are
analysed: tests/stages/test_readers.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.features.collect import analysis_exclusions
from radsurv.features.extract import ExtractionError
from radsurv.features.regions import reproducibility_subset
from radsurv.features.robustness import robustness_table
from radsurv.features.stage import feature_variables, features_table, ibsi_display, robustness_texts


def test_reproducibility_subset_is_seeded_and_drawn_from_all_auto_training_patients():
    cohort = pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(40)],
                           "split": ["train"] * 30 + ["internal"] * 10})
    masks = pd.DataFrame({"patient_id": np.repeat(cohort.patient_id, 2), "modality": ["us", "mri"] * 40,
                          "source": "auto"})
    masks.loc[masks.patient_id.isin(["P01", "P02"]) & (masks.modality == "mri"), "source"] = "reader"
    a = reproducibility_subset(cohort, masks, 10, seed=3)
    assert a == reproducibility_subset(cohort, masks, 10, seed=3) != reproducibility_subset(cohort, masks, 10, seed=4)
    assert len(a) == 10 and a == sorted(a)
    assert set(a) <= {f"P{i:02d}" for i in range(30)} - {"P01", "P02"}
    assert len(reproducibility_subset(cohort, masks, 100, seed=3)) == 28   # capped at the eligible patients
    assert reproducibility_subset(cohort, masks, 0, seed=3) == []


def test_failures_of_analysis_regions_exclude_or_stop():
    failures = pd.DataFrame({"patient": ["P1", "P2"], "modality": ["us", "mri"], "region": ["peri", "intra"],
                             "mask_source": ["auto", "reader"], "reason": ["region: empty ring", "NaN feature"]})
    bad = analysis_exclusions(failures, "exclude")
    assert list(bad.patient) == ["P1"]   # a reproducibility-only source excludes nobody
    with pytest.raises(ExtractionError, match=r"P1/us/peri/auto: region: empty ring"):
        analysis_exclusions(failures, "fail")


def _tidy(rng, n=20):
    rows = []
    for p in range(n):
        base = rng.normal(size=3)
        for source, noise in (("auto", 0.0), ("reader", 0.05), ("perturbed1", 0.02), ("perturbed2", 0.02)):
            for f, value in enumerate(base + noise * rng.normal(size=3)):
                # feature 2 is unreliable: the reader's value is unrelated to the U-Net's.
                if f == 2 and source == "reader":
                    value = rng.normal()
                rows.append((f"P{p}", "us", "intra", source, f"original_firstorder_F{f}", value))
    return pd.DataFrame(rows, columns=["patient", "modality", "region", "mask_source", "feature", "value"])


def test_robustness_flags_features_below_the_threshold_in_either_comparison():
    tidy = _tidy(np.random.default_rng(0))
    params = {"icc": {"form": "ICC(2,1)", "threshold": 0.75}}
    icc = robustness_table(tidy, sorted(tidy.patient.unique()), params)
    icc = icc.set_index("feature")
    assert icc.loc["original_firstorder_F0", "icc_reader"] > 0.95 and not icc.loc["original_firstorder_F0", "flag"]
    assert icc.loc["original_firstorder_F2", "icc_reader"] < 0.5 and icc.loc["original_firstorder_F2", "flag"]
    assert (icc["icc_perturbation"] > 0.95).all()


def test_features_table_and_variables():
    tidy = _tidy(np.random.default_rng(1))
    params = {"ring_width_mm": 5.0, "reproducibility": {"jitter_mm": 0.5},
              "icc": {"form": "ICC(2,1)", "threshold": 0.75}}
    icc = robustness_table(tidy, sorted(tidy.patient.unique()), params)
    table = features_table(tidy, icc, {"us": 20})
    assert table.iloc[0]["Features, n"] == 3 and table.iloc[0]["Patients, n"] == 20
    assert table.iloc[0]["Robust (ICC ≥ threshold), n (%)"] == "2 (67%)"
    ibsi = pd.DataFrame({"pass": [True, True, False], "reason": [None, "kurtosis", "kurtosis"]})
    v = feature_variables(params, tidy, icc, ibsi, n_subset=20, n_excluded=1, n_failures=2)
    assert (v["ring_mm"], v["n_per_region"], v["n_total"], v["n_flagged"], v["n_robust"]) == ("5", 3, 3, 1, 2)
    assert v["ibsi"] == {"n_mapped": 3, "n_pass": 2, "n_convention": 2}
    assert v["us"]["intra"]["pct_robust"] == "67" and v["icc_threshold"] == "0.75"
    n_pert = sum(s.startswith("perturbed") for s in tidy["mask_source"].unique())
    assert v["robustness_sources"] == (f"whose regions were also built from the reader's mask and from {n_pert} "
                                       "random perturbations of the U-Net's mask")
    assert v["flag_rule"] == "in either comparison" and v["regions"] == "one region"
    median = icc.loc[(icc["modality"] == "us") & (icc["region"] == "intra"), "icc_reader"].median()
    assert v["icc_results"] == (f"Between the U-Net's and the reader's masks the median ICC was {median:.2f} "
                                "(ultrasound, intra-tumoral); 2 features were robust in both comparisons")


def test_robustness_texts_without_a_second_delineation():
    # the cohort's own masks are the analysis masks: only the perturbations measure robustness
    icc = pd.DataFrame({"modality": ["mri"] * 4, "region": ["intra", "intra", "peri", "peri"],
                        "feature": list("abab"), "icc_reader": [np.nan] * 4,
                        "icc_perturbation": [0.9, 0.5, 0.8, 0.95], "flag": [False, True, False, False]})
    t = robustness_texts(icc, 2)
    assert t["robustness_sources"] == "whose regions were also built from 2 random perturbations of the supplied mask"
    assert t["flag_rule"] == "in that comparison"
    assert t["icc_results"] == ("Across the random perturbations of the supplied masks the median ICC was 0.70 "
                                "(MRI, intra-tumoral) and 0.88 (MRI, peri-tumoral); 3 features were robust in that "
                                "comparison")


def test_ibsi_display_explains_each_convention_once_by_letter():
    t = pd.DataFrame({"feature": ["original_a", "original_b", "original_c"], "ibsi_tag": ["X", "Y", "Z"],
                      "value_ibsi_convention": [1.23456, 2.0, 3.0], "reference": [1.2346, 2.0, 3.1],
                      "tolerance": [0.01, 0.0, 0.2], "pass": [True, True, True],
                      "reason": ["N vs N-1.", None, "excess kurtosis"]})
    show, notes = ibsi_display(t)
    assert list(show["Note"]) == ["a", "", "b"] and list(show["PyRadiomics feature"]) == ["a", "b", "c"]
    assert show.iloc[0]["Value (IBSI convention)"] == "1.235" and notes == "(a) N vs N-1. (b) excess kurtosis."


def _icc_for_low_agreement() -> pd.DataFrame:
    """Ten features per region. US intra: four below 0.5 (three LoG of sigma 1 and 2 mm,
    one wavelet), fragile under perturbation too; MRI intra: one below 0.5, stable
    under perturbation."""
    rows = []
    names = ["log-sigma-1-0-mm-3D_firstorder_Range", "log-sigma-2-0-mm-3D_glcm_Contrast",
             "log-sigma-2-0-mm-3D_firstorder_Maximum", "wavelet-HH_glcm_Idm", "original_glcm_Idm",
             "original_firstorder_Mean", "wavelet-LL_glszm_ZoneEntropy", "wavelet-HL_glrlm_RunEntropy",
             "original_shape2D_Elongation", "log-sigma-3-0-mm-3D_gldm_DependenceEntropy"]
    us = [0.1, 0.2, 0.3, 0.45, 0.8, 0.9, 0.95, 0.85, 0.99, 0.7]
    us_pert = [0.3, 0.4, 0.5, 0.6, 0.97, 0.99, 0.98, 0.96, 1.0, 0.95]
    for f, a, b in zip(names, us, us_pert):
        rows.append(("us", "intra", f, a, b))
    for i, f in enumerate(names):
        rows.append(("mri", "intra", f, 0.3 if i == 4 else 0.9, 0.95))
    return pd.DataFrame(rows, columns=["modality", "region", "feature", "icc_reader", "icc_perturbation"])


def test_low_agreement_counts_families_classes_and_the_perturbation_icc():
    from radsurv.features.robustness import low_agreement

    s = low_agreement(_icc_for_low_agreement(), "us", "intra")
    assert (s["n"], s["n_low"]) == (10, 4)
    assert s["families"] == {"log": 0.75, "wavelet": 0.25}
    assert s["families_all"] == {"log": 0.4, "original": 0.3, "wavelet": 0.3}
    assert s["classes"] == {"firstorder": 0.5, "glcm": 0.5} and s["sigmas_mm"] == [1.0, 2.0]
    assert s["firstorder"] == ["Range", "Maximum"]
    assert s["pert_low"] == pytest.approx(0.45) and s["pert_rest"] == pytest.approx(0.975)
    # the two ICCs rank the ten features almost alike
    from scipy.stats import spearmanr

    icc = _icc_for_low_agreement().query("modality == 'us'")
    assert s["spearman"] == pytest.approx(spearmanr(icc.icc_reader, icc.icc_perturbation).statistic)
    assert low_agreement(_icc_for_low_agreement(), "us", "peri") is None


def test_the_sentence_on_the_region_that_agrees_worst():
    from radsurv.features.stage import describe_low_agreement

    text = describe_low_agreement(_icc_for_low_agreement(), 0.5)
    assert text.startswith("Agreement was poorest in the ultrasound intra-tumoral region, where 4 of 10 features had "
                           "an ICC below 0.50 (poor reliability on Koo and Li's scale): 75% from Laplacian-of-Gaussian-"
                           "filtered images (which make up 40% of the region's features) and 25% from wavelet bands "
                           "(30%); LoG sigma 1 and 2 mm; mostly first-order and GLCM features (first-order: range, "
                           "maximum).")
    assert "also fragile under random displacements of the U-Net's own contour by about 0.5 mm (median ICC 0.45, " \
           "against 0.97 for the region's other features" in text
    assert "the robustness filter (ICC below 0.75) flags them" in text
    # MRI alone: one feature of ten low, stable under perturbation
    mri = describe_low_agreement(_icc_for_low_agreement().query("modality == 'mri'"), 0.5)
    assert "MRI intra-tumoral region, where 1 of 10" in mri and "were stable under random displacements" in mri
    assert "not contour noise" in mri
    # fewer than a tenth of the features low anywhere: nothing to say
    assert describe_low_agreement(_icc_for_low_agreement().query("modality == 'mri'"), 0.5, min_share=0.2) == ""


def test_feature_names_in_words():
    from radsurv.features.stage import _words

    assert [_words(n) for n in ("10Percentile", "RobustMeanAbsoluteDeviation", "Range", "Imc2")] == [
        "10th percentile", "robust mean absolute deviation", "range", "imc 2"]


def test_02_refuses_when_no_patient_keeps_an_extractable_region_and_names_the_setting():
    """Every lesion too small for the settings (tiny_lesion_all): 02 refuses with the same
    decision as validate (radsurv.preconditions.extractable_regions), naming the parameter
    file and its settings, with PyRadiomics' reasons counted and no patient identifier (the
    executed notebook is published); before, feature_variables crashed on the empty table."""
    from radsurv.exceptions import PreconditionError
    from radsurv.features.stage import unextractable_regions
    from radsurv.preconditions import extractable_regions

    ids = [f"HN-{i}" for i in range(6)]
    failures = pd.DataFrame({
        "patient": ids + ["HN-0"], "modality": "mri", "region": ["intra"] * 6 + ["intra"],
        "mask_source": ["auto"] * 6 + ["perturbed-1"],
        "reason": [f"ValueError: mask has too few dimensions (number of dimensions 1, minimum required 3) /rois/{p}_auto_intra"
                   for p in ids] + ["ValueError: other"]})
    lost = unextractable_regions(failures)
    assert list(lost["patient_id"]) == ids and set(lost["reason"]) == {
        "MRI intra-tumoral region: ValueError: mask has too few dimensions (number of dimensions 1, minimum required "
        "3) /rois/<patient>_auto_intra"}
    outcome = pd.DataFrame({"split": ["train"] * 4 + ["internal"] * 2, "time": 10.0, "event": 1}, index=ids)
    profile = {"features": {"params": {"mri": "study/radiomics_tiny.yaml"}, "on_error": "exclude"}}
    v = extractable_regions(outcome, lost, profile)
    assert v.refuses and v.key == "features.params.mri"
    assert v.message.startswith("the lesion of 6 of 6 patients cannot be extracted with the extraction settings "
                                "(too small, or on a constant image): PyRadiomics "
                                "cannot extract it, and 02_features leaves the patient out (MRI intra-tumoral region: "
                                "ValueError: mask has too few dimensions (number of dimensions 1, minimum required 3) "
                                "/rois/<patient>_auto_intra (6 patients)); the training patients left hold 0 events")
    assert "study/radiomics_tiny.yaml (features.params.mri)" in v.message and "HN-" not in v.message
    with pytest.raises(PreconditionError, match="setting.minimumROISize"):
        v.refuse()
    # two of four training patients lost: 2 events left, refused too; one lost: 3 left, a note
    assert extractable_regions(outcome, lost.iloc[:2], profile).refuses
    assert not extractable_regions(outcome, lost.iloc[:1], profile).refuses


def test_feature_variables_of_an_empty_table_count_nothing():
    tidy = _tidy(np.random.default_rng(1)).iloc[:0]
    params = {"ring_width_mm": 5.0, "reproducibility": {"jitter_mm": 0.5},
              "icc": {"form": "ICC(2,1)", "threshold": 0.75}}
    icc = pd.DataFrame(columns=["modality", "region", "feature", "icc_reader", "icc_perturbation", "flag"])
    icc["flag"] = icc["flag"].astype(bool)
    ibsi = pd.DataFrame({"pass": [True], "reason": [None]})
    v = feature_variables(params, tidy, icc, ibsi, n_subset=0, n_excluded=40, n_failures=40)
    assert (v["n_per_region"], v["n_total"], v["n_excluded"], v["regions"]) == (0, 0, 40, "0 regions")

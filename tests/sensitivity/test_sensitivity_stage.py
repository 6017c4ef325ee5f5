"""The sensitivity stage's tables, variables and texts from fabricated results."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsurv.manuscript.sensitivity import describe_sensitivity, describe_sensitivity_methods
from radsurv.sensitivity import CentreEffects, ComBatResult, Harmonisation
from radsurv.sensitivity.stage import (cutpoint_display, harmonisation_display, permutation_display,
                                       sensitivity_variables)

PARAMS = {"permutation": {"n": 4}, "cutpoint": {"n_folds": 10},
          "harmonisation": {"run": True, "parametric": True, "alpha": 0.05}}
_BLOCKS = pd.DataFrame({"block": ["us_intra", "mri_peri"], "n_features": [101, 50], "n_harmonised": [100, 50],
                        "n_constant": [1, 0]})
HARMONISATION = Harmonisation(
    combat=ComBatResult(features=pd.DataFrame(), blocks=_BLOCKS,
                        batch=pd.Series(["training", "training", None, "centre 2", "centre 3"])),
    effects=CentreEffects(
        table=pd.DataFrame({"block": ["us_intra", "mri_peri"], "n_features": [100, 50],
                            "n_differ_before": [60, 30], "pct_differ_before": [60.0, 60.0], "median_h_before": [9, 8],
                            "n_differ_after": [3, 0], "pct_differ_after": [3.0, 0.0], "median_h_after": [1, 1]}),
        blocks=_BLOCKS, alpha=0.05),
    discrimination=pd.DataFrame({"signature": ["us_intra", "multimodal"], "n": [163, 163], "events": [30, 30],
                                 "c_raw": [0.70, 0.74], "lower_raw": [0.6, 0.65], "upper_raw": [0.8, 0.83],
                                 "c_harmonised": [0.69, 0.752], "lower_harmonised": [0.59, 0.66],
                                 "upper_harmonised": [0.79, 0.84]}),
)
NULL = pd.DataFrame({"permutation": [1, 2, 3, 4], "c_internal": [0.5, 0.55, np.nan, 0.45],
                     "c_external": [0.52, 0.48, np.nan, 0.5], "n_selected": [3, 0, 0, 2],
                     "failed": ["", "", "ValueError: no event in a fold", ""]})
SUMMARY = pd.DataFrame({"set": ["internal", "external"], "observed_c": [0.71, 0.505], "null_mean": [0.5, 0.5],
                        "null_sd": [0.05, 0.02], "null_q95": [0.548, 0.519], "n_permutations": [3, 3],
                        "p": [0.25, 0.5]})
CUTS = pd.DataFrame({"set": ["train", "train"], "split_by": ["X-tile", "X-tile, cross-validated"],
                     "cut": [0.3, np.nan], "n_low": [80, 82], "n_high": [24, 22], "events_low": [9, 12],
                     "events_high": [14, 11], "hr": [8.0, 4.0], "hr_lower": [3.5, 1.8], "hr_upper": [18.0, 9.0],
                     "logrank_p": [1e-6, 2e-3]})


def test_variables_and_results_text():
    v = sensitivity_variables(PARAMS, NULL, SUMMARY, CUTS, 0.6667)
    assert v["permutation"]["n_failed"] == 1 and v["permutation"]["n_empty"] == 1   # the failed one is not "empty"
    assert v["permutation"]["internal"] == {"observed_c": "0.710", "null_mean": "0.500", "null_q95": "0.548",
                                            "p": "0.250"}
    assert v["cutpoint"]["train"] == {"xtile": "8.00 (3.50-18.00)", "xtile_cv": "4.00 (1.80-9.00)"}
    text = describe_sensitivity(v)
    assert text.startswith("Against 3 signatures developed on permuted training outcomes (1 of which kept no "
                           "feature and score C = 0.5), the multi-modal signature's test C was 0.710 on the internal test set against a null mean of 0.500 "
                           "(95th percentile 0.548; permutation p 0.250) and 0.505 on the external test set")
    assert "; 1 permutation could not be developed." in text
    assert "shrinkage of the log hazard ratio to 0.67 (@tbl-cutpoints)." in text


def test_display_tables():
    perm = permutation_display(SUMMARY)
    assert list(perm.iloc[0]) == ["Internal test", "0.710", "0.500 (0.050)", "0.548", 3, "0.250"]
    cuts = cutpoint_display(CUTS)
    assert list(cuts.iloc[1]) == ["Training", "X-tile cut, cross-validated", "–", "82 (12) / 22 (11)",
                                  "4.00 (1.80-9.00)", "0.002"]
    assert cuts.iloc[0]["Log-rank p"] == "<0.001"


def test_harmonisation_variables_text_and_tables():
    v = sensitivity_variables(PARAMS, NULL, SUMMARY, CUTS, 0.6667, HARMONISATION)
    h = v["harmonisation"]
    assert (h["n_tested"], h["pct_before"], h["pct_after"], h["n_constant"], h["n_batches"]) == (150, "60", "2", 1, 2)
    assert h["multimodal"] == {"c_raw": "0.740", "c_harmonised": "0.752", "difference": "+0.012"}
    assert h["max_abs_difference"] == "0.012"
    text = describe_sensitivity(v)
    assert ("Before harmonisation 60% of the 150 features tested differed between the training set and the external "
            "centres, after ComBat 2% (@tbl-centre-effects).") in text
    assert "external C was 0.740 as extracted and 0.752 after ComBat (+0.012)" in text
    effects, disc = harmonisation_display(HARMONISATION)
    assert list(effects.iloc[0]) == ["US, intra-tumoral", 100, "60 (60%)", "3 (3%)", 1]
    assert list(disc.iloc[1]) == ["Multi-modal (feeds the models)", "163 (30)", "0.740 (0.650-0.830)",
                                  "0.752 (0.660-0.840)", "+0.012"]
    methods = describe_sensitivity_methods(PARAMS)
    assert "reference-batch ComBat [@zhang2018] with the training set as the reference" in methods
    assert "transductive" in methods and "below 0.05" in methods
    off = {**PARAMS, "harmonisation": {"run": False, "parametric": True, "alpha": 0.05}}
    assert "ComBat" not in describe_sensitivity_methods(off)
    v_off = sensitivity_variables(off, NULL, SUMMARY, CUTS, 0.6667, None)
    assert v_off["harmonisation"] == {"run": "no", "alpha": "0.05"} and "ComBat" not in describe_sensitivity(v_off)

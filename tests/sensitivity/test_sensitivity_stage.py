"""The sensitivity stage's tables, variables and texts from fabricated results."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsurv.sensitivity.stage import (cutpoint_display, describe_sensitivity, permutation_display,
                                       sensitivity_variables)

PARAMS = {"permutation": {"n": 4}, "cutpoint": {"n_folds": 10}}
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

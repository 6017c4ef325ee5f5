"""The abstract's Results (radsurv.manuscript.abstract): on the study's design it is the
sentence the front matter held before; on a cohort without an external set, a test-set C
or the clinical imaging model it says what was estimated instead of printing "–"."""

from __future__ import annotations

import copy

from radsurv.manuscript import abstract_results, abstract_variables

FULL = {
    "cohort": {"train": {"n": 104, "dfs_5y": "84.6"}, "internal": {"n": 56, "dfs_5y": "82.8"},
               "external": {"n": 70, "dfs_5y": "86.3"}},
    "signatures": {"multimodal": {"c_internal": "0.823", "c_internal_ci": "0.712-0.934", "c_external": "0.855",
                                  "c_external_ci": "0.728-0.982"}},
    "models": {"imaging": {"fitted": True, "c_external": "0.837", "c_external_ci": "0.729-0.945",
                           "c_internal": "0.805", "c_internal_ci": "0.669-0.941"},
               "clinical": {"fitted": True, "c_external": "0.614", "c_external_ci": "0.45-0.77",
                            "c_internal": "0.7", "c_internal_ci": "0.5-0.9"}},
    "validation": {"imaging": {"corrected_c": "0.822"}, "n_resamples_used": 25},
}


def test_the_study_design_reads_as_the_fixed_sentence():
    assert abstract_results(FULL) == (
        "Five-year DFS was 84.6%, 82.8% and 86.3% in the training, internal and external sets. The multi-modal "
        "radiomics signature, developed on the training set only, reached a C-index of 0.823 (95% CI 0.712-0.934) "
        "on the internal and 0.855 (0.728-0.982) on the external test set. The multi-modal clinical imaging model "
        "(Rad-score with the clinical and MRI variables) reached 0.837 (0.729-0.945) on the external test set, "
        "against 0.614 (0.45-0.77) for the clinical model; its optimism-corrected C on the training set was 0.822 "
        "over 25 bootstrap resamples that repeated the whole development.")
    assert abstract_variables(FULL) == {"abstract": {"results": abstract_results(FULL)}}


def test_no_external_set_quotes_the_internal_one():
    v = copy.deepcopy(FULL)
    v["cohort"]["external"] = {"n": 0, "dfs_5y": "–"}
    v["signatures"]["multimodal"].update(c_external="–", c_external_ci="no patient")
    for m in ("imaging", "clinical"):
        v["models"][m].update(c_external="–", c_external_ci="no patient")
    text = abstract_results(v)
    assert "–" not in text and "external" not in text
    assert text.startswith("Five-year DFS was 84.6% and 82.8% in the training and internal sets. ")
    assert "reached a C-index of 0.823 (95% CI 0.712-0.934) on the internal test set." in text
    assert "reached 0.805 (0.669-0.941) on the internal test set, against 0.7 (0.5-0.9) for the clinical model" in text


def test_an_unfitted_imaging_model_is_said_so():
    v = copy.deepcopy(FULL)
    v["models"]["imaging"] = {"fitted": False, "c_external": "–", "c_external_ci": "no variable selected"}
    v["validation"]["imaging"] = {"corrected_c": "–", "fitted": False}
    text = abstract_results(v)
    assert "–" not in text
    assert text.endswith("could not be fitted: no variable was selected for it; the clinical model reached "
                         "0.614 (0.45-0.77) on the external test set.")
    # published variables are strings: "false" is not fitted either
    v["models"]["imaging"]["fitted"] = "false"
    assert abstract_results(v).endswith("on the external test set.") and "could not be fitted" in abstract_results(v)


def test_no_test_set_c_and_missing_stages():
    v = copy.deepcopy(FULL)
    v["signatures"]["multimodal"].update(c_internal="–", c_external="–")
    assert "could not be evaluated on a test set" in abstract_results(v)
    assert abstract_results({}) == "The stages that estimate the results have not run."
    assert abstract_results({"cohort": FULL["cohort"]}) == (
        "Five-year DFS was 84.6%, 82.8% and 86.3% in the training, internal and external sets.")

"""The Discussion's data-dependent paragraphs say what the run found, and only that."""

from __future__ import annotations

from radsurv.manuscript.discussion import describe_discussion

PUB_SIG = {"internal": 0.734, "external": 0.708}


def _models(clinical, imaging, signature=0.70, lr_p="0.012", recovery="40", constant=False):
    return {"clinical": {"c_external": f"{clinical:.3f}", "c_external_ci": "0.700-0.900"},
            "imaging": {"c_external": f"{imaging:.3f}", "c_external_ci": "0.650-0.920", "lr_p": lr_p,
                        "recovery_external_pct": recovery},
            "signature": {"c_external": f"{signature:.3f}"}, "radscore_constant": constant}


def _signatures(mm=0.75, us=0.70, mri=0.72, oracle=0.85):
    return {"multimodal": {"c_external": f"{mm:.3f}"}, "us": {"c_external": f"{us:.3f}"},
            "mri": {"c_external": f"{mri:.3f}"}, "oracle": {"c_external": f"{oracle:.3f}"}}


VALIDATION = {"final_model": "Multi-modal clinical imaging model", "final_model_key": "imaging",
              "imaging": {"optimism": "0.050", "corrected_c": "0.760", "corrected_slope": "0.80"}}


def test_findings_orderings_and_the_truth():
    text = describe_discussion(_signatures(), _models(0.78, 0.80), VALIDATION, PUB_SIG, 0.795, simulated=True)
    assert "0.800 (95% CI 0.650-0.920), against 0.780 for the clinical model (difference +0.020)" in text
    assert "Rad-score added to the clinical and MRI variables (likelihood-ratio p 0.012)" in text
    assert "multi-modal clinical imaging model's training C at 0.050" in text and "should be shrunk" in text
    assert ("the clinical imaging model was the best of the six on the external set and the multi-modal "
            "signature was above each single-modality signature") in text
    assert "an external C of 0.850" in text and "can add at most 0.070 in C" in text and "recovered 40%" in text
    # nothing about the truth on a real cohort
    real = describe_discussion(_signatures(), _models(0.78, 0.80), VALIDATION, PUB_SIG, 0.795, simulated=False)
    assert "true linear predictor" not in real and "0.850" not in real


def test_a_worse_imaging_model_and_a_weaker_multimodal_signature_are_said_so():
    text = describe_discussion(_signatures(mm=0.70, us=0.72), _models(0.82, 0.79, lr_p="0.40", recovery="-100"),
                               VALIDATION, PUB_SIG, 0.795, simulated=True)
    assert "difference -0.030" in text and "did not significantly add" in text
    assert "was not the best of the six" in text and "was not above each single-modality" in text
    assert "recovered none of it" in text and "-100%" not in text
    assert "little to add" in text            # 0.85 - 0.82 < 0.05


def test_no_signature_selected():
    text = describe_discussion(_signatures(), _models(0.85, 0.85, constant=True), VALIDATION, PUB_SIG, 0.795,
                               simulated=True)
    assert "No radiomic feature survived" in text and "external C 0.850 for the clinical model" in text
    assert "orderings" not in text and "recovered" not in text

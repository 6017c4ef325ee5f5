"""The null guard, end to end at the quick size: when the images carry no prognostic
signal (the `null` twin: imaging latents and tumour size drawn independently of the
hazard), no radiomics signature may discriminate on the test sets.

The paper-size null run is reported in the paper; here the quick design (56 internal
and 70 external patients, about a dozen events each) is run, so the band is wider than
the paper's [0.40, 0.60]: a C-index of a score without signal has a standard error of
about 0.08 at this size, and every signature's test C must lie within 3 of its own
standard errors of 0.5 (a leak of test outcomes or features into the development gives
C-indices far beyond it), and the seven signatures' mean within 0.5 +/- 0.1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.pipeline.runner import run_pipeline

from .._project import copy_project

pytestmark = pytest.mark.slow

SIGNATURES = ("us_intra", "us_peri", "mri_intra", "mri_peri", "us", "mri", "multimodal")


@pytest.fixture(scope="module")
def null_build(tmp_path_factory, root):
    proj = copy_project(root, tmp_path_factory.mktemp("quicknull"))
    # The readers' masks are the analysis masks here (no U-Net is trained or run, and no
    # development set is simulated): a segmenter cannot put into the masks a prognostic
    # signal the images do not have, and the null run of the paper (`--profile null`)
    # keeps the U-Nets. This keeps the guard to about a minute and a half.
    (proj / "params" / "quicknull.yml").write_text(
        "extends: quick\ncohort:\n  twin:\n    imaging_signal: false\n"
        "imaging:\n  development:\n    us: {n: 0}\n    mri: {n: 0}\n"
        "segmentation:\n  use_supplied_masks: true\n"
        # the mask-source and ring-width analyses and ComBat are not the guard's (the quick
        # test runs them)
        "sensitivity:\n  variants: {run: false}\n  harmonisation: {run: false}\n"
        # 20 permutations (the first 20 of the quick profile's draws): enough to put a chance
        # signature outside the tail (p 0.90 and 0.71 measured) within make test's budget
        "  permutation: {n: 20}\n"
        # the outcome draws develop the six models on every draw: not the guard's either
        "  outcome_draws: {n: 0}\n"
        # nor are the travelling lesions' scans (a property of the scanners, not of the signal)
        "  scanner_agreement: {n: 0}\n", encoding="utf-8")
    # Up to the signatures and the permutation null: the guard is theirs (the models'
    # stages run on the same code in the quick test; a whole null run is
    # `radsurv run --profile null`)
    report = run_pipeline("quicknull", root=proj, render=False, stages=["03_signatures", "06_sensitivity"])
    assert report.exit_code == 0, report.failure
    return proj


def test_no_signature_discriminates_on_the_test_sets(null_build):
    disc = pd.read_csv(null_build / "build/quicknull/03_signatures/discrimination.csv")
    test = disc[disc["set"].isin(["internal", "external"]) & disc["signature"].isin(SIGNATURES)]
    assert len(test) == 2 * len(SIGNATURES)
    for r in test.itertuples(index=False):
        assert abs(r.c - 0.5) <= 3 * max(r.se, 0.05), (r.signature, r.set, r.c, r.se)
    assert abs(test["c"].mean() - 0.5) <= 0.1, test[["signature", "set", "c"]]


def test_the_observed_signature_is_not_in_the_permutation_tail(null_build):
    """Without signal the observed multi-modal signature is one more draw from the null
    of its own development: neither test set puts it in the tail."""
    summary = pd.read_csv(null_build / "build/quicknull/06_sensitivity/permutation_summary.csv").set_index("set")
    assert list(summary.index) == ["internal", "external"]
    assert (summary["n_permutations"] == 20).all()
    assert (summary["p"] > 0.05).all(), summary
    assert (summary["null_mean"] - 0.5).abs().max() < 0.1, summary


def test_the_truth_still_discriminates(null_build):
    """The null is in the images only: the true linear predictor keeps its signal."""
    from radsurv.stages.readers import read_oracle
    from radsurv.stats import harrell_c

    eta = read_oracle(null_build / "build/quicknull")
    cohort = pd.read_csv(null_build / "build/quicknull/00_cohort/cohort.csv", dtype={"patient_id": str})
    test = cohort[cohort["split"] != "train"]
    c = harrell_c(test["dfs_time"], test["dfs_event"], eta.loc[test["patient_id"]].to_numpy())
    assert c.c > 0.65 and np.isfinite(c.se)

"""Stage 06 when the multi-modal Rad-score is constant on training (the LASSO kept no
feature; issue 28, item 2): the stage completes, writes every declared output, the
cut-point table and the variables say why there is no cut, the ComBat comparison of the
multi-modal signature (C = 0.5 either way) is left out with its reason, and the Results
paragraph says what was not estimated. Built in memory from fabricated results and a
real cut-point check of a constant score."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from radsurv.config import load_profile, stage_params  # noqa: E402
from radsurv.manuscript import render_text  # noqa: E402
from radsurv.pipeline.execute import check_outputs  # noqa: E402
from radsurv.sensitivity import (CentreEffects, ComBatResult, Harmonisation, PermutationNull,  # noqa: E402
                                 cutpoint_check, observed_test_c)
from radsurv.sensitivity.cutpoints import NO_CUT  # noqa: E402
from radsurv.sensitivity.stage import NO_COMBAT_MULTIMODAL, write_sensitivity_artefacts  # noqa: E402
from radsurv.stages import open_stage, stage_by_name, stage_declaration  # noqa: E402

STAGE = stage_by_name("06_sensitivity")
_BLOCKS = pd.DataFrame({"block": ["us_intra"], "n_features": [100], "n_harmonised": [100], "n_constant": [0]})
#: ComBat of two signatures; the multi-modal one scores 0.5 as extracted and after (constant)
HARMONISATION = Harmonisation(
    combat=ComBatResult(features=pd.DataFrame(), blocks=_BLOCKS,
                        batch=pd.Series(["training", "training", None, "centre 2"])),
    effects=CentreEffects(table=pd.DataFrame({"block": ["us_intra"], "n_features": [100], "n_differ_before": [60],
                                              "pct_differ_before": [60.0], "median_h_before": [9],
                                              "n_differ_after": [3], "pct_differ_after": [3.0],
                                              "median_h_after": [1]}),
                          blocks=_BLOCKS, alpha=0.05),
    discrimination=pd.DataFrame({"signature": ["us_intra", "multimodal"], "n": [23, 23], "events": [9, 9],
                                 "c_raw": [0.70, 0.5], "lower_raw": [0.6, 0.5], "upper_raw": [0.8, 0.5],
                                 "c_harmonised": [0.688, 0.5], "lower_harmonised": [0.59, 0.5],
                                 "upper_harmonised": [0.79, 0.5]}),
)
NULL = pd.DataFrame({"permutation": [1, 2, 3, 4], "c_internal": [0.5, 0.55, np.nan, 0.45],
                     "c_external": [0.52, 0.48, np.nan, 0.5], "n_selected": [3, 0, 0, 2],
                     "failed": ["", "", "ValueError: no event in a fold", ""]})


def _outcome(n=90, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"split": np.array(["train", "train", "internal", "external"] * n)[:n],
                         "time": rng.uniform(6, 90, n), "event": rng.integers(0, 2, n)},
                        index=[f"P{i:03d}" for i in range(n)])


def _run(tmp_path, root, harmonisation):
    params = stage_params(load_profile("quick", root), STAGE.sections)
    params["sensitivity"]["permutation"]["n"] = 4   # the fabricated null's
    ctx = open_stage(stage_declaration(STAGE), "unused.yml", tmp_path, tmp_path / "06_sensitivity.partial", params)
    outcome = _outcome()
    score = pd.Series(0.0, index=outcome.index)    # the LASSO kept no feature: 03's Rad-score is 0 for everyone
    observed = observed_test_c(score, outcome)
    assert observed == {"internal": 0.5, "external": 0.5}
    cutpoints = cutpoint_check(score, outcome, 0.1, 5, [1, 2])
    assert cutpoints.comparison is None
    permutation = PermutationNull(null=NULL, observed=observed, n_permutations=4)
    v = write_sensitivity_artefacts(ctx, permutation, cutpoints, harmonisation)
    missing, undeclared = check_outputs(STAGE, ctx.out_dir)
    assert missing == [] and undeclared == []
    doc = yaml.safe_load((ctx.out_dir / "variables.yml").read_text(encoding="utf-8"))
    return ctx, doc


def test_a_constant_rad_score_says_there_is_no_cut_and_no_multimodal_combat_comparison(tmp_path, root):
    ctx, doc = _run(tmp_path, root, HARMONISATION)
    v = doc["sensitivity"]
    assert v["radscore_constant"] is True and v["cutpoint"]["shrinkage"] == "–"
    assert v["not_estimable"] == [NO_CUT, NO_COMBAT_MULTIMODAL]
    assert NO_CUT.startswith("the cut-point check cannot be estimated: the multi-modal Rad-score selected no feature")
    # ComBat's comparison of the other signatures is kept; the multi-modal one (0.5 either way) is not
    assert "multimodal" not in v["harmonisation"] and v["harmonisation"]["max_abs_difference"] == "0.012"
    table = (ctx.out_dir / "cutpoints_table.md").read_text(encoding="utf-8")
    assert NO_CUT[0].upper() + NO_CUT[1:] + "." in table
    assert pd.read_csv(ctx.out_dir / "cutpoints.csv").columns.tolist() == ["set", "split_by"]
    text = render_text("06_sensitivity", "text-sensitivity.md", doc, {})
    assert "The multi-modal signature itself kept no feature, so its C of 0.5 is chance by construction" in text
    assert "Over the signatures the external C changed with ComBat by at most 0.012 (@tbl-harmonisation)." in text
    assert "as extracted and" not in text and "No sensitivity analysis could be run" not in text
    assert text.endswith(f" Not estimable on this cohort: {NO_CUT}; {NO_COMBAT_MULTIMODAL}.\n")


def test_a_constant_rad_score_without_combat_names_only_the_cut(tmp_path, root):
    ctx, doc = _run(tmp_path, root, None)
    assert doc["sensitivity"]["not_estimable"] == [NO_CUT]
    text = render_text("06_sensitivity", "text-sensitivity.md", doc, {})
    assert text.startswith("Against 3 signatures developed on permuted training outcomes")
    assert text.endswith(f" Not estimable on this cohort: {NO_CUT}.\n")

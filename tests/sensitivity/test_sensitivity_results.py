"""The sensitivity analyses' result objects (they show themselves: summary, title in the
HTML, print_summary, plot) and the public steps the notebook calls."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

from radsurv.exceptions import StageError
from radsurv.plots.sensitivity import permutation_figure, ring_width_figure
from radsurv.sensitivity import (REPORTED_SIGNATURES, CentreEffects, ComBatResult, CutpointCheck, Harmonisation,
                                 MaskSources, PermutationNull, RingWidths, VariantExtraction, check_redeveloped,
                                 combat_harmonise, compare_centre_effects, cutpoint_check, cutpoint_comparison,
                                 develop_variant, external_discrimination, harmonisation_batches, observed_score,
                                 observed_test_c, one_permutation, permutation_null, permutation_summary,
                                 reported_label, reported_scores, shrinkage)
from radsurv.sensitivity.cutpoints import CUT_COLUMNS
from radsurv.sensitivity.harmonisation import batches_for, centre_effects
from radsurv.signatures.development import MULTIMODAL, develop_signatures
from radsurv.signatures.evaluation import discrimination
from radsurv.signatures.risk_groups import RiskGroups

from test_cutpoints import data as cut_data
from test_harmonisation import _cohort as combat_cohort
from test_permutation import cohort


@pytest.fixture(scope="module")
def params(quick_profile):
    return quick_profile["signatures"]


@pytest.fixture(scope="module")
def developed(params):
    """A cohort with signal, its development and the observed multi-modal score."""
    X, outcome = cohort(0.6)
    dev = develop_signatures(X, outcome, set(), params, seed=1)
    return X, outcome, dev


def _shows_itself(obj, title_words):
    html = obj._repr_html_()
    assert all(w in html for w in title_words), html[:300]
    assert repr(obj) == obj.title()


# -- permutation ------------------------------------------------------------------------
def test_one_permutation_is_the_workers_permutation_and_shows_itself(params, developed, capsys):
    X, outcome, dev = developed
    score = dev.predictors()[MULTIMODAL].predict(X)
    observed = observed_test_c(score, outcome)
    first = one_permutation(X, outcome, set(), params, 1, 1, observed)
    null = PermutationNull.run(X, outcome, set(), params, 1, 3, observed)
    # the same function the workers run: permutation 1 of the null, to the last digit
    assert null.matches(first)
    row = null.null.set_index("permutation").loc[1]
    assert first.row["c_internal"] == row["c_internal"] and first.row["n_selected"] == row["n_selected"]
    assert len(first.features) == first.row["n_selected"]
    assert first.n_train == int((outcome["split"] == "train").sum()) and 0 < first.n_moved <= first.n_train
    s = first.summary()
    assert list(s.columns) == ["set", "permuted_c", "observed_c"] and list(s["set"]) == ["internal", "external"]
    assert s["observed_c"].tolist() == [observed["internal"], observed["external"]]
    _shows_itself(first, ["Permutation 1", "features selected"])
    ax = first.plot()
    assert len(ax.collections) == 2 and ax.get_title() == "Permutation 1"
    # permutation 2 by hand is the null's permutation 2, and is not its permutation 1
    other = one_permutation(X, outcome, set(), params, 1, 2, observed)
    assert null.matches(other) and other.row != first.row
    assert not null.matches(dataclasses.replace(other, b=1))
    first.print_summary()
    assert "Permutation 1" in capsys.readouterr().out


def test_permutation_null_summary_and_plot(params, developed):
    X, outcome, dev = developed
    observed = observed_test_c(dev.predictors()[MULTIMODAL].predict(X), outcome)
    null = permutation_null(X, outcome, set(), params, 1, 4)
    perm = PermutationNull(null=null, observed=observed, n_permutations=4)
    pd.testing.assert_frame_equal(perm.summary(), permutation_summary(null, observed))
    s = perm.summary().set_index("set")
    c = null["c_external"].to_numpy(float)
    assert s.loc["external", "null_mean"] == pytest.approx(c.mean())
    assert s.loc["external", "p"] == pytest.approx((1 + (c >= observed["external"]).sum()) / 5)
    _shows_itself(perm, ["Permutation null of the whole development", "4 permutations"])
    ax = perm.plot(set="internal")
    assert len(ax.patches) == 25                          # the histogram's bins, shared by the panels
    assert [ln.get_xdata()[0] for ln in ax.lines] == [0.5, observed["internal"]]
    assert "Internal test" in ax.get_title() and ax.get_xlim() == (perm.bins()[0], perm.bins()[-1])
    with pytest.raises(ValueError, match="no permuted C"):
        perm.plot(set="train")


def test_permutation_counts_failed_and_empty_and_the_figure(tmp_path):
    null = pd.DataFrame({"permutation": [1, 2, 3, 4], "c_internal": [0.5, 0.55, np.nan, 0.45],
                         "c_external": [0.52, 0.48, np.nan, 0.5], "n_selected": [3, 0, 0, 2],
                         "failed": ["", "", "ValueError: no event in a fold", ""]})
    perm = PermutationNull(null=null, observed={"internal": 0.7, "external": 0.6}, n_permutations=4)
    assert (perm.n_failed, perm.n_empty) == (1, 1)
    assert "1 not developed and left out; 1 kept no feature" in perm.title()
    path = permutation_figure(perm, tmp_path / "fig-permutation.png")
    assert path.stat().st_size > 1000
    empty = PermutationNull(null=null.assign(c_internal=np.nan, c_external=np.nan), observed={}, n_permutations=4)
    assert empty.sets() == []
    ax = empty.plot()   # degrades (issue 28): says why instead of raising
    assert [t.get_text() for t in ax.texts] == ["No permutation could be developed: there is no null to draw"]
    assert permutation_figure(empty, tmp_path / "none.png").exists()   # a message figure


def test_observed_score_refuses_other_patients(developed):
    X, outcome, dev = developed
    radscores = reported_scores(dev.predictors(), X)
    assert list(radscores.columns) == [n for n in REPORTED_SIGNATURES if n in dev.predictors()]
    pd.testing.assert_series_equal(observed_score(radscores, X), radscores[MULTIMODAL])
    with pytest.raises(StageError, match="different patients"):
        observed_score(radscores.iloc[1:], X)


# -- cut-points -------------------------------------------------------------------------
def test_cutpoint_check_is_the_comparison_of_03s_cut():
    score, outcome = cut_data()
    check = cutpoint_check(score, outcome, 0.1, 5, [3, 4])
    assert isinstance(check, CutpointCheck)
    train = (outcome["split"] == "train").to_numpy()
    groups = RiskGroups(min_prop=0.1, max_prop=0.9, n_permutations=0, n_bootstrap=0).fit(
        score[train], outcome.loc[train, "time"], outcome.loc[train, "event"])
    expected = cutpoint_comparison(score, outcome, groups, 5, [3, 4])
    pd.testing.assert_frame_equal(check.summary(), expected)
    assert list(check.summary().columns) == CUT_COLUMNS
    assert check.shrinkage == shrinkage(expected) and check.groups.cutpoint_ == groups.cutpoint_
    _shows_itself(check, ["Cut-point check", "5-fold cross-validated", f"{check.shrinkage:.2f}"])
    ax = check.plot()
    assert ax.get_xscale() == "log" and len(ax.get_legend().get_texts()) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Training", "Internal test", "External test"]


def test_cutpoint_check_of_a_constant_score():
    score, outcome = cut_data()
    check = cutpoint_check(score * 0 + 1.0, outcome, 0.1, 5, 0)
    assert check.comparison is None and check.groups is None and np.isnan(check.shrinkage)
    assert check.summary().empty and list(check.summary().columns) == CUT_COLUMNS
    assert check._repr_html_() == f"<p><strong>{check.title()}</strong></p>" and "constant" in check.title()
    ax = check.plot()   # degrades (issue 28): says why instead of raising
    assert [t.get_text() for t in ax.texts] == ["No cut: the Rad-score is constant on the training set"]


# -- ComBat -----------------------------------------------------------------------------
def test_harmonisation_steps_and_objects():
    X, split, centre = combat_cohort()
    outcome = pd.DataFrame({"split": split}, index=X.index)
    data = pd.DataFrame({"patient_id": X.index, "center": centre.to_numpy()})
    batch = harmonisation_batches(outcome, data)
    pd.testing.assert_series_equal(batch, batches_for(split, centre))
    assert harmonisation_batches(outcome.assign(split="train"), data) is None   # no external centre
    combat = combat_harmonise(X, batch)
    assert isinstance(combat, ComBatResult)
    assert combat.summary()["n_harmonised"].tolist() == [15, 15]
    _shows_itself(combat, ["Reference-batch ComBat", "80 training patients", "2 external batches",
                           "centre 2: 50", "centre 3: 45", "30 features harmonised"])
    effects = compare_centre_effects(X, combat, 0.05)
    assert isinstance(effects, CentreEffects) and effects.alpha == 0.05
    before, after = centre_effects(X, batch, 0.05), centre_effects(combat.features, batch, 0.05)
    assert effects.table["n_differ_before"].tolist() == before["n_differ"].tolist()
    assert effects.table["n_differ_after"].tolist() == after["n_differ"].tolist()
    assert (effects.table["n_differ_after"] < effects.table["n_differ_before"]).all()
    assert list(effects.summary().columns)[-1] == "n_constant"
    pct = f"{100 * effects.table['n_differ_before'].sum() / 30:.0f}%"
    _shows_itself(effects, ["Centre effects", f"{pct} of 30 features differ as extracted"])
    ax = effects.plot()
    assert len(ax.patches) == 4 and ax.get_yticklabels()[0].get_text() == "MRI, intra-tumoral"


def test_external_discrimination_and_the_redevelopment_check():
    X, split, centre = combat_cohort()
    rng = np.random.default_rng(1)
    outcome = pd.DataFrame({"split": split, "time": rng.uniform(1, 50, len(X)), "event": rng.integers(0, 2, len(X))},
                           index=X.index)
    raw = pd.DataFrame({"us_peri": X["us_peri__f0"], MULTIMODAL: X["mri_intra__f1"]})
    harmonised = raw * 2 + 1                                        # a monotone map: the same C
    d = external_discrimination(raw, harmonised, outcome)
    direct = discrimination(raw, outcome, list(raw.columns))
    direct = direct[direct["set"] == "external"].set_index("signature")
    assert d.set_index("signature")["c_raw"].to_dict() == pytest.approx(direct["c"].to_dict())
    assert np.allclose(d["c_raw"], d["c_harmonised"])
    assert list(d.columns) == ["signature", "n", "events", "c_raw", "lower_raw", "upper_raw", "c_harmonised",
                               "lower_harmonised", "upper_harmonised"]
    assert d["n"].tolist() == [95, 95]
    check_redeveloped(raw, raw.assign(other=0.0))                   # the same scores: passes
    with pytest.raises(StageError, match="the us_peri signature developed again differs"):
        check_redeveloped(raw, raw.assign(us_peri=raw["us_peri"] + 1e-6))
    batch = batches_for(split, centre)
    combat = combat_harmonise(X, batch)
    h = Harmonisation(combat, compare_centre_effects(X, combat), d.assign(c_harmonised=d["c_raw"] + [0.01, -0.03]))
    assert h.summary()["difference"].to_numpy() == pytest.approx([0.01, -0.03])
    assert h.batch is combat.batch and h.blocks is combat.blocks
    _shows_itself(h, ["External C with and without", "2 signatures", "largest change 0.030"])
    ax = h.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["US peri-tumoral", "Multi-modal (feeds the models)"]
    assert len(ax.get_legend().get_texts()) == 2


# -- mask source and ring width ------------------------------------------------------------
def _disc(names, c):
    rows = [{"signature": n, "set": s, "n": 50, "events": 10, "c": c + 0.01 * k, "lower": c - 0.1, "upper": c + 0.1}
            for k, n in enumerate(names) for s in ("internal", "external")]
    return pd.DataFrame(rows)


def test_mask_sources_and_ring_widths_show_themselves(tmp_path):
    names = ["us_peri", "mri_peri", MULTIMODAL]
    sources = pd.concat([_disc(names, 0.7).assign(source="auto", n_selected=3, jaccard_vs_auto=1.0),
                         _disc(names, 0.6).assign(source="reader", n_selected=2, jaccard_vs_auto=0.5)],
                        ignore_index=True)
    ms = MaskSources(sources=sources, selected={}, n_patients=50)
    s = ms.summary()
    assert list(s.columns) == ["signature", "source", "c_internal", "c_external", "n_selected", "jaccard_vs_auto"]
    assert s.set_index(["signature", "source"]).loc[("mri_peri", "reader"), "c_external"] == pytest.approx(0.61)
    assert list(ms.analysis().columns) == ["signature", "set", "n", "events", "c", "lower", "upper"]
    _shows_itself(ms, ["Mask source", "2 sources", "Reader", "50 patients"])
    ax = ms.plot()
    assert ax.get_title() == "External test" and len(ax.get_legend().get_texts()) == 2
    widths = pd.concat([_disc(names, 0.6).assign(width_mm=2.0), ms.analysis().assign(width_mm=5.0)],
                       ignore_index=True)
    rw = RingWidths(widths=widths, ring_mm=5.0)
    assert rw.sets() == ["internal", "external"]
    assert rw.summary().shape == (6, 4)
    _shows_itself(rw, ["Ring width", "2, 5 mm", "pre-specified 5 mm", "not chosen"])
    ax = rw.plot(set="internal")
    assert ax.get_title() == "Internal test" and len(ax.containers) == 3       # one error bar per signature
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [reported_label(n) for n in names]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_xdata()[0] == 5.0
    assert any(isinstance(c, LineCollection) for c in ax.collections)
    assert ring_width_figure(rw, tmp_path / "fig-ring-width.png").stat().st_size > 1000


def test_variant_extraction_matrix_and_develop_variant(params):
    X, outcome = cohort(0.6, p=8)
    tidy = []
    for col in X.columns:
        region, feature = col.split("__")
        for src in ("auto", "reader", "ring2mm"):
            if src == "ring2mm" and region.endswith("intra"):
                continue
            shift = 0.0 if src == "auto" else 0.1
            tidy.append(pd.DataFrame({"patient": X.index, "modality": "mri", "region": region.split("_")[1],
                                      "mask_source": src, "feature": feature, "value": X[col].to_numpy() + shift}))
    tidy = pd.concat(tidy, ignore_index=True)
    ext = VariantExtraction(features=tidy, failures=pd.DataFrame(), sources=("auto", "reader"), widths=(2.0, 5.0),
                            ring_mm=5.0, modalities=("mri",), patients=tuple(X.index), image_types={"mri": ["Original"]},
                            feature_classes={"mri": ["firstorder"]}, n_extracted=0, n_cached=0)
    assert ext.sweep == ["ring2mm", "auto"]
    a = ext.matrix("auto")
    pd.testing.assert_frame_equal(a, X.sort_index(), check_names=False, check_like=True)
    ring = ext.matrix("ring2mm", peri_only=True)
    assert np.allclose(ring.filter(like="mri_intra").to_numpy(), a.filter(like="mri_intra").to_numpy())
    assert np.allclose(ring.filter(like="mri_peri").to_numpy(), a.filter(like="mri_peri").to_numpy() + 0.1)
    assert set(ext.summary()["patients"]) == {len(X)}
    _shows_itself(ext, ["Variant regions", "2 mask sources", "rings of 2, 5 mm", f"{len(X)} patients"])
    disc, sel = develop_variant(a, outcome.loc[a.index], set(), params, 1)
    assert set(disc["set"]) == {"internal", "external"}
    dev = develop_signatures(a, outcome.loc[a.index], set(), params, 1)
    direct = discrimination(reported_scores(dev.predictors(), a), outcome.loc[a.index],
                            list(reported_scores(dev.predictors(), a).columns))
    direct = direct[direct["set"].isin(["internal", "external"])]
    assert np.allclose(disc["c"].to_numpy(), direct["c"].to_numpy())
    assert sel[MULTIMODAL] == set(dev.predictors()[MULTIMODAL].coef_.index) if hasattr(
        dev.predictors()[MULTIMODAL], "coef_") else isinstance(sel[MULTIMODAL], set)

"""What stages 03-06 need of a cohort (radsurv.preconditions), at the exact boundaries, and
that each verdict agrees with what the library does at the same boundary (the stage's
own computation refuses or leaves out exactly what the verdict says)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.exceptions import InputError, PreconditionError
from radsurv.preconditions import (BOOTSTRAP_MAX_FAILING, DEGRADE, NOTE, REFUSE, bootstrap_folds,
                                   bootstrap_share_failing, calibration_horizons, check_all, combat_batches,
                                   cutpoint_folds, events_per_candidate, extractable_regions, horizon_reason,
                                   model_horizons, regions_left, signature_folds, td_auc_reason, scored_set,
                                   unscored_sets)


def outcome(n_train: int, events_train: int, sets: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Training patients with ``events_train`` events; ``sets``: split -> (n, events, max follow-up)."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, (n, ev, tmax) in {"train": (n_train, events_train, 100.0), **(sets or {})}.items():
        t = np.sort(rng.uniform(1.0, tmax, n))
        t[-1] = tmax if n else t[-1:]
        e = np.zeros(n, dtype=int)
        e[:ev] = 1
        rows.append(pd.DataFrame({"split": split, "time": t, "event": e}))
    out = pd.concat(rows, ignore_index=True)
    out.index = [f"P{i:03d}" for i in range(len(out))]
    return out


def profile(n_folds=10, cut_folds=10, horizons=(12.0, 36.0, 60.0), val_horizons=(36.0, 60.0), min_events=5,
            columns=None, harmonise=True) -> dict:
    return {"signatures": {"n_folds": n_folds},
            "sensitivity": {"cutpoint": {"n_folds": cut_folds}, "harmonisation": {"run": harmonise}},
            "models": {"horizons_months": list(horizons)},
            "validation": {"horizons_months": list(val_horizons), "calibration": {"min_events": min_events}},
            "cohort": {"columns": columns or {"clinical": {"age": "numeric", "grade": ["G1", "G2", "G3"]},
                                               "mri": {}}},
            "features": {"params": {"us": "params/radiomics_us.yaml", "mri": "params/radiomics_mri.yaml"},
                         "on_error": "exclude"}}


# --------------------------------------------------------------------------- folds


@pytest.mark.parametrize("check, key, prof", [
    (signature_folds, "signatures.n_folds", lambda k: profile(n_folds=k)),
    (cutpoint_folds, "sensitivity.cutpoint.n_folds", lambda k: profile(cut_folds=k)),
])
def test_folds_boundary_and_the_suggested_value_works(check, key, prof):
    # events == folds passes; one event fewer is refused, naming the key and the largest value that works
    assert check(outcome(40, 10), prof(10)).ok
    v = check(outcome(40, 9), prof(10))
    assert (v.ok, v.action, v.key, v.suggested) == (False, REFUSE, key, 9)
    what = "cross-validation" if key.startswith("signatures") else "cut-point cross-validation"
    assert v.message == f"9 training events cannot fill 10 {what} folds; set {key} to 9 or fewer (at least 3)"
    assert check(outcome(40, 9), prof(v.suggested)).ok
    with pytest.raises(PreconditionError, match=key) as refused:
        v.refuse()
    assert isinstance(refused.value, InputError) and refused.value.key == key and refused.value.suggested == 9
    # below the schema's 3 folds no value works
    v = check(outcome(40, 2), prof(3))
    assert v.refuses and v.suggested is None and "no value of" in v.message
    assert check(outcome(40, 3), prof(3)).ok


def test_fold_ids_refuses_exactly_where_the_verdict_does():
    from radsurv.signatures import fold_ids

    for events in (4, 5, 6):
        o = outcome(30, events)
        refused = signature_folds(o, profile(n_folds=5)).refuses
        train = o[o["split"] == "train"]
        if refused:
            with pytest.raises(ValueError, match="cannot fill 5 folds"):
                fold_ids(train["event"], 5, 0)
        else:
            folds = fold_ids(train["event"], 5, 0)
            assert all(train["event"].to_numpy()[folds == k].sum() >= 1 for k in range(1, 6))
        assert refused == (events < 5)


def test_the_cutpoint_cross_validation_refuses_where_the_verdict_does():
    from radsurv.sensitivity.cutpoints import cross_validated_groups

    o = outcome(30, 4)
    train = o[o["split"] == "train"]
    score = np.random.default_rng(1).normal(size=len(train))
    assert cutpoint_folds(o, profile(cut_folds=5)).refuses
    with pytest.raises(ValueError, match="cannot fill 5 folds"):
        cross_validated_groups(score, train["time"], train["event"], 5, 0)
    assert cutpoint_folds(o, profile(cut_folds=4)).ok
    assert len(cross_validated_groups(score, train["time"], train["event"], 4, 0)) == len(train)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_share_has_its_closed_form_with_one_event():
    # one event patient: a resample misses it with probability (1 - 1/n)^n
    for n in (5, 18, 104):
        assert bootstrap_share_failing(n, 1, 1) == pytest.approx((1 - 1 / n) ** n, rel=1e-12)
    # fewer events than folds: every resample fails; no fold to fill: none does
    assert bootstrap_share_failing(20, 4, 5) == 1.0
    assert bootstrap_share_failing(20, 4, 0) == 0.0


def test_bootstrap_share_matches_the_resamples_the_optimism_bootstrap_draws():
    """The exact share against the resamples of radsurv.validation.optimism (its own draws,
    seed 0, 4000 resamples): the distinct event patients each holds."""
    from radsurv.validation.optimism import resample_rows

    n, events = 18, 12
    e = np.zeros(n, dtype=int)
    e[:events] = 1
    distinct = np.array([len(np.unique(r[e[r] == 1])) for r in (resample_rows(n, 0, b) for b in range(4000))])
    for k in (5, 6, 8, 10):
        share = bootstrap_share_failing(n, events, k)
        observed = float((distinct < k).mean())
        # binomial Monte Carlo error of 4000 resamples: 4 SE
        assert abs(observed - share) < 4 * np.sqrt(share * (1 - share) / 4000) + 1e-9, (k, share, observed)


def test_bootstrap_folds_refuses_above_the_threshold_and_suggests_a_value_that_works():
    o = outcome(18, 12)   # the 40-patient cohort: 18 training patients, 12 events
    v = bootstrap_folds(o, profile(n_folds=10))
    assert v.refuses and v.key == "signatures.n_folds" and v.suggested == 7
    assert "92% of the optimism bootstrap's resamples" in v.message
    assert "set signatures.n_folds to 7 or fewer (at least 3)" in v.message
    # the suggested value is the largest that works (17% left out: a note), one more is refused (43%)
    assert bootstrap_share_failing(18, 12, 7) <= BOOTSTRAP_MAX_FAILING < bootstrap_share_failing(18, 12, 8)
    note = bootstrap_folds(o, profile(n_folds=7))
    assert (note.ok, note.action, note.refuses) == (False, NOTE, False) and "about 17% of the" in note.message
    assert bootstrap_folds(o, profile(n_folds=8)).refuses
    assert bootstrap_folds(o, profile(n_folds=6)).ok   # 4.5% left out: below the note's 5%
    # the quick profile's training set (104 patients, 22 events, 10 folds) passes; the README's
    # 60-patient own cohort (27 training patients, 18 events) runs with a note (10.5% left out)
    assert bootstrap_folds(outcome(104, 22), profile(n_folds=10)).ok
    assert bootstrap_folds(outcome(27, 18), profile(n_folds=10)).action == NOTE
    # too few events for any number of folds
    v = bootstrap_folds(outcome(30, 3), profile(n_folds=3))
    assert v.refuses and v.suggested is None


# --------------------------------------------------------------------------- sets and horizons


def test_a_test_set_without_patients_or_events_degrades():
    o = outcome(40, 10, {"internal": (10, 0, 50.0)})
    ext, internal = scored_set(o, "external"), scored_set(o, "internal")
    assert (ext.ok, ext.action) == (False, DEGRADE) and ext.message.startswith("the cohort has no external test set")
    assert not internal.ok and "the internal test set has no event (10 patients, all censored)" in internal.message
    assert scored_set(outcome(40, 10, {"internal": (10, 1, 50.0)}), "internal").ok
    # the clauses 03, 04 and 05 add to not_estimable: one per set, in set order, none when both score
    assert unscored_sets(o) == [internal.message, ext.message]
    assert unscored_sets(outcome(40, 10, {"internal": (10, 1, 50.0), "external": (8, 2, 60.0)})) == []


def test_horizon_reason_boundaries():
    t = np.array([10.0, 20.0, 30.0, 60.0])
    e = np.array([1, 1, 0, 0])
    assert horizon_reason(t, e, 60.0) == ""                       # followed exactly to the horizon
    assert horizon_reason(t[:3], e[:3], 60.0) == "follow-up ends at 30.0 months, before the horizon"
    assert horizon_reason(t, e, 60.0, min_events=2) == ""
    assert horizon_reason(t, e, 60.0, min_events=3) == "2 events by the horizon (at least 3 needed)"
    assert horizon_reason(t[:0], e[:0], 60.0) == "no patient"


def test_calibration_leaves_out_what_calibration_horizons_says():
    from radsurv.validation import calibration_by_set

    rng = np.random.default_rng(3)
    o = outcome(60, 20, {"internal": (40, 12, 100.0), "external": (40, 12, 30.0)})
    scores = pd.DataFrame({"m": rng.normal(size=len(o))}, index=o.index)
    prof = profile(val_horizons=(36.0, 60.0), min_events=5)
    notes = {v.message for v in calibration_horizons(o, prof)}
    assert notes == {f"calibration at {h:g} months cannot be estimated in the external test set: follow-up ends at "
                     "30.0 months, before the horizon" for h in (36, 60)}
    cal = calibration_by_set(o, scores, {("m", 36.0): 0.8, ("m", 60.0): 0.7}, ["m"], [36.0, 60.0], min_events=5)
    missing = cal.summary().query("set != 'train' and mean_predicted != mean_predicted")
    assert sorted(zip(missing["set"], missing["horizon"])) == [("external", 36.0), ("external", 60.0)]
    assert set(missing["note"]) == {"follow-up ends at 30.0 months, before the horizon"}


def test_model_horizons_predict_the_td_auc_that_cannot_be_estimated():
    from radsurv.models import model_discrimination

    rng = np.random.default_rng(4)
    o = outcome(60, 20, {"internal": (40, 12, 100.0), "external": (40, 12, 30.0)})
    scores = pd.DataFrame({"m": rng.normal(size=len(o))}, index=o.index)
    disc = model_discrimination(scores, o, ["m"], [12.0, 36.0, 60.0], 60.0)
    auc = disc[(disc["measure"] == "td_auc") & (disc["set"] != "train")]
    nan = sorted((r.set, r.horizon) for r in auc.itertuples() if not np.isfinite(r.estimate))
    said = sorted((s, h) for s in ("internal", "external") for h in (12.0, 36.0, 60.0)
                  if f"{h:g} months cannot be estimated in the {s} test set" in
                  " ".join(v.message for v in model_horizons(o, profile())))
    assert nan == said == [("external", 36.0), ("external", 60.0)]
    # a control needs follow-up beyond the horizon: a patient censored exactly at it is none
    assert td_auc_reason([5.0, 12.0], [1, 0], 12.0).startswith("no patient followed beyond 12 months")
    assert td_auc_reason([5.0, 12.5], [1, 0], 12.0) == ""
    assert td_auc_reason([13.0, 14.0], [1, 0], 12.0) == "no event by 12 months"


# --------------------------------------------------------------------------- models and ComBat


def test_events_per_candidate_is_a_note_at_ten_per_parameter():
    # age (1) + grade (2 indicators) + the Rad-score: 4 parameters
    assert events_per_candidate(outcome(100, 40), profile()).ok
    v = events_per_candidate(outcome(100, 39), profile())
    assert (v.ok, v.action) == (False, NOTE) and v.message.startswith("39 training events for 4 candidate parameters")
    assert not v.refuses and not v.degrades


def test_combat_needs_two_patients_per_batch_as_combat_does():
    from radsurv.sensitivity import combat_harmonise

    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(12, 3)), columns=[f"mri_intra_f{i}" for i in range(3)])
    for n_small, ok in ((1, False), (2, True)):
        batch = pd.Series(["training"] * 8 + ["centre 2"] * 2 + ["centre 3"] * n_small + [None] * (2 - n_small))
        v = combat_batches(batch, profile())
        assert v.ok is ok and v.action == DEGRADE
        if ok:
            combat_harmonise(X, batch)
        else:
            assert v.message == ("ComBat harmonisation cannot be estimated: 'centre 3' has fewer than two patients "
                                 "(a centre's scale needs two)")
            with pytest.raises(ValueError, match="fewer than two patients"):
                combat_harmonise(X, batch)
    # ComBat's effect is read in the external C: an external set without events cannot show it
    batch = pd.Series(["training"] * 8 + ["centre 2"] * 4)
    no_event = outcome(8, 4, {"external": (4, 0, 50.0)})
    assert combat_batches(batch, profile(), no_event).degrades
    assert combat_batches(batch, profile(), outcome(8, 4, {"external": (4, 1, 50.0)})).ok
    assert combat_batches(None, profile()).ok                       # no external centre: scored_set says it
    assert combat_batches(pd.Series(["centre 3"]), profile(harmonise=False)).ok   # not asked for


def test_check_all_lists_what_fails_in_stage_order():
    o = outcome(18, 5, {"internal": (10, 0, 100.0)})
    found = [(v.stage, v.check, v.action) for v in check_all(o, profile())]
    assert found == [("03_signatures", "signature_folds", REFUSE), ("03-06", "scored_set", DEGRADE),
                     ("03-06", "scored_set", DEGRADE), ("04_models", "events_per_candidate", NOTE),
                     ("05_validation", "bootstrap_folds", REFUSE), ("06_sensitivity", "cutpoint_folds", REFUSE)]
    assert check_all(outcome(104, 40, {"internal": (50, 10, 100.0), "external": (50, 10, 100.0)}),
                     profile(horizons=(12.0,), val_horizons=(36.0,))) == []


def test_risk_groups_of_a_set_without_events_are_not_estimable_and_say_why():
    """03 on a cohort whose internal test set has no event: the table is written (the HR per
    SD there is NaN instead of a failed Cox fit) and the paper's clause is scored_set's."""
    from radsurv.signatures.risk_groups import (RiskGroups, hazard_ratio_per_sd, not_estimable_risk,
                                                risk_group_table)

    rng = np.random.default_rng(6)
    o = outcome(60, 20, {"internal": (20, 0, 100.0), "external": (30, 10, 100.0)})
    scores = pd.DataFrame({"r": rng.normal(size=len(o)) + o["event"].to_numpy()}, index=o.index)
    train = (o["split"] == "train").to_numpy()
    groups = RiskGroups(n_permutations=0, n_bootstrap=0).fit(scores.loc[train, "r"], o.loc[train, "time"],
                                                           o.loc[train, "event"])
    table = risk_group_table(scores, o, "r", groups, 1.0)
    per_sd = table[table["split_by"] == "per SD"].set_index("set")["hr"]
    assert np.isnan(per_sd["internal"])
    ext = o["split"] == "external"
    assert per_sd["external"] == hazard_ratio_per_sd(scores.loc[ext, "r"], o.loc[ext, "time"], o.loc[ext, "event"],
                                                     1.0)["hr"]
    assert not_estimable_risk(table, o, "Rad-score") == [scored_set(o, "internal").message]


# --------------------------------------------------------------------------- regions (02)


def _unextractable(ids, modality="mri") -> pd.DataFrame:
    return pd.DataFrame({"patient_id": ids, "modality": modality,
                         "reason": [f"patient {p!r}: 8 voxels in the lesion" for p in ids]})


def test_lesions_too_small_for_the_settings_are_a_note_until_no_signature_can_be_developed():
    # 17 training patients, the first 10 with an event (P000-P009); test sets P017-P039
    o = outcome(17, 10, {"internal": (11, 8, 100.0), "external": (12, 9, 100.0)})
    # 7 training events lost: 3 left (MIN_FOLDS), still a note naming them
    v = extractable_regions(o, _unextractable([f"P{i:03d}" for i in range(7)] + ["P020"]), profile())
    assert (v.ok, v.action, v.refuses) == (False, NOTE, False)
    assert v.message.startswith("the lesion of 8 of 40 patients cannot be extracted with the extraction settings "
                                "(too small, or on a constant image): PyRadiomics cannot extract it, and 02_features leaves the patient out (patient "
                                "'P000': 8 voxels in the lesion; ")
    assert "; and 3 more)" in v.message and v.message.endswith("3 training events are left")
    # one more: 2 training events left, no signature whatever signatures.n_folds: refused, naming the file
    v = extractable_regions(o, _unextractable([f"P{i:03d}" for i in range(8)]), profile())
    assert (v.action, v.refuses, v.key) == (REFUSE, True, "features.params.mri")
    assert "the training patients left hold 2 events, too few to develop a signature (at least 3)" in v.message
    assert ("lower setting.minimumROISize or setting.minimumROIDimensions (or setting.resampledPixelSpacing) in the "
            "PyRadiomics parameter file params/radiomics_mri.yaml (features.params.mri)") in v.message
    with pytest.raises(PreconditionError, match="too few to develop a signature") as refused:
        v.refuse()
    assert refused.value.key == "features.params.mri"
    # features.on_error: fail stops 02 at the first such lesion: refused, suggesting exclude
    fail = {**profile(), "features": {**profile()["features"], "on_error": "fail"}}
    v = extractable_regions(o, _unextractable(["P000"]), fail)
    assert (v.refuses, v.key, v.suggested) == (True, "features.on_error", "exclude")
    assert "9 training events are left" in v.message
    # nothing too small, or only patients outside the cohort: nothing to say
    assert extractable_regions(o, _unextractable([]), profile()).ok
    assert extractable_regions(o, _unextractable(["Q999"]), profile()).ok


def test_the_later_preconditions_see_the_patients_02_keeps():
    o = outcome(17, 10, {"internal": (11, 8, 100.0), "external": (12, 9, 100.0)})
    lost = _unextractable(["P000", "P001", "P030"])
    assert list(regions_left(o, lost).index) == [p for p in o.index if p not in ("P000", "P001", "P030")]
    # 10 training events fill 9 folds; the 8 left after 02 do not: signatures.n_folds is refused at 8
    assert check_all(o, profile(n_folds=9, cut_folds=3)) == [v for v in check_all(o, profile(n_folds=9, cut_folds=3))
                                                             if v.check != "signature_folds"]
    found = check_all(o, profile(n_folds=9, cut_folds=3), unextractable=lost)
    assert [(v.stage, v.check, v.action) for v in found[:2]] == [("02_features", "extractable_regions", NOTE),
                                                                 ("03_signatures", "signature_folds", REFUSE)]
    assert (found[1].key, found[1].suggested) == ("signatures.n_folds", 8)
    # a refusal of the regions: the rest is decided on the whole cohort (as if the masks were mended)
    refused = check_all(o, profile(n_folds=9, cut_folds=3), unextractable=_unextractable([f"P{i:03d}"
                                                                                            for i in range(9)]))
    assert refused[0].refuses and "signature_folds" not in [v.check for v in refused]

"""DeLong AUC, variance, CI and tests against pROC 1.18.0 (item `delong`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radsurv.stats import binary_at_time, delong_auc, delong_test

REF = Path(__file__).resolve().parents[1] / "data" / "reference"
RTOL = 1e-9  # README: delong, all quantities


def _load(item):
    # tests/stats/_ref.py (another engineer's) may not exist yet: read the files directly
    d = REF / item
    return pd.read_csv(d / "data.csv"), json.loads((d / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ref():
    return _load("delong")


@pytest.mark.parametrize("marker", ["s100b", "ndka", "wfns"])
def test_auc_var_ci(ref, marker):
    data, res = ref
    r = res["markers"][marker]
    assert r["direction"] == "<"  # our default: higher score = case
    out = delong_auc(data["outcome"], data[marker])
    np.testing.assert_allclose(out.auc, r["auc"], rtol=RTOL)
    np.testing.assert_allclose(out.var, r["var_delong"], rtol=RTOL)
    np.testing.assert_allclose(out.se, np.sqrt(r["var_delong"]), rtol=RTOL)
    np.testing.assert_allclose(out.lower, r["ci_lower"], rtol=RTOL)
    np.testing.assert_allclose(out.upper, r["ci_upper"], rtol=RTOL)
    assert (out.n_cases, out.n_controls) == (res["n_cases"], res["n_controls"])


def test_paired(ref):
    data, res = ref
    for r in res["paired_tests"]:
        out = delong_test(data["outcome"], data[r["marker1"]], data[r["marker2"]], paired=True)
        np.testing.assert_allclose(out.auc_a, r["auc1"], rtol=RTOL)
        np.testing.assert_allclose(out.auc_b, r["auc2"], rtol=RTOL)
        np.testing.assert_allclose(out.cov[0, 1], r["cov_delong"], rtol=RTOL)
        np.testing.assert_allclose(out.cov[0, 0], res["markers"][r["marker1"]]["var_delong"], rtol=RTOL)
        np.testing.assert_allclose(out.cov[1, 1], res["markers"][r["marker2"]]["var_delong"], rtol=RTOL)
        np.testing.assert_allclose(out.z, r["z"], rtol=RTOL)
        np.testing.assert_allclose(out.p, r["p"], rtol=RTOL)


def test_unpaired(ref):
    data, res = ref
    r = res["unpaired_test"]
    g1, g2 = (data["group"] == g for g in r["groups"])
    m = r["marker"]
    out = delong_test(data["outcome"][g1], data[m][g1], data[m][g2], paired=False, y_b=data["outcome"][g2])
    np.testing.assert_allclose([out.auc_a, out.auc_b], r["auc"], rtol=RTOL)
    np.testing.assert_allclose(np.diag(out.cov), r["var_delong"], rtol=RTOL)
    np.testing.assert_allclose(out.D, r["statistic_D"], rtol=RTOL)
    np.testing.assert_allclose(out.df, r["df"], rtol=RTOL)
    np.testing.assert_allclose(out.p, r["p"], rtol=RTOL)
    assert [int((data["outcome"][g] == 1).sum()) for g in (g1, g2)] == r["n_cases"]
    assert [int((data["outcome"][g] == 0).sum()) for g in (g1, g2)] == r["n_controls"]


def test_midrank_equals_pairwise_definition():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    s = rng.integers(0, 6, 80).astype(float)  # many ties
    cases, controls = s[y == 1], s[y == 0]
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / cases.size + v01.var(ddof=1) / controls.size
    out = delong_auc(y, s)
    np.testing.assert_allclose(out.auc, psi.mean(), rtol=1e-14)
    np.testing.assert_allclose(out.var, var, rtol=1e-12)


def test_direction():
    data, _ = _load("delong")
    y, s = data["outcome"], data["s100b"]
    a = delong_auc(y, s)
    flipped = delong_auc(y, -s)
    assert flipped.auc == pytest.approx(1 - a.auc, rel=1e-14)
    assert delong_auc(y, -s, direction=">").auc == pytest.approx(a.auc, rel=1e-14)
    auto = delong_auc(y, -s, direction="auto")  # pROC's default picks ">" here
    assert auto.direction == ">" and auto.auc == pytest.approx(a.auc, rel=1e-14)


def test_binary_at_time_convention():
    time = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 2.0])
    event = np.array([1, 0, 1, 1, 0, 0])
    y, keep = binary_at_time(time, event, 2.0)
    # case: event by t; control: still followed after t; censored at or before t
    # (censored exactly at t included, as td_auc): dropped
    np.testing.assert_array_equal(keep, [True, False, True, True, True, False])
    np.testing.assert_array_equal(y, [1, 1, 0, 0])
    y, keep = binary_at_time(time, event, 4.0)
    np.testing.assert_array_equal(keep, [True, False, True, True, True, False])
    np.testing.assert_array_equal(y, [1, 1, 1, 0])


def test_censored_at_the_horizon_is_handled_as_the_td_auc_handles_it():
    from radsurv.stats import td_auc

    # No censoring before the horizon t = 3 except exactly at it: the IPCW weights are then
    # 1 for every case and 1/G(t) for every control, so the td-AUC is the plain AUC of the
    # same cases and controls. The patients censored at t carry the highest and the
    # lowest scores, so counting them as controls would move the AUC.
    time = np.array([1.0, 1.5, 2.0, 3.0, 3.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    event = np.array([1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1])
    score = np.array([0.9, 0.3, 0.7, 0.6, 0.95, 0.05, 0.5, 0.4, 0.2, 0.55, 0.1, 0.35])
    y, keep = binary_at_time(time, event, 3.0)
    assert keep.sum() == 9 and y.sum() == 4   # 4 cases (one at t), 5 controls after t, 3 censored at t out
    td = td_auc(time, event, score, [3.0]).iloc[0]
    assert (td["n_cases"], td["n_controls"]) == (4, 5)
    assert delong_auc(y, score[keep]).auc == pytest.approx(td["auc"], rel=1e-14)
    # by hand: 17 of the 20 case-control pairs ranked right (the case at 0.3 sits below
    # the controls at 0.35, 0.4 and 0.55)
    cases, controls = score[keep][y == 1], score[keep][y == 0]
    assert td["auc"] == pytest.approx(17 / 20, rel=1e-14) == np.mean(cases[:, None] > controls[None, :])

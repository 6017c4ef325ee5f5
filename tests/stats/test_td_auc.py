"""Time-dependent IPCW AUC against riskRegression 2022.11.28 (items `td_auc`, `td_auc_compare`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radsurv.stats.td_auc import td_auc, td_auc_compare  # see note in test_lazy_export_name_clash

REF = Path(__file__).resolve().parents[1] / "data" / "reference"
RTOL_AUC = 1e-8  # README: td_auc AUC
RTOL_SE = 1e-6  # README: se, CI, contrasts (we observe ~1e-14)


def _load(item):
    d = REF / item
    return pd.read_csv(d / "data.csv"), json.loads((d / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gbsg():
    return _load("td_auc")


@pytest.mark.parametrize("marker", ["lp", "pnodes"])
def test_td_auc(gbsg, marker):
    data, res = gbsg
    out = td_auc(data["time"], data["event"], data[marker], res["times"])
    r = res["auc"][marker]
    np.testing.assert_array_equal(out["time"], r["times"])
    np.testing.assert_allclose(out["auc"], r["auc"], rtol=RTOL_AUC)
    for k in ("se", "lower", "upper"):
        np.testing.assert_allclose(out[k], r[k], rtol=RTOL_SE, err_msg=k)
    counts = pd.DataFrame(res["counts"])
    np.testing.assert_array_equal(out["n_cases"], counts["n_cases"])
    np.testing.assert_array_equal(out["n_controls"], counts["n_controls"])
    # every patient is a case, a control, or censored before t (R's third count), so the
    # project's cases + controls account for all but R's censored-before-t patients
    np.testing.assert_array_equal(out["n_cases"] + out["n_controls"] + counts["n_censored_before"], len(data))


def test_td_auc_contrast(gbsg):
    data, res = gbsg
    c = res["contrast"]
    assert (c["reference"], c["model"]) == ("lp", "pnodes")
    out = td_auc_compare(data["time"], data["event"], data["lp"], data["pnodes"], res["times"])
    np.testing.assert_allclose(out["delta"], c["delta_auc"], rtol=RTOL_AUC)
    for k in ("se", "lower", "upper", "p"):
        np.testing.assert_allclose(out[k], c[k], rtol=RTOL_SE, err_msg=k)
    np.testing.assert_allclose(out["auc_a"], res["auc"]["lp"]["auc"], rtol=RTOL_AUC)
    np.testing.assert_allclose(out["se_b"], res["auc"]["pnodes"]["se"], rtol=RTOL_SE)


def _compare_scores():
    """risk_a, risk_b recomputed as R did, from the GBSG2 covariates.

    The td_auc_compare data.csv stores them rounded to 15 digits, which turns
    values that differ by one ulp in R (0.03*10 vs 0.01*30 ...) into exact ties.
    Those float ties change the AUC by up to 4e-4, so the scores must be rebuilt
    with R's operations, in R's order (same rows as item td_auc).
    """
    g, _ = _load("td_auc")
    risk_a = 0.03 * g["pnodes"].to_numpy() + 0.5 * g["tgrade_III"].to_numpy() + 0.01 * g["tsize"].to_numpy()
    risk_b = risk_a - 0.002 * g["progrec"].to_numpy() - 0.3 * g["horTh_yes"].to_numpy()
    return risk_a, risk_b


def test_td_auc_compare():
    data, res = _load("td_auc_compare")
    risk_a, risk_b = _compare_scores()
    np.testing.assert_allclose(risk_a, data["risk_a"], atol=1e-14)  # same scores, up to rounding
    np.testing.assert_allclose(risk_b, data["risk_b"], atol=1e-14)
    out = td_auc_compare(data["time"], data["event"], risk_a, risk_b, res["times"])
    auc = pd.DataFrame(res["auc"])
    for model, col in (("a", "auc_a"), ("b", "auc_b")):
        r = auc[auc["model"] == model].sort_values("time")
        np.testing.assert_allclose(out[col], r["auc"], rtol=RTOL_AUC)
        np.testing.assert_allclose(out["se_" + model], r["se"], rtol=RTOL_SE)
        single = td_auc(data["time"], data["event"], risk_a if model == "a" else risk_b, res["times"])
        for k in ("auc", "se", "lower", "upper"):
            np.testing.assert_allclose(single[k], r[k], rtol=RTOL_SE, err_msg=k)
    con = pd.DataFrame(res["contrasts"]).sort_values("time")
    assert set(con["model"]) == {"b"} and set(con["reference"]) == {"a"}
    np.testing.assert_allclose(out["delta"], con["delta"], rtol=RTOL_AUC)
    for k in ("se", "lower", "upper", "p"):
        np.testing.assert_allclose(out[k], con[k], rtol=RTOL_SE, err_msg=k)


def test_csv_rounded_scores_do_not_match_exactly():
    # documents why test_td_auc_compare rebuilds the scores: with the rounded
    # CSV values the ties differ from R's and the AUC moves by far more than 1e-8
    data, res = _load("td_auc_compare")
    out = td_auc(data["time"], data["event"], data["risk_a"], res["times"])
    r = pd.DataFrame(res["auc"]).query("model == 'a'").sort_values("time")
    assert np.max(np.abs(out["auc"].to_numpy() / r["auc"].to_numpy() - 1)) > 1e-6


def test_auc_matches_sksurv_without_tied_times():
    # scikit-survival's cumulative_dynamic_auc uses the same estimator; it evaluates
    # G at T_i rather than T_i-, which only matters with tied event/censoring times
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=n)
    t_ev = rng.exponential(np.exp(-x))
    t_c = rng.exponential(1.5, n)
    time = np.minimum(t_ev, t_c)
    event = (t_ev <= t_c).astype(int)
    times = np.quantile(time[event == 1], [0.25, 0.5, 0.75])
    y = Surv.from_arrays(event.astype(bool), time)
    ref, _ = cumulative_dynamic_auc(y, y, x, times)
    out = td_auc(time, event, x, times)
    np.testing.assert_allclose(out["auc"], ref, rtol=1e-10)

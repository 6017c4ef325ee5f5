"""Kaplan-Meier, medians and log-rank against R survival 3.5-3 (item `km_logrank`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import kaplan_meier, logrank
from radsurv.stats.survival_curves import median_survival

from ._ref import assert_close, load_reference

RTOL = 1e-9  # README: km_logrank closed form; medians and counts exact


@pytest.fixture(scope="module")
def ref():
    return load_reference("km_logrank")


def _subsets(ref):
    df, r = ref
    for split in ("group2", "group3"):
        for level, node in r["km"][split].items():
            yield f"{split}={level}", df[df[split] == level], node
    yield "all", df, r["km"]["all"]


def _cases():
    df, r = load_reference("km_logrank")
    names = [f"{s}={lv}" for s in ("group2", "group3") for lv in r["km"][s]] + ["all"]
    return names


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
@pytest.mark.parametrize("case", _cases())
def test_km_at_times(ref, case, conf_type):
    df, r = ref
    (_, sub, node), = [x for x in _subsets(ref) if x[0] == case]
    a = node[f"conf_type_{conf_type}"]
    km = kaplan_meier(sub["time"], sub["event"], r["times"], conf_type=conf_type)
    at = a["at_times"]
    assert km["time"].tolist() == at["time"]
    assert km["n_risk"].tolist() == at["n_risk"]
    assert km["n_event"].tolist() == at["n_event"]
    for col, key in [("survival", "surv"), ("se", "std_err_surv"), ("lower", "lower"), ("upper", "upper")]:
        assert_close(km[col], at[key], RTOL, what=f"{case} {conf_type} {col}")
    med = median_survival(sub["time"], sub["event"], conf_type=conf_type)
    # exact; NaN (not reached) must match R's NA
    assert_close([med.median, med.lower, med.upper], [a["median"], a["median_lower"], a["median_upper"]],
                 0.0, what=f"{case} {conf_type} median")


@pytest.mark.parametrize("case", _cases())
def test_km_full_curve(ref, case):
    (_, sub, node), = [x for x in _subsets(ref) if x[0] == case]
    cv = node["curve"]
    km = kaplan_meier(sub["time"], sub["event"])
    assert len(sub) == node["n"] and int(sub["event"].sum()) == node["n_events"]
    for col in ("time", "n_risk", "n_event", "n_censor"):
        assert km[col].tolist() == cv[col], col
    assert_close(km["survival"], cv["surv"], RTOL, what="surv")
    assert_close(km["std_err_log"], cv["std_err_cumhaz"], RTOL, what="std_err")
    assert_close(km["cumhaz"], cv["cumhaz"], RTOL, what="cumhaz")


@pytest.mark.parametrize("item,column", [("logrank_2group", "group2"), ("logrank_3group", "group3")])
def test_logrank(ref, item, column):
    df, r = ref
    a = r[item]
    res = logrank(df["time"], df["event"], df[column])
    assert list(res.groups) == a["groups"]
    assert res.n.tolist() == a["n"]
    assert res.df == a["df"]
    assert_close(res.observed, a["observed"], 0.0, what="O")
    assert_close(res.statistic, a["chisq"], RTOL, what="chisq")
    assert_close(res.p, a["p"], RTOL, what="p")
    assert_close(res.expected, a["expected"], RTOL, what="E")
    # off-diagonal entries of a 2x2 variance are equal to the diagonal up to
    # cancellation (R: 70.98413472521462 vs ...72); 1e-9 relative is still met
    assert_close(res.variance, a["variance"], RTOL, what="variance")


def test_km_extend_and_before_first_time():
    t = np.array([2.0, 3.0, 5.0, 8.0])
    e = np.array([1, 0, 1, 0])
    km = kaplan_meier(t, e, [1.0, 10.0], extend=True)
    assert km["survival"].iloc[0] == 1.0 and km["se"].iloc[0] == 0.0
    assert km["n_risk"].tolist() == [4, 0]
    km2 = kaplan_meier(t, e, [1.0, 10.0], extend=False)
    assert np.isnan(km2["survival"].iloc[1])


def test_median_midpoint_rule():
    # S(2) = 2/3, S(4) = 0: no 0.5 plateau -> the smallest time with S <= 0.5
    t = np.array([1.0, 2.0, 3.0, 4.0])
    e = np.array([0, 1, 0, 1])
    assert median_survival(t, e).median == 4.0
    t = np.array([1.0, 2.0, 3.0, 4.0])
    e = np.array([1, 1, 0, 1])
    assert median_survival(t, e).median == 3.0  # S(2)=0.5 on [2, 4): midpoint (2 + 4)/2

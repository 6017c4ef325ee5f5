"""Calibration table against R survival 3.5-3 (item `calibration`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import calibration_table
from radsurv.stats.calibration import calibration_groups

from ._ref import assert_close, load_reference

RTOL, ATOL = 1e-9, 1e-12  # README: dca, calibration with the exported p / decile


@pytest.fixture(scope="module")
def ref():
    return load_reference("calibration")


def _check(tab, T):
    assert tab["group"].tolist() == T["decile"]
    assert tab["n"].tolist() == T["n"]
    assert tab["n_events_by_t"].tolist() == T["n_events_by_t"]
    for key in T:
        if key in ("decile", "n", "n_events_by_t"):
            continue
        col = "observed" if key == "observed_loglog" else key
        assert_close(tab[col], T[key], RTOL, ATOL, what=key)


def test_with_exported_deciles(ref):
    df, r = ref
    tab = calibration_table(df["time"], df["event"], df["p"], r["time"], groups=df["decile"])
    _check(tab, r["table"])


def test_rank_based_groups_reproduce_r(ref):
    df, r = ref
    assert (calibration_groups(df["p"], 10) == df["decile"].to_numpy()).all()
    tab = calibration_table(df["time"], df["event"], df["p"], r["time"], n_groups=10)
    _check(tab, r["table"])


def test_ties_broken_by_order():
    # rank(ties.method = "first"): tied 0.2s get ranks 2..5 in input order
    g = calibration_groups(np.array([0.2, 0.2, 0.2, 0.2, 0.1, 0.9]), 3)
    assert g.tolist() == [1, 2, 2, 3, 1, 3]


def test_a_group_not_followed_to_t_is_marked_not_carried():
    # group 1 (low risk): follow-up ends at 4 with its last patient censored, before t = 5;
    # group 2: followed past t; group 3: every patient had an event before t (S = 0, known)
    time = np.array([1.0, 2.0, 4.0, 3.0, 6.0, 7.0, 1.0, 2.0, 3.0])
    event = np.array([1, 0, 0, 1, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.11, 0.12, 0.4, 0.41, 0.42, 0.8, 0.81, 0.82])
    tab = calibration_table(time, event, p, 5.0, n_groups=3)
    assert tab["followed_to_t"].tolist() == [False, True, True]
    assert tab["max_time"].tolist() == [4.0, 7.0, 3.0]
    short = tab.iloc[0]
    for col in ("observed", "km_std_err", "observed_lower", "observed_upper", "observed_lower_loglog",
                "observed_upper_loglog"):
        assert np.isnan(short[col]), col
    assert short["n"] == 3 and short["n_events_by_t"] == 1 and short["mean_predicted"] == pytest.approx(0.11)
    assert tab["observed"].iloc[1] == pytest.approx(1 / 3) and tab["observed"].iloc[2] == 1.0
    # R's extend = TRUE carries the group's last survival, S(4) = 2/3, to t
    carried = calibration_table(time, event, p, 5.0, n_groups=3, short_follow_up="extend")
    assert carried["observed"].iloc[0] == pytest.approx(1 / 3)
    assert carried["observed"].iloc[1:].tolist() == tab["observed"].iloc[1:].tolist()
    with pytest.raises(ValueError, match="short_follow_up: expected one of"):
        calibration_table(time, event, p, 5.0, n_groups=3, short_follow_up="merge")

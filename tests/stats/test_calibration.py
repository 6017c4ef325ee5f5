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

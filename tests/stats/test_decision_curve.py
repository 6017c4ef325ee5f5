"""Survival net benefit against R (KM within p >= pt; item `dca`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import net_benefit

from ._ref import assert_close, load_reference

RTOL, ATOL = 1e-9, 1e-12  # README; the absolute floor covers nb_treat_none = 0


@pytest.fixture(scope="module")
def ref():
    return load_reference("dca")


def test_against_r(ref):
    df, r = ref
    T = r["table"]
    nb = net_benefit(df["time"], df["event"], df["p"], r["time"], T["threshold"])
    assert nb["n_high"].tolist() == T["n_high"]
    for key in T:
        assert_close(nb[key], T[key], RTOL, ATOL, what=key)
    # treat-all uses the KM in everyone
    S = r["km_surv_all"]
    pt = np.asarray(T["threshold"])
    assert_close(nb["nb_treat_all"], (1 - S) - S * pt / (1 - pt), RTOL)


def test_nobody_high():
    t = np.array([1.0, 2, 3, 4])
    e = np.array([1, 0, 1, 0])
    nb = net_benefit(t, e, [0.1, 0.2, 0.1, 0.2], 3.0, [0.5])
    assert nb["nb_model"].iloc[0] == 0.0 and nb["n_high"].iloc[0] == 0

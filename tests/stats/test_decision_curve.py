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


def test_a_treated_group_not_followed_to_the_horizon_is_flagged():
    from radsurv.stats.decision_curve import short_follow_up_note

    # the two highest risks (0.8, 0.9) were followed to 2 and 2.5, censored, short of t = 3
    t = np.array([1.0, 4.0, 5.0, 6.0, 2.0, 2.5])
    e = np.array([1, 0, 1, 0, 0, 0])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])
    nb = net_benefit(t, e, p, 3.0, [0.05, 0.5, 0.85, 0.95])
    assert nb["high_followed_to_t"].tolist() == [True, False, False, True]   # nobody treated at 0.95
    assert nb["max_time_high"].iloc[1:3].tolist() == [2.5, 2.5]
    assert nb["km_surv_high"].iloc[1] == 1.0   # carried: no event seen before their follow-up ended
    note = short_follow_up_note(nb, 3.0)
    assert note.startswith("at 2 thresholds between 0.5 and 0.85 the patients above the threshold were followed "
                           "for at most 2.5 (less than the horizon 3)")
    assert short_follow_up_note(nb[nb["high_followed_to_t"]], 3.0) == ""

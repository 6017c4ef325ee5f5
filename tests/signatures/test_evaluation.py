"""A constant score (nothing selected) has C = 0.5 by construction; any other score gets
radsurv.stats' Harrell's and Uno's C."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsurv.signatures.evaluation import NULL_C, discrimination, is_constant, score_concordance
from radsurv.stats import harrell_c, uno_c


def test_a_constant_score_is_the_null_model():
    t, e = np.array([5.0, 8, 3, 12, 7, 9]), np.array([1, 0, 1, 1, 0, 1])
    assert is_constant(np.zeros(6)) and is_constant(np.full(6, -0.3))
    assert not is_constant(np.array([0.0, 0, 0, 0, 0, 1e-9]))
    assert score_concordance(t, e, np.full(6, 2.5)) == {"c": 0.5, "se": 0.0, "lower": 0.5, "upper": 0.5}
    assert NULL_C == 0.5


def test_any_other_score_gets_harrell_c():
    rng = np.random.default_rng(1)
    t, e, x = rng.exponential(10, 40), (rng.random(40) < 0.7).astype(int), rng.normal(size=40)
    hc = harrell_c(t, e, x)
    assert score_concordance(t, e, x) == {"c": hc.c, "se": hc.se, "lower": hc.lower, "upper": hc.upper}


def test_discrimination_per_set_and_a_constant_signature():
    rng = np.random.default_rng(2)
    n = 60
    outcome = pd.DataFrame({"split": np.array(["train", "internal", "external"])[np.arange(n) % 3],
                            "time": rng.exponential(20, n), "event": (rng.random(n) < 0.6).astype(int)})
    outcome.loc[outcome.split == "internal", "event"] = 0   # a set without events is left out
    scores = pd.DataFrame({"signal": -outcome["time"] + rng.normal(0, 5, n), "empty": 0.0})
    disc = discrimination(scores, outcome, ["signal", "empty"], tau=30.0)
    assert list(disc.columns) == ["signature", "set", "n", "events", "c", "se", "lower", "upper", "uno_c"]
    assert list(zip(disc.signature, disc.set)) == [("signal", "train"), ("signal", "external"),
                                                   ("empty", "train"), ("empty", "external")]
    empty = disc[disc.signature == "empty"]
    assert (empty[["c", "lower", "upper", "uno_c"]] == 0.5).all().all() and (empty.se == 0).all()
    r = disc.iloc[1]
    sel = (outcome.split == "external").to_numpy()
    t, e, x = outcome.time[sel], outcome.event[sel], scores.signal[sel]
    assert (r.n, r.events) == (20, int(e.sum()))
    assert (r.c, r.se, r.uno_c) == (harrell_c(t, e, x).c, harrell_c(t, e, x).se, uno_c(t, e, x, tau=30.0).c)

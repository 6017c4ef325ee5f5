"""A monotone likelihood that the old check missed, against R's coxph
(``tests/data/reference/cox_monotone``: three completed training sets of the quick
profile's null twin, where a rare binary covariate, the HER2-enriched subtype, has no
event; ``reference.R`` made ``results.json`` with R 4.2.2 and survival 3.5-3).

Its coefficient runs off to minus infinity, but at a per-SD log hazard ratio below 10,
so the Newton steps stopped wherever rounding let them (-36 to -41, differing between
processes) with a variance of 1e16 that rounding made negative in one set: the pooled
fit of 04_models then stopped. coxph stops when the log-likelihood has converged and
names the covariate; fit_cox(monotone="as_r") now does the same."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from radsurv.models.imputation import fit_cox_imputed
from radsurv.stats import fit_cox
from tests.stats._ref import load_reference

DATA, R = load_reference("cox_monotone")
SETS = [(s, DATA[DATA["set"] == s["set"]]) for s in R["sets"]]


def _xte(frame, names):
    return frame[names], frame["time"].to_numpy(), frame["event"].to_numpy()


@pytest.mark.parametrize("i", range(len(SETS)))
def test_fit_matches_coxph_and_names_the_runaway_covariate(i):
    ref, frame = SETS[i]
    X, t, e = _xte(frame, ref["names"])
    with pytest.warns(RuntimeWarning, match=r"converged before subtype_her2_enriched; coefficient may be infinite"):
        f = fit_cox(X, t, e, monotone="as_r")
    assert f.monotone == ("subtype_her2_enriched",)
    assert "Loglik converged before variable  7 " in ref["warning"]   # the 7th term, as R names it
    np.testing.assert_allclose(f.coef.to_numpy(), ref["coef"], rtol=1e-7)
    np.testing.assert_allclose(f.vcov.to_numpy(), np.array(ref["var"]), rtol=1e-5, atol=1e-12)
    assert f.loglik == pytest.approx(ref["loglik"][1], rel=1e-12)
    assert (np.diag(f.vcov.to_numpy()) > 0).all()


def test_the_pooled_fit_of_the_three_sets():
    names = SETS[0][0]["names"]
    sets = [frame[names].reset_index(drop=True) for _, frame in SETS]
    t, e = SETS[0][1]["time"].to_numpy(), SETS[0][1]["event"].to_numpy()
    assert all((frame["time"].to_numpy() == t).all() for _, frame in SETS)   # one cohort, three imputations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pooled = fit_cox_imputed(sets, t, e, ties="efron", monotone="as_r")
    qbar = np.mean([s["coef"] for s, _ in SETS], axis=0)
    np.testing.assert_allclose(pooled.pooled["qbar"].to_numpy(), qbar, rtol=1e-7)
    assert (pooled.pooled["std_error"] > 0).all()

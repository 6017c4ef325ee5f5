"""fit_cox(eps=...) reproduces R's coxph.fit iterates (items `cox` and `nomogram`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import fit_cox

from ._ref import assert_close, load_reference

# measured: coxph (eps 1e-9) coefficients 1.3e-14, cph (eps 1e-4) 1.2e-13 relative
RTOL = 1e-12


def test_coxph_default_eps_gives_r_coefficients():
    df, r = load_reference("cox")
    cov = r["covariates"]
    for ties in ("efron", "breslow"):
        fit = fit_cox(df[cov], df["time"], df["event"], ties=ties, eps=1e-9, max_iter=20)
        assert_close(fit.coef[cov], [r[ties]["coef"][c] for c in cov], RTOL, what=f"{ties} coef")
        assert_close(fit.loglik, r[ties]["loglik"], RTOL, what=f"{ties} loglik")
        assert_close(fit.se[cov], [r[ties]["se"][c] for c in cov], RTOL, what=f"{ties} se")


def test_cph_eps_stops_early_as_r_does():
    # rms::cph(eps = 1e-4, iter.max = 10): 4 iterations, one of them halved; the
    # coefficients are ~4e-4 (age) away from the optimum, and equal R's to rounding
    df, r = load_reference("nomogram")
    cov = list(r["coefficients"])
    expected = [r["coefficients"][c] for c in cov]
    fit = fit_cox(df[cov], df["time"], df["event"], eps=1e-4, max_iter=10)
    assert fit.iterations == 4
    assert_close(fit.coef[cov], expected, RTOL, what="cph coef")
    assert_close(float(fit.means @ fit.coef), r["center"], RTOL, what="center")
    optimum = fit_cox(df[cov], df["time"], df["event"])
    assert abs(optimum.coef["age"] / r["coefficients"]["age"] - 1) > 1e-4


def test_too_few_iterations_fail():
    df, r = load_reference("nomogram")
    cov = list(r["coefficients"])
    with pytest.raises(ValueError, match="did not converge"):
        fit_cox(df[cov], df["time"], df["event"], eps=1e-9, max_iter=3)


@pytest.mark.parametrize("eps", [0, -1e-4, np.nan, "1e-4"])
def test_bad_eps(eps):
    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    t = rng.exponential(size=30)
    e = np.ones(30, dtype=int)
    with pytest.raises(ValueError, match="eps: must be a positive number"):
        fit_cox(x, t, e, eps=eps)

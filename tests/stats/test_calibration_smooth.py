"""Smoothed calibration (rcs) against R: Hmisc 4.8-0 rcspline.eval, survival 3.5-3
coxph/survfit (item `calibration_smooth`)."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.stats import fit_cox, smoothed_calibration
from radsurv.stats.calibration_smooth import rcspline_eval, rcspline_knots

from ._ref import assert_close, load_reference

# README (calibration_smooth): 1e-6 relative when observed comes from our own Cox fit.
# Measured with R's exported predicted risk: knots 3.4e-15, observed 2.5e-11,
# ICI/E50/E90/Emax <= 1.5e-11. With p recomputed from our own fit of the `cox` model:
# predicted 2.5e-11, knots 6.5e-11, observed 1.0e-10, summaries <= 8.8e-11.
RTOL_KNOTS = 1e-12
RTOL = 1e-9
RTOL_OWN_P = 1e-8


@pytest.fixture(scope="module")
def ref():
    return load_reference("calibration_smooth")


def _check_rcs(res, rc, rtol_knots, rtol):
    assert_close(res.knots, rc["knots"], rtol_knots, what="knots")
    assert_close(res.observed, rc["observed"], rtol, what="observed")
    for key in ("ici", "e50", "e90", "emax"):
        assert_close(getattr(res, key), rc[key], rtol, what=key)


def test_rcs_with_r_predicted_risk(ref):
    df, r = ref
    res = smoothed_calibration(df["time"], df["event"], r["predicted"], r["t"], method="rcs", knots=3)
    _check_rcs(res, r["rcs"], RTOL_KNOTS, RTOL)
    assert res.horizon == 1825 and res.method == "rcs"
    tab = res.table
    assert tab.columns.tolist() == ["predicted", "observed", "abs_error"]
    # |observed - predicted| goes down to 1.4e-5: absolute floor 1e-12 (README, near 0)
    assert_close(tab["abs_error"], np.abs(np.array(r["rcs"]["observed"]) - np.array(r["predicted"])), RTOL,
                 atol=1e-12, what="abs_error")


def test_rcs_with_own_cox_model(ref):
    df, r = ref
    cov = list(df.columns[3:])
    fit = fit_cox(df[cov], df["time"], df["event"])
    p = 1 - fit.predict_survival(df[cov], [r["t"]])[:, 0]
    assert_close(p, r["predicted"], RTOL, what="predicted 5-year risk")
    res = smoothed_calibration(df["time"], df["event"], p, r["t"])
    _check_rcs(res, r["rcs"], RTOL_OWN_P, RTOL_OWN_P)


def test_explicit_knots_give_the_same_fit(ref):
    df, r = ref
    res = smoothed_calibration(df["time"], df["event"], r["predicted"], r["t"], knots=r["rcs"]["knots"])
    assert_close(res.observed, r["rcs"]["observed"], RTOL, what="observed (knots given)")


def test_curve_at_any_risk_is_the_fitted_curve(ref):
    # observed_at on the patients' own predicted risks gives back R's observed risks; on a
    # grid between them it is a probability
    df, r = ref
    res = smoothed_calibration(df["time"], df["event"], r["predicted"], r["t"])
    assert_close(res.observed_at(r["predicted"]), r["rcs"]["observed"], RTOL, what="observed_at")
    p = np.sort(np.asarray(r["predicted"]))
    grid = np.linspace(p[5], p[-5], 50)
    inside = res.observed_at(grid)
    assert np.all((inside > 0) & (inside < 1))
    with pytest.raises(ValueError, match="risk: must be strictly between 0 and 1"):
        res.observed_at([0.2, 1.0])


def test_rcspline_eval_closed_form():
    # knots 0, 1, 2: column = [x^3_+ - (2 (x-1)^3_+ - (x-2)^3_+) / 1] / (2 - 0)^2
    x = np.array([-1.0, 0.5, 1.5, 3.0])
    B = rcspline_eval(x, [0.0, 1.0, 2.0], inclx=True)
    np.testing.assert_allclose(B[:, 0], x)
    np.testing.assert_allclose(B[:, 1], [0.0, 0.125 / 4, (3.375 - 2 * 0.125) / 4, (27 - 2 * 8 + 1) / 4],
                               rtol=1e-15)
    assert rcspline_eval(x, [0.0, 1.0, 2.0], inclx=False).shape == (4, 1)
    # linear beyond the last knot: equal second differences are zero
    far = rcspline_eval(np.array([3.0, 4.0, 5.0]), [0.0, 1.0, 2.0], inclx=False)[:, 0]
    assert far[2] - 2 * far[1] + far[0] == pytest.approx(0.0, abs=1e-12)


def test_knot_placement_rules():
    # quantiles (type 7) at 0.1, 0.5, 0.9 for n >= 100
    np.testing.assert_allclose(rcspline_knots(np.arange(1.0, 201.0), 3), [20.9, 100.5, 180.1], rtol=1e-14)
    # n < 100: outer knots are the 5th smallest and 5th largest values
    np.testing.assert_allclose(rcspline_knots(np.arange(1.0, 51.0), 3), [5.0, 25.5, 46.0])
    # 4 knots: quantiles at 0.05, 0.35, 0.65, 0.95
    np.testing.assert_allclose(rcspline_knots(np.arange(0.0, 1001.0), 4), [50.0, 350.0, 650.0, 950.0])
    # >= 5% tied at the minimum: first knot = second smallest value, quantiles of the rest
    x = np.r_[np.zeros(20), np.arange(1.0, 181.0)]
    k = rcspline_knots(x, 3)
    assert k[0] == 1.0
    np.testing.assert_allclose(k[1:], np.quantile(np.arange(2.0, 181.0), [0.5, 0.9]))
    # few distinct values: the interior ones
    np.testing.assert_array_equal(rcspline_knots(np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], 10), 3), [2.0, 3.0, 4.0])


def test_miscalibration_is_measured():
    # exponential times with known hazard: the true 2-year risk is well calibrated,
    # the same risk squared (too low) is not
    rng = np.random.default_rng(11)
    n = 2000
    lp = rng.normal(size=n)
    rate = 0.3 * np.exp(0.8 * lp)
    t_event = rng.exponential(1 / rate)
    t_cens = rng.uniform(0.5, 6, n)
    t = np.minimum(t_event, t_cens)
    e = (t_event <= t_cens).astype(int)
    true_risk = 1 - np.exp(-rate * 2.0)
    good = smoothed_calibration(t, e, true_risk, 2.0)
    bad = smoothed_calibration(t, e, true_risk ** 2, 2.0)
    assert good.ici < 0.02 and good.emax < 0.03  # 0.0069, 0.012
    assert bad.ici > 0.15  # 0.193
    # both smoothed curves estimate the true risk, whatever the predictions
    assert np.mean(np.abs(good.observed - true_risk)) < 0.02
    assert np.mean(np.abs(bad.observed - true_risk)) < 0.02


# ---------------------------------------------------------------- bad input
def _small():
    rng = np.random.default_rng(0)
    t = rng.exponential(5, 60) + 0.1
    e = (rng.random(60) < 0.7).astype(int)
    p = rng.uniform(0.1, 0.9, 60)
    return t, e, p


def test_hare_is_refused_as_not_implemented():
    """polspline's hazard regression is not a method: asked for, it is refused by name."""
    t, e, p = _small()
    with pytest.raises(ValueError, match=r"method: must be 'rcs' .*'hare' is not implemented\), got 'hare'"):
        smoothed_calibration(t, e, p, 3.0, method="hare")


@pytest.mark.parametrize("kwargs, pattern", [
    ({"method": "loess"}, r"method: must be 'rcs'"),
    ({"knots": 2}, r"knots: need at least 3 knots"),
    ({"knots": [0.0, 0.5]}, r"knots: need at least 3 knots"),
    ({"knots": [0.0, -0.5, 1.0]}, r"knots: must be strictly increasing"),
    ({"horizon": 0.0}, r"horizon: must be a positive time"),
    ({"horizon": np.nan}, r"horizon: contains NaN"),
])
def test_bad_arguments(kwargs, pattern):
    t, e, p = _small()
    args = {"horizon": 3.0, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        smoothed_calibration(t, e, p, **args)


@pytest.mark.parametrize("case, pattern", [
    ("risk_one", r"risk: must be strictly between 0 and 1"),
    ("risk_zero", r"risk: must be strictly between 0 and 1"),
    ("risk_nan", r"risk: contains NaN"),
    ("time_negative", r"time: negative time"),
    ("event_2", r"event: must be 0/1"),
    ("short_risk", r"mismatched lengths"),
])
def test_bad_data(case, pattern):
    t, e, p = _small()
    if case == "risk_one":
        p[4] = 1.0
    elif case == "risk_zero":
        p[4] = 0.0
    elif case == "risk_nan":
        p[4] = np.nan
    elif case == "time_negative":
        t[1] = -2.0
    elif case == "event_2":
        e[1] = 2
    elif case == "short_risk":
        p = p[:-1]
    with pytest.raises(ValueError, match=pattern):
        smoothed_calibration(t, e, p, 3.0)

"""Cox nomogram against R rms 6.5-0 ``cph`` + ``nomogram`` + ``Survival`` (item `nomogram`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.stats import Nomogram, fit_cox, nomogram
from radsurv.stats.nomogram_cox import datadist_limits, r_pretty

from ._ref import assert_close, load_reference

# No README tolerance for this item; the computation is closed form given cph's
# coefficients. Measured with fit_cox(eps=1e-4, max_iter=10) (= cph's iterates):
# coefficients 1.2e-13, centre 1.1e-15, points per unit lp 2.1e-16, lp at zero 0,
# datadist limits 1.7e-15, axis points 1.2e-13, total-points axis exact, function-axis
# points 4.0e-15, S(3y)/S(5y) 1.4e-15 (relative). Points of 0 are compared with an
# absolute floor of 1e-12.
RTOL = 1e-10
ATOL = 1e-12
# With fit_cox's converged coefficients instead (cph stops at eps = 1e-4):
# coefficients 3.9e-4 (age), axis points 3.9e-4, function-axis points 1.9e-4,
# S(t) 1.0e-6 relative.
RTOL_OPTIMUM = 5e-4
THREE_YEARS, FIVE_YEARS = 1095, 1825  # days; no event between 1094 and 1105
FUN_AT = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]  # R: fun.at = seq(.9, .1, by = -.1)
LABELS = ("dfs_3y", "dfs_5y")


@pytest.fixture(scope="module")
def ref():
    df, r = load_reference("nomogram")
    cov = list(r["coefficients"])
    return df, r, cov


@pytest.fixture(scope="module")
def nom(ref):
    df, r, cov = ref
    fit = fit_cox(df[cov], df["time"], df["event"], eps=1e-4, max_iter=10)  # = cph
    return nomogram(fit, df[cov], times=(THREE_YEARS, FIVE_YEARS), fun_at=FUN_AT, axis_labels=LABELS,
                    maxscale=r["info"]["maxscale"])


def _check_all(nom, r, cov, rtol, atol):
    assert isinstance(nom, Nomogram)
    assert nom.predictors == cov
    assert_close(nom.coef[cov], [r["coefficients"][c] for c in cov], rtol, what="coefficients")
    assert_close(nom.center, r["center"], rtol, what="center")
    assert_close(nom.points_per_unit_lp, r["points_per_unit_lp"], rtol, what="points per unit lp")
    assert_close(nom.lp_at_zero, r["lp_at_zero"], rtol, what="lp at zero points")
    for c in cov:
        ax = nom.axes[nom.axes["predictor"] == c]
        assert ax["value"].tolist() == r["axes"][c]["values"], c
        assert_close(ax["points"], r["axes"][c]["points"], rtol, atol, what=f"{c} points")
    assert nom.total_points_axis.tolist() == r["total_points_axis"]
    for lab in LABELS:
        fa = nom.function_axes[nom.function_axes["axis"] == lab]
        assert_close(fa["survival"], r["function_axes"][lab]["values"], 1e-15, what=f"{lab} values")
        assert_close(fa["points"], r["function_axes"][lab]["points"], rtol, what=f"{lab} points")
    S = nom.survival(r["survival_at"]["lp"])
    assert_close(S[:, 0], r["survival_at"]["s3"], rtol, what="S(3y | lp)")
    assert_close(S[:, 1], r["survival_at"]["s5"], rtol, what="S(5y | lp)")


def test_every_quantity_matches_r(ref, nom):
    df, r, cov = ref
    _check_all(nom, r, cov, RTOL, ATOL)


def test_datadist_limits_match_r(ref, nom):
    _, r, cov = ref
    for c in cov:
        for key, value in r["datadist_limits"][c].items():
            assert_close(nom.limits.loc[c, key], value, RTOL, what=f"{c} {key}")


def test_widest_predictor_gets_maxscale(ref, nom):
    # pnodes (beta * 55 = 2.91) spans the widest range: its axis ends at 100 points
    _, r, cov = ref
    top = nom.axes.loc[nom.axes["points"].idxmax()]
    assert top["predictor"] == "pnodes" and top["value"] == 55
    assert_close(top["points"], r["info"]["maxscale"], RTOL)


def test_converged_fit_is_close_to_cph(ref):
    # fit_cox's optimum differs from cph's eps = 1e-4 stop by 3.9e-4 (age coefficient)
    df, r, cov = ref
    fit = fit_cox(df[cov], df["time"], df["event"])
    nom_opt = nomogram(fit, df[cov], times=(THREE_YEARS, FIVE_YEARS), fun_at=FUN_AT, axis_labels=LABELS)
    _check_all(nom_opt, r, cov, RTOL_OPTIMUM, 1e-12)
    with pytest.raises(AssertionError):
        _check_all(nom_opt, r, cov, RTOL, ATOL)


def test_points_calculator_against_r(ref, nom):
    # patients placed exactly at R's linear predictors: their pnodes solves
    # X beta - center = lp with the other predictors fixed
    df, r, cov = ref
    beta = r["coefficients"]
    base = {"horTh_yes": 1.0, "age": 50.0, "tsize": 25.0, "tgrade_III": 0.0}
    lp = np.array(r["survival_at"]["lp"])
    other = sum(beta[c] * v for c, v in base.items())
    pnodes = (lp + r["center"] - other) / beta["pnodes"]
    X = pd.DataFrame({**{c: np.full(lp.size, v) for c, v in base.items()}, "pnodes": pnodes})[cov]
    out = nom.points(X)
    assert_close(out["lp"], lp, RTOL, 1e-13, what="lp")
    assert_close(out["total_points"], r["points_per_unit_lp"] * (lp - r["lp_at_zero"]), RTOL, what="total points")
    assert_close(out["dfs_3y"], r["survival_at"]["s3"], RTOL, what="S(3y)")
    assert_close(out["dfs_5y"], r["survival_at"]["s5"], RTOL, what="S(5y)")
    # per-predictor points at axis values equal R's axis points
    assert_close(out["points_horTh_yes"], np.full(lp.size, r["axes"]["horTh_yes"]["points"][1]), RTOL, ATOL)
    age_pts = r["axes"]["age"]["points"][r["axes"]["age"]["values"].index(50)]
    assert_close(out["points_age"], np.full(lp.size, age_pts), RTOL, what="age = 50")
    tsize_pts = np.interp(25, r["axes"]["tsize"]["values"], r["axes"]["tsize"]["points"])  # linear term
    assert_close(out["points_tsize"], np.full(lp.size, tsize_pts), RTOL, what="tsize = 25")
    # a single patient as a mapping, at every axis's 0 points (hormone therapy: beta < 0)
    one = nom.points({"horTh_yes": 1, "age": 20, "tsize": 0, "tgrade_III": 0, "pnodes": 0})
    assert_close(one["total_points"], [0.0], 0, 1e-12, what="all at 0 points")
    assert_close(one["lp"], [r["lp_at_zero"]], RTOL, what="lp at 0 points")


def test_r_pretty_known_values():
    # values printed by R's pretty()
    np.testing.assert_allclose(r_pretty(1, 10), [0, 2, 4, 6, 8, 10])
    np.testing.assert_allclose(r_pretty(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1.0], rtol=1e-15)
    np.testing.assert_allclose(r_pretty(-1.2, 3.7), [-2, -1, 0, 1, 2, 3, 4])
    np.testing.assert_allclose(r_pretty(21, 80, 10), np.arange(20, 81, 5))
    np.testing.assert_allclose(r_pretty(1, 51, 10), np.arange(0, 56, 5))
    np.testing.assert_allclose(r_pretty(3, 120, 10), np.arange(0, 121, 10))
    # R's step rule: with cell = (hi - lo) / n = c * 10^k, the step is 2 * 10^k for c in
    # (1.4, 2.8] and 5 * 10^k for c in (2.8, 7] (thresholds (2 + h) / (1 + h) and
    # (5 + 2 h5) / (1 + h5), h = 1.5, h5 = 0.5 + 1.5 h)
    np.testing.assert_allclose(r_pretty(0, 30, 10), np.arange(0, 31, 5))  # c = 3.0
    np.testing.assert_allclose(r_pretty(0, 27, 10), np.arange(0, 29, 2))  # c = 2.7
    with pytest.raises(ValueError, match="lo, hi"):
        r_pretty(2, 1)


def test_datadist_rules():
    n = 1000
    X = pd.DataFrame({"x": np.arange(1.0, n + 1), "b": np.r_[np.zeros(600), np.ones(400)],
                      "t": np.r_[np.zeros(300), np.ones(300), 2 * np.ones(400)]})
    lim = datadist_limits(X)
    # prediction limits: quantiles 10/n and 1 - 10/n (type 7): 1 + 999 * 0.01 = 10.99
    assert lim.loc["x", "low_prediction"] == pytest.approx(10.99, rel=1e-14)
    assert lim.loc["x", "high_prediction"] == pytest.approx(990.01, rel=1e-14)
    assert lim.loc["x", "low_effect"] == pytest.approx(250.75, rel=1e-14)
    assert lim.loc["x", "adjust_to"] == 500.5
    # binary: range, adjusted to the lowest value; 3 levels: the middle one
    assert lim.loc["b", ["low_prediction", "high_prediction", "adjust_to"]].tolist() == [0, 1, 0]
    assert lim.loc["t", ["low_effect", "high_effect", "adjust_to"]].tolist() == [0, 2, 1]
    # n < 200: the quantile is 10/200
    small = datadist_limits(pd.DataFrame({"x": np.arange(1.0, 101.0)}))
    assert small.loc["x", "low_prediction"] == pytest.approx(1 + 99 * 0.05, rel=1e-14)


# ---------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.integers(0, 2, 80).astype(float)})
    t = rng.exponential(10, 80) + 0.5
    e = (rng.random(80) < 0.7).astype(int)
    return X, t, e, fit_cox(X, t, e)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"times": (0.0, 2.0)}, r"times: must be positive"),
    ({"times": (2.0, 1e6)}, r"times: beyond the last follow-up"),
    ({"times": (2.0, 2.0)}, r"times: must be distinct"),
    ({"times": (2.0, np.nan)}, r"times: contains NaN"),
    ({"times": (2.0, 3.0), "axis_labels": ["one"]}, r"axis_labels: need 2 distinct labels"),
    ({"times": (2.0, 3.0), "fun_at": [[0.5], [0.6], [0.7]]}, r"fun_at: need one sequence or one per time"),
    ({"times": (2.0,), "maxscale": 0}, r"maxscale: must be positive"),
    ({"times": (2.0,), "nint": 0}, r"nint: must be a positive integer"),
])
def test_bad_arguments(small, kwargs, pattern):
    X, t, e, fit = small
    with pytest.raises(ValueError, match=pattern):
        nomogram(fit, X, **kwargs)


def test_bad_fit_and_data(small):
    X, t, e, fit = small
    with pytest.raises(ValueError, match="fit: must be a CoxFit"):
        nomogram(fit.coef, X, times=(2.0,))
    with pytest.raises(ValueError, match="X: must be a pandas DataFrame"):
        nomogram(fit, X.to_numpy(), times=(2.0,))
    with pytest.raises(ValueError, match=r"X: missing predictors \['b'\]"):
        nomogram(fit, X[["a"]], times=(2.0,))
    with pytest.raises(ValueError, match="X: must be the data the model was fitted on"):
        nomogram(fit, X.iloc[::-1].reset_index(drop=True), times=(2.0,))


def test_bad_calculator_input(small):
    X, t, e, fit = small
    nom = nomogram(fit, X, times=(2.0, 3.0))
    assert nom.axis_labels == ("S(2)", "S(3)")
    with pytest.raises(ValueError, match=r"X: missing predictors \['b'\]"):
        nom.points({"a": 0.1})
    with pytest.raises(ValueError, match="X: contains NaN"):
        nom.points({"a": 0.1, "b": np.nan})
    with pytest.raises(ValueError, match=r"times: \[4.0\] not among"):
        nom.survival([0.0], times=[4.0])


# --------------------------------------------------------------------------- factors on one axis

@pytest.fixture(scope="module")
def grade(ref):
    """GBSG2 with tumour grade as a three-level factor (I reference; II, III indicators)."""
    df, r, cov = ref
    cols = ["horTh_yes", "tgrade_II", "tgrade_III", "pnodes"]
    fit = fit_cox(df[cols], df["time"], df["event"])
    factors = {"grade": {"reference": "I", "levels": {"tgrade_II": "II", "tgrade_III": "III"}}}
    return df, cols, fit, factors


def test_factor_is_one_axis_with_rms_points(grade):
    # rms puts a factor's levels on one axis: term 0 for the reference, beta for each other
    # level, and the smallest term at 0 points
    df, cols, fit, factors = grade
    nom = nomogram(fit, df[cols], times=(THREE_YEARS,), factors=factors)
    assert nom.axis_names == ["horTh_yes", "grade", "pnodes"]
    terms = {"I": 0.0, "II": fit.coef["tgrade_II"], "III": fit.coef["tgrade_III"]}
    low = min(terms.values())
    ax = nom.axes[nom.axes["predictor"] == "grade"].set_index("value")["points"]
    for level, term in terms.items():
        assert_close(ax[level], nom.points_per_unit_lp * (term - low), 1e-12, what=f"grade {level}")
    # the calculator: per-axis points, and total points = scale * (lp - lp at 0 points)
    X = df[cols].iloc[:50]
    out = nom.points(X)
    level = np.where(X["tgrade_II"] == 1, "II", np.where(X["tgrade_III"] == 1, "III", "I"))
    assert_close(out["points_grade"], ax.loc[level].to_numpy(), 1e-12, 1e-12, what="grade points")
    assert_close(out["total_points"], nom.points_per_unit_lp * (out["lp"] - nom.lp_at_zero), 1e-12, 1e-10)
    assert_close(out["lp"], fit.predict(X) - nom.center, 1e-12, 1e-12, what="lp")


def test_two_level_factor_equals_its_indicator(ref):
    df, r, cov = ref
    fit = fit_cox(df[cov], df["time"], df["event"], eps=1e-4, max_iter=10)
    plain = nomogram(fit, df[cov], times=(THREE_YEARS,))
    grouped = nomogram(fit, df[cov], times=(THREE_YEARS,),
                       factors={"hormones": {"reference": "no", "levels": {"horTh_yes": "yes"}}})
    assert_close(grouped.points_per_unit_lp, plain.points_per_unit_lp, 1e-15)
    assert_close(grouped.lp_at_zero, plain.lp_at_zero, 1e-15)
    a = grouped.points(df[cov].iloc[:20])
    b = plain.points(df[cov].iloc[:20])
    assert_close(a["points_hormones"], b["points_horTh_yes"], 1e-15, 0)
    assert_close(a["total_points"], b["total_points"], 1e-15, 1e-12)


def test_serialised_nomogram_gives_the_same_points(grade):
    import json

    df, cols, fit, factors = grade
    nom = nomogram(fit, df[cols], times=(THREE_YEARS, FIVE_YEARS), axis_labels=LABELS, factors=factors)
    back = Nomogram.from_dict(json.loads(json.dumps(nom.to_dict())))
    X = df[cols].iloc[:30]
    pd.testing.assert_frame_equal(back.points(X), nom.points(X), check_exact=True)
    pd.testing.assert_frame_equal(back.axes, nom.axes)
    assert back.axis_names == nom.axis_names


@pytest.mark.parametrize("factors, pattern", [
    ({"g": {"reference": "I", "levels": {"nope": "II"}}}, r"column 'nope' of 'g' is not a predictor"),
    ({"g": {"levels": {"tgrade_II": "II"}}}, r"'g' must be"),
    ({"g": {"reference": "I", "levels": {"pnodes": "II"}}}, r"columns \['pnodes'\] of 'g' are not 0/1"),
    ({"g": {"reference": "I", "levels": {"tgrade_II": "II"}},
      "h": {"reference": "I", "levels": {"tgrade_II": "III"}}}, r"belongs to both 'g' and 'h'"),
])
def test_bad_factors(grade, factors, pattern):
    df, cols, fit, _ = grade
    with pytest.raises(ValueError, match=pattern):
        nomogram(fit, df[cols], times=(THREE_YEARS,), factors=factors)


def test_calculator_rejects_two_levels_at_once(grade):
    df, cols, fit, factors = grade
    nom = nomogram(fit, df[cols], times=(THREE_YEARS,), factors=factors)
    with pytest.raises(ValueError, match="more than one level of factor 'grade'"):
        nom.points({"horTh_yes": 0, "tgrade_II": 1, "tgrade_III": 1, "pnodes": 2})

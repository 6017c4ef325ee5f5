"""Rubin's rules against R mice 3.15.0 ``pool`` and ``summary.mipo`` (item `mice_pool`)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from radsurv.stats import pool_rubin

from ._ref import assert_close, load_reference

COLUMNS = ["qbar", "ubar", "b", "t", "riv", "lambda", "fmi", "df",
           "std_error", "statistic", "p_value", "conf_low", "conf_high"]
# Relative tolerances against R (README: pooling is exact). Measured maximum relative
# deviation over the 8 terms: arithmetic columns <= 4.0e-16 (df 4.0e-16, b 3.6e-16);
# p_value 1.2e-14 (scipy's t tail vs R's pt); conf_low / conf_high 1.4e-15 (qt).
RTOL = {c: 2e-15 for c in COLUMNS} | {"p_value": 5e-14, "conf_low": 1e-14, "conf_high": 1e-14}


@pytest.fixture(scope="module")
def ref():
    data, r = load_reference("mice_pool")
    terms = r["covariates"]
    q = np.array([[fit["coef"][t] for t in terms] for fit in r["per_imputation"]])
    u = np.array([fit["vcov"] for fit in r["per_imputation"]])
    return data, r, terms, q, u


def test_reference_dfcom_is_events_minus_coefficients(ref):
    data, r, terms, q, u = ref
    # mice::pool(dfcom = NULL) on coxph fits: nevent - length(coef)
    assert r["dfcom"] == int(data["event"].sum()) - len(terms) == 291
    assert q.shape == (r["m"], len(terms)) and u.shape == (r["m"], len(terms), len(terms))


def test_pooled_table_matches_mice(ref):
    _, r, terms, q, u = ref
    out = pool_rubin(q, u, r["dfcom"], terms=terms)
    assert out.index.tolist() == r["pooled"]["term"] == terms
    assert out.index.name == "term"
    assert out.columns.tolist() == COLUMNS
    assert out.attrs == {"m": 10, "dfcom": 291.0, "conf_level": 0.95}
    errors = {c: assert_close(out[c], r["pooled"][c], rtol=RTOL[c], what=c) for c in COLUMNS}
    assert max(errors.values()) < 5e-14, errors


def test_dataframe_columns_become_terms(ref):
    _, r, terms, q, u = ref
    out = pool_rubin(pd.DataFrame(q, columns=terms), u, r["dfcom"])
    assert out.index.tolist() == terms
    assert_close(out["df"], r["pooled"]["df"], rtol=RTOL["df"], what="df")
    assert pool_rubin(q, u, r["dfcom"]).index.tolist() == [f"x{j}" for j in range(len(terms))]


def _small(q, v):
    """m x k estimates and m x k x k diagonal covariances from per-imputation variances."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    return q, np.stack([np.diag(row) for row in v])


def test_hand_computed_two_imputations():
    # m = 2, one term: q = 1, 3 and variances 1, 3 -> qbar = 2, ubar = 2, b = 2,
    # t = 2 + (3/2) 2 = 5, riv = 3/2, lambda = 3/5; dfcom = 10: df_old = 1/lambda^2 = 25/9,
    # df_obs = (11/13) 10 (2/5) = 44/13, df = 1/(9/25 + 13/44) = 1100/721.
    q, u = _small([[1.0], [3.0]], [[1.0], [3.0]])
    df = Fraction(1) / (Fraction(9, 25) + Fraction(13, 44))
    assert df == Fraction(1100, 721)
    riv = Fraction(3, 2)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    for dfcom, df_exact, fmi_exact in [
        (10, df, fmi),
        (np.inf, Fraction(25, 9), (riv + 2 / (Fraction(25, 9) + 3)) / (riv + 1)),  # 48/65
    ]:
        row = pool_rubin(q, u, dfcom).iloc[0]
        exact = {"qbar": 2, "ubar": 2, "b": 2, "t": 5, "riv": 1.5, "lambda": 0.6,
                 "df": float(df_exact), "fmi": float(fmi_exact), "std_error": np.sqrt(5),
                 "statistic": 2 / np.sqrt(5)}
        for c, v in exact.items():
            assert row[c] == pytest.approx(v, rel=1e-15, abs=0), c
        half = stats.t.ppf(0.975, float(df_exact)) * np.sqrt(5)
        assert row["conf_low"] == pytest.approx(2 - half, rel=1e-14)
        assert row["conf_high"] == pytest.approx(2 + half, rel=1e-14)
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(2 / np.sqrt(5), float(df_exact)), rel=1e-14)
    assert float(Fraction(48, 65)) == pytest.approx(pool_rubin(q, u, np.inf)["fmi"].iloc[0], rel=1e-15)


@pytest.mark.parametrize("dfcom", [5.0, 291.0])
def test_identical_imputations(dfcom):
    # every imputation gives the same estimates: b = 0, t = ubar, riv = lambda = 0,
    # df = the observed-data df dfcom (dfcom + 1) / (dfcom + 3) < dfcom, fmi = 2 / (df + 3)
    rng = np.random.default_rng(28)
    m, k = 5, 3
    q = np.tile(rng.normal(size=k), (m, 1))
    var = rng.uniform(0.5, 2.0, (m, k))
    out = pool_rubin(*_small(q, var), dfcom)
    np.testing.assert_array_equal(out["b"], 0.0)
    np.testing.assert_array_equal(out["riv"], 0.0)
    np.testing.assert_array_equal(out["lambda"], 0.0)
    np.testing.assert_array_equal(out["qbar"], q[0])
    np.testing.assert_allclose(out["ubar"], var.mean(axis=0), rtol=1e-15)
    np.testing.assert_array_equal(out["t"], out["ubar"])
    df_obs = dfcom * (dfcom + 1) / (dfcom + 3)
    np.testing.assert_allclose(out["df"], df_obs, rtol=1e-15)
    assert (out["df"] < dfcom).all()
    np.testing.assert_allclose(out["fmi"], 2 / (df_obs + 3), rtol=1e-15)
    se = np.sqrt(var.mean(axis=0))
    half = stats.t.ppf(0.975, df_obs) * se
    np.testing.assert_allclose(out["conf_low"], q[0] - half, rtol=1e-14)


def test_identical_imputations_large_sample():
    # dfcom = inf and b = 0: df = inf, fmi = 0, normal p-values and intervals
    q, u = _small([[0.5, -1.0]] * 3, [[0.04, 0.25], [0.04, 0.25], [0.04, 0.25]])
    out = pool_rubin(q, u, np.inf)
    assert np.isinf(out["df"]).all()
    np.testing.assert_array_equal(out["fmi"], 0.0)
    np.testing.assert_allclose(out["std_error"], [0.2, 0.5], rtol=1e-15)
    np.testing.assert_allclose(out["p_value"], 2 * stats.norm.sf([2.5, 2.0]), rtol=1e-14)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(out["conf_high"], [0.5 + z * 0.2, -1.0 + z * 0.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(out["conf_low"], [0.5 - z * 0.2, -1.0 - z * 0.5], rtol=0, atol=1e-15)


def test_barnard_rubin_df_limits():
    # df never exceeds the observed-data df (hence dfcom); as dfcom grows it tends to
    # Rubin's (m - 1) / lambda^2; for lambda >= 1e-4 it equals mice 3.15's form
    # 1 / (1/df_old + 1/df_obs) (mice < 3.19 floored lambda at 1e-4 there).
    m = 10
    lam = np.concatenate([np.geomspace(1e-4, 0.5, 40), np.linspace(0.5, 0.99, 20)])
    b = lam / (1 + 1 / m)  # with t = 1: ubar = 1 - lambda
    rng = np.random.default_rng(4)
    for dfcom in (3.0, 50.0, 291.0, 1e12):
        for bj, lj in zip(b, lam):
            z = rng.standard_normal(m)
            qj = (z - z.mean()) / z.std(ddof=1) * np.sqrt(bj)  # sample variance exactly b
            out = pool_rubin(*_small(qj[:, None], np.full((m, 1), 1 - lj)), dfcom).iloc[0]
            assert out["lambda"] == pytest.approx(lj, rel=1e-12)
            df_old = (m - 1) / lj**2
            df_obs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lj)
            assert out["df"] == pytest.approx(df_old * df_obs / (df_old + df_obs), rel=1e-12)
            assert out["df"] <= df_obs * (1 + 1e-12)
            # 1/df = 1/df_old + 1/df_obs: df is below df_old by the share df_old / df_obs
            # (exact rounding aside: lambda as computed, not as asked for)
            df_old_l = (m - 1) / out["lambda"] ** 2
            assert 0 <= 1 - out["df"] / df_old_l <= df_old_l / df_obs + 1e-15
            if dfcom == 1e12 and lj > 0.01:
                assert out["df"] == pytest.approx(df_old, rel=1e-7)
        out = pool_rubin(*_small(qj[:, None], np.full((m, 1), 1 - lj)), np.inf).iloc[0]
        assert out["df"] == pytest.approx((m - 1) / lj**2, rel=1e-12)


def test_p_value_floor_on_df():
    # summary.mipo uses pt(|z|, pmax(df, 0.001)) for p, qt(., df) for the interval
    q, u = _small([[0.0], [2.0]], [[1e-12], [1e-12]])
    row = pool_rubin(q, u, 1).iloc[0]
    assert row["df"] < 1e-3
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["statistic"]), 1e-3), rel=1e-14)
    half = stats.t.ppf(0.975, row["df"]) * row["std_error"]
    assert row["conf_high"] == pytest.approx(row["qbar"] + half, rel=1e-14)


def test_conf_level():
    q, u = _small([[1.0], [3.0]], [[1.0], [3.0]])
    row = pool_rubin(q, u, 10, conf_level=0.9).iloc[0]
    half = stats.t.ppf(0.95, 1100 / 721) * np.sqrt(5)
    assert row["conf_low"] == pytest.approx(2 - half, rel=1e-14)


Q3, U3 = _small([[0.1, 0.2], [0.3, 0.1], [0.2, 0.4]], [[1.0, 2.0]] * 3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"estimates": Q3[0]}, r"estimates: expected a 2-D array of shape m x k"),
    ({"estimates": Q3[:1], "covariances": U3[:1]}, r"estimates: m = 1 imputation, nothing to pool"),
    ({"estimates": np.empty((3, 0)), "covariances": np.empty((3, 0, 0))}, r"estimates: is empty"),
    ({"estimates": [["a", "b"]] * 3}, r"estimates: cannot be read as numbers"),
    ({"estimates": np.where(np.eye(3, 2) == 1, np.nan, Q3)}, r"estimates: contains NaN or infinite values"),
    ({"covariances": U3[:2]}, r"covariances: expected shape \(m, k, k\) = \(3, 2, 2\) .* got \(2, 2, 2\)"),
    ({"covariances": U3[:, :1, :1]}, r"covariances: expected shape \(m, k, k\) = \(3, 2, 2\)"),
    ({"covariances": np.ones((3, 2))}, r"covariances: expected a 3-D array of shape m x k x k"),
    ({"covariances": U3 * np.array([1, -1])[None, :, None]}, r"covariances: negative variance .*term 1"),
    ({"covariances": U3 * np.array([0, 1])[None, None, :]}, r"covariances: term 0 has variance 0"),
    ({"covariances": np.where(np.isclose(U3, 2.0), np.inf, U3)}, r"covariances: contains NaN or infinite"),
    ({"dfcom": 0}, r"dfcom: the complete-data degrees of freedom must be a number >= 1 .*got 0;"),
    ({"dfcom": 0.5}, r"dfcom: .* must be a number >= 1 .*got 0.5;"),
    ({"dfcom": np.nan}, r"dfcom: .* must be a number >= 1 .*got nan;"),
    ({"dfcom": "291"}, r"dfcom: .* must be a number >= 1 .*got '291';"),
    ({"dfcom": None}, r"dfcom: .* must be a number >= 1 .*got None;"),
    ({"terms": ["a"]}, r"terms: 1 names for k = 2"),
    ({"terms": ["a", "a"]}, r"terms: names must be distinct"),
    ({"conf_level": 1.5}, r"conf_level: must be in \(0, 1\)"),
])
def test_bad_input(kwargs, message):
    args = {"estimates": Q3, "covariances": U3, "dfcom": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        pool_rubin(**args)

"""ICC against R irr 0.84.1 (values also against psych 2.2.9; item `icc`), against
pingouin as an independent implementation, and icc_many against icc."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

from radsurv.stats import icc
from radsurv.stats.icc import ICCArrays, icc_many

from ._ref import assert_close, load_reference

RTOL = 1e-9  # README: icc
ATTRS = ("value", "F", "df1", "df2", "p", "lower", "upper")


@pytest.fixture(scope="module")
def ref():
    return load_reference("icc")


FORMS = {"twoway_agreement_single": "ICC(A,1)", "twoway_consistency_single": "ICC(C,1)",
         "twoway_agreement_average": "ICC(A,k)", "twoway_consistency_average": "ICC(C,k)",
         "oneway_single": "ICC(1,1)", "oneway_average": "ICC(1,k)"}


@pytest.mark.parametrize("form", list(FORMS))
def test_against_irr(ref, form):
    df, r = ref
    a = r["irr"][form]
    Y = df[["rater1", "rater2"]].to_numpy()
    for name in (form, FORMS[form]):  # irr-style alias and the McGraw & Wong name
        res = icc(Y, name)
        assert res.form == FORMS[form]
        assert (res.model, res.type, res.unit) == (a["model"], a["type"], a["unit"])
        assert res.n_subjects == r["n_subjects"] and res.n_raters == r["n_raters"]
        for attr in ATTRS:
            assert_close(getattr(res, attr), a[attr], RTOL, what=f"{form} {attr}")
    # the vectorised function gives the same numbers
    many = icc_many(Y[:, :, None], form)
    for attr in ATTRS:
        assert_close(getattr(many, attr), [a[attr]], RTOL, what=f"icc_many {form} {attr}")


def test_agreement_df2_is_satterthwaite_not_integer(ref):
    # irr refers the agreement F to (n - 1, v) df; psych/pingouin use (n - 1)(k - 1)
    df, r = ref
    Y = df[["rater1", "rater2"]].to_numpy()
    for form in ("ICC(A,1)", "ICC(A,k)"):
        res = icc(Y, form)
        assert res.df2 != (res.n_subjects - 1) * (res.n_raters - 1)
    assert icc(Y, "ICC(A,1)").df2 != icc(Y, "ICC(A,k)").df2


PSYCH = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)", "ICC1k": "ICC(1,k)",
         "ICC2k": "ICC(A,k)", "ICC3k": "ICC(C,k)"}


@pytest.mark.parametrize("name", list(PSYCH))
def test_values_against_psych(ref, name):
    # psych agrees with irr on every value; its ICC2/ICC2k F test and ICC2k CI
    # differ by construction (README), so only the value is compared for those.
    df, r = ref
    a = r["psych"][name]
    res = icc(df, name)
    assert res.form == PSYCH[name]
    assert_close(res.value, a["icc"], RTOL)
    if name not in ("ICC2", "ICC2k"):
        for attr in ("F", "df1", "df2", "p", "lower", "upper"):
            assert_close(getattr(res, attr), a[attr], RTOL, what=f"{name} {attr}")
    if name == "ICC2":
        assert_close([res.lower, res.upper], [a["lower"], a["upper"]], RTOL)


# ------------------------------------------------------------------ pingouin cross-check
def _pingouin_table(Y: np.ndarray) -> pd.DataFrame:
    import pingouin as pg  # pinned: imported plainly
    n, k = Y.shape
    long = pd.DataFrame({"s": np.repeat(np.arange(n), k), "r": np.tile(np.arange(k), n), "y": Y.ravel()})
    saved = dict(pg.options)
    pg.options["round"] = None
    pg.options["round.column.CI95"] = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pg.intraclass_corr(long, targets="s", raters="r", ratings="y").set_index("Type")
    finally:
        pg.options.clear()
        pg.options.update(saved)


def _random_ratings(rng, n, k, offset_sd=0.5, noise_sd=1.0, scale=1.0):
    truth = rng.normal(0, 2, (n, 1))
    return scale * (truth + rng.normal(0, offset_sd, (1, k)) + rng.normal(0, noise_sd, (n, k))) + 100 * scale


PG_CASES = [(40, 2), (12, 3), (30, 4), (7, 6), (100, 2)]


@pytest.mark.parametrize("n,k", PG_CASES)
def test_against_pingouin(ref, n, k):
    """pingouin (ANOVA via statsmodels-free code of its own) as an independent check.

    Values of every form at 1e-12. pingouin's F, df and p equal irr's except the
    agreement df2/p ((n-1)(k-1) there, Satterthwaite v in irr); its intervals equal
    irr's except ICC(A,k) (Spearman-Brown of the ICC(A,1) interval in pingouin).
    Its ICC(A,1) interval uses McGraw & Wong's v, so it checks v for k > 2 too.
    """
    rng = np.random.default_rng(n * 10 + k)
    Y = _random_ratings(rng, n, k)
    tab = _pingouin_table(Y)
    for form in FORMS.values():
        res, row = icc(Y, form), tab.loc[form]
        assert res.value == pytest.approx(row["ICC"], rel=1e-12, abs=1e-14), form
        assert res.F == pytest.approx(row["F"], rel=1e-12), form
        assert res.df1 == row["df1"]
        if res.type != "agreement":
            assert res.df2 == row["df2"]
            assert res.p == pytest.approx(row["pval"], rel=1e-9), form
        if form != "ICC(A,k)":
            assert [res.lower, res.upper] == pytest.approx(list(row["CI95"]), rel=1e-10), form


def test_against_pingouin_on_reference(ref):
    df, _ = ref
    Y = df[["rater1", "rater2"]].to_numpy()
    tab = _pingouin_table(Y)
    for form in FORMS.values():
        assert icc(Y, form).value == pytest.approx(tab.loc[form, "ICC"], rel=1e-12)


# ------------------------------------------------------------------ icc_many == icc
def _ragged(rng, n, k, m):
    """Ratings with missing values, a constant feature, a constant-but-missing feature,
    an exactly reproduced feature, one with too few subjects and an infinite value."""
    Y = np.stack([_random_ratings(rng, n, k, offset_sd=rng.uniform(0, 2), noise_sd=rng.uniform(0.05, 3),
                                  scale=10.0 ** rng.uniform(-3, 4)) for _ in range(m)], axis=2)
    Y[:, :, 6:][rng.random(Y[:, :, 6:].shape) < 0.06] = np.nan  # features 0-5: set below
    Y[:, :, 0] = 7.5  # constant
    Y[:, :, 1] = 7.5
    Y[0, 0, 1] = np.nan  # constant on its complete rows
    Y[:, :, 2] = Y[:, :1, 2]  # raters agree exactly
    Y[2:, 0, 3] = np.nan  # two complete subjects
    Y[1:, 1, 4] = np.nan  # one complete subject
    Y[0, 1, 5] = np.inf
    return Y


@pytest.mark.parametrize("form", list(FORMS.values()))
def test_icc_many_equals_icc_exactly(form):
    rng = np.random.default_rng(7)
    for n, k, m in [(30, 2, 40), (9, 3, 25), (60, 2, 30), (15, 7, 12)]:
        Y = _ragged(rng, n, k, m)
        many = icc_many(Y, form)
        assert isinstance(many, ICCArrays) and many.value.shape == (m,) and many.n_raters == k
        for j in range(m):
            rows = ~np.isnan(Y[:, :, j]).any(axis=1)
            assert many.n_subjects[j] == rows.sum()
            try:
                one = icc(Y[rows, :, j], form)
            except ValueError:  # constant, infinite or fewer than 2 subjects: NaN here
                assert all(np.isnan(getattr(many, a)[j]) for a in ATTRS), (j, form)
                continue
            got = [getattr(many, a)[j] for a in ATTRS]
            want = [getattr(one, a) for a in ATTRS]
            np.testing.assert_array_equal(got, want, err_msg=f"feature {j} {form} n={n} k={k}")
        # the undefined cases built in _ragged
        assert np.isnan(many.value[[0, 1, 4, 5]]).all()
        assert many.value[2] == 1.0 and np.isfinite(many.value[3])
        # a feature's result does not depend on the others
        alone = icc_many(Y[:, :, 6:7], form)
        for a in ATTRS:
            np.testing.assert_array_equal(getattr(alone, a), getattr(many, a)[6:7])


def test_icc_many_min_subjects_and_2d_input():
    rng = np.random.default_rng(3)
    Y = _random_ratings(rng, 20, 2)
    Y[3:, 0] = np.nan  # 3 complete subjects
    assert np.isfinite(icc_many(Y, "ICC(A,1)", min_subjects=3).value).all()
    assert np.isnan(icc_many(Y, "ICC(A,1)", min_subjects=4).value).all()
    assert icc_many(Y, "ICC(A,1)").value[0] == icc(Y[:3], "ICC(A,1)").value


def test_icc_many_bad_input():
    with pytest.raises(ValueError, match="form: unknown ICC form"):
        icc_many(np.ones((5, 2, 3)), "ICC(2,1)x")
    with pytest.raises(ValueError, match="subjects x raters x features"):
        icc_many(np.ones(5))
    with pytest.raises(ValueError, match="at least 2 raters"):
        icc_many(np.ones((5, 1, 3)))
    with pytest.raises(ValueError, match="min_subjects"):
        icc_many(np.ones((5, 2, 3)), min_subjects=1)
    with pytest.raises(ValueError, match="conf_level"):
        icc_many(np.ones((5, 2, 3)), conf_level=95)


def test_perfect_agreement():
    # identical raters: ICC 1, infinite F, p 0; irr's interval formulas give 0/0 (NaN)
    Y = np.c_[np.arange(10.0), np.arange(10.0)]
    for form in FORMS.values():
        res = icc(Y, form)
        assert res.value == 1.0 and res.F == np.inf, form
    assert icc(Y, "ICC(C,1)").p == 0.0
    # a constant offset: consistency is perfect, agreement is not
    Y2 = np.c_[np.arange(10.0), np.arange(10.0) + 1]
    assert icc(Y2, "ICC(C,1)").value == 1.0
    a = icc(Y2, "ICC(A,1)")
    assert 0 < a.lower < a.value < a.upper < 1


def test_conf_level():
    rng = np.random.default_rng(11)
    Y = _random_ratings(rng, 25, 3)
    for form in FORMS.values():
        r90, r95, r99 = (icc(Y, form, conf_level=c) for c in (0.90, 0.95, 0.99))
        assert r99.lower < r95.lower < r90.lower < r90.value < r90.upper < r95.upper < r99.upper, form
        assert r90.value == r95.value and r90.p == r95.p


def test_long_and_wide_dataframes_agree(ref):
    df, _ = ref
    long = df.melt(id_vars="subject", var_name="rater", value_name="score")
    renamed = long.rename(columns={"subject": "id", "rater": "reader", "score": "v"})
    a = icc(df, "ICC(A,1)")
    for b in (icc(long, "ICC(A,1)"), icc(renamed, "ICC(A,1)", subject="id", rater="reader", score="v"),
              icc(df.drop(columns="subject").to_numpy(), "ICC(A,1)")):
        for attr in ATTRS:
            # summation order differs between layouts: rounding-level differences only
            assert getattr(b, attr) == pytest.approx(getattr(a, attr), rel=1e-12), attr


def test_public_name_is_the_function(ref):
    # radsurv.stats.icc is both a submodule and a function name; the package
    # attribute is the function, even after the submodule is imported by name
    import importlib

    importlib.import_module("radsurv.stats.icc")
    import radsurv.stats as st
    from radsurv.stats.icc import icc as icc_fn

    assert st.icc is icc_fn and inspect.isfunction(st.icc)
    df, _ = ref
    assert isinstance(st.icc(df, "ICC(C,1)").value, float)

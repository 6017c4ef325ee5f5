"""The signatures' result objects show themselves (issue 26): a LASSO-Cox signature, the
development of all seven and the X-tile cut give their summary as a table, a title, HTML
for a notebook and the figure the paper publishes, with the fitted numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from radsurv.config import load_profile
from radsurv.exceptions import NotFittedError
from radsurv.signatures import (LassoCoxSignature, RiskGroups, discrimination, example_signature, fold_ids,
                                oracle_discrimination, signature_columns, signature_estimator, signature_label)
from radsurv.signatures.development import develop_signatures

REGIONS = ("us_intra", "us_peri", "mri_intra", "mri_peri")


def cohort(seed: int = 3, n: int = 240, p: int = 6):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"{r}__f{j}": rng.normal(size=n) for r in REGIONS for j in range(p)},
                     index=[f"P{i:03d}" for i in range(n)])
    lp = 0.7 * X["mri_intra__f0"] - 0.5 * X["mri_intra__f1"] + 0.4 * X["us_intra__f0"]
    t = rng.exponential(60 * np.exp(-lp))
    c = rng.uniform(20, 120, n)
    split = np.array(["train", "train", "internal", "external"])[np.arange(n) % 4]
    return X, pd.DataFrame({"split": split, "time": np.minimum(t, c), "event": (t <= c).astype(int)}, index=X.index)


@pytest.fixture(scope="module")
def params():
    p = load_profile("quick")["signatures"]
    return {**p, "n_folds": 5, "cutpoint": {**p["cutpoint"], "n_permutations": 19, "n_bootstrap": 20}}


@pytest.fixture(scope="module")
def fitted(params):
    X, outcome = cohort()
    train = (outcome.split == "train").to_numpy()
    t, e = outcome.loc[train, "time"], outcome.loc[train, "event"]
    foldid = fold_ids(e, params["n_folds"], 5)
    sig = signature_estimator(params, set()).fit(X.loc[train, signature_columns(X, "mri_intra")], t, e, foldid)
    return X, outcome, sig


def test_signature_summary_is_its_coefficients_largest_first(fitted):
    _, _, sig = fitted
    s = sig.summary()
    assert list(s.index) == list(sig.coef_.abs().sort_values(ascending=False).index)
    assert "mri_intra__f0" in s.index and "mri_intra__f1" in s.index  # the two features with signal
    assert s.loc["mri_intra__f0", "coef_per_sd"] > 0 > s.loc["mri_intra__f1", "coef_per_sd"]
    np.testing.assert_allclose(s["hr_per_sd"], np.exp(s["coef_per_sd"]))
    np.testing.assert_allclose(s["coef_per_unit"], s["coef_per_sd"] / s["sd"])
    np.testing.assert_allclose(s["coef_per_sd"], sig.coef_[s.index])


def test_signature_flow_title_and_html(fitted, capsys):
    _, _, sig = fitted
    flow = sig.flow()
    assert list(flow.columns) == ["step", "features_left"]
    assert flow["features_left"].iloc[0] == 6 and flow["step"].iloc[-1] == "selected by LASSO (lambda_min)"
    assert flow["features_left"].iloc[-1] == len(sig.coef_)
    title = sig.title()
    assert title.startswith(f"LASSO-Cox signature: {len(sig.coef_)} of 6 features at lambda_min = ")
    assert "5-fold cross-validation, 120 training patients" in title
    html = sig._repr_html_()
    assert "<strong>LASSO-Cox signature" in html and "<table" in html and "hr_per_sd" in html
    sig.print_summary()
    printed = capsys.readouterr().out
    assert printed.startswith(title) and "mri_intra__f0" in printed
    unfitted = LassoCoxSignature()
    assert "not fitted" in unfitted.title() and "<table" not in unfitted._repr_html_()
    with pytest.raises(NotFittedError):
        unfitted.plot()


def test_signature_plots_are_the_cv_curve_the_path_and_the_coefficients(fitted):
    _, _, sig = fitted
    ax = sig.plot()
    assert isinstance(ax, Axes) and ax.xaxis_inverted()
    # the deviance at each lambda with its +-1 SE bars
    points = [line for line in ax.get_lines() if line.get_marker() == "o"][0]
    np.testing.assert_allclose(points.get_xdata(), np.log(sig.cv_.lambdas))
    np.testing.assert_allclose(points.get_ydata(), sig.cv_.cvm)
    bars = [c for c in ax.collections if isinstance(c, LineCollection)][0]
    assert len(bars.get_segments()) == len(sig.cv_.lambdas)
    # both lambdas marked, the chosen one solid
    vlines = {round(line.get_xdata()[0], 10): line.get_linestyle() for line in ax.get_lines() if line.get_marker() != "o"}
    assert vlines == {round(np.log(sig.cv_.lambda_min), 10): "-", round(np.log(sig.cv_.lambda_1se), 10): ":"}
    path_ax = sig.plot_path()
    ever = np.any(np.asarray(sig.cv_.coef_path) != 0, axis=1).sum()
    curves = [line for line in path_ax.get_lines() if len(line.get_xdata()) == len(sig.cv_.lambdas)]
    assert len(curves) == ever
    bars_ax = sig.plot_coefficients(label="MRI intra")
    assert len(bars_ax.patches) == len(sig.coef_)
    assert sorted(p.get_width() for p in bars_ax.patches) == pytest.approx(sorted(sig.coef_))
    assert bars_ax.get_title(loc="left") == f"MRI intra: {len(sig.coef_)} features"


def test_a_plot_draws_on_the_axes_it_is_given(fitted):
    import matplotlib.pyplot as plt

    _, _, sig = fitted
    fig, (a, b) = plt.subplots(1, 2)
    assert sig.plot(ax=a) is a and sig.plot_path(ax=b) is b
    plt.close(fig)


def test_development_shows_the_flow_of_every_signature(params):
    X, outcome = cohort()
    dev = develop_signatures(X, outcome, set(), params, seed=2, n_jobs=1)
    s = dev.summary()
    assert list(s.index) == [signature_label(n) for n in dev.signatures]
    assert s["selected by LASSO (lambda_min)"].tolist() == [len(sig.coef_) for sig in dev.signatures.values()]
    assert s["lambda"].tolist() == [f"{sig.lambda_:.4g}" for sig in dev.signatures.values()]
    assert dev.names() == [*dev.signatures, "multimodal_stacked"]
    assert dev.title() == (f"7 signatures developed on 120 training patients (5-fold cross-validation); feeding the "
                           f"models: {signature_label(dev.multimodal)}")


def test_risk_groups_show_the_cut_its_p_values_and_the_xtile_plot(fitted):
    X, outcome, sig = fitted
    train = (outcome.split == "train").to_numpy()
    score = sig.predict(X.loc[train])
    g = RiskGroups(n_permutations=19, n_bootstrap=30, seed=1).fit(score, outcome.loc[train, "time"],
                                                                   outcome.loc[train, "event"])
    s = g.summary()["value"]
    assert s["cut"] == g.cutpoint_ and s["maximally selected log-rank statistic"] == g.statistic_
    assert s["p uncorrected (the chosen split's log-rank test)"] == g.p_uncorrected_
    assert s["p Lausen-Schumacher (1994) bound, training Rad-score"] == g.p_lausen_
    assert s["p permutation (19 permutations), training Rad-score"] == g.p_permutation_ == pytest.approx(1 / 20)
    lo, hi = np.percentile(g.bootstrap_cuts_, [2.5, 97.5])
    assert s.iloc[-2] == lo and s.iloc[-1] == hi
    high = int((score > g.cutpoint_).sum())
    assert f"({high} of 120 training patients above it: high risk)" in g.title()
    ax = g.plot()
    curve = ax.get_lines()[0]
    np.testing.assert_allclose(curve.get_xdata(), g.grid_["cut"])
    np.testing.assert_allclose(curve.get_ydata(), g.grid_["statistic"])
    # the chosen cut is the curve's peak: the plot shows the criterion that was maximised
    assert ax.get_lines()[1].get_xdata()[0] == g.cutpoint_ == curve.get_xdata()[np.argmax(curve.get_ydata())]
    hist = g.plot_bootstrap()
    assert sum(p.get_height() for p in hist.patches) == g.bootstrap_cuts_.size
    assert "not fitted" in RiskGroups().title()


def test_oracle_discrimination_and_the_example_signature(fitted):
    X, outcome, _ = fitted
    assert oracle_discrimination(None, outcome) is None
    eta = pd.Series(np.arange(len(X), dtype=float)[::-1], index=X.index[::-1])  # another order: aligned by patient
    got = oracle_discrimination(eta, outcome)
    expected = discrimination(pd.DataFrame({"oracle": eta.reindex(X.index).to_numpy()}, index=X.index), outcome,
                              ["oracle"])
    pd.testing.assert_frame_equal(got, expected)
    assert example_signature(["us_intra", "mri_intra"]) == "mri_intra"
    assert example_signature(["us_intra", "us"]) == "us_intra"
    with pytest.raises(ValueError, match="no signature"):
        example_signature([])

"""Figures of the signatures: LASSO cross-validation and path, coefficients, X-tile plot."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .style import apply_style, message_figure, message_panel, plt, save_figure

__all__ = ["coefficients_figure", "draw_bootstrap_cuts", "draw_coefficients", "draw_coefficient_path", "draw_cv_curve", "draw_xtile",
           "lasso_figure", "xtile_figure"]


def lasso_figure(cvs: Mapping[str, object], path: str | Path, lambda_rule: str = "lambda_min",
                 labels: Mapping[str, str] | None = None) -> Path:
    """For each signature: the CV curve (mean partial-likelihood deviance with ±1 SE
    bars against log lambda, both lambdas marked) above the coefficient path.

    Parameters
    ----------
    cvs : mapping of name -> LassoCoxCV
        The cross-validations (``lambdas``, ``cvm``, ``cvsd``, ``lambda_min``,
        ``lambda_1se``, ``nzero``, ``coef_path``).
    path : path
        Output PNG.
    lambda_rule : str
        The lambda the signatures use (drawn solid; the other dashed).
    labels : mapping, optional
        Printed names of the signatures.
    """
    apply_style()
    labels = dict(labels or {})
    names = list(cvs)
    if not names:
        return message_figure(path, "No signature: no LASSO cross-validation to draw")
    fig, axes = plt.subplots(2, len(names), figsize=(3.1 * len(names), 5.4), squeeze=False, sharex="col")
    for k, name in enumerate(names):
        cv = cvs[name]
        top, bottom = axes[0, k], axes[1, k]
        kept = int(np.count_nonzero(cv.coef(lambda_rule))) if cv is not None else 0
        draw_cv_curve(top, cv, lambda_rule, title=f"{labels.get(name, name)}\n{kept} features")
        draw_coefficient_path(bottom, cv, lambda_rule)
        top.set_xlabel("")
        if k > 0:
            top.set_ylabel("")
            bottom.set_ylabel("")
    fig.tight_layout()
    return save_figure(fig, path)


def _lambda_lines(ax, cv, lambda_rule: str) -> None:
    """Both cross-validated lambdas: the one the signature uses solid (lambda_min) or
    dashed (lambda_1se), the other dotted."""
    for rule, style in (("lambda_min", "-"), ("lambda_1se", "--")):
        ax.axvline(np.log(getattr(cv, rule)), color="#333333", lw=0.8, linestyle=style if rule == lambda_rule else ":")


#: What a panel of a signature whose filters left no feature says (no cross-validation was run).
NO_FEATURE_LEFT = "No feature passed the filters:\nno cross-validation, a constant Rad-score"


def draw_cv_curve(ax, cv, lambda_rule: str = "lambda_min", title: str | None = None):
    """The cross-validation curve of a LASSO-Cox fit on ``ax``: mean partial-likelihood
    deviance with +-1 SE bars against log lambda, both lambdas marked (as glmnet's
    ``plot.cv.glmnet``). Returns the Axes.

    Parameters
    ----------
    cv : LassoCoxCV or None
        ``lambdas``, ``cvm``, ``cvsd``, ``lambda_min``, ``lambda_1se``; None for a signature
        whose filters left no feature (said on the panel).
    """
    if cv is None:
        if title is not None:
            ax.set_title(title, fontsize=8)
        return message_panel(ax, NO_FEATURE_LEFT)
    if np.size(cv.lambdas) == 0:
        if title is not None:
            ax.set_title(title, fontsize=8)
        return message_panel(ax, "No cross-validation curve: no lambda was fitted")
    ax.errorbar(np.log(cv.lambdas), cv.cvm, yerr=cv.cvsd, fmt="o", ms=2.2, color="#D55E00", ecolor="#999999",
                elinewidth=0.6, capsize=0)
    _lambda_lines(ax, cv, lambda_rule)
    if title is not None:
        ax.set_title(title, fontsize=8)
    ax.set_ylabel("Partial-likelihood deviance")
    ax.set_xlabel("log(lambda)")
    if not ax.xaxis_inverted():  # the largest penalty (the null model) on the left, as the path
        ax.invert_xaxis()
    return ax


def draw_coefficient_path(ax, cv, lambda_rule: str = "lambda_min"):
    """The LASSO coefficient path on ``ax``: each feature's coefficient (per SD) against
    log lambda, largest lambda on the left, both lambdas marked. Returns the Axes (a
    message for ``cv`` None: no feature passed the filters)."""
    if cv is None:
        return message_panel(ax, NO_FEATURE_LEFT)
    if np.size(cv.lambdas) == 0:
        return message_panel(ax, "No coefficient path: no lambda was fitted")
    x = np.log(cv.lambdas)
    _lambda_lines(ax, cv, lambda_rule)
    path_ = np.asarray(cv.coef_path)
    for row in path_[np.any(path_ != 0, axis=1)]:
        ax.plot(x, row, lw=0.7)
    ax.axhline(0, color="#999999", lw=0.5)
    ax.set_xlabel("log(lambda)")
    ax.set_ylabel("Coefficient (per SD)")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    return ax


def coefficients_figure(coefs: Mapping[str, pd.DataFrame], path: str | Path,
                        labels: Mapping[str, str] | None = None, max_features: int = 15) -> Path:
    """Horizontal bars of each signature's coefficients per SD (largest |coef| first).

    Parameters
    ----------
    coefs : mapping of name -> DataFrame
        ``feature`` and ``coef_per_sd`` per signature.
    max_features : int
        At most this many bars per signature (the rest are counted in the title).
    """
    apply_style()
    labels = dict(labels or {})
    names = list(coefs)
    if not names:
        return message_figure(path, "No signature: no coefficient to draw")
    heights = [min(max(len(coefs[n]), 1), max_features) for n in names]
    fig, axes = plt.subplots(len(names), 1, figsize=(7.2, 0.9 + 0.2 * sum(heights) + 0.45 * len(names)),
                             squeeze=False, gridspec_kw={"height_ratios": [h + 1.5 for h in heights]})
    for ax, name in zip(axes[:, 0], names):
        draw_coefficients(ax, coefs[name], labels.get(name, name), max_features)
        ax.set_xlabel("")
    axes[-1, 0].set_xlabel("Coefficient per SD of the feature (log hazard ratio)")
    fig.tight_layout()
    return save_figure(fig, path)


def draw_coefficients(ax, coefs: pd.DataFrame, label: str, max_features: int = 15):
    """Horizontal bars of one signature's coefficients per SD on ``ax`` (largest |coef|
    first; red raises the hazard, blue lowers it). Returns the Axes.

    Parameters
    ----------
    coefs : DataFrame
        ``feature`` and ``coef_per_sd``.
    label : str
        The signature's printed name.
    """
    c = coefs.reindex(coefs["coef_per_sd"].abs().sort_values(ascending=False).index)
    shown = c.head(max_features)
    extra = len(c) - len(shown)
    y = np.arange(len(shown))[::-1]
    colors = np.where(shown["coef_per_sd"] > 0, "#D55E00", "#0072B2")
    ax.barh(y, shown["coef_per_sd"], color=colors)
    ax.set_yticks(y, [_short(f) for f in shown["feature"]], fontsize=6.5)
    ax.axvline(0, color="#333333", lw=0.6)
    title = f"{label}: {len(c)} feature{'s' if len(c) != 1 else ''}"
    ax.set_title(title + (f" ({extra} smaller not shown)" if extra > 0 else ""), fontsize=8, loc="left")
    if c.empty:
        ax.text(0.5, 0.5, "no feature selected", transform=ax.transAxes, ha="center", va="center", fontsize=8)
    ax.set_xlabel("Coefficient per SD of the feature (log hazard ratio)")
    return ax


def _short(feature: str) -> str:
    """A readable feature name: region prefix kept, PyRadiomics' image type abbreviated."""
    region, _, name = feature.partition("__")
    name = name.replace("original_", "").replace("wavelet-", "wav-").replace("log-sigma-", "LoG")
    return f"{region.replace('_', ' ')}: {name}" if name else feature


def xtile_figure(grid: pd.DataFrame, cutpoint: float, bootstrap_cuts: Sequence[float], path: str | Path,
                 p_text: str = "") -> Path:
    """The standardised log-rank statistic of every admissible cut of the training
    Rad-score (the criterion the cut maximises), the chosen cut, and the cuts chosen in
    bootstrap resamples of the training set.

    Parameters
    ----------
    grid : DataFrame
        ``cut``, ``n_low`` and ``statistic`` per candidate cut.
    cutpoint : float
        The chosen cut.
    bootstrap_cuts : sequence of float
        The bootstrap distribution of the cut.
    p_text : str
        Printed in the upper left (the p-values).
    """
    apply_style()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(6.2, 4.4), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    draw_xtile(ax, grid, cutpoint, p_text)
    draw_bootstrap_cuts(hist, bootstrap_cuts, cutpoint)
    fig.tight_layout()
    return save_figure(fig, path)


def draw_xtile(ax, grid: pd.DataFrame, cutpoint: float, p_text: str = ""):
    """The statistic the cut maximises, at every admissible cut of the training
    Rad-score, with the chosen cut, on ``ax``. Returns the Axes.

    The criterion is maxstat's standardised log-rank statistic (its variance under
    permutation of the log-rank scores), whose peak is the chosen cut; the log-rank test's
    own chi-square (conditional variance) can peak elsewhere, near the edges of the
    admissible range, so plotting it would show a cut that is not at the curve's maximum.
    """
    if grid.empty:
        return message_panel(ax, "No admissible cut of the Rad-score to draw")
    ax.plot(grid["cut"], grid["statistic"], color="#0072B2", lw=1.1)
    ax.axvline(cutpoint, color="#D55E00", lw=1.0)
    ax.set_ylabel("Standardised log-rank\nstatistic (training)")
    if p_text:
        ax.text(0.02, 0.97, p_text, transform=ax.transAxes, va="top", fontsize=7.5)
    return ax


def draw_bootstrap_cuts(ax, bootstrap_cuts: Sequence[float], cutpoint: float):
    """The cuts chosen in bootstrap resamples of the training set, and the chosen one."""
    cuts = np.asarray(bootstrap_cuts, dtype=float)
    if not cuts.size:
        return message_panel(ax, "No bootstrap cut: no resample was cut")
    ax.hist(cuts, bins=min(30, max(5, cuts.size // 5)), color="#999999")
    ax.axvline(cutpoint, color="#D55E00", lw=1.0)
    ax.set_ylabel("Bootstrap\ncuts")
    ax.set_xlabel("Rad-score cut")
    return ax

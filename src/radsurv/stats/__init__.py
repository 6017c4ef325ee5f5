"""Survival and diagnostic statistics matched to R (survival, glmnet, pROC, maxstat,
riskRegression, irr).

Plain arrays in, plain results out. Each function is tested against R's output on
public data (``tests/data/reference``).

Names are resolved lazily so that importing one function does not import every
dependency (lifelines, pingouin) of the others.
"""

from importlib import import_module

_EXPORTS = {
    "harrell_c": "concordance",
    "uno_c": "concordance",
    "kaplan_meier": "survival_curves",
    "logrank": "survival_curves",
    "fit_cox": "cox",
    "CoxFit": "cox",
    "lasso_cox_cv": "lasso_cox",
    "td_auc": "td_auc",
    "td_auc_compare": "td_auc",
    "delong_auc": "delong",
    "delong_test": "delong",
    "binary_at_time": "delong",
    "optimal_cutpoint": "cutpoint",
    "calibration_table": "calibration",
    "net_benefit": "decision_curve",
    "icc": "icc",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__

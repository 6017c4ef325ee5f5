"""Design matrices of the Cox models: the profile's clinical and MRI variables coded
once, the same way for every set.

A numeric variable is one column. A categorical variable with K categories is K - 1
indicator columns ``name[category]``, the first category of the profile's declaration
being the reference (as R's treatment contrasts). The coding depends only on the
declaration, never on the data, so the training and test sets get the same columns.
A variable is selected or dropped as a whole (all its indicators together).

The Rad-score column (:func:`training_radscore`) is, for the training patients, their
pre-validated multi-modal Rad-score when ``03_signatures``' ``radscores_prevalidated.csv``
is given, so that the models' training fits are not fitted to the Rad-score's own
training fit (Tibshirani & Efron 2002); the test sets always keep the final signature's
Rad-score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..results import ShowsItself

__all__ = ["RADSCORE", "RADSCORE_LABEL", "TRAINING_SCORES", "Design", "cohort_design", "design_matrix",
           "training_radscore", "unobserved_candidates"]

#: The design's column of the multi-modal Rad-score, and its printed name.
RADSCORE = "radscore"
RADSCORE_LABEL = "Multi-modal Rad-score"
#: What the training patients' Rad-score column holds: their pre-validated (out-of-fold)
#: score, the primary analysis, or the final signature's own (resubstitution, the study's way).
TRAINING_SCORES = ("prevalidated", "resubstitution")


@dataclass(frozen=True, repr=False)
class Design(ShowsItself):
    """Coded covariates and which columns belong to which variable.

    ``summary()`` shows the coding: one row per column, with its printed name (a
    categorical indicator says which category it compares with the reference), its mean
    (for an indicator: the share of patients in that category) and the missing values.

    Attributes
    ----------
    X : DataFrame
        Patients x columns (float).
    groups : dict of str to list of str
        Variable -> its columns (one for a numeric variable, K - 1 for a categorical one).
    labels : dict of str to str
        Column -> printed name ("Pathological N stage: N1 vs N0"), and variable -> its
        printed name ("Pathological N stage").
    """

    X: pd.DataFrame
    groups: dict[str, list[str]]
    labels: dict[str, str]

    def columns(self, variables: Sequence[str]) -> list[str]:
        """The columns of ``variables``, in their order."""
        return [c for v in variables for c in self.groups[v]]

    def subset(self, rows) -> "Design":
        """The same coding for a subset of patients."""
        return Design(self.X.loc[rows], self.groups, self.labels)

    def title(self) -> str:
        return (f"Design: {len(self.X)} patients, {len(self.groups)} variables coded as "
                f"{self.X.shape[1]} columns")

    def summary(self) -> pd.DataFrame:
        """One row per column: ``variable``, ``column``, ``label``, ``coding`` ("numeric" or
        "indicator"), ``mean`` and ``missing`` (patients)."""
        rows = []
        for var, cols in self.groups.items():
            for c in cols:
                x = self.X[c]
                rows.append({"variable": var, "column": c, "label": self.labels.get(c, c),
                             "coding": "indicator" if c != var else "numeric", "mean": float(x.mean()),
                             "missing": int(x.isna().sum())})
        return pd.DataFrame(rows, columns=["variable", "column", "label", "coding", "mean", "missing"]).set_index(
            ["variable", "column"])


def design_matrix(data: pd.DataFrame, columns: Mapping[str, object], labels: Mapping[str, str] | None = None,
                  extra: pd.DataFrame | None = None) -> Design:
    """Code the declared variables of ``data``.

    Parameters
    ----------
    data : DataFrame
        The cohort (index: patient) with the variables as declared.
    columns : mapping
        Variable -> ``"numeric"`` or the list of its categories (the first is the reference).
    labels : mapping, optional
        Printed names of the variables.
    extra : DataFrame, optional
        Numeric columns added as variables of their own (e.g. the Rad-score).

    Returns
    -------
    Design

    Raises
    ------
    ValueError
        When a declared variable is missing from ``data``, or a value is not a declared category.
    """
    labels = dict(labels or {})
    cols: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for var, kind in columns.items():
        if var not in data.columns:
            raise ValueError(f"column {var!r}: declared in the profile but not in the cohort")
        label = labels.get(var, var)
        if kind == "numeric":
            cols[var] = pd.to_numeric(data[var], errors="raise").to_numpy(dtype=float)
            groups[var] = [var]
            names[var] = label
            continue
        categories = [str(c) for c in kind]
        values = data[var].astype(object).where(data[var].notna(), None)
        unknown = sorted({str(v) for v in values if v is not None and str(v) not in categories})
        if unknown:
            raise ValueError(f"column {var!r}: value(s) {unknown} are not among the declared categories {categories}")
        groups[var] = []
        names[var] = label
        for level in categories[1:]:
            name = f"{var}[{level}]"
            col = np.array([np.nan if v is None else float(str(v) == level) for v in values])
            cols[name] = col
            groups[var].append(name)
            names[name] = f"{label}: {level.replace('_', ' ')} vs {categories[0].replace('_', ' ')}"
    if extra is not None:
        for var in extra.columns:
            cols[var] = extra[var].to_numpy(dtype=float)
            groups[var] = [var]
            names[var] = labels.get(var, var)
    X = pd.DataFrame(cols, index=data.index)
    return Design(X, groups, names)


def training_radscore(radscores: pd.DataFrame, prevalidated: pd.DataFrame | None, train) -> pd.Series:
    """The design's Rad-score column: the final multi-modal signature's Rad-score, except
    for the training patients, who get their pre-validated one when ``prevalidated`` is
    given.

    A Rad-score fitted by LASSO to the training outcomes orders the training patients
    better than it will order anyone else, so a Cox model that weighs it on those patients
    (models 4-6) inherits that optimism in its coefficient, its AIC, the test of its added
    value and its training C. Pre-validation gives each training patient the score of the
    cross-validation fit that did not see them, which behaves like a score on new patients
    and may be used as a covariate beside the clinical variables (Tibshirani & Efron 2002).
    The test sets keep the final signature's Rad-score: the model's coefficient, fitted on
    pre-validated scores, is applied to the only Rad-score a new patient has (as a stacked
    combiner fitted out of fold is, Breiman 1996).

    Parameters
    ----------
    radscores : DataFrame
        ``03_signatures``' Rad-scores (index ``patient_id``; the ``multimodal`` column).
    prevalidated : DataFrame or None
        ``03_signatures``' ``radscores_prevalidated.csv``
        (:func:`radsurv.stages.read_prevalidated`: index ``patient_id``, the training
        patients, a ``multimodal`` column). None: the training patients keep the final
        signature's Rad-score (resubstitution, the study's way).
    train : array-like of bool
        Which patients of ``radscores`` (in its order) are training patients.

    Returns
    -------
    Series
        Index ``patient_id`` (``radscores``' order), name ``radscore``.

    Raises
    ------
    ValueError
        ``prevalidated`` has no ``multimodal`` column, misses a training patient, or holds
        a patient who is not in the training set or a missing value.

    Notes
    -----
    When the final signature is constant on training (LASSO kept no feature), it is kept
    as it is: it was fitted to nothing, so it carries no optimism, and a constant Rad-score
    is no covariate (:func:`radsurv.models.develop_models`); the folds' fits, which may
    have kept a feature, describe a signature that no patient is scored by.

    References
    ----------
    .. [1] Tibshirani RJ, Efron B. Pre-validation and inference in microarrays. Stat Appl
       Genet Mol Biol. 2002;1:Article 1. doi:10.2202/1544-6115.1000
    .. [2] Breiman L. Stacked regressions. Mach Learn. 1996;24:49-64.
    """
    final = radscores["multimodal"].astype(float).rename(RADSCORE)
    if prevalidated is None:
        return final
    train = np.asarray(train, dtype=bool)
    where = "03_signatures' radscores_prevalidated.csv"
    if "multimodal" not in prevalidated.columns:
        raise ValueError(f"{where}: no 'multimodal' column (columns: {list(prevalidated.columns)}); re-run "
                         "03_signatures")
    ids = final.index[train]
    lacking = ids[~ids.isin(prevalidated.index)]
    if len(lacking):
        raise ValueError(f"{where}: lacks {len(lacking)} training patient(s), e.g. {list(lacking[:3])}; re-run "
                         "03_signatures on the same cohort")
    foreign = prevalidated.index[~prevalidated.index.isin(ids)]
    if len(foreign):
        raise ValueError(f"{where}: holds {len(foreign)} patient(s) who are not training patients with a "
                         f"Rad-score, e.g. {list(foreign[:3])}; re-run 03_signatures on the same cohort and split")
    pv = prevalidated.loc[ids, "multimodal"].astype(float)
    if pv.isna().any():
        raise ValueError(f"{where}: column 'multimodal' is missing for {int(pv.isna().sum())} training patient(s), "
                         f"e.g. {list(pv.index[pv.isna()][:3])}; re-run 03_signatures")
    if np.ptp(final[ids].to_numpy()) == 0:
        return final   # a constant final signature: nothing fitted, nothing to pre-validate (Notes)
    out = final.copy()
    out.loc[ids] = pv.to_numpy()
    return out


def unobserved_candidates(data: pd.DataFrame, columns: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The declared clinical and MRI variables that no training patient has a value of.

    Such a variable cannot be screened, fitted or imputed (no observed value to learn
    from), so :func:`cohort_design` leaves it out of the candidates and ``04_models`` says
    so in the paper. Without a ``split`` column every patient counts.

    Parameters
    ----------
    data : DataFrame
        The cohort (``split`` and the declared columns).
    columns : mapping
        The profile's ``cohort.columns``.
    """
    train = (data["split"] == "train").to_numpy() if "split" in data.columns else np.ones(len(data), bool)
    declared = [*columns.get("clinical", {}), *columns.get("mri", {})]
    return [c for c in declared if c in data.columns and not data.loc[train, c].notna().any()]


def cohort_design(cohort: pd.DataFrame, radscores: pd.DataFrame, columns: Mapping[str, Mapping[str, Any]],
                  labels: Mapping[str, str], prevalidated: pd.DataFrame | None = None
                  ) -> tuple[Design, list[str], list[str]]:
    """The coded clinical and MRI variables and the multi-modal Rad-score of the patients
    with a Rad-score.

    Parameters
    ----------
    cohort : DataFrame
        The cohort table (``patient_id``, ``split`` and the declared variables).
    radscores : DataFrame
        ``03_signatures``' Rad-scores (index ``patient_id``; the ``multimodal`` column is used).
    columns : mapping
        The profile's ``cohort.columns`` (``clinical`` and ``mri`` declarations).
    labels : mapping
        The profile's ``cohort.labels``.
    prevalidated : DataFrame, optional
        ``03_signatures``' pre-validated training Rad-scores
        (:func:`radsurv.stages.read_prevalidated`): the training patients' Rad-score is
        then their pre-validated one (:func:`training_radscore`; the primary analysis).
        None: every patient has the final signature's Rad-score (resubstitution on
        training, the study's way).

    Returns
    -------
    (Design, list of str, list of str)
        The design (index ``patient_id``) and the clinical and MRI candidate variables.
    """
    data = cohort.set_index("patient_id").loc[radscores.index]
    # A variable no training patient has (an empty column) cannot be a candidate: it is
    # left out, and the stage says so (unobserved_candidates).
    unobserved = set(unobserved_candidates(data, columns))
    clinical = [c for c in columns["clinical"] if c in data.columns and c not in unobserved]
    mri = [c for c in columns["mri"] if c in data.columns and c not in unobserved]
    declared = {**{c: columns["clinical"][c] for c in clinical}, **{c: columns["mri"][c] for c in mri}}
    train = None
    if prevalidated is not None:
        if "split" not in data.columns:
            raise ValueError("cohort: no 'split' column, needed to tell the training patients who get their "
                             "pre-validated Rad-score")
        train = (data["split"] == "train").to_numpy()
    extra = training_radscore(radscores, prevalidated, train).to_frame()
    design = design_matrix(data, declared, {**labels, RADSCORE: RADSCORE_LABEL}, extra=extra)
    return design, clinical, mri

"""Design matrices of the Cox models: the profile's clinical and MRI variables coded
once, the same way for every set.

A numeric variable is one column. A categorical variable with K categories is K - 1
indicator columns ``name[category]``, the first category of the profile's declaration
being the reference (as R's treatment contrasts). The coding depends only on the
declaration, never on the data, so the training and test sets get the same columns.
A variable is selected or dropped as a whole (all its indicators together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..results import ShowsItself

__all__ = ["RADSCORE", "RADSCORE_LABEL", "Design", "cohort_design", "design_matrix"]

#: The design's column of the multi-modal Rad-score, and its printed name.
RADSCORE = "radscore"
RADSCORE_LABEL = "Multi-modal Rad-score"


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


def cohort_design(cohort: pd.DataFrame, radscores: pd.DataFrame, columns: Mapping[str, Mapping[str, Any]],
                  labels: Mapping[str, str]) -> tuple[Design, list[str], list[str]]:
    """The coded clinical and MRI variables and the multi-modal Rad-score of the patients
    with a Rad-score.

    Parameters
    ----------
    cohort : DataFrame
        The cohort table (``patient_id`` and the declared variables).
    radscores : DataFrame
        ``03_signatures``' Rad-scores (index ``patient_id``; the ``multimodal`` column is used).
    columns : mapping
        The profile's ``cohort.columns`` (``clinical`` and ``mri`` declarations).
    labels : mapping
        The profile's ``cohort.labels``.

    Returns
    -------
    (Design, list of str, list of str)
        The design (index ``patient_id``) and the clinical and MRI candidate variables.
    """
    data = cohort.set_index("patient_id").loc[radscores.index]
    clinical = [c for c in columns["clinical"] if c in data.columns]
    mri = [c for c in columns["mri"] if c in data.columns]
    declared = {**{c: columns["clinical"][c] for c in clinical}, **{c: columns["mri"][c] for c in mri}}
    extra = radscores[["multimodal"]].rename(columns={"multimodal": RADSCORE})
    design = design_matrix(data, declared, {**labels, RADSCORE: RADSCORE_LABEL}, extra=extra)
    return design, clinical, mri

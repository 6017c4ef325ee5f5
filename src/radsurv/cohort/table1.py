"""Table 1: baseline characteristics by set, with p-values (through ``tableone``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping

import pandas as pd
from tableone import TableOne

from ..labels import SPLIT_LABELS, SPLITS
from ..results import ShowsItself

__all__ = ["BaselineTable", "TEST_REASONS", "baseline_characteristics", "baseline_table"]

#: Why ``tableone`` chose each test (the ``Test`` column of Table 1) to compare the sets.
TEST_REASONS = {
    "One-way ANOVA": "continuous, summarised as mean (SD): compares the sets' means",
    "Kruskal-Wallis": "continuous and skewed, summarised as median [Q1,Q3]: compares the sets' distributions by rank",
    "Chi-squared": "categorical: compares the sets' proportions",
    "Chi-squared (warning: expected count < 5)": "categorical with a sparse level: the chi-squared approximation "
                                                 "is rough (an expected count below 5)",
    "Fisher's exact": "categorical, two levels and two groups with small counts: exact test",
}


@dataclass(repr=False)
class BaselineTable(ShowsItself):
    """Table 1: baseline characteristics by set, with the p-values comparing the sets.

    Shown as the printed table (:meth:`summary`) and the test behind each p-value
    (:meth:`tests`). Built by :func:`baseline_characteristics`.

    Attributes
    ----------
    table : DataFrame
        :func:`baseline_table`'s flat table (what ``table1.csv`` and ``table1.md`` hold).
    """

    table: pd.DataFrame

    def _rows(self) -> pd.DataFrame:
        """One row per characteristic with a p-value."""
        return self.table[self.table["P-value"].astype(str) != ""]

    def title(self) -> str:
        rows = self._rows()
        p = pd.to_numeric(rows["P-value"].astype(str).str.lstrip("<"), errors="coerce")
        n = self.table.loc[self.table["Characteristic"] == "Patients, n", "Overall"]
        total = f"{n.iloc[0]} patients" if len(n) else "the cohort"
        return (f"Table 1: {total} by set; {len(rows)} characteristic(s) compared across the sets, "
                f"{int((p < 0.05).sum())} with p < 0.05")

    def summary(self) -> pd.DataFrame:
        """The table as printed: ``Characteristic``, ``Level``, ``Overall``, one column per
        set, ``P-value`` and ``Test``."""
        return self.table

    def tests(self) -> pd.DataFrame:
        """Per compared characteristic: the p-value, the test and why it was chosen."""
        rows = self._rows()
        return pd.DataFrame({"P-value": rows["P-value"].to_numpy(), "Test": rows["Test"].to_numpy(),
                             "why": [TEST_REASONS.get(str(t), "") for t in rows["Test"]]},
                            index=pd.Index(rows["Characteristic"].to_numpy(), name="Characteristic"))


def baseline_characteristics(data: pd.DataFrame, columns: Mapping[str, object],
                             labels: Mapping[str, str] | None = None) -> BaselineTable:
    """Table 1 of the cohort as a result object: :func:`baseline_table` (same ``data``,
    ``columns`` and ``labels``) in a :class:`BaselineTable`, which shows itself and the
    test behind each p-value."""
    return BaselineTable(baseline_table(data, columns, labels))


def baseline_table(data: pd.DataFrame, columns: Mapping[str, object], labels: Mapping[str, str] | None = None,
                   nonnormal: tuple[str, ...] = ("ki67",), decimals: int = 1) -> pd.DataFrame:
    """Baseline characteristics by set (training, internal test, external test).

    Continuous variables as mean (SD), or median [Q1, Q3] for those in ``nonnormal``;
    categorical as n (%). P-values compare the three sets: ANOVA, Kruskal-Wallis or
    chi-square as ``tableone`` chooses, named in the ``Test`` column.

    Parameters
    ----------
    data : DataFrame
        The typed cohort with a ``split`` column.
    columns : mapping
        Column name -> ``"numeric"`` or list of categories (the profile's declaration).
    labels : mapping, optional
        Printed names of the variables.

    Returns
    -------
    DataFrame
        Flat table with columns ``Characteristic``, ``Level``, one per set plus
        ``Overall``, ``P-value`` and ``Test``. Contains no patient identifier.
    """
    labels = dict(labels or {})
    cols = [c for c in columns if c in data.columns]
    if not cols:
        # A cohort declaring no clinical variable: Table 1 is the set sizes.
        n = data["split"].value_counts()
        row = {"Characteristic": "Patients, n", "Level": "", "Overall": len(data),
               **{SPLIT_LABELS[s]: int(n.get(s, 0)) for s in SPLITS}, "P-value": "", "Test": ""}
        return pd.DataFrame([row])
    categorical = [c for c in cols if columns[c] != "numeric"]
    df = data[cols + ["split"]].copy()
    df["split"] = pd.Categorical(df["split"].map(SPLIT_LABELS), categories=[SPLIT_LABELS[s] for s in SPLITS])
    for c in categorical:
        df[c] = df[c].astype(object)
    order = {c: [str(x) for x in columns[c]] for c in categorical}
    order["split"] = [SPLIT_LABELS[s] for s in SPLITS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1 = TableOne(
            df, columns=cols, categorical=categorical, groupby="split", pval=True, htest_name=True,
            nonnormal=[c for c in nonnormal if c in cols], order=order, overall=True, missing=False,
            rename={c: labels.get(c, c) for c in cols}, decimals=decimals,
        )
    wide = t1.tableone.copy()
    wide.columns = [c[1] for c in wide.columns]
    wide = wide.reset_index()
    wide.columns = ["Characteristic", "Level", *wide.columns[2:]]
    wide = wide.rename(columns={"P-Value": "P-value"})
    # A missing category value is tableone's "None" level: it is the patients missing the
    # variable (TRIPOD+AI item 9), so it says so; a numeric variable gets the same row.
    wide.loc[wide["Level"].astype(str) == "None", "Level"] = "Missing"
    wide = _numeric_missing_rows(wide, df, [c for c in cols if c not in categorical], labels, decimals)
    # Repeated characteristic names are blanked as in a printed Table 1.
    wide["Characteristic"] = wide["Characteristic"].where(~wide["Characteristic"].duplicated(), "")
    wide["Characteristic"] = wide["Characteristic"].replace({"n": "Patients, n"})
    # Category codes are identifiers (luminal_a); print them as words.
    wide["Level"] = wide["Level"].astype(str).str.replace("_", " ", regex=False)
    return wide.fillna("")


def _numeric_missing_rows(wide: pd.DataFrame, df: pd.DataFrame, numeric: list[str], labels: Mapping[str, str],
                          decimals: int) -> pd.DataFrame:
    """Insert, under each numeric variable with a missing value, the row ``Missing``:
    n (%) of the patients missing it, overall and per set (as tableone prints a
    category's count)."""
    rows = []
    for _, r in wide.iterrows():
        rows.append(r.to_dict())
        name = str(r["Characteristic"])
        var = next((c for c in numeric if name.startswith(f"{labels.get(c, c)}, ")), None)
        if var is None or not df[var].isna().any():
            continue
        miss = df[var].isna()
        row = {k: "" for k in wide.columns}
        row.update({"Characteristic": name, "Level": "Missing",
                    "Overall": f"{int(miss.sum())} ({100 * miss.mean():.{decimals}f})"})
        for label, group in miss.groupby(df["split"], observed=False):
            row[str(label)] = f"{int(group.sum())} ({100 * group.mean():.{decimals}f})" if len(group) else ""
        rows.append(row)
    return pd.DataFrame(rows, columns=wide.columns)

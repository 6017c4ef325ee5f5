"""Table 1: counts and summaries per set, and a cohort that declares no clinical variable."""

from __future__ import annotations

import pandas as pd

from radsurv.cohort.table1 import baseline_table


def test_counts_and_means_per_set():
    data = pd.DataFrame({"split": ["train"] * 4 + ["internal"] * 2 + ["external"] * 2,
                         "age": [40.0, 50.0, 60.0, 70.0, 30.0, 50.0, 45.0, 55.0],
                         "grade": ["G1", "G2", "G2", "G3", "G1", "G1", "G3", "G3"]})
    t = baseline_table(data, {"age": "numeric", "grade": ["G1", "G2", "G3"]}, {"age": "Age, years"})
    rows = {(r["Characteristic"], r["Level"]): r for r in t.to_dict("records")}
    n = rows[("Patients, n", "")]
    assert (n["Overall"], n["Training"], n["Internal test"], n["External test"]) == (8, 4, 2, 2)   # as tableone gives them
    age = next(r for (c, _), r in rows.items() if c.startswith("Age, years"))
    assert age["Training"] == "55.0 (12.9)" and age["Internal test"] == "40.0 (14.1)"   # mean (SD, n-1)
    g1 = next(r for (_, lvl), r in rows.items() if lvl == "G1")
    assert g1["Overall"] == "3 (37.5)" and g1["Internal test"] == "2 (100.0)"


def test_a_cohort_without_clinical_variables_gets_the_set_sizes():
    data = pd.DataFrame({"split": ["train"] * 5 + ["internal"] * 2 + ["external"] * 3})
    t = baseline_table(data, {})
    assert t.to_dict("records") == [{"Characteristic": "Patients, n", "Level": "", "Overall": 10, "Training": 5,
                                     "Internal test": 2, "External test": 3, "P-value": "", "Test": ""}]

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


def test_missing_values_get_a_missing_row_with_their_counts_per_set():
    import numpy as np
    import pandas as pd

    from radsurv.cohort.table1 import baseline_table

    rng = np.random.default_rng(0)
    d = pd.DataFrame({"split": ["train"] * 40 + ["internal"] * 30 + ["external"] * 30,
                      "grade": rng.choice(["G1", "G2", "G3"], 100).astype(object),
                      "ki67": rng.uniform(0, 50, 100), "age": rng.normal(50, 10, 100)})
    d.loc[[0, 1, 2, 45], "grade"] = None                     # 3 training, 1 internal
    d.loc[[3, 50, 51, 80, 81, 82], "ki67"] = np.nan          # 1 training, 2 internal, 3 external
    t1 = baseline_table(d, {"grade": ["G1", "G2", "G3"], "ki67": "numeric", "age": "numeric"},
                        {"grade": "Grade", "ki67": "Ki-67"})
    rows = t1[t1["Level"] == "Missing"]
    assert len(rows) == 2   # grade and Ki-67; age is complete
    grade, ki67 = rows.iloc[0], rows.iloc[1]
    assert (grade["Overall"], grade["Training"], grade["Internal test"], grade["External test"]) == \
        ("4 (4.0)", "3 (7.5)", "1 (3.3)", "0 (0.0)")
    assert (ki67["Overall"], ki67["Training"], ki67["Internal test"], ki67["External test"]) == \
        ("6 (6.0)", "1 (2.5)", "2 (6.7)", "3 (10.0)")
    # the Missing row sits under its variable
    assert t1.index.get_loc(rows.index[1]) == t1.index[t1["Characteristic"].str.startswith("Ki-67")][0] + 1

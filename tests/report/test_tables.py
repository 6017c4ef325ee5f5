"""radsurv.report.tables and .variables: deterministic manuscript inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radsurv.report import load_variables, markdown_table, merge_variables, write_markdown_table, write_variables
from radsurv.report.qmd import parse_markdown, stringify


@pytest.fixture()
def table() -> pd.DataFrame:
    return pd.DataFrame({"Characteristic": ["Age, years", "T stage T1|T2"], "Training (n = 311)": ["48 (41-55)", "12"],
                         "P": ["0.70", None]})


def test_markdown_table_layout(table: pd.DataFrame) -> None:
    text = markdown_table(table, "Baseline characteristics.", "table1", source="`notebooks/00_cohort.ipynb`")
    assert text == (
        "| Characteristic | Training (n = 311) | P    |\n"
        "| -------------- | ------------------ | ---- |\n"
        "| Age, years     | 48 (41-55)         | 0.70 |\n"
        "| T stage T1\\|T2 | 12                 |      |\n"
        "\n"
        ": Baseline characteristics. Source: `notebooks/00_cohort.ipynb`. {#tbl-table1}\n"
    )


def test_markdown_table_parses_as_a_labelled_table(table: pd.DataFrame) -> None:
    doc = parse_markdown(markdown_table(table, "Caption  with\nspaces", "tbl-x"))
    (tbl,) = doc["blocks"]
    assert tbl["t"] == "Table" and tbl["c"][0][0] == "tbl-x"
    assert stringify(tbl["c"][1][1]) == "Caption with spaces"
    body_rows = tbl["c"][4][0][3]
    assert stringify(body_rows[1]).startswith("T stage T1|T2")  # the escaped pipe stays in its cell


def test_markdown_table_index_and_errors(table: pd.DataFrame) -> None:
    indexed = table.set_index("Characteristic")
    assert markdown_table(indexed, "C.", "t", index=True).splitlines()[0].startswith("| Characteristic |")
    assert "Characteristic" not in markdown_table(indexed, "C.", "t").splitlines()[0]
    with pytest.raises(ValueError):
        markdown_table(table, "C.", "bad label")
    with pytest.raises(ValueError):
        markdown_table(table, "  ", "t")


def test_write_markdown_table_is_deterministic(table: pd.DataFrame, tmp_path: Path) -> None:
    a = write_markdown_table(table, tmp_path / "tables" / "a.md", "C.", "a")
    b = write_markdown_table(table.copy(), tmp_path / "b.md", "C.", "a")
    assert a.read_bytes() == b.read_bytes() == markdown_table(table, "C.", "a").encode()


def test_write_variables_sorted_and_as_given(tmp_path: Path) -> None:
    path = write_variables({"run": {"profile": "quick"}, "cohort": {"n_total": np.int64(480), "rate": "0.70",
                                                                     "km": {"dfs_60": "81.2%"}}},
                           tmp_path / "_variables.yml")
    assert path.read_text(encoding="utf-8") == (
        "cohort:\n  km:\n    dfs_60: 81.2%\n  n_total: 480\n  rate: '0.70'\n"
        "run:\n  profile: quick\n"
    )
    variables = load_variables(path)
    assert variables["cohort"]["rate"] == "0.70" and variables["cohort"]["n_total"] == 480
    with pytest.raises(ValueError, match="without '.'"):
        write_variables({"a.b": 1}, tmp_path / "x.yml")
    with pytest.raises(TypeError):
        write_variables({"a": object()}, tmp_path / "x.yml")


def test_merge_variables() -> None:
    a = {"cohort": {"n_total": 480, "km": {"dfs_60": "81%"}}}
    b = {"cohort": {"n_train": 311, "n_total": 480}, "run": {"profile": "quick"}}
    merged = merge_variables([a, b])
    assert merged == {"cohort": {"n_total": 480, "km": {"dfs_60": "81%"}, "n_train": 311}, "run": {"profile": "quick"}}
    assert a == {"cohort": {"n_total": 480, "km": {"dfs_60": "81%"}}}  # inputs untouched
    with pytest.raises(ValueError, match="'cohort.n_total'"):
        merge_variables([a, {"cohort": {"n_total": 481}}])
    with pytest.raises(ValueError, match="'cohort.km'"):
        merge_variables([a, {"cohort": {"km": "none"}}])
    assert merge_variables([]) == {}

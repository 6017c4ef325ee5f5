"""Tables for the manuscript: deterministic pipe tables with Quarto's caption line.

A stage writes ``tables/<name>.md``; ``index.qmd`` includes it with
``{{< include tables/<name>.md >}}`` and refers to it as ``@tbl-<label>``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["markdown_table", "write_markdown_table"]


def _cell(value: Any) -> str:
    """A cell's text: strings as given, missing values empty, ``|`` escaped, one line."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return ""
    text = str(value)
    # A newline or a bare pipe would end the row or the cell of a pipe table.
    return text.replace("\r\n", " ").replace("\n", " ").replace("|", r"\|").strip()


def _label(label: str) -> str:
    label = str(label).strip()
    if label.startswith("#"):
        label = label[1:]
    label = label[len("tbl-"):] if label.startswith("tbl-") else label
    if not label or any(ch.isspace() or ch in "{}" for ch in label):
        raise ValueError(f"invalid table label {label!r}: use letters, digits, '-' or '_'")
    return label


def _caption(caption: str, source: str | None) -> str:
    text = " ".join(str(caption).split())
    if source:
        src = " ".join(str(source).split()).rstrip(".")
        text = f"{text} Source: {src}."
    if not text:
        raise ValueError("a table needs a caption (Quarto only numbers captioned tables)")
    return text


def markdown_table(df: pd.DataFrame, caption: str, label: str, source: str | None = None,
                   index: bool = False) -> str:
    """A pipe table followed by Quarto's caption line ``: caption {#tbl-label}``.

    Parameters
    ----------
    df : DataFrame
        The table; cells are written with ``str`` (pass formatted strings for numbers).
    caption : str
        The caption (whitespace collapsed to single spaces).
    label : str
        The cross-reference label, with or without the ``tbl-`` prefix.
    source : str, optional
        Appended to the caption as " Source: {source}."
    index : bool
        Write the index as the first column (its name, or empty, as header).

    Returns
    -------
    str
        The markdown, columns padded to equal width, ending with a newline.
    """
    if index:
        df = df.reset_index()
        if df.columns[0] == "index":
            df = df.rename(columns={"index": ""})
    header = [_cell(c) for c in df.columns]
    rows = [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]
    widths = [max([3, len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(header), "| " + " | ".join("-" * w for w in widths) + " |"]
    out += [line(r) for r in rows]
    out += ["", f": {_caption(caption, source)} {{#tbl-{_label(label)}}}"]
    return "\n".join(out) + "\n"


def write_markdown_table(df: pd.DataFrame, path: Path, caption: str, label: str, source: str | None = None,
                         index: bool = False) -> Path:
    """Write :func:`markdown_table` to ``path`` (UTF-8, ``\\n`` line ends; folders created).

    Parameters
    ----------
    df, caption, label, source, index
        As for :func:`markdown_table`.
    path : Path
        The ``.md`` file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(markdown_table(df, caption, label, source=source, index=index))
    return path

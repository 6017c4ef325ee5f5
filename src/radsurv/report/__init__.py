"""The manuscript: check that ``index.qmd`` resolves, write its tables and variables, render it."""

from .qmd import (
    ManuscriptError,
    check_manuscript,
    collect_labels,
    load_variables,
    number_crossrefs,
    resolve_includes,
    resolve_variables,
)
from .preview import render_notebook_preview, render_preview
from .render import RenderError, RenderResult, find_quarto, render_manuscript
from .tables import markdown_table, write_markdown_table
from .variables import merge_variables, write_variables

__all__ = [
    "ManuscriptError",
    "RenderError",
    "RenderResult",
    "check_manuscript",
    "collect_labels",
    "find_quarto",
    "load_variables",
    "markdown_table",
    "merge_variables",
    "number_crossrefs",
    "render_manuscript",
    "render_notebook_preview",
    "render_preview",
    "resolve_includes",
    "resolve_variables",
    "write_markdown_table",
    "write_variables",
]

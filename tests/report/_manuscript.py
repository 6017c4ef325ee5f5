"""A tiny manuscript project shared by the report tests."""

from __future__ import annotations

from pathlib import Path

__all__ = ["INDEX_QMD", "QUARTO_YML", "REFERENCES_BIB", "TABLE1_MD", "TABLE1_NOTE_MD", "VARIABLES_YML",
           "make_manuscript"]

QUARTO_YML = """\
project:
  type: manuscript
manuscript:
  article: index.qmd
number-sections: true
format:
  html:
    toc: true
"""

VARIABLES_YML = """\
cohort:
  n_total: 480
  event_rate: "21.3%"
run:
  profile: quick
"""

INDEX_QMD = """\
---
title: "Radiomics for disease-free survival"
subtitle: "A digital-twin study"
author:
  - name: Ada Lovelace
    affiliations:
      - name: Analytical Engine Institute
  - name: Alan Turing
    affiliations:
      - ref: bp
affiliations:
  - id: bp
    name: Bletchley Park
date: 2024-06-11
abstract: |
  We studied {{< var cohort.n_total >}} patients (profile {{< var run.profile >}}).
keywords: [radiomics, survival]
bibliography: references.bib
execute:
  echo: false
format:
  html:
    code-fold: true
---

## Introduction {#sec-intro}

Radiomics [@lambin2017] needs external validation as argued by @harrell1996.
The methods are in @sec-methods; the curves in @fig-km.

## Methods {#sec-methods}

The cohort had {{< var cohort.n_total >}} patients (@tbl-table1), event rate {{< var cohort.event_rate >}}.

{{< include tables/table1.md >}}

![Kaplan-Meier curve of {{< var cohort.n_total >}} patients. Source: `notebooks/00_cohort.ipynb`, profile quick.](figures/fig-km.png){#fig-km width=90%}

![Patient flow.](figures/fig-flow.png){#fig-flow}

## Results {#sec-results}

@fig-flow shows the flow and panel -@fig-km the curves [@fig-km; @fig-flow].

::: {.callout-note}
## Reproducibility
Every number comes from `_variables.yml`: {{{< var cohort.n_total >}}} is how it is written.
:::

## Supplementary material {.appendix}

Nothing else.
"""

TABLE1_MD = """\
| Characteristic | Value |
| --- | --- |
| Patients | {{< var cohort.n_total >}} |
| Event rate | {{< var cohort.event_rate >}} |

: Baseline characteristics of the {{< var cohort.n_total >}} patients. {#tbl-table1}

{{< include tables/table1-note.md >}}
"""

TABLE1_NOTE_MD = "Table note: profile {{< var run.profile >}}.\n"

REFERENCES_BIB = """\
@article{lambin2017,
  author = {Lambin, Philippe and Leijenaar, Ralph T. H.},
  title = {Radiomics: the bridge between medical imaging and personalized medicine},
  journal = {Nature Reviews Clinical Oncology},
  year = {2017},
  volume = {14},
  pages = {749--762}
}

@article{harrell1996,
  author = {Harrell, Frank E. and Lee, Kerry L. and Mark, Daniel B.},
  title = {Multivariable prognostic models},
  journal = {Statistics in Medicine},
  year = {1996},
  volume = {15},
  pages = {361--387}
}
"""


def _png(path: Path, color: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 4), color).save(path, format="PNG")


def make_manuscript(root: Path, **files: str) -> Path:
    """Write the tiny manuscript project into ``root``; ``files`` overrides or adds files
    (keys are paths with '/' written as '__', e.g. ``tables__table1_md``... or use the
    explicit names below)."""
    contents = {
        "_quarto.yml": QUARTO_YML,
        "_variables.yml": VARIABLES_YML,
        "index.qmd": INDEX_QMD,
        "tables/table1.md": TABLE1_MD,
        "tables/table1-note.md": TABLE1_NOTE_MD,
        "references.bib": REFERENCES_BIB,
    }
    contents.update({name.replace("__", "/").replace("_md", ".md").replace("_qmd", ".qmd"): text
                     for name, text in files.items()})
    for name, text in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _png(root / "figures" / "fig-km.png", (200, 30, 30))
    _png(root / "figures" / "fig-flow.png", (30, 30, 200))
    return root

"""The manuscript's run-level tables: what the run cost and which software made it.

They describe the run, not one stage, so they are written when a profile is published
(``tables/run/``), from ``build/<profile>/timings.json`` (each stage's wall time, peak
memory, cores and timed steps, recorded by the runner) and ``requirements.lock``.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from .tables import write_markdown_table

__all__ = ["COST_TABLE", "SOFTWARE", "SOFTWARE_TABLE", "cost_table", "pinned_versions", "software_table",
           "write_run_tables"]

COST_TABLE = "run/cost_table.md"
SOFTWARE_TABLE = "run/software_table.md"

#: The packages the analysis rests on, in the order the paper names them (role, lock name).
SOFTWARE: tuple[tuple[str, str], ...] = (
    ("Images (reading, resampling, masks)", "simpleitk"),
    ("Radiomic features", "pyradiomics-bhklab"),
    ("Segmentation networks", "torch"),
    ("Segmentation networks (U-Net, transforms)", "monai"),
    ("Arrays and statistics", "numpy"),
    ("Arrays and statistics", "scipy"),
    ("Tables", "pandas"),
    ("Machine learning utilities", "scikit-learn"),
    ("Cross-checks of the statistics (tests, benchmarks)", "lifelines"),
    ("Cross-checks of the statistics (tests, benchmarks)", "scikit-survival"),
    ("Table 1", "tableone"),
    ("Parallel work", "joblib"),
    ("Figures", "matplotlib"),
    ("Notebook execution", "papermill"),
    ("Stage scheduling", "doit"),
    ("Preview rendering (pandoc)", "pypandoc-binary"),
)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def cost_table(timings: Mapping, titles: Mapping[str, str]) -> pd.DataFrame:
    """One row per stage (in ``titles``' order) and a total: wall time, peak memory, cores
    and the longest timed steps.

    Parameters
    ----------
    timings : mapping
        ``timings.json``: ``{"stages": {name: {"wall_s", "peak_rss_mb", "cpus", "steps_s"}}}``.
    titles : mapping
        Stage name -> short title (the registry's).
    """
    stages = timings.get("stages") or {}
    rows, total = [], 0.0
    for name, title in titles.items():
        rec = stages.get(name)
        if rec is None:
            continue
        total += float(rec["wall_s"])
        steps = sorted((rec.get("steps_s") or {}).items(), key=lambda kv: -kv[1])[:2]
        rows.append({"Stage": f"{name.split('_')[0]} {title}", "Wall time": _duration(float(rec["wall_s"])),
                     "Peak memory (GB)": f"{float(rec['peak_rss_mb']) / 1024:.1f}",
                     "Cores": str(rec.get("cpus", "–")),
                     "Longest steps": "; ".join(f"{s} ({_duration(t)})" for s, t in steps) or "–"})
    if rows:
        peak = max(float(stages[n]["peak_rss_mb"]) for n in titles if n in stages)
        rows.append({"Stage": "All stages", "Wall time": _duration(total), "Peak memory (GB)": f"{peak / 1024:.1f}",
                     "Cores": "", "Longest steps": ""})
    return pd.DataFrame(rows, columns=["Stage", "Wall time", "Peak memory (GB)", "Cores", "Longest steps"])


def pinned_versions(lock: Path) -> dict[str, str]:
    """Package (normalised name: lower case, ``-`` for ``_``/``.``) -> its pinned version."""
    pins = {}
    for line in Path(lock).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def software_table(lock: Path, packages: Sequence[tuple[str, str]] = SOFTWARE) -> pd.DataFrame:
    """The pinned version of each package the analysis rests on, from the lock file, and
    the Python that ran it. A package missing from the lock is an error (the table would
    otherwise claim a version nobody pinned)."""
    pins = pinned_versions(lock)
    rows = [{"Role": "Language", "Package": "Python", "Version": platform.python_version()}]
    for role, name in packages:
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key not in pins:
            raise KeyError(f"{name} is not pinned in {lock}")
        rows.append({"Role": role, "Package": name, "Version": pins[key]})
    return pd.DataFrame(rows)


def write_run_tables(root: Path, build_dir: Path, titles: Mapping[str, str], profile: str) -> list[Path]:
    """Write ``tables/run/cost_table.md`` and ``tables/run/software_table.md``."""
    root, build_dir = Path(root), Path(build_dir)
    path = build_dir / "timings.json"
    timings = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    source = f"`build/{profile}/timings.json`, profile `{profile}`"
    written = [write_markdown_table(
        cost_table(timings, titles), root / "tables" / COST_TABLE, label="cost", source=source,
        caption="Computational cost of the run that produced these results: wall time, peak memory (resident set "
                "of the notebook's kernel) and cores available to each stage, and its two longest timed steps. A "
                "step served from the build's cache (U-Net weights, radiomic features) shows the cached time; the "
                "README gives the cold-cache times.")]
    written.append(write_markdown_table(
        software_table(root / "requirements.lock"), root / "tables" / SOFTWARE_TABLE, label="software",
        source="`requirements.lock`",
        caption="Software: the pinned versions of the packages the analysis rests on (every other dependency is "
                "pinned in the lock file too)."))
    return written

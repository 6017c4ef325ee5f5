"""Quarto's pre-render step: ``quarto render`` brings the build up to date first.

``_quarto.yml`` names ``radsurv prerender`` as the project's ``pre-render`` command, so
that ``quarto render`` on a fresh clone, in Binder or after an edit does what its users
expect: the stages that are stale (content hashes, as ``radsurv run``) run, the profile's
artefacts are published (``tables/``, ``figures/``, ``texts/``, ``_variables.yml``,
``executed/``) and the manuscript is checked, all before Quarto reads ``index.qmd``.

The profile is ``$RADSURV_PROFILE`` (default ``paper``; Binder sets ``quick``). When
``radsurv run`` itself calls Quarto, it has just published, and it sets
``RADSURV_PRERENDER=skip`` so that the step does not run the pipeline inside the
pipeline's own render.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["PROFILE_ENV", "SKIP_ENV", "prerender"]

#: The profile ``quarto render`` builds.
PROFILE_ENV = "RADSURV_PROFILE"
#: Set to "skip" by ``radsurv run`` around its own ``quarto render``.
SKIP_ENV = "RADSURV_PRERENDER"


def prerender(profile: str | Path | None = None, root: Path | None = None, stream=None) -> int:
    """Run what is stale, publish the profile's artefacts and check the manuscript.

    Parameters
    ----------
    profile : str or Path, optional
        Profile name or YAML path; default ``$RADSURV_PROFILE`` or ``paper``.
    root : Path, optional
        The project root (default: found from the working directory).
    stream : file, optional
        Where to report (default stdout; Quarto shows it).

    Returns
    -------
    int
        0 when the manuscript's inputs are ready, 1 when a stage failed or the manuscript
        does not resolve (Quarto then stops before rendering), 2 for a bad profile.
    """
    from ..config import load_profile, project_root
    from ..exceptions import InputError
    from ..report.qmd import check_manuscript
    from . import runner
    from .publish import publish

    stream = stream or sys.stdout
    if os.environ.get(SKIP_ENV) == "skip":
        print("radsurv prerender: called from `radsurv run`, which has published; nothing to do", file=stream)
        return 0
    profile = profile or os.environ.get(PROFILE_ENV) or "paper"
    root = (root or project_root()).resolve()
    print(f"radsurv prerender: bringing profile {profile} up to date before Quarto renders "
          f"(set {PROFILE_ENV} to choose another)", file=stream, flush=True)
    try:
        report = runner.run_pipeline(profile, root=root, render=False)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runner.print_report(report, stream)
    if report.exit_code != 0:
        return 1
    publish(root, report.build_dir, runner.STAGES, profile=load_profile(profile, root))
    problems = check_manuscript(root)
    if problems:
        print("error: the manuscript does not resolve:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
        return 1
    print(f"radsurv prerender: published profile {report.profile}", file=stream)
    return 0

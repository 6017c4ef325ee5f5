"""The pipeline: stage notebooks run by papermill, scheduled by doit on content hashes,
then the profile's artefacts published and the manuscript rendered.

The stages themselves are registered in :mod:`radsurv.stages.registry`.
"""

from .runner import RunReport, run_pipeline

__all__ = ["RunReport", "run_pipeline"]

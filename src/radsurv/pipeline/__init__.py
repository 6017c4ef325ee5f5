"""The pipeline: stage notebooks run by papermill, scheduled by doit on content hashes."""

from .stages import STAGES, Stage

__all__ = ["STAGES", "Stage"]

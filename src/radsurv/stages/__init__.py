"""The stage kit: one way to write a pipeline stage.

* :mod:`~radsurv.stages.registry`: the stages, what each reads and declares it writes;
  provenance lines.
* :mod:`~radsurv.stages.context`: :func:`open_stage`, the first call of every stage
  notebook (profile, section, seed, workers, timing, declared paths, writers).
* :mod:`~radsurv.stages.readers`: one typed reader per stage's outputs.
* :mod:`~radsurv.stages.flow`: the patient flow every stage appends to.
* :mod:`~radsurv.stages.timing`: ``with timed(out_dir, step):``.

How to add a stage: ``docs/adding-a-stage.md``.
"""

from .context import StageContext, open_stage, resolve_n_jobs, stage_declaration
from .flow import FlowEvent, PatientFlow, draw_flow
from .readers import (CohortOutputs, FeatureOutputs, ModelOutputs, SegmentationOutputs, read_cohort, read_features,
                      read_models, read_oracle, read_prevalidated, read_segmentation, read_signatures,
                      read_truth)
from .registry import (PUBLISHED_KINDS, STAGE_BY_NAME, STAGES, Artefact, Stage, check_registry, downstream_of,
                       provenance, stage_by_name)
from .timing import record_step, timed

__all__ = [
    "Artefact", "CohortOutputs", "FeatureOutputs", "FlowEvent", "PUBLISHED_KINDS", "PatientFlow", "STAGES",
    "STAGE_BY_NAME", "ModelOutputs", "SegmentationOutputs", "Stage", "StageContext", "check_registry", "downstream_of", "draw_flow",
    "open_stage", "provenance", "read_cohort", "read_features", "read_models", "read_oracle", "read_prevalidated",
    "read_segmentation", "read_signatures", "read_truth", "record_step",
    "resolve_n_jobs", "stage_by_name", "stage_declaration", "timed",
]

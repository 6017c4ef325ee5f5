"""The six Cox models of the study (stage ``04_models``).

* :mod:`~radsurv.models.design`: the coded clinical and MRI variables.
* :mod:`~radsurv.models.selection`: univariable screen and backward elimination by AIC.
* :mod:`~radsurv.models.six_models`: the six models, fitted on training.
* :mod:`~radsurv.models.evaluation`: discrimination and comparisons per set.
* :mod:`~radsurv.models.stage`: the ``04_models`` stage.
"""

from .design import Design, design_matrix
from .evaluation import model_comparisons, model_discrimination
from .selection import SelectionResult, backward_aic, univariable_screen
from .six_models import MODELS, CoxModel, SixModels, develop_models

__all__ = ["MODELS", "CoxModel", "Design", "SelectionResult", "SixModels", "backward_aic", "design_matrix",
           "develop_models", "model_comparisons", "model_discrimination", "univariable_screen"]

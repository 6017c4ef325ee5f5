"""Models 5 and 6 developed on pre-validated training Rad-scores (the primary analysis)
beside the same models developed the study's way (the training patients' own,
resubstitution, Rad-scores): the named comparison of ``04_models``.

A Rad-score that LASSO fitted to the training outcomes separates the training patients
better than it separates anyone else. Weighed by a Cox model on those same patients, its
hazard ratio, the model's AIC, the test of its added value and the training C carry that
optimism. The primary models weigh instead each training patient's pre-validated
Rad-score (the cross-validation fit that did not see the patient; Tibshirani & Efron
2002); :func:`compare_training_scores` sets the two ways side by side: the Rad-score's
hazard ratio, the test of what it adds, and the C in every set. The test sets are scored
by the same final signature either way, so a difference there comes from the weights
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from ..labels import SPLITS
from ..results import ShowsItself
from ..stats import harrell_c
from .design import RADSCORE
from .six_models import MODELS, SixModels

__all__ = ["COMPARED", "TRAINING_SCORE_COLUMNS", "TrainingScoreComparison", "compare_training_scores",
           "training_score_row"]

#: The models whose Rad-score weight the comparison shows (the study's models 5 and 6).
COMPARED = ("radiomics", "imaging")

#: The ways, primary first, with their printed names.
WAYS = {"prevalidated": "Pre-validated (primary)", "resubstitution": "Resubstitution (the study's way)"}

TRAINING_SCORE_COLUMNS = ["way", "model", "n", "events", "coef", "hr", "hr_lower", "hr_upper", "p", "added_test",
                          "added_chisq", "added_p",
                          *[f"c_{s}{x}" for s in SPLITS for x in ("", "_lower", "_upper")]]


def training_score_row(way: str, key: str, six: SixModels, scores: pd.DataFrame, outcome: pd.DataFrame) -> dict:
    """One model's row of :func:`compare_training_scores`: its Rad-score's coefficient,
    hazard ratio (95% CI) and Wald p (pooled by Rubin's rules with imputation), the test of
    the Rad-score added to the nested Rad-score-free model, and Harrell's C (95% CI) in
    each set.

    Parameters
    ----------
    way : str
        ``"prevalidated"`` or ``"resubstitution"``.
    key : str
        The model (``"radiomics"`` or ``"imaging"``).
    six : SixModels
        The developed models of that way.
    scores : DataFrame
        :meth:`SixModels.scores` of every scored patient (index as ``outcome``).
    outcome : DataFrame
        ``split``, ``time``, ``event``.
    """
    model = six.models[key]
    hr = model.hazard_ratios().set_index("term").loc[RADSCORE]
    tests = six.likelihood_ratio_tests().set_index("model")
    row = {"way": way, "model": key, "n": int(model.fit_.n), "events": int(model.fit_.n_events),
           "coef": float(hr["coef"]), "hr": float(hr["hr"]), "hr_lower": float(hr["hr_lower"]),
           "hr_upper": float(hr["hr_upper"]), "p": float(hr["p"]),
           "added_test": str(tests.loc[key, "test"]) if key in tests.index else "",
           "added_chisq": float(tests.loc[key, "chisq"]) if key in tests.index else np.nan,
           "added_p": float(tests.loc[key, "p"]) if key in tests.index else np.nan}
    for s in SPLITS:
        sel = (outcome["split"] == s).to_numpy() & scores[key].notna().to_numpy()
        e = outcome.loc[sel, "event"].to_numpy(int)
        if sel.sum() == 0 or e.sum() == 0:
            row.update({f"c_{s}": np.nan, f"c_{s}_lower": np.nan, f"c_{s}_upper": np.nan})
            continue
        c = harrell_c(outcome.loc[sel, "time"].to_numpy(float), e, scores.loc[sel, key].to_numpy(float))
        row.update({f"c_{s}": c.c, f"c_{s}_lower": c.lower, f"c_{s}_upper": c.upper})
    return row


@dataclass(frozen=True, repr=False)
class TrainingScoreComparison(ShowsItself):
    """Models 5 and 6 on pre-validated training Rad-scores (primary) and on the
    resubstitution ones (the study's way).

    ``summary()`` has one row per way and model: the Rad-score's HR (95% CI) and p, the
    test of what it adds to the nested clinical model, and Harrell's C per set.

    Attributes
    ----------
    table : DataFrame
        :data:`TRAINING_SCORE_COLUMNS`, primary rows first.
    """

    table: pd.DataFrame

    def title(self) -> str:
        if self.table.empty:
            return "Training Rad-scores: no model with the Rad-score was fitted, nothing to compare"
        t = self.table.set_index(["way", "model"])
        key = "imaging" if ("prevalidated", "imaging") in t.index else self.table["model"].iloc[0]
        parts = [f"{w}: HR {t.loc[(w, key), 'hr']:.2f}, external C {t.loc[(w, key), 'c_external']:.3f}"
                 for w in WAYS if (w, key) in t.index]
        return f"The Rad-score of the {MODELS[key].lower()} by training Rad-score ({'; '.join(parts)})"

    def summary(self) -> pd.DataFrame:
        cols = ["hr", "hr_lower", "hr_upper", "p", "added_test", "added_p", "c_train", "c_internal", "c_external"]
        if self.table.empty:
            return pd.DataFrame(columns=cols)
        return self.table.assign(model=self.table["model"].map(MODELS)).set_index(["way", "model"])[cols]

    def variables(self) -> dict:
        """The manuscript's ``models.training_scores`` (strings formatted once): per model
        and way ``hr`` ("1.85 (1.40-2.44)"), ``c_train``, ``c_internal``, ``c_external``;
        ``primary``: the primary way."""
        v: dict = {"primary": "prevalidated"}
        for r in self.table.itertuples(index=False):
            v.setdefault(r.model, {})[r.way] = {
                "hr": f"{r.hr:.2f} ({r.hr_lower:.2f}-{r.hr_upper:.2f})",
                **{f"c_{s}": "–" if not np.isfinite(getattr(r, f"c_{s}")) else f"{getattr(r, f'c_{s}'):.3f}"
                   for s in SPLITS}}
        return v


def compare_training_scores(primary: SixModels, study: SixModels, primary_scores: pd.DataFrame,
                            study_scores: pd.DataFrame, outcome: pd.DataFrame,
                            models: tuple[str, ...] = COMPARED) -> TrainingScoreComparison:
    """Models 5 and 6 developed on pre-validated training Rad-scores against the same
    models developed on the resubstitution ones.

    Parameters
    ----------
    primary : SixModels
        :func:`radsurv.models.develop_models` on the design whose training Rad-score is
        pre-validated (``cohort_design(..., prevalidated=...)``).
    study : SixModels
        The same on the design whose training Rad-score is the final signature's own
        (``cohort_design(...)`` without ``prevalidated``).
    primary_scores, study_scores : DataFrame
        Their :meth:`SixModels.scores` of every scored patient (the test sets are scored
        by the final signature in both).
    outcome : DataFrame
        ``split``, ``time``, ``event`` (index as the scores).
    models : tuple of str
        The models compared (those fitted both ways are shown).

    Returns
    -------
    TrainingScoreComparison

    References
    ----------
    .. [1] Tibshirani RJ, Efron B. Pre-validation and inference in microarrays. Stat Appl
       Genet Mol Biol. 2002;1:Article 1. doi:10.2202/1544-6115.1000
    """
    rows = []
    ways: Mapping[str, tuple[SixModels, pd.DataFrame]] = {"prevalidated": (primary, primary_scores),
                                                          "resubstitution": (study, study_scores)}
    for way, (six, scores) in ways.items():
        for key in models:
            if key in six.models and RADSCORE in six.models[key].variables:
                rows.append(training_score_row(way, key, six, scores.loc[outcome.index], outcome))
    return TrainingScoreComparison(pd.DataFrame(rows, columns=TRAINING_SCORE_COLUMNS))

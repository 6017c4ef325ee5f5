"""Stage 05 when 04_models fitted no model, or not the final one (issue 28, item 2): the
stage completes, writes every declared output with the reason in place of what needs the
missing model, lists the reasons as ``not_estimable`` and the paper says so. Built in
memory: a small cohort, 04's outputs of one model, calibration and decision curves computed,
the bootstrap's rows fabricated (its own tests are in test_optimism.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from radsurv.config import load_profile, stage_params  # noqa: E402
from radsurv.manuscript import render_text  # noqa: E402
from radsurv.pipeline.execute import check_outputs  # noqa: E402
from radsurv.stages import open_stage, stage_by_name, stage_declaration  # noqa: E402
from radsurv.stages.readers import ModelOutputs  # noqa: E402
from radsurv.validation import (OptimismBootstrap, PointsCalculator, calibration_by_set, decision_curves,  # noqa: E402
                                example_patient, final_model_nomogram, validation_inputs)
from radsurv.validation.nomogram import NoNomogram  # noqa: E402
from radsurv.validation.stage import bootstrap_not_run, write_validation_artefacts  # noqa: E402

from .test_results import PROFILE, _cohort, _models  # noqa: E402

STAGE = stage_by_name("05_validation")


def _ctx(tmp_path, root, final):
    params = stage_params(load_profile("quick", root), STAGE.sections)
    params["validation"]["final_model"] = final
    return open_stage(stage_declaration(STAGE), "unused.yml", tmp_path, tmp_path / "05_validation.partial", params)


def _bootstrap(models) -> OptimismBootstrap:
    """Two resamples of each fitted model with known C: optimism 0.05, test slope 0.8."""
    rows = [{"resample": b, "model": k, "apparent_c": 0.75, "test_c": 0.70, "test_slope": 0.8, "variables": "ki67",
             "failed": ""} for b in range(2) for k in models]
    return OptimismBootstrap(resamples=pd.DataFrame(rows),
                             calibration=pd.DataFrame(columns=["resample", "horizon", "predicted", "apparent", "test"]),
                             apparent={k: 0.78 for k in models}, models=tuple(models), n_resamples=2)


def _validate(inputs):
    """The notebook's calibration, decision curves, nomogram and example patient."""
    calibration = calibration_by_set(inputs.outcome, inputs.scores, inputs.s0, inputs.models, inputs.horizons,
                                     n_groups=2, min_per_group=5, min_events=3)
    decision = decision_curves(inputs.outcome, inputs.scores, inputs.s0, inputs.models, inputs.horizons,
                               np.round(np.arange(0.05, 0.41, 0.05), 10))
    nom, calculator = final_model_nomogram(inputs)
    example = calculator(example_patient(inputs.design.X[inputs.train], inputs.final_variables(), inputs.coding))
    return calibration, decision, nom, calculator, example


def _run(tmp_path, root, models, final):
    """The notebook's steps, as it runs them when the final model is not fitted."""
    cohort, radscores = _cohort()
    ctx = _ctx(tmp_path, root, final)
    inputs = validation_inputs(cohort, radscores, models, PROFILE, {"horizons_months": [36, 60], "final_model": final})
    calibration, decision, nom, calculator, example = _validate(inputs)
    optimism = _bootstrap(inputs.models) if inputs.models else bootstrap_not_run()
    corrected = optimism.corrected_calibration({}, {})
    frequency = optimism.selection_frequency(inputs.variable_labels())
    v = write_validation_artefacts(ctx, inputs, calibration, decision, calculator, example, optimism, corrected,
                                   frequency)
    return ctx, inputs, nom, calculator, v


def _no_model(cohort, radscores) -> ModelOutputs:
    d = cohort.set_index("patient_id")
    return ModelOutputs(scores=pd.DataFrame({"split": d["split"]}),
                        baseline=pd.DataFrame(columns=["model", "horizon", "s0"]),
                        hazard_ratios=pd.DataFrame(columns=["model", "term", "coef"]), selection=pd.DataFrame(),
                        discrimination=pd.DataFrame(columns=["model", "set", "measure", "estimate"]))


def _published(ctx):
    """Every declared output is there and nothing undeclared; the variables as the paper reads them."""
    missing, undeclared = check_outputs(STAGE, ctx.out_dir)
    assert missing == [] and undeclared == []
    return yaml.safe_load((ctx.out_dir / "variables.yml").read_text(encoding="utf-8"))


def test_an_unfitted_final_model_validates_the_fitted_ones_and_says_which_key_to_set(tmp_path, root):
    cohort, radscores = _cohort()
    ctx, inputs, nom, calculator, v = _run(tmp_path, root, _models(cohort, radscores), "clinical")
    assert nom is None and isinstance(calculator, NoNomogram)
    doc = _published(ctx)["validation"]
    why = ("the final model, the clinical model, was not fitted by 04_models (no variable was selected for it), so "
           "its nomogram, its bootstrap-corrected calibration curve and its calibration and net benefit in the "
           "Results cannot be estimated (the fitted models are validated in the tables); to validate another "
           "model, set validation.final_model to one of: imaging")
    signature = ("the multi-modal radiomics signature's optimism cannot be estimated: 04_models did not fit it (its "
                 "Rad-score selected no feature and is the same for every patient)")
    assert doc["not_estimable"] == [why, signature] and doc["final_fitted"] is False
    # the fitted model is validated as usual: 0.78 - (0.75 - 0.70), slope 1 - (1 - 0.8)
    assert doc["imaging"] == {"apparent_c": "0.780", "optimism": "0.050", "corrected_c": "0.730",
                              "corrected_slope": "0.80"}
    # the unfitted models' entries resolve (the abstract reads validation.imaging.corrected_c)
    assert doc["clinical"] == {"apparent_c": "–", "optimism": "–", "corrected_c": "–", "corrected_slope": "–",
                               "fitted": False}
    assert not any(k.startswith("benefit_") for k in doc) and "example" not in doc
    out = ctx.out_dir
    assert "Multi-modal clinical imaging model" in (out / "optimism_table.md").read_text(encoding="utf-8")
    assert "Multi-modal clinical imaging model" in (out / "calibration_table.md").read_text(encoding="utf-8")
    assert "set validation.final_model to one of: imaging." in (out / "nomogram_table.md").read_text(encoding="utf-8")
    assert pd.read_csv(out / "corrected_calibration.csv").columns.tolist() == [
        "horizon", "predicted", "apparent", "optimism", "corrected", "n_resamples"]
    # the points calculator read back says why there is none, and scores nobody
    back = PointsCalculator.from_json(out / "nomogram.json")
    assert isinstance(back, NoNomogram) and back.reason == why and back.nomogram is None
    assert len(back({})) == 0 and why in back._repr_html_()
    text = render_text("05_validation", "text-validation.md", {"validation": doc}, {})
    assert text.startswith("The final model chosen for validation, the clinical model, was not fitted by "
                           "04_models; the model it did fit was validated over 2 of 2 bootstrap resamples, each "
                           "repeating the whole development, with an optimism-corrected C of 0.730 for the "
                           "multi-modal clinical imaging model (@tbl-optimism;")
    assert text.endswith(f" Not estimable on this cohort: {why}; {signature}.\n")


def test_no_fitted_model_validates_nothing_and_every_output_says_why(tmp_path, root):
    cohort, radscores = _cohort()
    ctx, inputs, nom, calculator, v = _run(tmp_path, root, _no_model(cohort, radscores), "imaging")
    assert inputs.models == () and nom is None
    doc = _published(ctx)["validation"]
    why = ("no model could be validated: 04_models fitted none (no variable was selected for any model), so there "
           "is no optimism, calibration, decision curve or nomogram to estimate")
    assert doc["not_estimable"] == [why]
    assert (doc["n_resamples"], doc["n_resamples_used"]) == (0, 0)
    assert all(doc[k]["fitted"] is False and doc[k]["corrected_c"] == "–"
               for k in ("clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"))
    said = why[0].upper() + why[1:] + "."
    for table in ("optimism_table.md", "calibration_table.md", "decision_table.md", "nomogram_table.md"):
        assert said in (ctx.out_dir / table).read_text(encoding="utf-8"), table
    text = render_text("05_validation", "text-validation.md", {"validation": doc}, {})
    assert text == f"No model was fitted by 04_models, so none could be validated. Not estimable on this cohort: {why}.\n"
    # the empty bootstrap shows itself and plots as "nothing to show"
    empty = bootstrap_not_run()
    assert empty.summary().empty and empty.n_failed == 0 and "0 resamples" in empty.title()
    empty.plot()


def test_a_fitted_final_model_writes_no_degraded_key(tmp_path, root):
    """The normal case is untouched: no final_fitted, no unfitted entry beyond the models not fitted."""
    from radsurv.stats import fit_cox

    cohort, radscores = _cohort(n=400, seed=2)
    inputs = validation_inputs(cohort, radscores, _models(cohort, radscores), PROFILE,
                               {"horizons_months": [36, 60], "final_model": "imaging"})
    train = inputs.train
    X = inputs.design.X.loc[train, ["radscore", "er[negative]", "ki67"]]
    fit = fit_cox(X, inputs.outcome["time"][train], inputs.outcome["event"][train])
    models = _models(cohort, radscores, coef={k: float(fit.coef[k]) for k in X.columns})
    ctx = _ctx(tmp_path, root, "imaging")
    inputs = validation_inputs(cohort, radscores, models, PROFILE, {"horizons_months": [36, 60],
                                                                    "final_model": "imaging"})
    assert inputs.final_fitted and inputs.not_estimable == []
    calibration, decision, nom, calculator, example = _validate(inputs)
    optimism = _bootstrap(inputs.models)
    v = write_validation_artefacts(ctx, inputs, calibration, decision, calculator, example, optimism,
                                   optimism.corrected_calibration({}, {}), optimism.selection_frequency({}))
    doc = _published(ctx)["validation"]
    assert "final_fitted" not in doc and "fitted" not in doc["imaging"]
    # only the signature is missing among what the paragraph reads: 04 fits it whenever the Rad-score varies
    assert doc["not_estimable"] == ["the multi-modal radiomics signature's optimism cannot be estimated: 04_models "
                                    "did not fit it (its Rad-score selected no feature and is the same for every "
                                    "patient)"]
    assert "example" in doc and any(k.startswith("benefit_external") for k in doc)
    text = render_text("05_validation", "text-validation.md", {"validation": doc}, {})
    assert text.startswith("Over 2 of 2 bootstrap resamples") and "radiomics signature's optimism was" not in text


@pytest.mark.parametrize("model", ["imaging", "clinical"])
def test_calibration_plot_of_an_unfitted_model_says_so(model):
    cohort, radscores = _cohort()
    inputs = validation_inputs(cohort, radscores, _models(cohort, radscores), PROFILE,
                               {"horizons_months": [36, 60], "final_model": "imaging"})
    calibration = calibration_by_set(inputs.outcome, inputs.scores, inputs.s0, inputs.models, inputs.horizons,
                                     n_groups=2, min_per_group=5, min_events=3)
    ax = calibration.plot(model=model, set="train")
    texts = [t.get_text() for t in ax.texts]
    assert (texts == ["No calibration of the clinical model: the model was not fitted"]) == (model == "clinical")

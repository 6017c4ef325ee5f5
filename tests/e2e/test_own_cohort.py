"""End to end on a user's own cohort unlike the twin, following the README's recipe.

The cohort (:mod:`tests.e2e.foreign_cohort`): 60 MRI-only patients, NRRD / NIfTI / DICOM
series, centres ``Hospital A`` / ``Hospital B``, follow-up in days, two clinical
columns (one with missing values), hospital-number ids, crops tighter than the 10 mm
ring room. The profile is the README's own-cohort block, taken from README.md (with
``extends: quick`` instead of ``paper`` for speed); ``validate`` is run as the README
writes it; then every stage and the preview.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from radsurv.cli import main as cli
from radsurv.pipeline.runner import run_pipeline

from ..test_profiles import readme_recipe
from .foreign_cohort import write_foreign_cohort
from .._project import copy_project

pytestmark = pytest.mark.slow

N = 60
#: Patients (by position) whose mask the fixture stores in the opposite slice order.
REVERSED = [i for i in range(N) if i % 3 == 2 and i % 6 == 5]


@pytest.fixture(scope="module")
def study(tmp_path_factory, root):
    proj = copy_project(root, tmp_path_factory.mktemp("own"))
    folder = proj / "study"
    write_foreign_cohort(folder, n=N)
    profile, commands = readme_recipe(root)
    assert "extends: paper" in profile
    (folder / "mystudy.yml").write_text(profile.replace("extends: paper", "extends: quick"), encoding="utf-8")
    return proj, folder, commands


@pytest.fixture(scope="module")
def built(study):
    proj, folder, _ = study
    report = run_pipeline(folder / "mystudy.yml", root=proj, renderer="preview")
    assert report.exit_code == 0, report.failure
    return proj, folder, report


def test_readme_validate_command_passes_on_the_cohort(study, monkeypatch, capsys):
    proj, folder, commands = study
    validate = next(c for c in commands if c.split()[1] == "validate")
    assert validate == ".venv/bin/radsurv validate manifest.csv --params mystudy.yml"
    monkeypatch.chdir(folder)
    assert cli(validate.split()[1:]) == 0
    out = capsys.readouterr().out
    assert f"{N} patients, no problems found" in out
    # the masks stored in the opposite slice order are named, not refused
    assert f"{len(REVERSED)} mask(s) lie on another voxel grid over the same physical volume" in out
    assert len(re.findall(r"patient 'HN-\d+', column 'mri_mask': images/HN-\d+_seg\.nii\.gz: mask resampled", out)) \
        == len(REVERSED)
    # the same command with the default ring policy names the tight crops, by patient
    strict = folder / "strict.yml"
    strict.write_text((folder / "mystudy.yml").read_text(encoding="utf-8").replace(
        "ring_at_border: clip", "ring_at_border: refuse"), encoding="utf-8")
    assert cli(["validate", "manifest.csv", "--params", "strict.yml"]) == 2
    err = capsys.readouterr().err
    assert "lesion closer than the 10 mm peri-tumoral ring to the image border" in err
    assert re.search(r"row \d+, patient 'HN-\d+', column 'mri_mask'", err)


def test_every_stage_runs_to_the_preview(built):
    proj, _, report = built
    assert report.executed[:6] == ["00_cohort", "01_segmentation", "02_features", "03_signatures", "04_models",
                                   "05_validation"]
    assert report.paper == proj / "build/mystudy/paper/index.html" and report.paper.is_file()


def test_string_centres_days_and_the_fractional_split(built):
    proj, folder, _ = built
    cohort = pd.read_csv(proj / "build/mystudy/00_cohort/cohort.csv")
    manifest = pd.read_csv(folder / "manifest.csv")
    assert sorted(cohort["center"].astype(str).unique()) == ["Hospital A", "Hospital B"]
    internal = int((manifest["center"] == "Hospital A").sum())
    counts = cohort["split"].value_counts()
    assert counts["external"] == N - internal
    assert counts["train"] + counts["internal"] == internal
    assert counts["train"] == int(np.floor(0.65 * internal))  # a share of the internal centre


def test_supplied_masks_are_analysed_and_no_network_is_trained(built):
    proj, _, _ = built
    seg = pd.read_csv(proj / "build/mystudy/01_segmentation/segmentation.csv")
    assert len(seg) == N and set(seg["source"]) == {"user"} and set(seg["modality"]) == {"mri"}
    assert pd.read_csv(proj / "build/mystudy/01_segmentation/metrics.csv").empty
    assert not (proj / "build/mystudy/01_segmentation/masks").exists()
    timings = (proj / "build/mystudy/timings.json").read_text(encoding="utf-8")
    assert "01_segmentation" in timings and "U-Net training" not in timings


def test_masks_are_put_on_the_image_grid_and_reduced_to_the_lesion_label(built):
    import SimpleITK as sitk

    proj, folder, _ = built
    out = proj / "build/mystudy/00_cohort"
    prepared = pd.read_csv(out / "prepared_masks.csv")
    manifest = pd.read_csv(folder / "manifest.csv")
    # every mask is prepared (mask_label: 1), the reversed ones also resampled
    assert len(prepared) == N and set(prepared["modality"]) == {"mri"}
    resampled = prepared[prepared["action"].str.contains("resampled")]
    assert sorted(resampled["patient_id"]) == sorted(manifest["patient_id"].iloc[REVERSED])
    assert set(prepared["action"]) == {"label 1 kept", "resampled onto the image grid, label 1 kept"}
    for row in resampled.itertuples():
        src = manifest.set_index("patient_id").loc[row.patient_id]
        image = sitk.ReadImage(str(sorted((folder / src["mri_image"]).glob("*.dcm"))[0]))  # one slice: the x-y grid
        mask = sitk.ReadImage(str(out / row.mask))
        supplied = sitk.ReadImage(str(folder / src["mri_mask"]))
        assert mask.GetDirection() != supplied.GetDirection()          # the supplied grid was the other one
        np.testing.assert_allclose(mask.GetSpacing()[:2], image.GetSpacing()[:2])
        a, b = sitk.GetArrayFromImage(mask), sitk.GetArrayFromImage(supplied)
        assert set(np.unique(a)) == {0, 1}                             # label 2 is gone
        np.testing.assert_array_equal(a, (b[::-1] == 1).astype(a.dtype))  # same voxels, slice order restored
    # later stages read the prepared masks, the paper counts them
    seg = pd.read_csv(proj / "build/mystudy/01_segmentation/segmentation.csv")
    assert all("00_cohort/masks/mri/" in str(m) for m in seg["mask"])
    html = (proj / "build/mystudy/paper/index.html").read_text(encoding="utf-8")
    assert f"The masks of {len(REVERSED)} patients were stored on a voxel grid other than their image" in html
    assert "The lesion is label 1 of the supplied masks" in html


def test_mri_only_features_and_the_single_modality_signature(built):
    proj, _, _ = built
    out = proj / "build/mystudy/02_features"
    assert (out / "matrix_mri_intra.parquet").is_file() and not (out / "matrix_us_intra.parquet").exists()
    clipping = pd.read_csv(out / "ring_clipping.csv")
    # the 5 mm analysis ring fits every crop (the 10 mm room check is what clip relaxes)
    assert len(clipping) == N and (clipping["ring_clipped_fraction"] == 0).all()
    sig = yaml.safe_load((proj / "build/mystudy/03_signatures/variables.yml").read_text(encoding="utf-8"))
    assert sig["signatures"]["multimodal_choice_label"] == "MRI (intra + peri)"


def test_no_patient_identifier_reaches_the_paper(built):
    proj, folder, _ = built
    ids = set(pd.read_csv(folder / "manifest.csv")["patient_id"])
    published = [p for p in (proj / "build/mystudy/paper").rglob("*") if p.is_file()]
    published += [proj / "_variables.yml", *(proj / "tables").rglob("*.md")]
    assert published
    for path in published:
        if path.suffix in (".png", ".jpg", ".svg", ".pdf"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = [i for i in ids if i in text]
        assert not leaked, f"{path}: {leaked[:3]}"
    html = (proj / "build/mystudy/paper/index.html").read_text(encoding="utf-8")
    assert "the lesion masks supplied with the images" in html
    assert "60 patients" in html
    # the Methods describe this cohort, not the twin's design
    assert "The cohort has no ultrasound" in html and "Three signatures were developed" in html
    assert "U-Net reached" not in html and "0 US and 0 MRI" not in html
    assert "Across the random perturbations of the supplied masks the median ICC was" in html
    assert "the ICC across random perturbations of the supplied masks, per modality" in html   # what fig-icc shows
    assert "No automatic segmentation was run" in html and "U-Net Dice" not in html


@pytest.fixture(autouse=True, scope="module")
def _cleanup(tmp_path_factory):
    yield
    # the images of 60 patients: do not keep them in the temporary folder
    base = tmp_path_factory.getbasetemp()
    for folder in base.glob("own*"):
        shutil.rmtree(folder, ignore_errors=True)

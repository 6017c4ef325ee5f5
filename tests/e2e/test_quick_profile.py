"""End to end: the `quick` profile from nothing to the rendered preview, in a copy of
the project. Asserts on the artefacts and on what the paper shows."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radsurv.pipeline.runner import run_pipeline

from .._project import copy_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory, root):
    proj = copy_project(root, tmp_path_factory.mktemp("quick"))
    report = run_pipeline("quick", root=proj, renderer="preview")
    assert report.exit_code == 0, report.failure
    return proj, report


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_reports_renderer_and_paper(built):
    proj, report = built
    assert report.executed[:6] == ["00_cohort", "01_segmentation", "02_features", "03_signatures", "04_models",
                                   "05_validation"]
    assert report.renderer == "preview"
    assert report.paper == proj / "build/quick/paper/index.html" and report.paper.is_file()
    assert list(report.outputs) == ["html", "docx", "pdf", "bundle"]
    timings = yaml.safe_load((proj / "build/quick/timings.json").read_text(encoding="utf-8"))
    for stage in report.executed:
        assert timings["stages"][stage]["wall_s"] > 0
        assert timings["stages"][stage]["peak_rss_mb"] > 10
        assert timings["stages"][stage]["steps_s"]


def test_table1_rows_and_counts(built, quick_profile):
    proj, _ = built
    t1 = pd.read_csv(proj / "build/quick/00_cohort/table1.csv", dtype=str, keep_default_na=False)
    n_row = t1[t1.Characteristic == "Patients, n"].iloc[0]
    assert (n_row["Overall"], n_row["Training"], n_row["Internal test"], n_row["External test"]) == ("230", "104", "56", "70")
    labels = quick_profile["cohort"]["labels"]
    shown = set(t1.Characteristic)
    for col in list(quick_profile["cohort"]["columns"]["clinical"]) + list(quick_profile["cohort"]["columns"]["mri"]):
        assert any(s.startswith(labels[col]) for s in shown), labels[col]
    # Every categorical variable has one row per level, and its counts add up per set.
    # grade misses values at random in the twin (cohort.twin.missing): a Missing row, and the
    # four rows add up to the training set
    grade = t1.iloc[t1.index[t1.Characteristic.str.startswith("Histological grade")][0]:].head(4)
    assert list(grade.Level) == ["G1", "G2", "G3", "Missing"]
    assert sum(int(v.split(" ")[0]) for v in grade["Training"]) == 104
    pvals = [p for p in t1["P-value"] if p]
    assert len(pvals) == len(shown) - 2  # every characteristic but the header row and the blank repeats
    # No identifier in the table.
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv")
    text = (proj / "build/quick/00_cohort/table1.md").read_text(encoding="utf-8")
    assert not any(pid in text for pid in cohort.patient_id)


def test_event_rate_within_declared_range(built, quick_profile):
    proj, _ = built
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv")
    lo, hi = quick_profile["cohort"]["expected"]["event_rate"]
    assert lo <= cohort.dfs_event.mean() <= hi
    assert set(cohort.split) == {"train", "internal", "external"}
    assert (cohort.split[cohort.center != 1] == "external").all()


def test_preview_shows_every_figure_table_and_number(built):
    proj, report = built
    html = report.paper.read_text(encoding="utf-8")
    assert "{{<" not in html and "@fig-" not in html and "@tbl-" not in html and "@sec-" not in html
    figures = set(re.findall(r'id="(fig-[\w-]+)"', html))
    assert figures == {"fig-flow", "fig-km-sets", "fig-segmentation", "fig-icc", "fig-imaging-examples",
                       "fig-km-risk", "fig-lasso", "fig-coefficients", "fig-xtile", "fig-forest", "fig-c-models",
                       "fig-td-roc", "fig-calibration", "fig-decision", "fig-nomogram", "fig-permutation",
                       "fig-ring-width", "fig-outcome-draws", "fig-scanner-agreement"}
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) == len(figures)
    assert "Figure 1" in html and "Figure 2" in html and "Table 1" in html
    assert 'id="fig-flow"' in html and 'id="fig-km-sets"' in html and 'id="tbl-baseline"' in html
    assert 'id="fig-segmentation"' in html and 'id="tbl-segmentation"' in html
    assert 'id="fig-icc"' in html and 'id="tbl-features"' in html and 'id="tbl-ibsi"' in html
    # Every caption's source links to the executed notebook, rendered beside the preview.
    for stage in ("00_cohort", "01_segmentation", "02_features", "03_signatures", "04_models", "05_validation",
                  "06_sensitivity"):
        assert (f'Source: <a href="executed/{stage}-preview.html"><code>notebooks/{stage}.ipynb</code></a>, '
                "profile <code>quick</code>") in html
        page = report.paper.parent / "executed" / f"{stage}-preview.html"
        assert page.is_file() and "<img" in page.read_text(encoding="utf-8")
    assert "simulated digital twin" in html
    assert "Lambin" in html  # citations resolved into a bibliography


@pytest.fixture(scope="module")
def documents(built):
    """The quick paper's DOCX and PDF read as a reader would (tests/_documents.py), and the
    numbers of figures and tables the manuscript has."""
    from radsurv.report.qmd import collect_labels, load_manuscript

    from .._documents import docx_facts, pdf_facts

    proj, report = built
    m = load_manuscript(proj)
    labels, _ = collect_labels(m.doc)
    kinds = [label.kind for label in labels.values()]
    return {"manuscript": m, "n_figures": kinds.count("fig"), "n_tables": kinds.count("tbl"),
            "docx": docx_facts(report.outputs["docx"]), "pdf": pdf_facts(report.outputs["pdf"])}


def test_docx_and_pdf_beside_the_preview(built, documents):
    """The DOCX and the PDF of the quick paper (issue 30): every figure an embedded image
    under its numbered caption (on its PDF page), every table a table with rows, every
    cross-reference resolved and linked, numbered references, page numbers, fonts embedded,
    a title page that says the cohort is simulated, the supplement on a page of its own."""
    from .._documents import docx_problems, pdf_problems

    proj, report = built
    paper = proj / "build/quick/paper"
    assert report.outputs == {"html": paper / "index.html", "docx": paper / "index.docx",
                              "pdf": paper / "index.pdf", "bundle": paper / "submission.zip"}
    n_fig, n_tbl = documents["n_figures"], documents["n_tables"]
    assert n_fig == 19 and n_tbl >= 20     # the figures the preview test lists
    docx, pdf = documents["docx"], documents["pdf"]
    assert docx_problems(docx, n_fig, n_tbl) == []
    assert pdf_problems(pdf, n_fig, n_tbl) == []
    # the title page says what the data are
    subtitle = next(text for style, text in docx.styles if style == "Subtitle")
    assert "simulated" in subtitle and ("Data Source", "Data: simulated digital twin") in docx.styles
    assert "simulated multi-centre digital-twin cohort" in pdf.texts[0].replace("\n", " ")
    assert "Data: simulated digital twin" in pdf.texts[0]
    # numbered citations and their list; the supplement opens a page in both
    assert re.search(r"features \[\d+\]", pdf.text) and re.search(r"(?m)^1\. Lambin P", pdf.text)
    assert any(re.match(r"\d+ Supplementary material", h) for h in docx.page_breaks_before)
    assert any(re.match(r"\s*\d+ Supplementary material", t) for t in pdf.texts)
    assert all(f"{i + 1} / {pdf.n_pages}" in t for i, t in enumerate(pdf.texts))
    assert all(embedded for _, embedded in pdf.fonts) and pdf.internal_links > 50
    # no patient in the article's text
    ids = set(pd.read_csv(proj / "build/quick/00_cohort/cohort.csv").patient_id)
    words = set(re.findall(r"[\w-]+", docx.text + pdf.text))
    assert not words & ids


def test_a_second_render_gives_the_same_pdf_and_bundle(built, documents, tmp_path):
    """The same build rendered again: the same PDF and submission zip, byte for byte; the
    bundle's manifest lists every file with its role and hash."""
    import zipfile

    from radsurv.pipeline.publish import write_submission_bundle
    from radsurv.report.documents import render_pdf

    proj, report = built
    m = documents["manuscript"]
    assert render_pdf(m, tmp_path / "index.pdf").read_bytes() == report.outputs["pdf"].read_bytes()
    articles = {k: v for k, v in report.outputs.items() if k != "bundle"}
    again = write_submission_bundle(m, report.paper.parent, articles, "quick", output=tmp_path / "again.zip")
    assert again.read_bytes() == report.outputs["bundle"].read_bytes()
    with zipfile.ZipFile(again) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        roles = [f["role"] for f in manifest["files"]]
        assert names == sorted(names) and len(manifest["files"]) == len(names) - 1
        assert {"index.html", "index.docx", "index.pdf"} <= set(names)
        assert roles.count("figure") == documents["n_figures"] and roles.count("supplementary notebook (executed)") == 7
        assert len({i.date_time for i in zf.infolist()}) == 1
        for f in manifest["files"][:5] + manifest["files"][-5:]:
            assert hashlib.sha256(zf.read(f["path"])).hexdigest() == f["sha256"]


def test_cohort_numbers_in_the_paper_are_right(built):
    """The numbers the paper prints about the cohort, recomputed here from cohort.csv
    with radsurv.stats (matched to R), and found in the rendered text."""
    from radsurv.stats import kaplan_meier, logrank, median_survival

    proj, report = built
    html = report.paper.read_text(encoding="utf-8")
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv")
    t, e = cohort.dfs_time.to_numpy(), cohort.dfs_event.to_numpy()
    assert f"Of {len(cohort)} analysed patients" in html
    assert f"{int(e.sum())} patients ({100 * e.mean():.1f}%) had a DFS event" in html
    assert f"Over a median follow-up of {median_survival(t, 1 - e).median:.1f} months" in html
    for split, label in (("train", "training set"), ("internal", "internal test set")):
        sel = (cohort.split == split).to_numpy()
        km = kaplan_meier(t[sel], e[sel], times=[60.0], conf_type="log-log").iloc[0]
        assert f"{100 * km.survival:.1f}% ({100 * km.lower:.1f}-{100 * km.upper:.1f})" in html or \
            f"{100 * km.survival:.1f}% (95% CI {100 * km.lower:.1f}-{100 * km.upper:.1f})" in html, split
    p = logrank(t, e, cohort.split.to_numpy()).p
    assert f"log-rank p = {'<0.001' if p < 0.001 else f'{p:.3f}'}" in html.replace("&lt;", "<")


def test_segmentation_covers_every_patient_and_flags_failures(built):
    """Every patient has an analysis mask per modality, each failed automatic mask is
    named with its reason and replaced by the reader's (policy `reader`), and on the
    easy modality the U-Net beats the classical segmenter on the external set."""
    proj, _ = built
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv")
    seg = pd.read_csv(proj / "build/quick/01_segmentation/segmentation.csv")
    for modality in ("us", "mri"):
        rows = seg[seg.modality == modality]
        assert sorted(rows.patient_id) == sorted(cohort.patient_id)
        failed = rows[rows.flag != "ok"]
        assert (failed.source == "reader").all() and failed.reason.str.contains("replaced by the reader").all()
        assert (rows[rows.flag == "ok"].source == "auto").all()
        assert all((proj / "build/quick/01_segmentation" / m).is_file() for m in rows["mask"])
    metrics = pd.read_csv(proj / "build/quick/01_segmentation/metrics.csv")
    assert {"dice", "hd95_mm"} <= set(metrics.columns)
    var = yaml.safe_load((proj / "build/quick/01_segmentation/variables.yml").read_text(encoding="utf-8"))
    us = var["segmentation"]["us"]
    assert float(us["unet"]["dice_external"]) > 0.8
    assert float(us["unet"]["dice_external"]) > float(us["baseline"]["dice_external"])
    assert us["n_fallback"] == int((seg[seg.modality == "us"].flag != "ok").sum())
    # The patient flow counts the fallbacks by kind of failure (missed lesion, leak to the border).
    from radsurv.segment.stage import FALLBACK_REASONS

    events = json.loads((proj / "build/quick/01_segmentation/flow.json").read_text(encoding="utf-8"))["events"]
    for modality in ("us", "mri"):
        for kind, reason in FALLBACK_REASONS.items():
            mine = [e for e in events if e["kind"] == "fallback" and e["modality"] == modality and e["reason"] == reason]
            expected = sorted(seg[(seg.modality == modality) & (seg.flag == kind)].patient_id.astype(str))
            assert sorted(p for e in mine for p in e["patients"]) == expected, (modality, kind)
    # No identifier in the table or the figure's source table.
    text = (proj / "build/quick/01_segmentation/seg_table.md").read_text(encoding="utf-8")
    assert not any(pid in text for pid in cohort.patient_id)


def test_features_every_patient_four_regions_and_robustness(built, quick_profile):
    """Every analysed patient has features for US and MRI, intra and peri; the matrices
    agree with the tidy table; the subset has every mask source; ICC flags follow the
    threshold; the IBSI check passes; a re-run of the stage extracts nothing."""
    proj, _ = built
    out = proj / "build/quick/02_features"
    seg = pd.read_csv(proj / "build/quick/01_segmentation/segmentation.csv", dtype={"patient_id": str})
    tidy = pd.read_parquet(out / "features.parquet")
    auto = tidy[tidy.mask_source == "auto"]
    assert list(tidy.columns) == ["patient", "modality", "region", "mask_source", "feature", "value"]
    assert np.isfinite(tidy.value).all()
    for (m, r), grp in auto.groupby(["modality", "region"]):
        assert set(grp.patient) == set(seg.loc[seg.modality == m, "patient_id"]), (m, r)
        wide = pd.read_parquet(out / f"matrix_{m}_{r}.parquet")
        assert wide.shape == (grp.patient.nunique(), grp.feature.nunique())
        some = grp.iloc[len(grp) // 2]
        assert wide.loc[some.patient, some.feature] == some.value
    assert {(m, r) for m, r in auto[["modality", "region"]].drop_duplicates().itertuples(index=False)} == {
        ("us", "intra"), ("us", "peri"), ("mri", "intra"), ("mri", "peri")}
    # 2D ultrasound: 2D shape features only; 3D MRI: 3D shape only.
    us_feats, mri_feats = set(auto[auto.modality == "us"].feature), set(auto[auto.modality == "mri"].feature)
    assert any("_shape2D_" in f for f in us_feats) and not any("_shape_" in f for f in us_feats)
    assert any("_shape_" in f for f in mri_feats) and not any("_shape2D_" in f for f in mri_feats)
    n_subset = quick_profile["features"]["reproducibility"]["n"]
    sub = tidy[tidy.mask_source != "auto"]
    assert set(sub.mask_source) == {"reader", "true", "perturbed1", "perturbed2"}
    assert sub.patient.nunique() == n_subset
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv", dtype={"patient_id": str})
    assert set(sub.patient) <= set(cohort.loc[cohort.split == "train", "patient_id"])
    # The peri-tumoral ring never overlaps the lesion and has the stated width: every
    # ring voxel lies within the width of the lesion, and the ring reaches that width.
    import SimpleITK as sitk
    from scipy import ndimage

    width = quick_profile["features"]["ring_width_mm"]
    pid = sorted(sub.patient)[0]
    for modality in ("us", "mri"):
        img = sitk.ReadImage(str(out / f"rois/{modality}/{pid}_auto_intra.nii.gz"))
        intra = sitk.GetArrayFromImage(img) > 0
        peri = sitk.GetArrayFromImage(sitk.ReadImage(str(out / f"rois/{modality}/{pid}_auto_peri.nii.gz"))) > 0
        assert peri.any() and not (intra & peri).any()
        spacing = img.GetSpacing()[::-1]
        dist = ndimage.distance_transform_edt(~intra, sampling=spacing)[peri]
        assert dist.max() <= width + max(spacing) / 2, (modality, dist.max())
        assert dist.max() >= width - max(spacing), (modality, dist.max())
    icc = pd.read_csv(out / "icc.csv")
    threshold = quick_profile["features"]["icc"]["threshold"]
    below = (icc.icc_reader < threshold) | (icc.icc_perturbation < threshold)
    assert (icc.flag == (below | icc.icc_reader.isna() | icc.icc_perturbation.isna())).all()
    ibsi = pd.read_csv(out / "ibsi_table.csv")
    assert len(ibsi) >= 80 and ibsi["pass"].all()
    text = (out / "features_table.md").read_text(encoding="utf-8")
    assert not any(p in text for p in cohort.patient_id)


def test_signatures_score_every_patient_and_the_paper_prints_their_c(built):
    """Every analysed patient has a Rad-score for every signature; the C-indices the
    paper prints are Harrell's C of those Rad-scores (radsurv.stats); the cut and the
    risk groups come from the training set."""
    from radsurv.stats import harrell_c

    proj, report = built
    out = proj / "build/quick/03_signatures"
    scores = pd.read_csv(out / "radscores.csv", dtype={"patient_id": str})
    features = pd.read_parquet(proj / "build/quick/02_features/matrix_us_intra.parquet")
    assert set(scores.patient_id) == set(features.index.astype(str))
    names = ["us_intra", "us_peri", "mri_intra", "mri_peri", "us", "mri", "multimodal_union",
             "multimodal_stacked", "multimodal"]
    assert names == [c for c in scores.columns if c not in ("patient_id", "split")]
    assert np.isfinite(scores[names].to_numpy()).all()
    assert abs(scores.loc[scores.split == "train", "multimodal"].mean()) < 1e-9   # centred on training
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv", dtype={"patient_id": str}).set_index("patient_id")
    html = report.paper.read_text(encoding="utf-8")
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["signatures"]["multimodal"]
    for split in ("internal", "external"):
        sel = scores.split == split
        c = cohort.loc[scores.loc[sel, "patient_id"]]
        hc = harrell_c(c.dfs_time, c.dfs_event, scores.loc[sel, "multimodal"])
        assert var[f"c_{split}"] == f"{hc.c:.3f}" and var[f"c_{split}_ci"] == f"{hc.lower:.3f}-{hc.upper:.3f}"
        assert f"{hc.c:.3f}" in html
    flow = pd.read_csv(out / "signature_flow.csv")
    assert (flow.filter(like="selected").iloc[:, 0] <= flow["features in"]).all()


def test_the_six_models_and_the_numbers_the_paper_prints(built):
    """Six models fitted on training (the Rad-score in models 4-6), every patient scored,
    and the C-indices the paper prints recomputed from the scores with radsurv.stats."""
    from radsurv.stats import harrell_c

    proj, report = built
    out = proj / "build/quick/04_models"
    scores = pd.read_csv(out / "model_scores.csv", dtype={"patient_id": str})
    radscores = pd.read_csv(proj / "build/quick/03_signatures/radscores.csv", dtype={"patient_id": str})
    assert list(scores.patient_id) == list(radscores.patient_id)
    models = ["clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"]
    assert [c for c in scores.columns if c in models] == [m for m in models if m in scores.columns]
    assert {"signature", "radiomics", "imaging"} <= set(scores.columns)
    hr = pd.read_csv(out / "hazard_ratios.csv")
    assert set(hr.loc[hr.model == "signature", "term"]) == {"radscore"}
    assert "radscore" in set(hr.loc[hr.model == "imaging", "term"])
    fits = pd.read_csv(out / "fit_statistics.csv").set_index("model")
    assert (fits["n"] == (scores.split == "train").sum()).all()
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv", dtype={"patient_id": str}).set_index("patient_id")
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["models"]
    html = report.paper.read_text(encoding="utf-8")
    for model in ("signature", "imaging"):
        sel = scores.split == "external"
        c = cohort.loc[scores.loc[sel, "patient_id"]]
        hc = harrell_c(c.dfs_time, c.dfs_event, scores.loc[sel, model])
        assert var[model]["c_external"] == f"{hc.c:.3f}" and f"{hc.c:.3f}" in html
    # The signature model's C equals the multi-modal Rad-score's (a Cox model on one score).
    assert var["signature"]["c_external"] == yaml.safe_load(
        (proj / "_variables.yml").read_text(encoding="utf-8"))["signatures"]["multimodal"]["c_external"]


def test_validation_numbers_and_the_points_calculator(built, quick_profile):
    """Optimism over every resample with corrected = apparent - optimism, the apparent C
    being the deployed models' training C (04's, with the final signature's Rad-score in
    place of the pre-validated one); the paper prints the corrected C; the saved nomogram
    gives back 04's score of the final model for every training patient from plain values."""
    from radsurv.stats import harrell_c
    from radsurv.validation import PointsCalculator

    proj, report = built
    out = proj / "build/quick/05_validation"
    opt = pd.read_csv(out / "optimism.csv").set_index("model")
    n_resamples = quick_profile["validation"]["n_resamples"]
    assert (opt["n_resamples"] == n_resamples).all()
    assert np.allclose(opt["corrected_c"], opt["apparent_c"] - opt["optimism"], atol=1e-12)
    disc = pd.read_csv(proj / "build/quick/04_models/discrimination.csv")
    train_c = disc[(disc.set == "train") & (disc.measure == "harrell_c")].set_index("model")["estimate"]
    hr = pd.read_csv(proj / "build/quick/04_models/hazard_ratios.csv")
    with_rs = set(hr.loc[hr.term == "radscore", "model"])
    plain = [m for m in opt.index if m not in with_rs]
    assert plain and np.allclose(opt.loc[plain, "apparent_c"], train_c.loc[plain], atol=1e-9)
    ms = pd.read_csv(proj / "build/quick/04_models/model_scores.csv", dtype={"patient_id": str}).set_index("patient_id")
    rs = pd.read_csv(proj / "build/quick/03_signatures/radscores.csv", dtype={"patient_id": str}).set_index(
        "patient_id")["multimodal"]
    pv = pd.read_csv(proj / "build/quick/03_signatures/radscores_prevalidated.csv",
                     dtype={"patient_id": str}).set_index("patient_id")["multimodal"]
    co = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv", dtype={"patient_id": str}).set_index("patient_id")
    ids = pv.index
    for m in sorted(with_rs & set(opt.index)):
        coef = float(hr.loc[(hr.model == m) & (hr.term == "radscore"), "coef"].iloc[0])
        deployed = ms.loc[ids, m] + coef * (rs.loc[ids] - pv)
        c = harrell_c(co.loc[ids, "dfs_time"].to_numpy(float), co.loc[ids, "dfs_event"].to_numpy(int),
                      deployed.to_numpy(float)).c
        assert opt.loc[m, "apparent_c"] == pytest.approx(c, abs=1e-9), m
        assert opt.loc[m, "apparent_c"] != pytest.approx(train_c.loc[m], abs=1e-6), m   # not 04's pre-validated C
    # the Rad-score models' optimism is not negative when both C's score as deployed, and
    # every corrected slope is a shrinkage a reader can use (the difference form gave the
    # signature model -0.57 on this build; the ratio gives 1.08)
    assert (opt.loc[sorted(with_rs & set(opt.index)), "optimism"] > -0.01).all()
    assert ((opt["corrected_slope"] > 0.2) & (opt["corrected_slope"] < 1.6)).all(), opt["corrected_slope"]
    boot = pd.read_csv(out / "optimism_resamples.csv")
    assert boot["resample"].nunique() == n_resamples
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["validation"]
    html = report.paper.read_text(encoding="utf-8")
    assert var["imaging"]["corrected_c"] == f"{opt.loc['imaging', 'corrected_c']:.3f}"
    assert f"corrected C of {var['imaging']['corrected_c']}" in html
    # the points calculator from plain cohort values reproduces 04's centred scores
    calc = PointsCalculator.from_json(out / "nomogram.json")
    scores = pd.read_csv(proj / "build/quick/04_models/model_scores.csv", dtype={"patient_id": str})
    radscores = pd.read_csv(proj / "build/quick/03_signatures/radscores.csv", dtype={"patient_id": str})
    cohort = pd.read_csv(proj / "build/quick/00_cohort/cohort.csv", dtype={"patient_id": str})
    data = cohort.merge(radscores[["patient_id", "multimodal"]], on="patient_id").rename(
        columns={"multimodal": "radscore"}).set_index("patient_id")
    # the models were fitted on the training patients' pre-validated Rad-scores (04's design)
    pre = pd.read_csv(proj / "build/quick/03_signatures/radscores_prevalidated.csv",
                      dtype={"patient_id": str}).set_index("patient_id")["multimodal"]
    data.loc[pre.index, "radscore"] = pre
    train = scores[scores.split == "train"].set_index("patient_id")["imaging"].dropna()
    # patients with every value of the final model (an imputed patient's score is the mean
    # over the imputations, which no single set of plain values gives)
    rows = data.loc[train.index, list(calc.coding)].dropna()
    assert len(rows) >= 0.8 * len(train)
    train = train.loc[rows.index]
    points = calc(rows.reset_index(drop=True))
    assert np.allclose(points["lp"].to_numpy(), train.to_numpy(), atol=1e-8)
    assert ((points["3-year DFS"] > 0) & (points["3-year DFS"] < 1)).all()
    # calibration and decision curves cover every model
    cal = pd.read_csv(out / "calibration_summary.csv")
    assert set(cal["model"]) == set(opt.index)
    dca = pd.read_csv(out / "decision_curves.csv")
    assert {"all", "none"} <= set(dca["strategy"]) and set(opt.index) <= set(dca["strategy"])


def test_sensitivity_permutation_null_and_cutpoints(built, quick_profile):
    """The permutation table follows from the null's rows and 03's observed C; the paper
    prints the p; the cut-point table's X-tile rows are 03's risk groups."""
    from radsurv.sensitivity.permutation import permutation_p

    proj, report = built
    out = proj / "build/quick/06_sensitivity"
    null = pd.read_csv(out / "permutation_null.csv")
    n = quick_profile["sensitivity"]["permutation"]["n"]
    assert list(null["permutation"]) == list(range(1, n + 1)) and null["failed"].isna().all()
    summary = pd.read_csv(out / "permutation_summary.csv").set_index("set")
    disc = pd.read_csv(proj / "build/quick/03_signatures/discrimination.csv")
    for s in ("internal", "external"):
        obs = disc[(disc.signature == "multimodal") & (disc.set == s)]["c"].iloc[0]
        assert summary.loc[s, "observed_c"] == pytest.approx(obs, abs=1e-9)      # 03's C, recomputed
        assert summary.loc[s, "p"] == pytest.approx(permutation_p(null[f"c_{s}"].to_numpy(), obs))
        assert 1 / (n + 1) <= summary.loc[s, "p"] <= 1
    # The quick twin carries a signal (params/quick.yml scales it to the paper's power):
    # the signature developed on the real outcomes sits in the tail of those developed on
    # permuted ones on the internal test set (the external set's dozen events give the
    # null an SD of about 0.15 there), and above the null's mean on both; the null
    # profile's guard asserts the opposite (tests/e2e/test_null_profile.py).
    assert summary.loc["internal", "p"] <= 0.05, summary
    assert (summary["observed_c"] > summary["null_mean"]).all(), summary
    assert (summary["null_mean"] - 0.5).abs().max() < 0.1, summary
    cut = pd.read_csv(out / "cutpoints.csv")
    risk = pd.read_csv(proj / "build/quick/03_signatures/risk_groups.csv")
    for s in ("train", "internal", "external"):
        mine = cut[(cut.set == s) & (cut.split_by == "X-tile")].iloc[0]
        theirs = risk[(risk.signature == "multimodal") & (risk.set == s) & (risk.split_by == "X-tile")].iloc[0]
        assert mine["cut"] == pytest.approx(theirs["cut"]) and mine["hr"] == pytest.approx(theirs["hr"], nan_ok=True)
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["sensitivity"]
    html = report.paper.read_text(encoding="utf-8")
    assert f"permutation p {var['permutation']['external']['p']}" in html
    assert "Permutation null of the whole development" in html


def test_combat_harmonisation_reuses_03s_signatures_and_removes_centre_effects(built):
    """The external C as extracted is 03's (the signatures developed again are 03's), the
    centre effects shrink, and the paper prints both tables and the numbers."""
    proj, report = built
    out = proj / "build/quick/06_sensitivity"
    combat = pd.read_csv(out / "combat_discrimination.csv").set_index("signature")
    disc = pd.read_csv(proj / "build/quick/03_signatures/discrimination.csv")
    ext = disc[disc.set == "external"].set_index("signature")
    for name in combat.index:
        assert combat.loc[name, "c_raw"] == pytest.approx(ext.loc[name, "c"], abs=1e-12)
    assert (combat["c_harmonised"] != combat["c_raw"]).any()     # harmonisation changed the external inputs
    effects = pd.read_csv(out / "combat_centre_effects.csv")
    assert (effects["n_differ_after"] < effects["n_differ_before"]).all()
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["sensitivity"]["harmonisation"]
    assert int(var["pct_after"]) < int(var["pct_before"])
    html = report.paper.read_text(encoding="utf-8")
    assert f"after ComBat {var['pct_after']}%" in html
    assert "reference-batch ComBat" in html and "Differ by centre, after ComBat" in html


def test_mask_source_and_ring_width(built, quick_profile):
    """Every source and width was developed on the same patients; the ring at the
    analysis width is the analysis masks' own; the paper prints the numbers."""
    proj, report = built
    out = proj / "build/quick/06_sensitivity"
    src = pd.read_csv(out / "mask_source.csv")
    assert set(src["source"]) == {"auto", *quick_profile["sensitivity"]["variants"]["sources"]}
    assert src.groupby(["signature", "set"])["n"].nunique().eq(1).all()         # same patients per source
    widths = pd.read_csv(out / "ring_width.csv")
    assert sorted(widths["width_mm"].unique()) == sorted(quick_profile["sensitivity"]["variants"]["widths_mm"])
    ring = quick_profile["features"]["ring_width_mm"]
    at_ring = widths[widths["width_mm"] == ring].set_index(["signature", "set"])["c"]
    auto = src[src["source"] == "auto"].set_index(["signature", "set"])["c"]
    pd.testing.assert_series_equal(at_ring.sort_index(), auto.sort_index(), check_names=False)
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["sensitivity"]["variants"]
    html = report.paper.read_text(encoding="utf-8")
    assert f"reached an external C of {var['auto']['c_external']}" in html
    assert "fig-ring-width" in html


def test_outcome_draws_place_the_build_among_redraws(built, quick_profile):
    """The twin's outcomes drawn again n times, each developed as 03 and 04 develop the
    build: the build's own draw, developed again by the same function, gives every C that
    03 and 04 reported (06 checks 03's Rad-score itself; it does not read 04); the
    percentiles recomputed from the table; the paper prints the sentence and the table."""
    from radsurv.sensitivity.outcome_draws import percentile

    proj, report = built
    out = proj / "build/quick/06_sensitivity"
    draws = pd.read_csv(out / "outcome_draws.csv", keep_default_na=False, na_values=[""])
    n = quick_profile["sensitivity"]["outcome_draws"]["n"]
    assert list(draws["outcome_seed"]) == list(range(1, n + 1))
    models = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["models"]
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["sensitivity"]["outcome_draws"]
    ok = draws[draws["failed"].isna()]
    assert int(var["n"]) == n and int(var["n_developed"]) == len(ok)
    own = float(models["imaging"]["c_external"])
    for model in ("clinical", "mri", "clinical_mri", "signature", "radiomics", "imaging"):
        for s in ("internal", "external"):
            assert var[f"{model}_{s}"]["own"] == models[model][f"c_{s}"], (model, s)
    # the percentile of the printed (rounded) C may differ from the exact one only at a tie
    assert abs(float(var["imaging_external"]["percentile"]) - percentile(ok["imaging_external"], own)) <= 100 / len(ok)
    assert var["imaging_external"]["mean"] == f"{ok['imaging_external'].mean():.3f}"
    assert (ok["train_events"] > 0).all() and ok["oracle_external"].between(0.5, 1.0).all()
    assert ok["imaging_external"].nunique() > 1          # the draws differ
    html = report.paper.read_text(encoding="utf-8")
    assert "other draws of the simulated outcomes" in html and "fig-outcome-draws" in html
    v = var["imaging_external"]
    assert f"external C averaged {v['mean']} (this build {v['own']}, percentile {v['percentile']})" in html


def test_scanner_agreement_sizes_the_scanners(built, quick_profile):
    """The travelling lesions: one row per feature of every modality and region, ICCs
    within their range, the variables recomputed from the table, the sentences in the paper."""
    proj, report = built
    table = pd.read_csv(proj / "build/quick/06_sensitivity/scanner_agreement.csv")
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["sensitivity"]["scanner_agreement"]
    assert int(var["n"]) == quick_profile["sensitivity"]["scanner_agreement"]["n"] and int(var["scanners"]) == 3
    assert set(zip(table["modality"], table["region"])) == {(m, r) for m in ("us", "mri") for r in ("intra", "peri")}
    assert not table.duplicated(["modality", "region", "feature"]).any()
    assert (table[["retest_icc", "between_icc"]].dropna() <= 1.0 + 1e-12).all().all()
    intra = table[(table["modality"] == "mri") & (table["region"] == "intra")]
    assert var["mri_intra"]["between_median"] == f"{intra['between_icc'].median():.2f}"
    html = report.paper.read_text(encoding="utf-8")
    assert "lesions per modality that are not the cohort" in html and "fig-scanner-agreement" in html
    assert f"median test-retest ICC on one scanner was {var['us_intra']['retest_median']} for ultrasound" in html


def test_second_run_does_nothing(built):
    proj, _ = built
    again = run_pipeline("quick", root=proj, renderer="preview")
    assert again.exit_code == 0
    assert again.executed == [] and again.paper is None


def test_no_patient_identifier_in_anything_published(built):
    """Tables, texts, variables and the executed notebooks published with the paper,
    and the paper itself, name no patient."""
    proj, report = built
    ids = set(pd.read_csv(proj / "build/quick/00_cohort/cohort.csv").patient_id)
    published = [*(proj / "tables").rglob("*.md"), *(proj / "texts").rglob("*.md"), proj / "_variables.yml",
                 *(proj / "executed").glob("*.ipynb"), report.paper,
                 *(report.paper.parent / "executed").glob("*.html")]
    assert len(published) > 10
    # one pass per file for all identifiers (the executed notebooks and the preview hold
    # megabytes of images: one search per patient and file took a minute)
    any_id = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(ids, key=len, reverse=True)) + r")\b")
    for path in published:
        text = path.read_text(encoding="utf-8")
        leaked = sorted(set(any_id.findall(text)))
        assert not leaked, f"{path.relative_to(proj)} names {leaked[:5]}"


def test_index_qmd_resolves_completely(built):
    """Every include, variable, figure/table/section reference and citation of the real
    index.qmd resolves against the published artefacts."""
    from radsurv.report.qmd import check_manuscript

    proj, _ = built
    assert check_manuscript(proj) == []
    # ...and a broken reference or variable is caught.
    qmd = proj / "index.qmd"
    text = qmd.read_text(encoding="utf-8")
    try:
        qmd.write_text(text + "\nSee @fig-missing and {{< var cohort.nope >}}.\n")
        problems = check_manuscript(proj)
        assert any("fig-missing" in p for p in problems) and any("cohort.nope" in p for p in problems)
    finally:
        qmd.write_text(text)


def test_the_preview_in_a_real_browser(built):
    """Headless Chromium opens the preview: every figure loads, no reference or shortcode
    is left unresolved, every table has rows, nothing asks the network, and the page
    paints. Skipped without a Chromium unless RADSURV_REQUIRE_BROWSER is set (CI)."""
    import os

    from radsurv.report.browser import BrowserNotFoundError, find_chromium, inspect_page

    try:
        find_chromium()
    except BrowserNotFoundError as exc:
        if os.environ.get("RADSURV_REQUIRE_BROWSER"):
            pytest.fail(f"RADSURV_REQUIRE_BROWSER is set but {exc}")
        pytest.skip(f"no Chromium to drive ({exc})")
    proj, report = built
    shot = proj / "build/quick/paper-screenshot.png"
    page = inspect_page(report.paper, shot)
    html = report.paper.read_text(encoding="utf-8")
    assert page.problems == []
    assert page.title and page.title in html
    assert page.n_images == len(re.findall(r"<img\b", html)) >= 15 and page.broken_images == []
    assert page.unresolved == []
    assert page.n_tables == len(re.findall(r"<table\b", html)) >= 10 and page.empty_tables == []
    stats = page.screenshot
    assert shot.is_file() and stats.width == 1280 and stats.height > 10 * 800   # the whole paper, not a window
    # A paper is mostly white page: well off blank, some tenth of it text, figures and rules.
    assert not stats.is_blank() and stats.std > 10 and stats.dominant_share < 0.98 and stats.n_colours > 100


def test_reporting_checklists_in_the_paper(built, quick_profile, root):
    """The TRIPOD+AI table has its 52 items, the counts the text prints add up to them,
    and the CLEAR table states the bin widths of the parameter files."""
    from radsurv.features.extract import read_params

    proj, report = built
    var = yaml.safe_load((proj / "_variables.yml").read_text(encoding="utf-8"))["checklist"]
    counts = [int(var[k]) for k in ("tripod_reported", "tripod_partly", "tripod_na", "tripod_authors")]
    assert int(var["tripod_n"]) == sum(counts) == 52
    tripod = (proj / "tables/run/tripod_ai_checklist.md").read_text(encoding="utf-8")
    assert len([line for line in tripod.splitlines() if line.startswith("| ") and "---" not in line]) == 53
    clear = (proj / "tables/run/clear_checklist.md").read_text(encoding="utf-8")
    for modality, path in quick_profile["features"]["params"].items():
        width = read_params(root / path)["setting"]["binWidth"]
        assert f"fixed bin width {width:g}" in clear, modality
    html = report.paper.read_text(encoding="utf-8")
    assert "TRIPOD+AI checklist" in html and f"of its {var['tripod_n']} items and" in html


def _stage_folder_hashes(build: Path) -> dict[str, str]:
    """Every file of the pipeline's build (stage folders, timings, logs, the paper), not
    the hand runs' explore/ nor the content-keyed caches."""
    return {p.relative_to(build).as_posix(): _sha(p) for p in sorted(build.rglob("*"))
            if p.is_file() and p.relative_to(build).parts[0] not in ("explore", "cache")}


#: The hand runs, two at a time (CI has two cores, and a notebook spends much of its
#: time in one: the kernel's start and imports, tables, figures), longest first so that
#: the two workers finish together. 04 runs a second time, with its "Try it" value, only
#: after its plain run's outputs were compared (both write build/quick/explore/04_models/).
HAND_RUN_ORDER = ("01_segmentation", "02_features", "00_cohort", "06_sensitivity", "04_models", "05_validation",
                  "03_signatures")
TRY_IT = {"screen_p": 0.2}

_EXECUTE = """
import json, sys
import papermill as pm
from radsurv.pipeline.execute import kernel_manager_class
src, dst, cwd, parameters = sys.argv[1:5]
pm.execute_notebook(src, dst, parameters=json.loads(parameters), cwd=cwd, kernel_name="python3",
                    progress_bar=False, kernel_manager_class=kernel_manager_class())
"""


def _execute_by_hand(proj: Path, notebook: str, executed: Path, parameters: dict | None = None) -> float:
    """Run ``notebook`` as a reviewer would (papermill, ``notebooks/`` as the working
    directory, nothing injected but ``parameters``) in a process of its own, so that two
    can run at once; returns its wall time in seconds."""
    import subprocess
    import sys
    import time

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _EXECUTE, str(proj / notebook), str(executed),
                           str(proj / "notebooks"), json.dumps(parameters or {})],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{notebook} failed by hand:\n{done.stderr[-4000:]}"
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def hand_runs(built, tmp_path_factory):
    """Every stage notebook run by hand once, and 04 again with its "Try it" value.

    Returns the pipeline folders' hashes before and after, and per stage what a test
    asserts on, taken as soon as that notebook finished (the "Try it" run replaces the
    plain run of 04's outputs): the executed notebook's text, the declared outputs
    missing or undeclared, and the hashes of the compared data files of the hand run and
    of the pipeline."""
    from concurrent.futures import ThreadPoolExecutor

    from radsurv.pipeline.execute import check_outputs
    from radsurv.stages import STAGES

    proj, _ = built
    build = proj / "build/quick"
    out = tmp_path_factory.mktemp("hand")
    by_name = {stage.name: stage for stage in STAGES}
    assert sorted(HAND_RUN_ORDER) == sorted(by_name)
    before = _stage_folder_hashes(build)

    def plain(name: str) -> dict:
        stage = by_name[name]
        executed = out / Path(stage.notebook).name
        wall = _execute_by_hand(proj, stage.notebook, executed)
        explore = build / "explore" / name
        compared = [p for p in sorted(explore.rglob("*")) if p.is_file() and p.suffix in (
            ".csv", ".parquet", ".json", ".yml", ".md") and p.name not in ("steps.json", "segmentation.csv")]
        run = {"text": executed.read_text(encoding="utf-8"), "outputs": check_outputs(stage, explore),
               "compared": {p.relative_to(build).as_posix(): (_sha(p), _sha(build / name / p.relative_to(explore)))
                            for p in compared}, "wall_s": wall}
        if name == "04_models":
            tried = out / "04_try_it.ipynb"
            run["try_it"] = {"wall_s": _execute_by_hand(proj, stage.notebook, tried, TRY_IT),
                             "text": tried.read_text(encoding="utf-8"),
                             "variables": yaml.safe_load((explore / "variables.yml").read_text(encoding="utf-8")),
                             "selection": pd.read_csv(explore / "selection.csv")}
        return run

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(HAND_RUN_ORDER, pool.map(plain, HAND_RUN_ORDER)))
    # what each took, in the log of a failing test and with `pytest -rP`
    print("hand runs (s):", {name: round(run["wall_s"], 1) for name, run in runs.items()},
          "try it:", round(runs["04_models"]["try_it"]["wall_s"], 1))
    return {"before": before, "after": _stage_folder_hashes(build), "runs": runs}


def test_every_notebook_runs_by_hand_from_notebooks_and_leaves_the_build_untouched(built, hand_runs):
    """As a reviewer would in Jupyter: each stage notebook executed as committed, with
    notebooks/ as the working directory and nothing injected, reads the pipeline's build
    and writes its declared outputs to build/quick/explore/<stage>/; the pipeline's
    folders keep every byte and the next run has nothing to do (issue 26).

    The same profile and seed give the same bytes: every data file, table, text and
    variable of a hand run equals the pipeline's (00 draws the twin again; 02 takes
    every feature from the cache and extracts nothing; 05 takes every bootstrap resample
    from the cache), except the mask paths of 01's segmentation.csv, which are relative
    to the folder that holds it."""
    proj, _ = built
    for name, run in hand_runs["runs"].items():
        missing, undeclared = run["outputs"]
        assert not missing and not undeclared, (name, missing, undeclared)
        assert f"hand run: reads build/quick/, writes build/quick/explore/{name}/" in run["text"]
        assert len(run["compared"]) >= 5, name
        for path, (mine, pipeline) in run["compared"].items():
            assert mine == pipeline, path
    # 02's feature table says how many regions came from the cache: all of them
    assert re.search(r"\(0 extracted now, [1-9]\d* from the cache\)", hand_runs["runs"]["02_features"]["text"])
    assert hand_runs["after"] == hand_runs["before"]
    again = run_pipeline("quick", root=proj, renderer="preview")
    assert again.exit_code == 0 and again.executed == []


def test_try_it_changes_the_hand_run_only(built, hand_runs):
    """04's "Try it" value (a univariable screen at p < 0.2) reaches the hand run's models
    and the Methods variable; the screen's statistics do not depend on the threshold; the
    pipeline's 04 keeps the profile's 0.05."""
    proj, _ = built
    build = proj / "build/quick"
    tried = hand_runs["runs"]["04_models"]["try_it"]
    kept = yaml.safe_load((build / "04_models/variables.yml").read_text(encoding="utf-8"))
    assert tried["variables"]["models"]["screen_p"] == "0.2" and kept["models"]["screen_p"] == "0.05"
    screen_kept = pd.read_csv(build / "04_models/selection.csv")
    pd.testing.assert_series_equal(tried["selection"]["p"], screen_kept["p"])
    assert "Try it: models.screen_p = 0.2" in tried["text"]
    assert hand_runs["after"] == hand_runs["before"]

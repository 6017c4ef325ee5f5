"""Repeatability and reproducibility across scanners (radsurv.sensitivity.scanner_agreement)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.sensitivity.scanner_agreement import AGREEMENT_COLUMNS, PUBLISHED, ScannerAgreement, scanner_agreement

LESIONS = [f"TRVUS{i:03d}" for i in range(1, 9)]
CENTRES = (1, 2, 3)


def _scans() -> pd.DataFrame:
    return pd.DataFrame([{"lesion": l, "center": c, "scan": s, "image": "", "mask": ""}
                         for l in LESIONS for c in CENTRES for s in (1, 2)])


def _tidy(values) -> pd.DataFrame:
    """values(feature, lesion index, centre, scan) -> tidy rows of one region."""
    rows = []
    for feature in ("original_firstorder_Mean", "original_glcm_Contrast", "wavelet-LLH_firstorder_Median",
                    "original_glszm_ZonePercentage"):
        for i, l in enumerate(LESIONS):
            for c in CENTRES:
                for s in (1, 2):
                    rows.append({"patient": f"{l}_c{c}_s{s}", "modality": "us", "region": "intra",
                                 "mask_source": "true", "feature": feature, "value": values(feature, i, c, s)})
    return pd.DataFrame(rows)


LESION = np.array([3.0, -1.0, 0.5, 2.0, -2.5, 1.0, 0.0, -0.5])
OFFSET = {1: 0.0, 2: 1.5, 3: -0.5}
NOISE = np.random.default_rng(0).normal(size=(len(LESIONS), 4, 3))


def _values(feature, i, c, s):
    if feature == "original_firstorder_Mean":      # the lesion, nothing else: agreement everywhere
        return LESION[i]
    if feature == "original_glcm_Contrast":        # the lesion plus a scanner offset
        return LESION[i] + OFFSET[c]
    if feature == "original_glszm_ZonePercentage":  # the lesion, an offset and some noise
        return LESION[i] + OFFSET[c] + 0.4 * NOISE[i, c, s]
    return NOISE[i, c, s]                           # noise: no agreement


def test_closed_forms():
    result = scanner_agreement(_tidy(_values), {"us": _scans()})
    t = result.table.set_index("feature")
    assert list(result.table.columns) == AGREEMENT_COLUMNS
    assert t.loc["original_firstorder_Mean", ["retest_icc", "between_icc", "between_consistency"]].tolist() == \
        pytest.approx([1.0, 1.0, 1.0])
    assert t.loc["original_firstorder_Mean", "scanner_share"] == pytest.approx(0.0)
    # an additive scanner offset without noise: ICC(C,1) = 1 and ICC(A,1) = var(L) / (var(L) + var(s)),
    # with the sample variances of the lesions and of the offsets (two-way ANOVA, no residual)
    var_l, var_s = np.var(LESION, ddof=1), np.var(list(OFFSET.values()), ddof=1)
    contrast = t.loc["original_glcm_Contrast"]
    assert contrast["retest_icc"] == pytest.approx(1.0)
    assert contrast["between_consistency"] == pytest.approx(1.0)
    assert contrast["between_icc"] == pytest.approx(var_l / (var_l + var_s))
    assert contrast["scanner_share"] == pytest.approx(var_s / (var_l + var_s))
    assert t.loc["wavelet-LLH_firstorder_Median", "between_icc"] < 0.5
    # with noise (ICC(C,1) < 1) the offset's share is what ICC(A,1) loses against ICC(C,1)
    noise = t.loc["original_glszm_ZonePercentage"]
    assert 0.5 < noise["between_consistency"] < 0.99
    assert noise["scanner_share"] == pytest.approx(1 - noise["between_icc"] / noise["between_consistency"])
    assert t.loc["wavelet-LLH_firstorder_Median", "image_type"] == "filtered"
    assert t.loc["original_glcm_Contrast", "feature_class"] == "texture"
    assert set(result.retest_by_center["center"]) == set(CENTRES)


def test_summary_shares():
    result = scanner_agreement(_tidy(_values), {"us": _scans()})
    s = result.summary().iloc[0]
    assert s["n_features"] == 4
    # Mean and Contrast agree perfectly on one scanner, the lesion with some noise well, pure noise not at all
    assert s["retest_good"] == pytest.approx(3 / 4)
    between = result.table.set_index("feature")["between_icc"]
    assert s["between_good"] == pytest.approx((between >= 0.75).mean())
    by_class = result.summary(by="class")
    assert set(by_class["feature_class"]) == {"firstorder", "texture"}
    assert "scanners of centres 1, 2, 3" in result.title()


def test_a_single_scan_is_refused():
    scans = _scans()
    with pytest.raises(ValueError, match="two scans"):
        scanner_agreement(_tidy(_values), {"us": scans[scans["scan"] == 1]})
    with pytest.raises(ValueError, match="retest_center"):
        scanner_agreement(_tidy(_values), {"us": scans}, retest_center=4)


def test_plot_and_published():
    import matplotlib

    matplotlib.use("Agg")
    result = scanner_agreement(_tidy(_values), {"us": _scans()})
    ax = result.plot()
    assert len(ax.get_lines()) >= 2
    empty = ScannerAgreement(pd.DataFrame(columns=AGREEMENT_COLUMNS), pd.DataFrame(), {}, [], 1).plot()
    assert empty.texts
    assert {"study", "design", "object", "finding"} <= set(PUBLISHED.columns)


def test_table_variables_and_sentences_follow_the_agreement():
    from radsurv.manuscript.sensitivity import describe_scanner_agreement, describe_scanner_agreement_methods, methods
    from radsurv.sensitivity.stage import scanner_agreement_display, scanner_agreement_variables

    tidy = pd.concat([_tidy(_values), _tidy(_values).assign(modality="mri")], ignore_index=True)
    result = scanner_agreement(tidy, {"us": _scans(), "mri": _scans()})
    table = scanner_agreement_display(result)
    summary = result.summary()
    assert list(table["Modality"]) == ["US", "MRI"]
    assert table.loc[0, "Same scanner: median ICC"] == f"{summary.loc[0, 'retest_median']:.2f}"
    assert table.loc[0, "Same scanner: ICC >= 0.75 / 0.90 (%)"] == "75 / 75"
    v = scanner_agreement_variables(result)
    assert v["n"] == len(LESIONS) and v["scanners"] == 3 and v["retest_center"] == "1"
    share = result.table[result.table["modality"] == "us"]["scanner_share"].dropna()
    assert v["us_offset_pct"] == f"{100 * (share > 0.5).mean():.0f}"
    assert v["us_intra"]["between_median"] == f"{summary.loc[0, 'between_median']:.2f}"
    text = describe_scanner_agreement(v)
    assert f"median test-retest ICC on one scanner was {v['us_intra']['retest_median']} for ultrasound" in text
    assert "@granzier2022" in text and "@tbl-scanner-agreement" in text
    assert describe_scanner_agreement({}) == ""
    sentence = describe_scanner_agreement_methods(v)
    assert f"{len(LESIONS)} lesions per modality" in sentence and "across the 3 scanners" in sentence
    from radsurv.config import load_profile

    profile = load_profile("quick")
    assert sentence in methods({"sensitivity": {"scanner_agreement": v}}, profile)
    assert "lesions per modality" not in methods({"sensitivity": {}}, profile)


def test_two_lesions_are_refused_naming_the_key(tmp_path):
    from radsurv.config import load_profile
    from radsurv.exceptions import ProfileError

    path = tmp_path / "few.yml"
    path.write_text("extends: quick\nsensitivity:\n  scanner_agreement: {n: 2}\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"sensitivity\.scanner_agreement\.n: .*at least 3"):
        load_profile(path)

"""The overlay figure: 2D and 3D panels with all contour kinds."""

from __future__ import annotations

import SimpleITK as sitk

from radsurv.plots.segmentation import overlay_figure
from radsurv.segment.baseline import BaselineSegmenter

from _segment_synth import disc_case, sphere_case


def test_overlay_figure_writes_a_png(tmp_path):
    us, us_mask = disc_case(1, n=160, spacing=0.15, bright=False, radius_px=(30, 35))
    mri, mri_mask = sphere_case(2, shape=(24, 48, 48), radius_mm=9.0)
    shifted = sitk.Image(us_mask)
    examples = [
        {"image": us, "true": us_mask, "reader": shifted, "baseline": BaselineSegmenter("us").predict(us), "unet": us_mask},
        {"image": mri, "true": mri_mask, "baseline": BaselineSegmenter("mri").predict(mri), "title": "MRI, internal test"},
    ]
    path = overlay_figure(examples, tmp_path / "fig" / "overlays.png")
    assert path.exists() and path.stat().st_size > 5000
    # Same inputs, same bytes (deterministic figures).
    again = overlay_figure(examples, tmp_path / "fig" / "again.png")
    assert again.read_bytes() == path.read_bytes()

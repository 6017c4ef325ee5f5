"""The overlay figure: 2D and 3D panels with all contour kinds, drawn where the masks are."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
import SimpleITK as sitk

from radsurv.plots.segmentation import CONTOURS, overlay_figure, overlay_grid
from radsurv.segment.baseline import BaselineSegmenter

from ._segment_synth import disc_case, sphere_case


def _shifted(mask: sitk.Image, dy: int, dx: int) -> sitk.Image:
    """The mask moved by (dy, dx) pixels in the last two numpy axes (same geometry)."""
    a = sitk.GetArrayFromImage(mask)
    out = sitk.GetImageFromArray(np.roll(a, (dy, dx), axis=(a.ndim - 2, a.ndim - 1)))
    out.CopyInformation(mask)
    return out


def _colour_hits(rgb: np.ndarray, kind: str) -> np.ndarray:
    colour = CONTOURS[kind]["color"]
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return np.all(np.abs(rgb - target) <= 30, axis=-1)


@pytest.fixture(scope="module")
def cases():
    us, us_mask = disc_case(1, n=160, spacing=0.15, bright=False, radius_px=(30, 35))
    mri, mri_mask = sphere_case(2, shape=(24, 48, 48), radius_mm=9.0)
    return us, us_mask, mri, mri_mask


def _figure(cases, path, shift_px):
    us, us_mask, mri, mri_mask = cases
    examples = [
        {"image": us, "true": us_mask, "reader": _shifted(us_mask, 0, shift_px)},
        {"image": mri, "true": mri_mask, "unet": _shifted(mri_mask, 5, 0),
         "baseline": BaselineSegmenter("mri").predict(mri), "title": "MRI, internal test"},
    ]
    return overlay_figure(examples, path), examples


def _reader_offset(path, us_mask) -> tuple[float, int, int]:
    """x offset of the reader contour from the truth contour in the US panel, in image
    pixels (from the figure's pixels), and the y offsets of their top and bottom rows."""
    rgb = (mpimg.imread(path)[..., :3] * 255).round().astype(int)
    height, width = rgb.shape[:2]
    panel = rgb[: int(0.88 * height), : width // 2]  # left panel, above the legend
    ty, tx = np.nonzero(_colour_hits(panel, "true"))
    ry, rx = np.nonzero(_colour_hits(panel, "reader"))
    xs = np.nonzero(sitk.GetArrayFromImage(us_mask))[1]
    scale = (tx.max() - tx.min()) / (xs.max() - xs.min() + 1)  # figure pixels per image pixel
    assert abs((rx.max() - rx.min()) - (tx.max() - tx.min())) <= 1  # same shape, same size (anti-aliasing: 1 px)
    return (rx.min() - tx.min()) / scale, ry.min() - ty.min(), ry.max() - ty.max()


@pytest.mark.parametrize("shift_px", [12, 20])
def test_reader_contour_is_drawn_where_the_shifted_mask_is(cases, tmp_path, shift_px):
    path, _ = _figure(cases, tmp_path / "fig" / "overlays.png", shift_px)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dx, dy_top, dy_bottom = _reader_offset(path, cases[1])
    assert dx == pytest.approx(shift_px, abs=0.5)  # measured: 12 -> 11.96, 20 -> 19.93
    assert abs(dy_top) <= 1 and abs(dy_bottom) <= 1  # measured: 0, 0


def test_unshifted_reader_lies_on_the_truth(cases, tmp_path):
    path, _ = _figure(cases, tmp_path / "same.png", 0)
    dx, dy_top, dy_bottom = _reader_offset(path, cases[1])
    assert dx == pytest.approx(0, abs=0.5)  # measured: 0
    assert abs(dy_top) <= 1 and abs(dy_bottom) <= 1


def test_every_contour_kind_is_drawn_and_in_the_legend(cases, tmp_path):
    path, _ = _figure(cases, tmp_path / "all.png", 12)
    rgb = (mpimg.imread(path)[..., :3] * 255).round().astype(int)
    height, width = rgb.shape[:2]
    panels, legend = rgb[: int(0.88 * height)], rgb[int(0.88 * height):]
    left, right = panels[:, : width // 2], panels[:, width // 2:]
    where = {"true": (left, right), "reader": (left,), "unet": (right,), "baseline": (right,)}
    for kind, regions in where.items():
        for region in regions:
            assert _colour_hits(region, kind).sum() > 100, kind
        assert _colour_hits(legend, kind).any(), f"{kind} missing from the legend"
    # reader only in the US panel, U-Net and baseline only in the MRI panel
    assert not _colour_hits(right, "reader").any()
    assert not _colour_hits(left, "unet").any() and not _colour_hits(left, "baseline").any()


def test_same_inputs_same_bytes(cases, tmp_path):
    path, examples = _figure(cases, tmp_path / "a.png", 12)
    again = overlay_figure(examples, tmp_path / "b.png")
    assert again.read_bytes() == path.read_bytes()


def test_a_none_example_leaves_its_panel_empty(cases, tmp_path):
    """None pads a row (each modality keeps its own row): the top right panel stays
    blank and the MRI case moves to the second row."""
    us, us_mask, mri, mri_mask = cases
    path = overlay_figure([{"image": us, "true": us_mask}, None, {"image": mri, "true": mri_mask}],
                          tmp_path / "padded.png", columns=2)
    rgb = (mpimg.imread(path)[..., :3] * 255).round().astype(int)
    height, width = rgb.shape[:2]
    top, bottom = rgb[: int(0.45 * height)], rgb[int(0.5 * height): int(0.9 * height)]
    assert _colour_hits(top[:, : width // 2], "true").sum() > 100
    assert _colour_hits(top[:, width // 2:], "true").sum() == 0
    assert _colour_hits(bottom[:, : width // 2], "true").sum() > 100
    # no example at all: a figure that says so (issue 28: degrade, never crash)
    none = overlay_grid([None])
    assert [t.get_text() for ax in none.axes for t in ax.texts] == ["No example to draw"]

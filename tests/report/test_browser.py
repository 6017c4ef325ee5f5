"""radsurv.report.browser: the headless-Chromium check of a rendered page, shown to catch
each failure it exists for (a missing or undecodable image, a table without rows, an
unresolved reference or shortcode, a blank page) on small hand-written pages, and to
pass the pandoc preview of the tiny manuscript.

Without a Chromium these tests are skipped, unless RADSURV_REQUIRE_BROWSER is set (CI
sets it after installing one), where they fail.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest

from radsurv.report.browser import (
    CHROMIUM_ENV,
    BrowserNotFoundError,
    ScreenshotStats,
    find_chromium,
    inspect_page,
    screenshot_stats,
)

from ._manuscript import make_manuscript


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return find_chromium()
    except BrowserNotFoundError as exc:
        if os.environ.get("RADSURV_REQUIRE_BROWSER"):
            pytest.fail(f"RADSURV_REQUIRE_BROWSER is set but {exc}")
        pytest.skip(f"no Chromium to drive ({exc}); set RADSURV_REQUIRE_BROWSER=1 to make this a failure")


def _png_bytes(size: tuple[int, int] = (120, 80)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((10, 10, 60, 70), fill=(200, 30, 30))
    draw.ellipse((65, 15, 110, 60), fill=(30, 60, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _page(folder: Path, body: str, name: str = "index.html", title: str = "Test page") -> Path:
    path = folder / name
    path.write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>\n"
                    f"<body>\n{body}\n</body></html>\n", encoding="utf-8")
    return path


TABLE = """<div id="tbl-one"><table><caption>Table 1: Patients</caption>
<thead><tr><th>Set</th><th>n</th></tr></thead>
<tbody><tr><td>Training</td><td>104</td></tr><tr><td>External</td><td>70</td></tr></tbody>
</table></div>"""


def test_a_good_page_passes_and_its_screenshot_is_written(tmp_path, chromium):
    (tmp_path / "fig.png").write_bytes(_png_bytes())
    inline = base64.b64encode(_png_bytes((60, 40))).decode()
    page = _page(tmp_path, f"""<h1>Results</h1>
<p>The curves are in <a href="#fig-km">Figure 1</a> and the patients in <a href="#tbl-one">Table 1</a>.</p>
<figure id="fig-km"><img src="fig.png" alt="Kaplan-Meier"><figcaption>Figure 1: KM</figcaption></figure>
<figure id="fig-flow"><img src="data:image/png;base64,{inline}"><figcaption>Figure 2: flow</figcaption></figure>
<script>var s = "?@fig-in-a-script is not text";</script>
{TABLE}""")
    shot = tmp_path / "shots" / "page.png"
    report = inspect_page(page, shot, chromium=chromium)
    assert report.problems == [] and report.ok
    assert report.title == "Test page" and report.browser
    assert (report.n_images, report.n_tables) == (2, 1)
    assert shot.is_file() and screenshot_stats(shot) == report.screenshot
    assert not report.screenshot.is_blank() and report.screenshot.width == 1280


def test_a_missing_image_is_caught(tmp_path, chromium):
    (tmp_path / "fig.png").write_bytes(_png_bytes())
    page = _page(tmp_path, """<p>Two figures.</p>
<figure id="fig-ok"><img src="fig.png"></figure>
<figure id="fig-gone"><img src="figures/missing.png" alt="the lost figure"></figure>""")
    report = inspect_page(page, chromium=chromium, screenshot=False)
    assert report.n_images == 2 and report.screenshot is None
    assert report.broken_images == ["figures/missing.png in #fig-gone (the lost figure)"]
    assert any("missing.png" in r for r in report.failed_requests)
    assert not report.ok and any(p.startswith("image did not load: figures/missing.png") for p in report.problems)


def test_an_image_that_does_not_decode_is_caught(tmp_path, chromium):
    # The file is there and the data: URI is well formed (text checks pass), but their
    # bytes are no image. (A PNG cut after its header is drawn in part by browsers and
    # has a width: that one is not caught.)
    junk = base64.b64encode(b"not a png at all" * 10).decode()
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG garbage" * 20)
    page = _page(tmp_path, f"""<figure id="fig-a"><img src="data:image/png;base64,{junk}"></figure>
<figure id="fig-b"><img src="corrupt.png"></figure>""")
    report = inspect_page(page, chromium=chromium, screenshot=False)
    assert report.n_images == 2 and len(report.broken_images) == 2
    assert report.broken_images[0].startswith("data:image/png;base64,") and report.broken_images[0].endswith(
        "... in #fig-a")
    assert report.broken_images[1] == "corrupt.png in #fig-b"
    assert report.failed_requests == []     # both were read; neither decoded


def test_a_table_without_rows_is_caught(tmp_path, chromium):
    page = _page(tmp_path, f"""{TABLE}
<div id="tbl-empty"><table><thead><tr><th>Model</th><th>C</th></tr></thead><tbody></tbody></table></div>
<table><caption>Header only</caption><thead><tr><th>x</th></tr></thead></table>
<table><tr><td>a bare row counts</td></tr></table>""")
    report = inspect_page(page, chromium=chromium, screenshot=False)
    assert report.n_tables == 4
    assert report.empty_tables == ["#tbl-empty", "'Header only'"]
    assert report.problems == ["table without rows: #tbl-empty", "table without rows: 'Header only'"]


def test_unresolved_references_and_shortcodes_are_caught(tmp_path, chromium):
    page = _page(tmp_path, """<p>As shown in ?@fig-x, the cohort (?@tbl-baseline) had
{{< var cohort.n_total >}} patients; see <strong>?@sec-methods</strong>.</p>
<p><a href="#fig-y">Figure 2</a> is fine, and so is an e-mail like a?b@c.org.</p>
<details><summary>More</summary><p>Hidden: ?@eq-cox</p></details>""")
    report = inspect_page(page, chromium=chromium, screenshot=False)
    found = [u.split(" in ")[0] for u in report.unresolved]
    assert found == ["'?@fig-x'", "'?@tbl-baseline'", "'?@sec-methods'", "'?@eq-cox'", "'{{<'", "'>}}'"]
    assert "As shown in ?@fig-x, the cohort" in report.unresolved[0]   # quoted with its context
    assert len(report.problems) == 6


def test_a_blank_page_is_caught(tmp_path, chromium):
    page = _page(tmp_path, "")
    report = inspect_page(page, tmp_path / "blank.png", chromium=chromium)
    assert report.screenshot.std == 0 and report.screenshot.n_colours == 1
    assert report.screenshot.is_blank()
    assert report.problems and report.problems[-1].startswith("screenshot is blank")


def test_requests_to_the_network_are_refused(tmp_path, chromium):
    page = _page(tmp_path, """<img src="http://radsurv.invalid/fig.png">
<link rel="stylesheet" href="https://radsurv.invalid/theme.css"><p>Text.</p>""")
    report = inspect_page(page, chromium=chromium, screenshot=False)
    assert sorted(report.blocked_requests) == ["http://radsurv.invalid/fig.png", "https://radsurv.invalid/theme.css"]
    assert report.failed_requests == [] and len(report.broken_images) == 1


def test_the_preview_of_the_tiny_manuscript(tmp_path, chromium):
    """The real renderer's output: figures load, the table has rows, and the only
    shortcode in the text is the one the manuscript escapes on purpose ({{{< >}}} shows
    a literal shortcode), which the check cannot tell from a forgotten one."""
    from radsurv.report import render_preview

    root = make_manuscript(tmp_path)
    out = render_preview(root, root / "build" / "index.html")
    report = inspect_page(out, chromium=chromium)
    assert report.title.startswith("Radiomics for disease-free survival")
    assert report.n_images == 2 and report.broken_images == []
    assert report.n_tables >= 1 and report.empty_tables == []
    assert len(report.unresolved) == 2 and all("{{< var cohort.n_total >}}" in u for u in report.unresolved)
    assert [p for p in report.problems if not p.startswith("unresolved: ")] == []


def test_inspect_page_needs_an_existing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such page"):
        inspect_page(tmp_path / "nope.html")


def test_find_chromium_honours_the_variable_then_path(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "chromium"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    assert find_chromium() == str(fake)
    other = tmp_path / "chrome"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv(CHROMIUM_ENV, str(other))
    assert find_chromium() == str(other)
    assert find_chromium(fake) == str(fake)     # the argument first
    # A browser named explicitly and absent is an error, not a fallback to another one.
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "absent"))
    with pytest.raises(BrowserNotFoundError, match=CHROMIUM_ENV):
        find_chromium()


def test_find_chromium_says_what_to_do_when_there_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    with pytest.raises(BrowserNotFoundError, match="no Chromium found: set RADSURV_CHROMIUM"):
        find_chromium()


def test_screenshot_stats():
    from PIL import Image

    def stats(img: Image.Image) -> ScreenshotStats:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return screenshot_stats(buf.getvalue())

    flat = stats(Image.new("RGB", (50, 40), (250, 250, 250)))
    assert (flat.width, flat.height, flat.std, flat.n_colours) == (50, 40, 0.0, 1)
    assert flat.dominant_colour == (250, 250, 250) and flat.dominant_share == 1.0 and flat.is_blank()
    half = Image.new("RGB", (50, 40), (255, 255, 255))
    half.paste((0, 0, 0), (0, 0, 50, 20))
    s = stats(half)
    assert s.std == pytest.approx(127.5) and s.dominant_share == 0.5 and s.n_colours == 2 and not s.is_blank()
    # one dark pixel in 2000 is below the default share of 0.1%: blank
    dot = Image.new("RGB", (50, 40), (255, 255, 255))
    dot.putpixel((3, 3), (0, 0, 0))
    assert stats(dot).is_blank() and not stats(dot).is_blank(min_other_share=0.0001)

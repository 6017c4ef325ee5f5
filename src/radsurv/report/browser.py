"""Open a rendered page in a real (headless) browser and report what a reader would see.

The HTML checks elsewhere read the file as text; they cannot tell whether an embedded
figure decodes, whether a table the parser closed early still has rows, or whether the
page paints anything at all. :func:`inspect_page` loads the page in headless Chromium,
driven by Playwright, and reports:

* every ``<img>``, and those that did not load (``naturalWidth == 0`` once settled);
* cross-references and shortcodes left unresolved in the text (``?@fig-x``, ``{{<``,
  ``>}}``), which is how Quarto shows a missing label;
* every ``<table>``, and those without a body row;
* uncaught script errors, failed requests and, when ``offline``, the requests that
  tried to leave the machine (a preview is meant to be self-contained);
* statistics of a full-page screenshot, to tell a painted page from a blank one.

Playwright is used with the Chromium already on the machine (``executable_path``);
it never downloads a browser (no ``playwright install``). :func:`find_chromium` says
which executable is used.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import RadsurvError

__all__ = [
    "CHROMIUM_ENV",
    "CHROMIUM_NAMES",
    "UNRESOLVED_PATTERNS",
    "BrowserNotFoundError",
    "PageReport",
    "ScreenshotStats",
    "find_chromium",
    "inspect_page",
    "screenshot_stats",
]

#: Environment variable naming the Chromium (or Chrome) executable to use.
CHROMIUM_ENV = "RADSURV_CHROMIUM"

#: Executables looked up on ``PATH``, in order, when ``RADSURV_CHROMIUM`` is not set.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: What an unresolved reference or shortcode leaves in the rendered text: Quarto prints
#: a missing label as ``?@fig-x`` (any crossref kind: fig, tbl, sec, eq, lst...) and an
#: unknown or unprocessed shortcode stays as ``{{< ... >}}``.
UNRESOLVED_PATTERNS = (r"\?@[A-Za-z]+-[\w-]*(?:[.:][\w-]+)*", r"\{\{<", r">\}\}")

#: Characters of text quoted on either side of an unresolved marker.
_CONTEXT = 30

#: Chromium's flags. ``--no-sandbox``: CI runs as root in a container, where Chromium's
#: sandbox refuses to start. ``--disable-dev-shm-usage``: containers often give
#: /dev/shm 64 MB, too little for the full-page screenshot of a long paper.
_CHROMIUM_ARGS = ("--no-sandbox", "--disable-dev-shm-usage")

# Runs in the page once it has loaded. Lazy images only load near the viewport, so they
# are made eager first; those still loading are awaited through their load or error
# event, and the race against a timer keeps a stalled image from hanging the check.
# (decode() would add nothing: Chromium decodes a PNG cut short as far as it goes.)
_IMAGES_JS = """
async (timeoutMs) => {
  const images = Array.from(document.images);
  for (const img of images) if (img.loading === "lazy") img.loading = "eager";
  const settle = img => img.complete ? null : new Promise(resolve => {
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
  });
  const timer = new Promise(resolve => setTimeout(resolve, timeoutMs));
  await Promise.race([Promise.all(images.map(settle)), timer]);
  return images.map(img => ({
    src: img.getAttribute("src") || "",
    where: (img.closest("[id]") || {}).id || "",
    alt: img.getAttribute("alt") || img.getAttribute("aria-label") || "",
    complete: img.complete,
    width: img.naturalWidth,
  }));
}
"""

# Body rows only: a table whose header survived but whose rows did not is the failure
# to catch. The HTML parser wraps bare <tr> in an implicit <tbody>, so tBodies covers
# tables written without one.
_TABLES_JS = """
() => Array.from(document.querySelectorAll("table")).map((table, i) => ({
  index: i,
  where: table.id || (table.closest("[id]") || {}).id || "",
  caption: table.caption ? table.caption.textContent.trim() : "",
  rows: Array.from(table.tBodies).reduce((n, body) => n + body.rows.length, 0),
}))
"""

# The text of the page (its textContent) without scripts and styles, whose source is not
# shown; hidden elements are included, since a marker in a collapsed block is still a
# broken reference. A tree walker, not a clone of the body: cloned <img> elements
# would fetch their images again.
_TEXT_JS = """
() => {
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
    acceptNode: node => skip.has(node.nodeName) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const parts = [];
  while (walker.nextNode()) if (walker.currentNode.nodeType === Node.TEXT_NODE) parts.push(walker.currentNode.data);
  return parts.join("");
}
"""


class BrowserNotFoundError(RadsurvError, FileNotFoundError):
    """No Chromium executable was found (see :func:`find_chromium`)."""


@dataclass(frozen=True)
class ScreenshotStats:
    """Pixel statistics of a screenshot, to tell a painted page from a blank one.

    Attributes
    ----------
    width, height : int
        Size of the image in pixels.
    std : float
        Standard deviation of all RGB channel values (0-255); 0 for a single colour.
    dominant_colour : tuple of int
        The most frequent RGB colour (the background, on a paper).
    dominant_share : float
        Fraction of the pixels that have the dominant colour.
    n_colours : int
        Number of distinct RGB colours.
    """

    width: int
    height: int
    std: float
    dominant_colour: tuple[int, int, int]
    dominant_share: float
    n_colours: int

    def is_blank(self, min_std: float = 1.0, min_other_share: float = 0.001) -> bool:
        """Whether the image looks blank.

        Parameters
        ----------
        min_std : float, default=1.0
            Below this standard deviation the image is one flat colour (give or take
            anti-aliasing).
        min_other_share : float, default=0.001
            Below this fraction of pixels off the dominant colour, nothing was painted
            on the background. A line of text on an empty 1280x720 page covers about 0.2%.

        Returns
        -------
        bool
        """
        return self.std < min_std or (1.0 - self.dominant_share) < min_other_share


@dataclass
class PageReport:
    """What :func:`inspect_page` found.

    Attributes
    ----------
    path : Path
        The page inspected.
    title : str
        The document title.
    browser : str
        The browser's version.
    n_images : int
        Number of ``<img>`` elements.
    broken_images : list of str
        The images that did not load: their ``src`` (shortened) and the id of the
        nearest enclosing element.
    unresolved : list of str
        Each unresolved marker with the text around it.
    n_tables : int
        Number of ``<table>`` elements.
    empty_tables : list of str
        The tables without a body row: their id (or that of the nearest enclosing
        element), caption or position.
    page_errors : list of str
        Uncaught script errors.
    failed_requests : list of str
        Requests that failed (a missing stylesheet, an unreadable file).
    blocked_requests : list of str
        Requests to the network that were refused (``offline=True``).
    screenshot : ScreenshotStats or None
        Statistics of the full-page screenshot, when one was taken.
    """

    path: Path
    title: str
    browser: str
    n_images: int = 0
    broken_images: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    n_tables: int = 0
    empty_tables: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    screenshot: ScreenshotStats | None = None

    @property
    def problems(self) -> list[str]:
        """Every problem found, one line each; empty when the page is fine."""
        out = [f"image did not load: {b}" for b in self.broken_images]
        out += [f"unresolved: {u}" for u in self.unresolved]
        out += [f"table without rows: {t}" for t in self.empty_tables]
        out += [f"script error: {e}" for e in self.page_errors]
        out += [f"request failed: {r}" for r in self.failed_requests]
        out += [f"request to the network blocked: {r}" for r in self.blocked_requests]
        if self.screenshot is not None and self.screenshot.is_blank():
            out.append(f"screenshot is blank: {self.screenshot}")
        return out

    @property
    def ok(self) -> bool:
        """True when :attr:`problems` is empty."""
        return not self.problems


def find_chromium(chromium: str | os.PathLike | None = None) -> str:
    """The Chromium executable to drive.

    Parameters
    ----------
    chromium : str or path-like, optional
        An executable to use; its name is looked up on ``PATH`` when it is not a path.
        When None: ``$RADSURV_CHROMIUM`` if set, else the first of ``chromium``,
        ``chromium-browser``, ``google-chrome``, ``google-chrome-stable`` on ``PATH``.

    Returns
    -------
    str
        Path to the executable.

    Raises
    ------
    BrowserNotFoundError
        When the executable named (argument or environment variable) does not exist,
        or none is found on ``PATH``.
    """
    named = chromium if chromium is not None else os.environ.get(CHROMIUM_ENV) or None
    if named is not None:
        # A name given explicitly is not silently replaced by another browser.
        path = shutil.which(str(named))
        if path is None:
            source = "argument chromium" if chromium is not None else f"${CHROMIUM_ENV}"
            raise BrowserNotFoundError(f"{source} names {str(named)!r}, which is not an executable")
        return path
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    raise BrowserNotFoundError(
        f"no Chromium found: set {CHROMIUM_ENV} to its executable or put one of {', '.join(CHROMIUM_NAMES)} "
        "on PATH (on Debian/Ubuntu: apt-get install chromium)")


def screenshot_stats(image: bytes | str | os.PathLike) -> ScreenshotStats:
    """Pixel statistics of an image.

    Parameters
    ----------
    image : bytes or path-like
        PNG (or any format Pillow reads) as bytes, or its path.

    Returns
    -------
    ScreenshotStats
    """
    from PIL import Image

    source = io.BytesIO(image) if isinstance(image, bytes) else image
    # A long paper at 1280 px is tens of millions of pixels, near Pillow's guard against
    # decompression bombs (a warning from 89 million, an error from 179 million); the
    # screenshot is our own, so the guard is lifted while it is read.
    guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(source) as img:
            rgb = img.convert("RGB")
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    # Pillow's histogram and colour count run in C over the packed pixels: a long page
    # is some 60 million pixels, which as a numpy float array would take gigabytes.
    n = rgb.width * rgb.height
    hist = rgb.histogram()          # 256 counts per channel, R then G then B
    # The standard deviation of all channel values, from those counts (exact in integers).
    total = sum((i % 256) * c for i, c in enumerate(hist))
    total_sq = sum((i % 256) ** 2 * c for i, c in enumerate(hist))
    std = ((3 * n * total_sq - total * total) ** 0.5) / (3 * n)
    colours = rgb.getcolors(maxcolors=n)  # [(count, (r, g, b)), ...]; never None with maxcolors=n
    count, dominant = max(colours)
    return ScreenshotStats(width=rgb.width, height=rgb.height, std=std, dominant_colour=tuple(dominant),
                           dominant_share=count / n, n_colours=len(colours))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _url(url: str) -> str:
    # A data: URI is megabytes long and its head says what it is; a path or URL is kept
    # whole, since its end names the file.
    return _short(url, 80) if url.startswith("data:") else url


def _find_unresolved(text: str, patterns: Sequence[str]) -> list[str]:
    found = []
    for pattern in patterns:
        for m in re.finditer(pattern, text):
            before = text[max(0, m.start() - _CONTEXT):m.start()]
            after = text[m.end():m.end() + _CONTEXT]
            context = " ".join(f"{before}{m.group(0)}{after}".split())
            found.append(f"{m.group(0)!r} in {context!r}")
    return found


def inspect_page(html_path: str | os.PathLike, screenshot_path: str | os.PathLike | None = None,
                 chromium: str | os.PathLike | None = None, *, screenshot: bool = True,
                 viewport: tuple[int, int] = (1280, 800), timeout_s: float = 60.0, offline: bool = True,
                 patterns: Sequence[str] = UNRESOLVED_PATTERNS) -> PageReport:
    """Load an HTML file in headless Chromium and report what a reader would see.

    Parameters
    ----------
    html_path : str or path-like
        The page, a local file; relative images and stylesheets load from its folder.
    screenshot_path : str or path-like, optional
        Where to write the full-page screenshot (PNG); its folder is created. When
        None the screenshot is only measured; ignored when ``screenshot`` is False.
    chromium : str or path-like, optional
        The browser executable; see :func:`find_chromium` for the default.
    screenshot : bool, default=True
        Whether to take the full-page screenshot (and fill ``report.screenshot``).
    viewport : (int, int), default=(1280, 800)
        Width and height of the window in CSS pixels.
    timeout_s : float, default=60.0
        Limit for loading the page, then for its last images, then for the screenshot.
    offline : bool, default=True
        Refuse requests to ``http(s)://`` and list them in ``blocked_requests``: the
        check then gives the same answer with or without a network, and a preview meant
        to be self-contained is shown to be so. Links are not followed either way.
    patterns : sequence of str, default=UNRESOLVED_PATTERNS
        Regular expressions of unresolved markers searched in the page's text.

    Returns
    -------
    PageReport
        The findings; ``report.problems`` lists what is wrong, ``report.ok`` says
        whether anything is.

    Raises
    ------
    FileNotFoundError
        When ``html_path`` does not exist.
    BrowserNotFoundError
        When no Chromium is found.

    Notes
    -----
    Uses Playwright's synchronous API, which cannot run inside a running asyncio event
    loop (a Jupyter cell): call it from a script, a test or a thread.

    Examples
    --------
    >>> report = inspect_page("build/quick/paper/index.html")  # doctest: +SKIP
    >>> report.n_images, report.problems  # doctest: +SKIP
    (16, [])
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"no such page: {html_path}")
    executable = find_chromium(chromium)
    # Imported here: only this function needs Playwright, and importing radsurv.report
    # should not start to depend on it.
    from playwright.sync_api import sync_playwright

    timeout_ms = timeout_s * 1000
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=list(_CHROMIUM_ARGS), headless=True)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            report = PageReport(path=html_path, title="", browser=browser.version)
            page.on("pageerror", lambda error: report.page_errors.append(str(error)))

            def _failed(request):
                # A request refused below fails too; it is listed once, as blocked.
                if not (offline and request.url.startswith(("http:", "https:"))):
                    report.failed_requests.append(f"{_url(request.url)} ({request.failure})")

            page.on("requestfailed", _failed)
            if offline:
                def _block(route):
                    report.blocked_requests.append(_url(route.request.url))
                    route.abort()

                page.route(re.compile(r"^https?://"), _block)
            page.goto(html_path.as_uri(), wait_until="load", timeout=timeout_ms)
            report.title = page.title()

            images = page.evaluate(_IMAGES_JS, timeout_ms)
            report.n_images = len(images)
            report.broken_images = [
                _url(img["src"]) + (f" in #{img['where']}" if img["where"] else "")
                + (f" ({_short(img['alt'], 60)})" if img["alt"] else "")
                for img in images if not (img["complete"] and img["width"] > 0)]

            report.unresolved = _find_unresolved(page.evaluate(_TEXT_JS), patterns)

            tables = page.evaluate(_TABLES_JS)
            report.n_tables = len(tables)
            report.empty_tables = [
                f"#{t['where']}" if t["where"] else (repr(_short(t["caption"], 60)) if t["caption"]
                                                    else f"table {t['index'] + 1}")
                for t in tables if t["rows"] == 0]

            if screenshot:
                png = page.screenshot(full_page=True, type="png", timeout=timeout_ms)
                if screenshot_path is not None:
                    screenshot_path = Path(screenshot_path)
                    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
                    screenshot_path.write_bytes(png)
                report.screenshot = screenshot_stats(png)
        finally:
            browser.close()
    return report

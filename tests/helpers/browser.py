"""A real headless browser for tests: Debian's Chromium driven by Playwright's python package.

Playwright's own ``playwright install`` downloads a browser, which the test machines cannot do;
this helper launches the system Chromium (``/usr/bin/chromium``, installed by ``.ci/run`` with
apt-get, or ``$ZOO_TEST_CHROMIUM``) instead. Nothing is skipped: when the browser or Playwright is
missing, the test fails with a message that says how to install it.

    from helpers.browser import chromium_page

    def test_page(url):
        with chromium_page() as page:
            page.goto(url)

:func:`inspect_page` loads a page and collects console errors, page errors, failed requests and
whether every ``<img>`` decoded, with an optional full-page screenshot. Run as a script to
screenshot a page, e.g. the gallery picture in docs/ (saved with a 256-colour palette)::

    zoo gallery -o /tmp/gallery && python tests/helpers/browser.py /tmp/gallery/index.html docs/gallery.png
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
from helpers.slowness import scaled


#: where Debian's chromium package puts the browser.
CHROMIUM = "/usr/bin/chromium"
#: flags for a headless browser in a container: no sandbox (no user namespaces), no GPU, no calls home.
ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")


def chromium_path() -> str:
    """The Chromium binary to drive: ``$ZOO_TEST_CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    candidates = [os.environ.get("ZOO_TEST_CHROMIUM"), CHROMIUM, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no Chromium at /usr/bin/chromium (nor $ZOO_TEST_CHROMIUM, nor 'chromium' on PATH): install "
                "Debian's package with 'apt-get install chromium' (.ci/run does); do not run 'playwright "
                "install'", pytrace=False)


@contextlib.contextmanager
def chromium_page(timeout_ms: int = 30000, **page_options) -> Iterator:
    """Launch the system Chromium headless and yield a fresh Playwright ``Page``; close all on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright's python package: pip install 'zoo[test]' "
                    "(never 'playwright install': the tests use Debian's Chromium)", pytrace=False)
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=list(ARGS))
        try:
            page = browser.new_page(**page_options)
            page.set_default_timeout(scaled(timeout_ms))
            yield page
        finally:
            browser.close()


@dataclass
class PageReport:
    """What happened while a page loaded."""

    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)  # src, complete, naturalWidth, naturalHeight
    sections: list[str] = field(default_factory=list)  # ids of <section> elements

    @property
    def broken_images(self) -> list[str]:
        """Images that did not load or decode."""
        return [i["src"] for i in self.images if not i["complete"] or i["naturalWidth"] == 0]


def inspect_page(path: str | Path, screenshot: str | Path | None = None, width: int = 1200) -> PageReport:
    """Load ``path`` (a local HTML file) in headless Chromium and report; optionally screenshot it."""
    report = PageReport()
    url = Path(path).resolve().as_uri()
    with chromium_page(viewport={"width": width, "height": 900}) as page:
        page.on("console", lambda msg: report.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
        page.on("requestfailed", lambda req: report.failed_requests.append(f"{req.url}: {req.failure}"))
        page.goto(url, wait_until="load")
        page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=scaled(30000))
        report.title = page.title()
        report.images = page.evaluate("Array.from(document.images).map(i => ({src: i.getAttribute('src'), "
                                      "complete: i.complete, naturalWidth: i.naturalWidth, "
                                      "naturalHeight: i.naturalHeight}))")
        report.sections = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
        if screenshot is not None:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    return report


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/helpers/browser.py PAGE.html SHOT.png")
    result = inspect_page(sys.argv[1], sys.argv[2])
    from PIL import Image

    shot = Image.open(sys.argv[2]).convert("RGB")
    shot.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(sys.argv[2], optimize=True)
    print(f"{len(result.images)} images, broken {result.broken_images}, console errors {result.console_errors}, "
          f"page errors {result.page_errors}, failed requests {result.failed_requests}")

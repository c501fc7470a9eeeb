"""Open a page in a real headless Chromium (Debian's ``/usr/bin/chromium``) through Playwright.

Playwright's own browser download is never used (no ``playwright install``): the Python package
drives the system Chromium given by ``executable_path``. :func:`inspect_page` loads a page,
collects console errors, page errors and failed requests, checks every ``<img>`` decoded, and
takes a full-page screenshot.

Run as a script to screenshot a page, e.g. the gallery picture in docs/ (saved with a 256-colour
palette to keep the repository small)::

    zoo gallery -o /tmp/gallery && python tests/browser_util.py /tmp/gallery/index.html docs/gallery.png
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("ZOO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def browser_missing() -> str | None:
    """Why a browser test cannot run here (a reason for ``pytest.skip``), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install 'zoo[test]')"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt install chromium, or set ZOO_CHROMIUM)"
    return None


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
    from playwright.sync_api import sync_playwright

    report = PageReport()
    url = Path(path).resolve().as_uri()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda msg: report.console_errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
            page.on("requestfailed", lambda req: report.failed_requests.append(f"{req.url}: {req.failure}"))
            page.goto(url, wait_until="load")
            page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30000)
            report.title = page.title()
            report.images = page.evaluate("Array.from(document.images).map(i => ({src: i.getAttribute('src'), "
                                          "complete: i.complete, naturalWidth: i.naturalWidth, "
                                          "naturalHeight: i.naturalHeight}))")
            report.sections = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
            if screenshot is not None:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return report


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/browser_util.py PAGE.html SHOT.png")
    result = inspect_page(sys.argv[1], sys.argv[2])
    from PIL import Image

    shot = Image.open(sys.argv[2]).convert("RGB")
    shot.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(sys.argv[2], optimize=True)
    print(f"{len(result.images)} images, broken {result.broken_images}, console errors {result.console_errors}, "
          f"page errors {result.page_errors}, failed requests {result.failed_requests}")

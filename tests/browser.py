"""A real headless browser for tests: Debian's Chromium driven by Playwright's python package.

Playwright's own ``playwright install`` downloads a browser, which the test machines cannot do;
this helper launches the system Chromium (``/usr/bin/chromium``, installed by ``.ci/run`` with
apt-get, or ``$ZOO_TEST_CHROMIUM``) instead. Nothing is skipped: when the browser or Playwright is
missing, the test fails with a message that says how to install it.

    from browser import chromium_page

    def test_page(url):
        with chromium_page() as page:
            page.goto(url)
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

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
def chromium_page(timeout_ms: int = 30000) -> Iterator:
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
            page = browser.new_page()
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()

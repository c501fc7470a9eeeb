"""The random-CNN explorer (``zoo random-cnn-grid --serve``) in a real headless Chromium.

The server runs as a user would start it (the ``zoo`` command in a subprocess, port 0); the page is
driven by Playwright on Debian's Chromium (see ``tests/helpers/browser.py``): moving a slider must redraw
the picture, and Ctrl-C (SIGINT) must stop the server cleanly.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from helpers.browser import chromium_page
from helpers.clitools import ZOO
from helpers.slowness import scaled

pytestmark = pytest.mark.slow


def start_explorer(*args: str, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start ``zoo random-cnn-grid --serve ARGS``; return the process and the URL it prints."""
    proc = subprocess.Popen([ZOO, "random-cnn-grid", "--serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + scaled(timeout)
    seen = ""
    while time.monotonic() < deadline:
        if not selector.select(timeout=1.0):
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if match:
            return proc, match.group(0)
    proc.kill()
    out, err = proc.communicate(timeout=scaled(30))
    pytest.fail(f"the explorer printed no URL within {timeout:.0f} s:\n{seen}{out}\n{err}")


@pytest.fixture
def explorer():
    proc, url = start_explorer("--size", "64")
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=scaled(30))


def wait_for_version(page, version: int) -> None:
    page.wait_for_function(f"Number(document.getElementById('image').dataset.version) >= {version}")


def test_moving_a_slider_redraws_the_picture(explorer):
    proc, url = explorer
    assert url.startswith("http://127.0.0.1:")  # loopback only
    with chromium_page() as page:
        page.goto(url)
        wait_for_version(page, 1)
        first = page.locator("#image").screenshot()
        status = page.locator("#status").inner_text()
        assert "soph 4096 + noise 1024" in status, status  # 64x64 grey: 0.3125 x 16384 bits, 80% soph

        page.locator("#compression").fill("0.9")
        wait_for_version(page, 2)
        page.wait_for_function("document.getElementById('image').dataset.query.includes('compression=0.9&')")
        moved = page.locator("#image").screenshot()
        assert moved != first
        assert "soph 11796 + noise 2950" in page.locator("#status").inner_text()

        page.locator("#sophistication").fill("0.3")
        page.wait_for_function("document.getElementById('image').dataset.query.includes('sophistication=0.3&')")
        assert page.locator("#image").screenshot() not in (first, moved)
        natural = page.evaluate("[document.getElementById('image').naturalWidth, "
                                "document.getElementById('image').naturalHeight]")
        assert natural == [64, 64]

    # a budget with no architecture: a one-line 422, not a crash; the server keeps answering
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url + "image.png?compression=0.02&sophistication=0.05", timeout=scaled(60))
    assert info.value.code == 422 and b"no random-CNN architecture" in info.value.read()
    with urllib.request.urlopen(url + "image.png?compression=0.5&sophistication=0.5", timeout=scaled(60)) as answer:
        assert answer.headers["Content-Type"] == "image/png" and answer.read(8) == b"\x89PNG\r\n\x1a\n"

    proc.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = proc.communicate(timeout=scaled(60))
    assert proc.returncode == 0, (out, err)
    assert out.rstrip().endswith("stopped") and "Traceback" not in err

"""Issue 33 item 3: every network read zoo starts is bounded (deadline, size) and fails in one line.

The servers here listen on 127.0.0.1 only: one that accepts and never answers, one that drips a
byte a second, one that streams a 300 MB body, one that answers 500 or redirects in a loop.
``zoo list --hub`` runs as a real child process; its peak RSS comes from ``os.wait4``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers.clitools import ZOO, assert_one_line_error

TIMEOUT = 2.0  # ZOO_HUB_TIMEOUT for these tests (the default is 20 s)


def _env(tmp_path, endpoint: str, **extra: str) -> dict:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "ZOO_HUB_TIMEOUT": str(TIMEOUT), "XDG_DATA_HOME": str(tmp_path / "data")}
    for proxy in ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(proxy, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


_WRAPPER = ("import resource, subprocess, sys, time\n"
            "start = time.monotonic()\n"
            "rc = subprocess.call(sys.argv[1:])\n"
            "took = time.monotonic() - start\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(f'ZOO-MEASURE {took} {peak}', file=sys.stderr)\n"
            "sys.exit(rc)\n")


def _zoo(env: dict, *args: str, out_dir=None):
    """``zoo ARGS`` as a child: (CompletedProcess, seconds, peak RSS in bytes).

    A small wrapper interpreter starts zoo and reports its children's peak RSS: a child forked
    straight from pytest (torch, TensorFlow loaded) would count pytest's pages as its own.
    """
    import sys

    proc = subprocess.run([sys.executable, "-c", _WRAPPER, ZOO, *args], capture_output=True, text=True, env=env,
                          timeout=120)
    lines = proc.stderr.splitlines()
    _, took, peak = lines[-1].split()
    proc.stderr = "".join(line + "\n" for line in lines[:-1])
    return proc, float(took), int(peak) * 1024  # Linux: kilobytes


@pytest.fixture
def silent_endpoint():
    """A TCP port that accepts connections (the kernel's backlog) and never sends a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class _Server:
    def __init__(self, handler_cls) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(answer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            try:
                answer(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def _big_body(handler) -> None:
    """A 300 MB JSON list, streamed (no Content-Length), generated as it is sent."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    item = b'{"id": "big/model-0000000000", "library_name": "zoo", "tags": ["zoo"], "downloads": 1},'
    block = item * ((1 << 20) // len(item))
    handler.wfile.write(b"[")
    sent = 0
    while sent < 300_000_000:
        handler.wfile.write(block)
        sent += len(block)
    handler.wfile.write(b'{"id": "big/last"}]')
    handler.server.sent = sent  # type: ignore[attr-defined]


def _drip(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    for _ in range(60):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.5)


def _status(code: int):
    def answer(handler) -> None:
        handler.send_response(code)
        if code in (301, 302, 307):
            handler.send_header("Location", handler.path)  # a redirect loop
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return answer


def test_list_hub_against_a_server_that_never_answers_is_one_line_within_the_timeout(silent_endpoint, tmp_path):
    proc, seconds, _ = _zoo(_env(tmp_path, silent_endpoint), "list", "--hub", out_dir=tmp_path)
    assert_one_line_error(proc, "did not answer to list models within 2 s (ZOO_HUB_TIMEOUT)")
    assert TIMEOUT <= seconds < TIMEOUT + 3, seconds  # the deadline, plus start-up


def test_list_hub_against_a_dripping_server_is_one_line_within_the_timeout(tmp_path):
    with _Server(_handler(_drip)) as server:
        proc, seconds, _ = _zoo(_env(tmp_path, server.url), "list", "--hub", out_dir=tmp_path)
    assert_one_line_error(proc, "within 2 s (ZOO_HUB_TIMEOUT)")
    assert seconds < TIMEOUT + 3, seconds


def test_list_hub_stops_reading_a_300_mb_body_and_stays_under_200_mb(tmp_path):
    with _Server(_handler(_big_body)) as server:
        proc, seconds, peak = _zoo(_env(tmp_path, server.url, ZOO_HUB_TIMEOUT="60"), "list", "--hub",
                                   out_dir=tmp_path)
    assert_one_line_error(proc, "sent more than 4 MiB to list models; zoo stopped reading")
    assert peak < 200 << 20, peak / 2**20
    assert not hasattr(server.httpd, "sent")  # the client hung up long before the 300 MB were out


@pytest.mark.parametrize("code", [500, 302])
def test_list_hub_error_status_and_redirect_loop_are_one_line(tmp_path, code):
    with _Server(_handler(_status(code))) as server:
        proc, seconds, _ = _zoo(_env(tmp_path, server.url), "list", "--hub", out_dir=tmp_path)
    assert_one_line_error(proc, f"answered HTTP {code} to list models")
    assert seconds < TIMEOUT + 3


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:99999", "http://[::1", "ftp://example.org", "http://",
                                      "127.0.0.1:8080"])
def test_malformed_endpoints_are_one_line(tmp_path, endpoint):
    proc, _, _ = _zoo(_env(tmp_path, endpoint), "list", "--hub", out_dir=tmp_path)
    assert_one_line_error(proc, "HF_ENDPOINT=")
    pulled, _, _ = _zoo(_env(tmp_path, endpoint), "pull", "hf://someone/model", out_dir=tmp_path)
    assert_one_line_error(pulled, "HF_ENDPOINT=")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "1e9"])
def test_a_malformed_timeout_is_one_line(tmp_path, silent_endpoint, value):
    proc, _, _ = _zoo(_env(tmp_path, silent_endpoint, ZOO_HUB_TIMEOUT=value), "list", "--hub", out_dir=tmp_path)
    assert_one_line_error(proc, "ZOO_HUB_TIMEOUT=")


def test_the_token_is_not_sent_on_to_a_redirect(tmp_path):
    seen = []

    def answer(handler) -> None:
        seen.append((handler.path, handler.headers.get("Authorization")))
        if handler.path.startswith("/api/"):
            handler.send_response(302)
            handler.send_header("Location", "/elsewhere")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        body = b'[{"id": "a/b", "library_name": "zoo", "downloads": 3, "lastModified": "2026-01-02T03:04:05.000Z"}]'
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with _Server(_handler(answer)) as server:
        proc, _, _ = _zoo(_env(tmp_path, server.url, HF_TOKEN="hf_secret"), "list", "--hub", out_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].split() == ["hf://a/b", "?", "3", "2026-01-02", "03:04"], proc.stdout
    assert seen[0][1] == "Bearer hf_secret" and seen[1] == ("/elsewhere", None)

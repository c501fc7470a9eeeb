"""Bounded HTTP reads: every request zoo itself sends has a deadline, a size limit and no retry.

``get_json`` is what ``zoo list --hub`` reads the Hub's listing with (not huggingface_hub, whose
listing has no read timeout or size limit and retries with a warning per try). Limits, stated in
docs/security.md:

* ``ZOO_HUB_TIMEOUT`` (seconds, default 20, 0.1 to 600): one deadline for the whole read,
  connection, headers, body and every page together; a server that never answers, or drips,
  ends in one line when it passes.
* ``MAX_BYTES`` (4 MiB): the most bytes of body zoo reads, all pages together; a larger answer
  is refused in one line, read in 64 KiB pieces so that memory stays bounded whatever is sent.
* at most ``MAX_PAGES`` pages (``Link: rel="next"``) and urllib's 10 redirects; an
  ``Authorization`` header is never sent on to a redirect.

Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.parse
from typing import Any

from zoo_core.errors import HubError, HubOfflineError

DEFAULT_TIMEOUT = 20.0  # seconds, the whole read
MAX_BYTES = 4 << 20  # body bytes, all pages together
MAX_PAGES = 20
_CHUNK = 64 << 10


def timeout() -> float:
    """``ZOO_HUB_TIMEOUT`` (seconds) or 20; a malformed value is a one-line error."""
    raw = os.environ.get("ZOO_HUB_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 600:  # also refuses nan and inf
        raise HubError(f"ZOO_HUB_TIMEOUT={raw[:40]!r} is not a number of seconds from 0.1 to 600")
    return value


def check_endpoint(url: str, name: str = "HF_ENDPOINT") -> urllib.parse.SplitResult:
    """``url`` split, or a one-line :class:`HubError` when it is not ``http(s)://host[:port][/path]``."""
    shown = url if len(url) <= 100 and url.isprintable() else repr(url[:100])
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise HubError(f"{name}={shown} is not a URL ({exc}); expected http(s)://host[:port]") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(f"{name}={shown} is not a URL zoo can use; expected http(s)://host[:port]")
    return parts


_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _read(url: str, headers: dict, deadline: float, budget: int, result: dict) -> None:
    """One page: sets ``result['body']`` and ``result['next']``, or ``result['error']``."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={k: v for k, v in headers.items() if k != "Authorization"})
    if "Authorization" in headers:
        request.add_unredirected_header("Authorization", headers["Authorization"])
    try:
        remaining = max(0.05, deadline - time.monotonic())
        with urllib.request.urlopen(request, timeout=remaining) as response:
            size = response.headers.get("Content-Length")
            if size is not None and size.strip().isdigit() and int(size) > budget:
                result["error"] = ("size", int(size))
                return
            chunks, total = [], 0
            while True:
                if time.monotonic() > deadline:
                    result["error"] = ("timeout", None)
                    return
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > budget:
                    result["error"] = ("size", None)
                    return
                chunks.append(chunk)
            result["body"] = b"".join(chunks)
            link = _NEXT.search(response.headers.get("Link", "") or "")
            result["next"] = urllib.parse.urljoin(url, link.group(1)) if link else None
    except urllib.error.HTTPError as exc:
        result["error"] = ("status", exc.code)
    except Exception as exc:  # noqa: BLE001 - reported by the caller in one line
        timed_out = isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)
        result["error"] = ("timeout", None) if timed_out else ("network", exc)


def get_json(url: str, headers: dict | None = None, *, what: str = "read", max_bytes: int = MAX_BYTES,
             seconds: float | None = None) -> list:
    """GET ``url`` (and its ``rel="next"`` pages) as JSON lists joined into one, within the limits.

    Raises :class:`HubOfflineError` when nothing answers in time or the connection fails, and
    :class:`HubError` (with ``status``) for an HTTP error, a body over ``max_bytes`` or one that
    is not a JSON list. Each message is one line and names the limit it hit.
    """
    check_endpoint(url, "URL")
    seconds = timeout() if seconds is None else seconds
    deadline = time.monotonic() + seconds
    host = urllib.parse.urlsplit(url).netloc
    items: list = []
    used = 0
    for _ in range(MAX_PAGES):
        result: dict[str, Any] = {}
        # a daemon thread and one join: the deadline holds even for a server that drips its headers
        reader = threading.Thread(target=_read, args=(url, headers or {}, deadline, max_bytes - used, result),
                                  daemon=True, name="zoo-netread")
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()) + 0.05)
        if reader.is_alive() or result.get("error", (None,))[0] == "timeout":
            raise HubOfflineError(f"{host} did not answer to {what} within {seconds:g} s (ZOO_HUB_TIMEOUT); "
                                  "check the network (or HF_ENDPOINT)")
        error = result.get("error")
        if error is not None:
            kind, detail = error
            if kind == "size":
                raise HubError(f"{host} sent more than {max_bytes >> 20} MiB to {what}; zoo stopped reading "
                               "(a zoo listing is far smaller: check HF_ENDPOINT)")
            if kind == "status":
                exc = HubError(f"{host} answered HTTP {detail} to {what}")
                exc.status = detail
                raise exc
            reason = getattr(detail, "reason", None) or detail
            text = str(getattr(reason, "strerror", None) or reason).strip().splitlines()
            raise HubOfflineError(f"cannot reach {host} to {what} ({text[0][:120] if text else 'no answer'}); "
                                  "check the network (or HF_ENDPOINT)")
        body = result["body"]
        used += len(body)
        try:
            page = json.loads(body)
        except (ValueError, RecursionError):
            raise HubError(f"{host} answered {what} with something that is not JSON") from None
        if not isinstance(page, list):
            raise HubError(f"{host} answered {what} with JSON that is not a list")
        items.extend(page)
        if not result.get("next"):
            return items
        url = result["next"]
        if urllib.parse.urlsplit(url).netloc != host:
            raise HubError(f"{host} sent the next page of {what} to another host; zoo does not follow it")
    raise HubError(f"{host} sent more than {MAX_PAGES} pages to {what}; zoo stopped reading")

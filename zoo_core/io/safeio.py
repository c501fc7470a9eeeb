"""Bounded reads of files that may come from anyone: type and size first, then parse.

Every file zoo parses (JSON, safetensors headers, ``.npy``/``.npz``, images) goes through here:

* :func:`check_file` refuses anything that is not a regular file (``/dev/zero``, a FIFO, a
  socket, a folder) *before* opening it, and anything larger than the limit for its kind;
* :func:`read_bytes` opens without blocking (a FIFO swapped in after the check cannot hang
  the read), re-checks the opened file and reads at most the limit;
* :func:`load_json` bounds the size and the nesting depth of JSON documents.

Limits (bytes) can be raised through the environment for unusual data:
``ZOO_MAX_JSON_BYTES`` (default 16 MiB), ``ZOO_MAX_DATA_BYTES`` (default 2 GiB, the decoded size
of a ``--data`` file or image folder), ``ZOO_MAX_WEIGHTS_BYTES`` (default 4 GiB).

Only the standard library is imported here: ``zoo list`` reads catalogs through this module.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from zoo_core.errors import ZooError

MAX_JSON_DEPTH = 64
_DEFAULTS = {"json": 16 << 20, "data": 2 << 30, "weights": 4 << 30}


def limit(kind: str) -> int:
    """The byte limit for ``kind`` (``json``, ``data``, ``weights``), from the environment or the default."""
    text = os.environ.get(f"ZOO_MAX_{kind.upper()}_BYTES", "").strip()
    if text:
        try:
            value = int(text)
            if value > 0:
                return value
        except ValueError:
            pass
        raise ZooError(f"ZOO_MAX_{kind.upper()}_BYTES must be a positive number of bytes, not {text!r}")
    return _DEFAULTS[kind]


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_file(path: str | os.PathLike, max_bytes: int, what: str, error: type[ZooError] = ZooError) -> int:
    """Raise ``error`` unless ``path`` is a regular file of at most ``max_bytes``; return its size.

    A missing file raises :class:`FileNotFoundError` (callers word that case themselves).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {path} is {_kind_of(st.st_mode)}, not a regular file; refusing to read it")
    if st.st_size > max_bytes:
        raise error(f"{what} {path} is {_human(st.st_size)}, more than the limit of {_human(max_bytes)}")
    return st.st_size


def read_bytes(path: str | os.PathLike, max_bytes: int, what: str, error: type[ZooError] = ZooError) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, checked before and after opening."""
    check_file(path, max_bytes, what, error)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between the check and the open
            raise error(f"{what} {path} is {_kind_of(st.st_mode)}, not a regular file; refusing to read it")
        if st.st_size > max_bytes:
            raise error(f"{what} {path} is {_human(st.st_size)}, more than the limit of {_human(max_bytes)}")
        data = fh.read(st.st_size + 1)  # never a buffer larger than the file said it was
    if len(data) > st.st_size:
        raise error(f"{what} {path} grew while it was read; refusing it")
    return data


def json_depth_ok(value: Any, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests at most ``max_depth`` containers deep (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def parse_json(data: bytes | str, what: str, error: type[ZooError] = ZooError) -> Any:
    """Parse a JSON document whose nesting is at most :data:`MAX_JSON_DEPTH`; any problem raises ``error``."""
    if isinstance(data, (bytes, bytearray)):
        # JSON is UTF-8 (RFC 8259); json.loads would guess UTF-16 or UTF-32 from the first bytes
        try:
            data = bytes(data).decode("utf-8-sig")  # a UTF-8 BOM (Notepad) is still fine
        except UnicodeDecodeError as exc:
            raise error(f"{what} is not valid JSON: not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    try:
        value = json.loads(data)
    except RecursionError:
        raise error(f"{what} nests deeper than {MAX_JSON_DEPTH} levels; refusing it") from None
    except (UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{what} is not valid JSON: {reason}") from None
    if not json_depth_ok(value):
        raise error(f"{what} nests deeper than {MAX_JSON_DEPTH} levels; refusing it")
    return value


def load_json(path: str | os.PathLike, what: str, error: type[ZooError] = ZooError,
              max_bytes: int | None = None) -> Any:
    """Read and parse a JSON file with bounded size and nesting.

    A missing file raises :class:`FileNotFoundError`; everything else wrong raises ``error``
    with one line naming ``what`` and the path.
    """
    data = read_bytes(path, limit("json") if max_bytes is None else max_bytes, what, error)
    return parse_json(data, f"{what} {Path(path)}", error)


__all__ = ["MAX_JSON_DEPTH", "check_file", "json_depth_ok", "limit", "load_json", "parse_json", "read_bytes"]

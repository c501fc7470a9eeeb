"""Reading small JSON files zoo did or did not write: bounded, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zoo_core.errors import WeightsError, ZooError

#: largest JSON file zoo reads (manifests, configs, catalogs are a few KiB)
MAX_JSON_BYTES = 16 << 20
#: deepest nesting accepted (zoo's own files nest 3-4 levels)
MAX_DEPTH = 64


def _depth(text: str) -> int:
    depth = deepest = 0
    in_string = escape = False
    for ch in text:
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_bounded(text: str, where: str, error: type[ZooError] = WeightsError) -> Any:
    """``json.loads`` with a nesting bound; malformed text raises ``error`` in one line."""
    if _depth(text) > MAX_DEPTH:
        raise error(f"{where} nests deeper than {MAX_DEPTH} levels; refusing to read it")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise error(f"{where} is not valid JSON: {str(exc).splitlines()[0]}") from None


def read_json(path: str | os.PathLike, what: str = "JSON file", error: type[ZooError] = WeightsError) -> Any:
    """Read a regular JSON file of at most :data:`MAX_JSON_BYTES`; every failure is one line."""
    path = Path(path)
    try:
        if not path.exists():
            raise error(f"{what} {path} not found")
        if not path.is_file():
            raise error(f"{what} {path} is not a regular file")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise error(f"{what} {path} is larger than {MAX_JSON_BYTES >> 20} MiB; refusing to read it")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text") from None
    return loads_bounded(text, f"{what} {path}", error)


__all__ = ["MAX_DEPTH", "MAX_JSON_BYTES", "loads_bounded", "read_json"]

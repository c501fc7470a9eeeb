"""A memory estimate before zoo allocates: refuse, in one line, what the machine cannot hold.

A family may give its :class:`~zoo_core.families.Family` an ``estimate_memory(config, batch)``
function (light: no framework import) that returns a :class:`MemoryEstimate`: its parameter
count and the largest activation (values, for ``batch`` images at the config's size), and
optionally the sum of all activations. Without one, :meth:`Family.memory_estimate` says "no
estimate" (None) and nothing is checked. zoo turns the estimate into bytes (float32):

* ``build`` (batch 1): the weights three times (the initialiser's values, the framework's
  variables and one numpy copy when loading or saving; measured: the vae with
  ``filters=[4096]*4``, 916 M parameters, peaked at 12.5 GB, 3.4 times its 3.7 GB of weights)
  plus the largest activation twice (a layer's input and output);
* ``sample`` (batch n): the weights plus the largest activation twice for n images;
* ``train`` (batch batch_size): the weights four times (weights, gradients, Adam's two moments)
  plus every activation twice (kept for the backward pass, and its gradient); the largest one
  six times when the family gives no sum.

and compares it with :func:`available_memory` (``MemAvailable``, the cgroup's limit and
``RLIMIT_AS``, the smallest; ``ZOO_MEMORY_LIMIT`` caps it further, e.g. ``4GiB``). Over it, a
one-line :class:`~zoo_core.errors.ConfigError` names both; ``ZOO_NO_MEMORY_CHECK=1`` (the CLI's
``--no-memory-check``) goes ahead. It is an estimate of the tensors only: framework overhead
(hundreds of MB for TensorFlow) comes on top.
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

from zoo_core.errors import ConfigError

BYTES_PER_VALUE = 4  # float32
NO_CHECK = "ZOO_NO_MEMORY_CHECK"
LIMIT = "ZOO_MEMORY_LIMIT"


class MemoryEstimate(NamedTuple):
    """What a family's ``estimate_memory(config, batch)`` returns (counts of values, not bytes)."""

    parameters: int
    largest_activation: int
    activations: int | None = None  # the sum over all layers, when the family knows it


def required_bytes(estimate: MemoryEstimate, purpose: str) -> int:
    """The bytes ``estimate`` stands for when ``purpose`` is ``build``, ``sample`` or ``train``."""
    params, largest = int(estimate.parameters), int(estimate.largest_activation)
    if purpose == "build":
        values = 3 * params + 2 * largest
    elif purpose == "sample":
        values = params + 2 * largest
    elif purpose == "train":
        acts = 2 * int(estimate.activations) if estimate.activations is not None else 6 * largest
        values = 4 * params + acts
    else:
        raise ValueError(f"unknown purpose {purpose!r}")
    return values * BYTES_PER_VALUE


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
          "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}


def parse_size(text: str, name: str = LIMIT) -> int:
    """``'4GiB'``, ``'512MB'``, ``'1000000'`` as bytes; anything else a one-line error."""
    match = _SIZE.match(str(text))
    unit = (match.group(2) or "").lower() if match else None
    if match is None or unit not in _UNITS:
        raise ConfigError(f"{name}={str(text)[:40]!r} is not a size (e.g. 4GiB, 512MB or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[unit])


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read(1 << 16)
    except OSError:
        return None


def available_memory() -> int | None:
    """Bytes this process could still allocate, the smallest of what the OS says; None when unknown."""
    limits = []
    meminfo = _read("/proc/meminfo")
    found = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo or "", re.MULTILINE)
    if found:
        limits.append(int(found.group(1)) * 1024)
    else:
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    cap, used = _read("/sys/fs/cgroup/memory.max"), _read("/sys/fs/cgroup/memory.current")
    if cap and cap.strip().isdigit() and used and used.strip().isdigit():
        limits.append(max(0, int(cap) - int(used)))
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            status = _read("/proc/self/status") or ""
            size = re.search(r"^VmSize:\s+(\d+) kB", status, re.MULTILINE)
            limits.append(max(0, soft - (int(size.group(1)) * 1024 if size else 0)))
    except (ImportError, ValueError, OSError):
        pass
    override = os.environ.get(LIMIT, "").strip()
    if override:
        limits.append(parse_size(override))
    return min(limits) if limits else None


def checks_disabled() -> bool:
    """Whether ``ZOO_NO_MEMORY_CHECK`` says to go ahead without the check."""
    return os.environ.get(NO_CHECK, "").strip().lower() in ("1", "true", "yes", "on")


def human(size: float) -> str:
    """Bytes for a message: ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"  # pragma: no cover


_VERB = {"build": "to build", "sample": "to sample", "train": "to train"}


def check_memory(family: Any, config: dict, batch: int, purpose: str, *, processes: int = 1) -> int | None:
    """Refuse (:class:`ConfigError`, one line) when ``family``'s estimate exceeds the available memory.

    ``batch``: images at once (1 to build, n to sample, batch_size to train; per process when
    ``processes`` > 1, whose estimates add up). Returns the estimate in bytes, or None when the
    family gives none. Skipped (still returning the estimate) with ``ZOO_NO_MEMORY_CHECK=1``.
    """
    estimate = family.memory_estimate(config, int(batch)) if family is not None else None
    if estimate is None:
        return None
    need = required_bytes(estimate, purpose) * int(processes)
    if checks_disabled():
        return need
    have = available_memory()
    if have is not None and need > have:
        workers = f" in {processes} workers" if processes > 1 else ""
        raise ConfigError(
            f"'{family.name}' would need about {human(need)} {_VERB[purpose]} ({estimate.parameters:,} parameters, "
            f"largest activation {estimate.largest_activation:,} values at batch {batch}{workers}), more than the "
            f"{human(have)} this machine has available; use a smaller config or batch, or pass --no-memory-check "
            f"({NO_CHECK}=1) to go ahead")
    return need


__all__ = ["MemoryEstimate", "available_memory", "check_memory", "checks_disabled", "human", "parse_size",
           "required_bytes"]

"""How much slower than a quiet machine this one runs now: the factor every wall-clock limit in
the tests is multiplied by, so that the suite passes on a slow laptop or beside other work.

``factor()`` times a fixed pure-Python workload (median of five short runs, wall clock, so it
counts both a slower CPU and a CPU shared with other processes) against its time on a quiet
reference machine, and also looks at the load average per core; the larger wins, clamped to
1..50. It is measured once per test session and handed to child processes through
``ZOO_TEST_SLOWNESS`` (set it yourself to force a factor). ``scaled(seconds)`` is the limit to use:
``seconds`` times the session's factor, times the load now if that grew since.

No module of the package may be imported here: ``helpers/badinput.py`` runs this file's functions
in a bare child interpreter too.
"""

from __future__ import annotations

import os
import statistics
import time

#: the workload's wall time on a quiet 2-core machine (the fastest of 40 runs on the shared build machine
#: was 37.6 ms at load 6 per core; rounded down, so the factor errs on the generous side)
REFERENCE_SECONDS = 0.030
ENV = "ZOO_TEST_SLOWNESS"
_measured: float | None = None


def _workload() -> float:
    began = time.perf_counter()
    total = 0
    for i in range(200_000):
        total += i * i % 7
    return time.perf_counter() - began


def load_per_core() -> float:
    """The 1-minute load average per CPU core (0 where the OS gives none)."""
    try:
        return os.getloadavg()[0] / max(os.cpu_count() or 1, 1)
    except (AttributeError, OSError):
        return 0.0


def measure() -> float:
    """A fresh measurement of the factor (about 0.2 s on a quiet machine)."""
    wall = statistics.median(_workload() for _ in range(5))
    return min(max(1.0, wall / REFERENCE_SECONDS, load_per_core()), 50.0)


def factor() -> float:
    """The session's factor: ``$ZOO_TEST_SLOWNESS`` if set, else measured once and exported to children."""
    global _measured
    if _measured is None:
        forced = os.environ.get(ENV)
        try:
            _measured = max(float(forced), 1.0) if forced else measure()
        except ValueError:
            _measured = measure()
        os.environ[ENV] = f"{_measured:.2f}"
    return _measured


def scaled(seconds: float) -> float:
    """A wall-clock limit of ``seconds`` on a quiet machine, as long as this machine needs now."""
    return seconds * max(factor(), min(load_per_core(), 50.0))


def scaled_int(seconds: float) -> int:
    """:func:`scaled` rounded up to whole seconds (``signal.alarm`` takes integers)."""
    return int(scaled(seconds)) + 1


if __name__ == "__main__":  # pragma: no cover - prints the factor, e.g. to quote in a bug report
    print(f"workload median {statistics.median(_workload() for _ in range(5)) * 1000:.1f} ms "
          f"(reference {REFERENCE_SECONDS * 1000:.0f} ms), load per core {load_per_core():.2f}, "
          f"factor {measure():.2f}")

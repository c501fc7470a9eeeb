"""Start-up cost of the light commands: `zoo list`, `zoo info`, `zoo plugins`, `zoo --help`.

Goal: `zoo list` <= 0.3 s wall with torch and tensorflow installed. Each command runs in a fresh
process (warm file cache) REPEAT times; the median is reported. Run:

    .venv/bin/python benchmarks/bench_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

ZOO = str(Path(sys.executable).with_name("zoo"))
REPEAT = 15
COMMANDS = [["list"], ["list", "--json"], ["info", "glyphnet-64"], ["plugins"], ["--help"]]


def wall(cmd: list[str]) -> float:
    """Median wall seconds of running ``cmd``."""
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Measure and write the `## start-up` section of docs/benchmarks.md."""
    baseline = wall([sys.executable, "-c", "pass"])
    rows = [("`python -c pass` (interpreter alone)", baseline)]
    rows += [(f"`zoo {' '.join(c)}`", wall([ZOO, *c])) for c in COMMANDS]
    for label, seconds in rows:
        print(f"{label:40} {seconds * 1000:7.1f} ms")
    table = ["| command | median wall (ms) |", "|---|---|"]
    table += [f"| {label} | {seconds * 1000:.0f} |" for label, seconds in rows]
    verdict = "meets" if rows[1][1] <= 0.3 else "MISSES"
    table.append(f"\n`zoo list` {verdict} the 300 ms goal (median of {REPEAT} fresh processes).")
    write_section("start-up", "python benchmarks/bench_startup.py", "\n".join(table))


if __name__ == "__main__":
    main()

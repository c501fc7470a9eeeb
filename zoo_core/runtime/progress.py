"""Training progress, drawn by the core and rendered by whoever passes a stream: step, metrics, steps/s.

A :class:`Progress` is an ordinary training callback (``callback(step, logs)``), so plugins and
the CLI use the same one; plugins never import the CLI to report progress.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO


class Progress:
    """Callable training callback that draws ``step 120/1000 [##----] loss 0.123 | 14.2 steps/s``.

    On a terminal the line is redrawn at most 10 times a second; elsewhere (logs, CI) one line is
    printed every 10% of the run.
    """

    def __init__(self, total: int, start: int | None = None, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.start, self.width = total, start, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.perf_counter()
        self._last_draw = 0.0
        self._next_pct = 10

    def __call__(self, step: int, logs: Mapping[str, float]) -> None:
        now = time.perf_counter()
        if self.start is None:  # the first step reported (a resumed run starts past 0): timed from construction
            self.start = step - 1
        done = step - self.start
        rate = done / max(now - self.t0, 1e-9)
        metrics = " ".join(f"{k} {v:.4g}" for k, v in logs.items())
        filled = int(self.width * step / max(self.total, 1))
        line = f"step {step}/{self.total} [{'#' * filled}{'-' * (self.width - filled)}] {metrics} | {rate:.1f} steps/s"
        if self.tty:
            if now - self._last_draw >= 0.1 or step >= self.total:
                self.stream.write("\r" + line + "\033[K")
                self.stream.flush()
                self._last_draw = now
        elif 100 * step >= self._next_pct * self.total or step >= self.total:
            self.stream.write(line + "\n")
            self._next_pct = 10 * (100 * step // (10 * max(self.total, 1)) + 1)

    def close(self) -> None:
        """End the redrawn line."""
        if self.tty:
            self.stream.write("\n")

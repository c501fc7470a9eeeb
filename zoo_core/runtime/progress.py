"""Training progress, drawn by the core and rendered by whoever passes a stream: step, metrics,
steps/s, elapsed time and ETA.

A :class:`Progress` is an ordinary training callback (``callback(step, logs)``), so plugins, the
Python API (:meth:`zoo_core.model.ZooModel.train`) and the CLI use the same one; plugins never
import the CLI to report progress. :func:`make_progress` picks tqdm's notebook widget inside a
Jupyter kernel when tqdm is installed, else this plain bar.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from zoo_core.model import ZooModel
    from zoo_core.runtime.sessions import History


def clock(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Callable training callback that draws
    ``step 120/1000 [##----] loss 0.123 | 14.2 steps/s | 0:08 elapsed, ETA 1:02``.

    On a terminal the line is redrawn at most 10 times a second; elsewhere (logs, CI, a notebook
    without tqdm) one line is printed every 10% of the run, and at least every 30 seconds.
    """

    def __init__(self, total: int, start: int | None = None, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.start, self.width = total, start, width
        self.stream = stream or sys.stderr
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):  # a closed or odd stream
            self.tty = False
        self.t0 = time.perf_counter()
        self._last_draw = 0.0
        self._last_line = self.t0
        self._next_pct = 10
        self._first: tuple[int, float] | None = None
        self.step = 0

    def line(self, step: int, logs: Mapping[str, float], now: float | None = None) -> str:
        """The progress line after ``step`` (``now``: a ``perf_counter`` value)."""
        now = time.perf_counter() if now is None else now
        if self.start is None:  # the first step reported (a resumed run starts past 0): timed from construction
            self.start = step - 1
        done = step - self.start
        elapsed = max(now - self.t0, 1e-9)
        if self._first is None:  # the rate is timed from the first step: set-up (imports, data) is not a step
            self._first = (step, now)
        first_step, first_time = self._first
        rate = (step - first_step) / (now - first_time) if step > first_step and now > first_time else done / elapsed
        left = max(self.total - step, 0)
        eta = clock(left / rate) if rate > 0 else "?"
        metrics = " ".join(f"{k} {v:.4g}" for k, v in logs.items())
        filled = min(int(self.width * step / max(self.total, 1)), self.width)
        return (f"step {step}/{self.total} [{'#' * filled}{'-' * (self.width - filled)}] {metrics} | "
                f"{rate:.1f} steps/s | {clock(elapsed)} elapsed, ETA {eta}")

    def __call__(self, step: int, logs: Mapping[str, float]) -> None:
        now = time.perf_counter()
        self.step = step
        line = self.line(step, logs, now)
        if self.tty:
            if now - self._last_draw >= 0.1 or step >= self.total:
                self.stream.write("\r" + line + "\033[K")
                self.stream.flush()
                self._last_draw = now
        elif 100 * step >= self._next_pct * self.total or step >= self.total or now - self._last_line >= 30:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_line = now
            self._next_pct = 10 * (100 * step // (10 * max(self.total, 1)) + 1)

    def close(self) -> None:
        """End the redrawn line."""
        if self.tty and self.step:
            self.stream.write("\n")
            self.stream.flush()


class NotebookProgress:
    """The same callback drawn as tqdm's notebook widget (``tqdm.notebook``), with tqdm's own ETA."""

    def __init__(self, total: int, start: int | None = None) -> None:
        import ipywidgets  # noqa: F401 - tqdm's widget needs it; without it: ImportError, plain lines
        from tqdm.notebook import tqdm

        self.bar = tqdm(total=total, initial=start or 0, unit="step")
        self.started = start is not None

    def __call__(self, step: int, logs: Mapping[str, float]) -> None:
        if not self.started:  # a resumed run: the bar starts where the run stands
            self.bar.n = self.bar.last_print_n = step - 1
            self.started = True
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
        self.bar.update(step - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - a half-imported IPython
        return False
    return type(shell).__name__ == "ZMQInteractiveShell"


def make_progress(total: int, start: int | None = None, stream: TextIO | None = None) -> Any:
    """The progress callback for this place: tqdm's widget in a notebook (when tqdm is installed),
    else a :class:`Progress` on ``stream`` (default stderr): a redrawn bar on a terminal, plain lines elsewhere."""
    if stream is None and in_notebook():
        try:
            return NotebookProgress(total, start)
        except ImportError:  # no tqdm (or no ipywidgets): plain lines
            pass
    return Progress(total, start, stream)


def fit_with_progress(model: ZooModel, data: Any = None, *, steps: int | None = None, callbacks: Iterable[Any] = (),
                      progress: bool = True, **options: Any) -> History:
    """:func:`fit` as :meth:`ZooModel.train` runs it: with the progress bar on stderr (rank 0) unless
    ``progress`` is False, and on Ctrl-C the line that resumes printed before KeyboardInterrupt propagates."""
    import sys

    from zoo_core.runtime.distributed import current_world
    from zoo_core.runtime.loop import fit, total_steps

    callbacks = list(callbacks)
    bar = None
    if progress and (options.get("world") or current_world()).is_main:
        bar = make_progress(total_steps(steps, model.config))
        callbacks.append(bar)
    try:
        return fit(model, data, steps=steps, callbacks=callbacks, **options)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        sys.stderr.write(_resume_hint(options) + "\n")
        raise
    finally:
        if bar is not None:
            bar.close()


def _resume_hint(options: Mapping[str, Any]) -> str:
    """What :meth:`ZooModel.train` prints on Ctrl-C: the exact call that continues the run."""
    for key in ("run_dir", "checkpoint_dir"):
        if options.get(key) is not None:
            where = str(options[key])
            line = (f"interrupted; the last steps are checkpointed. Resume with: "
                    f"model.train(..., {key}={where!r}, resume=True)")
            if key == "run_dir":
                import shlex

                line += f" or: zoo train {shlex.quote(where)} --resume"
            return line
    return ("interrupted; no run folder, so nothing was written to disk. Resume this model object with: "
            "model.train(..., resume=True)")

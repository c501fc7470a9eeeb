"""Ctrl-C between training steps: let the step in flight finish, then stop cleanly.

Training loops wrap their steps in :class:`DeferredInterrupt`. The first Ctrl-C only sets a
flag, which the loop checks after each step (or compiled chunk of steps): it then writes a
checkpoint of a consistent state and raises :class:`KeyboardInterrupt` itself. A second Ctrl-C
interrupts at once, as usual.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


class DeferredInterrupt:
    """Context manager that turns the first SIGINT into ``self.raised = True``.

    Outside the main thread (where Python cannot install signal handlers) it does nothing and
    Ctrl-C behaves as usual.
    """

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc: Any) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


__all__ = ["DeferredInterrupt"]

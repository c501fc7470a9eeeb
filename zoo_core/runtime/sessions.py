"""What a trainable family implements for the runtime, and what the runtime hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from zoo_core.runtime.distributed import World

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class History(dict):
    """Training metrics: ``{"step": [...], "loss": [...], ...}``, one value per step.

    ``metrics`` holds the held-out results computed at the end of a run (empty otherwise); each
    History has its own.
    """

    metrics: dict

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = {}

    def append(self, step: int, logs: Mapping[str, float]) -> None:
        """Record the metrics of one step."""
        self.setdefault("step", []).append(int(step))
        for key, value in logs.items():
            self.setdefault(key, []).append(float(value))


class TrainingSession(Protocol):
    """A family's training algorithm, driven by :func:`zoo_core.runtime.fit`.

    ``run(first, last)`` trains global steps ``first..last`` (inclusive, 1-based) and returns one
    logs dict (metric -> float) per step; it is called with at most :attr:`steps_per_call` steps.
    ``state()`` returns every array needed to continue exactly (weights, optimizer slots, RNG
    states); ``load_state`` restores it. ``close()`` ends training (e.g. back to eval mode), also
    after an error; an optional ``finish()`` runs first when every step is done (it may use
    collectives, e.g. to give every rank the same batch-norm statistics).
    """

    # read-only for the runtime: a session may hold them as plain attributes (``examples``: the
    # number of training examples, ``None`` when unknown)
    @property
    def steps_per_call(self) -> int: ...
    @property
    def examples(self) -> int | None: ...

    def state(self) -> dict[str, np.ndarray]: ...
    def load_state(self, tensors: Mapping[str, np.ndarray]) -> None: ...
    def run(self, first: int, last: int) -> list[dict[str, float]]: ...
    def close(self) -> None: ...


@dataclass
class TrainContext:
    """What :func:`zoo_core.runtime.fit` hands to ``training_session``: the world, the device, the run's data record."""

    world: World
    device: str = "cpu"
    steps: int = 0
    data: dict | None = None
    extra: dict = field(default_factory=dict)


"""The per-step metrics log of a run folder: ``metrics.jsonl``, one JSON object per training step.

Each record holds what the family's step reported (``loss``, ...) plus ``step``, ``lr`` (the
learning rate the optimizer held after the step; ``null`` if the family has none) and ``time``
(Unix seconds when the step's chunk ended). Records are kept in memory and appended (flushed and
fsynced) just before each checkpoint is written; a resume first cuts the log back to the
checkpoint's step. So after a crash, ``kill -9`` or Ctrl-C and a resume, the log holds every step
exactly once, as an uninterrupted run's does.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: the log's name inside a run folder
METRICS_FILE = "metrics.jsonl"


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics log (or of the run folder holding one), in step order.

    A torn last line (a write killed midway) is skipped; a missing log is an empty list.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


class MetricsLog:
    """The log of one training session in a run folder (rank 0 only)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.pending: list[dict] = []

    def restart_at(self, step: int) -> None:
        """Keep the records of steps ``1..step`` only (once each): where the checkpoint resumes."""
        self.pending = []
        if step <= 0:
            self.path.unlink(missing_ok=True)
            return
        if not self.path.exists():
            return
        seen: dict[int, dict] = {}
        for record in read_metrics(self.path):
            if 1 <= record["step"] <= step and record["step"] not in seen:
                seen[record["step"]] = record
        from zoo_core.io.weights import atomic_write_bytes

        atomic_write_bytes(self.path, "".join(_line(seen[s]) for s in sorted(seen)).encode())

    def add(self, step: int, logs: Mapping[str, float], lr: float | None, when: float) -> None:
        """Keep one step's record until the next :meth:`flush`."""
        record: dict[str, Any] = {"step": int(step)}
        record.update({k: float(v) for k, v in logs.items()})
        record.setdefault("lr", lr)
        record["time"] = round(when, 3)
        self.pending.append(record)

    def flush(self) -> None:
        """Append the kept records and fsync (called right before a checkpoint is written)."""
        if not self.pending:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(_line(r) for r in self.pending))
            handle.flush()
            os.fsync(handle.fileno())
        self.pending = []


def _line(record: Mapping[str, Any]) -> str:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    return json.dumps(clean, separators=(",", ":")) + "\n"


def current_lr(session: Any, config: Mapping[str, Any]) -> float | None:
    """The learning rate a training session's optimizer holds now: ``session.learning_rate()`` if
    the family defines it, else a torch optimizer's first group, a Keras optimizer's value, or the
    config's ``lr``; None when there is none."""
    try:
        if callable(getattr(session, "learning_rate", None)):
            return float(session.learning_rate())
        optimizer = getattr(session, "optimizer", None)
        groups = getattr(optimizer, "param_groups", None)
        if groups:
            return float(groups[0]["lr"])
        value = getattr(optimizer, "learning_rate", None)
        if value is not None:
            return float(value.numpy() if hasattr(value, "numpy") else value)
    except Exception:  # noqa: BLE001 - a schedule object without a plain value: fall back to the config
        pass
    lr = config.get("lr")
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


def steps_of(records: Iterable[Mapping[str, Any]]) -> list[int]:
    """The step numbers of some records (what the tests count)."""
    return [int(r["step"]) for r in records]

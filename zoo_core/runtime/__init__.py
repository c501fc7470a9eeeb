"""The training runtime every trainable family shares: run folders, checkpoints, exact resume.

A family makes its models trainable by one method, ``training_session(data, steps, context)``,
which returns a :class:`TrainingSession`: the family's own algorithm (optimizer, data pipeline,
the step itself) behind four calls. Everything around it is here, the same for every family,
built-in or third-party:

* **steps** are global and 1-based; ``steps`` is always the run's total, on a fresh run and on a
  resume alike;
* **checkpoints** (:mod:`zoo_core.io.checkpoints`) hold the session's whole state and the history,
  verified by sha256 on load; the newest ``keep`` are kept; Ctrl-C finishes the steps in
  flight, checkpoints once and re-raises;
* **run folders**: ``RUN/config.json`` + ``RUN/model.safetensors`` (a saved model),
  ``RUN/checkpoint/``, and ``RUN/run.json``, a manifest rewritten atomically at every checkpoint
  (family, resolved config, step, steps, data with its sha256, seed, device, world size, versions,
  start and finish times, held-out metrics). A run folder is locked while it trains;
* **determinism**: :func:`step_seed` and :class:`BatchSampler` make every step's data and
  randomness a function of (seed, step), so a resumed run retraces an uninterrupted one;
* **data parallelism**: the session trains on its rank's shard of each global batch; the
  runtime averages the logged metrics over ranks and only rank 0 writes.

This module is the runtime's public face for family authors; the parts live in
:mod:`zoo_core.runtime.batches` (seeds, batches), :mod:`zoo_core.runtime.sessions` (the protocol),
:mod:`zoo_core.runtime.runs` (run folders) and :mod:`zoo_core.runtime.loop` (the loop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo_core.util.lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover - at run time the names load lazily, so `zoo list` imports only what it uses
    from zoo_core.runtime.batches import BatchSampler, splitmix64, step_seed
    from zoo_core.runtime.loop import fit
    from zoo_core.runtime.runs import RunFolder, describe_data, is_run_folder, run_data, versions
    from zoo_core.runtime.sessions import History, TrainContext, TrainingSession

_EXPORTS = {
    "BatchSampler": "zoo_core.runtime.batches", "splitmix64": "zoo_core.runtime.batches",
    "step_seed": "zoo_core.runtime.batches", "fit": "zoo_core.runtime.loop",
    "RunFolder": "zoo_core.runtime.runs", "describe_data": "zoo_core.runtime.runs",
    "is_run_folder": "zoo_core.runtime.runs", "run_data": "zoo_core.runtime.runs", "versions": "zoo_core.runtime.runs",
    "History": "zoo_core.runtime.sessions", "TrainContext": "zoo_core.runtime.sessions",
    "TrainingSession": "zoo_core.runtime.sessions",
}

__all__ = ["BatchSampler", "History", "RunFolder", "TrainContext", "TrainingSession",
           "describe_data", "fit", "is_run_folder", "run_data", "splitmix64", "step_seed", "versions"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""The training runtime every trainable family shares: run folders, checkpoints, exact resume.

A family makes its models trainable by one method, ``training_session(data, steps, context)``,
which returns a :class:`TrainingSession`: the family's own algorithm (optimizer, data pipeline,
the step itself) behind four calls. Everything around it is here, the same for every family,
built-in or third-party:

* **steps** are global and 1-based; ``steps`` is always the run's total, on a fresh run and on a
  resume alike;
* **checkpoints** (:mod:`zoo_core.checkpoints`) hold the session's whole state and the history,
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
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Protocol

from zoo_core.distributed import World, current_world
from zoo_core.errors import ConfigError, WeightsError, ZooError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from zoo_core.model import History, ZooModel

MANIFEST = "run.json"
CHECKPOINT_DIR = "checkpoint"
LOCK_FILE = ".lock"
_MASK64 = (1 << 64) - 1


# -- seeds and batches ---------------------------------------------------------------------------


def splitmix64(x: int) -> int:
    """One round of the SplitMix64 mixer: a well-spread 64-bit integer from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    """A 63-bit seed for step ``step`` of a run seeded ``seed``; ``stream`` separates uses."""
    return splitmix64(splitmix64(splitmix64(stream) ^ int(seed)) ^ int(step)) >> 1


class BatchSampler:
    """Which examples global step ``k`` trains on: a function of (seed, k) alone.

    The examples are visited in epochs, each a permutation seeded by (seed, epoch); step ``k``
    takes positions ``[(k-1)*batch, k*batch)`` of the concatenated epochs, so nothing is
    repeated or skipped across a resume. In a world of several ranks each rank takes its
    contiguous shard of that global batch (:func:`zoo_core.distributed.shard`).
    """

    STREAM = 0x62617463  # "batc"

    def __init__(self, examples: int, batch: int, seed: int, world: World | None = None) -> None:
        from zoo_core.distributed import shard

        if examples < 1:
            raise ZooError("no training examples")
        self.examples, self.batch, self.seed = int(examples), int(batch), int(seed)
        self.part = shard(self.batch, world or World())
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        import numpy as np

        if epoch not in self._perms:
            if len(self._perms) > 2:
                self._perms.pop(min(self._perms))
            rng = np.random.default_rng([self.STREAM, self.seed, epoch])
            self._perms[epoch] = rng.permutation(self.examples)
        return self._perms[epoch]

    def global_indices(self, step: int) -> np.ndarray:
        """Indices of the whole global batch of ``step`` (1-based)."""
        import numpy as np

        positions = np.arange((step - 1) * self.batch, step * self.batch, dtype=np.int64)
        epochs, offsets = np.divmod(positions, self.examples)
        out = np.empty(self.batch, dtype=np.int64)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            out[sel] = self._perm(int(epoch))[offsets[sel]]
        return out

    def indices(self, step: int) -> np.ndarray:
        """This rank's shard of the global batch of ``step``."""
        return self.global_indices(step)[self.part]


# -- what a family implements --------------------------------------------------------------------


class TrainingSession(Protocol):
    """A family's training algorithm, driven by :func:`fit`.

    ``run(first, last)`` trains global steps ``first..last`` (inclusive, 1-based) and returns one
    logs dict (metric -> float) per step; it is called with at most :attr:`steps_per_call` steps.
    ``state()`` returns every array needed to continue exactly (weights, optimizer slots, RNG
    states); ``load_state`` restores it. ``close()`` ends training (e.g. back to eval mode), also
    after an error; an optional ``finish()`` runs first when every step is done (it may use
    collectives, e.g. to give every rank the same batch-norm statistics).
    """

    steps_per_call: int
    examples: int | None

    def state(self) -> dict[str, np.ndarray]: ...
    def load_state(self, tensors: Mapping[str, np.ndarray]) -> None: ...
    def run(self, first: int, last: int) -> list[dict[str, float]]: ...
    def close(self) -> None: ...


@dataclass
class TrainContext:
    """What :func:`fit` hands to ``training_session``: the world, the device and the run's data record."""

    world: World
    device: str = "cpu"
    steps: int = 0
    data: dict | None = None
    extra: dict = field(default_factory=dict)


# -- data records --------------------------------------------------------------------------------


def describe_data(data: Any) -> dict | None:
    """The run manifest's ``data``: None, or the source, its sha256 and (later) its example count."""
    if data is None:
        return None
    try:
        import numpy as np

        if isinstance(data, np.ndarray):
            return {"source": "array", "sha256": hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest(),
                    "examples": int(len(data))}
    except ImportError:  # pragma: no cover
        pass
    text = str(data)
    path = Path(text)
    if path.exists():
        return {"source": str(path.resolve()), "sha256": _path_sha256(path), "examples": None}
    return {"source": text, "sha256": None, "examples": None}  # a built-in dataset spec


def _path_sha256(path: Path) -> str:
    from zoo_core.weights import sha256_file

    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(child.relative_to(path)).encode() + b"\0" + sha256_file(child).encode())
    return digest.hexdigest()


def versions(model: ZooModel) -> dict[str, str]:
    """zoo, the plugin's distribution, python and the frameworks already imported."""
    from importlib import metadata

    from zoo_core import __version__

    out = {"zoo": __version__, "python": platform.python_version()}
    plugin = getattr(model.family, "plugin", "") if model.family else ""
    if plugin:
        from zoo_core.plugins import get_registry

        info = get_registry().plugins.get(plugin)
        if info is not None and info.distribution:
            out["plugin"] = f"{info.distribution} {info.version}"
    for module, dist in (("torch", "torch"), ("tensorflow", "tensorflow"), ("keras", "keras")):
        if module in sys.modules:
            try:
                out[module] = metadata.version(dist if module != "tensorflow" else _tf_dist())
            except metadata.PackageNotFoundError:
                out[module] = str(getattr(sys.modules[module], "__version__", "?"))
    return out


def _tf_dist() -> str:
    from importlib import metadata

    for name in ("tensorflow", "tensorflow-cpu"):
        try:
            metadata.version(name)
            return name
        except metadata.PackageNotFoundError:
            continue
    return "tensorflow"


# -- run folders ---------------------------------------------------------------------------------


class RunFolder:
    """A run folder: the saved model, ``checkpoint/``, ``run.json`` and a lock while training."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / CHECKPOINT_DIR
        self.manifest_path = self.path / MANIFEST

    def read_manifest(self) -> dict:
        """``run.json`` as a dict; a missing or malformed one is a one-line error."""
        from zoo_core.model import read_family_json

        return read_family_json(self.manifest_path, "run manifest", "run folder",
                                f"{self.path} has no {MANIFEST}; it is not a zoo run folder")

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Rewrite ``run.json`` atomically."""
        from zoo_core.weights import atomic_write_bytes

        atomic_write_bytes(self.manifest_path, (json.dumps(manifest, indent=2, default=str) + "\n").encode())

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the folder; a second trainer gets a one-line error.

        ``flock`` locks die with their process, so a killed run leaves no stale lock.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / LOCK_FILE, "a+")
        try:
            try:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - Windows: no lock
                pass
            except OSError:
                raise ZooError(f"run folder '{self.path}' is in use by another training process") from None
            self._remove_stray_temporaries()
            yield
        finally:
            handle.close()


    def _remove_stray_temporaries(self) -> None:
        """Temporary files of writes killed midway (``.NAME.XXXX.tmp``); safe while the lock is held."""
        for folder in (self.path, self.checkpoints):
            if folder.is_dir():
                for stray in folder.glob(".*.tmp"):
                    stray.unlink(missing_ok=True)


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a ``run.json``."""
    return (Path(path) / MANIFEST).is_file()


def run_data(ref: str | Path) -> str | None:
    """The data source a run folder trained on (its ``run.json``), or None (not a run, or the default)."""
    if not is_run_folder(ref):
        return None
    data = RunFolder(ref).read_manifest().get("data")
    source = data.get("source") if isinstance(data, dict) else None
    return source if isinstance(source, str) and source != "array" else None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- fit -----------------------------------------------------------------------------------------


def _check_resume_config(model: ZooModel, saved: Mapping[str, Any], where: str) -> None:
    safe = set(getattr(model.family, "resume_safe", ("lr", "steps")) if model.family else ("lr", "steps"))
    changed = sorted(k for k in set(saved) | set(model.config)
                     if k not in safe and saved.get(k) != model.config.get(k))
    if changed:
        shown = ", ".join(f"{k} {saved.get(k)!r} != {model.config.get(k)!r}" for k in changed[:4])
        raise WeightsError(f"{where} belongs to another config ({shown}); use a new run folder")


def _check_session_state(fresh: Mapping[str, Any], saved: Mapping[str, Any], where: str) -> None:
    """Every array a fresh session has must be in the checkpoint with the same shape and dtype.

    The checkpoint may hold more (optimizer slots that only exist after a first step); the
    session's ``load_state`` checks those itself.
    """
    from zoo_core.weights import check_state

    check_state(fresh, {k: v for k, v in saved.items() if k in fresh}, where)


def fit(model: ZooModel, data: Any = None, *, steps: int | None = None, callbacks: Iterable[Any] = (),
        run_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None, resume: bool = False,
        checkpoint_every: int | None = None, keep: int = 3, evaluate: bool | None = None,
        world: World | None = None, extra: Mapping[str, Any] | None = None) -> History:
    """Train ``model`` in place up to global step ``steps`` (a total) and return its whole History.

    :param data: what the family trains on (None: its default); recorded in ``run.json``.
    :param run_dir: a run folder to lock and fill (model, checkpoints, ``run.json``).
    :param checkpoint_dir: checkpoints only, without a run folder (default ``run_dir/checkpoint``).
    :param resume: continue from the newest checkpoint; without one it is an error. Without a
        checkpoint folder, continue this model object's last run from memory (no disk at all).
    :param checkpoint_every: steps between checkpoints (default: a tenth of the run, at least 50).
    :param evaluate: compute the family's held-out metrics at the end (default: with a run folder).
    """
    if not hasattr(model, "training_session"):
        from zoo_core.errors import NotTrainableError

        raise NotTrainableError(f"family '{model.family_name}' is not trainable")
    total = int(model.config.get("steps", 1000) if steps is None else steps)
    if total < 0:
        raise ConfigError("steps must be >= 0")
    world = world or current_world()
    run = RunFolder(run_dir) if run_dir is not None else None
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else (run.checkpoints if run else None)
    every = int(checkpoint_every or max(50, total // 10))
    if every < 1:
        raise ConfigError("checkpoint_every must be >= 1")
    callbacks = list(callbacks)
    created = run is not None and world.is_main and not run.path.exists()
    lock = run.lock() if run is not None and world.is_main else _nothing()
    try:
        with lock:
            return _fit_locked(model, data, total, callbacks, run, ckpt_dir, resume, every, keep,
                               evaluate if evaluate is not None else run is not None, world, dict(extra or {}))
    except BaseException:
        # a run that failed before its first checkpoint (bad data, a bad config...) leaves nothing behind
        if created and not (run.checkpoints.is_dir() and any(run.checkpoints.iterdir())):
            import shutil

            shutil.rmtree(run.path, ignore_errors=True)
        raise


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _fit_locked(model, data, total, callbacks, run, ckpt_dir, resume, every, keep, evaluate, world, extra) -> History:
    import numpy as np

    from zoo_core.checkpoints import latest_checkpoint, read_checkpoint, save_checkpoint
    from zoo_core.interrupt import DeferredInterrupt
    from zoo_core.model import History

    data_record = describe_data(data) if run is not None else None  # hashing the data only for run.json
    manifest: dict[str, Any] = {}
    if run is not None and resume and run.manifest_path.is_file():
        manifest = run.read_manifest()
        recorded = manifest.get("data")
        if data_record and recorded and data_record.get("sha256") != recorded.get("sha256"):
            raise ZooError(f"the data at {data_record['source']} changed since run '{run.path}' started "
                           "(sha256 differs); resume with the same data or start a new run")
    ctx = TrainContext(world=world, device=getattr(model, "device", "cpu"), steps=total, data=data_record,
                       extra=extra)
    session = model.training_session(data, total, ctx)
    if data_record is not None and getattr(session, "examples", None) is not None:
        data_record["examples"] = int(session.examples)

    start, logs_so_far = 0, {}
    memory = getattr(model, "_continuation", None) if ckpt_dir is None else None
    if resume and memory is not None:  # no checkpoints: continue the model's last run in memory
        session.load_state(memory["state"])
        start, logs_so_far = memory["step"], memory["history"]
    elif resume:
        path = latest_checkpoint(ckpt_dir) if ckpt_dir is not None else None
        if path is None:
            raise ZooError(f"nothing to resume: no checkpoint in {ckpt_dir or '(no run folder)'}")
        tensors, meta = read_checkpoint(path)
        if meta.get("family") != model.family_name:
            raise WeightsError(f"checkpoint {path} was written by family '{meta.get('family')}', "
                               f"not '{model.family_name}'")
        _check_resume_config(model, meta.get("config") or {}, f"checkpoint {path}")
        state = {k[len("session/"):]: v for k, v in tensors.items() if k.startswith("session/")}
        _check_session_state(session.state(), state, str(path))
        session.load_state(state)
        start = int(meta["step"])
        logs_so_far = {k[len("history/"):]: v for k, v in tensors.items() if k.startswith("history/")}
        if len(logs_so_far.get("step", ())) and int(logs_so_far["step"][-1]) != start:
            raise WeightsError(f"checkpoint {path} is corrupt (history ends at step "
                               f"{int(logs_so_far['step'][-1])}, header says {start})")

    history = History()
    steps_done = [int(s) for s in logs_so_far.get("step", [])]
    for i, step in enumerate(steps_done):
        history.append(step, {k: float(v[i]) for k, v in logs_so_far.items() if k != "step"})

    started = manifest.get("started") or _now()

    def write_manifest(step: int, finished: str | None = None, metrics: dict | None = None) -> None:
        if run is None or not world.is_main:
            return
        record = {
            "family": model.family_name, "config": model.config, "step": int(step), "steps": total,
            "data": data_record if data_record is not None else manifest.get("data"),
            "seed": model.config.get("seed"), "device": ctx.device, "world_size": world.size,
            "versions": versions(model), "started": started, "finished": finished,
            "metrics": metrics if metrics is not None else manifest.get("metrics", {}),
        }
        if finished is not None and done > clock["from"]:  # this session's speed, warm-up excluded
            seconds, timed = clock["end"] - clock["start"], done - clock["from"]
            record["timing"] = {"steps": timed, "seconds": round(seconds, 3),
                                "steps_per_second": round(timed / max(seconds, 1e-9), 3)}
        if world.distributed and finished is not None:
            record["replicas_agree"] = True  # checked before the run may finish (else an error)
        if "base_model" in extra or "base_model" in manifest:
            record["base_model"] = extra.get("base_model", manifest.get("base_model"))
        run.write_manifest(record)

    def checkpoint(step: int) -> None:
        if ckpt_dir is None or not world.is_main:
            return
        tensors = {f"session/{k}": v for k, v in session.state().items()}
        tensors["history/step"] = np.asarray(history.get("step", []), dtype=np.int64)
        for key, values in history.items():
            if key != "step":
                tensors[f"history/{key}"] = np.asarray(values, dtype=np.float64)
        save_checkpoint(ckpt_dir, step, tensors, {"family": model.family_name, "config": model.config,
                                                 "world_size": world.size}, keep=keep)
        write_manifest(step)

    write_manifest(start)
    done = start
    # timing excludes the first call (tracing, compilation, caches warming up)
    clock = {"start": time.perf_counter(), "end": time.perf_counter(), "from": start, "warm": False}
    try:
        with DeferredInterrupt() as interrupt:
            while done < total:
                until = every - done % every
                last = min(total, done + until, done + max(int(getattr(session, "steps_per_call", 1)), 1))
                chunk, flat = _collective(world, lambda: session.run(done + 1, last), interrupt)
                keys = sorted(chunk[0]) if chunk else []
                stop = flat.pop() > 0
                for i, step in enumerate(range(done + 1, last + 1)):
                    values = {k: flat[i * len(keys) + j] for j, k in enumerate(keys)}
                    if not all(np.isfinite(v) for v in values.values()):
                        raise ZooError(f"training diverged at step {step} ({values}); lower the learning rate")
                    history.append(step, values)
                    for callback in callbacks:
                        callback(step, values)
                done = last
                if not clock["warm"] and done < total:
                    clock.update(start=time.perf_counter(), warm=True, **{"from": done})
                if not world.distributed:  # one process: a Ctrl-C during the callbacks counts now
                    stop = interrupt.raised
                if done % every == 0 or done == total or stop:
                    checkpoint(done)
                if stop:  # Ctrl-C: the steps in flight finished and are checkpointed
                    raise KeyboardInterrupt
        clock["end"] = time.perf_counter()
        # what train(..., resume=True) without checkpoints continues from (kept in memory)
        model._continuation = {"step": done, "state": session.state(),
                               "history": {k: np.asarray(v) for k, v in history.items()}}
        if hasattr(session, "finish"):  # the run is complete: e.g. synchronise buffers across ranks
            _collective(world, session.finish)
    finally:
        session.close()
    if world.distributed:  # every rank must end with the same weights
        agree = _collective(world, lambda: world.agree(_state_digest(model)))
        if not agree:
            raise ZooError("the workers ended with different weights; the run is not data-parallel")
    if run is not None and world.is_main:
        model.save(run.path)
        metrics = _evaluate(model, data) if evaluate else {}
        write_manifest(done, finished=_now(), metrics=metrics)
        history.metrics = metrics
    elif evaluate and world.is_main:
        history.metrics = _evaluate(model, data)
    world.barrier()
    return history


def _collective(world: World, work: Any, interrupt: Any = None) -> Any:
    """Run a step or collective; in a world of several ranks a lost peer becomes one line.

    With ``interrupt``: returns ``(logs, flat)`` where ``flat`` is the logs' values in sorted-key
    order plus the Ctrl-C flag, averaged over the ranks.
    """
    try:
        if interrupt is None:
            return work()
        chunk = work()
        keys = sorted(chunk[0]) if chunk else []
        flat = [float(logs[k]) for logs in chunk for k in keys] + [1.0 if interrupt.raised else 0.0]
        return chunk, (world.mean(flat) if world.distributed else flat)
    except (ZooError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a collective failing because a peer died
        if not world.distributed:
            raise
        from zoo_core.distributed import PeerLost

        raise PeerLost(f"rank {world.rank} lost contact with the other workers "
                       f"({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]})") from None


def _state_digest(model: ZooModel) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode() + b"\0" + value.tobytes())
    return digest.hexdigest()


def _evaluate(model: ZooModel, data: Any) -> dict:
    """The family's held-out metrics, JSON-ready numbers only."""
    try:
        result = model.evaluate(data)
    except ZooError:
        return {}
    return {k: v for k, v in result.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}


__all__ = ["BatchSampler", "RunFolder", "TrainContext", "TrainingSession", "describe_data", "fit",
           "is_run_folder", "run_data", "step_seed", "splitmix64", "versions"]

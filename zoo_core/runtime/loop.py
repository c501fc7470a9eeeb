"""The training loop behind :func:`zoo_core.runtime.fit`: resume, chunked steps, checkpoints, the manifest."""

from __future__ import annotations

import hashlib
import numbers
import time
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.config import DEFAULT_STEPS, MAX_STEPS
from zoo_core.errors import ConfigError, WeightsError, ZooError
from zoo_core.runtime.distributed import World, current_world
from zoo_core.runtime.runs import RunFolder, check_resume_config, describe_data, now, versions
from zoo_core.runtime.sessions import History, TrainContext

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.model import ZooModel

#: the most steps between two checkpoints when the caller names no interval
CHECKPOINT_EVERY_MAX = 1000
#: ... and the most seconds: a long run always has a checkpoint at most this old (plus one chunk)
CHECKPOINT_SECONDS = 600.0


def fit(model: ZooModel, data: Any = None, *, steps: int | None = None, callbacks: Iterable[Any] = (),
        run_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None, resume: bool = False,
        checkpoint_every: int | None = None, keep: int = 3, evaluate: bool | None = None,
        world: World | None = None, extra: Mapping[str, Any] | None = None,
        checked_config: Mapping[str, Any] | None = None) -> History:
    """Train ``model`` in place up to global step ``steps`` (a total) and return its whole History.

    :param data: what the family trains on (None: its default); recorded in ``run.json``.
    :param run_dir: a run folder to lock and fill (model, checkpoints, ``run.json``).
    :param checkpoint_dir: checkpoints only, without a run folder (default ``run_dir/checkpoint``).
    :param resume: continue from the newest checkpoint; without one it is an error. Without a
        checkpoint folder, continue this model object's last run from memory (no disk at all).
    :param checkpoint_every: steps between checkpoints, 1..MAX_STEPS (default: the resumed run's
        own, else a tenth of the run, at least 50 and at most 1,000, and at least every 10 minutes);
        recorded in ``run.json``.
    :param steps: the run's total, 0..MAX_STEPS (default: the config's ``steps``).
    :param evaluate: compute the family's held-out metrics at the end (default: with a run folder).
    :param checked_config: the saved config the caller already held this model's config to
        (``zoo train --resume`` checks its ``--set`` against ``run.json`` before building); a
        checkpoint saved with that very config is not checked again.
    """
    from zoo_core.runtime.legacy import legacy_fit, trains_here

    if not trains_here(model):  # plugin contract 1 (its own train()), or a class that cannot train
        return legacy_fit(model, data, steps=steps, callbacks=callbacks, run_dir=run_dir, resume=resume)
    total = total_steps(steps, model.config)
    if checkpoint_every is not None:
        check_count(checkpoint_every, "checkpoint_every", 1, MAX_STEPS)
    world = world or current_world()
    from zoo_core.backends.memory import check_memory  # before the first step allocates

    check_memory(model.family, model.config, max(1, int(model.config.get("batch_size", 1)) // world.size), "train")
    run = RunFolder(run_dir) if run_dir is not None else None
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else (run.checkpoints if run else None)
    loop = _Fit(model, data, total, list(callbacks), run, ckpt_dir, checkpoint_every, keep,
                evaluate if evaluate is not None else run is not None, world, dict(extra or {}))
    loop.checked_config = dict(checked_config) if checked_config is not None else None
    created = run is not None and world.is_main and not run.path.exists()
    try:
        with run.lock() if run is not None and world.is_main else nullcontext():
            return loop.train(resume)
    except BaseException:
        # a run that failed before its first checkpoint (bad data, a bad config...) leaves nothing behind
        if created and run is not None and not (run.checkpoints.is_dir() and any(run.checkpoints.iterdir())):
            import shutil

            shutil.rmtree(run.path, ignore_errors=True)
        raise


def total_steps(steps: Any, config: Mapping[str, Any]) -> int:
    """The run's total steps, decided once: ``steps`` if given, else the config's ``steps``, else
    :data:`~zoo_core.config.DEFAULT_STEPS`; an integer in 0..MAX_STEPS (0: nothing left to train)."""
    value = config.get("steps", DEFAULT_STEPS) if steps is None else steps
    return check_count(value, "steps", 0, MAX_STEPS)


def default_checkpoint_every(total: int) -> int:
    """Steps between checkpoints when none is given: a tenth of the run, at least 50 and at most
    :data:`CHECKPOINT_EVERY_MAX` (a run also checkpoints every :data:`CHECKPOINT_SECONDS`)."""
    return min(max(50, total // 10), CHECKPOINT_EVERY_MAX)


def check_count(value: Any, key: str, low: int, high: int) -> int:
    """An integer (a numpy one too) in ``low..high``, not a bool, float or string; else a one-line ConfigError."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not low <= int(value) <= high:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise ConfigError(f"{key} must be an integer in {low}..{high}, not {shown}")
    return int(value)


class _Fit:
    """One call of :func:`fit`, with the run folder locked (on rank 0)."""

    def __init__(self, model: ZooModel, data: Any, total: int, callbacks: list, run: RunFolder | None,
                 ckpt_dir: Path | None, every: int | None, keep: int, evaluate: bool, world: World,
                 extra: dict) -> None:
        self.model, self.data, self.total, self.callbacks = model, data, total, callbacks
        self.run, self.ckpt_dir, self.keep = run, ckpt_dir, keep
        self.requested_every = every  # None: the resumed run's own interval, else the default
        self.every = every or default_checkpoint_every(total)
        self.timed_checkpoints = every is None
        self.checked_config: dict | None = None
        self.evaluate, self.world, self.extra = evaluate, world, extra
        self.history = History()
        self.manifest: dict[str, Any] = {}
        self.schedule: list[dict] = []
        self.done = 0
        # timing: every step this session ran, the first call (tracing, warm-up) included
        self.clock = {"start": 0.0, "end": 0.0, "from": 0}
        # the per-step metrics log of a run folder (rank 0), appended with each checkpoint
        from zoo_core.runtime.metrics_log import METRICS_FILE, MetricsLog

        self.log = MetricsLog(run.path / METRICS_FILE) if run is not None and world.is_main else None

    def train(self, resume: bool) -> History:
        """Open the session, restore, run every step, finish; return the history."""
        self.data_record = describe_data(self.data) if self.run is not None else None  # hashed for run.json only
        if self.run is not None and resume and self.run.manifest_path.is_file():
            self.manifest = self.run.read_manifest()
            self._check_data()
            if self.requested_every is None and self.manifest.get("checkpoint_every"):
                self.every = int(self.manifest["checkpoint_every"])  # a resume keeps the run's interval
        self.ctx = TrainContext(world=self.world, device=getattr(self.model, "device", "cpu"), steps=self.total,
                                data=self.data_record, extra=self.extra)
        self.session = self.model.training_session(self.data, self.total, self.ctx)
        examples = getattr(self.session, "examples", None)
        if self.data_record is not None and examples is not None:
            self.data_record["examples"] = int(examples)
        self.started = self.manifest.get("started") or now()
        try:
            self.done = self._restore() if resume else 0
            if self.log is not None:  # steps past the checkpoint (a killed run) are run again
                self.log.restart_at(self.done)
            self.schedule = self._schedule()
            self.write_manifest(self.done)
            self._steps()
        finally:
            self.session.close()
        return self._finish()

    def _schedule(self) -> list[dict]:
        """The run's sessions that changed its plan: ``{"from": step, "steps": total}``, plus the
        resume-safe ``config`` keys this session changed. A resume to a new total (a learning-rate
        schedule stretched half-way) or with a new ``lr`` is part of the recipe; a plain resume is not."""
        manifest = self.manifest
        schedule = [dict(s) for s in manifest.get("schedule") or
                    ([{"from": 0, "steps": manifest["steps"]}] if manifest.get("steps") else [])]
        before = manifest.get("config") or {}
        changed = {k: v for k, v in self.model.config.items() if k in before and before[k] != v and k != "steps"}
        if not schedule or schedule[-1]["steps"] != self.total or changed:
            schedule.append({"from": self.done, "steps": self.total, **({"config": changed} if changed else {})})
        return schedule

    def _check_data(self) -> None:
        assert self.run is not None  # called on a resume into a run folder only
        recorded = self.manifest.get("data")
        if self.data_record and recorded and self.data_record.get("sha256") != recorded.get("sha256"):
            raise ZooError(f"the data at {self.data_record['source']} changed since run '{self.run.path}' started "
                           "(sha256 differs); resume with the same data or start a new run")

    def _restore(self) -> int:
        """Load the session's state and the history so far; return the step it ends at."""
        import numpy as np

        memory = getattr(self.model, "_continuation", None) if self.ckpt_dir is None else None
        if memory is not None:  # no checkpoints: continue the model's last run in memory
            self.session.load_state(memory["state"])
            start, logs = memory["step"], memory["history"]
        else:
            start, logs = self._restore_checkpoint()
        steps_done = [int(s) for s in logs.get("step", [])]
        for i, step in enumerate(steps_done):
            self.history.append(step, {k: float(np.asarray(v)[i]) for k, v in logs.items() if k != "step"})
        return start

    def _restore_checkpoint(self) -> tuple[int, dict]:
        from zoo_core.io.checkpoints import latest_checkpoint, read_checkpoint
        from zoo_core.io.weights import check_state

        path = latest_checkpoint(self.ckpt_dir) if self.ckpt_dir is not None else None
        if path is None:
            raise ZooError(f"nothing to resume: no checkpoint in {self.ckpt_dir or '(no run folder)'}")
        tensors, meta = read_checkpoint(path)
        family = self.model.family_name
        if meta.get("family") not in (family, *getattr(self.model.family, "aliases", ())):  # a former name too
            raise WeightsError(f"checkpoint {path} was written by family '{meta.get('family')}', not '{family}'")
        saved = meta.get("config") or {}
        if saved != self.checked_config:  # the caller (zoo train) checked this config already
            check_resume_config(self.model.family, saved, self.model.config, f"checkpoint {path}", WeightsError)
        state = {k[len("session/"):]: v for k, v in tensors.items() if k.startswith("session/")}
        fresh = self.session.state()  # the checkpoint may hold more (slots made by a first step)
        check_state(fresh, {k: v for k, v in state.items() if k in fresh}, str(path))
        self.session.load_state(state)
        start = int(meta["step"])
        logs = {k[len("history/"):]: v for k, v in tensors.items() if k.startswith("history/")}
        if len(logs.get("step", ())) and int(logs["step"][-1]) != start:
            raise WeightsError(f"checkpoint {path} is corrupt (history ends at step "
                               f"{int(logs['step'][-1])}, header says {start})")
        return start, logs

    def write_manifest(self, step: int, finished: str | None = None, metrics: dict | None = None) -> None:
        """Rewrite ``run.json`` (rank 0 of a run with a folder only)."""
        if self.run is None or not self.world.is_main:
            return
        model, manifest = self.model, self.manifest
        record = {
            "family": model.family_name, "config": model.config, "step": int(step), "steps": self.total,
            "data": self.data_record if self.data_record is not None else manifest.get("data"),
            "seed": model.config.get("seed"), "device": self.ctx.device, "world_size": self.world.size,
            "versions": versions(model), "started": self.started, "finished": finished,
            "metrics": metrics if metrics is not None else manifest.get("metrics", {}),
            "schedule": self.schedule, "checkpoint_every": self.every,
        }
        clock = self.clock
        if finished is not None and self.done > clock["from"]:  # this session's speed, every step counted
            seconds, timed = clock["end"] - clock["start"], self.done - clock["from"]
            record["timing"] = {"steps": timed, "seconds": round(seconds, 3),
                                "steps_per_second": round(timed / max(seconds, 1e-9), 3)}
        if self.world.distributed and finished is not None:
            record["replicas_agree"] = True  # checked before the run may finish (else an error)
        if "base_model" in self.extra or "base_model" in manifest:
            record["base_model"] = self.extra.get("base_model", manifest.get("base_model"))
        self.run.write_manifest(record)

    def checkpoint(self, step: int) -> None:
        """Save the session's state and the history (rank 0), then the manifest."""
        import numpy as np

        from zoo_core.io.checkpoints import save_checkpoint

        if self.ckpt_dir is None or not self.world.is_main:
            return
        if self.log is not None:  # the log first: a kill between the two leaves it ahead, cut on resume
            self.log.flush()
        tensors = {f"session/{k}": v for k, v in self.session.state().items()}
        tensors["history/step"] = np.asarray(self.history.get("step", []), dtype=np.int64)
        for key, values in self.history.items():
            if key != "step":
                tensors[f"history/{key}"] = np.asarray(values, dtype=np.float64)
        save_checkpoint(self.ckpt_dir, step, tensors, {"family": self.model.family_name, "config": self.model.config,
                                                       "world_size": self.world.size}, keep=self.keep)
        self.last_checkpoint = time.monotonic()
        self.write_manifest(step)

    def _steps(self) -> None:
        """Run the remaining steps in chunks; checkpoint every ``every`` steps, at the end and on Ctrl-C."""
        from zoo_core.runtime.interrupt import DeferredInterrupt

        self.clock.update(start=time.perf_counter(), end=time.perf_counter(), **{"from": self.done})
        self.last_checkpoint = time.monotonic()
        with DeferredInterrupt() as interrupt:
            while self.done < self.total:
                stop = self._chunk(interrupt)
                if not self.world.distributed:  # one process: a Ctrl-C during the callbacks counts now
                    stop = interrupt.raised
                due = self.timed_checkpoints and time.monotonic() - self.last_checkpoint >= CHECKPOINT_SECONDS
                if self.done % self.every == 0 or self.done == self.total or stop or due:
                    self.checkpoint(self.done)
                if stop:  # Ctrl-C: the steps in flight finished and are checkpointed (and kept in memory)
                    self._keep_in_memory()
                    raise KeyboardInterrupt
        self.clock["end"] = time.perf_counter()
        self._keep_in_memory()
        if hasattr(self.session, "finish"):  # the run is complete: e.g. synchronise buffers across ranks
            _collective(self.world, self.session.finish)

    def _keep_in_memory(self) -> None:
        """What train(..., resume=True) without checkpoints continues from."""
        import numpy as np

        self.model._continuation = {"step": self.done, "state": self.session.state(),
                                    "history": {k: np.asarray(v) for k, v in self.history.items()}}

    def _chunk(self, interrupt: Any) -> bool:
        """One ``session.run`` call; log its steps; return whether any rank was interrupted."""
        import numpy as np

        done, per_call = self.done, max(int(getattr(self.session, "steps_per_call", 1)), 1)
        last = min(self.total, done + self.every - done % self.every, done + per_call)
        chunk, flat = _collective(self.world, lambda: self.session.run(done + 1, last), interrupt)
        keys = sorted(chunk[0]) if chunk else []
        stop = flat.pop() > 0
        if self.log is not None:
            from zoo_core.runtime.metrics_log import current_lr

            lr, ended = current_lr(self.session, self.model.config), time.time()
        for i, step in enumerate(range(done + 1, last + 1)):
            values = {k: flat[i * len(keys) + j] for j, k in enumerate(keys)}
            if not all(np.isfinite(v) for v in values.values()):
                raise ZooError(f"training diverged at step {step} ({values}); lower the learning rate")
            self.history.append(step, values)
            if self.log is not None:
                self.log.add(step, values, lr, ended)
            for callback in self.callbacks:
                callback(step, values)
        self.done = last
        return stop

    def _finish(self) -> History:
        """Check the replicas agree, save the model and the final manifest (rank 0)."""
        world, model = self.world, self.model
        if world.distributed and not _collective(world, lambda: world.agree(_state_digest(model))):
            raise ZooError("the workers ended with different weights; the run is not data-parallel")
        if world.is_main and (self.run is not None or self.evaluate):
            if self.run is not None:
                model.save(self.run.path)
            self.history.metrics = _evaluate(model, self.data) if self.evaluate else {}
            if self.run is not None:
                self.write_manifest(self.done, finished=now(), metrics=self.history.metrics)
        world.barrier()
        return self.history


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
    except Exception as exc:  # a collective failing because a peer died
        if not world.distributed:
            raise
        from zoo_core.errors import PeerLost

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

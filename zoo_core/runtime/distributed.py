"""The world a training run lives in: one process, or one of several started by a launcher.

zoo has no launcher and no collective of its own. ``torchrun`` (or any launcher that sets the
same variables: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``)
starts the processes; :func:`current_world` reads that environment without importing any
framework. A family then binds the world to its framework's own engine:

* torch families call :meth:`World.init_torch`, which initialises ``torch.distributed`` (gloo
  on CPU, nccl on CUDA; an existing process group, as Ray or a notebook launcher leave one, is
  reused) and gives the world torch's barrier and all-reduce;
* the Keras VAE builds ``TF_CONFIG`` from the same environment (:meth:`World.tf_config`) and runs
  its step under ``tf.distribute.MultiWorkerMirroredStrategy``.

Without a launcher the world is a single process: rank 0 of 1, and every collective is the
identity.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoo_core.errors import WorkerFailed, ZooError


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ZooError(f"environment variable {name}={text!r} is not an integer") from None


@dataclass
class World:
    """Rank and size of this process in its training job, and the collectives a run needs."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = "none"
    _barrier: Callable[[], None] | None = field(default=None, repr=False)
    _all_mean: Callable[[list[float]], list[float]] | None = field(default=None, repr=False)

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder, checkpoints and progress (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.size > 1

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self._barrier is not None:
            self._barrier()

    def mean(self, values: list[float]) -> list[float]:
        """Element-wise mean of ``values`` over the ranks (the values themselves in one process)."""
        if self._all_mean is None or not self.distributed:
            return [float(v) for v in values]
        return self._all_mean([float(v) for v in values])

    def agree(self, digest: str) -> bool:
        """Whether every rank passed the same hex ``digest`` (e.g. of its weights); True in one process."""
        if not self.distributed:
            return True
        value = float(int(digest[:12], 16))  # 48 bits: exact in float64, and so is their mean over ranks
        mine = self.mean([value])[0] == value
        return self.mean([1.0 if mine else 0.0])[0] == 1.0

    def mean_array(self, array: Any) -> Any:
        """Element-wise mean of a numpy array over the ranks, through ``torch.distributed``.

        For numpy families: call :meth:`init_torch` first (it is a no-op in one process). The
        all-reduce is torch's (gloo on the CPU); the array itself in a single process.
        """
        if not self.distributed:
            return array
        import numpy as np
        import torch
        import torch.distributed as dist

        self.init_torch("cpu")
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
        dist.all_reduce(tensor)
        return (tensor / self.size).numpy().astype(np.asarray(array).dtype)

    def bind(self, backend: str, barrier: Callable[[], None], all_mean: Callable[[list[float]], list[float]]) -> None:
        """Attach a framework's collectives (used by :meth:`init_torch` and the Keras families)."""
        self.backend, self._barrier, self._all_mean = backend, barrier, all_mean

    # -- torch ---------------------------------------------------------------------------------

    def init_torch(self, device: str = "cpu") -> None:
        """Initialise (or reuse) the ``torch.distributed`` process group and bind its collectives."""
        if not self.distributed or self.backend == "torch":
            return
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if str(device).startswith("cuda") else "gloo"
            import datetime

            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=rendezvous_timeout()))
            import atexit

            # tear the group down before the interpreter does: gloo's threads destroyed at exit
            # otherwise can end a finished worker with SIGABRT ("terminate called without an active exception")
            atexit.register(_destroy_process_group)
        if dist.get_world_size() != self.size or dist.get_rank() != self.rank:
            raise ZooError(f"torch.distributed says rank {dist.get_rank()} of {dist.get_world_size()}, the "
                           f"environment rank {self.rank} of {self.size}")
        dev = torch.device(device) if str(device).startswith("cuda") else torch.device("cpu")

        def all_mean(values: list[float]) -> list[float]:
            t = torch.tensor(values, dtype=torch.float64, device=dev)
            dist.all_reduce(t)
            return (t / self.size).tolist()

        self.bind("torch", dist.barrier, all_mean)

    # -- tensorflow ----------------------------------------------------------------------------

    def tf_config(self) -> dict:
        """``TF_CONFIG`` for ``MultiWorkerMirroredStrategy``, from the launcher's environment.

        ``ZOO_TF_WORKERS=host:port,host:port,...`` names every worker (one per rank) for jobs that
        span machines; without it, all ranks are on this host at ``MASTER_ADDR`` and ports
        ``MASTER_PORT + 1 + rank`` (what ``torchrun --standalone`` gives).
        """
        listed = os.environ.get("ZOO_TF_WORKERS", "").strip()
        if listed:
            workers = [w.strip() for w in listed.split(",") if w.strip()]
            if len(workers) != self.size:
                raise ZooError(f"ZOO_TF_WORKERS names {len(workers)} workers for a world of {self.size}")
        else:
            host = os.environ.get("MASTER_ADDR", "127.0.0.1")
            base = _env_int("MASTER_PORT", 29500)
            workers = [f"{host}:{base + 1 + r}" for r in range(self.size)]
        return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": self.rank}}

    def export_tf_config(self) -> None:
        """Set ``TF_CONFIG`` in this process's environment (unless the launcher already did)."""
        if self.distributed and "TF_CONFIG" not in os.environ:
            os.environ["TF_CONFIG"] = json.dumps(self.tf_config())


def rendezvous_timeout() -> int:
    """Seconds a collective may wait for a missing rank (``ZOO_DIST_TIMEOUT``, default 60)."""
    return max(_env_int("ZOO_DIST_TIMEOUT", 60), 1)


def launch_local(workers: int, module_args: list[str]) -> None:
    """Run ``python -m zoo_cli ARGS`` in ``workers`` processes on this machine, through torchrun.

    This is ``torchrun --standalone --nproc-per-node WORKERS --max-restarts 0 -m zoo_cli ARGS``,
    called in-process (``torch.distributed.run``), so zoo can turn a failed worker into one
    line: :class:`ZooError` naming the first rank that failed and how. It needs torch (the
    launcher ships with it), whatever framework the family trains with.
    """
    import importlib.util
    import logging
    import signal

    if importlib.util.find_spec("torch") is None:
        raise ZooError("--workers needs torch's launcher (torchrun): pip install 'zoo[torch]'")
    import torch.distributed.run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default, without its warning
    # torchrun itself forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT to the workers (its --signals-to-handle)
    # and closes them; a launcher killed outright (SIGKILL, OOM) cannot, so each worker watches
    # this pid (die_with_launcher) and stops as on Ctrl-C when it goes.
    os.environ[LAUNCHER_PID] = str(os.getpid())
    # The workers run in sessions of their own: Ctrl-C reaches this process only, and the
    # launcher forwards it (one SIGINT each). Each worker finishes its steps, rank 0 checkpoints
    # once, and they exit 130; the launcher waits for that (up to the shutdown timeout).
    args = torchrun.parse_args(["--standalone", f"--nproc-per-node={int(workers)}", "--max-restarts=0",
                                "--monitor-interval=0.2", f"--shutdown-timeout={rendezvous_timeout()}",
                                "-m", "zoo_cli", *module_args])
    try:
        torchrun.run(args)
    except SignalException as exc:
        if exc.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise WorkerFailed(f"the job was stopped by {signal.Signals(exc.sigval).name}", 1) from None
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        how = (f"was killed by {failure.signal_name()}" if failure.exitcode < 0
               else f"exited with status {failure.exitcode}")
        raise WorkerFailed(f"worker rank {rank} {how}; the job stopped (resume from the last checkpoint with "
                           "zoo train RUN --resume)", failure.exitcode) from None


_WORLD: World | None = None


LAUNCHER_PID = "ZOO_LAUNCHER_PID"  # set by launch_local for its workers


def die_with_launcher(launcher: int, grace: float | None = None) -> None:
    """Make this worker stop when the process ``launcher`` (its parent, zoo's torchrun) is gone.

    On Linux the kernel sends SIGINT the moment the parent dies (``PR_SET_PDEATHSIG``): the
    training loop treats it as Ctrl-C (finish the step, checkpoint, exit 130). A watcher thread
    (every platform) checks the parent once a second, sends the same SIGINT itself, and ends the
    process outright (exit 143) when it is still running ``grace`` seconds later (default: the
    rendezvous timeout), so that no worker trains on unsupervised.
    """
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGINT), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watcher still runs
            pass
    limit = float(rendezvous_timeout() if grace is None else grace)

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(limit)
        os._exit(143)

    if os.getppid() != launcher:  # it died before the line above took effect
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=watch, daemon=True, name="zoo-launcher-watch").start()


def _destroy_process_group() -> None:
    """``torch.distributed.destroy_process_group()`` at exit, if a group is still up (errors ignored: exiting)."""
    import torch.distributed as dist

    try:
        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - the process is exiting; a failed teardown must not change its status
        pass


def usable_cpus() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def check_workers(workers: int, device: str, *, oversubscribe: bool = False) -> None:
    """Refuse more workers than the machine has cores (CPU) or devices (CUDA), unless told to go ahead.

    ``device`` is a resolved device (``cpu``, ``cuda:N``, ``mps``). More CPU workers than cores
    only slows each step (every rank waits for the slowest at each all-reduce); ``oversubscribe``
    (``--oversubscribe`` or ``ZOO_OVERSUBSCRIBE=1``) allows it. More CUDA workers than GPUs is
    refused without an override: nccl cannot put two ranks on one GPU.
    """
    flag = os.environ.get("ZOO_OVERSUBSCRIBE", "").strip().lower() in ("1", "true", "yes", "on")
    if str(device).startswith("cuda"):
        import torch

        have = torch.cuda.device_count()
        if workers > have:  # no override: nccl refuses two ranks on one GPU ("Duplicate GPU detected")
            raise ZooError(f"--workers {workers} is more than the {have} CUDA device(s) on this machine; use at most "
                           f"{have} (one worker per GPU: nccl cannot share a GPU between ranks), or --device cpu")
        return
    if oversubscribe or flag:
        return
    if device == "mps":
        have, what = 1, "Apple GPU"
    else:
        have, what = usable_cpus(), "CPU core(s) available to zoo"
    if workers > have:
        raise ZooError(f"--workers {workers} is more than the {have} {what} on this machine; use at most {have}, "
                       "or pass --oversubscribe (ZOO_OVERSUBSCRIBE=1) to start them anyway")


def current_world() -> World:
    """This process's world, read once from the launcher's environment (no framework import)."""
    global _WORLD
    if _WORLD is None:
        size = _env_int("WORLD_SIZE", 1)
        rank = _env_int("RANK", 0)
        if size < 1 or not 0 <= rank < size:
            raise ZooError(f"bad launcher environment: RANK={rank} WORLD_SIZE={size}")
        _WORLD = World(rank=rank, size=size, local_rank=_env_int("LOCAL_RANK", rank))
        if size > 1 and os.environ.get(LAUNCHER_PID, "").strip().isdigit():
            die_with_launcher(int(os.environ[LAUNCHER_PID]))
    return _WORLD


def shard(batch: int, world: World) -> slice:
    """The slice of a global batch of ``batch`` examples that ``world.rank`` trains on."""
    if batch % world.size:
        raise ZooError(f"batch_size {batch} does not split evenly over {world.size} workers; "
                       f"use a multiple of {world.size}")
    per = batch // world.size
    return slice(world.rank * per, (world.rank + 1) * per)


__all__ = ["World", "check_workers", "current_world", "die_with_launcher", "launch_local", "rendezvous_timeout",
           "shard", "usable_cpus"]

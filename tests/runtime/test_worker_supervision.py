"""Issue 33 item 5: ``zoo train --workers``: workers die with their launcher, errors before launch, once.

gloo on loopback, one thread per worker, the tiny glyphnet of tests/runtime/test_distributed.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers.clitools import ZOO, assert_one_line_error, run_zoo
from zoo_core.runtime.distributed import usable_cpus

ONE_THREAD = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
              "ZOO_DIST_TIMEOUT": "30"}
GLYPHNET = ["--set", "image_size=32", "--set", "widths=4,8,8", "--set", "msg_size=8", "--set", "batch_size=16"]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _rank_of(pid: int) -> int | None:
    try:
        env = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    ranks = [e[5:] for e in env if e.startswith(b"RANK=")]
    return int(ranks[0]) if ranks else None


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_workers_stop_when_their_launcher_is_killed_outright(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([ZOO, "train", "glyphnet", "-o", str(run), "--device", "cpu", "--workers", "2", *GLYPHNET,
                             "--steps", "100000", "--checkpoint-every", "100000"],
                            env={**os.environ, **ONE_THREAD}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while not (run / "run.json").is_file():  # written at step 0, when both workers train
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        time.sleep(3)  # a few steps in
        workers = [p for p in _children(proc.pid) if _rank_of(p) is not None]
        assert sorted(_rank_of(p) for p in workers) == [0, 1]
        os.kill(proc.pid, signal.SIGKILL)  # no handler runs: torchrun cannot forward anything
        proc.wait(timeout=30)
        killed = time.monotonic()
        while any(_alive(p) for p in workers) and time.monotonic() < killed + 60:
            time.sleep(0.1)
        took = time.monotonic() - killed
        assert not any(_alive(p) for p in workers), "workers outlived their launcher"
        assert took < 40, took  # the parent-death signal, or the watcher within the rendezvous timeout
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # where they stopped as on Ctrl-C, rank 0 wrote one checkpoint of the step they reached and printed the one
    # resume line; when one rank's signal lands inside an all-reduce its peer has no finished step to checkpoint
    # (seen in 1 of 4 runs on 2 cores): then neither a checkpoint nor the line. Either way no worker outlives it.
    # (the resume line can come without a checkpoint too when the interrupted step never finished: best effort)
    said = proc.stderr.read().decode().count("zoo: interrupted")
    assert len(list((run / "checkpoint").glob("step-*.safetensors"))) <= 1 and said <= 1


def test_a_missing_device_is_found_before_launch_and_printed_once(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    start = time.monotonic()
    proc = run_zoo("train", "glyphnet", "-o", str(tmp_path / "g"), "--workers", "2", "--device", "cuda", *GLYPHNET,
                   env=ONE_THREAD)
    assert_one_line_error(proc, "device 'cuda' is not available: torch sees no CUDA device")
    assert "worker rank" not in proc.stderr and time.monotonic() - start < 60


def test_more_workers_than_cores_is_refused_unless_told(tmp_path):
    too_many = usable_cpus() + 1
    proc = run_zoo("train", "glyphnet", "-o", str(tmp_path / "g"), "--workers", str(too_many), *GLYPHNET,
                   "--set", f"batch_size={16 * too_many}", "--device", "cpu", env=ONE_THREAD)
    assert_one_line_error(proc, f"--workers {too_many} is more than the {usable_cpus()} CPU core(s) available to zoo")
    assert "--oversubscribe" in proc.stderr and not (tmp_path / "g" / "run.json").exists()


def test_config_errors_are_found_before_launch(tmp_path):
    proc = run_zoo("train", "glyphnet", "-o", str(tmp_path / "g"), "--workers", "2", "--device", "cpu", *GLYPHNET,
                   "--set", "batch_size=16", "--set", "lr=nan", env=ONE_THREAD)
    assert_one_line_error(proc, "lr")
    proc = run_zoo("train", "vae", "-o", str(tmp_path / "v"), "--workers", "2", "--device", "cpu",
                   "--set", "batch_size=8192", env={**ONE_THREAD, "ZOO_MEMORY_LIMIT": "2GiB"})
    assert_one_line_error(proc, "in 2 workers), more than the")
    assert not (tmp_path / "v" / "run.json").exists()


@pytest.mark.slow
def test_oversubscribed_workers_train_without_a_future_warning(tmp_path):
    workers = usable_cpus() + 1
    proc = run_zoo("train", "glyphnet", "-o", str(tmp_path / "g"), "--workers", str(workers), "--oversubscribe",
                   *GLYPHNET, "--set", f"batch_size={4 * workers}", "--device", "cpu", "--steps", "3",
                   env=ONE_THREAD, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "FutureWarning" not in proc.stderr and "broadcast_buffers" not in proc.stderr, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr


def test_ddp_keeps_buffers_per_rank_through_the_current_keyword():
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    from zoo_core.backends.torchstate import ddp_local_buffers

    new = "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    assert ddp_local_buffers() == ({"forward_sync_buffers": False} if new else {"broadcast_buffers": False})


def test_check_workers_counts_cores_and_gpus(monkeypatch):
    import torch

    from zoo_core.errors import ZooError
    from zoo_core.runtime.distributed import check_workers

    cores = usable_cpus()
    check_workers(cores, "cpu")
    with pytest.raises(ZooError, match=f"more than the {cores} CPU core"):
        check_workers(cores + 1, "cpu")
    check_workers(cores + 1, "cpu", oversubscribe=True)
    monkeypatch.setenv("ZOO_OVERSUBSCRIBE", "1")
    check_workers(cores + 1, "cpu")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_workers(2, "cuda:0")
    with pytest.raises(ZooError, match="more than the 2 CUDA device.*nccl cannot share a GPU"):
        check_workers(3, "cuda:0", oversubscribe=True)  # no override for GPUs

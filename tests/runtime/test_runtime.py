"""The training runtime through the real ``zoo`` command: kill -9, resume by folder, run.json, errors, devices.

Every trainable built-in family is killed with SIGKILL after its second checkpoint, resumed with
``zoo train RUN --resume`` alone, and must end with the uninterrupted run's weights bit for bit
(one thread, as the docs promise).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.clitools import ZOO, assert_one_line_error, run_zoo

from zoo_core.testing import RUN_KEYS
from helpers.slowness import scaled

ONE_THREAD = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}

#: family -> (--set pairs of a tiny, fast config, steps, checkpoint every, extra args)
FAMILIES = {
    "glyphnet": (["image_size=32", "widths=4,8,8", "msg_size=8", "batch_size=16", "seed=3"], 60, 5, []),
    "glyph-cnn": (["channels=4,4,4", "hidden=8", "train_size=200", "batch_size=16", "sample_steps=2"], 60, 5, []),
    "vae": (["image_size=16", "filters=4,8", "kernel_sizes=3,3", "z_dim=4", "batch_size=16", "dropout=0.1"], 600,
            25, []),
}


def _args(family: str, run: Path) -> list[str]:
    sets, steps, every, extra = FAMILIES[family]
    return ["train", family, "-o", str(run), "--steps", str(steps), "--checkpoint-every", str(every),
            "--device", "cpu", *[a for s in sets for a in ("--set", s)], *extra]


def _weights(run: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(run / "model.safetensors"))


def _kill_after_checkpoints(args: list[str], run: Path, count: int = 2) -> int:
    """Start ``zoo ARGS``, SIGKILL it once ``count`` checkpoints exist; return the last checkpointed step."""
    proc = subprocess.Popen([ZOO, *args], env={**os.environ, **ONE_THREAD}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + scaled(240)
    try:
        while time.monotonic() < deadline:
            found = sorted((run / "checkpoint").glob("step-*.safetensors"))
            if len(found) >= count:
                proc.send_signal(signal.SIGKILL)
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()}")
            time.sleep(0.005)
        proc.wait(timeout=scaled(60))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    manifest = json.loads((run / "run.json").read_text())
    return int(manifest["step"])


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sigkill_then_resume_by_folder_is_bit_exact(family, tmp_path):
    straight = tmp_path / "straight"
    done = run_zoo(*_args(family, straight), env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    killed = tmp_path / "killed"
    step = _kill_after_checkpoints(_args(family, killed), killed)
    assert 0 < step < FAMILIES[family][1]
    assert not (killed / "model.safetensors").exists()  # killed before the end: only checkpoints
    resumed = run_zoo("train", str(killed), "--resume", env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    assert not list(killed.rglob("*.tmp"))  # a write the kill cut short left a temporary: cleaned up
    a, b = _weights(straight), _weights(killed)
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    first, second = (json.loads((r / "run.json").read_text()) for r in (straight, killed))
    assert second["step"] == second["steps"] == FAMILIES[family][1] and second["finished"]
    assert second["metrics"] == first["metrics"] and second["metrics"]
    assert set(RUN_KEYS) <= set(second)
    assert "held-out:" in resumed.stdout


def test_run_manifest_records_the_recipe(tmp_path):
    run = tmp_path / "run"
    proc = run_zoo(*_args("glyphnet", run)[:4], "--steps", "6", "--set", "image_size=32", "--set", "widths=4,8,8",
                   "--set", "msg_size=8", "--set", "batch_size=8", env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((run / "run.json").read_text())
    assert set(RUN_KEYS) <= set(manifest)
    assert manifest["family"] == "glyphnet" and manifest["step"] == manifest["steps"] == 6
    assert manifest["schedule"] == [{"from": 0, "steps": 6}]
    assert manifest["config"]["msg_size"] == 8 and manifest["config"]["lr"] == 1e-3  # the full resolved config
    assert manifest["data"] is None and manifest["world_size"] == 1 and manifest["device"] == "cpu"
    assert {"zoo", "python", "torch", "plugin"} <= set(manifest["versions"])
    assert manifest["started"] <= manifest["finished"]
    assert {"cosine_channel", "cosine_clean"} <= set(manifest["metrics"])
    assert "cosine_channel" in proc.stdout.splitlines()[-1]  # the held-out figure is printed


def test_resume_takes_more_steps_and_only_resume_safe_keys(tmp_path):
    run = tmp_path / "run"
    sets = ["--set", "image_size=32", "--set", "widths=4,8,8", "--set", "msg_size=8", "--set", "batch_size=8"]
    assert run_zoo("train", "glyphnet", "-o", str(run), "--steps", "4", *sets, env=ONE_THREAD).returncode == 0
    more = run_zoo("train", str(run), "--resume", "--steps", "6", "--set", "lr=0.0005", env=ONE_THREAD)
    assert more.returncode == 0, more.stderr
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["step"] == 6 and manifest["config"]["lr"] == 0.0005 and manifest["config"]["msg_size"] == 8
    # the recipe: 4 steps on a 4-step schedule, then resumed to 6 with another learning rate
    assert manifest["schedule"] == [{"from": 0, "steps": 4}, {"from": 4, "steps": 6, "config": {"lr": 0.0005}}]
    again = run_zoo("train", str(run), "--resume", "--steps", "6", env=ONE_THREAD)  # nothing changes: no new entry
    assert again.returncode == 0, again.stderr
    assert json.loads((run / "run.json").read_text())["schedule"] == manifest["schedule"]
    assert_one_line_error(run_zoo("train", str(run), "--resume", "--set", "msg_size=9"),
                          "cannot change on a resume")
    assert_one_line_error(run_zoo("train", str(run)), "pass --resume")
    assert_one_line_error(run_zoo("train", "glyphnet", "-o", str(run), *sets), "not empty")
    assert_one_line_error(run_zoo("train", str(run), "-o", str(tmp_path / "other"), "--resume"), "another folder")
    assert_one_line_error(run_zoo("train", "glyphnet", *sets), "needs -o RUN")
    assert_one_line_error(run_zoo("train", str(tmp_path / "nowhere"), "--resume"), "nothing to resume")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run_zoo("train", str(empty), "--resume"), "nothing to resume")


def test_resume_without_a_checkpoint_is_an_error_in_every_family(tmp_path):
    for family in FAMILIES:
        run = tmp_path / family
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"family": family, "config": {}, "step": 0, "steps": 10,
                                                  "data": None}))
        assert_one_line_error(run_zoo("train", str(run), "--resume"), "nothing to resume")


def test_a_run_folder_is_locked_while_it_trains(tmp_path):
    from zoo_core.errors import ZooError
    from zoo_core.runtime import RunFolder

    run = tmp_path / "run"
    with RunFolder(run).lock():
        proc = run_zoo("train", "glyphnet", "-o", str(run), "--steps", "2", "--force", "--set", "image_size=32",
                       "--set", "widths=4,8,8", env=ONE_THREAD)
        assert_one_line_error(proc, "in use by another training process")
        with pytest.raises(ZooError, match="in use"):
            with RunFolder(run).lock():
                pass
    with RunFolder(run).lock():  # released: a killed trainer leaves no stale lock either (flock)
        pass


def test_corrupt_checkpoint_is_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    sets = ["--set", "image_size=16", "--set", "filters=4,8", "--set", "kernel_sizes=3,3", "--set", "z_dim=4"]
    assert run_zoo("train", "vae", "-o", str(run), "--steps", "4", "--checkpoint-every", "2", *sets,
                   env=ONE_THREAD).returncode == 0
    newest = sorted((run / "checkpoint").glob("step-*.safetensors"))[-1]
    blob = bytearray(newest.read_bytes())
    blob[-3] ^= 0x10
    newest.write_bytes(bytes(blob))
    assert_one_line_error(run_zoo("train", str(run), "--resume", "--steps", "6"), "corrupt")
    newest.write_bytes(bytes(blob[: len(blob) // 2]))
    assert_one_line_error(run_zoo("train", str(run), "--resume", "--steps", "6"), "corrupt")


def test_eval_of_a_run_uses_the_runs_own_data(tmp_path):
    from zoo_core.data.datasets import load_dataset

    images, labels = load_dataset("glyphs-28", n=120, seed=5)
    data = tmp_path / "mine.npz"
    np.savez(data, x_train=images[:60], x_test=images[60:80])
    run = tmp_path / "run"
    sets = ["--set", "filters=4,8", "--set", "kernel_sizes=3,3", "--set", "z_dim=4", "--set", "batch_size=8"]
    assert run_zoo("train", "vae", "--data", str(data), "-o", str(run), "--steps", "3", *sets,
                   env=ONE_THREAD).returncode == 0
    own = json.loads(run_zoo("eval", str(run), "--json").stdout)
    explicit = json.loads(run_zoo("eval", str(run), "--data", str(data), "--json").stdout)
    default = json.loads(run_zoo("eval", str(run), "--data", str(data), "--json", "--seed", "0").stdout)
    assert own["images"] == explicit["images"] == default["images"] == 20  # the npz's held-out split, not glyphs
    assert own["neg_elbo"] == explicit["neg_elbo"]
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["data"]["source"] == str(data.resolve()) and manifest["data"]["examples"] > 0
    assert len(manifest["data"]["sha256"]) == 64
    np.savez(data, x_train=images[60:], x_test=images[:20])  # the data changed under the run
    assert_one_line_error(run_zoo("train", str(run), "--resume", "--steps", "5"), "changed")


def test_devices(tmp_path):
    import zoo_core
    from zoo_core.errors import ZooError

    auto = zoo_core.build("glyphnet", device="auto", image_size=32, widths=[4, 8, 8])
    cpu = zoo_core.build("glyphnet", device="cpu", image_size=32, widths=[4, 8, 8])
    import torch

    assert auto.device == ("cuda:0" if torch.cuda.is_available() else "cpu") and cpu.device == "cpu"
    if auto.device == "cpu":
        assert np.array_equal(auto.sample(3, seed=1), cpu.sample(3, seed=1))
    for bad in ("gpu", "cuda:x", "tpu"):
        with pytest.raises(ZooError, match="unknown device"):
            zoo_core.build("glyphnet", device=bad)
    if not torch.cuda.is_available():
        assert_one_line_error(run_zoo("sample", "glyphnet-32", "-n", "1", "--device", "cuda", "-o",
                                      str(tmp_path / "x.png")), "not available")
        assert not (tmp_path / "x.png").exists()
    assert_one_line_error(run_zoo("sample", "random-cnn-256", "--device", "tpu", "-o", str(tmp_path / "y.png")),
                          "unknown device")
    proc = run_zoo("sample", "glyphnet-32", "-n", "2", "--device", "auto", "-o", str(tmp_path / "a.npy"))
    assert proc.returncode == 0, proc.stderr
    proc = run_zoo("sample", "glyphnet-32", "-n", "2", "--device", "cpu", "-o", str(tmp_path / "c.npy"))
    assert proc.returncode == 0, proc.stderr
    if auto.device == "cpu":
        assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "c.npy"))
    run = tmp_path / "run"
    proc = run_zoo("train", "glyph-cnn", "-o", str(run), "--steps", "2", "--device", "auto", "--set", "channels=4,4,4",
                   "--set", "hidden=8", "--set", "train_size=100", env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "run.json").read_text())["device"] == auto.device
    assert run_zoo("eval", str(run), "--device", "cpu", "--json").returncode == 0


def test_python_m_zoo_cli_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "zoo_cli", "--version"], capture_output=True, text=True, timeout=scaled(60))
    assert proc.returncode == 0 and proc.stdout.startswith("zoo, version"), proc.stderr


_ALLOCATOR_PROBE = """
import ctypes, resource, sys
from zoo_core.backends.allocator import keep_freed_memory
print(keep_freed_memory(), keep_freed_memory())
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
size = 8 << 20
def cycle():
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    cycle()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_keep_freed_memory_stops_paging_the_same_block_in_again():
    """An 8 MiB block freed and allocated again: glibc unmaps and re-faults it each time by default;
    after keep_freed_memory() it comes back from the heap, already paged in."""
    def probe(**env):
        out = subprocess.run([sys.executable, "-c", _ALLOCATOR_PROBE], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout.split("\n")
        return out[0], int(out[1])

    flags, kept = probe()
    assert flags == "True True"
    flags, default = probe(ZOO_KEEP_FREED_MEMORY="0")
    assert flags == "False False"
    assert default >= 20 and kept * 4 < default  # by default every cycle pages the block in again


def test_progress_rate_of_a_resumed_runs_first_step_is_its_own_time():
    """A run resumed at step 7001 of 10000 prints its first line at once (past 70%): steps/s is one step
    over the time since the progress began, not a step over nothing (it once printed 999556025.3)."""
    import io

    from zoo_core.runtime.progress import Progress

    out = io.StringIO()
    progress = Progress(10000, stream=out)
    time.sleep(0.05)
    progress(7001, {"loss": 0.11})
    line = out.getvalue()
    assert line.startswith("step 7001/10000 [################--------] loss 0.11 | ")
    assert 0 < float(line.split("| ")[1].split()[0]) <= 1 / 0.05

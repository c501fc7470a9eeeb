"""``model.save()`` replaces a folder's model as a whole; killed writes leave no mixed folder and no litter."""

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

from zoo_core.api import load_directory
from zoo_core.errors import WeightsError
from zoo_core.io.weights import atomic_write_bytes, replace_files, sha256_file
from helpers.toyplugin import build_toy

HERE = Path(__file__).resolve().parent


def test_save_over_a_run_folder_keeps_its_other_entries(tmp_path):
    run = tmp_path / "run"
    build_toy(seed=1).save(run)
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "state.safetensors").write_bytes(b"keep me")
    (run / "README.md").write_text("notes")
    build_toy(seed=2).save(run)
    assert sorted(p.name for p in run.iterdir()) == ["README.md", "checkpoint", "config.json", "model.safetensors"]
    assert (run / "checkpoint" / "state.safetensors").read_bytes() == b"keep me"
    meta = json.loads((run / "config.json").read_text())
    assert meta["config"]["seed"] == 2 and meta["weights_sha256"] == sha256_file(run / "model.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no sibling left behind


def test_a_saved_folder_without_a_valid_sha256_does_not_load(tmp_path, toy_registry):
    build_toy(seed=1).save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    for bad in (12345, "abc", None, meta["weights_sha256"].upper(), ["x"]):
        meta["weights_sha256"] = bad
        (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
        with pytest.raises(WeightsError, match="weights_sha256 must be 64 lowercase hex"):
            load_directory(tmp_path / "m")


def test_stray_temp_files_of_dead_writers_are_cleaned_on_the_next_write(tmp_path):
    target = tmp_path / "pins.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stray = tmp_path / f".pins.json.w{int(dead.stdout)}-abc.tmp"
    stray.write_bytes(b"half")
    live = tmp_path / f".pins.json.w{os.getppid()}-abc.tmp"  # a live writer's file stays
    live.write_bytes(b"busy")
    atomic_write_bytes(target, b"{}")
    assert target.read_bytes() == b"{}" and not stray.exists() and live.exists()


def test_a_folder_left_by_a_killed_swap_is_recovered(tmp_path):
    run = tmp_path / "run"
    build_toy(seed=1).save(run)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f".run.zoo-{int(dead.stdout)}-xyz"  # killed after the swap, before moving entries back
    left.mkdir()
    (left / "checkpoint").mkdir()
    (left / "config.json").write_text("{}")
    replace_files(run, {"config.json": (run / "config.json").read_bytes(),
                        "model.safetensors": (run / "model.safetensors").read_bytes()})
    assert (run / "checkpoint").is_dir() and not left.exists()


SAVER = """
import sys, time
sys.path.insert(0, {tests!r})
from helpers.toyplugin import build_toy
models = [build_toy(seed=s, size=64, latent=64) for s in (1, 2)]
print("ready", flush=True)
i = 0
while True:
    models[i % 2].save({folder!r})
    i += 1
"""


@pytest.mark.slow
def test_killed_saves_never_leave_a_mixed_or_unloadable_folder(tmp_path, toy_registry):
    """SIGKILL a process that saves two different models into one folder in a loop, 6 times."""
    folder = tmp_path / "m"
    build_toy(seed=1).save(folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rng = np.random.default_rng(0)
    seen = set()
    for trial in range(6):
        proc = subprocess.Popen([sys.executable, "-c", SAVER.format(tests=str(HERE.parent), folder=str(folder))],
                                stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(float(rng.uniform(0.02, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        model = load_directory(folder)  # verifies the sha256 of the weights against their own config
        seen.add(int(model.config["seed"]))
    build_toy(seed=3).save(folder)  # the next write cleans up whatever the kills left
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert seen <= {1, 2}

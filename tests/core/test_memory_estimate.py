"""Issue 33 items 4 and 6: the memory estimate before allocating, and sample(n, seed) checked in ZooModel.

``ZOO_MEMORY_LIMIT`` stands in for a smaller machine, so that the refusals are quick and the
numbers in the messages are known.
"""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pytest

import zoo_core
from helpers.clitools import ZOO, assert_one_line_error, run_zoo
from zoo_core.backends import memory
from zoo_core.backends.memory import MemoryEstimate, available_memory, check_memory, required_bytes
from zoo_core.config import MAX_SEED
from zoo_core.errors import ConfigError
from zoo_core.model import MAX_SAMPLES, ZooModel, check_sample_args

BIG_AE = ["--set", "image_size=256", "--set", "channels=3", "--set", "hidden=[65536]"]
BIG_VAE = ["--set", "filters=[4096,4096,4096,4096]", "--set", "kernel_sizes=[3,3,3,3]"]


def test_available_memory_is_the_smallest_limit_and_zoo_memory_limit_caps_it(monkeypatch):
    monkeypatch.delenv("ZOO_MEMORY_LIMIT", raising=False)
    free = available_memory()
    assert free is not None and 0 < free < 1 << 50
    monkeypatch.setenv("ZOO_MEMORY_LIMIT", "1GiB")
    assert available_memory() == min(free, 1 << 30)
    monkeypatch.setenv("ZOO_MEMORY_LIMIT", "512MB")
    assert available_memory() == min(free, 512_000_000)
    for bad in ("lots", "-1GiB", "1 parsec", "nan"):
        monkeypatch.setenv("ZOO_MEMORY_LIMIT", bad)
        with pytest.raises(ConfigError, match="ZOO_MEMORY_LIMIT="):
            available_memory()


def test_required_bytes_per_purpose():
    est = MemoryEstimate(parameters=1000, largest_activation=100, activations=300)
    assert required_bytes(est, "build") == 4 * (3 * 1000 + 2 * 100)
    assert required_bytes(est, "sample") == 4 * (1000 + 2 * 100)
    assert required_bytes(est, "train") == 4 * (4 * 1000 + 2 * 300)
    assert required_bytes(est._replace(activations=None), "train") == 4 * (4 * 1000 + 6 * 100)


def test_the_vae_estimate_counts_its_parameters_and_grows_with_the_batch():
    vae = zoo_core.get_family("vae")
    one, many = vae.memory_estimate({}, 1), vae.memory_estimate({}, 128)
    assert one.parameters == vae.count_parameters({}) and many.parameters == one.parameters
    assert many.largest_activation == 128 * one.largest_activation
    assert one.largest_activation == 7 * 7 * 256 * 2  # the last encoder conv (stride 1) and its BatchNorm output
    ae = zoo_core.get_family("ae").memory_estimate({"hidden": [512]}, 10)
    assert ae.largest_activation == 10 * 784 and ae.activations == 10 * (784 + 512 + 30 + 512 + 784)


def test_a_family_without_an_estimate_is_not_checked(monkeypatch):
    toy = zoo_core.get_family("random-cnn")
    assert toy.memory_estimate({}, 10**6) is None
    monkeypatch.setenv("ZOO_MEMORY_LIMIT", "1")
    assert check_memory(toy, {}, 10**6, "train") is None


def test_check_memory_refuses_with_the_estimate_and_the_available_memory(monkeypatch):
    vae = zoo_core.get_family("vae")
    monkeypatch.setenv("ZOO_MEMORY_LIMIT", "1GiB")
    with pytest.raises(ConfigError) as caught:
        check_memory(vae, {"batch_size": 8192}, 8192, "train")
    text = str(caught.value)
    assert "'vae' would need about 6.1 GiB to train" in text and "1.0 GiB this machine has available" in text
    assert "batch 8192" in text and "--no-memory-check" in text and "\n" not in text
    assert check_memory(vae, {}, 128, "train") < 1 << 30  # the default batch fits
    monkeypatch.setenv("ZOO_NO_MEMORY_CHECK", "1")
    assert check_memory(vae, {"batch_size": 8192}, 8192, "train") > 6 << 30  # estimated, not refused


def _light_run(*args: str, env: dict) -> tuple[subprocess.CompletedProcess, int]:
    """``zoo ARGS`` in a child; (result, the child's peak RSS in bytes)."""
    code = ("import os, resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(p.returncode)\n")
    import os

    proc = subprocess.run([sys.executable, "-c", code, ZOO, *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)
    lines = proc.stderr.splitlines()
    peak = int(lines[-1].split()[1]) * 1024
    proc.stderr = "\n".join(lines[:-1]) + "\n"
    return proc, peak


def test_the_issues_memory_bombs_are_refused_before_any_framework_loads(tmp_path):
    proc, peak = _light_run("sample", "ae", "-n", "4096", *BIG_AE, "-o", str(tmp_path / "x.png"), env={})
    assert_one_line_error(proc, "'ae' would need about 288.0 GiB to build (25,774,063,646 parameters")
    assert peak < 300 << 20 and not (tmp_path / "x.png").exists()  # refused before TensorFlow was imported
    proc, peak = _light_run("sample", "vae", "-n", "1", *BIG_VAE, "-o", str(tmp_path / "y.png"),
                            env={"ZOO_MEMORY_LIMIT": "8GiB"})
    assert_one_line_error(proc, "'vae' would need about 10.2 GiB to build (916,021,281 parameters")
    assert "8.0 GiB this machine has available" in proc.stderr and peak < 300 << 20


@pytest.mark.slow
def test_training_a_batch_the_machine_cannot_hold_is_refused_before_the_first_step(tmp_path):
    run = tmp_path / "run"
    proc = run_zoo("train", "vae", "-o", str(run), "--steps", "1", "--set", "batch_size=8192",
                   env={"ZOO_MEMORY_LIMIT": "3GiB", "OMP_NUM_THREADS": "1"})
    assert_one_line_error(proc, "'vae' would need about 6.1 GiB to train")
    assert not (run / "checkpoint").exists()


def test_no_memory_check_goes_ahead(tmp_path):
    out = tmp_path / "x.npy"
    proc = run_zoo("sample", "ae", "-n", "2", "--set", "hidden=[64]", "-o", str(out), env={"ZOO_MEMORY_LIMIT": "1MB"})
    assert_one_line_error(proc, "'ae' would need about")
    proc = run_zoo("sample", "ae", "-n", "2", "--set", "hidden=[64]", "-o", str(out), "--no-memory-check",
                   env={"ZOO_MEMORY_LIMIT": "1MB", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert np.load(out).shape == (2, 28, 28, 1)


# -- sample(n, seed) at the boundary, in ZooModel --------------------------------------------------


class Counting(ZooModel):
    calls = 0

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        Counting.calls += 1
        return np.zeros((n, 2, 2, 1), np.uint8)

    def state_dict(self):
        return {}


@pytest.mark.parametrize("n", [-1, MAX_SAMPLES + 1, 10**9, 1e9, 2.0, "abc", None, True, np.float64(3)])
def test_sample_n_is_checked_before_the_family_runs(n):
    Counting.calls = 0
    with pytest.raises(ConfigError, match=f"n must be an integer from 0 to {MAX_SAMPLES}"):
        Counting({}).sample(n, seed=0)
    assert Counting.calls == 0


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 2**70, "abc", 1.5, None, False])
def test_sample_seed_is_checked_before_the_family_runs(seed):
    Counting.calls = 0
    with pytest.raises(ConfigError, match=f"seed must be an integer from 0 to {MAX_SEED}"):
        Counting({}).sample(2, seed)
    assert Counting.calls == 0


def test_valid_sample_args_pass_through_as_ints():
    assert check_sample_args(np.int64(3), np.uint32(7)) == (3, 7)
    assert Counting({}).sample(0).shape == (0, 2, 2, 1)  # the contract's empty sample
    assert Counting({}).sample(np.int32(2), seed=MAX_SEED).shape == (2, 2, 2, 1)
    assert getattr(Counting.sample, "_zoo_checked", False)


def test_every_shipped_model_class_checks_its_sample_args():
    from zoo_core.plugins import get_registry

    for family in get_registry().families.values():
        if family.missing_requirements():
            continue
        cls = family.model_class()
        assert getattr(cls.sample, "_zoo_checked", False), family.name


def test_the_api_sample_of_a_real_model_refuses_bad_n_and_seed():
    model = zoo_core.build("random-cnn")
    for n, seed in ((-1, 0), ("abc", 0), (10**9, 0), (2, -1), (2, "abc")):
        with pytest.raises(ConfigError):
            model.sample(n, seed)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 8 << 20  # kB: nothing like 238 GiB was tried


def test_a_familys_own_sample_options_pass_through_the_check():
    class WithOptions(ZooModel):
        def sample(self, n: int, seed: int = 0, *, fill: int = 0) -> np.ndarray:
            return np.full((n, 1, 1, 1), fill, np.uint8)

        def state_dict(self):
            return {}

    assert WithOptions({}).sample(2, 5, fill=7).tolist() == [[[[7]]], [[[7]]]]
    with pytest.raises(ConfigError):
        WithOptions({}).sample(-2, fill=7)

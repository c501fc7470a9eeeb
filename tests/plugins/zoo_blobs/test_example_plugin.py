"""The example third-party plugin (examples/zoo-blobs), pip-installed as its own distribution.

It is installed once per session with ``pip install --no-deps --no-build-isolation --no-index
--target`` into a temporary folder (never into the development environment), then listed,
inspected, sampled and trained through the real ``zoo`` command, and run through the kit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.pluginenv import EXAMPLE, by_name, installed_example, on_sys_path, python, zoo, zoo_json


@pytest.fixture(scope="module")
def site():
    """The folder the example plugin was pip-installed into."""
    return installed_example()


@pytest.fixture
def loaded(site):
    """The example plugin visible in this process (registry reloaded, forgotten afterwards)."""
    with on_sys_path(site):
        yield site


def test_installed_as_its_own_distribution(site):
    assert (site / "zoo_blobs" / "weights" / "blobs-16.safetensors").is_file()
    (info,) = site.glob("zoo_blobs-*.dist-info")
    assert "blobs = zoo_blobs" in (info / "entry_points.txt").read_text()
    assert not (site / "zoo_core").exists() and not (site / "numpy").exists(), "--no-deps installed dependencies"


def test_zoo_list_and_plugins_show_it(site):
    rows = by_name(zoo_json("list", "--json", path=[site]))
    assert rows["blobs-16"]["family"] == "blobs" and rows["blobs-16"]["plugin"] == "blobs"
    assert rows["blobs-16"]["framework"] == "numpy" and rows["blobs-16"]["weights_local"] is True
    table = zoo("list", "blobs*", path=[site])
    assert table.stdout.splitlines()[1].split()[:3] == ["blobs-16", "blobs", "numpy"]

    (blobs,) = [p for p in zoo_json("plugins", "--json", path=[site]) if p["name"] == "blobs"]
    assert blobs == {"name": "blobs", "module": "zoo_blobs", "distribution": "zoo-blobs", "version": "0.1.0",
                     "hooks": ["register_families", "register_models"], "families": ["blobs", "blobgan"],
                     "models": ["blobs-16"], "builtin": False, "commands": [], "error": None,
                     "missing": {}}
    text = zoo("plugins", path=[site]).stdout
    assert "blobs [ok] (zoo-blobs 0.1.0)" in text


def test_zoo_info_shows_the_published_weights_and_sha256(site):
    from zoo_core.io.weights import sha256_file

    data = zoo_json("info", "blobs-16", "--json", path=[site])
    assert data["weights_source"] == "pkg://zoo_blobs/weights/blobs-16.safetensors"
    assert data["sha256"] == sha256_file(site / "zoo_blobs" / "weights" / "blobs-16.safetensors")
    assert data["sha256"] == sha256_file(EXAMPLE / "zoo_blobs" / "weights" / "blobs-16.safetensors")
    assert data["parameters"] == 2 * 16 * 256 + 16 + 1 and data["installed"] == "yes"


def test_zoo_sample_is_uint8_and_seeded(site, tmp_path):
    for name in ("a.npy", "b.npy"):
        proc = zoo("sample", "blobs-16", "-n", "5", "--seed", "7", "-o", str(tmp_path / name), path=[site])
        assert proc.returncode == 0, proc.stderr
        assert "wrote 5 images (16x16x1)" in proc.stdout
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.dtype == np.uint8 and a.shape == (5, 16, 16, 1)
    assert np.array_equal(a, b)


def test_zoo_train_then_sample_and_eval_the_run(site, tmp_path):
    run = tmp_path / "run"
    proc = zoo("train", "blobs", "--steps", "15", "-o", str(run), "--set", "batch_size=64", "--set", "channels=3",
               "--set", "size=12", path=[site])
    assert proc.returncode == 0, proc.stderr
    assert (run / "model.safetensors").is_file() and (run / "checkpoint" / "step-00000015.safetensors").is_file()
    assert json.loads((run / "run.json").read_text())["family"] == "blobs"
    assert json.loads((run / "config.json").read_text())["config"]["batch_size"] == 64
    sample = zoo("sample", str(run), "-n", "3", "-o", str(tmp_path / "s.npy"), path=[site])
    assert sample.returncode == 0, sample.stderr
    assert np.load(tmp_path / "s.npy").shape == (3, 12, 12, 3)
    assert np.isfinite(zoo_json("eval", str(run), "--json", path=[site])["nll_per_pixel"])


def test_training_really_learns(loaded):
    import zoo_core

    fresh = zoo_core.build("blobs", batch_size=64)
    before = fresh.evaluate()["nll_per_pixel"]
    history = fresh.train(steps=20)
    assert history["step"] == list(range(1, 21))
    assert fresh.evaluate()["nll_per_pixel"] < before - 0.3
    published = zoo_core.load("blobs-16").evaluate()["nll_per_pixel"]
    assert published < zoo_core.build("blobs-16").evaluate()["nll_per_pixel"] - 1.0


def test_resume_continues_the_same_run(loaded, tmp_path):
    import zoo_core

    straight = zoo_core.build("blobs", batch_size=32)
    straight.train(steps=6)
    first = zoo_core.build("blobs", batch_size=32)

    def stop_at_3(step, logs):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        first.train(steps=6, checkpoint_dir=tmp_path, checkpoint_every=2, callbacks=[stop_at_3])
    resumed = zoo_core.build("blobs", batch_size=32)
    resumed.train(steps=6, checkpoint_dir=tmp_path, resume=True)
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value)


def test_passes_the_conformance_kit_through_its_own_tests(site):
    """The example's own tests (the kit through pytest, as its author runs them): every check passes
    or, where it does not apply, is skipped with the reason."""
    from zoo_core.testing import CHECKS

    proc = python("import pytest, sys; sys.exit(pytest.main(['-q', '-rs', '-p', 'no:cacheprovider', 'tests']))",
                  path=[site], cwd=EXAMPLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # 20 checks for blobs-16 (it ships weights), 19 for each family; blobs' check_distributed does not apply
    assert len(CHECKS) == 20 and "56 passed, 2 skipped" in proc.stdout
    skips = [ln for ln in proc.stdout.splitlines() if ln.startswith("SKIPPED")]
    assert len(skips) == 2 and all("check_distributed('blobs" in ln and "does not declare distributed=True" in ln
                                   for ln in skips), skips


def test_blobgan_trains_resumes_bit_for_bit_and_runs_on_two_workers(site, tmp_path):
    """The worked two-network family through the real CLI: a run, a resumed run, a 2-worker run."""
    from zoo_core.io.checkpoints import read_checkpoint

    common = ["--set", "batch_size=16", "--set", "hidden=16", "--set", "size=8", "--device", "cpu"]
    straight, resumed, workers = tmp_path / "straight", tmp_path / "resumed", tmp_path / "workers"
    assert zoo("train", "blobgan", "-o", str(straight), "--steps", "4", *common, path=[site]).returncode == 0
    assert zoo("train", "blobgan", "-o", str(resumed), "--steps", "2", "--checkpoint-every", "1", *common,
               path=[site]).returncode == 0
    proc = zoo("train", str(resumed), "--resume", "--steps", "4", path=[site])
    assert proc.returncode == 0, proc.stderr
    a = (straight / "model.safetensors").read_bytes()
    assert a == (resumed / "model.safetensors").read_bytes()  # two networks, two Adams: bit for bit
    tensors, _ = read_checkpoint(resumed / "checkpoint" / "step-00000004.safetensors")
    assert tensors["session/step"].shape == () and int(tensors["session/step"]) == 4  # a 0-d array stays 0-d
    assert {k.split(".")[0] for k in tensors if k.startswith("session/")} >= {"session/g", "session/d", "session/model"}
    proc = zoo("train", "blobgan", "-o", str(workers), "--steps", "4", "--workers", "2", *common, path=[site])
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((workers / "run.json").read_text())
    assert manifest["world_size"] == 2 and manifest["replicas_agree"] is True and manifest["step"] == 4
    assert manifest["config"]["batch_size"] == 16 and manifest["data"] is None

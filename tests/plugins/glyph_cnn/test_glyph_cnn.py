"""glyph-cnn has one name (plugin ``zoo_glyph_cnn``, family and catalog model ``glyph-cnn``); folders
and run folders saved under the family's former name ``glyphcnn`` still load and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.clitools import run_zoo

import zoo_core
import zoo_core.plugins
from zoo_core.io.checkpoints import list_checkpoints, read_checkpoint, save_checkpoint

ONE_THREAD = {"OMP_NUM_THREADS": "1"}
TINY = ["--set", "channels=4,4,4", "--set", "hidden=8", "--set", "train_size=200", "--set", "batch_size=16",
        "--set", "sample_steps=2"]


@pytest.fixture
def real_registry(monkeypatch):
    """The registry of the installed entry points (other tests may have replaced the global one)."""
    monkeypatch.delenv("ZOO_PLUGINS", raising=False)
    monkeypatch.setattr(zoo_core.plugins, "_registry", None)


def test_one_name_for_plugin_family_and_model(real_registry):
    family = zoo_core.get_family("glyph-cnn")
    assert family.plugin == "glyph_cnn" and family.aliases == ("glyphcnn",)
    assert zoo_core.get_family("glyphcnn") is family
    entry = zoo_core.get_entry("glyph-cnn")
    assert entry.family == "glyph-cnn" and entry.plugin == "glyph_cnn"
    assert entry.weights.source == "pkg://zoo_glyph_cnn/weights/glyph-cnn.safetensors"
    assert "glyphcnn" not in {f.name for f in zoo_core.list_families()}


def _as_saved_before(run: Path, old: str = "glyphcnn") -> None:
    """Rewrite a run folder as the zoo before the rename wrote it: ``"family": old`` everywhere."""
    for name in ("config.json", "run.json"):
        meta = json.loads((run / name).read_text())
        meta["family"] = old
        (run / name).write_text(json.dumps(meta))
    for path in list_checkpoints(run / "checkpoint"):
        tensors, meta = read_checkpoint(path)
        kept = {k: v for k, v in meta.items() if k not in ("format", "step", "data_sha256")}
        save_checkpoint(run / "checkpoint", int(meta["step"]), tensors, {**kept, "family": old})
        assert read_checkpoint(path)[1]["family"] == old


@pytest.mark.slow
def test_a_run_folder_of_the_old_family_name_loads_and_resumes(real_registry, tmp_path):
    run = tmp_path / "run"
    proc = run_zoo("train", "glyph-cnn", "-o", str(run), "--steps", "4", "--checkpoint-every", "2", "--device",
                   "cpu", *TINY, env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr
    _as_saved_before(run)
    model = zoo_core.load(str(run))
    assert model.family_name == "glyph-cnn" and model.config["channels"] == [4, 4, 4]
    more = run_zoo("train", str(run), "--resume", "--steps", "6", env=ONE_THREAD)
    assert more.returncode == 0, more.stderr
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["step"] == 6 and manifest["family"] == "glyph-cnn"
    assert json.loads((run / "config.json").read_text())["family"] == "glyph-cnn"

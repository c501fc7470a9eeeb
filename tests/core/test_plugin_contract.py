"""The plugin contract's version and its migration path (issue 31), and trainability declared once (issue 32).

A plugin written for contract 1 (``Family(trainable=True)`` and its own ``train()``, as the docs
described before the runtime) is installed as a real distribution and trained through ``zoo
train``: it runs once with one deprecation line naming ``training_session`` and the docs
section; ``--resume`` and a class that cannot train get one line saying what to change.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.pluginenv import error_lines, on_sys_path, write_dist, zoo

LEGACY = '''
import numpy as np
import zoo_core
from zoo_core import ConfigSpec, Family, Param, ZooModel
from zoo_core.model import to_uint8

SPEC = ConfigSpec({"size": Param(4, "int", "side", min=2, max=16), "seed": Param(0, "int", "seed", min=0),
                   "steps": Param(5, "int", "steps", min=1)})


class Mean(ZooModel):
    """Contract 1: learns a mean image by its own train()."""

    def __init__(self, config, family=None):
        super().__init__(config, family)
        self.mean = np.full((self.config["size"],) * 2, 0.5, dtype=np.float32)

    def sample(self, n, seed=0):
        noise = np.random.default_rng(seed).normal(0, 0.05, (n, *self.mean.shape))
        return to_uint8((self.mean + noise)[..., None])

    def train(self, data=None, *, steps=1000, callbacks=(), **options):
        history = {"step": [], "loss": []}
        for step in range(1, steps + 1):
            self.mean = (0.9 * self.mean + 0.1 * 0.8).astype(np.float32)
            loss = float(abs(self.mean - 0.8).mean())
            history["step"].append(step)
            history["loss"].append(loss)
            for cb in callbacks:
                cb(step, {"loss": loss})
        return history

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, tensors):
        self.mean = np.array(tensors["mean"])


class Frozen(Mean):
    train = ZooModel.train  # neither its own train() nor a training_session


@zoo_core.hookimpl
def register_families(register):
    register(Family(name="legacy-mean", framework="numpy", factory="legacy_plugin:Mean", config=SPEC,
                    trainable=True))
    register(Family(name="legacy-frozen", framework="numpy", factory="legacy_plugin:Frozen", config=SPEC,
                    trainable=True))
'''


FUTURE = '''
import zoo_core
from zoo_core import Family


@zoo_core.hookimpl
def register_families(register):
    register(Family(name="from-the-future", framework="numpy", factory="legacy_plugin:Mean", contract=99))
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("legacy-site")
    write_dist(folder, "legacy-plugin", {"legacy": "legacy_plugin"}, {"legacy_plugin.py": LEGACY})
    write_dist(folder, "future-plugin", {"future": "future_plugin"}, {"future_plugin.py": FUTURE})
    return folder


def test_a_contract_1_family_trains_through_zoo_train_with_one_deprecation_line(site, tmp_path):
    run = tmp_path / "run"
    proc = zoo("train", "legacy-mean", "-o", str(run), "--steps", "3", path=[site])
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "legacy-mean" in ln]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith("zoo: warning: family 'legacy-mean' overrides ZooModel.train() (plugin contract 1)")
    assert "training_session" in warnings[0] and "docs/plugins.md, section 'Migrating plugins'" in warnings[0]
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["family"] == "legacy-mean" and manifest["step"] == 3 and manifest["contract"] == 1
    assert (run / "model.safetensors").is_file()
    sampled = zoo("sample", str(run), "-n", "2", "-o", str(tmp_path / "s.npy"), path=[site])
    assert sampled.returncode == 0, sampled.stderr
    assert abs(float(np.load(tmp_path / "s.npy").mean()) / 255 - (0.8 - 0.3 * 0.9 ** 3)) < 0.05  # it learned


def test_resuming_a_contract_1_run_is_one_line_naming_what_to_change(site, tmp_path):
    run = tmp_path / "run"
    assert zoo("train", "legacy-mean", "-o", str(run), "--steps", "2", path=[site]).returncode == 0
    proc = zoo("train", str(run), "--resume", "--steps", "4", path=[site])
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert "cannot resume" in line and "implement training_session" in line and "Migrating plugins" in line


def test_declaring_trainable_without_a_way_to_train_is_one_line_naming_training_session(site, tmp_path):
    proc = zoo("train", "legacy-frozen", "-o", str(tmp_path / "run"), "--steps", "2", path=[site])
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert line == ("zoo: error: family 'legacy-frozen' declares trainable=True but Frozen defines no "
                    "training_session; implement it (see docs/plugins.md, section 'Migrating plugins')")
    assert not (tmp_path / "run").exists()


def test_a_family_written_for_a_newer_contract_is_refused_at_registration(site):
    with on_sys_path(site):
        import zoo_core
        from zoo_core.plugins import get_registry

        registry = get_registry()
        assert "legacy-mean" in registry.families and "from-the-future" not in registry.families
        assert not registry.plugins["legacy"].errors
        (error,) = registry.plugins["future"].errors
        assert "family 'from-the-future' is written for plugin contract 99; this zoo speaks contract" in error
        assert zoo_core.get_family("legacy-mean").trainable is True
        assert zoo_core.get_family("legacy-frozen").trainable is False  # derived, whatever it declared


def test_the_kit_reports_what_a_contract_1_family_lacks(site):
    from zoo_core.testing import check_plugin

    with on_sys_path(site):
        results = {r.check: r for r in check_plugin("legacy-mean", raise_on_failure=False)}
        frozen = {r.check: r for r in check_plugin("legacy-frozen", raise_on_failure=False)}
    assert results["check_train_step"].status == "passed"  # its own train() works in-process...
    for check in ("check_resume_exact", "check_zoo_train", "check_device"):  # ...but not what zoo train runs
        assert results[check].status == "failed" and "plugin contract 1" in results[check].message, check
    assert results["check_distributed"].status == "failed"
    assert frozen["check_registers"].status == "failed"
    assert "declares trainable=True, but Frozen defines no training_session" in frozen["check_registers"].message
    assert frozen["check_resume_exact"].status == "skipped"


def test_trainability_is_derived_from_the_model_class():
    import zoo_core
    from zoo_core.contract import CONTRACT_HISTORY, CONTRACT_VERSION

    assert zoo_core.get_family("random-cnn").trainable is False
    assert zoo_core.get_family("glyphnet").trainable is True
    assert sorted(CONTRACT_HISTORY) == list(range(1, CONTRACT_VERSION + 1))
    model = zoo_core.build("random-cnn-256", height=32, width=32)
    with pytest.raises(zoo_core.NotTrainableError, match="defines no training_session"):
        model.train(None, steps=1)


def test_zero_dimensional_state_arrays_round_trip_through_checkpoints(tmp_path):
    from zoo_core.io.checkpoints import read_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path, 3, {"session/count": np.asarray(7, dtype=np.int64),
                                         "session/strided": np.arange(12.0).reshape(3, 4)[:, ::2]}, {})
    tensors, meta = read_checkpoint(path)
    assert tensors["session/count"].shape == () and int(tensors["session/count"]) == 7
    assert np.array_equal(tensors["session/strided"], np.arange(12.0).reshape(3, 4)[:, ::2]) and meta["step"] == 3


def test_a_family_without_to_runs_on_the_cpu_under_device_auto(toy_registry, monkeypatch, capsys):
    import zoo_core
    import zoo_core.contract
    import zoo_core.runtime.devices as devices

    monkeypatch.setattr(devices, "resolve_device", lambda spec, framework: "cuda:0")  # as on a GPU machine
    monkeypatch.setattr(zoo_core.contract, "_said", set())
    model = zoo_core.build("toy-8", device="auto")
    assert model.device == "cpu"
    zoo_core.build("toy-8", device="auto")  # said once per process
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert lines == ["zoo: warning: family 'toy' defines no to(), so it runs on the CPU (--device auto found "
                     "cuda:0); a numpy family should implement to(device)"]
    with pytest.raises(zoo_core.ZooError, match="runs on the CPU only"):
        zoo_core.build("toy-8", device="cuda")  # asked by name: an error, not a fallback

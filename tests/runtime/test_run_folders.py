"""Run folders are contained and run.json is data (issue 33 items 1-2; issue 32's one decision per rule).

A symbolic link among a run folder's own entries (``checkpoint/``, a checkpoint file, ``run.json``,
the saved model, the lock) is refused with one line, and a canary in the link's target survives
byte for byte; ``--force`` removes the link itself, never what it points to. ``run.json`` is checked
on read like the config; ``--steps`` and ``--checkpoint-every`` share the bound of ``--set steps``;
the checkpoint interval is recorded and kept by a resume, and its default is capped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.clitools import assert_one_line_error, run_zoo

from zoo_core.config import MAX_SEED, MAX_STEPS
from zoo_core.errors import ConfigError, ZooError

pytest.importorskip("torch")

TINY = {"image_size": 32, "widths": [4, 8, 8], "msg_size": 8, "batch_size": 8}
SETS = [a for pair in ("image_size=32", "widths=4,8,8", "msg_size=8", "batch_size=8") for a in ("--set", pair)]
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def train(run: Path, steps: int = 4, every: int | None = 2, *, resume: bool = False, force: bool = False,
          overrides: dict | None = None):
    """``zoo train glyphnet -o RUN`` (or ``zoo train RUN --resume``) in-process, through the runtime's API."""
    from zoo_core.runtime.plan import plan_training, run_training

    plan = plan_training(str(run) if resume else "glyphnet", None if resume else str(run), resume=resume,
                         force=force)
    config = {} if resume else dict(TINY)
    return run_training(plan, {**config, **(overrides or {})}, steps=steps, checkpoint_every=every)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` (links not followed) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 4-step run (checkpoints at 2 and 4), copied by the tests that change it."""
    run = tmp_path_factory.mktemp("runs") / "base"
    train(run)
    return run


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    (dst / ".lock").unlink(missing_ok=True)
    return dst


@pytest.fixture
def victim(tmp_path, trained) -> Path:
    """Another run, with a canary file in its checkpoint folder: nothing may touch it."""
    other = copy_run(trained, tmp_path / "victim")
    (other / "checkpoint" / "canary.txt").write_bytes(b"canary \x00\xff bytes")
    return other


def _link_cases(run: Path, victim: Path) -> dict[str, tuple[Path, Path]]:
    return {"checkpoint": (run / "checkpoint", victim / "checkpoint"),
            "run.json": (run / "run.json", victim / "run.json"),
            "model": (run / "model.safetensors", victim / "model.safetensors"),
            "step file": (run / "checkpoint" / "step-00000004.safetensors",
                          victim / "checkpoint" / "step-00000004.safetensors"),
            "lock": (run / ".lock", victim / "checkpoint" / "canary.txt")}


@pytest.mark.parametrize("entry", ["checkpoint", "run.json", "model", "step file", "lock"])
def test_a_resume_never_follows_a_link_out_of_its_run_folder(tmp_path, trained, victim, entry):
    from zoo_core.runtime.runs import RunFolder

    run = copy_run(trained, tmp_path / "run")
    link, target = _link_cases(run, victim)[entry]
    if link.is_dir():
        import shutil

        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(target, target_is_directory=target.is_dir())
    before = snapshot(victim)
    with pytest.raises(ZooError, match="symbolic link") as info:
        train(run, steps=8, resume=True)
    assert "\n" not in str(info.value)
    with pytest.raises(ZooError, match="symbolic link"):  # the API's own path: fit on the folder
        import zoo_core

        zoo_core.build("glyphnet", **TINY).train(steps=8, run_dir=run, resume=True, checkpoint_every=2)
    with pytest.raises(ZooError, match="symbolic link"):
        RunFolder(run).read_manifest()
    assert snapshot(victim) == before  # the canary and the other run's checkpoints, byte for byte
    assert link.is_symlink()  # refused, not "repaired"


def test_the_cli_refuses_a_linked_checkpoint_folder_in_one_line(tmp_path, trained, victim):
    import shutil

    run = copy_run(trained, tmp_path / "run")
    shutil.rmtree(run / "checkpoint")
    (run / "checkpoint").symlink_to(victim / "checkpoint", target_is_directory=True)
    before = snapshot(victim)
    assert_one_line_error(run_zoo("train", str(run), "--resume", "--steps", "8", env=ONE_THREAD),
                          "symbolic link")
    assert snapshot(victim) == before


def test_force_removes_the_links_never_their_targets(tmp_path, trained, victim):
    import shutil

    run = copy_run(trained, tmp_path / "run")
    shutil.rmtree(run / "checkpoint")
    (run / "checkpoint").symlink_to(victim / "checkpoint", target_is_directory=True)
    (run / "run.json").unlink()
    (run / "run.json").symlink_to(victim / "run.json")
    before = snapshot(victim)
    train(run, steps=2, every=1, force=True)
    assert snapshot(victim) == before
    assert not (run / "checkpoint").is_symlink() and (run / "checkpoint").is_dir()
    assert sorted(p.name for p in (run / "checkpoint").iterdir()) == ["step-00000001.safetensors",
                                                                      "step-00000002.safetensors"]
    manifest = json.loads((run / "run.json").read_text())
    assert not (run / "run.json").is_symlink() and manifest["steps"] == 2 and manifest["schedule"] == [
        {"from": 0, "steps": 2}]


def test_force_says_why_when_it_cannot_remove(tmp_path, trained, monkeypatch):
    import shutil

    run = copy_run(trained, tmp_path / "run")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    with pytest.raises(ZooError, match="--force cannot remove .*checkpoint: Permission denied"):
        train(run, steps=2, force=True)
    assert (run / "checkpoint" / "step-00000004.safetensors").is_file()  # nothing half-done is trained into


# -- run.json is data ----------------------------------------------------------------------------

BAD_MANIFEST = {
    "steps-string": {"steps": "abc"}, "steps-list": {"steps": [5]}, "steps-true": {"steps": True},
    "steps-float": {"steps": 2.5}, "steps-huge": {"steps": 1e30}, "steps-zero": {"steps": 0},
    "steps-negative": {"steps": -3}, "steps-over": {"steps": MAX_STEPS + 1},
    "step-string": {"step": "2"}, "step-past-steps": {"step": 9},
    "schedule-string": {"schedule": "fast"}, "schedule-ints": {"schedule": [1, 2]},
    "schedule-from": {"schedule": [{"from": "a", "steps": 4}]}, "schedule-steps": {"schedule": [{"from": 0}]},
    "schedule-object": {"schedule": {"from": 0, "steps": 4}}, "schedule-config": {"schedule": [
        {"from": 0, "steps": 4, "config": [1]}]},
    "every-zero": {"checkpoint_every": 0}, "every-string": {"checkpoint_every": "2"},
    "every-bool": {"checkpoint_every": True}, "seed-negative": {"seed": -1}, "seed-huge": {"seed": MAX_SEED + 1},
    "seed-string": {"seed": "0"}, "data-string": {"data": "glyphs"}, "base-model-int": {"base_model": 3},
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFEST))
def test_run_json_is_checked_on_read(tmp_path, trained, case):
    from zoo_core.runtime.runs import RunFolder

    run = copy_run(trained, tmp_path / "run")
    manifest = json.loads((run / "run.json").read_text())
    manifest.update(BAD_MANIFEST[case])
    (run / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError) as info:
        RunFolder(run).read_manifest()
    assert "\n" not in str(info.value) and "run.json" in str(info.value)


@pytest.mark.parametrize("case", ["steps-string", "schedule-string", "steps-float", "every-zero"])
def test_the_cli_refuses_a_bad_run_json_in_one_line(tmp_path, trained, case):
    run = copy_run(trained, tmp_path / "run")
    manifest = json.loads((run / "run.json").read_text())
    manifest.update(BAD_MANIFEST[case])
    (run / "run.json").write_text(json.dumps(manifest))
    assert_one_line_error(run_zoo("train", str(run), "--resume", env=ONE_THREAD), "run.json")
    (run / "config.json").unlink()  # a run with no saved model yet: its run.json names what it is
    assert_one_line_error(run_zoo("info", str(run)), "run.json")


def test_the_checkpoint_interval_is_recorded_and_kept_by_a_resume(tmp_path, trained):
    run = copy_run(trained, tmp_path / "run")
    assert json.loads((run / "run.json").read_text())["checkpoint_every"] == 2
    train(run, steps=8, every=None, resume=True)  # no interval given: the run's own (2), not a default (50)
    assert sorted(p.name for p in (run / "checkpoint").iterdir()) == [
        "step-00000004.safetensors", "step-00000006.safetensors", "step-00000008.safetensors"]
    assert json.loads((run / "run.json").read_text())["checkpoint_every"] == 2


def test_steps_and_checkpoint_every_are_bounded_in_the_api_and_the_cli(tmp_path):
    import zoo_core

    model = zoo_core.build("glyphnet", **TINY)
    for bad in (0, -1, True, 2.5, "5"):
        with pytest.raises(ConfigError, match="checkpoint_every"):
            model.train(steps=2, checkpoint_every=bad)
    for bad in (MAX_STEPS + 1, 2**63, 1e30, True, "4", -1):
        with pytest.raises(ConfigError, match="steps"):
            model.train(steps=bad)
    run = tmp_path / "run"
    for value in (str(MAX_STEPS + 1), str(2**63), "1e30", "0"):
        proc = run_zoo("train", "glyphnet", "-o", str(run), "--steps", value, *SETS)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--steps" in proc.stderr, value
    proc = run_zoo("train", "glyphnet", "-o", str(run), "--checkpoint-every", "0", *SETS)
    assert proc.returncode == 2 and "--checkpoint-every" in proc.stderr
    assert not run.exists()


def test_the_default_checkpoint_interval_is_capped_in_steps_and_in_time(tmp_path, monkeypatch):
    import zoo_core
    from zoo_core.runtime import loop

    assert loop.default_checkpoint_every(100) == 50
    assert loop.default_checkpoint_every(5000) == 500
    assert loop.default_checkpoint_every(MAX_STEPS) == loop.CHECKPOINT_EVERY_MAX == 1000
    # a run that outlives CHECKPOINT_SECONDS checkpoints then, whatever its step interval
    monkeypatch.setattr(loop, "CHECKPOINT_SECONDS", 0.0)
    zoo_core.build("glyphnet", **TINY).train(steps=6, checkpoint_dir=tmp_path / "timed")
    assert [p.name for p in sorted((tmp_path / "timed").iterdir())] == [
        "step-00000004.safetensors", "step-00000005.safetensors", "step-00000006.safetensors"]
    # ... but not when the caller chose the interval
    zoo_core.build("glyphnet", **TINY).train(steps=6, checkpoint_dir=tmp_path / "chosen", checkpoint_every=6)
    assert [p.name for p in (tmp_path / "chosen").iterdir()] == ["step-00000006.safetensors"]


# -- one decision per rule (issue 32) --------------------------------------------------------------


def test_zoo_train_resolves_once_decides_steps_once_checks_resume_rules_once(tmp_path, trained, monkeypatch,
                                                                              runner):
    from helpers.clitools import invoke

    import zoo_core.resolver as resolver
    from zoo_core.runtime import loop, plan, runs

    calls: dict[str, int] = {"resolve": 0, "steps": 0, "resume": 0, "every": 0}

    def counted(name, real, when=lambda *a, **k: True):
        def wrapper(*args, **kwargs):
            calls[name] += bool(when(*args, **kwargs))
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(resolver, "resolve", counted("resolve", resolver.resolve,
                                                    lambda ref, *a, **k: not isinstance(ref, resolver.Resolved)))
    monkeypatch.setattr(plan.TrainPlan, "total_steps", counted("steps", plan.TrainPlan.total_steps))
    monkeypatch.setattr(loop, "default_checkpoint_every", counted("every", loop.default_checkpoint_every))
    monkeypatch.setattr(plan, "check_resume_config", counted("resume", runs.check_resume_config))
    monkeypatch.setattr(loop, "check_resume_config", counted("resume", runs.check_resume_config))
    run = tmp_path / "fresh"
    result = invoke(runner, "train", "glyphnet", "-o", str(run), *SETS, "--set", "steps=3", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert calls == {"resolve": 1, "steps": 1, "resume": 0, "every": 1}
    assert json.loads((run / "run.json").read_text())["steps"] == 3
    calls.update(resolve=0, steps=0, resume=0, every=0)
    result = invoke(runner, "train", str(run), "--resume", "--set", "lr=0.002", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert calls == {"resolve": 0, "steps": 1, "resume": 1, "every": 1}


def test_history_metrics_are_not_shared():
    from zoo_core.runtime.sessions import History

    first, second = History(), History()
    first.metrics["fid"] = 1.0
    assert second.metrics == {} and History().metrics == {}


def test_one_resume_safe_default_and_one_max_seed():
    import zoo_core
    from zoo_core.families import RESUME_SAFE, Family

    assert Family.__dataclass_fields__["resume_safe"].default == RESUME_SAFE == ("lr", "steps")
    for family in zoo_core.list_families():
        assert set(RESUME_SAFE) <= set(family.resume_safe), family.name
        seed = family.config.params.get("seed")
        if seed is not None and family.plugin in ("glyphnet", "random_cnn", "vae", "glyph_cnn", "filterviz"):
            assert (seed.min, seed.max) == (0, MAX_SEED), family.name
        steps = family.config.params.get("steps")
        if steps is not None and family.plugin in ("glyphnet", "vae", "glyph_cnn"):
            assert steps.max == MAX_STEPS, family.name


def test_random_cnn_grid_seed_takes_max_seed_and_no_more(tmp_path):
    out = tmp_path / "g.png"
    assert_one_line_error(run_zoo("random-cnn-grid", "--seed", str(MAX_SEED + 1), "-o", str(out)), "--seed")
    assert not out.exists()


def test_the_built_in_plugin_list_is_the_zoo_distributions_entry_points():
    import tomllib

    from zoo_core import plugins

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    table = project["project"]["entry-points"]["zoo.plugins"]
    assert plugins.builtin_plugins() == dict(sorted(table.items()))
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert sorted(p.split("/")[-1] for p in packages if p.startswith("plugins/")) == sorted(table.values())
    assert {info.name for info in plugins.get_registry().plugins.values() if info.builtin} == set(table)


def test_zoo_core_spells_no_rule_twice():
    """The rules of issue 32 live in one place each (a reintroduced copy fails here)."""
    root = Path(__file__).resolve().parents[2]
    text = {p: p.read_text(encoding="utf-8") for d in ("zoo_core", "cli", "plugins") for p in (root / d).rglob("*.py")}
    for pattern in ("2**62", "2**31 - 1", "2 ** 32 - 1", "10_000_000", "def _nothing", "json.loads(path.read_text"):
        found = [str(p.relative_to(root)) for p, t in text.items() if pattern in t
                 and not (pattern == "2**31 - 1" and p.name == "allocator.py")
                 and not (pattern == "10_000_000" and p.name == "config.py")]
        assert not found, (pattern, found)
    assert sum('("lr", "steps")' in t for t in text.values()) == 1  # families.RESUME_SAFE
    assert sum("Image.open(" in t for p, t in text.items() if "zoo_core" in p.parts) == 1  # io/imagefile.py


@pytest.mark.slow
def test_seeds_widened_to_max_seed_train_and_sample():
    """vae and glyph-cnn took seeds up to 2**31-1; MAX_SEED (2**32-1) builds, trains and samples too."""
    pytest.importorskip("keras")
    import zoo_core

    for name, config in (("vae", {"image_size": 16, "filters": [4, 8], "kernel_sizes": [3, 3], "z_dim": 4,
                                  "batch_size": 8, "dropout": 0.1}),
                         ("glyph-cnn", {"channels": [4, 4, 4], "hidden": 8, "train_size": 200, "batch_size": 8,
                                        "sample_steps": 2})):
        model = zoo_core.build(name, seed=MAX_SEED, **config)
        model.train(steps=2)
        assert model.sample(2, seed=MAX_SEED).shape[0] == 2

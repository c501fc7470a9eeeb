"""Checks of what ``zoo train`` runs: the CLI in a subprocess, devices, workers, data and examples."""

from __future__ import annotations

import json
import tempfile
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo_core.contract import MIGRATION_DOC
from zoo_core.errors import ZooError
from zoo_core.io.files import RUN_FILE, WEIGHTS_FILE
from zoo_core.testing.common import (
    CheckFailure,
    CheckSkipped,
    build_model,
    cli,
    config_of,
    fail,
    last_line,
    require_runtime,
    sample_of,
    set_args,
    skip,
    state_of,
    target_of,
)


def _cli_overrides(t: Any) -> dict:
    """The kit's overrides minus ``steps`` (the kit names the step counts itself)."""
    return {k: v for k, v in t.overrides.items() if k != "steps"}


def _train_cli(check: str, name: str, args: list[str], env: Mapping[str, str] | None = None) -> Any:
    proc = cli(["train", *args], env=env)
    if proc.returncode != 0:
        errors = list(dict.fromkeys(ln.strip() for ln in proc.stderr.splitlines() if ln.startswith("zoo: error")))
        said = " | ".join(errors[:4]) if errors else last_line(proc.stderr)  # every worker's own line
        raise fail(check, name, f"zoo train {' '.join(args)} exited {proc.returncode}: {said}")
    if "plugin contract 1" in proc.stderr:
        raise fail(check, name, f"zoo train warned: {last_line(proc.stderr)}")
    return proc


#: outcomes of the subprocess checks, by (check, family, resolved config, sys.path): a catalog model whose
#: config is its family's default is not trained twice in one process (the problem text, or None)
_DONE: dict[tuple, str | None] = {}


def _once(fn: Any) -> Any:
    """Run a subprocess check once per family, config and ``sys.path``; replay its outcome for other names."""
    import functools
    import sys

    @functools.wraps(fn)
    def check(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
        t = target_of(fn.__name__, name, overrides)
        key = (fn.__name__, t.family.name, json.dumps(config_of(t), sort_keys=True, default=str), tuple(sys.path))
        if key in _DONE:
            if _DONE[key] is not None:
                raise fail(fn.__name__, name, str(_DONE[key]))
            return
        prefix = f"{fn.__name__}({name!r}): "
        try:
            fn(name, overrides=overrides)
        except CheckFailure as exc:
            text = str(exc)
            _DONE[key] = text[len(prefix):] if text.startswith(prefix) else text
            raise
        except CheckSkipped:
            raise
        _DONE[key] = None

    return check


@_once
def check_zoo_train(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``zoo train NAME -o RUN`` then ``zoo train RUN --resume`` work in a subprocess, as users run them.

    A fresh run of 2 steps (``--device cpu``, the kit's overrides as ``--set``) must exit 0 and
    leave ``run.json`` (step 2), ``model.safetensors`` and a checkpoint; ``--resume --steps 3``
    must continue it to step 3 and change the weights. The plugin must be installed (an entry
    point). Skipped for families that do not learn their weights.
    """
    import numpy as np

    import zoo_core

    check = "check_zoo_train"
    t = target_of(check, name, overrides)
    require_runtime(check, name, t.family)
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        run = Path(tmp) / "run"
        sets = set_args(_cli_overrides(t))
        _train_cli(check, name, [name, "-o", str(run), "--steps", "2", "--device", "cpu", "--checkpoint-every", "1",
                                 *sets])
        manifest = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
        if manifest.get("step") != 2 or not (run / WEIGHTS_FILE).is_file():
            weights = "exists" if (run / WEIGHTS_FILE).is_file() else "is missing"
            raise fail(check, name, f"after 'zoo train ... --steps 2' run.json says step {manifest.get('step')} "
                                     f"and {WEIGHTS_FILE} {weights}")
        first = state_of(check, name, zoo_core.load(str(run)))
        _train_cli(check, name, [str(run), "--resume", "--steps", "3"])
        manifest = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
        if manifest.get("step") != 3 or manifest.get("finished") is None:
            raise fail(check, name, f"after 'zoo train RUN --resume --steps 3' run.json says step "
                                     f"{manifest.get('step')}, finished {manifest.get('finished')}")
        second = state_of(check, name, zoo_core.load(str(run)))
    if all(np.array_equal(first[k], second[k]) for k in first):
        raise fail(check, name, "'zoo train RUN --resume --steps 3' left the weights of step 2 unchanged")


def _torch_places(*objects: Any) -> set[str]:
    """Device types of the torch tensors and modules held (one attribute deep) by ``objects``."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return set()
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, torch.nn.Module):
            found.update(p.device.type for p in value.parameters())
            found.update(b.device.type for b in value.buffers())
        elif isinstance(value, torch.Tensor):
            found.add(value.device.type)
        elif isinstance(value, torch.optim.Optimizer):
            for state in value.state.values():
                found.update(v.device.type for v in state.values() if isinstance(v, torch.Tensor))

    for obj in objects:
        for value in list(vars(obj).values()) if hasattr(obj, "__dict__") else []:
            visit(value)
            if isinstance(value, (list, tuple)):
                for item in value:
                    visit(item)
    return found


def _devices() -> list[str]:
    """``cpu``, then each other device type torch sees (when torch is imported)."""
    import sys

    out = ["cpu"]
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_available():
            out.append("cuda:0")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            out.append("mps")
    return out


def check_device(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Training runs where it was asked to: ``--device cpu`` and every other device type torch sees.

    For each device the model is built there (``zoo_core.build(..., device=D)``), a session is
    opened with ``ctx.device == D`` and trains one step; every torch tensor, module and optimizer
    slot the model and the session hold must then be on ``D`` (numpy families: the CPU run only).
    """
    import zoo_core
    from zoo_core.runtime.distributed import World
    from zoo_core.runtime.sessions import TrainContext

    check = "check_device"
    t = target_of(check, name, overrides)
    require_runtime(check, name, t.family)
    build_model(check, t)  # imports the framework, so that _devices sees it
    for device in _devices():
        try:
            model = zoo_core.build(t.name, device=device, **t.overrides)
        except ZooError as exc:
            raise fail(check, name, f"build(device={device!r}) raised: {exc}") from exc
        if getattr(model, "device", None) != device:
            raise fail(check, name, f"build(device={device!r}) gives model.device {model.device!r}; to() must set it")
        config = config_of(t)
        session = model.training_session(None, int(config.get("steps", 2) or 2),
                                         TrainContext(world=World(), device=device, steps=2))
        try:
            session.run(1, 1)
            places = _torch_places(model, session)
        finally:
            session.close()
        want = device.partition(":")[0]
        if places - {want}:
            raise fail(check, name, f"asked for device '{device}', training left tensors on "
                                     f"{', '.join(sorted(places - {want}))}; put the networks and the batches on "
                                     "ctx.device")


_SHARD_PROBE = """
import json, os
import zoo_core.runtime.distributed as _d
_shard = _d.shard
def shard(batch, world):
    with open(os.environ["ZOO_KIT_SHARD_LOG"], "a") as f:
        f.write(json.dumps([world.rank, world.size, int(batch)]) + "\\n")
    return _shard(batch, world)
_d.shard = shard
"""


@_once
def check_distributed(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """A ``distributed=True`` family trains with ``zoo train --workers 2`` (gloo on the CPU).

    The 2-worker run of 2 steps must exit 0 with ``run.json`` saying ``world_size`` 2 and the
    replicas agreeing (gradients averaged, buffers synchronised), and each rank must have split
    the global batch with :func:`zoo_core.runtime.distributed.shard` (a rank that trains on the
    whole batch gives no speed-up). Skipped for families that do not declare ``distributed``.
    """
    check = "check_distributed"
    t = target_of(check, name, overrides)
    require_runtime(check, name, t.family)
    if not t.family.distributed:
        raise skip(check, name, f"family '{t.family.name}' does not declare distributed=True")
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        probe = Path(tmp) / "probe"
        probe.mkdir()
        (probe / "sitecustomize.py").write_text(textwrap.dedent(_SHARD_PROBE), encoding="utf-8")
        log = Path(tmp) / "shards.jsonl"
        path = str(probe)
        run = Path(tmp) / "run"
        _train_cli(check, name, [name, "-o", str(run), "--steps", "2", "--device", "cpu", "--workers", "2",
                                 *set_args(_cli_overrides(t))],
                   env={"PYTHONPATH": path, "ZOO_KIT_SHARD_LOG": str(log)})
        manifest = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    if manifest.get("world_size") != 2 or manifest.get("replicas_agree") is not True:
        raise fail(check, name, f"run.json of the 2-worker run says world_size {manifest.get('world_size')}, "
                                 f"replicas_agree {manifest.get('replicas_agree')}")
    ranks = {rank for rank, size, _ in calls if size == 2}
    if ranks != {0, 1}:
        raise fail(check, name, "with --workers 2 the session never split its batch with "
                                 "zoo_core.runtime.distributed.shard(batch, ctx.world) on "
                                 f"rank {', '.join(str(r) for r in sorted({0, 1} - ranks))}: each worker trained on "
                                 "the whole batch (no speed-up)")


def _data_file(check: str, name: str, t: Any, folder: Path) -> tuple[Path, int]:
    """An ``.npy`` of 64 images of the model's shape: other images than the family's default data."""
    import numpy as np

    shape = sample_of(check, name, build_model(check, t), 1, seed=0).shape[1:]
    rng = np.random.default_rng(2024)
    images = np.zeros((64, *shape), dtype=np.uint8)
    images[:, : shape[0] // 2] = rng.integers(128, 256, size=(64, shape[0] // 2, *shape[1:]), dtype=np.uint8)
    path = folder / "kit-data.npy"
    np.save(path, images)
    return path, len(images)


def _session(check: str, name: str, t: Any, data: Any) -> tuple[Any, Any]:
    from zoo_core.runtime.distributed import World
    from zoo_core.runtime.sessions import TrainContext

    model = build_model(check, t)
    try:
        session = model.training_session(data, 2, TrainContext(world=World(), device="cpu", steps=2))
    except ZooError as exc:
        raise skip(check, name, f"the family takes no image file as data ({exc})") from None
    return model, session


def check_trains_on_data(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Training on other data (``zoo train --data FILE``) gives other weights than the default data.

    Two steps on an ``.npy`` of 64 images of the model's shape (bright top halves, dark bottoms)
    must end with other weights than two steps on the family's default data. Skipped when the
    family refuses an image file as data (with its message).
    """
    import numpy as np

    check = "check_trains_on_data"
    t = target_of(check, name, overrides)
    require_runtime(check, name, t.family)
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        path, _ = _data_file(check, name, t, Path(tmp))
        _session(check, name, t, str(path))[1].close()  # skips when the family refuses the file
        default, other = build_model(check, t), build_model(check, t)
        default.train(None, steps=2, checkpoint_dir=Path(tmp) / "a")
        other.train(str(path), steps=2, checkpoint_dir=Path(tmp) / "b")
    a, b = state_of(check, name, default), state_of(check, name, other)
    if all(np.array_equal(a[k], b[k]) for k in a):
        raise fail(check, name, "two steps on another data file gave the weights of two steps on the default "
                                 "data: the session ignores its data argument (zoo train --data)")


def check_examples(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """The session says how many examples it trains on: ``session.examples``, recorded in ``run.json``.

    With a data file of 64 images, ``examples`` must be the number it trains on (1..64: a family
    may hold some out for ``evaluate``); with the default data it must exist
    (an int, or ``None`` for data drawn afresh at every step). Skipped when the family takes no
    image file as data (the default-data part still runs).
    """
    check = "check_examples"
    t = target_of(check, name, overrides)
    require_runtime(check, name, t.family)
    _, session = _session(check, name, t, None)
    session.close()
    if not hasattr(session, "examples"):
        raise fail(check, name, f"the session has no 'examples' attribute (int, or None for generated data; see "
                                 f"{MIGRATION_DOC})")
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        path, count = _data_file(check, name, t, Path(tmp))
        _, session = _session(check, name, t, str(path))
        session.close()
    examples = getattr(session, "examples", None)
    if not isinstance(examples, int) or isinstance(examples, bool) or not 0 < examples <= count:
        raise fail(check, name, f"trained on a file of {count} images, session.examples is {examples!r} (expected "
                                 f"the number it trains on, 1..{count}); run.json records it")

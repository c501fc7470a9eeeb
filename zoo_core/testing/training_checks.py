"""Checks of training: one step, and an exact resume through the runtime."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo_core.errors import NotTrainableError, ZooError
from zoo_core.io.files import RUN_FILE
from zoo_core.testing.common import build_model, fail, is_trainable, require_runtime, sample_of, state_of, target_of


def check_train_step(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """One training step runs, reports through callbacks and changes the weights.

    ``train(None, steps=1, callbacks=[cb], checkpoint_dir=..., resume=False)`` (what ``zoo
    train`` passes) must return a dict of metric lists, call ``cb(step, logs)`` with finite
    numbers, change at least one weight and leave valid samples. A family declared with
    ``Family(trainable=False)`` must raise :class:`~zoo_core.errors.NotTrainableError` instead; a
    trainable family must not.
    """
    import numpy as np

    check = "check_train_step"
    t = target_of(check, name, overrides)
    model = build_model(check, t)
    before = state_of(check, name, model)
    calls: list[tuple[Any, Any]] = []
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        try:
            history = model.train(None, steps=1, callbacks=[lambda step, logs: calls.append((step, logs))],
                                  checkpoint_dir=Path(tmp) / "checkpoint", resume=False)
        except NotTrainableError as exc:
            if is_trainable(t.family):
                raise fail(check, name, f"train() raised NotTrainableError ({exc}) but the family is "
                                         "trainable (its class overrides training_session or train); a family "
                                         "whose weights are not learned keeps ZooModel.training_session") from exc
            return
        except Exception as exc:
            raise fail(check, name, f"train(steps=1) raised {type(exc).__name__}: {exc}") from exc
    if not is_trainable(t.family):
        raise fail(check, name, "family declares trainable=False, but train() returned instead of raising "
                                 "NotTrainableError")
    if not isinstance(history, Mapping):
        raise fail(check, name, f"train() must return a History (dict), got {type(history).__name__}")
    if not calls:
        raise fail(check, name, "train(steps=1) never called its callbacks")
    for step, logs in calls:
        if not isinstance(step, int) or not isinstance(logs, Mapping):
            raise fail(check, name, f"callbacks must get (int step, dict logs), got ({step!r}, {logs!r})")
        for key, value in logs.items():
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(float(value)):
                raise fail(check, name, f"callback logs[{key!r}] = {value!r} is not a finite number")
    after = state_of(check, name, model)
    if set(after) != set(before):
        raise fail(check, name, "training changed the names of the state dict")
    if all(np.array_equal(before[k], after[k]) for k in before):
        raise fail(check, name, "one training step left every weight unchanged")
    for key, value in after.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise fail(check, name, f"weight '{key}' holds NaN or infinity after one step")
    images = sample_of(check, name, model, 2, seed=0)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise fail(check, name, f"after training, sample() returns {images.dtype} {images.shape}")


def check_resume_exact(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Train k steps with a checkpoint, resume to 2k: the same weights and history as 2k straight.

    Skipped for families that do not learn their weights; fails for a family that trains by its
    own ``train()`` (plugin contract 1: no checkpoints). The run folder must then hold a ``run.json`` with the
    documented keys, and the History ``step`` plus one list per metric, all of length 2k.
    """
    import numpy as np

    check = "check_resume_exact"
    t = target_of(check, name, overrides)
    require_runtime(check, name, t.family)
    k = 2
    straight = build_model(check, t)
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        try:
            full = straight.train(None, steps=2 * k, checkpoint_dir=Path(tmp) / "a", checkpoint_every=k)
            first = build_model(check, t)

            class _Stop(Exception):
                pass

            def stop(step: int, logs: Any) -> None:  # a crash after the checkpoint of step k
                if step == k + 1:
                    raise _Stop

            try:
                first.train(None, steps=2 * k, run_dir=Path(tmp) / "b", checkpoint_every=k, callbacks=[stop],
                            evaluate=False)
            except _Stop:
                pass
            resumed = build_model(check, t)
            history = resumed.train(None, steps=2 * k, run_dir=Path(tmp) / "b", checkpoint_every=k, resume=True,
                                    evaluate=False)
        except ZooError as exc:
            raise fail(check, name, f"train/resume raised {type(exc).__name__}: {exc}") from exc
        manifest_path = Path(tmp) / "b" / RUN_FILE
        if not manifest_path.is_file():
            raise fail(check, name, "train(run_dir=...) wrote no run.json")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    missing = sorted(set(RUN_KEYS) - set(manifest))
    if missing:
        raise fail(check, name, f"run.json lacks {missing}")
    if manifest["step"] != 2 * k or manifest["steps"] != 2 * k or manifest["world_size"] != 1:
        raise fail(check, name, f"run.json says step {manifest['step']} of {manifest['steps']}, expected {2 * k}")
    if list(history.get("step", [])) != list(range(1, 2 * k + 1)):
        raise fail(check, name, f"the resumed History must list steps 1..{2 * k}, got {history.get('step')}")
    for key, values in history.items():
        if len(values) != 2 * k:
            raise fail(check, name, f"History[{key!r}] has {len(values)} values for {2 * k} steps")
    a, b = state_of(check, name, straight), state_of(check, name, resumed)
    differ = [key for key in a if not np.array_equal(a[key], b[key])]
    if differ:
        raise fail(check, name, f"resuming from step {k} to {2 * k} does not give the weights of {2 * k} steps "
                                 f"straight ({', '.join(differ[:3])} differ); make each step's data and "
                                 "randomness a function of (seed, step) and put every state in session.state()")
    if any(full[key] != history[key] for key in full if key != "step"):
        raise fail(check, name, "the resumed run's losses differ from the uninterrupted run's")


#: keys every run.json has
RUN_KEYS = ("family", "config", "step", "steps", "data", "seed", "device", "world_size", "versions", "started",
            "finished", "metrics", "schedule", "checkpoint_every")

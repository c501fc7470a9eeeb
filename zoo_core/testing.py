"""A conformance kit for zoo plugins, in the spirit of scikit-learn's ``check_estimator``.

Every check is a plain function ``check_xxx(name, *, overrides=None)`` that takes a catalog model
name or a family name, runs one requirement of the zoo model contract against the installed
plugin, and raises :class:`CheckFailure` (an :class:`AssertionError`) with a one-paragraph
explanation when the requirement is not met. ``overrides`` are config values passed to
:func:`zoo_core.build` (use them to check a small, fast variant of a big model).

Run them all at once::

    from zoo_core.testing import check_plugin
    check_plugin("blobs-16")                 # a model, a family, or a plugin's entry-point name

or one pytest test per check::

    from zoo_core.testing import parametrize_with_checks

    @parametrize_with_checks(["blobs", "blobs-16"],
                             expected_failed_checks={"check_train_step": "training needs a GPU"})
    def test_zoo_conformance(name, check):
        check(name)

A check listed in ``expected_failed_checks`` is expected to fail: pytest marks it ``xfail`` with
your reason (strictly, so an expected failure that starts passing is reported and the entry can
be removed). This module imports neither pytest nor any deep-learning framework at import time.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Union

from zoo_core.errors import ConfigError, NotTrainableError, ZooError

#: modules that no listing may import (plus each family's ``requires`` and ``framework``)
HEAVY_MODULES = ("torch", "tensorflow", "keras", "jax", "flax")

#: light modules a family may import while zoo lists models (zoo_core itself depends on them)
LIGHT_MODULES = frozenset({"numpy", "zoo_core", "pluggy", "click", "safetensors"})

Overrides = Union[Mapping[str, Any], Callable[[str], Mapping[str, Any]], None]
ExpectedFailures = Union[Mapping[str, str], Callable[[str], Mapping[str, str]], None]


class CheckFailure(AssertionError):
    """A plugin does not meet one requirement of the zoo model contract."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one name, as returned by :func:`check_plugin`.

    ``status`` is ``"passed"``, ``"failed"``, ``"xfail"`` (failed as declared in
    ``expected_failed_checks``) or ``"xpass"`` (declared to fail, but passed).
    """

    name: str
    check: str
    status: str
    message: str = ""


@dataclass(frozen=True)
class _Target:
    name: str
    family: Any  # zoo_core.families.Family
    entry: Any  # zoo_core.catalog.ModelEntry | None
    overrides: dict


# ---------------------------------------------------------------------------------------------
# helpers


def _fail(check: str, name: str, problem: str) -> CheckFailure:
    return CheckFailure(f"{check}({name!r}): {problem}")


def _target(check: str, name: str, overrides: Mapping[str, Any] | None) -> _Target:
    from zoo_core.plugins import get_registry
    from zoo_core.resolver import resolve

    try:
        target = resolve(name)
    except ZooError as exc:
        registry = get_registry()
        broken = [f"{p.name}: {'; '.join(p.errors)}" for p in registry.plugins.values() if p.errors]
        hint = f" (broken plugins: {' | '.join(broken)})" if broken else ""
        raise _fail(check, name, f"neither a model nor a family of any loaded plugin ({exc}){hint}") from None
    if target.kind not in ("catalog", "family"):
        raise _fail(check, name, f"the kit checks catalog models and families, not a {target.kind} ('{name}')")
    return _Target(name, target.family, target.entry, dict(overrides or {}))


def _config(t: _Target) -> dict:
    """The resolved config the kit builds ``t`` with (catalog config, then overrides)."""
    if t.entry is not None:
        return t.family.config.resolve(t.entry.config, t.overrides)
    return t.family.config.resolve(t.overrides)


def _build(check: str, t: _Target):
    import zoo_core

    try:
        return zoo_core.build(t.name, **t.overrides)
    except Exception as exc:  # noqa: BLE001 - any build error fails the check, with its cause
        raise _fail(check, t.name, f"zoo_core.build raised {type(exc).__name__}: {exc}") from exc


def _json_same(a: Any, b: Any) -> bool:
    """Equal as JSON text: ``1`` and ``1.0`` and ``True`` differ, list order matters."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _state(check: str, name: str, model: Any) -> dict:
    import numpy as np

    try:
        state = model.state_dict()
    except Exception as exc:  # noqa: BLE001
        raise _fail(check, name, f"state_dict() raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, Mapping):
        raise _fail(check, name, f"state_dict() must return a dict, got {type(state).__name__}")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise _fail(check, name, f"state_dict() must map str -> numpy.ndarray, got {key!r}: "
                                     f"{type(value).__module__}.{type(value).__name__}")
        out[key] = np.array(value, copy=True)
    return out


def _sample(check: str, name: str, model: Any, n: int, seed: int):
    import numpy as np

    try:
        images = model.sample(n, seed=seed)
    except Exception as exc:  # noqa: BLE001
        raise _fail(check, name, f"sample({n}, seed={seed}) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(images, np.ndarray):
        raise _fail(check, name, f"sample() must return a numpy.ndarray, got "
                                 f"{type(images).__module__}.{type(images).__name__}")
    return images


def _scramble_global_rngs(value: int) -> None:
    """Reseed the global RNGs, so that a model that uses them instead of ``seed`` is caught."""
    import random

    import numpy as np

    random.seed(value)
    np.random.seed(value)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(value)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(value)


def _declared_shape(model: Any) -> tuple[tuple, str] | None:
    """``(H, W, C)`` the family declares (``None`` items unknown) and where it was declared."""
    from zoo_core.model import ZooModel

    if getattr(type(model), "image_shape", None) is not ZooModel.image_shape:
        return tuple(model.image_shape), f"{type(model).__name__}.image_shape"
    config = model.config
    side = next((config[k] for k in ("image_size", "size", "resolution") if isinstance(config.get(k), int)), None)
    height = config.get("height", side) if isinstance(config.get("height", side), int) else None
    width = config.get("width", side) if isinstance(config.get("width", side), int) else None
    channels = config.get("channels") if isinstance(config.get("channels"), int) else None
    if height is None and width is None and channels is None:
        return None
    return (height, width, channels), "the config keys image_size/size/height/width/channels"


def _entry_point_names() -> set[str]:
    from zoo_core.plugins import ENTRY_POINT_GROUP

    return {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _is_trainable(family: Any) -> bool:
    return bool(getattr(family, "trainable", True))


# ---------------------------------------------------------------------------------------------
# the checks


def check_registers(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """The name is registered by a healthy plugin, its family is well-formed and its class imports.

    Checks: the name is a model or family of a loaded plugin; that plugin reported no error; the
    family has a name, a framework string, a :class:`~zoo_core.config.ConfigSpec`, a boolean
    ``trainable`` and installed ``requires``; its factory resolves to a
    :class:`~zoo_core.model.ZooModel` subclass (a :class:`~zoo_core.model.LatentModel` when
    ``latent=True``); the (catalog plus override) config validates; a model is listed by
    :func:`zoo_core.list_models`.
    """
    import zoo_core
    from zoo_core.config import ConfigSpec
    from zoo_core.model import LatentModel, ZooModel
    from zoo_core.plugins import get_registry

    check = "check_registers"
    t = _target(check, name, overrides)
    fam = t.family
    info = get_registry().plugins.get(fam.plugin)
    if info is None:
        raise _fail(check, name, f"family '{fam.name}' names plugin '{fam.plugin}', which zoo does not know")
    if info.errors:
        raise _fail(check, name, f"plugin '{info.name}' reported errors: {'; '.join(info.errors)}")
    if not isinstance(fam.framework, str) or not fam.framework:
        raise _fail(check, name, f"family '{fam.name}': framework must be a non-empty string")
    if not isinstance(fam.config, ConfigSpec):
        raise _fail(check, name, f"family '{fam.name}': config must be a ConfigSpec, got {type(fam.config).__name__}")
    if not isinstance(getattr(fam, "trainable", True), bool):
        raise _fail(check, name, f"family '{fam.name}': trainable must be True or False")
    if not isinstance(fam.requires, tuple) or not all(isinstance(m, str) for m in fam.requires):
        raise _fail(check, name, f"family '{fam.name}': requires must be a tuple of module names")
    try:
        cls = fam.model_class()
    except ZooError as exc:
        raise _fail(check, name, str(exc)) from exc
    if not (isinstance(cls, type) and issubclass(cls, ZooModel)):
        raise _fail(check, name, f"family '{fam.name}': factory {fam.factory!r} is not a ZooModel subclass")
    if fam.latent and not issubclass(cls, LatentModel):
        raise _fail(check, name, f"family '{fam.name}' declares latent=True but {cls.__name__} is not a LatentModel")
    try:
        _config(t)
    except ZooError as exc:
        raise _fail(check, name, f"config does not validate: {exc}") from exc
    if t.entry is not None and name not in {m.name for m in zoo_core.list_models()}:
        raise _fail(check, name, "registered but not listed by zoo_core.list_models()")


def check_config_json(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """The resolved config survives JSON and ``--set key=value`` unchanged.

    ``json.dumps`` (without NaN or infinity) then ``json.loads`` then ``ConfigSpec.resolve`` must
    give back the same values of the same JSON types, and so must parsing each value as the
    command line's ``--set key=value`` text.
    """
    check = "check_config_json"
    t = _target(check, name, overrides)
    spec = t.family.config
    config = _config(t)
    try:
        text = json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail(check, name, f"config is not JSON-serialisable: {exc}") from exc
    again = spec.resolve(json.loads(text))
    if not _json_same(again, config):
        raise _fail(check, name, f"config changed through JSON: {config} -> {again}")
    for key, value in config.items():
        if value is None:
            arg = "none"
        elif isinstance(value, bool):
            arg = "true" if value else "false"
        elif isinstance(value, list):
            arg = json.dumps(value)
        else:
            arg = repr(value) if isinstance(value, float) else str(value)
        try:
            parsed = spec.parse_overrides([f"{key}={arg}"])[key]
        except ConfigError as exc:
            raise _fail(check, name, f"--set {key}={arg} (its own value) is refused: {exc}") from exc
        if not _json_same(parsed, value):
            raise _fail(check, name, f"--set {key}={arg} gives {parsed!r}, not {value!r}")


def check_build(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``zoo_core.build`` returns a model of the family holding the resolved config and numpy weights.

    Checks: the result is a :class:`~zoo_core.model.ZooModel` of this family; ``model.config``
    equals the resolved config and is JSON-serialisable; ``state_dict()`` maps names to numpy
    arrays with finite floats; ``count_parameters(config)``, when the family has it, equals
    ``model.num_parameters``; a latent model has ``latent_size > 0``.
    """
    import numpy as np

    from zoo_core.model import LatentModel, ZooModel

    check = "check_build"
    t = _target(check, name, overrides)
    model = _build(check, t)
    if not isinstance(model, ZooModel):
        raise _fail(check, name, f"build returned {type(model).__name__}, not a ZooModel")
    if model.family_name != t.family.name:
        raise _fail(check, name, f"model.family is '{model.family_name}', expected '{t.family.name}'")
    config = _config(t)
    try:
        json.dumps(model.config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail(check, name, f"model.config is not JSON-serialisable ({exc}); save() could not write it") from exc
    if not _json_same(model.config, config):
        raise _fail(check, name, f"model.config {model.config} differs from the resolved config {config}")
    state = _state(check, name, model)
    for key, value in state.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise _fail(check, name, f"fresh weight '{key}' holds NaN or infinity")
    if t.family.count_parameters is not None:
        counted = t.family.count_parameters(config)
        if counted != model.num_parameters:
            raise _fail(check, name, f"count_parameters(config) = {counted}, but the built model has "
                                     f"{model.num_parameters} scalars in its state dict")
    if isinstance(model, LatentModel) and not (isinstance(model.latent_size, int) and model.latent_size > 0):
        raise _fail(check, name, f"LatentModel.latent_size must be a positive int, got {model.latent_size!r}")


def check_sample(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``sample(n, seed)`` returns ``uint8`` images of shape ``(n, H, W, C)`` of the declared shape.

    ``C`` must be 1, 3 or 4 and ``(H, W, C)`` the same for every ``n``. The shape is *declared*
    by overriding :attr:`ZooModel.image_shape` (without sampling) or, failing that, by the config
    keys ``image_size``/``size``/``resolution``, ``height``, ``width`` and ``channels``; a family
    that declares neither is only checked for consistency.
    """
    import numpy as np

    check = "check_sample"
    t = _target(check, name, overrides)
    model = _build(check, t)
    shapes = []
    for n in (1, 3):
        images = _sample(check, name, model, n, seed=0)
        if images.dtype != np.uint8:
            raise _fail(check, name, f"sample() must return uint8 images, got {images.dtype}")
        if images.ndim != 4 or images.shape[0] != n:
            raise _fail(check, name, f"sample({n}) must have shape ({n}, H, W, C), got {images.shape}")
        if images.shape[3] not in (1, 3, 4) or min(images.shape[1:3]) < 1:
            raise _fail(check, name, f"sample() must be N x H x W x C with C in 1, 3, 4; got {images.shape}")
        shapes.append(tuple(images.shape[1:]))
    if shapes[0] != shapes[1]:
        raise _fail(check, name, f"image shape depends on n: {shapes[0]} for n=1, {shapes[1]} for n=3")
    declared = _declared_shape(model)
    if declared is not None:
        shape, where = declared
        if len(shape) != 3 or any(d is not None and d != s for d, s in zip(shape, shapes[0])):
            raise _fail(check, name, f"images are H x W x C = {shapes[0]}, but {where} declares {shape}")


def check_sample_deterministic(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Same seed, same bits; another seed, other images; images in a batch differ.

    The same model and a freshly built one must return bit-identical samples for one seed even
    when the global RNGs (``random``, ``numpy.random``, torch, tensorflow) are reseeded in
    between; a different seed must change the samples; the images of one batch must not all be
    identical.
    """
    import numpy as np

    check = "check_sample_deterministic"
    t = _target(check, name, overrides)
    model = _build(check, t)
    _scramble_global_rngs(1)
    first = _sample(check, name, model, 4, seed=0)
    _scramble_global_rngs(2)
    again = _sample(check, name, model, 4, seed=0)
    if not np.array_equal(first, again):
        raise _fail(check, name, "sample(4, seed=0) twice gave different images; derive all randomness "
                                 "from the seed, not from global RNG state")
    _scramble_global_rngs(3)
    fresh = _sample(check, name, _build(check, t), 4, seed=0)
    if not np.array_equal(first, fresh):
        raise _fail(check, name, "two fresh builds gave different samples for seed 0; seed the initial "
                                 "weights from the config")
    other = _sample(check, name, model, 4, seed=1)
    if np.array_equal(first, other):
        raise _fail(check, name, "seed=0 and seed=1 gave identical samples; the seed is ignored")
    if all(np.array_equal(first[0], img) for img in first[1:]):
        raise _fail(check, name, "all 4 images of one batch are identical")


def check_save_load(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``model.save(dir)`` then ``zoo_core.load(dir)`` gives the same weights and the same samples.

    A trainable model is first trained for one step (when that works), so that a
    ``load_state_dict`` that silently keeps the fresh weights is caught. The folder must hold
    ``config.json`` and ``model.safetensors`` whose sha256 the config records.
    """
    import numpy as np

    import zoo_core
    from zoo_core.files import CONFIG_FILE, WEIGHTS_FILE
    from zoo_core.weights import sha256_file

    check = "check_save_load"
    t = _target(check, name, overrides)
    model = _build(check, t)
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        if _is_trainable(t.family):
            try:
                model.train(None, steps=1, checkpoint_dir=Path(tmp) / "checkpoint", resume=False)
            except Exception:  # noqa: BLE001 - check_train_step reports training errors
                model = _build(check, t)
        before = _state(check, name, model)
        images = _sample(check, name, model, 4, seed=3)
        folder = Path(tmp) / "saved"
        try:
            model.save(folder)
        except Exception as exc:  # noqa: BLE001
            raise _fail(check, name, f"save() raised {type(exc).__name__}: {exc}") from exc
        for required in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / required).is_file():
                raise _fail(check, name, f"save() wrote no {required}")
        meta = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        if meta.get("weights_sha256") != sha256_file(folder / WEIGHTS_FILE):
            raise _fail(check, name, f"{CONFIG_FILE} records a sha256 that is not that of {WEIGHTS_FILE}")
        try:
            loaded = zoo_core.load(folder)
        except Exception as exc:  # noqa: BLE001
            raise _fail(check, name, f"zoo_core.load(saved folder) raised {type(exc).__name__}: {exc}") from exc
        after = _state(check, name, loaded)
        for key in before:
            if key not in after or not np.array_equal(before[key], after[key]):
                raise _fail(check, name, f"weight '{key}' differs after save and load")
        if not np.array_equal(images, _sample(check, name, loaded, 4, seed=3)):
            raise _fail(check, name, "the loaded model samples different images than the saved one")


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
    t = _target(check, name, overrides)
    model = _build(check, t)
    before = _state(check, name, model)
    calls: list[tuple[Any, Any]] = []
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        try:
            history = model.train(None, steps=1, callbacks=[lambda step, logs: calls.append((step, logs))],
                                  checkpoint_dir=Path(tmp) / "checkpoint", resume=False)
        except NotTrainableError as exc:
            if _is_trainable(t.family):
                raise _fail(check, name, f"train() raised NotTrainableError ({exc}) but the family is "
                                         "trainable; declare Family(..., trainable=False)") from exc
            return
        except Exception as exc:  # noqa: BLE001
            raise _fail(check, name, f"train(steps=1) raised {type(exc).__name__}: {exc}") from exc
    if not _is_trainable(t.family):
        raise _fail(check, name, "family declares trainable=False, but train() returned instead of raising "
                                 "NotTrainableError")
    if not isinstance(history, Mapping):
        raise _fail(check, name, f"train() must return a History (dict), got {type(history).__name__}")
    if not calls:
        raise _fail(check, name, "train(steps=1) never called its callbacks")
    for step, logs in calls:
        if not isinstance(step, int) or not isinstance(logs, Mapping):
            raise _fail(check, name, f"callbacks must get (int step, dict logs), got ({step!r}, {logs!r})")
        for key, value in logs.items():
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(float(value)):
                raise _fail(check, name, f"callback logs[{key!r}] = {value!r} is not a finite number")
    after = _state(check, name, model)
    if set(after) != set(before):
        raise _fail(check, name, "training changed the names of the state dict")
    if all(np.array_equal(before[k], after[k]) for k in before):
        raise _fail(check, name, "one training step left every weight unchanged")
    for key, value in after.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise _fail(check, name, f"weight '{key}' holds NaN or infinity after one step")
    images = _sample(check, name, model, 2, seed=0)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise _fail(check, name, f"after training, sample() returns {images.dtype} {images.shape}")


def check_sample_empty(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``sample(0)`` returns an empty ``uint8`` array of shape ``(0, H, W, C)``, the shape of ``sample(1)``."""
    import numpy as np

    check = "check_sample_empty"
    t = _target(check, name, overrides)
    model = _build(check, t)
    empty = _sample(check, name, model, 0, seed=0)
    one = _sample(check, name, model, 1, seed=0)
    if not isinstance(empty, np.ndarray) or empty.dtype != np.uint8 or empty.shape != (0, *one.shape[1:]):
        raise _fail(check, name, f"sample(0) must be a uint8 array of shape (0, H, W, C) = {(0, *one.shape[1:])}, "
                                 f"got {getattr(empty, 'dtype', type(empty).__name__)} {getattr(empty, 'shape', '')}")


def _uses_runtime(t: _Target) -> bool:
    return _is_trainable(t.family) and hasattr(t.family.model_class(), "training_session")


def check_resume_exact(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Train k steps with a checkpoint, resume to 2k: the same weights and history as 2k straight.

    Applies to trainable families that implement ``training_session`` (the runtime's
    checkpoints); others pass trivially. The run folder must then hold a ``run.json`` with the
    documented keys, and the History ``step`` plus one list per metric, all of length 2k.
    """
    import numpy as np

    check = "check_resume_exact"
    t = _target(check, name, overrides)
    if not _uses_runtime(t):
        return
    k = 2
    straight = _build(check, t)
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        try:
            full = straight.train(None, steps=2 * k, checkpoint_dir=Path(tmp) / "a", checkpoint_every=k)
            first = _build(check, t)

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
            resumed = _build(check, t)
            history = resumed.train(None, steps=2 * k, run_dir=Path(tmp) / "b", checkpoint_every=k, resume=True,
                                    evaluate=False)
        except ZooError as exc:
            raise _fail(check, name, f"train/resume raised {type(exc).__name__}: {exc}") from exc
        manifest_path = Path(tmp) / "b" / "run.json"
        if not manifest_path.is_file():
            raise _fail(check, name, "train(run_dir=...) wrote no run.json")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    missing = sorted(set(RUN_KEYS) - set(manifest))
    if missing:
        raise _fail(check, name, f"run.json lacks {missing}")
    if manifest["step"] != 2 * k or manifest["steps"] != 2 * k or manifest["world_size"] != 1:
        raise _fail(check, name, f"run.json says step {manifest['step']} of {manifest['steps']}, expected {2 * k}")
    if list(history.get("step", [])) != list(range(1, 2 * k + 1)):
        raise _fail(check, name, f"the resumed History must list steps 1..{2 * k}, got {history.get('step')}")
    for key, values in history.items():
        if len(values) != 2 * k:
            raise _fail(check, name, f"History[{key!r}] has {len(values)} values for {2 * k} steps")
    a, b = _state(check, name, straight), _state(check, name, resumed)
    differ = [key for key in a if not np.array_equal(a[key], b[key])]
    if differ:
        raise _fail(check, name, f"resuming from step {k} to {2 * k} does not give the weights of {2 * k} steps "
                                 f"straight ({', '.join(differ[:3])} differ); make each step's data and "
                                 "randomness a function of (seed, step) and put every state in session.state()")
    if any(full[key] != history[key] for key in full if key != "step"):
        raise _fail(check, name, "the resumed run's losses differ from the uninterrupted run's")


#: keys every run.json has
RUN_KEYS = ("family", "config", "step", "steps", "data", "seed", "device", "world_size", "versions", "started",
            "finished", "metrics")


@functools.lru_cache(maxsize=64)
def _listing_report(plugins: tuple[str, ...], path: tuple[str, ...]) -> dict:
    code = ("import json, sys\n"
            "import zoo_core\n"
            "before = set(sys.modules)\n"
            "zoo_core.list_models()\n"
            "from zoo_core.plugins import get_registry\n"
            "r = get_registry()\n"
            "print('ZOO-KIT ' + json.dumps({'new': sorted(set(sys.modules) - before), "
            "'families': sorted(r.families), 'models': sorted(r.models), "
            "'errors': {p.name: p.errors for p in r.plugins.values() if p.errors}}))\n")
    env = dict(os.environ)
    env["ZOO_PLUGINS"] = ",".join(plugins)
    env.pop("ZOO_STRICT_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join([p for p in path if p] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ZOO-KIT ")]
    if proc.returncode != 0 or not lines:
        return {"crash": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1][len("ZOO-KIT "):])


def check_list_no_framework(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Listing models in a fresh interpreter imports no deep-learning framework.

    Runs ``zoo_core.list_models()`` in a subprocess with ``ZOO_PLUGINS`` set to the family's
    plugin (so any import is that plugin's), and fails if torch, tensorflow, keras, jax, flax,
    the family's ``framework`` or one of its ``requires`` got imported. The plugin must be
    installed as a ``zoo.plugins`` entry point.
    """
    check = "check_list_no_framework"
    t = _target(check, name, overrides)
    plugins = {t.family.plugin}
    origin = t.entry.origin if t.entry is not None else ""
    if origin.startswith("plugin '") and origin.endswith("'"):
        plugins.add(origin[len("plugin '"):-1])
    missing = sorted(plugins - _entry_point_names())
    if missing:
        raise _fail(check, name, f"plugin {', '.join(missing)} is not installed as a 'zoo.plugins' entry point, "
                                 "so a fresh interpreter cannot list it")
    report = _listing_report(tuple(sorted(plugins)), tuple(sys.path))
    if "crash" in report:
        raise _fail(check, name, f"listing in a fresh interpreter failed: {report['crash']}")
    if report["errors"]:
        raise _fail(check, name, f"plugin errors in a fresh interpreter: {report['errors']}")
    if t.family.name not in report["families"] or (t.entry is not None and name not in report["models"]):
        raise _fail(check, name, f"not registered in a fresh interpreter with ZOO_PLUGINS={','.join(sorted(plugins))}")
    forbidden = (set(HEAVY_MODULES) | set(t.family.requires) | {t.family.framework}) - LIGHT_MODULES
    imported = sorted({m.split(".")[0] for m in report["new"]} & forbidden)
    if imported:
        raise _fail(check, name, f"zoo_core.list_models() imported {', '.join(imported)}; import the framework "
                                 "only in the module the family's factory names")


def _wrong_type(param: Any) -> Any:
    return {"int": "not-an-int", "float": "not-a-float", "bool": "not-a-bool", "str": 12345,
            "list": "not-a-list"}[param.type]


def _out_of_range(param: Any) -> list[Any]:
    values: list[Any] = []
    if param.type == "bool":
        return values
    if param.choices is not None:
        if param.type == "str":
            values.append("zoo-kit-not-a-choice")
        elif param.type in ("int", "float") and all(isinstance(c, (int, float)) for c in param.choices):
            values.append(type(param.default)(max(param.choices) + 1) if param.default is not None
                          else max(param.choices) + 1)
    scalar = param.type in ("int", "float", "list")
    if scalar and param.min is not None:
        low = int(param.min) - 1 if param.type != "float" else param.min - max(1.0, abs(param.min))
        values.append([low] if param.type == "list" else low)
    if scalar and param.max is not None:
        high = int(param.max) + 1 if param.type != "float" else param.max + max(1.0, abs(param.max))
        values.append([high] if param.type == "list" else high)
    return values


def _boundary_values(param: Any) -> list[Any]:
    if param.type == "bool":
        return [True, False]
    if param.choices is not None:
        return list(param.choices)
    values = []
    for bound in (param.min, param.max):
        if bound is not None and param.type in ("int", "float"):
            values.append(int(bound) if param.type == "int" else float(bound))
        elif bound is not None and param.type == "list" and isinstance(param.default, list):
            values.append([int(bound)] * len(param.default))
    return values


def check_bad_config(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Bad config values are refused with a one-line :class:`~zoo_core.errors.ConfigError` naming the key.

    ``zoo_core.build`` must refuse an unknown key, a value of the wrong type for every key, and
    values outside each key's ``min``/``max``/``choices``, each with a single-line ConfigError that
    names the key. Valid values at each key's bounds must give a config or a ConfigError from the
    family's cross-field ``check`` — never another exception.
    """
    import zoo_core

    check = "check_bad_config"
    t = _target(check, name, overrides)
    spec = t.family.config

    def expect_error(key: str, value: Any) -> None:
        try:
            model = zoo_core.build(name, **{**t.overrides, key: value})
        except ConfigError as exc:
            text = str(exc)
            if "\n" in text.strip() or key not in text:
                raise _fail(check, name, f"{key}={value!r}: the ConfigError must be one line naming "
                                         f"'{key}', got {text!r}") from exc
            return
        except Exception as exc:  # noqa: BLE001
            raise _fail(check, name, f"{key}={value!r} raised {type(exc).__name__} ({exc}), not ConfigError") from exc
        raise _fail(check, name, f"{key}={value!r} was accepted (built {type(model).__name__}); it should be "
                                 "refused with a ConfigError")

    expect_error("zoo_kit_no_such_key", 1)
    base = t.entry.config if t.entry is not None else {}
    for key, param in spec.params.items():
        expect_error(key, _wrong_type(param))
        for value in _out_of_range(param):
            expect_error(key, value)
        for value in _boundary_values(param):
            try:
                spec.resolve(base, t.overrides, {key: value})
            except ConfigError:
                pass
            except Exception as exc:  # noqa: BLE001
                raise _fail(check, name, f"{key}={value!r} (within bounds) made the config check raise "
                                         f"{type(exc).__name__} ({exc}); raise ConfigError instead") from exc


def check_catalog_weights(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """A catalog model's published local weights (``pkg://``, ``file://``) verify and are applied.

    ``zoo_core.load(name)`` must verify the file's sha256 and every tensor's name, shape and
    dtype, and the loaded model's ``state_dict()`` must then hold exactly the file's tensors (so
    ``load_state_dict`` really applied them). Only yielded for models whose weights are local;
    ``hf://`` weights are not downloaded by the kit. ``overrides`` are not applied (the published
    weights fit the catalog config). Sampling is left to the other checks, which is cheaper for
    models whose sampling is slow.
    """
    import numpy as np

    import zoo_core
    from zoo_core.sources import fetch_weights
    from zoo_core.weights import load_tensors

    check = "check_catalog_weights"
    t = _target(check, name, None)
    if t.entry is None or t.entry.weights is None:
        raise _fail(check, name, "not a catalog model with weights")
    try:
        model = zoo_core.load(name)
        published = load_tensors(fetch_weights(t.entry.weights))
    except Exception as exc:  # noqa: BLE001
        raise _fail(check, name, f"zoo_core.load raised {type(exc).__name__}: {exc}") from exc
    state = _state(check, name, model)
    for key, value in published.items():
        if key not in state or not np.array_equal(state[key], value):
            raise _fail(check, name, f"after zoo_core.load, weight '{key}' is not the published tensor; "
                                     "load_state_dict did not apply it")


#: every check, in the order the kit runs them
CHECKS: dict[str, Callable[..., None]] = {f.__name__: f for f in (
    check_registers, check_config_json, check_build, check_sample, check_sample_deterministic,
    check_sample_empty, check_save_load, check_train_step, check_resume_exact, check_list_no_framework,
    check_bad_config, check_catalog_weights)}


# ---------------------------------------------------------------------------------------------
# running the checks


def expand_names(name: str) -> list[str]:
    """The names the kit checks for ``name``.

    A plugin's entry-point name expands to the families and models that plugin registered (even
    when a family has the same name); a model or family name is kept; an unknown name is kept
    too (its ``check_registers`` fails with an explanation).
    """
    from zoo_core.plugins import get_registry

    registry = get_registry()
    info = registry.plugins.get(name)
    if info is not None and (info.families or info.models):
        return sorted(info.families) + sorted(info.models)
    return [name]


def checks_for(name: str) -> Iterator[tuple[str, Callable[..., None]]]:
    """``(check name, check function)`` for every check that applies to the model or family ``name``.

    ``check_catalog_weights`` applies only to catalog models with ``pkg://`` or ``file://``
    weights; a name that is not registered gets only ``check_registers`` (which explains why).
    """
    from zoo_core.plugins import get_registry

    registry = get_registry()
    if name not in registry.models and name not in registry.families:
        yield "check_registers", check_registers
        return
    entry = registry.models.get(name)
    for check_name, fn in CHECKS.items():
        if check_name == "check_catalog_weights" and (
                entry is None or entry.weights is None or entry.weights.source.startswith("hf://")):
            continue
        yield check_name, fn


def _per_name(value: Any, name: str) -> dict:
    if value is None:
        return {}
    if callable(value) and not isinstance(value, Mapping):
        return dict(value(name) or {})
    return dict(value)


def _validate_expected(expected: Mapping[str, str]) -> None:
    unknown = sorted(set(expected) - set(CHECKS))
    if unknown:
        raise ValueError(f"expected_failed_checks names unknown checks {unknown}; the checks are {sorted(CHECKS)}")
    for check_name, reason in expected.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"expected_failed_checks[{check_name!r}] must be a non-empty reason string")


def check_plugin(name: str, expected_failed_checks: ExpectedFailures = None, *,
                 overrides: Overrides = None, raise_on_failure: bool = True) -> list[CheckResult]:
    """Run every applicable check on a model, a family, or all that a plugin registered.

    :param name: a catalog model name, a family name, or a plugin's entry-point name.
    :param expected_failed_checks: ``{"check_name": "reason"}`` of checks known to fail, or a
        function ``f(name) -> dict`` for per-name declarations. Unknown check names are an error.
    :param overrides: config overrides for :func:`zoo_core.build` (a dict, or ``f(name) -> dict``),
        to check a small variant of a large model.
    :param raise_on_failure: ``False`` returns the results instead of raising.
    :returns: one :class:`CheckResult` per check and name.
    :raises CheckFailure: listing every unexpected failure, and every declared failure that
        passed (``xpass``: remove it from ``expected_failed_checks``).
    """
    results: list[CheckResult] = []
    for target in expand_names(name):
        expected = _per_name(expected_failed_checks, target)
        _validate_expected(expected)
        ov = _per_name(overrides, target)
        for check_name, fn in checks_for(target):
            try:
                fn(target, overrides=ov)
            except Exception as exc:  # noqa: BLE001 - a check may also fail by raising
                message = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
                status = "xfail" if check_name in expected else "failed"
                results.append(CheckResult(target, check_name, status, message))
            else:
                status = "xpass" if check_name in expected else "passed"
                note = f"expected to fail ({expected[check_name]}) but passed" if status == "xpass" else ""
                results.append(CheckResult(target, check_name, status, note))
    bad = [r for r in results if r.status in ("failed", "xpass")]
    if bad and raise_on_failure:
        lines = "\n".join(f"  {r.name} {r.check} [{r.status}]: {r.message}" for r in bad)
        raise CheckFailure(f"{len(bad)} of {len(results)} checks of {name!r} failed:\n{lines}")
    return results


def parametrize_with_checks(names: str | Iterable[str], *, expected_failed_checks: ExpectedFailures = None,
                            overrides: Overrides = None):
    """A ``pytest.mark.parametrize("name, check", ...)`` decorator: one test per name and check.

    Decorate ``def test_x(name, check): check(name)``. Each ``check`` is the check function with
    the name's ``overrides`` bound; ids read ``<name>-<check_name>``. Checks listed in
    ``expected_failed_checks`` (``{"check_name": "reason"}`` or ``f(name) -> dict``) are marked
    ``pytest.mark.xfail(reason=..., strict=True)``. Plugin entry-point names expand to their
    families and models, as in :func:`check_plugin`. Imports pytest (only this function does).
    """
    import pytest

    params = []
    for given in ([names] if isinstance(names, str) else list(names)):
        for target in expand_names(given):
            expected = _per_name(expected_failed_checks, target)
            _validate_expected(expected)
            ov = _per_name(overrides, target)
            for check_name, fn in checks_for(target):
                bound = functools.partial(fn, overrides=ov)
                functools.update_wrapper(bound, fn)
                marks = [pytest.mark.xfail(reason=expected[check_name], strict=True)] if check_name in expected else []
                params.append(pytest.param(target, bound, id=f"{target}-{check_name}", marks=marks))
    return pytest.mark.parametrize("name, check", params)


__all__ = ["CHECKS", "CheckFailure", "CheckResult", "check_bad_config", "check_build", "check_catalog_weights",
           "check_config_json", "check_list_no_framework", "check_plugin", "check_registers", "check_sample",
           "check_sample_deterministic", "check_save_load", "check_train_step", "checks_for", "expand_names",
           "parametrize_with_checks"]

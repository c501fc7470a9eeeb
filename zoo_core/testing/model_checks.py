"""Checks of the model contract: registration, config.json, build, sample, determinism, save/load."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo_core.contract import MIGRATION_DOC
from zoo_core.errors import ConfigError, ZooError
from zoo_core.testing.common import (
    build_model,
    config_of,
    declared_shape,
    fail,
    is_trainable,
    json_same,
    sample_of,
    scramble_global_rngs,
    state_of,
    target_of,
)


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
    t = target_of(check, name, overrides)
    fam = t.family
    info = get_registry().plugins.get(fam.plugin)
    if info is None:
        raise fail(check, name, f"family '{fam.name}' names plugin '{fam.plugin}', which zoo does not know")
    if info.errors:
        raise fail(check, name, f"plugin '{info.name}' reported errors: {'; '.join(info.errors)}")
    if not isinstance(fam.framework, str) or not fam.framework:
        raise fail(check, name, f"family '{fam.name}': framework must be a non-empty string")
    if not isinstance(fam.config, ConfigSpec):
        raise fail(check, name, f"family '{fam.name}': config must be a ConfigSpec, got {type(fam.config).__name__}")
    if fam.declared_trainable is not None and not isinstance(fam.declared_trainable, bool):
        raise fail(check, name, f"family '{fam.name}': trainable must be True or False")
    if not isinstance(fam.requires, tuple) or not all(isinstance(m, str) for m in fam.requires):
        raise fail(check, name, f"family '{fam.name}': requires must be a tuple of module names")
    try:
        cls = fam.model_class()
    except ZooError as exc:
        raise fail(check, name, str(exc)) from exc
    if not (isinstance(cls, type) and issubclass(cls, ZooModel)):
        raise fail(check, name, f"family '{fam.name}': factory {fam.factory!r} is not a ZooModel subclass")
    if fam.declared_trainable is not None and fam.declared_trainable != fam.trainable:
        raise fail(check, name, f"family '{fam.name}' declares trainable={fam.declared_trainable}, but {cls.__name__} "
                                f"{'defines no' if fam.declared_trainable else 'overrides'} training_session; "
                                f"trainability is that override alone ({MIGRATION_DOC})")
    if fam.latent and not issubclass(cls, LatentModel):
        raise fail(check, name, f"family '{fam.name}' declares latent=True but {cls.__name__} is not a LatentModel")
    try:
        config_of(t)
    except ZooError as exc:
        raise fail(check, name, f"config does not validate: {exc}") from exc
    if t.entry is not None and name not in {m.name for m in zoo_core.list_models()}:
        raise fail(check, name, "registered but not listed by zoo_core.list_models()")


def check_config_json(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """The resolved config survives JSON and ``--set key=value`` unchanged.

    ``json.dumps`` (without NaN or infinity) then ``json.loads`` then ``ConfigSpec.resolve`` must
    give back the same values of the same JSON types, and so must parsing each value as the
    command line's ``--set key=value`` text.
    """
    check = "check_config_json"
    t = target_of(check, name, overrides)
    spec = t.family.config
    config = config_of(t)
    try:
        text = json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise fail(check, name, f"config is not JSON-serialisable: {exc}") from exc
    again = spec.resolve(json.loads(text))
    if not json_same(again, config):
        raise fail(check, name, f"config changed through JSON: {config} -> {again}")
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
            raise fail(check, name, f"--set {key}={arg} (its own value) is refused: {exc}") from exc
        if not json_same(parsed, value):
            raise fail(check, name, f"--set {key}={arg} gives {parsed!r}, not {value!r}")


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
    t = target_of(check, name, overrides)
    model = build_model(check, t)
    if not isinstance(model, ZooModel):
        raise fail(check, name, f"build returned {type(model).__name__}, not a ZooModel")
    if model.family_name != t.family.name:
        raise fail(check, name, f"model.family is '{model.family_name}', expected '{t.family.name}'")
    config = config_of(t)
    try:
        json.dumps(model.config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise fail(check, name, f"model.config is not JSON-serialisable ({exc}); save() could not write it") from exc
    if not json_same(model.config, config):
        raise fail(check, name, f"model.config {model.config} differs from the resolved config {config}")
    state = state_of(check, name, model)
    for key, value in state.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise fail(check, name, f"fresh weight '{key}' holds NaN or infinity")
    scalars = int(sum(v.size for v in state.values()))
    if model.num_parameters != scalars:
        raise fail(check, name, f"model.num_parameters is {model.num_parameters}, but its state dict holds {scalars} "
                                 "scalars")
    if t.family.count_parameters is not None:
        counted = t.family.count_parameters(config)
        if counted != model.num_parameters:
            raise fail(check, name, f"count_parameters(config) = {counted}, but the built model has "
                                     f"{model.num_parameters} scalars in its state dict")
    if isinstance(model, LatentModel) and not (isinstance(model.latent_size, int) and model.latent_size > 0):
        raise fail(check, name, f"LatentModel.latent_size must be a positive int, got {model.latent_size!r}")


def check_sample(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``sample(n, seed)`` returns ``uint8`` images of shape ``(n, H, W, C)`` of the declared shape.

    ``C`` must be 1, 3 or 4 and ``(H, W, C)`` the same for every ``n``. The shape is *declared*
    by overriding :attr:`ZooModel.image_shape` (without sampling) or, failing that, by the config
    keys ``image_size``/``size``/``resolution``, ``height``, ``width`` and ``channels``; a family
    that declares neither is only checked for consistency.
    """
    import numpy as np

    check = "check_sample"
    t = target_of(check, name, overrides)
    model = build_model(check, t)
    shapes = []
    for n in (1, 3):
        images = sample_of(check, name, model, n, seed=0)
        if images.dtype != np.uint8:
            raise fail(check, name, f"sample() must return uint8 images, got {images.dtype}")
        if images.ndim != 4 or images.shape[0] != n:
            raise fail(check, name, f"sample({n}) must have shape ({n}, H, W, C), got {images.shape}")
        if images.shape[3] not in (1, 3, 4) or min(images.shape[1:3]) < 1:
            raise fail(check, name, f"sample() must be N x H x W x C with C in 1, 3, 4; got {images.shape}")
        shapes.append(tuple(images.shape[1:]))
    if shapes[0] != shapes[1]:
        raise fail(check, name, f"image shape depends on n: {shapes[0]} for n=1, {shapes[1]} for n=3")
    declared = declared_shape(model)
    if declared is not None:
        shape, where = declared
        if len(shape) != 3 or any(d is not None and d != s for d, s in zip(shape, shapes[0], strict=True)):
            raise fail(check, name, f"images are H x W x C = {shapes[0]}, but {where} declares {shape}")


def check_sample_deterministic(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Same seed, same bits; another seed, other images; images in a batch differ.

    The same model and a freshly built one must return bit-identical samples for one seed even
    when the global RNGs (``random``, ``numpy.random``, torch, tensorflow) are reseeded in
    between; a different seed must change the samples; the images of one batch must not all be
    identical.
    """
    import numpy as np

    check = "check_sample_deterministic"
    t = target_of(check, name, overrides)
    model = build_model(check, t)
    scramble_global_rngs(1)
    first = sample_of(check, name, model, 4, seed=0)
    scramble_global_rngs(2)
    again = sample_of(check, name, model, 4, seed=0)
    if not np.array_equal(first, again):
        raise fail(check, name, "sample(4, seed=0) twice gave different images; derive all randomness "
                                 "from the seed, not from global RNG state")
    scramble_global_rngs(3)
    fresh = sample_of(check, name, build_model(check, t), 4, seed=0)
    if not np.array_equal(first, fresh):
        raise fail(check, name, "two fresh builds gave different samples for seed 0; seed the initial "
                                 "weights from the config")
    other = sample_of(check, name, model, 4, seed=1)
    if np.array_equal(first, other):
        raise fail(check, name, "seed=0 and seed=1 gave identical samples; the seed is ignored")
    if all(np.array_equal(first[0], img) for img in first[1:]):
        raise fail(check, name, "all 4 images of one batch are identical")


def check_sample_empty(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``sample(0)`` returns an empty ``uint8`` array of shape ``(0, H, W, C)``, the shape of ``sample(1)``."""
    import numpy as np

    check = "check_sample_empty"
    t = target_of(check, name, overrides)
    model = build_model(check, t)
    empty = sample_of(check, name, model, 0, seed=0)
    one = sample_of(check, name, model, 1, seed=0)
    if not isinstance(empty, np.ndarray) or empty.dtype != np.uint8 or empty.shape != (0, *one.shape[1:]):
        raise fail(check, name, f"sample(0) must be a uint8 array of shape (0, H, W, C) = {(0, *one.shape[1:])}, "
                                 f"got {getattr(empty, 'dtype', type(empty).__name__)} {getattr(empty, 'shape', '')}")


def check_save_load(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``model.save(dir)`` then ``zoo_core.load(dir)`` gives the same weights and the same samples.

    A trainable model is first trained for one step (when that works), so that a
    ``load_state_dict`` that silently keeps the fresh weights is caught. The folder must hold
    ``config.json`` and ``model.safetensors`` whose sha256 the config records.
    """
    import numpy as np

    import zoo_core
    from zoo_core.io.files import CONFIG_FILE, WEIGHTS_FILE
    from zoo_core.io.weights import sha256_file

    check = "check_save_load"
    t = target_of(check, name, overrides)
    model = build_model(check, t)
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        if is_trainable(t.family):
            try:
                model.train(None, steps=1, checkpoint_dir=Path(tmp) / "checkpoint", resume=False)
            except Exception:  # noqa: BLE001 - check_train_step reports training errors
                model = build_model(check, t)
        before = state_of(check, name, model)
        images = sample_of(check, name, model, 4, seed=3)
        folder = Path(tmp) / "saved"
        try:
            model.save(folder)
        except Exception as exc:
            raise fail(check, name, f"save() raised {type(exc).__name__}: {exc}") from exc
        for required in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / required).is_file():
                raise fail(check, name, f"save() wrote no {required}")
        meta = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        if meta.get("weights_sha256") != sha256_file(folder / WEIGHTS_FILE):
            raise fail(check, name, f"{CONFIG_FILE} records a sha256 that is not that of {WEIGHTS_FILE}")
        try:
            loaded = zoo_core.load(folder)
        except Exception as exc:
            raise fail(check, name, f"zoo_core.load(saved folder) raised {type(exc).__name__}: {exc}") from exc
        after = state_of(check, name, loaded)
        for key in before:
            if key not in after or not np.array_equal(before[key], after[key]):
                raise fail(check, name, f"weight '{key}' differs after save and load")
        if not np.array_equal(images, sample_of(check, name, loaded, 4, seed=3)):
            raise fail(check, name, "the loaded model samples different images than the saved one")


def check_sample_prefix(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """``sample(m, seed)`` is the first ``m`` images of ``sample(n, seed)``: an image never depends on the batch.

    So ``zoo sample NAME -n 4`` and ``-n 16`` agree on the first four pictures, and a gallery can be
    grown without redrawing it. Checked for m = 1, 2 and n = 5.
    """
    import numpy as np

    check = "check_sample_prefix"
    t = target_of(check, name, overrides)
    model = build_model(check, t)
    full = sample_of(check, name, model, 5, seed=7)
    for m in (1, 2):
        part = sample_of(check, name, model, m, seed=7)
        if part.shape != full[:m].shape or not np.array_equal(part, full[:m]):
            raise fail(check, name, f"sample({m}, seed=7) is not sample(5, seed=7)[:{m}]; draw each image's "
                                     "randomness so that it does not depend on the batch size (e.g. draw for the "
                                     "largest batch in order, or one generator per image)")


def _global_rng_states() -> dict:
    """The global RNGs a model must not touch: python's ``random``, ``numpy.random``, torch's (CPU)."""
    import random
    import sys

    import numpy as np

    states = {"random": random.getstate(), "numpy.random": np.random.get_state()}
    if "torch" in sys.modules:
        states["torch"] = sys.modules["torch"].get_rng_state().numpy().tobytes()
    return states


def _same_state(a: Any, b: Any) -> bool:
    import numpy as np

    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def check_global_rng(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Building a model and sampling leave the global RNGs as they were.

    ``zoo_core.build`` and ``sample(n, seed)`` must not reseed or draw from python's ``random``,
    ``numpy.random`` or torch's global generator (a user's own random stream would change under
    them): use ``numpy.random.default_rng(seed)`` or a ``torch.Generator`` of your own.
    """
    check = "check_global_rng"
    t = target_of(check, name, overrides)
    build_model(check, t)  # the first build may import the framework (which may seed its RNG once)
    scramble_global_rngs(12345)
    before = _global_rng_states()
    model = build_model(check, t)
    after_build = _global_rng_states()
    sample_of(check, name, model, 3, seed=5)
    after_sample = _global_rng_states()
    for what, after in (("zoo_core.build", after_build), ("sample(3, seed=5)", after_sample)):
        moved = sorted(k for k in before if k in after and not _same_state(before[k], after[k]))
        if moved:
            raise fail(check, name, f"{what} changed the global RNG state of {', '.join(moved)}; seed a generator of "
                                     "your own (numpy.random.default_rng(seed), torch.Generator().manual_seed(seed))")
        before = after

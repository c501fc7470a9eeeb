"""What every check of the kit shares: the failure type, the target a name resolves to, small helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from zoo_core.errors import ZooError

#: modules that no listing may import (plus each family's ``requires`` and ``framework``)
HEAVY_MODULES = ("torch", "tensorflow", "keras", "jax", "flax")


#: light modules a family may import while zoo lists models (zoo_core itself depends on them)
LIGHT_MODULES = frozenset({"numpy", "zoo_core", "pluggy", "click", "safetensors"})


Overrides = Mapping[str, Any] | Callable[[str], Mapping[str, Any]] | None


ExpectedFailures = Mapping[str, str] | Callable[[str], Mapping[str, str]] | None


class CheckFailure(AssertionError):
    """A plugin does not meet one requirement of the zoo model contract."""


class CheckSkipped(Exception):
    """A check does not apply to this name (its message says why); reported ``skipped``, never ``passed``."""


def skip(check: str, name: str, reason: str) -> CheckSkipped:
    return CheckSkipped(f"{check}({name!r}) does not apply: {reason}")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one name, as returned by :func:`check_plugin`.

    ``status`` is ``"passed"``, ``"failed"``, ``"skipped"`` (the check does not apply; the message
    says why), ``"xfail"`` (failed as declared in ``expected_failed_checks``) or ``"xpass"``
    (declared to fail, but passed).
    """

    name: str
    check: str
    status: str
    message: str = ""


@dataclass(frozen=True)
class Target:
    name: str
    family: Any  # zoo_core.families.Family
    entry: Any  # zoo_core.catalog.ModelEntry | None
    overrides: dict


def fail(check: str, name: str, problem: str) -> CheckFailure:
    return CheckFailure(f"{check}({name!r}): {problem}")


def target_of(check: str, name: str, overrides: Mapping[str, Any] | None) -> Target:
    from zoo_core.plugins import get_registry
    from zoo_core.resolver import resolve

    try:
        target = resolve(name)
    except ZooError as exc:
        registry = get_registry()
        broken = [f"{p.name}: {'; '.join(p.errors)}" for p in registry.plugins.values() if p.errors]
        hint = f" (broken plugins: {' | '.join(broken)})" if broken else ""
        raise fail(check, name, f"neither a model nor a family of any loaded plugin ({exc}){hint}") from None
    if target.kind not in ("catalog", "family"):
        raise fail(check, name, f"the kit checks catalog models and families, not a {target.kind} ('{name}')")
    return Target(name, target.family, target.entry, dict(overrides or {}))


def config_of(t: Target) -> dict:
    """The resolved config the kit builds ``t`` with (catalog config, then overrides)."""
    if t.entry is not None:
        return t.family.config.resolve(t.entry.config, t.overrides)
    return t.family.config.resolve(t.overrides)


def build_model(check: str, t: Target):
    import zoo_core

    try:
        return zoo_core.build(t.name, **t.overrides)
    except Exception as exc:  # any build error fails the check, with its cause
        raise fail(check, t.name, f"zoo_core.build raised {type(exc).__name__}: {exc}") from exc


def json_same(a: Any, b: Any) -> bool:
    """Equal as JSON text: ``1`` and ``1.0`` and ``True`` differ, list order matters."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def state_of(check: str, name: str, model: Any) -> dict:
    import numpy as np

    try:
        state = model.state_dict()
    except Exception as exc:
        raise fail(check, name, f"state_dict() raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, Mapping):
        raise fail(check, name, f"state_dict() must return a dict, got {type(state).__name__}")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise fail(check, name, f"state_dict() must map str -> numpy.ndarray, got {key!r}: "
                                     f"{type(value).__module__}.{type(value).__name__}")
        out[key] = np.array(value, copy=True)
    return out


def sample_of(check: str, name: str, model: Any, n: int, seed: int):
    import numpy as np

    try:
        images = model.sample(n, seed=seed)
    except Exception as exc:
        raise fail(check, name, f"sample({n}, seed={seed}) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(images, np.ndarray):
        raise fail(check, name, f"sample() must return a numpy.ndarray, got "
                                 f"{type(images).__module__}.{type(images).__name__}")
    return images


def scramble_global_rngs(value: int) -> None:
    """Reseed the global RNGs, so that a model that uses them instead of ``seed`` is caught."""
    import random

    import numpy as np

    random.seed(value)
    np.random.seed(value)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(value)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(value)


def declared_shape(model: Any) -> tuple[tuple, str] | None:
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


def entry_point_names() -> set[str]:
    from zoo_core.plugins import ENTRY_POINT_GROUP

    return {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def is_trainable(family: Any) -> bool:
    """Derived from the model class (``training_session``, or contract 1's own ``train()``)."""
    return bool(family.trainable)


def uses_runtime(family: Any) -> bool:
    """The model class implements ``training_session`` (the runtime trains it)."""
    from zoo_core.contract import trains_by_session

    return trains_by_session(family.model_class())


def require_runtime(check: str, name: str, family: Any) -> None:
    """Skip a family that does not learn its weights; fail a contract-1 family (its own ``train()``)."""
    from zoo_core.contract import MIGRATION_DOC

    if not is_trainable(family):
        raise skip(check, name, f"family '{family.name}' does not learn its weights (no training_session)")
    if not uses_runtime(family):
        raise fail(check, name, f"family '{family.name}' trains by its own train() (plugin contract 1): no "
                                f"checkpoints, resume or --workers; implement training_session ({MIGRATION_DOC})")


def cli(args: list[str], timeout: float = 600, env: Mapping[str, str] | None = None) -> Any:
    """Run ``python -m zoo_cli ARGS`` in a subprocess that sees this interpreter's ``sys.path``."""
    import os
    import subprocess

    full = dict(os.environ)
    full.update(env or {})
    full.setdefault("OMP_NUM_THREADS", "1")
    given = (env or {}).get("PYTHONPATH", "")  # ahead of sys.path (e.g. a probe's sitecustomize)
    full["PYTHONPATH"] = os.pathsep.join([given] * bool(given) + [p for p in sys.path if p])
    return subprocess.run([sys.executable, "-m", "zoo_cli", *args], capture_output=True, text=True, env=full,
                          timeout=timeout)


def set_args(overrides: Mapping[str, Any]) -> list[str]:
    """``--set key=value`` arguments for ``overrides`` (values as JSON, which ``--set`` parses)."""
    out: list[str] = []
    for key, value in overrides.items():
        text = "none" if value is None else json.dumps(value) if not isinstance(value, str) else value
        out += ["--set", f"{key}={text}"]
    return out


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"

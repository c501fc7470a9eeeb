"""Checks at the boundary: bad config values, listing without a framework, shipped catalog weights."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from zoo_core.errors import ConfigError
from zoo_core.testing.common import HEAVY_MODULES, LIGHT_MODULES, entry_point_names, fail, state_of, target_of


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
    values: list[Any] = []
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
    t = target_of(check, name, overrides)
    spec = t.family.config

    def expect_error(key: str, value: Any) -> None:
        try:
            model = zoo_core.build(name, **{**t.overrides, key: value})
        except ConfigError as exc:
            text = str(exc)
            if "\n" in text.strip() or key not in text:
                raise fail(check, name, f"{key}={value!r}: the ConfigError must be one line naming "
                                         f"'{key}', got {text!r}") from exc
            return
        except Exception as exc:
            raise fail(check, name, f"{key}={value!r} raised {type(exc).__name__} ({exc}), not ConfigError") from exc
        raise fail(check, name, f"{key}={value!r} was accepted (built {type(model).__name__}); it should be "
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
            except Exception as exc:
                raise fail(check, name, f"{key}={value!r} (within bounds) made the config check raise "
                                         f"{type(exc).__name__} ({exc}); raise ConfigError instead") from exc


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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300 * _slowness())
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
    t = target_of(check, name, overrides)
    plugins = {t.family.plugin}
    origin = t.entry.origin if t.entry is not None else ""
    if origin.startswith("plugin '") and origin.endswith("'"):
        plugins.add(origin[len("plugin '"):-1])
    missing = sorted(plugins - entry_point_names())
    if missing:
        raise fail(check, name, f"plugin {', '.join(missing)} is not installed as a 'zoo.plugins' entry point, "
                                 "so a fresh interpreter cannot list it")
    report = _listing_report(tuple(sorted(plugins)), tuple(sys.path))
    if "crash" in report:
        raise fail(check, name, f"listing in a fresh interpreter failed: {report['crash']}")
    if report["errors"]:
        raise fail(check, name, f"plugin errors in a fresh interpreter: {report['errors']}")
    if t.family.name not in report["families"] or (t.entry is not None and name not in report["models"]):
        raise fail(check, name, f"not registered in a fresh interpreter with ZOO_PLUGINS={','.join(sorted(plugins))}")
    forbidden = (set(HEAVY_MODULES) | set(t.family.requires) | {t.family.framework}) - LIGHT_MODULES
    imported = sorted({m.split(".")[0] for m in report["new"]} & forbidden)
    if imported:
        raise fail(check, name, f"zoo_core.list_models() imported {', '.join(imported)}; import the framework "
                                 "only in the module the family's factory names")


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
    from zoo_core.hub.sources import fetch_weights
    from zoo_core.io.weights import load_tensors

    check = "check_catalog_weights"
    t = target_of(check, name, None)
    if t.entry is None or t.entry.weights is None:
        raise fail(check, name, "not a catalog model with weights")
    try:
        model = zoo_core.load(name)
        published = load_tensors(fetch_weights(t.entry.weights))
    except Exception as exc:
        raise fail(check, name, f"zoo_core.load raised {type(exc).__name__}: {exc}") from exc
    state = state_of(check, name, model)
    for key, value in published.items():
        if key not in state or not np.array_equal(state[key], value):
            raise fail(check, name, f"after zoo_core.load, weight '{key}' is not the published tensor; "
                                     "load_state_dict did not apply it")


#: keys the runtime itself reads (``zoo train``'s default step count), not the family's algorithm
RUNTIME_KEYS = ("steps",)


def other_value(param: Any, value: Any) -> Any:
    """A valid value of ``param`` other than ``value`` (``None`` when the kit cannot choose one)."""
    if param.type == "bool":
        return not value
    if param.choices is not None:
        return next((c for c in param.choices if c != value), None)
    if param.type == "int" and isinstance(value, int):
        up = value + 1 if param.max is None or value + 1 <= param.max else value - 1
        return up if param.min is None or up >= param.min else None
    if param.type == "float" and isinstance(value, (int, float)):
        for new in (value * 0.5, value + 0.5 * ((param.max if param.max is not None else value + 1.0) - value)):
            if new != value and (param.min is None or new >= param.min) and (param.max is None or new <= param.max):
                return float(new)
    return None


def _fingerprint(check: str, name: str, t: Any, config: dict) -> tuple[dict, Any]:
    import zoo_core
    from zoo_core.testing.common import sample_of

    try:
        model = zoo_core.build(t.family.name, **config)
    except ConfigError:
        return {}, None
    return state_of(check, name, model), sample_of(check, name, model, 2, seed=0)


def _differ(a: tuple[dict, Any], b: tuple[dict, Any], images: bool = True) -> bool:
    """Whether two fingerprints differ in their weights (names, shapes, values) or, with ``images``, samples."""
    import numpy as np

    (sa, ia), (sb, ib) = a, b
    if set(sa) != set(sb) or any(sa[k].shape != sb[k].shape or not np.array_equal(sa[k], sb[k]) for k in sa):
        return True
    return images and (ia is None or ib is None or ia.shape != ib.shape or not np.array_equal(ia, ib))


def _trained(check: str, name: str, t: Any, config: dict) -> dict:
    import tempfile
    from pathlib import Path

    import zoo_core

    model = zoo_core.build(t.family.name, **config)
    with tempfile.TemporaryDirectory(prefix="zoo-kit-") as tmp:
        model.train(None, steps=2, checkpoint_dir=Path(tmp) / "c")
    return state_of(check, name, model)


def check_config_keys(name: str, *, overrides: Mapping[str, Any] | None = None) -> None:
    """Every config key changes something, and resume-safe keys are not architecture keys.

    For each key the kit builds the model with another valid value: an *architecture* key
    changes the fresh parameters or the samples; any other key must change the weights after
    two training steps (a training key) — a key that changes nothing is dead or ignored. A key
    listed in ``Family.resume_safe`` must not change the fresh weights (a resume would load
    weights of another shape or meaning); a sampling-only key may. ``steps`` (read by the runtime)
    and keys for which the kit finds
    no other valid value are not checked.
    """
    from zoo_core.testing.common import config_of, is_trainable

    check = "check_config_keys"
    t = target_of(check, name, overrides)
    base = config_of(t)
    reference = _fingerprint(check, name, t, base)
    trainable = is_trainable(t.family)
    trained: dict | None = None
    for key, param in t.family.config.params.items():
        if key in RUNTIME_KEYS:
            continue
        value = other_value(param, base.get(key))
        if value is None:
            continue
        changed = {**base, key: value}
        try:
            t.family.config.resolve(changed)
        except ConfigError:
            continue  # the family's cross-field check refuses this combination
        other = _fingerprint(check, name, t, changed)
        architecture = _differ(reference, other)
        if key in t.family.resume_safe and _differ((reference[0], None), (other[0], None), images=False):
            raise fail(check, name, f"resume_safe lists '{key}', but {key}={value!r} changes the fresh weights: an "
                                     "architecture key cannot change on a resume (a sampling-only key may)")
        if architecture:
            continue
        if trainable:
            import numpy as np

            trained = trained if trained is not None else _trained(check, name, t, base)
            retrained = _trained(check, name, t, changed)
            if set(retrained) != set(trained) or any(not np.array_equal(retrained[k], trained[k]) for k in trained):
                continue
        raise fail(check, name, f"config key '{key}' changes nothing: {key}={value!r} gives the same weights and "
                                 f"samples{' and the same two training steps' if trainable else ''} as "
                                 f"{key}={base.get(key)!r}; use it or remove it")


def _slowness() -> float:
    """The test harness's measured slowness factor (``ZOO_TEST_SLOWNESS``, set by zoo's own test
    suite; 1 elsewhere), so that a subprocess limit holds on a slow or busy machine."""
    import os

    try:
        return max(float(os.environ.get("ZOO_TEST_SLOWNESS") or 1), 1.0)
    except ValueError:
        return 1.0

"""Typed config specs: defaults, parsing of ``--set key=value`` strings, and validation.

A family declares its config as a :class:`ConfigSpec` of :class:`Param` objects. Validation
needs no deep-learning framework, so ``zoo info`` and ``--set`` errors stay fast.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zoo_core.errors import ConfigError

#: the largest seed zoo accepts anywhere (``--seed``, every family's ``seed`` key): an unsigned
#: 32-bit integer, which numpy (legacy and Generator), torch, TensorFlow and Keras all take as it is
MAX_SEED = 2**32 - 1
#: the most training steps a run may have (``--steps``, ``--set steps``, ``run.json``)
MAX_STEPS = 10_000_000
#: a run's total steps when neither the caller nor the config names it
DEFAULT_STEPS = 1000
#: the most items a ``list`` param may hold (per-layer sizes: far more than any model here uses)
MAX_LIST = 64
_TYPES: dict[str, type[Any]] = {"int": int, "float": float, "bool": bool, "str": str, "list": list}


@dataclass(frozen=True)
class Param:
    """One config key.

    :param default: the value used when the key is not given.
    :param type: one of ``"int"``, ``"float"``, ``"bool"``, ``"str"``, ``"list"`` (a list of ints).
    :param help: one line shown by ``zoo info``.
    :param choices: allowed values, if the set is closed.
    :param min: inclusive lower bound for numbers (for lists: for each item).
    :param max: inclusive upper bound for numbers (for lists: for each item). Built-in families
        give every numeric key both bounds, chosen so that the machine can run the extremes.
    :param nullable: whether ``None`` is allowed.
    """

    default: Any
    type: str
    help: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"Param type must be one of {sorted(_TYPES)}, not {self.type!r}")

    def parse(self, key: str, text: str) -> Any:
        """Turn a command-line string into a value of this param's type (then validate it)."""
        text = text.strip()
        if self.nullable and text.lower() in ("none", "null"):
            return None
        try:
            if self.type == "bool":
                low = text.lower()
                if low in ("1", "true", "yes", "on"):
                    value: Any = True
                elif low in ("0", "false", "no", "off"):
                    value = False
                else:
                    raise ValueError(text)
            elif self.type == "int":
                value = int(text)
            elif self.type == "float":
                value = float(text)
            elif self.type == "list":
                value = json.loads(text) if text.startswith("[") else [int(t) for t in text.split(",") if t]
            else:
                value = text
        except (ValueError, RecursionError):
            raise ConfigError(f"config key '{key}': cannot read {_short(text)} as {self.type}") from None
        return self.check(key, value)

    def check(self, key: str, value: Any) -> Any:
        """Validate (and lightly normalise) a value; raise :class:`ConfigError` naming the key."""
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"config key '{key}' may not be null")
        kind = _TYPES[self.type]
        if self.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type == "list" and isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
            raise ConfigError(f"config key '{key}': expected {self.type}, got {type(value).__name__} {_short(value)}")
        if self.type == "float" and not math.isfinite(value):
            raise ConfigError(f"config key '{key}': {value!r} is not a finite number")
        if self.type == "list" and len(value) > MAX_LIST:
            raise ConfigError(f"config key '{key}': a list of {len(value)} items is longer than {MAX_LIST}")
        items = value if self.type == "list" else [value]
        for item in items:
            if self.type == "list" and (not isinstance(item, int) or isinstance(item, bool)):
                raise ConfigError(f"config key '{key}': expected a list of ints, got {_short(value)}")
            if self.min is not None and item < self.min:
                raise ConfigError(f"config key '{key}': {item!r} is below the minimum {self.min}")
            if self.max is not None and item > self.max:
                raise ConfigError(f"config key '{key}': {item!r} is above the maximum {self.max}")
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ConfigError(f"config key '{key}': {value!r} is not one of {allowed}")
        return value


def _short(value: Any) -> str:
    """``repr(value)`` cut to 80 characters, for one-line messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class ConfigSpec:
    """The config of a family: named params plus an optional cross-field check.

    :param params: key -> :class:`Param`.
    :param check: optional ``check(config) -> None`` that raises :class:`ConfigError` for
        combinations that are invalid although each value is fine on its own.
    """

    params: Mapping[str, Param] = field(default_factory=dict)
    check: Callable[[dict], None] | None = None

    def defaults(self) -> dict:
        """A fresh dict of every key's default value."""
        return {k: (list(p.default) if isinstance(p.default, list) else p.default) for k, p in self.params.items()}

    def resolve(self, *layers: Mapping[str, Any] | None) -> dict:
        """Merge defaults with each layer of overrides (later wins) and validate the result."""
        config = self.defaults()
        for layer in layers:
            for key, value in (layer or {}).items():
                config[key] = self._param(key).check(key, value)
        if self.check is not None:
            self.check(config)
        return config

    def parse_overrides(self, pairs: Iterable[str]) -> dict:
        """Parse ``key=value`` strings (as given to ``--set``) into typed values."""
        out: dict[str, Any] = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"--set expects key=value, got {pair!r}")
            out[key] = self._param(key).parse(key, text)
        return out

    def _param(self, key: str) -> Param:
        try:
            return self.params[key]
        except KeyError:
            from zoo_core.util.suggest import did_you_mean

            raise ConfigError(f"unknown config key '{key}'{did_you_mean(key, self.params)} "
                              f"(valid keys: {', '.join(self.params)})") from None

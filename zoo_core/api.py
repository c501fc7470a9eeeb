"""The public Python API: list, build and load models, whatever their framework."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.catalog import ModelEntry, natural_key
from zoo_core.errors import UnknownFamilyError, UnknownModelError, WeightsError
from zoo_core.families import Family
from zoo_core.plugins import PluginInfo, get_registry
from zoo_core.suggest import did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.model import ZooModel

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# zoo_core.model imports numpy; it is imported inside functions so that listing stays light.


def list_models(pattern: str | None = None) -> list[ModelEntry]:
    """Catalog entries whose family is loaded, filtered by an fnmatch ``pattern``, naturally sorted."""
    models = get_registry().models.values()
    chosen = [m for m in models if pattern is None or fnmatch.fnmatchcase(m.name, pattern)]
    return sorted(chosen, key=lambda m: natural_key(m.name))


def list_families() -> list[Family]:
    """Every registered family, sorted by name."""
    return sorted(get_registry().families.values(), key=lambda f: f.name)


def list_plugins() -> list[PluginInfo]:
    """What each discovered plugin provides, and its error if it failed."""
    return sorted(get_registry().plugins.values(), key=lambda p: p.name)


def get_entry(name: str) -> ModelEntry:
    """The catalog entry called ``name``; unknown names suggest the closest one."""
    registry = get_registry()
    try:
        return registry.models[name]
    except KeyError:
        raise UnknownModelError(f"unknown model '{name}'{did_you_mean(name, registry.models)}") from None


def get_family(name: str) -> Family:
    """The family called ``name``."""
    registry = get_registry()
    try:
        return registry.families[name]
    except KeyError:
        known = ", ".join(sorted(registry.families)) or "none loaded"
        raise UnknownFamilyError(
            f"unknown family '{name}'{did_you_mean(name, registry.families)} (families: {known})") from None


def entry_config(entry: ModelEntry, **overrides: Any) -> dict:
    """The full, validated config of a catalog entry with optional overrides."""
    return get_family(entry.family).config.resolve(entry.config, overrides)


def build(name: str, **overrides: Any) -> ZooModel:
    """A model with fresh (seeded) weights, from a catalog name or a family name.

    ``overrides`` replace config values; they are validated like ``--set``.
    """
    registry = get_registry()
    if name in registry.models:
        entry = registry.models[name]
        model = _instantiate(get_family(entry.family), entry_config(entry, **overrides))
        model.name = entry.name
        return model
    if name in registry.families:
        family = registry.families[name]
        model = _instantiate(family, family.config.resolve(overrides))
        model.name = family.name
        return model
    pool = list(registry.models) + list(registry.families)
    raise UnknownModelError(f"unknown model '{name}'{did_you_mean(name, pool)}")


def load(ref: str | Path, **overrides: Any) -> ZooModel:
    """A model with its weights, from a catalog name, a directory saved by zoo, or ``hf://org/repo[@rev]``.

    A family name gives a freshly built model of that family (as :func:`build`).

    Weights are checked against their sha256 (from the catalog, or ``config.json`` of a saved
    directory) and every tensor's name, shape and dtype.
    """
    text = str(ref)
    if text.startswith("hf://"):
        from zoo_core.hub import snapshot  # imported here: huggingface_hub is slow to import

        return load_directory(snapshot(text), **overrides)
    path = Path(text)
    if path.is_dir():
        return load_directory(path, **overrides)
    if ("/" in text or text.startswith(".")) and text not in get_registry().models:
        raise WeightsError(f"no saved zoo model at '{text}' (expected a directory with config.json)")
    registry = get_registry()
    if text not in registry.models and text in registry.families:
        return build(text, **overrides)  # a family: fresh weights (seed-determined where the family is)
    entry = get_entry(text)
    model = build(text, **overrides)
    if entry.weights is not None:
        from zoo_core.sources import fetch_weights

        model.load_weights(fetch_weights(entry.weights))
    return model


def load_directory(directory: str | Path, **overrides: Any) -> ZooModel:
    """Load a directory written by :meth:`ZooModel.save` (or a Hub snapshot of one)."""
    from zoo_core.model import WEIGHTS_FILE, read_saved_config
    from zoo_core.weights import verify_sha256

    directory = Path(directory)
    meta = read_saved_config(directory)
    family = get_family(meta["family"])
    model = _instantiate(family, family.config.resolve(meta["config"], overrides))
    model.name = str(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise WeightsError(f"{directory} has no {WEIGHTS_FILE}")
    sha = meta.get("weights_sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        shown = repr(sha) if len(repr(sha)) <= 80 else repr(sha)[:80] + "..."
        raise WeightsError(f"{directory / 'config.json'}: weights_sha256 must be 64 lowercase hex characters, "
                           f"not {shown}; refusing weights that cannot be checked")
    verify_sha256(weights, sha)
    model.load_weights(weights)
    return model


def _instantiate(family: Family, config: dict) -> ZooModel:
    cls = family.model_class()
    return cls(config, family)

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


def list_models(pattern: str | None = None, *, hub: bool = False, limit: int | None = None) -> list:
    """Catalog entries whose family is loaded, filtered by an fnmatch ``pattern``, naturally sorted.

    With ``hub=True``: the models on the Hugging Face Hub (``HF_ENDPOINT``) whose card says
    ``library_name: zoo``, as :class:`zoo_core.hub.HubModel` (family, downloads, last change),
    most downloaded first, at most ``limit``; offline raises :class:`zoo_core.hub.HubOfflineError`.
    """
    if hub:
        from zoo_core.hub.discovery import list_hub_models  # imported here: huggingface_hub is slow to import

        return list_hub_models(pattern, limit=limit)
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


def build(name: str, *, device: str | None = None, **overrides: Any) -> ZooModel:
    """A model with fresh (seeded) weights, from a catalog name or a family name.

    ``overrides`` replace config values; they are validated like ``--set``. ``device``:
    ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (default cpu; see :mod:`zoo_core.devices`).
    """
    registry = get_registry()
    if name in registry.models:
        entry = registry.models[name]
        model = _instantiate(get_family(entry.family), entry_config(entry, **overrides), device)
        model.name = entry.name
        return model
    if name in registry.families:
        family = registry.families[name]
        model = _instantiate(family, family.config.resolve(overrides), device)
        model.name = family.name
        return model
    pool = list(registry.models) + list(registry.families)
    raise UnknownModelError(f"unknown model '{name}'{did_you_mean(name, pool)}")


def load(ref: str | Path, *, device: str | None = None, **overrides: Any) -> ZooModel:
    """A model with its weights, from a catalog name, a directory saved by zoo, or ``hf://org/repo[@rev]``.

    A family name gives a freshly built model of that family (as :func:`build`).

    Weights are checked against their sha256 (from the catalog, or ``config.json`` of a saved
    directory) and every tensor's name, shape and dtype. ``device`` as in :func:`build`.
    """
    text = str(ref)
    if text.startswith("hf://"):
        from zoo_core.hub.download import snapshot  # imported here: huggingface_hub is slow to import

        return load_directory(snapshot(text), device=device, **overrides)
    path = Path(text)
    if path.is_dir():
        return load_directory(path, device=device, **overrides)
    if ("/" in text or text.startswith(".")) and text not in get_registry().models:
        raise WeightsError(f"no saved zoo model at '{text}' (expected a directory with config.json)")
    registry = get_registry()
    if text not in registry.models and text in registry.families:
        return build(text, device=device, **overrides)  # a family: fresh weights (seed-determined)
    entry = get_entry(text)
    model = build(text, **overrides)
    if entry.weights is not None:
        from zoo_core.sources import fetch_weights

        model.load_weights(fetch_weights(entry.weights))
    return _place(model, device)


def load_directory(directory: str | Path, *, device: str | None = None, **overrides: Any) -> ZooModel:
    """Load a directory written by :meth:`ZooModel.save` (or a Hub snapshot of one)."""
    from zoo_core.files import WEIGHTS_FILE, read_saved_config
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
    return _place(model, device)


def _instantiate(family: Family, config: dict, device: str | None = None) -> ZooModel:
    if device is not None:
        from zoo_core.devices import check_device_text

        check_device_text(device)  # a typo fails before the framework is imported
    cls = family.model_class()
    return _place(cls(config, family), device)


def _place(model: ZooModel, device: str | None) -> ZooModel:
    """Move a model to ``device`` (resolved for its framework); None leaves it on the CPU."""
    if device is None:
        return model
    from zoo_core.devices import resolve_device

    framework = model.family.framework if model.family else "numpy"
    return model.to(resolve_device(device, framework))

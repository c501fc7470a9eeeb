"""The public Python API: list, build and load models, whatever their framework."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.catalog import ModelEntry, natural_key
from zoo_core.errors import WeightsError
from zoo_core.families import Family
from zoo_core.io.files import CONFIG_FILE, WEIGHTS_FILE
from zoo_core.plugins import PluginInfo, get_registry
from zoo_core.resolver import Resolved, get_entry, get_family, resolve

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.model import ZooModel

__all__ = ["build", "entry_config", "get_entry", "get_family", "list_families", "list_models", "list_plugins", "load",
           "load_directory", "resolve"]
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


def entry_config(entry: ModelEntry, **overrides: Any) -> dict:
    """The full, validated config of a catalog entry with optional overrides."""
    return get_family(entry.family).config.resolve(entry.config, overrides)


def build(ref: str | Path | Resolved, *, device: str | None = None, **overrides: Any) -> ZooModel:
    """A model with fresh (seeded) weights, from a catalog name or a family name.

    ``ref`` may be anything :func:`zoo_core.resolve` takes (a saved folder gives its config with
    fresh weights). ``overrides`` replace config values; they are validated like ``--set``.
    ``device``: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (default cpu; see :mod:`zoo_core.runtime.devices`).
    """
    target = resolve(ref)
    model = _instantiate(target.family, target.family.config.resolve(target.config, overrides), device)
    model.name = target.name
    return model


def load(ref: str | Path | Resolved, *, device: str | None = None, **overrides: Any) -> ZooModel:
    """A model with its weights, from a catalog name, a directory saved by zoo, or ``hf://org/repo[@rev]``.

    ``ref`` is resolved once (:func:`zoo_core.resolve`; a :class:`~zoo_core.resolver.Resolved` is
    used as it is). A family name gives a freshly built model of that family (as :func:`build`).
    Weights are checked against their sha256 (from the catalog, or ``config.json`` of a saved
    directory) exactly once, and every tensor's name, shape and dtype. ``overrides`` are typed
    config values; ``device`` as in :func:`build`.
    """
    target = resolve(ref)
    if target.directory is not None:
        return _load_saved(target, device, overrides)
    model = build(target, **overrides)
    if target.entry is not None and target.entry.weights is not None:
        from zoo_core.hub.sources import fetch_weights

        model.load_weights(fetch_weights(target.entry.weights))
    return _place(model, device)


def load_directory(directory: str | Path, *, device: str | None = None, **overrides: Any) -> ZooModel:
    """Load a directory written by :meth:`ZooModel.save` (or a Hub snapshot of one)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise WeightsError(f"{directory} is not a saved zoo model (no {CONFIG_FILE})")
    return _load_saved(resolve(directory), device, overrides)


def _load_saved(target: Resolved, device: str | None, overrides: dict) -> ZooModel:
    """A saved folder's model with its weights, hashed here unless the resolver already did."""
    from zoo_core.io.weights import verify_sha256

    directory = target.directory
    assert directory is not None  # every saved folder, run or Hub snapshot resolves with its directory
    if target.kind == "run" and not (directory / CONFIG_FILE).is_file():
        raise WeightsError(f"run folder '{directory}' holds no trained model yet; continue it with "
                           f"'zoo train {directory} --resume'")
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise WeightsError(f"{directory} has no {WEIGHTS_FILE}")
    sha = target.weights_sha256
    if not target.weights_verified and not (isinstance(sha, str) and _SHA256.match(sha)):
        shown = repr(sha) if len(repr(sha)) <= 80 else repr(sha)[:80] + "..."
        raise WeightsError(f"{directory / CONFIG_FILE}: weights_sha256 must be 64 lowercase hex characters, "
                           f"not {shown}; refusing weights that cannot be checked")
    model = _instantiate(target.family, target.family.config.resolve(target.config, overrides))
    model.name = str(target.directory) if target.kind != "hub" else target.ref
    if not target.weights_verified:
        verify_sha256(weights, str(sha))  # a sha256 string: checked above
    model.load_weights(weights)
    return _place(model, device)


def _instantiate(family: Family, config: dict, device: str | None = None) -> ZooModel:
    if device is not None:
        from zoo_core.runtime.devices import check_device_text

        check_device_text(device)  # a typo fails before the framework is imported
    cls = family.model_class()
    return _place(cls(config, family), device)


def _place(model: ZooModel, device: str | None) -> ZooModel:
    """Move a model to ``device`` (resolved for its framework); None leaves it on the CPU."""
    if device is None:
        return model
    from zoo_core.runtime.devices import resolve_device

    framework = model.family.framework if model.family else "numpy"
    return model.to(resolve_device(device, framework))

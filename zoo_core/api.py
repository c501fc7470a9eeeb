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

__all__ = ["build", "check_saved",
           "entry_config", "get_entry", "get_family", "list_families", "list_models", "list_plugins", "load",
           "load_directory", "model_card", "resolve"]
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
    _check_sha_form(target, directory)
    model = _instantiate(target.family, target.family.config.resolve(target.config, overrides))
    model.name = str(target.directory) if target.kind != "hub" else target.ref
    if not target.weights_verified:
        verify_sha256(weights, str(target.weights_sha256))  # its form is checked above
    model.load_weights(weights)
    return _place(model, device)


def _check_sha_form(target: Resolved, directory: Path) -> None:
    sha = target.weights_sha256
    if not target.weights_verified and not (isinstance(sha, str) and _SHA256.match(sha)):
        shown = repr(sha) if len(repr(sha)) <= 80 else repr(sha)[:80] + "..."
        raise WeightsError(f"{directory / CONFIG_FILE}: weights_sha256 must be 64 lowercase hex characters, "
                           f"not {shown}; refusing weights that cannot be checked")


def check_saved(target: Resolved) -> None:
    """What ``zoo info`` checks of a saved folder without a framework, as ``load`` would refuse it.

    The form of ``weights_sha256``, and (for families with ``count_parameters``) that the config
    describes as many weights as the safetensors header holds: a config whose ``image_size`` (or
    any other key) does not fit the weights is one line here, not a table of wrong facts.
    """
    from zoo_core.io.safeio import parse_json

    directory = target.directory
    if directory is None:
        return
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        return
    _check_sha_form(target, directory)
    family = target.family
    if family.count_parameters is None:
        return
    with open(weights, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        if size > 100 << 20:
            raise WeightsError(f"{weights}: a safetensors header of {size} bytes; refusing it")
        header = parse_json(fh.read(size), f"the header of {weights}", WeightsError)
    if not isinstance(header, dict):
        raise WeightsError(f"{weights} is not a valid safetensors file (header is not a JSON object)")
    stored = 0
    for name, info in header.items():
        shape = info.get("shape") if isinstance(info, dict) and name != "__metadata__" else []
        count = 1
        for d in shape if isinstance(shape, list) else []:
            count *= int(d) if isinstance(d, int) else 0
        stored += count if name != "__metadata__" else 0
    config = family.config.resolve(target.config)
    expected = family.count_parameters(config)
    if expected != stored:
        raise WeightsError(f"{directory / CONFIG_FILE}: its config describes {expected:,} weights, {weights.name} "
                           f"holds {stored:,}; the config does not fit the weights (sample and load refuse them too)")


def _instantiate(family: Family, config: dict, device: str | None = None) -> ZooModel:
    if device is not None:
        from zoo_core.runtime.devices import check_device_text

        check_device_text(device)  # a typo fails before the framework is imported
    from zoo_core.backends.memory import check_memory

    check_memory(family, config, 1, "build")  # before the framework is imported
    cls = family.model_class()
    return _place(cls(config, family), device)


def _place(model: ZooModel, device: str | None) -> ZooModel:
    """Move a model to ``device`` (resolved for its framework); None leaves it on the CPU."""
    if device is None:
        return model
    from zoo_core.runtime.devices import resolve_device

    framework = model.family.framework if model.family else "numpy"
    resolved = resolve_device(device, framework)
    if resolved != "cpu" and str(device).strip().lower() == "auto":
        from zoo_core.contract import overrides, say_once

        if not overrides(type(model), "to"):  # it cannot move: auto means "the best this family can use"
            say_once(f"cpu-only:{model.family_name}",
                     f"family '{model.family_name}' defines no to(), so it runs on the CPU (--device auto found "
                     f"{resolved}); a {framework} family should implement to(device)")
            resolved = "cpu"
    return model.to(resolved)


def model_card(ref: str | Path, *, repo_id: str | None = None, evaluate: bool = True) -> Any:
    """The huggingface_hub ``ModelCard`` that ``zoo push --eval`` would publish for ``ref`` (``zoo info NAME --card``).

    A bundled (catalog) model's card comes from its registry entry (description, license, config:
    the recipe) and weights sha256; a saved, pulled (``hf://``) or trained (run folder) model's from
    its ``config.json`` and the ``run.json`` and ``eval.json`` beside it. With ``evaluate`` the model
    is loaded and its evaluation computed now (seed 0), as ``zoo push --eval`` does; else the card
    carries only the figures saved beside the model. The repo id the card names is ``repo_id`` or
    ``zoo/NAME``. A pulled model's card is the one its publisher pushed (``README.md``, pulled with it).
    """
    from zoo_core import __version__
    from zoo_core.errors import ZooError
    from zoo_core.hub.cards import GALLERY_SEEDS, build_card, eval_figures, read_eval, read_run
    from zoo_core.io.files import CARD_FILE, read_saved_config

    target = resolve(str(ref))
    if target.kind == "family":
        raise ZooError(f"'{ref}' is a family, not a model: a card describes trained weights "
                       f"(see 'zoo list {ref}*' for its models)")
    if target.kind == "hub" and target.directory is not None and (target.directory / CARD_FILE).is_file():
        from huggingface_hub import ModelCard  # a pulled model: the card its publisher pushed, as pulled

        return ModelCard((target.directory / CARD_FILE).read_text(encoding="utf-8"))
    run = saved = None
    if target.directory is not None:
        meta = read_saved_config(target.directory)
        run, saved = read_run(target.directory), read_eval(target.directory)
    else:
        entry = target.entry
        assert entry is not None  # no folder and not a family: a catalog name, which resolves with its entry
        meta = {"format": "zoo-model/1", "zoo_version": __version__, "family": target.family.name,
                "plugin": target.family.plugin, "framework": target.family.framework,
                "config": target.family.config.resolve(entry.config, {}),
                "weights_sha256": entry.weights.sha256 if entry.weights else "none (weights are not learned)",
                "license": entry.license, "description": entry.description}
    live = load(target).evaluate(seed=0) if evaluate else None
    figures = eval_figures(meta, run, saved=saved, live=live)
    name = target.name.rstrip("/").split("/")[-1].split("@")[0] or target.family.name
    card = build_card(meta, repo_id or _default_repo(target, name), run=run, evals=figures, gallery=GALLERY_SEEDS)
    return card


def _default_repo(target: Any, name: str) -> str:
    """The repo id a card names: the Hub's own for a pulled model, else ``zoo/NAME``."""
    if target.kind == "hub":
        from zoo_core.hub.refs import parse_ref

        return parse_ref(target.ref).repo_id
    return f"zoo/{name}"

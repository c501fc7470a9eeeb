"""Plain-data views of models and families for the CLI's tables and ``--json`` output."""

from __future__ import annotations

import json
from typing import Any

import zoo_core
from zoo_core.catalog import ModelEntry
from zoo_core.errors import UnknownModelError


def weights_local(entry: ModelEntry) -> bool:
    """Whether the entry's weights can be used without a download (or it needs none)."""
    if entry.weights is None:
        return True
    from zoo_core.sources import local_path

    path = local_path(entry.weights)
    if path is None:
        from zoo_core.hub import cached_weights

        path = cached_weights(entry.weights)
    return path is not None and path.is_file()


def model_rows(entries: list[ModelEntry]) -> list[dict]:
    """One dict per entry, with family framework and local-weights status."""
    rows = []
    for entry in entries:
        family = zoo_core.get_family(entry.family)
        row = entry.to_dict()
        row.update(framework=family.framework, weights_local=weights_local(entry))
        rows.append(row)
    return rows


def family_of(name: str):
    """The family of a catalog name, a family name, or a saved directory."""
    from pathlib import Path

    from zoo_core.plugins import get_registry

    registry = get_registry()
    if name in registry.models:
        return zoo_core.get_family(registry.models[name].family)
    if name in registry.families:
        return registry.families[name]
    if name.startswith("hf://") or Path(name).is_dir():
        from zoo_core.files import read_saved_config

        directory = Path(name)
        if name.startswith("hf://"):
            from zoo_core.hub import snapshot  # imported here: huggingface_hub is slow to import

            directory = snapshot(name)
        return zoo_core.get_family(read_saved_config(directory)["family"])
    return zoo_core.get_entry(name)  # raises UnknownModelError with a suggestion


def model_info(name: str) -> dict[str, Any]:
    """Everything ``zoo info`` shows for a catalog name, family, saved directory or hf:// ref; needs no framework."""
    from pathlib import Path

    from zoo_core.plugins import get_registry

    registry = get_registry()
    if name in registry.models:
        entry = registry.models[name]
        family = zoo_core.get_family(entry.family)
        config = zoo_core.entry_config(entry)
        info = entry.to_dict()
        info.update(framework=family.framework, config=config, weights_local=weights_local(entry),
                    weights_source=entry.weights.source if entry.weights else "none (a pure function of the config)",
                    sha256=entry.weights.sha256 if entry.weights else None)
    elif name in registry.families:
        family = registry.families[name]
        config = family.config.defaults()
        info = {"name": name, "family": name, "framework": family.framework, "plugin": family.plugin,
                "description": family.description, "config": config}
    elif name.startswith("hf://") or Path(name).is_dir():
        directory = Path(name)
        if name.startswith("hf://"):
            from zoo_core.hub import snapshot  # imported here: huggingface_hub is slow to import

            directory = snapshot(name)
        from zoo_core.files import WEIGHTS_FILE, read_saved_config

        meta = read_saved_config(directory)
        family = zoo_core.get_family(meta["family"])
        config = family.config.resolve(meta["config"])
        info = {"name": name, "family": family.name, "framework": family.framework, "plugin": family.plugin,
                "description": family.description, "config": config,
                "weights_source": str(directory / WEIGHTS_FILE), "sha256": meta.get("weights_sha256"),
                "weights_local": (directory / WEIGHTS_FILE).is_file()}
    else:
        raise UnknownModelError(str(zoo_core.get_entry(name)))  # get_entry raises with a suggestion
    missing = family.missing_requirements()
    info["installed"] = "yes" if not missing else f"no: needs {', '.join(missing)} ({family.install_hint()})"
    info["parameters"] = family.count_parameters(config) if family.count_parameters else None
    return info


def config_options(family_name: str, values: dict | None = None) -> list[dict]:
    """Each config key of a family's spec: type, default, bounds (min/max/choices/nullable) and help."""
    family = zoo_core.get_family(family_name)
    rows = []
    for key, param in family.config.params.items():
        bounds = []
        if param.min is not None or param.max is not None:
            low = "-inf" if param.min is None else f"{param.min:g}"
            high = "inf" if param.max is None else f"{param.max:g}"
            bounds.append(f"{'each ' if param.type == 'list' else ''}{low}..{high}")
        if param.choices is not None:
            bounds.append("one of " + ", ".join(json.dumps(c) for c in param.choices))
        if param.nullable:
            bounds.append("or null")
        rows.append({"key": key, "type": "list of int" if param.type == "list" else param.type,
                     "default": param.default, "value": (values or {}).get(key, param.default),
                     "min": param.min, "max": param.max,
                     "choices": list(param.choices) if param.choices is not None else None,
                     "nullable": param.nullable, "bounds": "; ".join(bounds) or "-", "help": param.help})
    return rows

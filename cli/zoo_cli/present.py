"""Plain-data views of models and families for the CLI's tables and ``--json`` output."""

from __future__ import annotations

import json
from typing import Any

import zoo_core
from zoo_core.catalog import ModelEntry


def weights_local(entry: ModelEntry) -> bool:
    """Whether the entry's weights can be used without a download (or it needs none)."""
    if entry.weights is None:
        return True
    from zoo_core.hub.sources import local_path

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


def model_info(name: str) -> dict[str, Any]:
    """Everything ``zoo info`` shows for a catalog name, family, saved directory or hf:// ref; needs no framework."""
    target = zoo_core.resolve(name)
    family = target.family
    config = family.config.resolve(target.config)
    if target.kind == "catalog":
        entry = target.entry
        assert entry is not None  # a catalog name resolves with its entry
        info = entry.to_dict()
        info.update(framework=family.framework, config=config, weights_local=weights_local(entry),
                    weights_source=entry.weights.source if entry.weights else "none (a pure function of the config)",
                    sha256=entry.weights.sha256 if entry.weights else None)
    elif target.kind == "family":
        info = {"name": name, "family": family.name, "framework": family.framework, "plugin": family.plugin,
                "description": family.description, "config": config}
    else:
        from zoo_core.api import check_saved
        from zoo_core.io.files import WEIGHTS_FILE

        check_saved(target)
        assert target.directory is not None  # the other kinds are folders (saved, run, Hub snapshot)
        weights = target.directory / WEIGHTS_FILE
        info = {"name": name, "family": family.name, "framework": family.framework, "plugin": family.plugin,
                "description": family.description, "config": config, "weights_source": str(weights),
                "sha256": target.weights_sha256, "weights_local": weights.is_file()}
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
            low = "-inf" if param.min is None else _bound(param.min, param.type)
            high = "inf" if param.max is None else _bound(param.max, param.type)
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


def _bound(value: float, kind: str) -> str:
    """A bound as the user types it: integers in full (``4611686018427387903``, not ``4.61169e+18``)."""
    if kind in ("int", "list") or (isinstance(value, int) and not isinstance(value, bool)):
        if float(value).is_integer():
            return str(int(value))
    return f"{value:g}"

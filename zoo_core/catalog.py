"""Catalog entries (named models) and their validation.

The built-in catalog is ``registry.json``; plugins add entries through the ``register_models``
hook. Every entry is validated here, with errors that name the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.errors import RegistryError

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PKG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_LICENSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")
_MAX_TAGS = 32
_MAX_DESCRIPTION = 1000
_FIELDS = {"name", "family", "config", "weights", "description", "license", "tags", "sample_sha256"}


@dataclass(frozen=True)
class WeightsRef:
    """Where a model's safetensors file lives and the sha256 it must have.

    ``source`` is ``pkg://package/path`` (shipped inside an installed package),
    ``hf://org/repo[@revision]`` (a Hugging Face Hub repo holding ``model.safetensors``) or
    ``file:///abs/path``.
    """

    source: str
    sha256: str


@dataclass(frozen=True)
class ModelEntry:
    """A named model: a family, the config that differs from the family defaults, and weights."""

    name: str
    family: str
    config: Mapping[str, Any] = field(default_factory=dict)
    weights: WeightsRef | None = None
    description: str = ""
    license: str = "MIT"
    tags: tuple[str, ...] = ()
    plugin: str = ""  # the plugin that owns the family (or registered the entry)
    origin: str = ""  # where the entry was defined: "registry.json", a plugin name, a path
    #: sha256 of ``sample(4, seed=0)``'s uint8 bytes (the golden sample ``zoo verify`` recomputes)
    sample_sha256: str | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict (what ``zoo list --json`` prints)."""
        out = asdict(self)
        out["tags"] = list(self.tags)
        out["config"] = dict(self.config)
        return out


def _fail(where: str, name: str, fld: str, problem: str) -> RegistryError:
    return RegistryError(f"{where}: entry '{name}': field '{fld}': {problem}")


def parse_entry(raw: Any, where: str, index: int | None = None) -> ModelEntry:
    """Validate one raw catalog entry (a dict from JSON or a plugin) and build a :class:`ModelEntry`."""
    label = f"#{index}" if index is not None else "?"
    if not isinstance(raw, Mapping):
        raise RegistryError(f"{where}: entry {label}: expected an object, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(where, str(name if name is not None else label), "name",
                    "required; lowercase letters, digits, '.', '_' and '-'")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise _fail(where, name, sorted(unknown)[0], f"unknown field (allowed: {', '.join(sorted(_FIELDS))})")
    family = raw.get("family")
    if not isinstance(family, str) or not _NAME.match(family):
        raise _fail(where, name, "family", "required; lowercase letters, digits, '.', '_' and '-'")
    config = raw.get("config", {})
    if not isinstance(config, Mapping):
        raise _fail(where, name, "config", "expected an object")
    weights = raw.get("weights")
    ref = None
    if weights is not None:
        if not isinstance(weights, Mapping):
            raise _fail(where, name, "weights", "expected an object with 'source' and 'sha256', or null")
        source, sha = weights.get("source"), weights.get("sha256")
        problem = source_problem(source)
        if problem:
            raise _fail(where, name, "weights.source", problem)
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise _fail(where, name, "weights.sha256", "expected 64 lowercase hex characters")
        if set(weights) - {"source", "sha256"}:
            raise _fail(where, name, "weights", "only 'source' and 'sha256' are allowed")
        assert isinstance(source, str)  # source_problem() accepts strings only
        ref = WeightsRef(source=source, sha256=sha)
    for fld in ("description", "license"):
        if not isinstance(raw.get(fld, ""), str):
            raise _fail(where, name, fld, "expected a string")
    description = raw.get("description", "")
    if len(description) > _MAX_DESCRIPTION or not description.isprintable():
        raise _fail(where, name, "description", f"one line of printable text, at most {_MAX_DESCRIPTION} characters")
    if not _LICENSE.match(raw.get("license", "MIT")):
        raise _fail(where, name, "license", "a license identifier such as MIT or cc-by-4.0")
    tags = raw.get("tags", [])
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
        raise _fail(where, name, "tags", "expected a list of strings")
    if len(tags) > _MAX_TAGS or not all(_TAG.match(t) for t in tags):
        raise _fail(where, name, "tags", f"at most {_MAX_TAGS} tags of letters, digits, '.', '_', ':', '+', '-'")
    golden = raw.get("sample_sha256")
    if golden is not None and (not isinstance(golden, str) or not _SHA256.match(golden)):
        raise _fail(where, name, "sample_sha256", "expected 64 lowercase hex characters (sha256 of sample(4, seed=0))")
    return ModelEntry(name=name, family=family, config=dict(config), weights=ref,
                      description=raw.get("description", ""), license=raw.get("license", "MIT"),
                      tags=tuple(tags), origin=where, sample_sha256=golden)


def source_problem(source: Any) -> str | None:
    """Why ``source`` is not a valid weights source, or None if it is.

    ``pkg://package/path``: a dotted package name, then relative path parts (no '..', nothing
    hidden or absolute); ``hf://org/repo[@revision]`` in the Hub's grammar; ``file:///abs/path``
    (an absolute path without '..' parts).
    """
    expected = "expected pkg://package/path, hf://org/repo[@rev] or file:///absolute/path"
    if not isinstance(source, str) or not source.isprintable() or len(source) > 1024:
        return expected
    if source.startswith("pkg://"):
        package, _, rel = source[len("pkg://"):].partition("/")
        if not _PKG.match(package) or not rel or not all(_PATH_PART.match(p) for p in rel.split("/")):
            return (f"{source!r}: expected pkg://package/path/inside/it (a package name, then path parts of "
                    "letters, digits, '_', '.', '+', '-'; no '..', no hidden or empty parts)")
        return None
    if source.startswith("hf://"):
        from zoo_core.errors import HubRefError
        from zoo_core.hub.refs import parse_ref  # stdlib-only at import time

        try:
            parse_ref(source)
        except HubRefError as exc:
            return str(exc)
        return None
    if source.startswith("file://"):
        from urllib.parse import unquote, urlparse

        url = urlparse(source)
        path = unquote(url.path)
        if url.netloc not in ("", "localhost") or not path.startswith("/") or not path.isprintable() or any(
                p == ".." for p in path.split("/")):
            return f"{source!r}: expected file:///absolute/path without '..' parts"
        return None
    return expected


def read_catalog(path: Path, where: str | None = None) -> list[ModelEntry]:
    """Read and validate a catalog file (``{"models": [...]}``); duplicate names are an error."""
    from zoo_core.io.safeio import load_json

    where = where or path.name
    try:
        data = load_json(path, "catalog", RegistryError)
    except FileNotFoundError:
        raise RegistryError(f"{where}: file not found ({path})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise RegistryError(f"{where}: expected an object with a 'models' list")
    entries: list[ModelEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["models"]):
        entry = parse_entry(raw, where, i)
        if entry.name in seen:
            raise _fail(where, entry.name, "name", "appears twice")
        seen.add(entry.name)
        entries.append(entry)
    return entries


def retired_models(path: Path | None = None) -> dict[str, str]:
    """Names taken out of the catalog -> why, and what to use instead (``registry.json``'s ``retired``).

    A retired name is never reused for another model; asking for it is an error that says so,
    instead of "unknown model" (or a suggestion of some other name).
    """
    from zoo_core.io.safeio import load_json

    path = path or builtin_catalog_path()
    try:
        data = load_json(path, "catalog", RegistryError)
    except FileNotFoundError:
        return {}
    retired = data.get("retired", {}) if isinstance(data, dict) else {}
    if not isinstance(retired, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in retired.items()):
        raise RegistryError(f"{path.name}: 'retired' must map model names to a reason (strings)")
    return dict(retired)


def builtin_catalog_path() -> Path:
    """``registry.json``: inside the installed package, or at the source checkout's top level."""
    packaged = Path(__file__).with_name("registry.json")
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "registry.json"


def natural_key(name: str) -> list:
    """Sort key so that ``glyphnet-32`` < ``glyphnet-64`` < ``glyphnet-128``."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]

"""One path from a name to what it means: catalog entry, family, saved folder, run folder or Hub model.

Every entry point resolves a reference here, once: :func:`zoo_core.build`, :func:`zoo_core.load`
(which also take a :class:`Resolved`), the CLI (which parses ``--set KEY=VALUE`` text through
``resolved.family.config`` and hands the typed values to ``load``), the conformance kit and
plugin commands. An ``hf://`` reference is fetched and its weights hashed once, here; loading
the :class:`Resolved` does not hash them again.

Order: ``hf://...``; an existing directory (a saved model or a run folder); a catalog name; a
family name (or a family's old alias); else a one-line error with a suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from zoo_core.catalog import retired_models
from zoo_core.errors import UnknownFamilyError, UnknownModelError, WeightsError
from zoo_core.io.files import CONFIG_FILE, RUN_FILE
from zoo_core.plugins import get_registry
from zoo_core.util.suggest import did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.catalog import ModelEntry
    from zoo_core.families import Family


@dataclass(frozen=True)
class Resolved:
    """What a reference names, with everything needed to build or load it.

    ``config`` is the stored config (the entry's, the saved folder's, the run's; empty for a
    family): overrides are applied on top by :func:`zoo_core.build` / :func:`zoo_core.load`.
    ``directory`` is the saved-model folder (a Hub snapshot, a saved directory, a run folder);
    ``weights_verified`` is True when its weights were already checked against their sha256.
    """

    kind: str  # "catalog", "family", "directory", "run" or "hub"
    ref: str
    family: Family
    config: dict = field(default_factory=dict)
    entry: ModelEntry | None = None
    directory: Path | None = None
    weights_sha256: object = None  # as stored: checked for form when the weights are loaded
    weights_verified: bool = False

    @property
    def name(self) -> str:
        """The name a model loaded from this reference carries."""
        return self.entry.name if self.entry is not None else (self.family.name if self.kind == "family" else self.ref)


def get_entry(name: str) -> ModelEntry:
    """The catalog entry called ``name``; unknown names suggest the closest one."""
    registry = get_registry()
    try:
        return registry.models[name]
    except KeyError:
        raise UnknownModelError(_unknown(name, registry.models)) from None


def get_family(name: str) -> Family:
    """The family called ``name`` (or a name it declares in ``aliases``)."""
    registry = get_registry()
    family = registry.families.get(name) or registry.family_aliases().get(name)
    if family is None:
        known = ", ".join(sorted(registry.families)) or "none loaded"
        raise UnknownFamilyError(
            f"unknown family '{name}'{did_you_mean(name, registry.families)} (families: {known})")
    return family


def resolve(ref: str | Path | Resolved) -> Resolved:
    """What ``ref`` names: ``hf://org/repo[@rev]``, a directory, a catalog name or a family name."""
    if isinstance(ref, Resolved):
        return ref
    text = str(ref)
    if text.startswith("hf://"):
        return _hub(text)
    path = Path(text)
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # a name too long for a path (ENAMETOOLONG), or not one at all
        shown = text if len(text) <= 80 else f"{text[:40]}...{text[-20:]} ({len(text)} characters)"
        raise UnknownModelError(f"'{shown}' is not a model name or a folder ({exc.strerror or exc})") from None
    if is_dir:
        return _directory(path, text)
    registry = get_registry()
    if text in registry.models:
        entry = registry.models[text]
        return Resolved("catalog", text, get_family(entry.family), dict(entry.config), entry=entry)
    if text in registry.families or text in registry.family_aliases():
        return Resolved("family", text, get_family(text))
    if "/" in text or text.startswith("."):
        raise WeightsError(f"no saved zoo model at '{text}' (expected a directory with {CONFIG_FILE})")
    raise UnknownModelError(_unknown(text, list(registry.models) + list(registry.families)))


def _unknown(name: str, pool) -> str:
    """The error for a name not in the catalog: why it was retired, or the closest known name."""
    reason = retired_models().get(name)
    if reason is not None:
        return f"model '{name}' was retired from the catalog: {reason}"
    return f"unknown model '{name}'{did_you_mean(name, pool)}"


def _directory(path: Path, text: str) -> Resolved:
    """A saved model folder, or a run folder (whose run.json names the family while no model is saved yet)."""
    from zoo_core.io.files import read_saved_config

    if not (path / CONFIG_FILE).is_file() and (path / RUN_FILE).is_file():
        from zoo_core.runtime.runs import RunFolder  # the one run.json reader (bounded, checked, contained)

        meta = RunFolder(path).read_manifest()
        return Resolved("run", text, get_family(meta["family"]), dict(meta["config"]), directory=path)
    meta = read_saved_config(path)
    kind = "run" if (path / RUN_FILE).is_file() else "directory"
    return Resolved(kind, text, get_family(meta["family"]), dict(meta["config"]), directory=path,
                    weights_sha256=meta.get("weights_sha256"))


def _hub(text: str) -> Resolved:
    """Fetch a Hub model once (from the cache or pin when possible); its weights are verified there."""
    from zoo_core.hub.download import snapshot  # imported here: huggingface_hub is slow to import
    from zoo_core.io.files import read_saved_config

    folder = snapshot(text)
    meta = read_saved_config(folder)
    return Resolved("hub", text, get_family(meta["family"]), dict(meta["config"]), directory=folder,
                    weights_sha256=meta.get("weights_sha256"), weights_verified=True)


__all__ = ["Resolved", "get_entry", "get_family", "resolve"]

"""Plugin discovery and the loaded registry of families and models.

Plugins are found through the ``zoo.plugins`` entry-point group, once per process, the first
time anything asks for a family or a model (never at ``import zoo_core``). Loading is isolated:
a plugin that raises while importing or registering (any exception, ``SystemExit`` included;
only ``KeyboardInterrupt`` goes through) is recorded with its error and skipped as a whole:
nothing it registered before failing stays usable.

Trust: the built-in plugins (:func:`builtin_plugins`, shipped in the ``zoo`` distribution)
import and register first, whatever the entry-point order, so their family, model and command
names cannot be taken by a third-party plugin; a clash is an error naming both plugins, and the
third-party plugin is skipped. Core commands cannot be replaced either. See docs/security.md.

Environment:

* ``ZOO_PLUGINS=a,b`` loads only the named entry points; ``ZOO_PLUGINS=`` (empty) loads none,
  built-ins included.
* ``ZOO_STRICT_PLUGINS=1`` raises :class:`~zoo_core.errors.PluginError` instead of skipping.
* ``ZOO_TRACE_HOOKS=1`` prints every hook call and its result to stderr.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from zoo_core import hookspecs
from zoo_core.catalog import ModelEntry, builtin_catalog_path, parse_entry, read_catalog
from zoo_core.contract import check_declared
from zoo_core.errors import DuplicateNameError, PluginError, RegistryError, ZooError
from zoo_core.families import Family

ENTRY_POINT_GROUP = "zoo.plugins"
#: The distribution that ships zoo_core and the built-in plugins.
BUILTIN_DISTRIBUTION = "zoo"
_builtin_plugins: dict[str, str] | None = None


def builtin_plugins() -> dict[str, str]:
    """Entry-point name -> module of each built-in plugin: the ``zoo.plugins`` entry points of the
    zoo distribution itself, so pyproject.toml's table is the one list (read once, then kept)."""
    global _builtin_plugins
    if _builtin_plugins is None:
        try:
            dist = metadata.distribution(BUILTIN_DISTRIBUTION)
            found = {ep.name: ep.value for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP}
        except metadata.PackageNotFoundError:  # zoo_core imported from a folder, not installed
            found = {}
        _builtin_plugins = dict(sorted(found.items()))
    return dict(_builtin_plugins)


def __getattr__(name: str) -> Any:
    if name == "BUILTIN_PLUGINS":  # the former constant: now read from the zoo distribution
        return builtin_plugins()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class PluginInfo:
    """What ``zoo plugins`` reports about one plugin."""

    name: str
    module: str = ""
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    builtin: bool = False
    commands: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the plugin imported and registered without error."""
        return not self.errors

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"name": self.name, "module": self.module, "distribution": self.distribution,
                "version": self.version, "hooks": self.hooks, "families": self.families,
                "models": self.models, "builtin": self.builtin, "commands": self.commands,
                "error": "; ".join(self.errors) or None}


class Registry:
    """Families, models and plugin reports, as loaded from the installed plugins."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("zoo")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.families: dict[str, Family] = {}
        self.models: dict[str, ModelEntry] = {}
        self.strict = os.environ.get("ZOO_STRICT_PLUGINS", "") not in ("", "0")
        if os.environ.get("ZOO_TRACE_HOOKS", "") not in ("", "0"):
            self.pm.trace.root.setwriter(lambda msg: sys.stderr.write(f"[zoo hooks] {msg}"))
            self.pm.enable_tracing()

    # -- loading -------------------------------------------------------------------------------

    def family_aliases(self) -> dict[str, Family]:
        """Old names of families (``Family.aliases``) that still load saved folders and runs."""
        return {alias: fam for fam in self.families.values() for alias in fam.aliases if alias not in self.families}

    def load(self) -> Registry:
        """Import the allowed entry points (built-ins first), then run the registration hooks."""
        for ep in sorted(_allowed(metadata.entry_points(group=ENTRY_POINT_GROUP)),
                         key=lambda ep: (not _is_builtin(ep), ep.name)):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            key = ep.name
            if key in self.plugins:  # two distributions claim one entry-point name
                first = self.plugins[key]
                key = f"{ep.name} ({dist_name or ep.value})"
                info = self.plugins.setdefault(key, PluginInfo(name=key, module=ep.value, distribution=dist_name))
                what = "the built-in plugin" if first.builtin else "plugin"
                self._plugin_failed(info, "import", PluginError(
                    f"entry point '{ep.name}' of {dist_name or ep.value} clashes with {what} '{first.name}' "
                    f"({first.distribution or first.module}); not loaded"))
                continue
            info = self.plugins[key] = PluginInfo(name=key, module=ep.value, builtin=_is_builtin(ep))
            if dist is not None:
                info.distribution, info.version = dist_name, dist.version
            try:
                module = ep.load()
                self.pm.register(module, name=ep.name)
            except BaseException as exc:  # any plugin failure is isolated, SystemExit too
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._plugin_failed(info, "import", exc)
                continue
            info.hooks = sorted(h.name for h in self.pm.get_hookcallers(module) or [])
        self._run_hook("register_families", self._add_family)
        builtin = builtin_catalog_path()
        if builtin.is_file():
            self._load_catalog(builtin, "registry.json")
        self._run_hook("register_models", self._add_model)
        user = user_catalog_path()
        if user is not None:  # last, so that a user or organisation entry overrides any name
            self._load_catalog(user, str(user))
        return self

    def add_plugin(self, plugin: Any, name: str) -> None:
        """Register an in-process plugin object (used by tests and embedding applications).

        Call before :meth:`load`, or call :func:`reset` and re-run loading afterwards.
        """
        self.pm.register(plugin, name=name)
        self.plugins[name] = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)),
                                        hooks=sorted(h.name for h in self.pm.get_hookcallers(plugin) or []))

    def _impls(self, hook_name: str) -> list:
        """The hook's implementations: built-in plugins first, then in loading order."""
        order = {name: i for i, name in enumerate(self.plugins)}
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        return sorted(impls, key=lambda impl: (not self._builtin(impl.plugin_name),
                                               order.get(impl.plugin_name, len(order))))

    def _builtin(self, plugin: str) -> bool:
        info = self.plugins.get(plugin)
        return bool(info and info.builtin)

    def _run_hook(self, hook_name: str, add: Callable[[str, Any], None]) -> None:
        """Call ``hook_name(register=...)`` on each plugin in turn, isolating failures.

        Each plugin is called through its own pluggy subset caller, so that the ``register``
        callback knows who is registering and pluggy's tracing (``ZOO_TRACE_HOOKS``) sees the call.
        A plugin whose hook raises is withdrawn as a whole (see :meth:`_withdraw`): nothing it
        registered before raising stays usable.
        """
        for impl in self._impls(hook_name):
            info = self.plugins.setdefault(impl.plugin_name, PluginInfo(name=impl.plugin_name))
            if info.errors:
                continue

            def register(obj: Any = None, _plugin: str = impl.plugin_name, **fields: Any) -> None:
                add(_plugin, obj if obj is not None else fields)

            try:
                self._only(hook_name, impl.plugin)(register=register)
            except BaseException as exc:  # isolate a broken plugin, SystemExit too
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._withdraw(impl.plugin_name)
                self._plugin_failed(info, hook_name, exc)

    def _withdraw(self, plugin: str) -> None:
        """Forget every family, model and command ``plugin`` registered (it failed part-way)."""
        info = self.plugins.get(plugin)
        families = {name for name, fam in self.families.items() if fam.plugin == plugin}
        for name in families:
            del self.families[name]
        for name, entry in list(self.models.items()):
            if entry.family in families or (info is not None and name in info.models and entry.plugin == plugin) \
                    or entry.origin == f"plugin '{plugin}'":
                del self.models[name]
                for other in self.plugins.values():
                    if name in other.models:
                        other.models.remove(name)
        if info is not None:
            info.families.clear()
            info.models.clear()

    def run_command_hook(self, cli: Any) -> None:
        """Call ``register_commands(cli)`` on every plugin, isolating failures.

        Built-in plugins go first. A plugin may only add commands under new names: replacing or
        removing a core command, or a command another plugin added, is an error naming both; the
        plugin's command changes are then undone and the plugin is withdrawn.
        """
        owners = {name: "zoo (core)" for name in getattr(cli, "commands", {})}
        for impl in self._impls("register_commands"):
            info = self.plugins.setdefault(impl.plugin_name, PluginInfo(impl.plugin_name))
            if info.errors:
                continue
            before = dict(cli.commands)
            try:
                self._only("register_commands", impl.plugin)(cli=cli)
                clash = [name for name, cmd in before.items() if cli.commands.get(name) is not cmd]
                if clash:
                    name = clash[0]
                    raise DuplicateNameError(f"command '{name}' belongs to {owners.get(name, 'zoo (core)')}; "
                                             f"plugin '{impl.plugin_name}' may not replace or remove it")
            except BaseException as exc:  # SystemExit too
                if isinstance(exc, KeyboardInterrupt):
                    raise
                cli.commands.clear()
                cli.commands.update(before)
                self._withdraw(impl.plugin_name)
                self._plugin_failed(info, "register_commands", exc)
                continue
            for name in cli.commands:
                if name not in before:
                    owners[name] = f"plugin '{impl.plugin_name}'"
                    info.commands.append(name)

    def _only(self, hook_name: str, plugin: Any) -> Any:
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        return self.pm.subset_hook_caller(hook_name, remove_plugins=others)

    def _plugin_failed(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        message = f"{stage} failed: {type(exc).__name__}: {exc}".splitlines()[0]
        info.errors.append(message)
        if self.strict:
            raise PluginError(f"plugin '{info.name}' {message}") from exc
        print(f"zoo: warning: plugin '{info.name}' skipped ({message}); see 'zoo plugins'", file=sys.stderr)

    # -- registration callbacks ----------------------------------------------------------------

    def _add_family(self, plugin: str, family: Any) -> None:
        if not isinstance(family, Family):
            raise RegistryError(f"register_families expects a zoo_core.Family, got {type(family).__name__}")
        check_declared(family)  # a family written for a newer plugin contract than this zoo's
        owner = self.families.get(family.name)
        _refuse_taken("family", family.name, f"'{owner.plugin}'" if owner else None, f"'{plugin}'")
        self.families[family.name] = replace(family, plugin=plugin)
        self.plugins[plugin].families.append(family.name)

    def _add_model(self, plugin: str, entry: Any) -> None:
        if not isinstance(entry, ModelEntry):
            entry = parse_entry(entry, f"plugin '{plugin}'")
        family = self.families.get(entry.family)
        owner = family.plugin if family else plugin
        entry = replace(entry, plugin=owner, origin=f"plugin '{plugin}'")
        existing = self.models.get(entry.name)
        _refuse_taken("model", entry.name, existing.origin if existing else None, f"plugin '{plugin}'")
        self.models[entry.name] = entry
        self.plugins[plugin].models.append(entry.name)

    def _load_catalog(self, path: Path, where: str) -> None:
        """Add the entries of a catalog file, each replacing an earlier entry of the same name.

        ``registry.json`` is loaded before the plugins' ``register_models``; the user catalog
        (:func:`user_catalog_path`) after them, so it can override any name. Entries whose family
        is not loaded (plugin disabled or broken) are skipped. Files are validated by
        :func:`read_catalog`.
        """
        for entry in read_catalog(path, where):
            family = self.families.get(entry.family)
            if family is None:
                continue
            previous = self.models.get(entry.name)
            owner = self.plugins.get(previous.plugin) if previous is not None else None
            if owner is not None and entry.name in owner.models:
                owner.models.remove(entry.name)
            self.models[entry.name] = replace(entry, plugin=family.plugin)
            self.plugins[family.plugin].models.append(entry.name)


def _refuse_taken(kind: str, name: str, owner: str | None, newcomer: str) -> None:
    """A name already registered (``owner`` says by whom) is an error of the later registration."""
    if owner:
        raise DuplicateNameError(f"{kind} '{name}' is registered by both {owner} and {newcomer}")


def user_catalog_path() -> Path | None:
    """The user/organisation catalog, if any: ``ZOO_REGISTRY``, else ``$XDG_CONFIG_HOME/zoo/registry.json``.

    ``XDG_CONFIG_HOME`` defaults to ``~/.config``. A ``ZOO_REGISTRY`` that names a missing file is
    returned anyway so that reading it reports the error; a missing default file means no catalog.
    ``ZOO_REGISTRY=`` (empty) disables the user catalog.
    """
    explicit = os.environ.get("ZOO_REGISTRY")
    if explicit is not None:
        return Path(explicit).expanduser() if explicit.strip() else None
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    default = Path(base) / "zoo" / "registry.json"
    return default if default.is_file() else None


def _is_builtin(ep: Any) -> bool:
    """Whether an entry point is one of zoo's own plugins, from zoo's own distribution."""
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else BUILTIN_DISTRIBUTION
    return dist_name == BUILTIN_DISTRIBUTION and builtin_plugins().get(ep.name) == ep.value


def _allowed(entry_points: Any) -> list:
    allow = os.environ.get("ZOO_PLUGINS")
    eps = sorted(entry_points, key=lambda ep: ep.name)
    if allow is None:
        return eps
    names = {n.strip() for n in allow.split(",") if n.strip()}
    return [ep for ep in eps if ep.name in names]


_registry: Registry | None = None
_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide :class:`Registry`, loading plugins on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = Registry().load()
        return _registry


def reset() -> None:
    """Forget loaded plugins so that the next :func:`get_registry` loads them again."""
    global _registry
    with _lock:
        _registry = None


__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "Registry", "ZooError", "get_registry", "reset"]

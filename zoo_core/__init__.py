"""zoo_core: a registry of small generative image models behind one interface.

Importing this package is cheap: it imports no deep-learning framework and no plugin. Plugins
are discovered on first use of :func:`list_models`, :func:`build`, :func:`load` and friends.

>>> import zoo_core
>>> [m.name for m in zoo_core.list_models("glyphnet*")]        # doctest: +SKIP
>>> zoo_core.load("glyphnet-64").sample(16, seed=0).shape        # doctest: +SKIP
(16, 64, 64, 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo_core._moved import install as _install_moved
from zoo_core.util.lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover - for editors and type checkers; at run time the names load lazily
    from zoo_core.api import build, entry_config, list_families, list_models, list_plugins, load, load_directory
    from zoo_core.catalog import ModelEntry, WeightsRef
    from zoo_core.config import ConfigSpec, Param
    from zoo_core.contract import CONTRACT_VERSION
    from zoo_core.errors import (
        ConfigError,
        MissingFrameworkError,
        NotTrainableError,
        PluginError,
        RegistryError,
        UnknownModelError,
        WeightsError,
        ZooError,
    )
    from zoo_core.families import Family
    from zoo_core.hookspecs import hookimpl
    from zoo_core.media.walks import interpolate
    from zoo_core.model import LatentModel, ZooModel
    from zoo_core.resolver import Resolved, get_entry, get_family, resolve
    from zoo_core.runtime.sessions import History

__version__ = "0.1.0"

# Public names -> defining module, imported on first attribute access (PEP 562) so that
# `import zoo_core` stays fast and never pulls numpy into `zoo --help`.
_EXPORTS = {
    "list_models": "zoo_core.api", "list_families": "zoo_core.api", "list_plugins": "zoo_core.api",
    "get_entry": "zoo_core.resolver", "get_family": "zoo_core.resolver", "entry_config": "zoo_core.api",
    "resolve": "zoo_core.resolver", "Resolved": "zoo_core.resolver",
    "build": "zoo_core.api", "load": "zoo_core.api", "load_directory": "zoo_core.api",
    "interpolate": "zoo_core.media.walks",
    "Family": "zoo_core.families", "ConfigSpec": "zoo_core.config", "Param": "zoo_core.config",
    "ModelEntry": "zoo_core.catalog", "WeightsRef": "zoo_core.catalog",
    "ZooModel": "zoo_core.model", "LatentModel": "zoo_core.model", "History": "zoo_core.runtime.sessions",
    "hookimpl": "zoo_core.hookspecs",
    "ZooError": "zoo_core.errors", "UnknownModelError": "zoo_core.errors", "ConfigError": "zoo_core.errors",
    "WeightsError": "zoo_core.errors", "MissingFrameworkError": "zoo_core.errors",
    "NotTrainableError": "zoo_core.errors", "PluginError": "zoo_core.errors",
    "RegistryError": "zoo_core.errors", "CONTRACT_VERSION": "zoo_core.contract",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, _ = lazy_exports(__name__, _EXPORTS)
_install_moved()  # old module paths (the table in _moved.py) keep importing, with a DeprecationWarning


def __dir__() -> list[str]:
    return __all__

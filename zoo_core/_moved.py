"""Old module paths of zoo_core, kept importing with a DeprecationWarning that names the new place.

``MOVED`` is the one alias table (old dotted path -> new); a meta-path finder serves each old path
as the new module itself (same object, so ``isinstance`` and monkeypatching agree), and warns once
per old path per process. Standard library only, nothing imported ahead of need; installed by
``zoo_core/__init__.py``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # pragma: no cover
    from importlib.abc import Loader

MOVED: dict[str, str] = {
    "zoo_core.allocator": "zoo_core.backends.allocator",
    "zoo_core.frameworks": "zoo_core.backends.frameworks",
    "zoo_core.torchstate": "zoo_core.backends.torchstate",
    "zoo_core.datafiles": "zoo_core.data.datafiles",
    "zoo_core.datasets": "zoo_core.data.datasets",
    "zoo_core.glyphs": "zoo_core.data.glyphs",
    "zoo_core.cards": "zoo_core.hub.cards",
    "zoo_core.publishing": "zoo_core.hub.publishing",
    "zoo_core.sources": "zoo_core.hub.sources",
    "zoo_core.checkpoints": "zoo_core.io.checkpoints",
    "zoo_core.files": "zoo_core.io.files",
    "zoo_core.safeio": "zoo_core.io.safeio",
    "zoo_core.weights": "zoo_core.io.weights",
    "zoo_core.gallery": "zoo_core.media.gallery",
    "zoo_core.golden": "zoo_core.media.golden",
    "zoo_core.images": "zoo_core.media.images",
    "zoo_core.walks": "zoo_core.media.walks",
    "zoo_core.batches": "zoo_core.runtime.batches",
    "zoo_core.devices": "zoo_core.runtime.devices",
    "zoo_core.distributed": "zoo_core.runtime.distributed",
    "zoo_core.fitting": "zoo_core.runtime.loop",
    "zoo_core.interrupt": "zoo_core.runtime.interrupt",
    "zoo_core.progress": "zoo_core.runtime.progress",
    "zoo_core.runs": "zoo_core.runtime.runs",
    "zoo_core.sessions": "zoo_core.runtime.sessions",
    "zoo_core.training": "zoo_core.runtime.plan",
    "zoo_core.lazy": "zoo_core.util.lazy",
    "zoo_core.render": "zoo_core.util.render",
    "zoo_core.suggest": "zoo_core.util.suggest",
}


class _Alias:
    """Loads an old path as the module now at ``target``."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: Any) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {self.target}; import it from there ({spec.name} will be removed)",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was imported under its new name."""


class _MovedFinder:
    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: Any = None) -> Any:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return ModuleSpec(fullname, cast("Loader", _Alias(new)))  # a loader by protocol, no importlib.abc at start-up


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())

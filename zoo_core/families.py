"""Model families: what a plugin registers so that zoo can build its models lazily."""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zoo_core.config import ConfigSpec
from zoo_core.errors import MissingFrameworkError, RegistryError

#: the config keys a resume may change unless a family names its own (``Family.resume_safe``)
RESUME_SAFE: tuple[str, ...] = ("lr", "steps")

if TYPE_CHECKING:  # pragma: no cover
    from zoo_core.model import ZooModel


@dataclass(frozen=True)
class Family:
    """A kind of model (an architecture plus its training recipe) provided by a plugin.

    :param name: unique family name, e.g. ``"glyphnet"``.
    :param framework: ``"torch"``, ``"keras"``, ``"numpy"``... shown by ``zoo list``.
    :param factory: the :class:`~zoo_core.model.ZooModel` subclass, or ``"module:attr"`` naming it.
        Use the string form so that listing models never imports the framework.
    :param config: the :class:`~zoo_core.config.ConfigSpec` (defaults and validation).
    :param requires: importable module names the factory needs (checked before importing it).
    :param extra: the pip extra that installs them, used in "install zoo[extra]" messages.
    :param description: one line for ``zoo info``.
    :param latent: whether models sample from a latent vector (enables ``zoo interpolate``).
    :param count_parameters: optional light ``f(config) -> int`` (no framework import) used by
        ``zoo info`` to show the parameter count without building the model.
    :param trainable: deprecated and not needed: trainability is declared once, by the model class
        overriding :meth:`~zoo_core.model.ZooModel.training_session` (or, plugin contract 1, its own
        ``train()``), and :attr:`trainable` is derived from that. A value given here is kept only to
        explain a mismatch (``trainable=True`` on a class that cannot train gets a one-line error
        naming ``training_session`` when it is trained).
    :param resume_safe: config keys that ``zoo train RUN --resume --set KEY=VALUE`` may change
        (everything else is fixed by the run's checkpoint).
    :param distributed: whether the family trains data-parallel under a launcher
        (``zoo train --workers N``); see :mod:`zoo_core.runtime.distributed`.
    :param contract: the plugin contract version the family was written for
        (:data:`zoo_core.contract.CONTRACT_VERSION`; ``None``: the current one). A newer one than
        this zoo's is refused at registration.
    :param aliases: former names of the family, so that folders and runs saved under them still
        load (``config.json`` / ``run.json`` name the family).
    :param estimate_memory: optional light ``f(config, batch) -> MemoryEstimate`` (no framework
        import): parameters and the largest activation for ``batch`` images at the config's size
        (:mod:`zoo_core.backends.memory`). zoo checks it before building, sampling and training;
        without it, :meth:`memory_estimate` says "no estimate" and nothing is checked.
    """

    name: str
    framework: str
    factory: str | type[ZooModel]
    config: ConfigSpec = field(default_factory=ConfigSpec)
    requires: tuple[str, ...] = ()
    extra: str | None = None
    description: str = ""
    latent: bool = False
    count_parameters: Callable[[dict], int] | None = None
    resume_safe: tuple[str, ...] = RESUME_SAFE
    distributed: bool = False
    aliases: tuple[str, ...] = ()
    estimate_memory: Callable[[dict, int], Any] | None = None
    plugin: str = ""  # filled in by the plugin manager
    contract: int | None = None
    declared_trainable: bool | None = field(default=None, repr=False)  # what trainable= said (deprecated)

    @property
    def trainable(self) -> bool:
        """Whether models of this family learn their weights, derived from the model class (it
        overrides ``training_session``, or contract 1's ``train``); never stored.

        Imports the model class (its framework); when that is not installed, the deprecated
        ``trainable=`` declaration answers if there is one, else the error is raised.
        """
        from zoo_core.contract import class_trains

        try:
            cls = self.model_class()
        except MissingFrameworkError:
            if self.declared_trainable is None:
                raise
            return bool(self.declared_trainable)
        return class_trains(cls)

    def memory_estimate(self, config: dict, batch: int = 1) -> Any:
        """The family's :class:`~zoo_core.backends.memory.MemoryEstimate` for ``config`` and ``batch``
        images, or None: no estimate (the default, and for a config the estimate cannot read)."""
        if self.estimate_memory is None:
            return None
        try:
            return self.estimate_memory(self.config.resolve(config), int(batch))
        except (KeyError, TypeError, ValueError):  # the config's own check reports what is wrong
            return None

    def missing_requirements(self) -> list[str]:
        """Modules in :attr:`requires` that cannot be imported (found without importing them)."""
        return [mod for mod in self.requires if importlib.util.find_spec(mod) is None]

    def install_hint(self) -> str:
        """How to install what is missing: ``pip install 'zoo[extra]'`` or ``pip install <modules>``."""
        if self.extra:
            return f"pip install 'zoo[{self.extra}]'"
        return f"pip install {' '.join(self.missing_requirements() or self.requires)}"

    def model_class(self) -> type[ZooModel]:
        """Import and return the model class, or raise :class:`MissingFrameworkError`."""
        missing = self.missing_requirements()
        if missing:
            raise MissingFrameworkError(
                f"family '{self.name}' needs {', '.join(missing)}, which is not installed; {self.install_hint()}")
        if not isinstance(self.factory, str):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:
            raise MissingFrameworkError(
                f"family '{self.name}' could not import {module_name}: {exc}; "
                f"install zoo[{self.extra or self.framework}]") from exc
        except AttributeError:
            raise RegistryError(f"family '{self.name}': factory {self.factory!r} names no attribute") from None


# ``Family.trainable`` is derived from the model class, never stored (the property above):
# ``Family(trainable=...)`` is still accepted (deprecated) and kept in ``declared_trainable``, only to
# explain a mismatch.
_dataclass_init = Family.__init__


@functools.wraps(_dataclass_init)
def _init(self: Family, *args: Any, trainable: bool | None = None, **kwargs: Any) -> None:
    _dataclass_init(self, *args, **kwargs)
    if trainable is not None:
        object.__setattr__(self, "declared_trainable", trainable)


Family.__init__ = _init  # type: ignore[method-assign]  # adds the deprecated trainable= keyword

"""Model families: what a plugin registers so that zoo can build its models lazily."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zoo_core.config import ConfigSpec
from zoo_core.errors import MissingFrameworkError, RegistryError

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
    :param trainable: whether models of this family learn their weights. ``False`` declares that
        ``train`` raises :class:`~zoo_core.errors.NotTrainableError` (e.g. a random CNN whose
        weights are a pure function of the seed); the conformance kit (:mod:`zoo_core.testing`)
        then expects exactly that error, and otherwise treats it as a failure.
    :param resume_safe: config keys that ``zoo train RUN --resume --set KEY=VALUE`` may change
        (everything else is fixed by the run's checkpoint).
    :param distributed: whether the family trains data-parallel under a launcher
        (``zoo train --workers N``); see :mod:`zoo_core.runtime.distributed`.
    :param aliases: former names of the family, so that folders and runs saved under them still
        load (``config.json`` / ``run.json`` name the family).
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
    trainable: bool = True
    resume_safe: tuple[str, ...] = ("lr", "steps")
    distributed: bool = False
    aliases: tuple[str, ...] = ()
    plugin: str = ""  # filled in by the plugin manager

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

"""Errors a user can cause. Each carries a one-line message; the CLI prints it and exits 2."""

from __future__ import annotations


class ZooError(Exception):
    """Base class of every error a user can cause: its message is a single line fit for a terminal."""


class UnknownModelError(ZooError, KeyError):
    """A model name that is neither in the catalog nor a saved directory."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownFamilyError(ZooError, KeyError):
    """A family name that no loaded plugin registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(ZooError, ValueError):
    """A config value of the wrong type, out of range, or an unknown key."""


class RegistryError(ZooError, ValueError):
    """A malformed catalog entry (registry.json, a user catalog, or a plugin's registration)."""


class WeightsError(ZooError):
    """Weights that are missing, corrupt, not safetensors, or do not fit the model."""


class MissingFrameworkError(ZooError, ImportError):
    """A family whose deep-learning framework is not installed."""


class PluginError(ZooError):
    """A plugin that failed to import or to register, raised only in strict mode."""


class NotTrainableError(ZooError):
    """Raised by ``train`` on a model whose weights are not learned (e.g. the random CNN)."""


class DuplicateNameError(ZooError):
    """Two plugins registered the same model or family name."""

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


class DatasetError(ZooError, ValueError):
    """Data that cannot be used: unknown spec, unreadable file, wrong shape or value range."""


# -- training with several processes (zoo_core.runtime.distributed) --------------------------------------


class PeerLost(ZooError):
    """This rank lost contact with the others (one of them died); the launcher reports which."""

    exit_code = 1


class WorkerFailed(ZooError):
    """A worker of a multi-process job failed; the others were stopped (exit status 1, not 2)."""

    exit_code = 1

    def __init__(self, message: str, exitcode: int) -> None:
        super().__init__(message)
        self.exitcode = exitcode


# -- the Hugging Face Hub (zoo_core.hub) ---------------------------------------------------------


class HubError(ZooError):
    """A Hugging Face Hub operation that failed for a reason the user can act on."""

    #: the HTTP status the Hub answered, where one did (set by :mod:`zoo_core.hub.netread`)
    status: int | None = None


class HubRefError(HubError, ValueError):
    """A malformed ``hf://org/repo[@revision]`` reference."""


class HubRepoNotFoundError(HubError):
    """The repository does not exist (or is private and the token cannot see it)."""


class HubRevisionNotFoundError(HubError):
    """The repository exists but has no such branch, tag or commit."""


class HubFileMissingError(HubError, WeightsError):
    """The repository lacks a file a zoo model needs (``config.json``, ``model.safetensors``)."""


class HubOfflineError(HubError):
    """The Hub cannot be reached (or ``HF_HUB_OFFLINE=1``) and the files are not cached."""


class HubTokenError(HubError):
    """The Hub refused the token (HTTP 401/403, gated repo)."""


class HubChecksumError(HubError, WeightsError):
    """Downloaded weights whose sha256 is not the expected one; the file was removed from the cache."""

"""The plugin contract's version, how a model class declares that it trains, and the migration notes.

The contract is what a plugin codes against: the hook specs (:mod:`zoo_core.hookspecs`),
:class:`~zoo_core.model.ZooModel` and the training session (:mod:`zoo_core.runtime.sessions`).
A change that breaks plugins raises :data:`CONTRACT_VERSION` and adds a line to
:data:`CONTRACT_HISTORY` and to CHANGELOG.md. A family may say which version it was written for
(``Family(..., contract=2)``); one written for a newer contract than this zoo speaks is refused
when its plugin registers it, one written for an older one keeps working where that is possible.
"""

from __future__ import annotations

import sys
from typing import Any

#: the version of the plugin contract this zoo speaks
CONTRACT_VERSION = 2

#: what each version changed for plugins (the newest last)
CONTRACT_HISTORY = {
    1: "first release: a trainable family overrides ZooModel.train() and declares Family(trainable=True)",
    2: "training runtime: a family trains by ZooModel.training_session(data, steps, ctx); Family.trainable "
       "is derived from it; a train() override is deprecated (it runs once, without checkpoints or resume)",
}

#: where a plugin author reads how to move to the current contract
MIGRATION_DOC = "docs/plugins.md, section 'Migrating plugins'"

_said: set[str] = set()


def overrides(cls: type, method: str) -> bool:
    """Whether ``cls`` overrides :class:`~zoo_core.model.ZooModel`'s ``method`` (an attribute that is
    not ZooModel's own function; ``train = ZooModel.train`` is no override). Found in the MRO,
    without importing :mod:`zoo_core.model`, which sits beside this module in the contract layer."""
    mro = getattr(cls, "__mro__", ())
    found = next((vars(k)[method] for k in mro if method in vars(k)), None)
    base = next((vars(k)[method] for k in mro if k.__module__ == "zoo_core.model" and method in vars(k)), None)
    return found is not None and found is not base


def trains_by_session(cls: type) -> bool:
    """The model class implements ``training_session`` (the runtime trains it: contract 2)."""
    return overrides(cls, "training_session")


def trains_by_legacy_train(cls: type) -> bool:
    """The model class overrides ``train()`` and has no ``training_session`` (contract 1)."""
    return overrides(cls, "train") and not trains_by_session(cls)


def class_trains(cls: type) -> bool:
    """Whether models of ``cls`` learn their weights, in either contract."""
    return trains_by_session(cls) or trains_by_legacy_train(cls)


def check_declared(family: Any) -> None:
    """Refuse a family written for a contract newer than this zoo's (a one-line RegistryError)."""
    from zoo_core.errors import RegistryError

    declared = getattr(family, "contract", None)
    if declared is None:
        return
    if not isinstance(declared, int) or isinstance(declared, bool) or declared < 1:
        raise RegistryError(f"family '{family.name}': contract must be a positive int, got {declared!r}")
    if declared > CONTRACT_VERSION:
        raise RegistryError(f"family '{family.name}' is written for plugin contract {declared}; this zoo "
                            f"speaks contract {CONTRACT_VERSION}: upgrade zoo")


def legacy_train_message(family_name: str) -> str:
    """The one line a contract-1 family (its own ``train()``) gets when ``zoo train`` runs it."""
    return (f"family '{family_name}' overrides ZooModel.train() (plugin contract 1), which is deprecated: it runs "
            f"once, without checkpoints or --resume; implement training_session instead (see {MIGRATION_DOC})")


def say_once(key: str, message: str) -> None:
    """Print ``zoo: warning: MESSAGE`` on stderr, once per process and key (one line)."""
    if key in _said:
        return
    _said.add(key)
    print(f"zoo: warning: {message}", file=sys.stderr)


__all__ = ["CONTRACT_HISTORY", "CONTRACT_VERSION", "MIGRATION_DOC", "check_declared", "class_trains",
           "legacy_train_message", "overrides", "say_once", "trains_by_legacy_train", "trains_by_session"]

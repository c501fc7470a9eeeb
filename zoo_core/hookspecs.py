"""Hook specifications for zoo plugins.

A plugin is a module (or object) with functions marked ``@zoo_core.hookimpl`` whose names match
the specs below, published under the ``zoo.plugins`` entry-point group::

    [project.entry-points."zoo.plugins"]
    my_models = "my_models.plugin"

Every hook receives a callback (``register`` or the click group) instead of returning values, so
that a hook can gain keyword arguments later without breaking plugins that do not take them
(pluggy passes only the arguments an implementation names).

Hooks are called in this order, once per process, the first time the registry is needed:

1. :func:`register_families` on every plugin;
2. :func:`register_models` on every plugin (families of all plugins are known by then);
3. :func:`register_commands`, only when the ``zoo`` CLI starts.

These specs, :class:`zoo_core.ZooModel` and the training session (:mod:`zoo_core.runtime`) make up
the plugin contract, whose version is :data:`zoo_core.contract.CONTRACT_VERSION` (``Family(...,
contract=N)`` says which version a family is written for; see "Migrating plugins" in
docs/plugins.md).

A hook implementation that raises is isolated: that plugin is reported broken by ``zoo plugins``
and the rest keep working (``ZOO_STRICT_PLUGINS=1`` re-raises instead).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("zoo")
#: the marker of a plugin's hook implementations; spell it ``@zoo_core.hookimpl`` (after ``import zoo_core``)
hookimpl = pluggy.HookimplMarker("zoo")


@hookspec
def register_families(register):
    """Register model families.

    :param register: call ``register(family)`` with a :class:`zoo_core.Family` once per family.
        The family's ``factory`` should be a ``"module:Class"`` string so that the framework is
        imported only when a model of that family is built.

    Registering a family name that another plugin already registered is reported as an error of
    the later plugin, naming both; the first registration is kept.

    Implementations must not import a deep-learning framework: this hook runs for ``zoo list``.

    Example::

        @zoo_core.hookimpl
        def register_families(register):
            register(Family(name="blobs", framework="numpy", factory="my_models.blobs:Blobs",
                            config=ConfigSpec({"size": Param(32, "int", min=8)})))
    """


@hookspec
def register_models(register):
    """Register named models (catalog entries), in addition to those in ``registry.json``.

    :param register: call ``register(entry)`` with a :class:`zoo_core.ModelEntry`, or with the
        same fields as keyword arguments: ``register(name="blobs-32", family="blobs",
        config={"size": 32}, weights=None, description=..., license=..., tags=[...])``.
        ``weights`` is ``None`` (weights are a pure function of the config) or a dict
        ``{"source": "pkg://package/path.safetensors" | "hf://org/repo[@rev]", "sha256": "..."}``.

    Entries are validated like ``registry.json``; an invalid one is an error of that plugin. A
    name that is already taken (by ``registry.json`` or another plugin) is refused with an error
    that names both owners.
    """


@hookspec
def register_commands(cli):
    """Add commands to the ``zoo`` command line.

    :param cli: the root :class:`click.Group`; decorate functions with ``@cli.command()``.

    Keep the command module light: import frameworks inside the command body, so that
    ``zoo --help`` stays fast.
    """

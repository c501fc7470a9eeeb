"""Hugging Face Hub support: pull, pin, verify and publish zoo models (``hf://org/repo[@revision]``).

A zoo model directory (``config.json`` + ``model.safetensors``, see :meth:`ZooModel.save`) is a
plain Hub model repo; downloads go into the standard Hugging Face cache, so other Hugging Face
tools share them.

Pins: :func:`pull` records the commit a reference resolved to in zoo's own state file
(``$XDG_DATA_HOME/zoo/hub-pins.json``, default ``~/.local/share/zoo/hub-pins.json``). A reference
without ``@revision`` then means the pinned commit, like a lock file: it is reproducible, works
offline, and is resolved from the cache without any network call or import of huggingface_hub.
``zoo pull`` without a revision moves the pin to the newest commit of the default branch. The
pins live outside the Hugging Face cache on purpose: ``hf cache scan`` reports any foreign entry
in the cache as a corrupt repo, and a pin (which model a name means) is zoo's state, not cached
content; a pin whose files were deleted from the cache is reported by ``zoo cache list``.

Environment (read at call time, as huggingface_hub would read it at import time): ``HF_ENDPOINT``,
``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_TOKEN``, ``XDG_CACHE_HOME``, ``XDG_DATA_HOME``.

huggingface_hub is imported inside functions only: it is slow to import (~0.2 s) and ``zoo list``
must stay under 0.3 s.

The package is split by job, each module importing only those before it: :mod:`~zoo_core.hub.refs`
(references, environment), :mod:`~zoo_core.hub.cache` (the cache and pins, no huggingface_hub),
:mod:`~zoo_core.hub.failures` (huggingface_hub errors as one-line zoo errors),
:mod:`~zoo_core.hub.download` (snapshot, pull), :mod:`~zoo_core.hub.publish` (upload a staged
folder; staging is :mod:`zoo_core.hub.publishing`) and :mod:`~zoo_core.hub.discovery` (``zoo list
--hub``). Names below are exported lazily, so importing a submodule stays cheap.
"""

from __future__ import annotations

from zoo_core.util.lazy import lazy_exports

_EXPORTS = {
    "refs": ("PREFIX", "HubRef", "parse_ref", "valid_repo_id", "valid_revision", "endpoint", "offline",
             "cache_dir", "state_dir"),
    "cache": ("read_pins", "pinned_commit", "cached_weights", "CachedModel", "cached_models", "clear"),
    "download": ("snapshot", "download_weights", "pull"),
    "publish": ("upload",),
    "discovery": ("HubModel", "list_hub_models"),
}
_WHERE = {name: f"zoo_core.hub.{module}" for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

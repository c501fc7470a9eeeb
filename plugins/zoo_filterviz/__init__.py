"""zoo_filterviz: what makes a conv feature map fire, for torch and keras models alike.

Adds ``zoo layers``, ``zoo visualize`` and ``zoo activations`` (see :mod:`zoo_filterviz.cli`) for
any model that exposes its networks (the glyph classifier to look into, ``glyph-cnn``, is the
plugin ``zoo_glyph_cnn``). Models opt in through the protocol in :mod:`zoo_core.layers`;
everything else is here:

* :mod:`zoo_filterviz.ascent`: :func:`visualize` and :func:`ascend`, the gradient ascent;
* :mod:`zoo_filterviz.recipe`: :class:`Recipe`, every knob of it;
* :mod:`zoo_filterviz.transforms`: start images, warps, TV, Fourier parametrisation (numpy);
* :mod:`zoo_filterviz.probes`: :func:`probe_for` (a model's probe) and :func:`parse_channels`;
* :mod:`zoo_filterviz.torch_probe`, :mod:`zoo_filterviz.keras_probe`: the framework back ends.

The public names below are imported on first attribute access (PEP 562), so ``import zoo_filterviz``
(done by ``zoo --help`` to register the commands) imports no framework and not even numpy:

>>> import zoo_core, zoo_filterviz
>>> zoo_filterviz.visualize(zoo_core.load("glyph-cnn"), "conv_3", "0:16").shape   # doctest: +SKIP
(16, 28, 28, 1)
"""

from __future__ import annotations

import zoo_core
from zoo_core.util.lazy import lazy_exports

# Public names -> defining module, imported on first use.
_EXPORTS = {
    "visualize": "zoo_filterviz.ascent", "ascend": "zoo_filterviz.ascent", "AscentResult": "zoo_filterviz.ascent",
    "Recipe": "zoo_filterviz.recipe", "make_recipe": "zoo_filterviz.recipe",
    "probe_for": "zoo_filterviz.probes", "parse_channels": "zoo_filterviz.probes",
    "TorchProbe": "zoo_filterviz.torch_probe", "KerasProbe": "zoo_filterviz.keras_probe",
    "to_display": "zoo_filterviz.transforms",
}

__all__ = sorted(_EXPORTS)


__getattr__, _ = lazy_exports(__name__, _EXPORTS)


@zoo_core.hookimpl
def register_commands(cli):
    """``zoo layers``, ``zoo visualize``, ``zoo activations``."""
    from zoo_filterviz.cli import add_commands

    add_commands(cli)

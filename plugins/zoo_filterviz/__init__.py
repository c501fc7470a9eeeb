"""zoo_filterviz: what makes a conv feature map fire, for torch and keras models alike.

Adds ``zoo layers``, ``zoo visualize`` and ``zoo activations`` (see :mod:`zoo_filterviz.cli`) and
the ``glyphcnn`` family (catalog entry ``glyph-cnn``), a small trained torch classifier of the
glyph datasets to look into. Models opt in through the protocol in :mod:`zoo_core.layers`;
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

from importlib import import_module
from typing import Any

from zoo_core import hookimpl
from zoo_core.config import ConfigSpec, Param
from zoo_core.families import Family

GLYPHCNN_CONFIG = ConfigSpec({
    "dataset": Param("glyphs-28", "str", "glyph dataset it classifies",
                     choices=("glyphs-28", "glyphs-64", "glyphs-28-rgb", "glyphs-64-rgb")),
    "channels": Param([32, 64, 64], "list", "output channels of conv_1, conv_2, ...", min=1, max=512),
    "hidden": Param(128, "int", "units of the dense hidden layer", min=1, max=4096),
    "lr": Param(2e-3, "float", "peak learning rate (one-cycle schedule, AdamW)", min=0.0, max=1.0),
    "weight_decay": Param(0.05, "float", "AdamW weight decay", min=0.0, max=1.0),
    "sparsity": Param(1.0, "float", "weight of the L1 penalty on conv activations (sparser, more selective maps)",
                      min=0.0, max=100.0),
    "batch_size": Param(128, "int", "training batch size", min=1, max=4096),
    # 50 000 glyphs-64-rgb images are 2.5 GB as float32 (the training set is held as one tensor)
    "train_size": Param(24000, "int", "glyph images generated for training", min=100, max=50_000),
    "steps": Param(1000, "int", "default training steps", min=1, max=10_000_000),
    "sample_steps": Param(200, "int", "ascent steps of sample() (class-maximising inputs)", min=1, max=10_000),
    "seed": Param(0, "int", "seed of the initial weights, the training data and batches", min=0, max=2**31 - 1),
})


# Public names -> defining module, imported on first use.
_EXPORTS = {
    "visualize": "zoo_filterviz.ascent", "ascend": "zoo_filterviz.ascent", "AscentResult": "zoo_filterviz.ascent",
    "Recipe": "zoo_filterviz.recipe", "make_recipe": "zoo_filterviz.recipe",
    "probe_for": "zoo_filterviz.probes", "parse_channels": "zoo_filterviz.probes",
    "TorchProbe": "zoo_filterviz.torch_probe", "KerasProbe": "zoo_filterviz.keras_probe",
    "to_display": "zoo_filterviz.transforms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo_filterviz' has no attribute '{name}'")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def _count(config: dict) -> int:
    from zoo_core.datasets import GLYPH_CLASSES, GLYPH_SPECS

    size, c_in = GLYPH_SPECS[config["dataset"]]
    total, side = 0, size
    for i, c in enumerate(config["channels"]):
        total += c_in * c * 9 + c
        c_in = c
        if i < len(config["channels"]) - 1:
            side //= 2
    return total + c_in * side * side * config["hidden"] + config["hidden"] + \
        config["hidden"] * len(GLYPH_CLASSES) + len(GLYPH_CLASSES)


@hookimpl
def register_families(register):
    """The ``glyphcnn`` family (torch)."""
    register(Family(name="glyphcnn", framework="torch", factory="zoo_filterviz.glyphcnn:GlyphCNN",
                    config=GLYPHCNN_CONFIG, requires=("torch",), extra="torch",
                    description="small CNN classifier of glyph images (0-9A-Z); sample() = class-maximising inputs",
                    count_parameters=_count, distributed=True, resume_safe=("lr", "steps", "sample_steps")))


@hookimpl
def register_commands(cli):
    """``zoo layers``, ``zoo visualize``, ``zoo activations``."""
    from zoo_filterviz.cli import add_commands

    add_commands(cli)

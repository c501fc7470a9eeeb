"""zoo_glyph_cnn: ``glyph-cnn``, a small torch classifier of the glyph images, trained to be looked into.

One name for plugin, family and catalog model: the family ``glyph-cnn`` (former name ``glyphcnn``,
kept as an alias so that folders and run folders saved under it still load and resume) and the
catalog entry ``glyph-cnn`` in ``registry.json`` (weights shipped in this package). The model
(:mod:`zoo_glyph_cnn.model`) exposes its layers to ``zoo layers`` / ``zoo visualize`` /
``zoo activations``, and its ``sample()`` (class-maximising inputs) uses the gradient ascent of the
plugin ``zoo_filterviz``. Importing this module imports no framework.
"""

from __future__ import annotations

import zoo_core
from zoo_core.config import MAX_SEED, MAX_STEPS, ConfigSpec, Param
from zoo_core.families import RESUME_SAFE, Family

#: datasets it classifies -> (image side, channels, classes); glyphs: 0-9A-Z, digits-28: 0-9
#: (labels index :data:`zoo_core.data.datasets.GLYPH_CLASSES` in both)
DATASETS = {"glyphs-28": (28, 1, 36), "glyphs-64": (64, 1, 36), "glyphs-28-rgb": (28, 3, 36),
            "glyphs-64-rgb": (64, 3, 36), "digits-28": (28, 1, 10)}

GLYPHCNN_CONFIG = ConfigSpec({
    "dataset": Param("glyphs-28", "str", "dataset it classifies (glyphs: 0-9A-Z; digits-28: scikit-learn's "
                     "handwritten digits 0-9, needs zoo[digits])", choices=tuple(DATASETS)),
    "channels": Param([32, 64, 64], "list", "output channels of conv_1, conv_2, ...", min=1, max=512),
    "hidden": Param(128, "int", "units of the dense hidden layer", min=1, max=4096),
    "lr": Param(2e-3, "float", "peak learning rate (one-cycle schedule, AdamW)", min=0.0, max=1.0),
    "weight_decay": Param(0.05, "float", "AdamW weight decay", min=0.0, max=1.0),
    "sparsity": Param(1.0, "float", "weight of the L1 penalty on conv activations (sparser, more selective maps)",
                      min=0.0, max=100.0),
    "batch_size": Param(128, "int", "training batch size", min=1, max=4096),
    # 50 000 glyphs-64-rgb images are 2.5 GB as float32 (the training set is held as one tensor)
    "train_size": Param(24000, "int", "glyph images generated for training (digits-28: its 1,500 training "
                        "images, whatever this says)", min=100, max=50_000),
    "steps": Param(1000, "int", "default training steps", min=1, max=MAX_STEPS),
    "sample_steps": Param(200, "int", "ascent steps of sample() (class-maximising inputs)", min=1, max=10_000),
    "seed": Param(0, "int", "seed of the initial weights, the training data and batches", min=0, max=MAX_SEED),
})


def _count(config: dict) -> int:
    size, c_in, classes = DATASETS[config["dataset"]]
    total, side = 0, size
    for i, c in enumerate(config["channels"]):
        total += c_in * c * 9 + c
        c_in = c
        if i < len(config["channels"]) - 1:
            side //= 2
    return total + c_in * side * side * config["hidden"] + config["hidden"] + config["hidden"] * classes + classes


@zoo_core.hookimpl
def register_families(register):
    """The ``glyph-cnn`` family (torch), also found under its former name ``glyphcnn``."""
    register(Family(name="glyph-cnn", framework="torch", factory="zoo_glyph_cnn.model:GlyphCNN",
                    config=GLYPHCNN_CONFIG, requires=("torch",), extra="torch",
                    description="small CNN classifier of glyph images (0-9A-Z); sample() = class-maximising inputs",
                    count_parameters=_count, distributed=True, resume_safe=(*RESUME_SAFE, "sample_steps"),
                    aliases=("glyphcnn",)))

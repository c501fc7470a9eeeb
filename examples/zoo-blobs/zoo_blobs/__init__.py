"""zoo-blobs: an example third-party zoo plugin with no deep-learning framework.

The ``blobs`` family is a Gaussian mixture model with diagonal covariances over the pixels of
small images of soft blobs, trained by stochastic EM on blob images it generates itself. This
module is what ``zoo list`` imports: it holds only the hook implementations and the config spec;
the model (numpy) lives in :mod:`zoo_blobs.model`, imported only when a model is built.
"""

from __future__ import annotations

import zoo_core
from zoo_core import ConfigSpec, Family, Param

__version__ = "0.1.0"

CONFIG = ConfigSpec({
    "size": Param(16, "int", "side of the square images, pixels", min=8, max=64),
    "channels": Param(1, "int", "1 for grey, 3 for colour blobs", choices=(1, 3)),
    "components": Param(16, "int", "mixture components (each one a mean image and per-pixel std)",
                        min=1, max=256),
    "blobs": Param(2, "int", "training data: at most this many blobs per image", min=1, max=8),
    "temperature": Param(1.0, "float", "sampling: scale of the per-pixel noise (0 draws component means)",
                         min=0.0, max=2.0),
    "min_std": Param(0.02, "float", "lower bound of every per-pixel standard deviation", min=1e-4, max=1.0),
    "lr": Param(0.5, "float", "stochastic EM step size: weight of each batch's M-step", min=0.01, max=1.0),
    "batch_size": Param(256, "int", "images per training step", min=8, max=65536),
    "seed": Param(0, "int", "seeds the initial means and every training batch", min=0, max=2**32 - 1),
    "steps": Param(300, "int", "default number of training steps (zoo train)", min=1, max=1_000_000),
})


def count_parameters(config: dict) -> int:
    """Scalars in the state dict (means, log_std, logits and the step counter), without numpy."""
    full = CONFIG.resolve(config)
    dims = full["size"] * full["size"] * full["channels"]
    return 2 * full["components"] * dims + full["components"] + 1


@zoo_core.hookimpl
def register_families(register):
    """The ``blobs`` family; its model class is imported lazily from a string."""
    register(Family(
        name="blobs",
        framework="numpy",
        factory="zoo_blobs.model:BlobsGMM",
        config=CONFIG,
        description="Gaussian mixture over pixels of soft blob images (numpy, stochastic EM)",
        count_parameters=count_parameters,
        trainable=True,
    ))


@zoo_core.hookimpl
def register_models(register):
    """``blobs-16``: trained with make_weights.py; weights shipped inside this package."""
    register(
        name="blobs-16",
        family="blobs",
        config={"size": 16, "components": 16},
        weights={"source": "pkg://zoo_blobs/weights/blobs-16.safetensors",
                 "sha256": "0b3e3665d53d618864775e7c7e8e36231e51a8c046f4c14bab8ecd41def19895"},
        description="16x16 grey blobs, 16 components, 300 EM steps",
        license="MIT",
        tags=["example", "numpy"],
    )

"""zoo-blobs: an example third-party zoo plugin.

The ``blobs`` family is a Gaussian mixture model with diagonal covariances over the pixels of
small images of soft blobs, trained by stochastic EM on blob images it generates itself (numpy
only). The ``blobgan`` family is a small GAN of the same images: two networks, two optimizers,
data-parallel with ``zoo train --workers N`` (PyTorch, the optional extra ``zoo-blobs[gan]``).
This module is what ``zoo list`` imports: it holds only the hook implementations and the config
specs; the models live in :mod:`zoo_blobs.model` and :mod:`zoo_blobs.gan`, imported only when a
model is built.
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


GAN_CONFIG = ConfigSpec({
    "size": Param(16, "int", "side of the square images, pixels", min=4, max=64),
    "channels": Param(1, "int", "1 for grey, 3 for colour blobs", choices=(1, 3)),
    "blobs": Param(2, "int", "training data: at most this many blobs per image", min=1, max=8),
    "latent": Param(8, "int", "length of the generator's latent vector", min=1, max=256),
    "hidden": Param(64, "int", "width of both networks' hidden layers", min=4, max=1024),
    "lr": Param(0.001, "float", "Adam learning rate of both networks", min=1e-6, max=1.0),
    "batch_size": Param(64, "int", "images per training step (split over the workers)", min=2, max=65536),
    "seed": Param(0, "int", "seeds the initial weights and every training batch", min=0, max=2**32 - 1),
    "steps": Param(500, "int", "default number of training steps (zoo train)", min=1, max=1_000_000),
})


def count_parameters(config: dict) -> int:
    """Scalars in the state dict (means, log_std, logits and the step counter), without numpy."""
    full = CONFIG.resolve(config)
    dims = full["size"] * full["size"] * full["channels"]
    return 2 * full["components"] * dims + full["components"] + 1


@zoo_core.hookimpl
def register_families(register):
    """The ``blobs`` and ``blobgan`` families; their model classes are imported lazily from strings."""
    register(Family(
        name="blobs",
        framework="numpy",
        factory="zoo_blobs.model:BlobsGMM",
        config=CONFIG,
        description="Gaussian mixture over pixels of soft blob images (numpy, stochastic EM)",
        count_parameters=count_parameters,
        contract=2,  # the plugin contract this family is written for (zoo_core.contract.CONTRACT_VERSION)
    ))
    register(Family(
        name="blobgan",
        framework="torch",
        factory="zoo_blobs.gan:BlobGAN",
        config=GAN_CONFIG,
        requires=("torch",),
        description="GAN of soft blob images: MLP generator and discriminator (torch, two Adams)",
        latent=True,
        distributed=True,
        contract=2,
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

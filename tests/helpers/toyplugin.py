"""The tests' one toy family, ``toy``: a tiny numpy-only latent model (no deep-learning framework).

:class:`Toy` decodes a latent vector ``z`` to ``sigmoid(z @ W + b)`` reshaped to a ``size x size``
grey image; ``W`` and ``b`` (tensors ``decoder.weight``, ``decoder.bias``) are drawn from the
config's ``seed``. It is used in two ways:

* in-process, :class:`ToyPlugin` (the family plus the catalog models ``toy-8`` and ``toy-16``)
  in a fresh registry: the ``toy_registry`` fixture (``tests/conftest.py``) or :func:`make_registry`;
* installed, this module is a plugin of its own that registers the family only:
  ``hub_server.install_test_plugin`` copies it beside a ``.dist-info`` whose ``zoo.plugins`` entry
  point is ``toy = toyplugin``, so CLI subprocesses (``ZOO_PLUGINS=toy``) find it like any plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

import zoo_core
from zoo_core import ConfigSpec, Family, LatentModel, Param
from zoo_core.model import to_uint8

PLUGIN = "toy"  # the plugin's name, in-process and as an entry point
SAVED_FILES = ("config.json", "model.safetensors")  # what ZooModel.save() writes


class Toy(LatentModel):
    """A one-layer decoder: ``sigmoid(z @ W + b)`` reshaped to a ``size x size`` grey image."""

    def __init__(self, config: Mapping, family: Family | None = None) -> None:
        super().__init__(config, family)
        size, self.latent_size = int(self.config["size"]), int(self.config["latent"])
        rng = np.random.default_rng(int(self.config["seed"]))
        self.weight = rng.standard_normal((self.latent_size, size * size)).astype(np.float32)
        self.bias = (0.1 * rng.standard_normal(size * size)).astype(np.float32)

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Images for ``latents``: uint8 ``(n, size, size, 1)``."""
        size = int(self.config["size"])
        logits = np.asarray(latents, np.float32) @ self.weight + self.bias
        return to_uint8(1.0 / (1.0 + np.exp(-logits))).reshape(-1, size, size, 1)

    def evaluate(self, data=None, *, seed: int = 0) -> dict:
        """Statistics of 64 samples (what ``zoo eval`` prints; a real, cheap figure for card tests)."""
        images = self.sample(64, seed=seed).astype(np.float64) / 255.0
        return {"mean_intensity": float(images.mean()), "pixel_std": float(images.std()), "images": 64}

    def state_dict(self) -> dict[str, np.ndarray]:
        """The decoder's weight and bias."""
        return {"decoder.weight": self.weight, "decoder.bias": self.bias}

    def load_state_dict(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Set the decoder's weight and bias."""
        self.weight = np.array(tensors["decoder.weight"])
        self.bias = np.array(tensors["decoder.bias"])


TOY_SPEC = ConfigSpec({
    "size": Param(8, "int", "image side", min=2, max=64),
    "latent": Param(4, "int", "latent size", min=1, max=256),
    "seed": Param(0, "int", "weight seed"),
    "mode": Param("a", "str", "a choice", choices=("a", "b")),
})

FAMILY = Family(name="toy", framework="numpy", factory=Toy, config=TOY_SPEC, latent=True,
                description="test-only one-layer numpy decoder")


def build_toy(**config) -> Toy:
    """A ``toy`` model with ``config`` over the defaults, built without any registry."""
    return Toy(FAMILY.config.resolve(config), FAMILY)


def saved_files(directory: Path) -> dict[str, bytes]:
    """The bytes of a saved model's files (``config.json``, ``model.safetensors``) by name."""
    return {name: (Path(directory) / name).read_bytes() for name in SAVED_FILES}


@zoo_core.hookimpl
def register_families(register):
    """The module as an installed plugin: the ``toy`` family, no catalog models."""
    register(FAMILY)


class ToyPlugin:
    """The in-process plugin ``toy``: the family and two catalog models, ``toy-8`` and ``toy-16``."""

    name = PLUGIN

    @zoo_core.hookimpl
    def register_families(self, register):
        register(FAMILY)

    @zoo_core.hookimpl
    def register_models(self, register):
        register(name="toy-8", family="toy", description="8x8 toy")
        register(name="toy-16", family="toy", config={"size": 16})


def make_registry(*plugins, monkeypatch):
    """A loaded registry with only ``plugins`` (no entry points), installed as the global one."""
    from zoo_core.plugins import Registry

    monkeypatch.setenv("ZOO_PLUGINS", "")
    registry = Registry()
    for i, plugin in enumerate(plugins):
        registry.add_plugin(plugin, name=getattr(plugin, "name", f"plugin{i}"))
    registry.load()
    monkeypatch.setattr(zoo_core.plugins, "_registry", registry)
    return registry

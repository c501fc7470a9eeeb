"""A tiny numpy-only family used to test the core without any deep-learning framework.

It is a real (if small) latent model: a fixed random linear map from a latent vector to pixels,
squashed by a sigmoid. Tests load it in-process through a fresh Registry.
"""

from __future__ import annotations

import numpy as np
import pytest

import zoo_core
from zoo_core import ConfigSpec, Family, LatentModel, Param
from zoo_core.model import to_uint8
from zoo_core.plugins import Registry


class Toy(LatentModel):
    """Latent (d,) -> sigmoid(W z) reshaped to (size, size, 1)."""

    def __init__(self, config, family=None):
        super().__init__(config, family)
        self.latent_size = config["latent"]
        rng = np.random.default_rng(config["seed"])
        self.w = rng.standard_normal((config["latent"], config["size"] ** 2)).astype(np.float32)

    def decode(self, latents):
        size = self.config["size"]
        x = 1 / (1 + np.exp(-(np.asarray(latents, np.float32) @ self.w) / np.sqrt(self.latent_size)))
        return to_uint8(x.reshape(-1, size, size, 1))

    def state_dict(self):
        return {"w": self.w}

    def load_state_dict(self, tensors):
        self.w = np.array(tensors["w"])


TOY_SPEC = ConfigSpec({
    "size": Param(8, "int", "image side", min=2, max=64),
    "latent": Param(4, "int", "latent size", min=1, max=256),
    "seed": Param(0, "int", "weight seed"),
    "mode": Param("a", "str", "a choice", choices=("a", "b")),
})


class ToyPlugin:
    """Registers the 'toy' family and two models."""

    @zoo_core.hookimpl
    def register_families(self, register):
        register(Family(name="toy", framework="numpy", factory=Toy, config=TOY_SPEC, latent=True,
                        description="test family"))

    @zoo_core.hookimpl
    def register_models(self, register):
        register(name="toy-8", family="toy", description="8x8 toy")
        register(name="toy-16", family="toy", config={"size": 16})


def make_registry(*plugins, monkeypatch):
    """A loaded registry with only ``plugins`` (no entry points), installed as the global one."""
    monkeypatch.setenv("ZOO_PLUGINS", "")
    registry = Registry()
    for i, plugin in enumerate(plugins):
        registry.add_plugin(plugin, name=getattr(plugin, "name", f"plugin{i}"))
    registry.load()
    monkeypatch.setattr(zoo_core.plugins, "_registry", registry)
    return registry


@pytest.fixture
def toy_registry(monkeypatch):
    """The global registry replaced by one holding only the toy plugin."""
    plugin = ToyPlugin()
    plugin.name = "toy"
    return make_registry(plugin, monkeypatch=monkeypatch)

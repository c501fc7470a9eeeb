"""A tiny numpy-only model family for the Hub tests (no deep-learning framework to import).

``tests/hub_server.py`` installs it as a real ``zoo.plugins`` entry point (a ``.dist-info`` on
``PYTHONPATH``), so CLI subprocesses find it like any installed plugin.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

import zoo_core
from zoo_core import ConfigSpec, Family, LatentModel, Param
from zoo_core.model import to_uint8


class TinyDecoder(LatentModel):
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


FAMILY = Family(
    name="hubtest", framework="numpy", factory="zoo_hubtest_family:TinyDecoder", latent=True,
    description="test-only one-layer numpy decoder",
    config=ConfigSpec({"size": Param(8, "int", min=2, max=64), "latent": Param(4, "int", min=1, max=64),
                       "seed": Param(0, "int")}),
)


@zoo_core.hookimpl
def register_families(register):
    """Register the ``hubtest`` family."""
    register(FAMILY)
